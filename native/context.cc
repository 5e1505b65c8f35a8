#include "context.h"

#include <algorithm>

namespace tinyvllm {

namespace {

#if defined(TV_X86)
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
bool has_avx512_bf16() { return has_avx512() && __builtin_cpu_supports("avx512bf16"); }
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }
#endif

// Below this many flops a kernel runs on the calling thread: waking the pool would cost more.
constexpr double kParallelFlops = 1.5e5;

// Columns per task of a long-batch GEMM: enough panels to reuse each x slice several times, few
// enough to leave several tasks per thread even for a 768-column matrix.
constexpr int kGemmCols = 384;

// Panels a one- or two-row GEMV reads side by side (gemv_panels in impl/gemm.inc: 2 or 4 on the
// SIMD paths). Decode tasks take whole runs of them, so no task ends on a lone panel, whose single
// row of accumulators waits on the FMA latency.
constexpr int kGemvRun = 4;

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

std::vector<std::string> supported_paths() {
  std::vector<std::string> paths;
#if defined(TV_X86)
  __builtin_cpu_init();
  if (has_avx512_bf16()) paths.emplace_back("avx512-bf16");
  if (has_avx512()) paths.emplace_back("avx512");
  if (has_avx2()) paths.emplace_back("avx2");
#endif
  paths.emplace_back("scalar");
  return paths;
}

const KernelTable* kernels_for(const std::string& path) {
  const auto paths = supported_paths();
  if (std::find(paths.begin(), paths.end(), path) == paths.end()) return nullptr;
#if defined(TV_X86)
  if (path == "avx512-bf16") return kernels_avx512_bf16();
  if (path == "avx512") return kernels_avx512();
  if (path == "avx2") return kernels_avx2();
#endif
  return kernels_scalar();
}

/** The Llama row ops for a kernel table's ISA (avx512-bf16 uses the AVX-512 ones). */
const LlamaKernelTable* llama_kernels_for(const KernelTable* k) {
  const std::string name = k->name;
#if defined(TV_X86)
  if (name == "avx512-bf16" || name == "avx512") return llama_kernels_avx512();
  if (name == "avx2") return llama_kernels_avx2();
#endif
  return llama_kernels_scalar();
}

Context::Context(const KernelTable* kernels, int threads)
    : kernels_(kernels), llama_(llama_kernels_for(kernels)), pool_(threads), scratch_(pool_.size()) {}

template <class F>
void Context::rows_parallel(int total, double work, F&& f) {
  if (total <= 0) return;
  if (pool_.size() == 1 || work < kParallelFlops || total == 1) return f(0, total);
  const int per = ceil_div(total, std::min(total, pool_.size() * 4));
  pool_.for_each(ceil_div(total, per), [&](int task, int) { f(task * per, std::min(total, (task + 1) * per)); });
}

void Context::matmul(GemmArgs g) {
  if (g.t <= 0) return;
  const PackedMatrix& w = *g.w;
  if (w.pairs) {
    x_bf16_.resize(std::max(x_bf16_.size(), static_cast<size_t>(g.t) * w.kpad));
    uint16_t* dst = x_bf16_.data();
    rows_parallel(g.t, 1.0 * g.t * w.k, [&](int r0, int r1) { kernels_->round_bf16(g.x, r0, r1, w.k, w.kpad, dst); });
    g.x_bf16 = dst;
  }
  const double flops = 2.0 * g.t * w.k * w.n;
  const auto gemm = kernels_->gemm;
  if (g.t <= 2 * kGemmRows) {
    // Decode, GEMV and short prefill: split over column panels only, each streamed once from DRAM.
    if (pool_.size() == 1 || flops < kParallelFlops || w.panels == 1) return gemm(g, 0, g.t, 0, w.panels, nullptr);
    int per = ceil_div(w.panels, std::min(w.panels, pool_.size() * 4));
    if (g.t <= 2) per = ceil_div(per, kGemvRun) * kGemvRun;
    pool_.for_each(ceil_div(w.panels, per), [&](int task, int) { gemm(g, 0, g.t, task * per, std::min(w.panels, (task + 1) * per), nullptr); });
    return;
  }
  // Long batch: tasks of equal row blocks (<= kGemmRows) x about kGemmCols columns, whose x slices
  // are reused over several panels; the kernel blocks k and keeps partial sums in the thread's
  // scratch. Every output still belongs to exactly one task, so its k-ordered chain is unchanged.
  const int rows = ceil_div(ceil_div(g.t, ceil_div(g.t, kGemmRows)), kGemmRowStep) * kGemmRowStep;
  const int per = std::max(1, kGemmCols / w.nr);
  const int chunks = ceil_div(w.panels, per);
  const size_t scratch = static_cast<size_t>(rows) * per * w.nr;
  for (auto& s : scratch_)
    if (s.size() < scratch) s.resize(scratch);
  pool_.for_each(ceil_div(g.t, rows) * chunks, [&](int task, int thread) {
    const int r0 = task / chunks * rows, p0 = task % chunks * per;
    gemm(g, r0, std::min(g.t, r0 + rows), p0, std::min(w.panels, p0 + per), scratch_[thread].data());
  });
}

void Context::layer_norm(float* out, const float* x, int t, int n, const float* gamma, const float* beta, float eps) {
  const auto ln = kernels_->layer_norm;
  rows_parallel(t, 8.0 * t * n, [&](int r0, int r1) { ln(out, x, r0, r1, n, gamma, beta, eps); });
}

void Context::softmax(float* x, int rows, int n) {
  const auto sm = kernels_->softmax;
  rows_parallel(rows, 20.0 * rows * n, [&](int r0, int r1) { sm(x, r0, r1, n); });
}

void Context::attention(const AttentionArgs& a, int num_seqs) {
  // A decode row takes its sequence's heads together (the kernel then streams each KV block front
  // to back), split only as far as needed to give every thread several tasks. Prefill rows go by
  // (head, range of rows): the kernel packs the head's K/V once per task, and several ranges per
  // long prompt keep the threads balanced. Splits never change a row's arithmetic.
  constexpr int kRowsPerTask = 128;
  attention_tasks_.clear();
  double work = 0;
  int decodes = 0;
  int longest = 0;  // KV length of the longest sequence with several query rows
  for (int s = 0; s < num_seqs; ++s) {
    const int q_len = a.query_start[s + 1] - a.query_start[s];
    work += 4.0 * q_len * a.seq_lens[s] * a.n_head * a.head_dim;
    decodes += q_len == 1;
    if (q_len > 1) longest = std::max(longest, a.seq_lens[s]);
  }
  const int groups = decodes > 0 ? std::min(a.n_head, ceil_div(4 * pool_.size(), decodes)) : 1;
  // Whole K/V groups per task, so each group's K/V slice is read by one thread.
  const int group = a.n_head / a.n_kv_head;
  const int heads_per_decode_task = ceil_div(ceil_div(a.n_head, groups), group) * group;
  for (int s = 0; s < num_seqs; ++s) {
    const int q_len = a.query_start[s + 1] - a.query_start[s];
    if (q_len == 1) {
      for (int h = 0; h < a.n_head; h += heads_per_decode_task) attention_tasks_.push_back({s, h, std::min(a.n_head, h + heads_per_decode_task), 0, 1});
      continue;
    }
    for (int h = 0; h < a.n_head; h += group)
      for (int i = 0; i < q_len; i += kRowsPerTask) attention_tasks_.push_back({s, h, h + group, i, std::min(q_len, i + kRowsPerTask)});
  }
  // The kernel's fallback tile, then one head's packed K and V (rows padded to 16 floats).
  const size_t packed = 2 * static_cast<size_t>(ceil_div(longest, a.block_size)) * a.block_size * ceil_div(a.head_dim, 16) * 16;
  const size_t scratch = 2 * (static_cast<size_t>(a.head_dim + a.block_size) + 64) + packed;
  for (auto& s : scratch_)
    if (s.size() < scratch) s.resize(scratch);
  const auto attn = kernels_->attention;
  const auto run = [&](int task, int thread) {
    const AttentionTask& t = attention_tasks_[task];
    attn(a, t.seq, t.h0, t.h1, t.i0, t.i1, scratch_[thread].data());
  };
  const int tasks = static_cast<int>(attention_tasks_.size());
  if (pool_.size() == 1 || work < kParallelFlops) {
    for (int i = 0; i < tasks; ++i) run(i, 0);
  } else {
    pool_.for_each(tasks, run);
  }
}

void Context::rms_norm(float* out, const float* x, int t, int n, const float* gamma, float eps) {
  const auto f = llama_->rms_norm;
  rows_parallel(t, 4.0 * t * n, [&](int r0, int r1) { f(out, x, r0, r1, n, gamma, eps); });
}

void Context::silu_mul(float* out, const float* x, int t, int n) {
  const auto f = llama_->silu_mul;
  rows_parallel(t, 20.0 * t * n, [&](int r0, int r1) { f(out, x, r0, r1, n); });
}

void Context::rotary(const RotaryArgs& a, int t) {
  const auto f = llama_->rotary;
  rows_parallel(t, 6.0 * t * (a.n_head + a.n_kv_head) * a.head_dim, [&](int r0, int r1) { f(a, r0, r1); });
}

PackedMatrixPtr Context::prepare(const PackSource& src, DType dtype) {
  return pack_matrix(src, dtype, *kernels_, pool_);
}

}  // namespace tinyvllm
