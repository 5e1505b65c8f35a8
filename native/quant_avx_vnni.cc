// Quantized GEMM kernels of the avx-vnni path (impl/quant_gemm.inc): AVX2 with the 256-bit vpdpbusd.
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
namespace quant_avx_vnni {
namespace {

#include "impl/vec.inc"
#include "impl/gemm.inc"
#include "impl/quant_gemm.inc"

}  // namespace
}  // namespace quant_avx_vnni

const QuantKernelTable* quant_kernels_avx_vnni() {
  static const QuantKernelTable table = quant_avx_vnni::make_quant_table("avx-vnni");
  return &table;
}

}  // namespace tinyvllm
