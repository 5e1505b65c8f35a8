// Quantized GEMM kernels of the avx2 path (impl/quant_gemm.inc), built with that path's flags.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "half.h"
#include "kernels.h"
#include "quant.h"
#include "simd_avx2.h"
#define TV_VEC VecAvx2

namespace tinyvllm {
namespace quant_avx2 {
namespace {

#include "impl/vec.inc"
#include "impl/gemm.inc"
#include "impl/quant_gemm.inc"

}  // namespace
}  // namespace quant_avx2

const QuantKernelTable* quant_kernels_avx2() {
  static const QuantKernelTable table = quant_avx2::make_quant_table("avx2");
  return &table;
}

}  // namespace tinyvllm
