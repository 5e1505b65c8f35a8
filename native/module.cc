// The module's registration, alone in the addon target: a target's own sources wait for all its
// dependencies, so everything else (the kernels and the N-API layer, tv_addon) is a static library
// that builds in parallel, and only this small file compiles after them.
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

napi_value tinyvllm_init(napi_env env, napi_value exports);  // native/addon.cc

// glibc raises its mmap threshold (up to 32 MiB) each time a large block is freed, after which
// weight-sized blocks come from the heap and stay resident once freed: the calibration model's
// matrices and every streamed checkpoint tensor would raise peak RSS for the whole load. A fixed
// threshold (which also turns that adjustment off) returns each freed 4 MiB+ block to the OS.
static napi_value init(napi_env env, napi_value exports) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
  return tinyvllm_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
