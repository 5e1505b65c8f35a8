// A persistent pool of worker threads. `run` hands out tasks [0, n) dynamically (an atomic
// counter) and the calling thread works too, so a pool of size N uses N - 1 extra threads.
// Workers spin briefly between jobs (back-to-back kernel calls of one forward pass arrive within
// microseconds) and then sleep on a condition variable so an idle engine costs no CPU.
// The caller never waits for a worker that has not joined yet: on a busy machine a descheduled
// worker would otherwise stall every call for a whole scheduler time slice.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace tinyvllm {

class ThreadPool {
 public:
  using TaskFn = void (*)(void* ctx, int task, int thread);

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  /** Runs fn(ctx, task, thread) for every task in [0, tasks) and returns when all are done. */
  void run(int tasks, TaskFn fn, void* ctx);

  /** Same as run, for a callable `f(task, thread)`; no allocation. */
  template <class F>
  void for_each(int tasks, F&& f) {
    using Fn = std::remove_reference_t<F>;
    run(tasks, [](void* c, int task, int thread) { (*static_cast<Fn*>(c))(task, thread); }, const_cast<void*>(static_cast<const void*>(&f)));
  }

  /** Runs fn(thread) exactly once on each of the `size()` threads at the same time (benchmarks). */
  template <class F>
  void on_every_thread(F&& f) {
    std::atomic<int> arrived{0};
    for_each(size_, [&](int, int thread) {
      // Wait until every thread holds a task, so they really run side by side.
      arrived.fetch_add(1);
      while (arrived.load() < size_) std::this_thread::yield();
      f(thread);
    });
  }

 private:
  void worker_loop(int index);
  void drain(int thread);

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> next_task_{0};
  std::atomic<bool> open_{false};  // workers may still join the current job
  std::atomic<int> active_{0};     // workers inside the current job
  // The current job; written by run() before the generation bump that publishes it.
  int tasks_ = 0;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace tinyvllm
