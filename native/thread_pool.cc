#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace tinyvllm {

namespace {
// How long an idle worker polls for the next job before sleeping.
constexpr auto kSpin = std::chrono::microseconds(200);
}  // namespace

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drain(int thread) {
  for (int task; (task = next_task_.fetch_add(1, std::memory_order_relaxed)) < tasks_;) fn_(ctx_, task, thread);
}

void ThreadPool::run(int tasks, TaskFn fn, void* ctx) {
  if (tasks <= 0) return;
  if (size_ == 1 || tasks == 1) {
    for (int i = 0; i < tasks; ++i) fn(ctx, i, 0);
    return;
  }
  tasks_ = tasks;
  fn_ = fn;
  ctx_ = ctx;
  next_task_.store(0);
  open_.store(true);
  {
    std::lock_guard<std::mutex> lock(mu_);  // pairs with the sleepers' predicate check
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  drain(0);
  // Every task is claimed. Close the job and wait only for workers already inside it (they may
  // still be running a task); the job's fields stay valid until then. Sequentially consistent
  // atomics make the close / join handshake race-free (see worker_loop).
  open_.store(false);
  for (int spins = 0; active_.load() != 0; ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    int polls = 0;
    while (generation_.load() == seen && !stop_.load(std::memory_order_relaxed)) {
      cpu_relax();
      if (++polls % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_.load() != seen || stop_.load(); });
      }
    }
    if (stop_.load()) return;
    seen = generation_.load();
    // Join, then check the job is still the one we saw and still open: either run() sees our
    // increment and waits for us, or we see it closed (or replaced) and leave without touching it.
    active_.fetch_add(1);
    if (open_.load() && generation_.load() == seen) drain(index);
    active_.fetch_sub(1);
  }
}

}  // namespace tinyvllm
