// Machine ceilings for the benchmarks: FMA peak and large-buffer memory bandwidth, measured with
// the same kernel table and thread pool the backend uses.
#pragma once
#include <cstddef>
#include <vector>

#include "context.h"

namespace tinyvllm {

/** f32 FMA GFLOP/s on `threads` threads at once (1, or the pool size), one value per repetition. */
std::vector<double> bench_fma(Context& ctx, int threads, double seconds_per_rep, int reps);

/** GB/s streaming through a `bytes` buffer on all pool threads, one value per repetition. */
std::vector<double> bench_read(Context& ctx, size_t bytes, int reps);

/** GB/s (bytes read + bytes written) of memcpy between two `bytes` buffers on all pool threads. */
std::vector<double> bench_copy(Context& ctx, size_t bytes, int reps);

}  // namespace tinyvllm
