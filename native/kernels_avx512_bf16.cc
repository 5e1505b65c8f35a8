// The opt-in AVX-512 BF16 path (adds -mavx512bf16): bf16 weights are multiplied with vdpbf16ps,
// which takes (k, k+1) pairs of bf16 and accumulates their two products into f32. Activations are
// rounded to bf16 first, so results differ from the f32 reference by about bf16 precision (~3
// significant digits); it doubles the multiply rate for prefill. Only that GEMM is compiled here:
// every other kernel, and the GEMM of f32 / f16 weights, is the AVX-512 path's own.
#include <algorithm>
#include <cstring>

#include "half.h"
#include "kernels.h"
#include "simd_avx512.h"
#define TV_VEC VecAvx512

namespace tinyvllm {
namespace avx512_bf16 {
namespace {

#include "impl/vec.inc"
#include "impl/gemm.inc"

/** out[M][NR] = in + x_bf16[M, kc] (rows `ldx` apart) . panel: one vdpbf16ps per accumulator per k pair (see micro_kernel). */
template <int M>
void dot_kernel(const uint16_t* x, int ldx, int kc, const uint16_t* b, Acc in, Acc out) {
  __m512 acc[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = in.p ? _mm512_loadu_ps(in.p + i * in.ld + v * W) : _mm512_setzero_ps();
  for (int p = 0; p < kc; p += 2, b += 2 * NR) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + v * 2 * W));
    for (int i = 0; i < M; ++i) {
      uint32_t pair;
      std::memcpy(&pair, x + static_cast<size_t>(i) * ldx + p, sizeof pair);
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pair)));
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, bv[v]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out.p + i * out.ld + v * W, acc[i][v]);
}

template <int M = MR>
void dot_dispatch(int m, const uint16_t* x, int ldx, int kc, const uint16_t* b, Acc in, Acc out) {
  if constexpr (M > 1) {
    if (m < M) return dot_dispatch<M - 1>(m, x, ldx, kc, b, in, out);
  }
  dot_kernel<M>(x, ldx, kc, b, in, out);
}

/** The dot-product path as a gemm_tiles policy: bf16 activations in rows of kpad, pair-layout panels. */
struct DotGemm {
  using T = uint16_t;
  using X = uint16_t;
  static constexpr int MR = avx512_bf16::MR;
  static constexpr int NR = avx512_bf16::NR;
  // The same bytes of x as the f32 block, and as many micro-kernel steps (each a (k, k+1) pair).
  static constexpr int KC = 2 * kBlockK;
  static const X* x(const GemmArgs& g) { return g.x_bf16; }
  static int depth(const GemmArgs& g) { return g.w->kpad; }
  static void kernel(int m, const X* x, int ldx, int kc, const T* b, Acc in, Acc out) { dot_dispatch(m, x, ldx, kc, b, in, out); }
};

void gemm_dot(const GemmArgs& g, int r0, int r1, int p0, int p1, float* scratch) {
  if (!g.w->pairs) return kernels_avx512()->gemm(g, r0, r1, p0, p1, scratch);
  gemm_tiles<DotGemm>(g, r0, r1, p0, p1, scratch);
}

}  // namespace
}  // namespace avx512_bf16

const KernelTable* kernels_avx512_bf16() {
  static const KernelTable table = [] {
    KernelTable t = *kernels_avx512();
    t.name = "avx512-bf16";
    t.nr_bf16 = avx512_bf16::NR;
    t.bf16_pairs = true;
    t.gemm = avx512_bf16::gemm_dot;
    return t;
  }();
  return &table;
}

}  // namespace tinyvllm
