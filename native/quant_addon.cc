// The N-API surface of quantized matrices (native/quant.h), registered by addon.cc's Init.
#include <napi.h>

#include <chrono>
#include <new>
#include <string>

#include "napi_args.h"
#include "quant.h"

namespace tinyvllm {
namespace {

constexpr napi_type_tag kQuantTag = {0x7469'6e79'766c'6c6dULL, 0x7175'616e'746d'0003ULL};

struct QuantBox {
  QuantMatrixPtr m;
};

Napi::Value QuantPaths(const Napi::CallbackInfo& info) {
  const auto paths = quant_paths();
  Napi::Array out = Napi::Array::New(info.Env(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) out.Set(static_cast<uint32_t>(i), paths[i]);
  return out;
}

// prepareQuant(ctx, scheme, k, n, q, scale, path) -> { handle, bytes, path }
// int8 / int8-wo: q Int8Array [n * k], scale Float32Array [n]; q4: q Uint8Array [n * groups * 16],
// scale Uint16Array [n * groups] of f16 bits. path '' picks the context's default variant.
Napi::Value PrepareQuant(const Napi::CallbackInfo& info) {
  Args a(info, "prepareMatrix");
  Context& ctx = a.context(0);
  const int scheme = a.integer(1, "scheme", 0);
  if (scheme > 2) a.fail("scheme must be 0 (int8), 1 (int8-wo) or 2 (q4)");
  const int k = a.integer(2, "k", 1);
  const int n = a.integer(3, "n", 1);
  if (!info[6].IsString()) a.fail("path must be a string");
  const std::string path = info[6].As<Napi::String>().Utf8Value();
  const QuantKernelTable* kernels = path.empty() ? quant_kernels_default(ctx.kernels().name) : quant_kernels_for(path);
  if (!kernels) a.fail("quantized kernels '" + path + "' are not supported on this CPU or build");
  // int8 sums stay exact in int32 while 255 * 127 * k < 2^31 (the VNNI path's shifted activations).
  if (scheme == 0 && k > 66000) a.fail("int8 needs k <= 66000 (exact int32 sums), got " + std::to_string(k));
  QuantSource src{static_cast<QuantScheme>(scheme), k, n, nullptr, nullptr};
  size_t qlen, slen;
  if (src.scheme == QuantScheme::Q4) {
    const size_t groups = (static_cast<size_t>(k) + kQ4Group - 1) / kQ4Group;
    src.q = a.array<uint8_t>(4, "q", napi_uint8_array, "Uint8Array", qlen);
    src.scale = a.array<uint16_t>(5, "scale", napi_uint16_array, "Uint16Array of f16 bits", slen);
    if (qlen != n * groups * (kQ4Group / 2) || slen != n * groups) a.fail("q4 arrays do not match " + dims(k, n));
  } else {
    src.q = a.array<int8_t>(4, "q", napi_int8_array, "Int8Array", qlen);
    src.scale = a.f32(5, "scale", slen);
    if (qlen != static_cast<size_t>(k) * n || slen != static_cast<size_t>(n)) a.fail("int8 arrays do not match " + dims(k, n));
  }
  QuantMatrixPtr packed;
  try {
    packed = pack_quant(src, *kernels, ctx.pool());
  } catch (const std::bad_alloc&) {
    a.fail("out of memory packing a " + dims(k, n) + " matrix");
  }
  auto* box = new QuantBox{std::move(packed)};
  const double bytes = static_cast<double>(box->m->bytes);
  auto ext = Napi::External<QuantBox>::New(info.Env(), box, [](Napi::Env, QuantBox* b) { delete b; });
  napi_type_tag_object(info.Env(), ext, &kQuantTag);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("handle", ext);
  out.Set("bytes", bytes);
  out.Set("path", kernels->name);
  return out;
}

// quantizeWeights(ctx, q4, k, n, w, kn) -> { q, scale }: quant.ts's quantizeInt8Columns (q4 false:
// Int8Array, Float32Array) or quantizeQ4 (Uint8Array, Uint16Array of f16 bits) of the f32 matrix w,
// [k, n] when kn is true, else [n, k].
Napi::Value QuantizeWeights(const Napi::CallbackInfo& info) {
  Args a(info, "prepareMatrix");
  Context& ctx = a.context(0);
  if (!info[1].IsBoolean() || !info[5].IsBoolean()) a.fail("q4 and kn must be booleans");
  const bool q4 = info[1].As<Napi::Boolean>().Value();
  const int k = a.integer(2, "k", 1);
  const int n = a.integer(3, "n", 1);
  const float* w = a.f32(4, "w", static_cast<size_t>(k) * n, dims(k, n));
  const bool kn = info[5].As<Napi::Boolean>().Value();
  // Checked before the work, as prepareQuant would after it (int8 sums stay exact in int32).
  if (!q4 && k > 66000) a.fail("int8 needs k <= 66000 (exact int32 sums), got " + std::to_string(k));
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  try {
    if (q4) {
      const size_t groups = (static_cast<size_t>(k) + kQ4Group - 1) / kQ4Group;
      auto q = Napi::Uint8Array::New(env, n * groups * (kQ4Group / 2));
      auto scale = Napi::Uint16Array::New(env, n * groups);
      quantize_q4(w, k, n, kn, q.Data(), scale.Data(), ctx.pool());
      out.Set("q", q);
      out.Set("scale", scale);
    } else {
      auto q = Napi::Int8Array::New(env, static_cast<size_t>(k) * n);
      auto scale = Napi::Float32Array::New(env, n);
      quantize_int8_columns(w, k, n, kn, q.Data(), scale.Data(), ctx.pool());
      out.Set("q", q);
      out.Set("scale", scale);
    }
  } catch (const std::bad_alloc&) {
    a.fail("out of memory quantizing a " + dims(k, n) + " matrix");
  }
  return out;
}

Napi::Value ReleaseQuant(const Napi::CallbackInfo& info) {
  Args a(info, "releaseMatrix");
  a.external<QuantBox>(0, kQuantTag, "matrix").m.reset();
  return info.Env().Undefined();
}

// matmulQuant(ctx, out, x, t, matrix, bias | null, epilogue)
Napi::Value MatmulQuant(const Napi::CallbackInfo& info) {
  Args a(info, "matmul");
  Context& ctx = a.context(0);
  const QuantMatrix* w = a.external<QuantBox>(4, kQuantTag, "matrix").m.get();
  if (!w) a.fail("the matrix has been released (was its backend disposed?)");
  const int t = a.integer(3, "t", 0);
  QuantGemmArgs g{};
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
  quant_matmul(g, ctx.pool());
  return info.Env().Undefined();
}

// benchInt8(ctx, path, allThreads, seconds) -> int8 multiply-adds per second (G) of the variant's dot product
Napi::Value BenchInt8(const Napi::CallbackInfo& info) {
  using Clock = std::chrono::steady_clock;
  Args a(info, "benchInt8");
  Context& ctx = a.context(0);
  if (!info[1].IsString()) a.fail("path must be a string");
  const std::string path = info[1].As<Napi::String>().Utf8Value();
  const QuantKernelTable* kernels = path.empty() ? quant_kernels_default(ctx.kernels().name) : quant_kernels_for(path);
  if (!kernels) a.fail("quantized kernels '" + path + "' are not supported on this CPU or build");
  const bool all = info[2].ToBoolean();
  const double seconds = a.number(3, "seconds");
  const auto peak = kernels->int8_peak;
  int64_t iters = 1 << 12;
  for (;;) {  // calibrate on one thread
    const auto t0 = Clock::now();
    peak(iters);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.02) {
      iters = static_cast<int64_t>(iters * seconds / s) + 1;
      break;
    }
    iters *= 4;
  }
  const int threads = all ? ctx.pool().size() : 1;
  std::vector<double> ops(ctx.pool().size(), 0.0);
  const auto t0 = Clock::now();
  if (all) ctx.pool().on_every_thread([&](int i) { ops[i] = peak(iters); });
  else ops[0] = peak(iters);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double total = 0;
  for (int i = 0; i < threads; ++i) total += ops[i];
  return Napi::Number::New(info.Env(), total / s / 1e9);
}

}  // namespace

void register_quant(Napi::Env env, Napi::Object exports) {
  exports.Set("quantPaths", Napi::Function::New(env, QuantPaths));
  exports.Set("prepareQuant", Napi::Function::New(env, PrepareQuant));
  exports.Set("quantizeWeights", Napi::Function::New(env, QuantizeWeights));
  exports.Set("releaseQuant", Napi::Function::New(env, ReleaseQuant));
  exports.Set("matmulQuant", Napi::Function::New(env, MatmulQuant));
  exports.Set("benchInt8", Napi::Function::New(env, BenchInt8));
}

}  // namespace tinyvllm
