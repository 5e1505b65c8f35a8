// Kernels written once against a vector type and compiled once per ISA. A translation unit
// defines TV_VEC (its vector struct, from simd_*.h) and TV_NS (a namespace of its own) and then
// includes this file; everything here has internal linkage, so no code built for one ISA can
// leak into another.
//
// Batch invariance: each output of the GEMM is one accumulator fed by fused multiply-adds in k
// order 0..k-1, whatever the micro-kernel's row count, so a row's result never depends on t or on
// the other rows. Attention tiles follow the block table, so a query row's result depends only
// on its own sequence.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "half.h"
#include "kernels.h"

namespace tinyvllm {
namespace TV_NS {
namespace {

using V = TV_VEC;
using VT = V::T;
constexpr int W = V::W;
constexpr int MR = V::MR;
constexpr int NV = V::NV;
constexpr int NR = W * NV;

template <DType D>
struct Weights;
template <>
struct Weights<DType::F32> {
  using T = float;
  static VT load(const float* p) { return V::load(p); }
};
template <>
struct Weights<DType::BF16> {
  using T = uint16_t;
  static VT load(const uint16_t* p) { return V::load_bf16(p); }
};
template <>
struct Weights<DType::F16> {
  using T = uint16_t;
  static VT load(const uint16_t* p) { return V::load_f16(p); }
};

/** tile[M][NR] = x[M, k] . panel[k, NR]: M x NV accumulators held in registers across the k loop. */
template <int M, DType D>
void micro_kernel(const float* x, int k, const typename Weights<D>::T* b, float* tile) {
  VT acc[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  for (int p = 0; p < k; ++p, b += NR) {
    if constexpr (M <= 2) __builtin_prefetch(reinterpret_cast<const char*>(b) + 2048);
    VT bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = Weights<D>::load(b + v * W);
    for (int i = 0; i < M; ++i) {
      const VT a = V::set1(x[static_cast<size_t>(i) * k + p]);
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(a, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v) V::store(tile + i * NR + v * W, acc[i][v]);
}

/** Picks micro_kernel<m> at runtime (m = 1..MR) through a compile-time chain. */
template <DType D, int M = MR>
void micro_dispatch(int m, const float* x, int k, const typename Weights<D>::T* b, float* tile) {
  if constexpr (M > 1) {
    if (m < M) return micro_dispatch<D, M - 1>(m, x, k, b, tile);
  }
  micro_kernel<M, D>(x, k, b, tile);
}

/** e^x for one value, through the vector routine so scalar and vector paths agree. */
inline float exp1(float x) {
  float lanes[W];
  V::store(lanes, V::exp(V::set1(x)));
  return lanes[0];
}

/** GPT-2's gelu_new: 0.5 v (1 + tanh(u)) = v / (1 + e^(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3). */
inline VT gelu(VT v) {
  const VT minus_2u = V::mul(V::mul(V::set1(-2.0f * 0.7978845608028654f), v), V::fma(V::set1(0.044715f), V::mul(v, v), V::set1(1.0f)));
  return V::div(v, V::add(V::set1(1.0f), V::exp(minus_2u)));
}

/** Adds the bias, applies the epilogue and stores `nc` columns of `m` tile rows. */
inline void store_tile(const float* tile, int m, int nc, float* out, int ldo, const float* bias, Epilogue ep) {
  for (int i = 0; i < m; ++i) {
    float* o = out + static_cast<size_t>(i) * ldo;
    for (int j = 0; j < nc; j += W) {
      const int n = std::min(W, nc - j);
      VT v = V::load(tile + i * NR + j);
      if (bias) v = V::add(v, n == W ? V::load(bias + j) : V::load_partial(bias + j, n));
      if (ep == Epilogue::Gelu) v = gelu(v);
      if (ep == Epilogue::Residual) v = V::add(n == W ? V::load(o + j) : V::load_partial(o + j, n), v);
      if (n == W) V::store(o + j, v);
      else V::store_partial(o + j, v, n);
    }
  }
}

/** Column panels [p0, p1) for every row: each panel stays in cache while all row blocks pass over it. */
template <DType D>
void gemm_panels(const GemmArgs& g, int p0, int p1) {
  const PackedMatrix& w = *g.w;
  alignas(64) float tile[MR * NR];
  for (int p = p0; p < p1; ++p) {
    const auto* b = static_cast<const typename Weights<D>::T*>(w.panel(p));
    const int c0 = p * NR;
    const int nc = std::min(NR, w.n - c0);
    for (int r = 0; r < g.t; r += MR) {
      const int m = std::min(MR, g.t - r);
      micro_dispatch<D>(m, g.x + static_cast<size_t>(r) * w.k, w.k, b, tile);
      store_tile(tile, m, nc, g.out + static_cast<size_t>(r) * w.n + c0, w.n, g.bias ? g.bias + c0 : nullptr, g.ep);
    }
  }
}

void gemm(const GemmArgs& g, int p0, int p1) {
  switch (g.w->dtype) {
    case DType::F32: return gemm_panels<DType::F32>(g, p0, p1);
    case DType::BF16: return gemm_panels<DType::BF16>(g, p0, p1);
    case DType::F16: return gemm_panels<DType::F16>(g, p0, p1);
  }
}

/** Sum of n floats in vector-lane order, then the tail in index order. */
inline float sum_row(const float* x, int n) {
  VT s = V::zero();
  int j = 0;
  for (; j + W <= n; j += W) s = V::add(s, V::load(x + j));
  float total = V::reduce_add(s);
  for (; j < n; ++j) total += x[j];
  return total;
}

void layer_norm(float* out, const float* x, int r0, int r1, int n, const float* gamma, const float* beta, float eps) {
  for (int r = r0; r < r1; ++r) {
    const float* xr = x + static_cast<size_t>(r) * n;
    float* o = out + static_cast<size_t>(r) * n;
    const float mean = sum_row(xr, n) / static_cast<float>(n);
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - mean^2.
    const VT vm = V::set1(mean);
    VT q = V::zero();
    int j = 0;
    for (; j + W <= n; j += W) {
      const VT d = V::sub(V::load(xr + j), vm);
      q = V::fma(d, d, q);
    }
    float sq = V::reduce_add(q);
    for (; j < n; ++j) sq += (xr[j] - mean) * (xr[j] - mean);
    const VT rstd = V::set1(1.0f / std::sqrt(sq / static_cast<float>(n) + eps));
    for (j = 0; j < n; j += W) {
      const int c = std::min(W, n - j);
      const VT d = V::mul(V::sub(c == W ? V::load(xr + j) : V::load_partial(xr + j, c), vm), rstd);
      const VT g = c == W ? V::load(gamma + j) : V::load_partial(gamma + j, c);
      const VT b = c == W ? V::load(beta + j) : V::load_partial(beta + j, c);
      if (c == W) V::store(o + j, V::fma(d, g, b));
      else V::store_partial(o + j, V::fma(d, g, b), c);
    }
  }
}

/** x[j] = e^(x[j] - shift) for j < n, returning their sum (lanes first, tail in order). */
inline float exp_shifted(float* x, int n, float shift) {
  const VT s = V::set1(shift);
  VT acc = V::zero();
  int j = 0;
  for (; j + W <= n; j += W) {
    const VT e = V::exp(V::sub(V::load(x + j), s));
    V::store(x + j, e);
    acc = V::add(acc, e);
  }
  float total = V::reduce_add(acc);
  if (j < n) {
    V::store_partial(x + j, V::exp(V::sub(V::load_partial(x + j, n - j), s)), n - j);
    for (; j < n; ++j) total += x[j];
  }
  return total;
}

inline float max_row(const float* x, int n) {
  float m = -std::numeric_limits<float>::infinity();
  int j = 0;
  if (n >= W) {
    VT vm = V::load(x);
    for (j = W; j + W <= n; j += W) vm = V::max(vm, V::load(x + j));
    m = V::reduce_max(vm);
  }
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

void softmax(float* x, int r0, int r1, int n) {
  for (int r = r0; r < r1; ++r) {
    float* xr = x + static_cast<size_t>(r) * n;
    const float total = exp_shifted(xr, n, max_row(xr, n));
    const VT inv = V::set1(total);
    int j = 0;
    for (; j + W <= n; j += W) V::store(xr + j, V::div(V::load(xr + j), inv));
    for (; j < n; ++j) xr[j] /= total;
  }
}

inline float dot(const float* a, const float* b, int n) {
  VT s = V::zero();
  int j = 0;
  for (; j + W <= n; j += W) s = V::fma(V::load(a + j), V::load(b + j), s);
  if (j < n) s = V::fma(V::load_partial(a + j, n - j), V::load_partial(b + j, n - j), s);
  return V::reduce_add(s);
}

/**
 * One query row of one head: its query, its output accumulator and the two per-block steps.
 * With head_dim = NC * W both stay in NC registers for the whole row and keys are scored in fours
 * through one transpose-and-add reduction; Head<0> is the generic path for any head size. Which one
 * runs depends on head_dim only, so every row of every batch gets the same arithmetic.
 */
template <int NC>
struct Head {
  VT q[NC];
  VT acc[NC];

  Head(const float* qp, int, float*) {
    for (int x = 0; x < NC; ++x) {
      q[x] = V::load(qp + x * W);
      acc[x] = V::zero();
    }
  }

  /** s[j] = (q . k_j) * scale for the `len` keys of a block, `stride` apart. */
  void scores(const float* k, size_t stride, int len, float scale, float* s) const {
    for (int j = 0; j < len; j += 4) {
      VT dots[4];
      for (int u = 0; u < 4; ++u) {
        dots[u] = V::zero();
        if (j + u < len)
          for (int x = 0; x < NC; ++x) dots[u] = V::fma(q[x], V::load(k + (j + u) * stride + x * W), dots[u]);
      }
      float four[4];
      V::reduce_add4(dots, four);
      for (int u = 0; u < 4 && j + u < len; ++u) s[j + u] = four[u] * scale;
    }
  }

  /** acc = acc * c + sum_j p[j] * v_j, j in order. */
  void update(float c, const float* p, const float* v, size_t stride, int len) {
    const VT vc = V::set1(c);
    for (int x = 0; x < NC; ++x) acc[x] = V::mul(acc[x], vc);
    for (int j = 0; j < len; ++j) {
      const VT pj = V::set1(p[j]);
      for (int x = 0; x < NC; ++x) acc[x] = V::fma(pj, V::load(v + j * stride + x * W), acc[x]);
    }
  }

  void store(float* o, float inv_l) const {
    for (int x = 0; x < NC; ++x) V::store(o + x * W, V::mul(acc[x], V::set1(inv_l)));
  }
};

template <>
struct Head<0> {
  const float* q;
  int hd;
  float* acc;  // in scratch

  Head(const float* qp, int n, float* scratch) : q(qp), hd(n), acc(scratch) { std::fill(acc, acc + hd, 0.0f); }

  void scores(const float* k, size_t stride, int len, float scale, float* s) const {
    for (int j = 0; j < len; ++j) s[j] = dot(q, k + j * stride, hd) * scale;
  }

  void update(float c, const float* p, const float* v, size_t stride, int len) {
    for (int d = 0; d < hd; d += W) {
      const int w = std::min(W, hd - d);
      VT a = V::mul(V::load_partial(acc + d, w), V::set1(c));
      for (int j = 0; j < len; ++j) a = V::fma(V::set1(p[j]), V::load_partial(v + j * stride + d, w), a);
      V::store_partial(acc + d, a, w);
    }
  }

  void store(float* o, float inv_l) const {
    for (int d = 0; d < hd; d += W) {
      const int w = std::min(W, hd - d);
      V::store_partial(o + d, V::mul(V::load_partial(acc + d, w), V::set1(inv_l)), w);
    }
  }
};

/**
 * Flash-style causal attention for query rows [i0, i1) of one (sequence, head): walks the KV
 * blocks through the block table, one block per tile, with an online softmax (running max m,
 * running sum l, rescaled accumulator).
 */
template <int NC>
void attention_rows(const AttentionArgs& a, int seq, int head, int i0, int i1, float* scratch) {
  const int hd = a.head_dim;
  const int bs = a.block_size;
  const size_t c = static_cast<size_t>(a.n_head) * hd;
  const int q0 = a.query_start[seq];
  const int first = a.seq_lens[seq] - (a.query_start[seq + 1] - q0);  // absolute position of query row 0
  const int32_t* table = a.block_tables + static_cast<size_t>(seq) * a.max_blocks_per_seq;
  float* scores = scratch + (hd + W - 1) / W * W;
  for (int i = i0; i < i1; ++i) {
    Head<NC> h(a.qkv + static_cast<size_t>(q0 + i) * 3 * c + static_cast<size_t>(head) * hd, hd, scratch);
    const int end = first + i + 1;  // attends to KV positions [0, end)
    float m = -std::numeric_limits<float>::infinity();
    float l = 0.0f;
    for (int b = 0; b * bs < end; ++b) {
      const size_t at = (static_cast<size_t>(table[b]) * bs * a.n_head + head) * hd;
      const int len = std::min(bs, end - b * bs);
      h.scores(a.k_cache + at, c, len, a.scale, scores);
      const float m_new = std::max(m, max_row(scores, len));
      const float correction = exp1(m - m_new);  // 0 on the first tile (m = -inf)
      l = l * correction + exp_shifted(scores, len, m_new);
      h.update(correction, scores, a.v_cache + at, c, len);
      m = m_new;
    }
    h.store(a.out + static_cast<size_t>(q0 + i) * c + static_cast<size_t>(head) * hd, 1.0f / l);
  }
}

void attention(const AttentionArgs& a, int seq, int head, int i0, int i1, float* scratch) {
  const int nc = a.head_dim % W == 0 ? a.head_dim / W : 0;
  switch (nc) {
    case 1: return attention_rows<1>(a, seq, head, i0, i1, scratch);
    case 2: return attention_rows<2>(a, seq, head, i0, i1, scratch);
    case 3: return attention_rows<3>(a, seq, head, i0, i1, scratch);
    case 4: return attention_rows<4>(a, seq, head, i0, i1, scratch);
    case 6: return attention_rows<6>(a, seq, head, i0, i1, scratch);
    case 8: return attention_rows<8>(a, seq, head, i0, i1, scratch);
    default: return attention_rows<0>(a, seq, head, i0, i1, scratch);
  }
}

void round_bf16(const float* x, int r0, int r1, int k, int kpad, uint16_t* dst) {
  for (int r = r0; r < r1; ++r) {
    const float* xr = x + static_cast<size_t>(r) * k;
    uint16_t* d = dst + static_cast<size_t>(r) * kpad;
    for (int j = 0; j < k; ++j) d[j] = f32_to_bf16(xr[j]);
    for (int j = k; j < kpad; ++j) d[j] = 0;
  }
}

/** 2 * MR * NV independent FMA chains, enough to cover the FMA latency on every port. */
double fma_peak(int64_t iters) {
  constexpr int kChains = 2 * MR * NV > 24 ? 24 : 2 * MR * NV;
  VT acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = V::set1(static_cast<float>(i));
  const VT mul = V::set1(0.999999f);
  const VT add = V::set1(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 32  // keep every chain in a register
    for (int i = 0; i < kChains; ++i) acc[i] = V::fma(acc[i], mul, add);
  }
  VT s = acc[0];
  for (int i = 1; i < kChains; ++i) s = V::add(s, acc[i]);
  volatile float sink = V::reduce_add(s);
  (void)sink;
  return 2.0 * W * kChains * static_cast<double>(iters);
}

float read_sum(const float* p, size_t n) {
  VT s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) {
    s0 = V::add(s0, V::load(p + j));
    s1 = V::add(s1, V::load(p + j + W));
    s2 = V::add(s2, V::load(p + j + 2 * W));
    s3 = V::add(s3, V::load(p + j + 3 * W));
  }
  float total = V::reduce_add(V::add(V::add(s0, s1), V::add(s2, s3)));
  for (; j < n; ++j) total += p[j];
  return total;
}

}  // namespace
}  // namespace TV_NS
}  // namespace tinyvllm
