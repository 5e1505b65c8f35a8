// Quantized GEMM kernels of the avx512 path (impl/quant_gemm.inc), built with that path's flags.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "half.h"
#include "kernels.h"
#include "quant.h"
#include "simd_avx512.h"
#define TV_VEC VecAvx512

namespace tinyvllm {
namespace quant_avx512 {
namespace {

#include "impl/vec.inc"
#include "impl/gemm.inc"
#include "impl/quant_gemm.inc"

}  // namespace
}  // namespace quant_avx512

const QuantKernelTable* quant_kernels_avx512() {
  static const QuantKernelTable table = quant_avx512::make_quant_table("avx512");
  return &table;
}

}  // namespace tinyvllm
