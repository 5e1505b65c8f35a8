// Quantized matrices: packing quant.ts's integers into panels, the W8A8 activation rule, and the
// thread split of a quantized matmul. Built with the baseline flags; the kernels are per ISA.
#include "quant.h"

#include <algorithm>
#include <cstring>

#include "pack.h"

namespace tinyvllm {

namespace {

#if defined(TV_X86)
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
bool has_avx512_vnni() { return has_avx512() && __builtin_cpu_supports("avx512vnni"); }
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }
bool has_avx_vnni() { return has_avx2() && __builtin_cpu_supports("avxvnni"); }
#endif

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Below this many flops a matmul runs on the calling thread (as Context::matmul does).
constexpr double kParallelFlops = 1.5e5;
// Rows per task of a long batch: a multiple of every micro-kernel's row count (3 and 4).
constexpr int kRowsPerTask = 96;
// Decode (1-2 rows) reads up to 4 panels side by side (gemv_panels in impl/quant_gemm.inc): tasks
// take whole runs of them, so none ends on a short run.
constexpr int kGemvRun = 4;

void pack_int8_panel(const QuantSource& s, const QuantMatrix& m, int p) {
  uint8_t* dst = const_cast<uint8_t*>(m.panel(p));
  const auto* q = static_cast<const int8_t*>(s.q);
  const int c0 = p * m.nr, nc = std::min(m.nr, s.n - c0);
  for (int c = 0; c < nc; ++c) {
    const int8_t* col = q + static_cast<size_t>(c0 + c) * s.k;
    for (int kk = 0; kk < s.k; ++kk) {
      const size_t i = m.scheme == QuantScheme::Int8 ? (static_cast<size_t>(kk / 4) * m.nr + c) * 4 + (kk & 3) : static_cast<size_t>(kk) * m.nr + c;
      dst[i] = static_cast<uint8_t>(col[kk]);
    }
  }
}

void pack_q4_panel(const QuantSource& s, const QuantMatrix& m, int p) {
  uint8_t* dst = const_cast<uint8_t*>(m.panel(p));
  const auto* src = static_cast<const uint8_t*>(s.q);
  const auto* scale = static_cast<const uint16_t*>(s.scale);
  const int groups = m.kpad / kQ4Group, half = kQ4Group / 2;
  const int c0 = p * m.nr, nc = std::min(m.nr, s.n - c0);
  for (int g = 0; g < groups; ++g) {
    uint8_t* base = dst + static_cast<size_t>(g) * (2 + half) * m.nr;
    for (int c = 0; c < nc; ++c) {
      const size_t gi = static_cast<size_t>(c0 + c) * groups + g;
      std::memcpy(base + static_cast<size_t>(half) * m.nr + 2 * c, scale + gi, 2);
      const uint8_t* b = src + gi * half;
      // quant.ts: byte i holds value i (low nibble) and i + 16 (high); see QuantMatrix for ours.
      const auto nib = [&](int i) { return i < half ? b[i] & 15 : b[i - half] >> 4; };
      for (int j = 0; j < kQ4Group / 8; ++j)
        for (int bb = 0; bb < 4; ++bb) base[(static_cast<size_t>(j) * m.nr + c) * 4 + bb] = static_cast<uint8_t>(nib(8 * j + bb) | (nib(8 * j + 4 + bb) << 4));
    }
  }
}

}  // namespace

QuantMatrix::~QuantMatrix() { weights_free(data); }

std::vector<std::string> quant_paths() {
  std::vector<std::string> paths;
#if defined(TV_X86)
  __builtin_cpu_init();
  if (has_avx512_vnni()) paths.emplace_back("avx512-vnni");
  if (has_avx512()) paths.emplace_back("avx512");
  if (has_avx_vnni()) paths.emplace_back("avx-vnni");
  if (has_avx2()) paths.emplace_back("avx2");
#endif
  paths.emplace_back("scalar");
  return paths;
}

const QuantKernelTable* quant_kernels_for(const std::string& name) {
  const auto paths = quant_paths();
  if (std::find(paths.begin(), paths.end(), name) == paths.end()) return nullptr;
#if defined(TV_X86)
  if (name == "avx512-vnni") return quant_kernels_avx512_vnni();
  if (name == "avx512") return quant_kernels_avx512();
  if (name == "avx-vnni") return quant_kernels_avx_vnni();
  if (name == "avx2") return quant_kernels_avx2();
#endif
  return quant_kernels_scalar();
}

const QuantKernelTable* quant_kernels_default(const std::string& simd) {
  // The path's VNNI variant where the CPU has it, else the path's own.
  const auto vnni_or = [](const char* vnni, const char* plain) {
    const QuantKernelTable* t = quant_kernels_for(vnni);
    return t ? t : quant_kernels_for(plain);
  };
  if (simd == "avx512" || simd == "avx512-bf16") return vnni_or("avx512-vnni", "avx512");
  if (simd == "avx2") return vnni_or("avx-vnni", "avx2");
  return quant_kernels_scalar();
}

QuantMatrixPtr pack_quant(const QuantSource& s, const QuantKernelTable& kernels, ThreadPool& pool) {
  QuantMatrixPtr m(new QuantMatrix());
  m->scheme = s.scheme;
  m->k = s.k;
  m->n = s.n;
  m->kernels = &kernels;
  m->nr = s.scheme == QuantScheme::Int8 ? kernels.nr_int8 : s.scheme == QuantScheme::Int8Wo ? kernels.nr_wo : kernels.nr_q4;
  m->panels = ceil_div(s.n, m->nr);
  const size_t cols = static_cast<size_t>(m->panels) * m->nr;
  if (s.scheme == QuantScheme::Q4) {
    m->kpad = ceil_div(s.k, kQ4Group) * kQ4Group;
    m->panel_bytes = static_cast<size_t>(m->kpad / kQ4Group) * (2 + kQ4Group / 2) * m->nr;
  } else {
    m->kpad = s.scheme == QuantScheme::Int8 ? ceil_div(s.k, 4) * 4 : s.k;
    m->panel_bytes = static_cast<size_t>(m->kpad) * m->nr;
    m->scale.assign(cols, 0.0f);
    std::memcpy(m->scale.data(), s.scale, static_cast<size_t>(s.n) * sizeof(float));
  }
  if (s.scheme == QuantScheme::Int8) {
    m->corr.assign(cols, 0);
    const auto* q = static_cast<const int8_t*>(s.q);
    for (int j = 0; j < s.n; ++j) {
      int32_t sum = 0;
      for (int kk = 0; kk < s.k; ++kk) sum += q[static_cast<size_t>(j) * s.k + kk];
      m->corr[j] = 128 * sum;
    }
  }
  const size_t total = m->panel_bytes * m->panels;
  m->data = static_cast<uint8_t*>(weights_alloc(total));
  // Padding: int8 zeros; q4 nibble 8 (value 0) with scale 0.
  std::memset(m->data, s.scheme == QuantScheme::Q4 ? 0x88 : 0, total);
  if (s.scheme == QuantScheme::Q4) {
    for (int p = 0; p < m->panels; ++p)
      for (int g = 0; g < m->kpad / kQ4Group; ++g) std::memset(m->data + p * m->panel_bytes + (static_cast<size_t>(g) * (2 + kQ4Group / 2) + kQ4Group / 2) * m->nr, 0, 2 * m->nr);
  }
  m->bytes = total + m->scale.size() * sizeof(float) + m->corr.size() * sizeof(int32_t);
  const QuantMatrix& mr = *m;
  pool.for_each(m->panels, [&](int p, int) {
    if (s.scheme == QuantScheme::Q4) pack_q4_panel(s, mr, p);
    else pack_int8_panel(s, mr, p);
  });
  return m;
}

void quant_matmul(const QuantGemmArgs& g0, ThreadPool& pool) {
  if (g0.t <= 0) return;
  QuantGemmArgs g = g0;
  const QuantMatrix& w = *g.w;
  const int t = g.t;
  // Grow-only activation workspace of the calling (JavaScript) thread.
  thread_local std::vector<int8_t> xq;
  thread_local std::vector<uint8_t> xa;
  thread_local std::vector<float> xs;
  thread_local std::vector<int32_t> xsum;
  const bool parallel = pool.size() > 1 && 2.0 * t * w.k * w.n >= kParallelFlops;
  if (w.scheme != QuantScheme::Int8Wo) {
    const bool q4 = w.scheme == QuantScheme::Q4;
    const size_t per_row = q4 ? w.kpad / kQ4Group : 1;
    if (xq.size() < static_cast<size_t>(t) * w.kpad) xq.resize(static_cast<size_t>(t) * w.kpad);
    if (!q4 && xa.size() < static_cast<size_t>(t) * w.kpad) xa.resize(static_cast<size_t>(t) * w.kpad);
    if (xs.size() < t * per_row) xs.resize(t * per_row);
    if (q4 && xsum.size() < t * per_row) xsum.resize(t * per_row);
    int8_t* q = xq.data();
    float* s = xs.data();
    int32_t* sum = xsum.data();
    uint8_t* a = q4 ? nullptr : xa.data();
    const auto rows = [&](int r0, int r1) { w.kernels->quantize(g.x, r0, r1, w.k, w.kpad, w.scheme, q, a, s, sum); };
    if (parallel && t > 1) {
      const int per = ceil_div(t, std::min(t, pool.size() * 4));
      pool.for_each(ceil_div(t, per), [&](int task, int) { rows(task * per, std::min(t, (task + 1) * per)); });
    } else {
      rows(0, t);
    }
    g.xq = q;
    g.xa = a;
    g.xs = s;
    g.xsum = q4 ? sum : nullptr;
  }
  const auto gemm = w.kernels->gemm;
  if (!parallel || (w.panels == 1 && t <= kRowsPerTask)) return gemm(g, 0, t, 0, w.panels);
  // Row blocks x panel chunks; every output belongs to one task, so splits never change results.
  const int row_tasks = ceil_div(t, kRowsPerTask);
  int per = ceil_div(w.panels, std::min(w.panels, std::max(1, pool.size() * 4 / row_tasks)));
  if (t <= 2) per = ceil_div(per, kGemvRun) * kGemvRun;
  const int chunks = ceil_div(w.panels, per);
  pool.for_each(row_tasks * chunks, [&](int task, int) {
    const int r0 = task / chunks * kRowsPerTask, p0 = task % chunks * per;
    gemm(g, r0, std::min(t, r0 + kRowsPerTask), p0, std::min(w.panels, p0 + per));
  });
}

}  // namespace tinyvllm
