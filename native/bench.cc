#include "bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

namespace tinyvllm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Buffer {
  explicit Buffer(size_t bytes) : p(static_cast<float*>(alloc_aligned(bytes))), n(bytes / sizeof(float)) {}
  ~Buffer() { free_aligned(p); }
  float* p;
  size_t n;
};

/** Thread `i` of `parts` owns [begin, end) of n, in whole cache lines. */
void slice(size_t n, int i, int parts, size_t& begin, size_t& end) {
  const size_t per = (n / parts + 15) / 16 * 16;
  begin = std::min(n, per * i);
  end = i + 1 == parts ? n : std::min(n, per * (i + 1));
}

/**
 * Runs f(thread) on every pool thread at once and returns the seconds from the first thread's
 * start to the last one's finish, excluding the time workers take to wake up.
 */
template <class F>
double timed_on_every_thread(Context& ctx, F&& f) {
  const int n = ctx.pool().size();
  std::vector<Clock::time_point> start(n), end(n);
  ctx.pool().on_every_thread([&](int i) {
    start[i] = Clock::now();
    f(i);
    end[i] = Clock::now();
  });
  return std::chrono::duration<double>(*std::max_element(end.begin(), end.end()) - *std::min_element(start.begin(), start.end())).count();
}

}  // namespace

std::vector<double> bench_fma(Context& ctx, int threads, double seconds_per_rep, int reps) {
  const auto fma = ctx.kernels().fma_peak;
  // Calibrate the iteration count on one thread.
  int64_t iters = 1 << 14;
  for (;;) {
    const auto t0 = Clock::now();
    fma(iters);
    const double s = seconds_since(t0);
    if (s > 0.02) {
      iters = static_cast<int64_t>(iters * seconds_per_rep / s) + 1;
      break;
    }
    iters *= 4;
  }
  std::vector<double> out;
  for (int r = 0; r < reps; ++r) {
    if (threads <= 1) {
      const auto t0 = Clock::now();
      const double flops = fma(iters);
      out.push_back(flops / seconds_since(t0) / 1e9);
    } else {
      std::vector<double> flops(ctx.pool().size());
      const double s = timed_on_every_thread(ctx, [&](int i) { flops[i] = fma(iters); });
      double total = 0;
      for (double f : flops) total += f;
      out.push_back(total / s / 1e9);
    }
  }
  return out;
}

std::vector<double> bench_read(Context& ctx, size_t bytes, int reps) {
  Buffer buf(bytes);
  const int parts = ctx.pool().size();
  ctx.pool().on_every_thread([&](int i) {  // first touch from the thread that reads it
    size_t b, e;
    slice(buf.n, i, parts, b, e);
    for (size_t j = b; j < e; ++j) buf.p[j] = 1.0f;
  });
  const auto read = ctx.kernels().read_sum;
  std::vector<double> out;
  volatile float sink = 0;
  for (int r = 0; r < reps; ++r) {
    const double s = timed_on_every_thread(ctx, [&](int i) {
      size_t b, e;
      slice(buf.n, i, parts, b, e);
      sink = read(buf.p + b, e - b);
    });
    out.push_back(static_cast<double>(bytes) / s / 1e9);
  }
  (void)sink;
  return out;
}

std::vector<double> bench_copy(Context& ctx, size_t bytes, int reps) {
  Buffer src(bytes), dst(bytes);
  const int parts = ctx.pool().size();
  ctx.pool().on_every_thread([&](int i) {
    size_t b, e;
    slice(src.n, i, parts, b, e);
    for (size_t j = b; j < e; ++j) src.p[j] = dst.p[j] = 1.0f;
  });
  std::vector<double> out;
  for (int r = 0; r < reps; ++r) {
    const double s = timed_on_every_thread(ctx, [&](int i) {
      size_t b, e;
      slice(src.n, i, parts, b, e);
      std::memcpy(dst.p + b, src.p + b, (e - b) * sizeof(float));
    });
    out.push_back(2.0 * static_cast<double>(bytes) / s / 1e9);
  }
  return out;
}

}  // namespace tinyvllm
