// The N-API surface of the native backend. Typed arrays are passed zero-copy; every size, index and
// type is checked here, before any kernel runs, so bad input becomes a JavaScript error naming the
// op and the argument rather than an out-of-bounds access.
#include <napi.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "bench.h"
#include "context.h"
#include "half.h"
#include "napi_args.h"

namespace tinyvllm {

void register_quant(Napi::Env env, Napi::Object exports);  // native/quant_addon.cc

namespace {

Napi::Value Paths(const Napi::CallbackInfo& info) {
  const auto paths = supported_paths();
  Napi::Array out = Napi::Array::New(info.Env(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) out.Set(static_cast<uint32_t>(i), paths[i]);
  return out;
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  Args a(info, "createNativeBackend");
  const int threads = a.integer(0, "threads", 1);
  if (!info[1].IsString()) a.fail("simd must be a string");
  const std::string path = info[1].As<Napi::String>().Utf8Value();
  const KernelTable* kernels = kernels_for(path);
  if (!kernels) a.fail("SIMD path '" + path + "' is not supported on this CPU or build");
  auto* box = new ContextBox{std::make_unique<Context>(kernels, threads)};
  auto ext = Napi::External<ContextBox>::New(info.Env(), box, [](Napi::Env, ContextBox* b) { delete b; });
  napi_type_tag_object(info.Env(), ext, &kContextTag);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("handle", ext);
  out.Set("simd", kernels->name);
  out.Set("threads", box->ctx->pool().size());
  return out;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Args a(info, "dispose");
  a.external<ContextBox>(0, kContextTag, "context").ctx.reset();  // joins the worker threads
  return info.Env().Undefined();
}

DType dtype_arg(const Args& a, size_t i, const char* name) {
  const int d = a.integer(i, name, 0);
  if (d > 2) a.fail(std::string(name) + " must be 0 (f32), 1 (f16) or 2 (bf16)");
  return static_cast<DType>(d);
}

// prepare(ctx, data, srcDtype, k, n, nkLayout, dtype) -> { handle, bytes }
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  Args a(info, "prepareMatrix");
  Context& ctx = a.context(0);
  const DType src_dtype = dtype_arg(a, 2, "source dtype");
  const int k = a.integer(3, "k", 1);
  const int n = a.integer(4, "n", 1);
  const bool nk = info[5].ToBoolean();
  const DType dtype = dtype_arg(a, 6, "dtype");
  const size_t need = static_cast<size_t>(k) * n;
  size_t len;
  const void* data = src_dtype == DType::F32 ? static_cast<const void*>(a.f32(1, "weights", len))
                                             : a.array<uint16_t>(1, "weights", napi_uint16_array, "Uint16Array of raw f16/bf16 bits", len);
  if (len != need) a.fail("weights hold " + std::to_string(len) + " values, expected " + dims(k, n) + " = " + std::to_string(need));
  PackedMatrixPtr packed;
  try {
    packed = ctx.prepare(PackSource{data, src_dtype, k, n, nk}, dtype);
  } catch (const std::bad_alloc&) {
    a.fail("out of memory packing a " + dims(k, n) + " matrix");
  }
  auto* box = new MatrixBox{std::move(packed)};
  const double bytes = static_cast<double>(box->m->bytes);
  auto ext = Napi::External<MatrixBox>::New(info.Env(), box, [](Napi::Env, MatrixBox* b) { delete b; });
  napi_type_tag_object(info.Env(), ext, &kMatrixTag);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("handle", ext);
  out.Set("bytes", bytes);
  return out;
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Args a(info, "releaseMatrix");
  a.external<MatrixBox>(0, kMatrixTag, "matrix").m.reset();
  return info.Env().Undefined();
}

// matmul(ctx, out, x, t, matrix, bias | null, epilogue)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Args a(info, "matmul");
  Context& ctx = a.context(0);
  const PackedMatrix* w = a.external<MatrixBox>(4, kMatrixTag, "matrix").m.get();
  if (!w) a.fail("the matrix has been released (was its backend disposed?)");
  const KernelTable& kt = ctx.kernels();
  const bool bf16 = w->dtype == DType::BF16;
  if (w->nr != (bf16 ? kt.nr_bf16 : kt.nr) || (bf16 && (w->pairs != kt.bf16_pairs || (!w->pairs && w->bf16_width != kt.width)))) {
    a.fail("the matrix was packed for another SIMD path than '" + std::string(ctx.kernels().name) + "'");
  }
  const int t = a.integer(3, "t", 0);
  GemmArgs g{};
  g.t = t;
  g.w = w;
  g.out = a.f32(1, "out", static_cast<size_t>(t) * w->n, dims(t, w->n));
  g.x = a.f32(2, "x", static_cast<size_t>(t) * w->k, dims(t, w->k));
  if (!a.is_null(5)) {
    size_t len;
    g.bias = a.f32(5, "bias", len);
    if (len != static_cast<size_t>(w->n)) a.fail("bias has " + std::to_string(len) + " values, expected " + std::to_string(w->n));
  }
  const int ep = a.integer(6, "epilogue", 0);
  if (ep > 2) a.fail("epilogue must be 0 (none), 1 (gelu) or 2 (residual)");
  g.ep = static_cast<Epilogue>(ep);
  ctx.matmul(g);
  return info.Env().Undefined();
}

// layerNorm(ctx, out, x, t, n, gamma, beta, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Args a(info, "layerNorm");
  Context& ctx = a.context(0);
  const int t = a.integer(3, "t", 0);
  const int n = a.integer(4, "n", 1);
  const size_t need = static_cast<size_t>(t) * n;
  float* out = a.f32(1, "out", need, dims(t, n));
  const float* x = a.f32(2, "x", need, dims(t, n));
  size_t lg, lb;
  const float* gamma = a.f32(5, "gamma", lg);
  const float* beta = a.f32(6, "beta", lb);
  if (lg != static_cast<size_t>(n) || lb != static_cast<size_t>(n)) a.fail("gamma/beta must have " + std::to_string(n) + " values");
  ctx.layer_norm(out, x, t, n, gamma, beta, static_cast<float>(a.number(7, "eps")));
  return info.Env().Undefined();
}

// rmsNorm(ctx, out, x, t, n, gamma, eps)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Args a(info, "rmsNorm");
  Context& ctx = a.context(0);
  const int t = a.integer(3, "t", 0);
  const int n = a.integer(4, "n", 1);
  const size_t need = static_cast<size_t>(t) * n;
  float* out = a.f32(1, "out", need, dims(t, n));
  const float* x = a.f32(2, "x", need, dims(t, n));
  size_t lg;
  const float* gamma = a.f32(5, "gamma", lg);
  if (lg != static_cast<size_t>(n)) a.fail("gamma must have " + std::to_string(n) + " values, got " + std::to_string(lg));
  ctx.rms_norm(out, x, t, n, gamma, static_cast<float>(a.number(6, "eps")));
  return info.Env().Undefined();
}

// siluMul(ctx, out, x, t, n): x is [t, 2n] (gate | up), out [t, n]
Napi::Value SiluMul(const Napi::CallbackInfo& info) {
  Args a(info, "siluMul");
  Context& ctx = a.context(0);
  const int t = a.integer(3, "t", 0);
  const int n = a.integer(4, "n", 1);
  float* out = a.f32(1, "out", static_cast<size_t>(t) * n, dims(t, n));
  const float* x = a.f32(2, "x", static_cast<size_t>(t) * 2 * n, dims(t, 2 * static_cast<size_t>(n)));
  ctx.silu_mul(out, x, t, n);
  return info.Env().Undefined();
}

// rotary(ctx, qkv, t, nHead, nKvHead, headDim, positions, cos, sin, tablePositions, qNorm|null, kNorm|null, eps)
Napi::Value Rotary(const Napi::CallbackInfo& info) {
  Args a(info, "rotary");
  Context& ctx = a.context(0);
  RotaryArgs r{};
  const int t = a.integer(2, "t", 0);
  r.n_head = a.integer(3, "nHead", 1);
  r.n_kv_head = a.integer(4, "nKvHead", 1);
  r.head_dim = a.integer(5, "headDim", 2);
  if (r.head_dim % 2 != 0) a.fail("headDim must be even, got " + std::to_string(r.head_dim));
  const size_t width = static_cast<size_t>(r.n_head + 2 * r.n_kv_head) * r.head_dim;
  r.qkv = a.f32(1, "qkv", static_cast<size_t>(t) * width, dims(t, width));
  size_t lp;
  r.positions = a.i32(6, "positions", lp);
  if (lp < static_cast<size_t>(t)) a.fail("positions has " + std::to_string(lp) + " entries for " + std::to_string(t) + " rows");
  const int table = a.integer(9, "tablePositions", 1);
  const size_t need = static_cast<size_t>(table) * (r.head_dim / 2);
  r.cos = a.f32(7, "cos", need, dims(table, r.head_dim / 2));
  r.sin = a.f32(8, "sin", need, dims(table, r.head_dim / 2));
  for (int i = 0; i < t; ++i) {
    if (r.positions[i] < 0 || r.positions[i] >= table) {
      a.fail("position " + std::to_string(r.positions[i]) + " at row " + std::to_string(i) + " is outside the table (0.." + std::to_string(table - 1) + ")");
    }
  }
  if (!a.is_null(10)) {
    r.q_norm = a.f32(10, "qNorm", static_cast<size_t>(r.head_dim), std::to_string(r.head_dim));
    r.k_norm = a.f32(11, "kNorm", static_cast<size_t>(r.head_dim), std::to_string(r.head_dim));
  }
  r.eps = static_cast<float>(a.number(12, "eps"));
  ctx.rotary(r, t);
  return info.Env().Undefined();
}

/** An embedding table: a Float32Array for f32, a Uint16Array of raw bits for f16 / bf16. */
const void* table_arg(const Args& a, size_t i, const char* name, DType d, size_t& len) {
  if (d == DType::F32) return a.array<float>(i, name, napi_float32_array, "Float32Array for an f32 table", len);
  return a.array<uint16_t>(i, name, napi_uint16_array, "Uint16Array of half bits for an f16 / bf16 table", len);
}

/** o[j] (+)= row `row` of a `[*, c]` table, widened exactly to f32. */
void gather_row(float* o, const void* table, DType d, size_t row, int c, bool add) {
  const size_t at = row * static_cast<size_t>(c);
  for (int j = 0; j < c; ++j) {
    float v;
    if (d == DType::F32) v = static_cast<const float*>(table)[at + j];
    else if (d == DType::BF16) v = bf16_to_f32(static_cast<const uint16_t*>(table)[at + j]);
    else v = f16_to_f32(static_cast<const uint16_t*>(table)[at + j]);
    o[j] = add ? o[j] + v : v;
  }
}

// embed(out, wte, wteDtype, wpe | null, wpeDtype, tokens, positions, nEmbd)
Napi::Value Embed(const Napi::CallbackInfo& info) {
  Args a(info, "embed");
  const int c = a.integer(7, "nEmbd", 1);
  const DType dte = dtype_arg(a, 2, "wteDtype");
  const DType dpe = dtype_arg(a, 4, "wpeDtype");
  size_t lte, lpe = 0, rows, lpos;
  const void* wte = table_arg(a, 1, "wte", dte, lte);
  const void* wpe = a.is_null(3) ? nullptr : table_arg(a, 3, "wpe", dpe, lpe);
  const int32_t* tokens = a.i32(5, "tokens", rows);
  const int32_t* positions = a.i32(6, "positions", lpos);
  if (lpos < rows) a.fail("positions has " + std::to_string(lpos) + " entries for " + std::to_string(rows) + " tokens");
  float* out = a.f32(0, "out", rows * c, dims(rows, c));
  const size_t vocab = lte / c, max_pos = lpe / c;
  for (size_t i = 0; i < rows; ++i) {
    const int32_t tok = tokens[i], pos = positions[i];
    if (tok < 0 || static_cast<size_t>(tok) >= vocab) {
      a.fail("token id " + std::to_string(tok) + " at row " + std::to_string(i) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
    }
    if (wpe && (pos < 0 || static_cast<size_t>(pos) >= max_pos)) {
      a.fail("position " + std::to_string(pos) + " at row " + std::to_string(i) + " is outside 0.." + std::to_string(max_pos - 1));
    }
  }
  for (size_t i = 0; i < rows; ++i) {
    float* o = out + i * c;
    gather_row(o, wte, dte, static_cast<size_t>(tokens[i]), c, false);
    if (wpe) gather_row(o, wpe, dpe, static_cast<size_t>(positions[i]), c, true);
  }
  return info.Env().Undefined();
}

/** Rows of f32 values stored as E: copied, or rounded to nearest even (half.h). */
template <class E, E (*round)(float)>
void store_rows(E* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = round(src[i]);
}
inline float keep_f32(float x) { return x; }

/** Row r's K and V (`c` values each, after its `q` Q values in a `row`-wide qkv row) into cache slot slots[r]. */
template <class E, E (*round)(float)>
void write_kv_rows(void* k, void* v, const float* qkv, int t, size_t row, size_t q, size_t c, const int32_t* slots) {
  for (int r = 0; r < t; ++r) {
    const float* src = qkv + static_cast<size_t>(r) * row + q;
    const size_t at = static_cast<size_t>(slots[r]) * c;
    store_rows<E, round>(static_cast<E*>(k) + at, src, c);
    store_rows<E, round>(static_cast<E*>(v) + at, src + c, c);
  }
}

/** nKvHead at argument i (absent: nHead), which must divide nHead. */
int kv_heads_arg(const Args& a, const Napi::CallbackInfo& info, size_t i, int n_head) {
  if (info.Length() <= i || a.is_null(i)) return n_head;
  const int n = a.integer(i, "nKvHead", 1);
  if (n_head % n != 0) a.fail("nKvHead (" + std::to_string(n) + ") must divide nHead (" + std::to_string(n_head) + ")");
  return n;
}

// writeKV(kCache, vCache, kvDtype, qkv, t, nHead, headDim, slotMapping, nKvHead?)
Napi::Value WriteKV(const Napi::CallbackInfo& info) {
  Args a(info, "writeKV");
  const DType dtype = dtype_arg(a, 2, "kvDtype");
  const int t = a.integer(4, "t", 0);
  const int n_head = a.integer(5, "nHead", 1), hd = a.integer(6, "headDim", 1);
  const size_t q = static_cast<size_t>(n_head) * hd;
  const size_t c = static_cast<size_t>(kv_heads_arg(a, info, 8, n_head)) * hd;
  const size_t row = q + 2 * c;
  size_t lk, lv, lslots;
  void* kc = a.kv_pool(0, "cache.k", dtype, lk);
  void* vc = a.kv_pool(1, "cache.v", dtype, lv);
  if (lk != lv) a.fail("cache.k and cache.v differ in size");
  const float* qkv = a.f32(3, "qkv", static_cast<size_t>(t) * row, dims(t, row));
  const int32_t* slots = a.i32(7, "slotMapping", lslots);
  if (lslots < static_cast<size_t>(t)) a.fail("slotMapping has " + std::to_string(lslots) + " entries for " + std::to_string(t) + " rows");
  const size_t num_slots = lk / c;
  for (int r = 0; r < t; ++r) {
    if (slots[r] < 0 || static_cast<size_t>(slots[r]) >= num_slots) {
      a.fail("row " + std::to_string(r) + " maps to slot " + std::to_string(slots[r]) + ", cache has " + std::to_string(num_slots) + " slots");
    }
  }
  if (dtype == DType::BF16) write_kv_rows<uint16_t, f32_to_bf16>(kc, vc, qkv, t, row, q, c, slots);
  else if (dtype == DType::F16) write_kv_rows<uint16_t, f32_to_f16>(kc, vc, qkv, t, row, q, c, slots);
  else write_kv_rows<float, keep_f32>(kc, vc, qkv, t, row, q, c, slots);
  return info.Env().Undefined();
}

// attention(ctx, out, qkv, kCache, vCache, kvDtype, numSeqs, queryStart, seqLens, blockTables, maxBlocksPerSeq, blockSize, nHead, headDim, scale, nKvHead?)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Args a(info, "attention");
  Context& ctx = a.context(0);
  AttentionArgs p{};
  p.kv_dtype = dtype_arg(a, 5, "kvDtype");
  const int num_seqs = a.integer(6, "numSeqs", 0);
  p.max_blocks_per_seq = a.integer(10, "maxBlocksPerSeq", 0);
  p.block_size = a.integer(11, "blockSize", 1);
  p.n_head = a.integer(12, "nHead", 1);
  p.head_dim = a.integer(13, "headDim", 1);
  p.scale = static_cast<float>(a.number(14, "scale"));
  p.n_kv_head = kv_heads_arg(a, info, 15, p.n_head);
  const size_t c = static_cast<size_t>(p.n_kv_head) * p.head_dim;  // cache slot width
  const size_t oc = static_cast<size_t>(p.n_head) * p.head_dim, qw = oc + 2 * c;
  size_t lk, lv, lqs, lsl, lbt, lqkv, lout;
  p.qkv = a.f32(2, "qkv", lqkv);
  p.out = a.f32(1, "out", lout);
  p.k_cache = a.kv_pool(3, "cache.k", p.kv_dtype, lk);
  p.v_cache = a.kv_pool(4, "cache.v", p.kv_dtype, lv);
  p.query_start = a.i32(7, "queryStart", lqs);
  p.seq_lens = a.i32(8, "seqLens", lsl);
  p.block_tables = a.i32(9, "blockTables", lbt);
  if (lk != lv) a.fail("cache.k and cache.v differ in size");
  if (lk % (c * p.block_size) != 0) a.fail("cache size is not a whole number of blocks of " + std::to_string(p.block_size) + " tokens");
  const size_t num_blocks = lk / (c * p.block_size);
  if (lqs < static_cast<size_t>(num_seqs) + 1) a.fail("queryStart needs " + std::to_string(num_seqs + 1) + " entries");
  if (lsl < static_cast<size_t>(num_seqs)) a.fail("seqLens needs " + std::to_string(num_seqs) + " entries");
  if (lbt < static_cast<size_t>(num_seqs) * p.max_blocks_per_seq) a.fail("blockTables needs numSeqs * maxBlocksPerSeq entries");
  if (num_seqs > 0 && p.query_start[0] < 0) a.fail("queryStart[0] is negative");
  for (int s = 0; s < num_seqs; ++s) {
    const int q_len = p.query_start[s + 1] - p.query_start[s];
    const int kv_len = p.seq_lens[s];
    if (q_len < 0 || kv_len < q_len) a.fail("sequence " + std::to_string(s) + " has " + std::to_string(q_len) + " query rows but KV length " + std::to_string(kv_len));
    if (static_cast<int64_t>(kv_len) > static_cast<int64_t>(p.max_blocks_per_seq) * p.block_size) {
      a.fail("sequence " + std::to_string(s) + " KV length " + std::to_string(kv_len) + " exceeds its block table");
    }
    for (int b = 0; static_cast<int64_t>(b) * p.block_size < kv_len; ++b) {
      const int32_t block = p.block_tables[static_cast<size_t>(s) * p.max_blocks_per_seq + b];
      if (block < 0 || static_cast<size_t>(block) >= num_blocks) {
        a.fail("sequence " + std::to_string(s) + " block " + std::to_string(b) + " is " + std::to_string(block) + ", cache has " + std::to_string(num_blocks) + " blocks");
      }
    }
  }
  const size_t rows = num_seqs > 0 ? static_cast<size_t>(p.query_start[num_seqs]) : 0;
  if (lqkv < rows * qw) a.fail("qkv holds " + std::to_string(lqkv) + " values, needs " + dims(rows, qw));
  if (lout < rows * oc) a.fail("out holds " + std::to_string(lout) + " values, needs " + dims(rows, oc));
  ctx.attention(p, num_seqs);
  return info.Env().Undefined();
}

// prefault(typedArray): backs a freshly allocated buffer with memory now, so that its first writes
// cost no page faults (the KV cache pools: ~3 us per 4 KiB fault otherwise, in the middle of a
// step). The 2 MiB-aligned interior is offered to transparent huge pages first. Values are kept:
// each page is touched by an atomic `or` of 0, one write access per page.
Napi::Value Prefault(const Napi::CallbackInfo& info) {
  Args a(info, "prefault");
  if (!info[0].IsTypedArray()) a.fail("buffer must be a typed array");
  const auto arr = info[0].As<Napi::TypedArray>();
  char* p = static_cast<char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  const size_t bytes = arr.ByteLength();
  if (bytes == 0) return info.Env().Undefined();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advisory: failure is harmless
#endif
#if defined(__linux__)
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
#else
  const size_t page = 4096;
#endif
  for (size_t i = 0; i < bytes; i += page) __atomic_fetch_or(p + i, static_cast<char>(0), __ATOMIC_RELAXED);
  __atomic_fetch_or(p + bytes - 1, static_cast<char>(0), __ATOMIC_RELAXED);
  return info.Env().Undefined();
}

// softmax(ctx, x, rows, n)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax");
  Context& ctx = a.context(0);
  const int rows = a.integer(2, "rows", 0);
  const int n = a.integer(3, "n", 1);
  float* x = a.f32(1, "x", static_cast<size_t>(rows) * n, dims(rows, n));
  ctx.softmax(x, rows, n);
  return info.Env().Undefined();
}

// argmax(x, n): the lowest index of the largest value. Exact on every SIMD path, so it takes no
// context and runs on the best path this CPU has.
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Args a(info, "argmax");
  const int n = a.integer(1, "n", 1);
  const float* x = a.f32(0, "x", static_cast<size_t>(n), std::to_string(n));
  static const KernelTable* kernels = kernels_for(supported_paths().front());
  return Napi::Number::New(info.Env(), kernels->argmax(x, n));
}

// sample(ctx, out, x, rows, n, temperature, topK, topP, minP, u): one token per row, rows in parallel.
Napi::Value Sample(const Napi::CallbackInfo& info) {
  Args a(info, "sample");
  Context& ctx = a.context(0);
  const int rows = a.integer(3, "rows", 0);
  const int n = a.integer(4, "n", 1);
  const std::string per_row = std::to_string(rows);
  int32_t* out = a.array<int32_t>(1, "out", napi_int32_array, "Int32Array", rows, per_row);
  float* x = a.f32(2, "x", static_cast<size_t>(rows) * n, dims(rows, n));
  const auto f64 = [&](size_t i, const char* name) { return a.array<double>(i, name, napi_float64_array, "Float64Array", rows, per_row); };
  const double* temperature = f64(5, "temperature");
  const int32_t* top_k = a.array<int32_t>(6, "topK", napi_int32_array, "Int32Array", rows, per_row);
  const double* top_p = f64(7, "topP");
  const double* min_p = f64(8, "minP");
  const double* u = f64(9, "u");
  for (int r = 0; r < rows; ++r) {
    const std::string row = "row " + std::to_string(r) + ": ";
    if (!(temperature[r] > 0 && std::isfinite(temperature[r]))) a.fail(row + "temperature must be a finite number > 0, got " + std::to_string(temperature[r]));
    if (top_k[r] < 0) a.fail(row + "topK must be >= 0, got " + std::to_string(top_k[r]));
    if (!(top_p[r] > 0 && top_p[r] <= 1)) a.fail(row + "topP must be in (0, 1], got " + std::to_string(top_p[r]));
    if (!(min_p[r] >= 0 && min_p[r] <= 1)) a.fail(row + "minP must be in [0, 1], got " + std::to_string(min_p[r]));
    if (!(u[r] >= 0 && u[r] < 1)) a.fail(row + "u must be in [0, 1), got " + std::to_string(u[r]));
  }
  const auto fn = ctx.kernels().sample;
  const auto one = [&](int r, int) {
    static thread_local SampleScratch scratch;  // each pool thread keeps its own
    out[r] = fn(SampleRow{x + static_cast<size_t>(r) * n, n, temperature[r], top_k[r], top_p[r], min_p[r], u[r]}, scratch);
  };
  if (rows == 1) one(0, 0);
  else ctx.pool().for_each(rows, one);
  return info.Env().Undefined();
}

Napi::Value ToArray(Napi::Env env, const std::vector<double>& v) {
  Napi::Array out = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) out.Set(static_cast<uint32_t>(i), v[i]);
  return out;
}

// benchFma(ctx, allThreads, secondsPerRep, reps) -> GFLOP/s per repetition
Napi::Value BenchFma(const Napi::CallbackInfo& info) {
  Args a(info, "benchFma");
  Context& ctx = a.context(0);
  const int threads = info[1].ToBoolean() ? ctx.pool().size() : 1;
  return ToArray(info.Env(), bench_fma(ctx, threads, a.number(2, "secondsPerRep"), a.integer(3, "reps", 1)));
}

// benchMemory(ctx, 'read' | 'copy', bytes, reps) -> GB/s per repetition
Napi::Value BenchMemory(const Napi::CallbackInfo& info) {
  Args a(info, "benchMemory");
  Context& ctx = a.context(0);
  const std::string mode = info[1].ToString().Utf8Value();
  const size_t bytes = static_cast<size_t>(a.number(2, "bytes"));
  const int reps = a.integer(3, "reps", 1);
  if (mode == "read") return ToArray(info.Env(), bench_read(ctx, bytes, reps));
  if (mode == "copy") return ToArray(info.Env(), bench_copy(ctx, bytes, reps));
  a.fail("mode must be 'read' or 'copy'");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("paths", Napi::Function::New(env, Paths));
  exports.Set("create", Napi::Function::New(env, Create));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("prepare", Napi::Function::New(env, Prepare));
  exports.Set("release", Napi::Function::New(env, Release));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  exports.Set("siluMul", Napi::Function::New(env, SiluMul));
  exports.Set("rotary", Napi::Function::New(env, Rotary));
  exports.Set("embed", Napi::Function::New(env, Embed));
  exports.Set("writeKV", Napi::Function::New(env, WriteKV));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("prefault", Napi::Function::New(env, Prefault));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("argmax", Napi::Function::New(env, Argmax));
  exports.Set("sample", Napi::Function::New(env, Sample));
  exports.Set("benchFma", Napi::Function::New(env, BenchFma));
  exports.Set("benchMemory", Napi::Function::New(env, BenchMemory));
  register_quant(env, exports);
  return exports;
}

}  // namespace
}  // namespace tinyvllm

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tinyvllm::Init(env, exports); }

/** Registered by native/module.cc. */
napi_value tinyvllm_init(napi_env env, napi_value exports) { return Napi::RegisterModule(env, exports, InitModule); }
