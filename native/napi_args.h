// Argument checking for the N-API layer: typed arrays (zero-copy), integers and the native
// handles, each failure a JavaScript error that names the op and the argument.
#pragma once
#include <napi.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "context.h"

namespace tinyvllm {
namespace {

// Type tags: an external handed back from JavaScript is checked to be what we think it is.
constexpr napi_type_tag kContextTag = {0x7469'6e79'766c'6c6dULL, 0x636f'6e74'6578'7401ULL};
constexpr napi_type_tag kMatrixTag = {0x7469'6e79'766c'6c6dULL, 0x6d61'7472'6978'0002ULL};

struct ContextBox {
  std::unique_ptr<Context> ctx;
};
struct MatrixBox {
  PackedMatrixPtr m;
};

/** Argument access for one op, with errors that name the op and the argument. */
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  Napi::Env env() const { return info_.Env(); }

  [[noreturn]] void fail(const std::string& msg) const { throw Napi::Error::New(env(), std::string(op_) + ": " + msg); }

  template <class T>
  T* array(size_t i, const char* name, napi_typedarray_type type, const char* type_name, size_t& len) const {
    const Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) fail(std::string(name) + " must be a " + type_name);
    auto arr = v.As<Napi::TypedArrayOf<T>>();
    len = arr.ElementLength();
    return arr.Data();
  }

  /** A typed array holding at least `need` elements. */
  template <class T>
  T* array(size_t i, const char* name, napi_typedarray_type type, const char* type_name, size_t need, const std::string& what) const {
    size_t len;
    T* p = array<T>(i, name, type, type_name, len);
    if (len < need) fail(std::string(name) + " holds " + std::to_string(len) + " values, needs " + what + " = " + std::to_string(need));
    return p;
  }

  float* f32(size_t i, const char* name, size_t need, const std::string& what) const {
    return array<float>(i, name, napi_float32_array, "Float32Array", need, what);
  }
  float* f32(size_t i, const char* name, size_t& len) const { return array<float>(i, name, napi_float32_array, "Float32Array", len); }
  int32_t* i32(size_t i, const char* name, size_t& len) const { return array<int32_t>(i, name, napi_int32_array, "Int32Array", len); }

  /** A KV cache pool of `dtype`: a Float32Array for f32, a Uint16Array of raw bits for bf16 / f16. */
  void* kv_pool(size_t i, const char* name, DType dtype, size_t& len) const {
    if (dtype == DType::F32) return array<float>(i, name, napi_float32_array, "Float32Array for an f32 KV cache", len);
    const char* what = dtype == DType::BF16 ? "Uint16Array of bf16 bits for a bf16 KV cache" : "Uint16Array of f16 bits for an f16 KV cache";
    return array<uint16_t>(i, name, napi_uint16_array, what, len);
  }

  bool is_null(size_t i) const { return info_[i].IsNull() || info_[i].IsUndefined(); }

  double number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) fail(std::string(name) + " must be a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }

  int integer(size_t i, const char* name, int min) const {
    const double v = number(i, name);
    if (!(v == std::floor(v) && v >= min && v <= std::numeric_limits<int32_t>::max())) {
      fail(std::string(name) + " must be an integer >= " + std::to_string(min) + ", got " + std::to_string(v));
    }
    return static_cast<int>(v);
  }

  template <class Box>
  Box& external(size_t i, const napi_type_tag& tag, const char* name) const {
    const Napi::Value v = info_[i];
    bool ok = false;
    if (v.IsExternal()) napi_check_object_type_tag(env(), v, &tag, &ok);
    if (!ok) fail(std::string(name) + " is not a native " + name + " handle");
    return *v.As<Napi::External<Box>>().Data();
  }

  Context& context(size_t i) const {
    auto& box = external<ContextBox>(i, kContextTag, "context");
    if (!box.ctx) fail("the native backend has been disposed");
    return *box.ctx;
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};

std::string dims(size_t a, size_t b) { return std::to_string(a) + "x" + std::to_string(b); }

}  // namespace
}  // namespace tinyvllm
