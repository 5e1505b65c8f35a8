// The module's registration, alone in the addon target: a target's own sources wait for all its
// dependencies, so everything else (the kernels and the N-API layer, tv_addon) is a static library
// that builds in parallel, and only this small file compiles after them.
#include <node_api.h>

napi_value tinyvllm_init(napi_env env, napi_value exports);  // native/addon.cc

NAPI_MODULE(NODE_GYP_MODULE_NAME, tinyvllm_init)
