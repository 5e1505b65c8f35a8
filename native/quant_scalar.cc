// Quantized GEMM kernels of the scalar path (impl/quant_gemm.inc), built with that path's flags.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "half.h"
#include "kernels.h"
#include "quant.h"
#include "simd_scalar.h"
#define TV_VEC VecScalar

namespace tinyvllm {
namespace quant_scalar {
namespace {

#include "impl/vec.inc"
#include "impl/gemm.inc"
#include "impl/quant_gemm.inc"

}  // namespace
}  // namespace quant_scalar

const QuantKernelTable* quant_kernels_scalar() {
  static const QuantKernelTable table = quant_scalar::make_quant_table("scalar");
  return &table;
}

}  // namespace tinyvllm
