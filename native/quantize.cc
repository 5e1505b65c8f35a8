// The weight quantization rules of src/kernels/quant.ts in C++, bit for bit (the tests compare them
// on random and edge-case values), on the thread pool: a load spends seconds here in TypeScript.
// Every step is the same IEEE operation: f32 values divided in double as JavaScript numbers are,
// rounded half to even by nearbyint, f16 narrowing by half.h's rule (quant.ts's f32ToF16Bits; the
// two differ only in a NaN's payload bits, and a NaN never becomes a q4 group's scale).
// NaN and infinities follow JavaScript's Math.max/min and typed-array stores (NaN stores as 0).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "half.h"
#include "quant.h"

namespace tinyvllm {
namespace {

/** Columns a task gathers from a [k, n] matrix before quantizing them (rows read 16 at a time). */
constexpr int kBlock = 16;

/** quant.ts's clamp(roundHalfEven(v), lo, hi) as stored in a typed array: NaN stores as 0. */
inline int round_clamp(double v, int lo, int hi) {
  if (std::isnan(v)) return 0;
  const double r = std::nearbyint(v);
  return static_cast<int>(std::max<double>(lo, std::min<double>(hi, r)));
}

void int8_column(const float* w, int k, int8_t* q, float* scale) {
  float amax = 0.0f;
  for (int p = 0; p < k; ++p) {
    const float a = std::fabs(w[p]);
    if (std::isnan(a) || std::isnan(amax)) amax = NAN;  // Math.max propagates NaN
    else if (a > amax) amax = a;
  }
  const float s = static_cast<float>(static_cast<double>(amax) / 127.0);
  *scale = s;
  if (s == 0.0f) return;  // q stays 0
  for (int p = 0; p < k; ++p) {
    // NaN (a NaN scale) stores as 0; x / inf is 0.
    const int v = std::isnan(s) ? 0 : round_clamp(static_cast<double>(w[p]) / static_cast<double>(s), -127, 127);
    q[p] = static_cast<int8_t>(v);
  }
}

void q4_column(const float* w, int k, int groups, uint8_t* packed, uint16_t* scale) {
  constexpr int half = kQ4Group / 2;
  uint8_t nib[kQ4Group];
  for (int g = 0; g < groups; ++g) {
    const int p0 = g * kQ4Group, len = std::min(kQ4Group, k - p0);
    float m = 0.0f;
    for (int i = 0; i < len; ++i)
      if (std::fabs(w[p0 + i]) > std::fabs(m)) m = w[p0 + i];  // NaN never wins, as in quant.ts
    const uint16_t bits = f32_to_f16(m / -8.0f);
    const float d = f16_to_f32(bits);
    scale[g] = d == 0.0f ? 0 : bits;
    for (int i = 0; i < kQ4Group; ++i) {
      // quant.ts stores q + 8 into a Uint8Array: a NaN q (w NaN or infinite over an infinite d) stores 0.
      int v = 8;
      if (i < len && d != 0.0f) {
        const double x = static_cast<double>(w[p0 + i]) / static_cast<double>(d);
        v = std::isnan(x) ? 0 : round_clamp(x, -8, 7) + 8;
      }
      nib[i] = static_cast<uint8_t>(v);
    }
    uint8_t* b = packed + static_cast<size_t>(g) * half;
    for (int i = 0; i < half; ++i) b[i] = static_cast<uint8_t>(nib[i] | (nib[i + half] << 4));
  }
}

/**
 * f(column j, its k values contiguous) for every column, on the pool, gathering kn blocks into
 * per-thread buffers allocated here, on the calling thread (so a failed allocation throws to N-API
 * rather than terminating a worker).
 */
template <class F>
void each_column(const float* w, int k, int n, bool kn, ThreadPool& pool, F&& f) {
  const int blocks = static_cast<int>((static_cast<int64_t>(n) + kBlock - 1) / kBlock);
  std::vector<std::vector<float>> bufs(kn ? pool.size() : 0, std::vector<float>(static_cast<size_t>(kBlock) * k));
  pool.for_each(blocks, [&](int b, int thread) {
    const int c0 = b * kBlock, c1 = std::min(n, c0 + kBlock);
    if (!kn) {
      for (int c = c0; c < c1; ++c) f(c, w + static_cast<size_t>(c) * k);
      return;
    }
    std::vector<float>& buf = bufs[thread];
    for (int p = 0; p < k; ++p) {
      const float* row = w + static_cast<size_t>(p) * n;
      for (int c = c0; c < c1; ++c) buf[static_cast<size_t>(c - c0) * k + p] = row[c];
    }
    for (int c = c0; c < c1; ++c) f(c, buf.data() + static_cast<size_t>(c - c0) * k);
  });
}

}  // namespace

void quantize_int8_columns(const float* w, int k, int n, bool kn, int8_t* q, float* scale, ThreadPool& pool) {
  std::memset(q, 0, static_cast<size_t>(n) * k);
  each_column(w, k, n, kn, pool, [&](int c, const float* col) { int8_column(col, k, q + static_cast<size_t>(c) * k, scale + c); });
}

void quantize_q4(const float* w, int k, int n, bool kn, uint8_t* packed, uint16_t* scale, ThreadPool& pool) {
  const int groups = static_cast<int>((static_cast<int64_t>(k) + kQ4Group - 1) / kQ4Group);
  each_column(w, k, n, kn, pool, [&](int c, const float* col) {
    q4_column(col, k, groups, packed + static_cast<size_t>(c) * groups * (kQ4Group / 2), scale + static_cast<size_t>(c) * groups);
  });
}

}  // namespace tinyvllm
