// 16-lane f32 vectors on AVX-512 (F/BW/VL/DQ). Half-precision weights are widened in registers:
// bf16 by a 16-bit shift or mask (exact), f16 by vcvtph2ps (exact).
#pragma once
#include <immintrin.h>

#include <cstdint>

// Anonymous namespace: each ISA translation unit keeps its own copy, so code built with
// wider instructions can never be linked into a narrower path.
namespace {

struct VecAvx512 {
  using T = __m512;
  static constexpr int W = 16;
  // Micro-kernel shape: MR rows x NV vectors. 8 x 3 keeps 24 accumulators + 3 weight vectors +
  // a broadcast within the 32 zmm registers.
  static constexpr int MR = 8;
  static constexpr int NV = 3;
  // bf16 panels are 64 wide so each 64-byte load yields two whole vectors (see load_bf16x2).
  static constexpr int MR_BF16 = 6;
  static constexpr int NV_BF16 = 4;
  // Attention keeps up to 8 chunks of a head (128 values) in registers per query row.
  static constexpr int HEAD_CHUNKS = 8;

  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static T load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, T v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  /**
   * 2W bf16 values stored interleaved (32-bit lane i holds columns i and i + W) widened with a
   * shift and a mask: no shuffles, which are the bottleneck of a bf16 GEMV.
   */
  static void load_bf16x2(const uint16_t* p, T& lo, T& hi) {
    const __m512i w = _mm512_loadu_si512(p);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static T load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  /** W contiguous bf16 values: zero-extended to 32 bits, then shifted into the high half (exact). */
  static T load_bf16(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }

  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  /** a * b + c, fused. */
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  // Horizontal reductions in a fixed order: halves, then quarters, then within 128 bits.
  static float reduce_add(T v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
    __m128 s = _mm512_castps512_ps128(v);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  /** out[i] = horizontal sum of v[i], for 4 vectors at once (a transpose-and-add tree). */
  static void reduce_add4(const T v[4], float out[4]) {
    const T ab = _mm512_add_ps(_mm512_unpacklo_ps(v[0], v[1]), _mm512_unpackhi_ps(v[0], v[1]));
    const T cd = _mm512_add_ps(_mm512_unpacklo_ps(v[2], v[3]), _mm512_unpackhi_ps(v[2], v[3]));
    T s = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));  // per 128 bits: [a b c d]
    s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0x4e));
    s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0xb1));
    _mm_storeu_ps(out, _mm512_castps512_ps128(s));
  }
  static float reduce_max(T v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
    __m128 s = _mm512_castps512_ps128(v);
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
  }

  /** e^x to ~1 ulp: x = n ln2 + r, a degree-6 polynomial for e^r, then scale by 2^n. */
  static T exp(T x) {
    x = _mm512_max_ps(_mm512_min_ps(x, set1(88.7f)), set1(-104.0f));  // -104 underflows to 0 below
    T n = _mm512_roundscale_ps(_mm512_mul_ps(x, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm512_fnmadd_ps(n, set1(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, set1(-2.12194440e-4f), r);
    T p = set1(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, set1(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, set1(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, set1(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, set1(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, set1(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, set1(1.0f)));
    return _mm512_scalef_ps(p, n);
  }
};

}  // namespace
