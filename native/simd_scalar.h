// Portable "vectors" of 8 floats as plain arrays: builds on any architecture, and the compiler
// auto-vectorises the lane loops to whatever the baseline ISA offers (SSE2 on x86-64).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "half.h"

// Anonymous namespace: each ISA translation unit keeps its own copy, so code built with
// wider instructions can never be linked into a narrower path.
namespace {

struct VecScalar {
  struct T {
    float v[8];
  };
  static constexpr int W = 8;
  static constexpr int MR = 4;
  static constexpr int NV = 1;
  static constexpr int MR_BF16 = 4;
  static constexpr int NV_BF16 = 2;
  // Attention takes its generic head loop for every size: no per-size unrolled copies to compile.
  // (8 would unroll head 64: about 2x faster prefill attention for ~9 s more compile time.)
  static constexpr int HEAD_CHUNKS = 0;

  static T zero() { return set1(0.0f); }
  static T set1(float x) {
    T r;
    for (int i = 0; i < W; ++i) r.v[i] = x;
    return r;
  }
  static T load(const float* p) {
    T r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void store(float* p, T a) { std::memcpy(p, a.v, sizeof a.v); }
  static T load_partial(const float* p, int n) {
    T r = zero();
    for (int i = 0; i < n; ++i) r.v[i] = p[i];
    return r;
  }
  static void store_partial(float* p, T a, int n) {
    for (int i = 0; i < n; ++i) p[i] = a.v[i];
  }
  /** 2W interleaved bf16 values (lane i: columns i and i + W). */
  static void load_bf16x2(const uint16_t* p, T& lo, T& hi) {
    for (int i = 0; i < W; ++i) {
      lo.v[i] = tinyvllm::bf16_to_f32(p[2 * i]);
      hi.v[i] = tinyvllm::bf16_to_f32(p[2 * i + 1]);
    }
  }
  static T load_f16(const uint16_t* p) {
    T r;
    for (int i = 0; i < W; ++i) r.v[i] = tinyvllm::f16_to_f32(p[i]);
    return r;
  }
  static T load_bf16(const uint16_t* p) {
    T r;
    for (int i = 0; i < W; ++i) r.v[i] = tinyvllm::bf16_to_f32(p[i]);
    return r;
  }

#define TV_LANEWISE(name, expr)        \
  static T name(T a, T b) {            \
    T r;                               \
    for (int i = 0; i < W; ++i) {      \
      const float x = a.v[i];          \
      const float y = b.v[i];          \
      r.v[i] = (expr);                 \
    }                                  \
    return r;                          \
  }
  TV_LANEWISE(add, x + y)
  TV_LANEWISE(sub, x - y)
  TV_LANEWISE(mul, x * y)
  TV_LANEWISE(div, x / y)
  TV_LANEWISE(max, x > y ? x : y)
#undef TV_LANEWISE

  /** a * b + c, rounded twice: no FMA unit is assumed (the TU is built with -ffp-contract=off). */
  static T fma(T a, T b, T c) {
    T r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
  }
  static float reduce_add(T a) {
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += a.v[i];
    return s;
  }
  static void reduce_add4(const T v[4], float out[4]) {
    for (int i = 0; i < 4; ++i) out[i] = reduce_add(v[i]);
  }
  static float reduce_max(T a) {
    float m = a.v[0];
    for (int i = 1; i < W; ++i) m = a.v[i] > m ? a.v[i] : m;
    return m;
  }
  static T exp(T a) {
    T r;
    for (int i = 0; i < W; ++i) r.v[i] = std::exp(a.v[i]);
    return r;
  }
};

}  // namespace
