// The per-ISA kernel table and the data it works on. Each ISA translation unit (scalar, AVX2,
// AVX-512, AVX-512 + BF16 dot products) fills one KernelTable; the context picks one at runtime.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tinyvllm {

enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2 };
enum class Epilogue : int32_t { None = 0, Gelu = 1, Residual = 2 };

/**
 * A weight matrix packed once into column panels: panel p holds columns [p*nr, p*nr + nr) as
 * `k` rows of `nr` contiguous values (zero-padded past `n`), so the GEMM micro-kernel streams one
 * panel front to back. bf16 rows interleave each group of 2W columns as (c, c + W) pairs, which
 * widen to two vectors without shuffles (`bf16_width` = W). With `pairs` (BF16 dot-product path)
 * rows come in (k, k+1) pairs instead: panel[k/2][nr][2], `kpad` = k rounded up to even.
 */
struct PackedMatrix {
  int k = 0;
  int n = 0;
  int nr = 0;
  int panels = 0;
  int kpad = 0;
  DType dtype = DType::F32;
  bool pairs = false;
  int bf16_width = 0;  // W of the interleaved bf16 layout (0: not interleaved)
  void* data = nullptr;
  size_t bytes = 0;

  size_t elem_size() const { return dtype == DType::F32 ? 4 : 2; }
  size_t panel_elems() const { return static_cast<size_t>(kpad) * nr; }
  const void* panel(int p) const { return static_cast<const char*>(data) + p * panel_elems() * elem_size(); }
};

struct GemmArgs {
  float* out;
  const float* x;
  int t;
  const PackedMatrix* w;
  const float* bias;  // may be null
  Epilogue ep;
  const uint16_t* x_bf16;  // [t, kpad] activations rounded to bf16 (BF16 dot-product path only)
};

/**
 * Batches of more than 2 kGemmRows rows (long chunked-prefill steps) are computed in row blocks of
 * at most kGemmRows rows, each a multiple of kGemmRowStep (a multiple of every micro-kernel's row
 * count), with a cache-blocked k; shorter ones in one pass per panel.
 */
constexpr int kGemmRows = 240;
constexpr int kGemmRowStep = 24;

struct AttentionArgs {
  float* out;
  const float* qkv;
  const void* k_cache;  // kv_dtype elements: f32 values or bf16 / f16 bits
  const void* v_cache;
  DType kv_dtype;
  const int32_t* query_start;
  const int32_t* seq_lens;
  const int32_t* block_tables;
  int max_blocks_per_seq;
  int block_size;
  int n_head;
  int n_kv_head;  // K/V heads (grouped-query attention); query head h reads K/V head h / (n_head / n_kv_head)
  int head_dim;
  float scale;
};

/** One row of Backend.sample (src/kernels/backend.ts): logits in, the weights drawn from out. */
struct SampleRow {
  float* x;  // [n], replaced in place
  int n;
  double temperature;  // > 0
  int top_k;  // 0: off
  double top_p;  // 1: off
  double min_p;  // 0: off
  double u;  // uniform in [0, 1)
};

/** Grow-only workspace of one thread's sampling. */
struct SampleScratch {
  std::vector<float> w;
  std::vector<float> xs;
  std::vector<int32_t> cand;
  std::vector<uint8_t> band;
  std::vector<double> blocks;
};

struct KernelTable {
  const char* name;
  int width;  // f32 lanes per vector (W)
  int nr;  // columns per panel for f32 and f16 weights
  int nr_bf16;  // columns per panel for bf16 weights
  bool bf16_pairs;  // bf16 matrices use the (k, k+1) pair layout and need x_bf16
  /**
   * out[rows r0..r1, panels p0..p1). `scratch` null: each panel streams once over the whole k
   * (short batches). Otherwise it holds (r1 - r0) x (p1 - p0) * nr floats and k is cache-blocked
   * (long batches, r1 - r0 <= kGemmRows). Either way each output's k-ordered chain is the same.
   */
  void (*gemm)(const GemmArgs& g, int r0, int r1, int p0, int p1, float* scratch);
  /** Rounds rows [r0, r1) of x[t, k] to bf16 into dst[t, kpad] (zero-padded). */
  void (*round_bf16)(const float* x, int r0, int r1, int k, int kpad, uint16_t* dst);
  void (*layer_norm)(float* out, const float* x, int r0, int r1, int n, const float* gamma, const float* beta, float eps);
  void (*softmax)(float* x, int r0, int r1, int n);
  /**
   * Heads [h0, h1) x query rows [i0, i1) of sequence `seq`. `scratch` holds 2 * (head_dim + block_size + 64) floats,
   * plus, when i1 - i0 > 1, 2 * L * (head_dim rounded up to 16) floats, L = seq_lens[seq] rounded up to whole blocks.
   */
  void (*attention)(const AttentionArgs& a, int seq, int h0, int h1, int i0, int i1, float* scratch);
  /** Micro-benchmarks: runs `iters` rounds of independent FMAs and returns the flops done. */
  double (*fma_peak)(int64_t iters);
  /** Streams n floats and returns their sum (so the reads cannot be optimised away). */
  float (*read_sum)(const float* p, size_t n);
  /** Index of the largest of x[0, n), the lowest on ties. */
  int32_t (*argmax)(const float* x, int n);
  /** Draws one token from a row (see SampleRow). */
  int32_t (*sample)(const SampleRow& s, SampleScratch& scratch);
};

/** Rows of Backend.rotary (src/kernels/backend.ts): qkv rows [q | k | v], rotated in place. */
struct RotaryArgs {
  float* qkv;
  int n_head;
  int n_kv_head;
  int head_dim;
  const int32_t* positions;  // [t], each < the table's positions
  const float* cos;  // [positions, head_dim / 2]
  const float* sin;
  const float* q_norm;  // [head_dim] or null (then k_norm is null too)
  const float* k_norm;
  float eps;
};

/** Llama-family row ops of one ISA (native/impl/llama_rows.inc). */
struct LlamaKernelTable {
  void (*rms_norm)(float* out, const float* x, int r0, int r1, int n, const float* gamma, float eps);
  void (*silu_mul)(float* out, const float* x, int r0, int r1, int n);
  void (*rotary)(const RotaryArgs& a, int r0, int r1);
};

const LlamaKernelTable* llama_kernels_scalar();
const LlamaKernelTable* llama_kernels_avx2();    // null when not built for x86-64
const LlamaKernelTable* llama_kernels_avx512();  // null when not built for x86-64 (also serves avx512-bf16)

const KernelTable* kernels_scalar();
const KernelTable* kernels_avx2();           // null when not built for x86-64
const KernelTable* kernels_avx512();         // null when not built for x86-64
const KernelTable* kernels_avx512_bf16();    // null when not built for x86-64

}  // namespace tinyvllm
