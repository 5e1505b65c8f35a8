// 8-lane f32 vectors on AVX2 + FMA + F16C. Half-precision weights are widened in registers.
#pragma once
#include <immintrin.h>

#include <cstdint>

// Anonymous namespace: each ISA translation unit keeps its own copy, so code built with
// wider instructions can never be linked into a narrower path.
namespace {

struct VecAvx2 {
  using T = __m256;
  static constexpr int W = 8;
  // 6 x 2 is the classic AVX2 shape: 12 accumulators + 2 weight vectors + a broadcast = 15 of 16 ymm.
  static constexpr int MR = 6;
  static constexpr int NV = 2;
  static constexpr int MR_BF16 = 6;
  static constexpr int NV_BF16 = 2;
  // Attention keeps up to 8 chunks of a head (64 values) in registers per query row.
  static constexpr int HEAD_CHUNKS = 8;

  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float v) { return _mm256_set1_ps(v); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_partial(float* p, T v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  /** 2W interleaved bf16 values (lane i: columns i and i + W), widened without shuffles. */
  static void load_bf16x2(const uint16_t* p, T& lo, T& hi) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    hi = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static T load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  /** W contiguous bf16 values: zero-extended to 32 bits, then shifted into the high half (exact). */
  static T load_bf16(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }

  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce_add(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  /** out[i] = horizontal sum of v[i], for 4 vectors at once (a transpose-and-add tree). */
  static void reduce_add4(const T v[4], float out[4]) {
    const T ab = _mm256_add_ps(_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));
    const T cd = _mm256_add_ps(_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));
    const T s = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, 0x44), _mm256_shuffle_ps(ab, cd, 0xee));  // per 128 bits: [a b c d]
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
  }
  static float reduce_max(T v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  /** e^x to ~1 ulp (same scheme as the AVX-512 path); 2^n is built in the exponent field. */
  static T exp(T x) {
    x = _mm256_min_ps(x, set1(88.7f));
    __m256 tiny = _mm256_cmp_ps(x, set1(-87.3f), _CMP_LT_OQ);  // results below FLT_MIN flush to 0
    x = _mm256_max_ps(x, set1(-87.3f));
    T n = _mm256_round_ps(_mm256_mul_ps(x, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm256_fnmadd_ps(n, set1(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, set1(-2.12194440e-4f), r);
    T p = set1(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, set1(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, set1(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, set1(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, set1(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, set1(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, set1(1.0f)));
    // n is in [-126, 128]; 2^128 overflows the field, so scale by 2^(n-1) twice.
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    T half_scale = _mm256_castsi256_ps(e);
    T y = _mm256_mul_ps(_mm256_mul_ps(p, half_scale), set1(2.0f));
    return _mm256_andnot_ps(tiny, y);
  }
};

}  // namespace
