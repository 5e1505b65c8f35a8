// The opt-in AVX-512 BF16 path (adds -mavx512bf16): bf16 weights are multiplied with vdpbf16ps,
// which takes (k, k+1) pairs of bf16 and accumulates their two products into f32. Activations are
// rounded to bf16 first, so results differ from the f32 reference by about bf16 precision (~3
// significant digits); it doubles the multiply rate for prefill. Every other op is the AVX-512 one.
#include <cstring>

#include "simd_avx512.h"
#define TV_VEC VecAvx512
#define TV_NS avx512_bf16
#include "kernels_impl.h"

namespace tinyvllm {
namespace avx512_bf16 {
namespace {

/** tile[M][NR] = x_bf16[M, kpad] . panel: one vdpbf16ps per accumulator per k pair. */
template <int M>
void dot_kernel(const uint16_t* x, int kpad, const uint16_t* b, float* tile) {
  __m512 acc[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int p = 0; p < kpad; p += 2, b += 2 * NR) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + v * 2 * W));
    for (int i = 0; i < M; ++i) {
      uint32_t pair;
      std::memcpy(&pair, x + static_cast<size_t>(i) * kpad + p, sizeof pair);
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pair)));
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, bv[v]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(tile + i * NR + v * W, acc[i][v]);
}

template <int M = MR>
void dot_dispatch(int m, const uint16_t* x, int kpad, const uint16_t* b, float* tile) {
  if constexpr (M > 1) {
    if (m < M) return dot_dispatch<M - 1>(m, x, kpad, b, tile);
  }
  dot_kernel<M>(x, kpad, b, tile);
}

void gemm_dot(const GemmArgs& g, int p0, int p1) {
  const PackedMatrix& w = *g.w;
  if (!w.pairs) return gemm(g, p0, p1);
  alignas(64) float tile[MR * NR];
  for (int p = p0; p < p1; ++p) {
    const auto* b = static_cast<const uint16_t*>(w.panel(p));
    const int c0 = p * NR;
    const int nc = std::min(NR, w.n - c0);
    for (int r = 0; r < g.t; r += MR) {
      const int m = std::min(MR, g.t - r);
      dot_dispatch(m, g.x_bf16 + static_cast<size_t>(r) * w.kpad, w.kpad, b, tile);
      store_tile(tile, NR, m, nc, g.out + static_cast<size_t>(r) * w.n + c0, w.n, g.bias ? g.bias + c0 : nullptr, g.ep);
    }
  }
}

}  // namespace
}  // namespace avx512_bf16

const KernelTable* kernels_avx512_bf16() {
  using namespace avx512_bf16;
  static const KernelTable table = {"avx512-bf16", W, NR, NR, true, gemm_dot, round_bf16, layer_norm, softmax, attention, fma_peak, read_sum, argmax, sample};
  return &table;
}

}  // namespace tinyvllm
