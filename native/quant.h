// Quantized weight matrices (int8 W8A8, int8 weight-only, q4) and their per-ISA kernel tables.
// The integers and scales follow src/kernels/quant.ts's rules (quantize.cc runs them bit for bit)
// and are repacked into column panels, so the native and reference backends multiply the same weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "thread_pool.h"

namespace tinyvllm {

enum class QuantScheme : int32_t { Int8 = 0, Int8Wo = 1, Q4 = 2 };

/** Values per q4 group along k (quant.ts's Q4_GROUP). */
constexpr int kQ4Group = 32;

struct QuantKernelTable;

/**
 * Panel p holds columns [p*nr, p*nr + nr), zero-padded past n:
 * - Int8: kpad/4 rows of nr columns x 4 consecutive k (int8), kpad = k rounded up to 4: the
 *   operand layout of vpdpbusd / vpmaddubsw, each 32-bit lane one column's 4 products.
 * - Int8Wo: k rows of nr int8 values.
 * - Q4: per group of 32 k, 4 rows of nr lanes x 4 bytes, then nr f16 scales: byte b of lane c in
 *   row j holds column c's nibbles for k = 8j + b (low) and 8j + 4 + b (high), each q + 8, so one
 *   load unpacks (and, shift) into two vpdpbusd operands. The scales come last so that a kernel
 *   reads each panel in address order. kpad = groups * 32.
 */
struct QuantMatrix {
  QuantScheme scheme = QuantScheme::Int8;
  int k = 0;
  int n = 0;
  int nr = 0;
  int panels = 0;
  int kpad = 0;
  size_t panel_bytes = 0;
  uint8_t* data = nullptr;
  std::vector<float> scale;  // Int8, Int8Wo: [panels * nr] per-column scales, 0 past n
  std::vector<int32_t> corr;  // Int8: 128 * sum_k q per column (the unsigned-activation shift)
  const QuantKernelTable* kernels = nullptr;
  size_t bytes = 0;

  ~QuantMatrix();
  const uint8_t* panel(int p) const { return data + static_cast<size_t>(p) * panel_bytes; }
};
using QuantMatrixPtr = std::unique_ptr<QuantMatrix>;

struct QuantGemmArgs {
  float* out;
  const float* x;  // [t, k] f32 activations
  const int8_t* xq;  // Int8, Q4: [t, kpad] quantized activations (zero-padded); u8 x + 128 for the VNNI int8 kernel
  const uint8_t* xa;  // Int8 without VNNI: [t, kpad] their absolute values (the vpmaddubsw operand)
  const float* xs;  // Int8: [t] their scales; Q4: [t, groups], one per group of 32
  const int32_t* xsum;  // Q4: [t, groups] sums of the quantized activations of each group
  int t;
  const QuantMatrix* w;
  const float* bias;  // may be null
  Epilogue ep;
};

struct QuantKernelTable {
  const char* name;
  int nr_int8;  // panel widths per scheme
  int nr_wo;
  int nr_q4;
  /** out[rows r0..r1, panels p0..p1) of any scheme. */
  void (*gemm)(const QuantGemmArgs& g, int r0, int r1, int p0, int p1);
  /**
   * Rows [r0, r1) of x quantized by quant.ts's W8A8 rule (bit for bit) into xq[t, kpad] (zero
   * padded) and xs: amax = max |x|, inv = 127 / amax, q = clamp(rint(x * inv), +-127),
   * scale = amax / 127, each one f32 operation; rows with amax < 2^-100 are zeros with scale 0.
   * Int8 then gets the kernel's operand form (x + 128 for VNNI, else |q| into xa, which needs
   * [t, kpad] bytes). Q4 (W4A8) applies the rule per group of 32 along k: xs[t, groups] and
   * xsum[t, groups] = the sum of each group's q.
   */
  void (*quantize)(const float* x, int r0, int r1, int k, int kpad, QuantScheme scheme, int8_t* xq, uint8_t* xa, float* xs, int32_t* xsum);
  /** Micro-benchmark: `iters` rounds of independent int8 dot products; returns the int8 multiply-adds done. */
  double (*int8_peak)(int64_t iters);
};

const QuantKernelTable* quant_kernels_scalar();
const QuantKernelTable* quant_kernels_avx2();  // null when not built for x86-64
const QuantKernelTable* quant_kernels_avx_vnni();  // AVX2 + AVX-VNNI (256-bit vpdpbusd); null when not built for x86-64
const QuantKernelTable* quant_kernels_avx512();  // AVX-512 BW (vpmaddubsw); null when not built for x86-64
const QuantKernelTable* quant_kernels_avx512_vnni();  // AVX-512 VNNI (vpdpbusd); null when not built for x86-64

/** Quantized-kernel variants this CPU runs, best first: avx512-vnni, avx512, avx-vnni, avx2, scalar. */
std::vector<std::string> quant_paths();
/** The variant for `name`, or null when unsupported here. */
const QuantKernelTable* quant_kernels_for(const std::string& name);
/** The best variant a context on SIMD path `simd` (a KernelTable name) should use. */
const QuantKernelTable* quant_kernels_default(const std::string& simd);

/** Source of a pack: quant.ts's arrays (int8: q [n, k] + scale [n]; q4: packed [n, groups, 16] + f16 scale [n, groups]). */
struct QuantSource {
  QuantScheme scheme;
  int k;
  int n;
  const void* q;
  const void* scale;
};

QuantMatrixPtr pack_quant(const QuantSource& src, const QuantKernelTable& kernels, ThreadPool& pool);

/**
 * src/kernels/quant.ts's weight rules, bit for bit (quantize.cc): `w` is f32 `[k, n]` (kn) or
 * `[n, k]`; int8 fills q `[n * k]` and scale `[n]`, q4 packed `[n * groups * 16]` and scale
 * `[n * groups]` (f16 bits), in quant.ts's layout, ready for pack_quant.
 */
void quantize_int8_columns(const float* w, int k, int n, bool kn, int8_t* q, float* scale, ThreadPool& pool);
void quantize_q4(const float* w, int k, int n, bool kn, uint8_t* packed, uint16_t* scale, ThreadPool& pool);

/** out = x . W (+ bias, epilogue) on the pool: quantizes activations (Int8, Q4), then splits the GEMM. */
void quant_matmul(const QuantGemmArgs& g, ThreadPool& pool);

}  // namespace tinyvllm
