// The quantized GEMM kernels (impl/quant_gemm.inc), compiled once per variant as kernels_impl.h
// compiles the float kernels: a translation unit defines TV_VEC (its vector struct, from
// simd_*.h) and TV_NS (a namespace of its own), then includes this file. Everything here has
// internal linkage; the unit calls make_quant_table to build its QuantKernelTable.
// The integer dot product follows the unit's compiler flags (see impl/quant_gemm.inc).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "half.h"
#include "kernels.h"
#include "quant.h"

namespace tinyvllm {
namespace TV_NS {
namespace {

#include "impl/vec.inc"
#define TV_GEMM_MICRO_ONLY
#include "impl/gemm.inc"
#include "impl/quant_gemm.inc"

}  // namespace
}  // namespace TV_NS
}  // namespace tinyvllm
