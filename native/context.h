// One native backend instance: its kernel table, thread pool and reusable workspaces. It splits
// each op into tasks for the pool; inputs arrive already validated by the N-API layer.
#pragma once
#include <string>
#include <vector>

#include "kernels.h"
#include "pack.h"
#include "thread_pool.h"

namespace tinyvllm {

/** SIMD paths this CPU can run, best first (e.g. avx512-bf16, avx512, avx2, scalar). */
std::vector<std::string> supported_paths();

/** The kernel table for `path`, or null when this build or CPU cannot run it. */
const KernelTable* kernels_for(const std::string& path);

class Context {
 public:
  Context(const KernelTable* kernels, int threads);

  const KernelTable& kernels() const { return *kernels_; }
  ThreadPool& pool() { return pool_; }

  PackedMatrixPtr prepare(const PackSource& src, DType dtype);
  void matmul(GemmArgs g);
  void layer_norm(float* out, const float* x, int t, int n, const float* gamma, const float* beta, float eps);
  void softmax(float* x, int rows, int n);
  void attention(const AttentionArgs& a, int num_seqs);
  void rms_norm(float* out, const float* x, int t, int n, const float* gamma, float eps);
  void silu_mul(float* out, const float* x, int t, int n);
  void rotary(const RotaryArgs& a, int t);

 private:
  /** Splits [0, total) rows into pool tasks when the work is large enough to be worth it. */
  template <class F>
  void rows_parallel(int total, double work, F&& f);

  struct AttentionTask {
    int seq, h0, h1, i0, i1;
  };

  const KernelTable* kernels_;
  const LlamaKernelTable* llama_;
  ThreadPool pool_;
  // Grow-only workspaces: after the first few steps no call allocates.
  std::vector<uint16_t> x_bf16_;
  std::vector<std::vector<float>> scratch_;
  std::vector<AttentionTask> attention_tasks_;
};

}  // namespace tinyvllm
