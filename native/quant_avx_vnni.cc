// Quantized GEMM kernels of the avx-vnni path (impl/quant_gemm.inc): AVX2 with the 256-bit vpdpbusd.
#include "simd_avx2.h"
#define TV_VEC VecAvx2
#define TV_NS quant_avx_vnni
#include "quant_impl.h"

namespace tinyvllm {

const QuantKernelTable* quant_kernels_avx_vnni() {
  static const QuantKernelTable table = quant_avx_vnni::make_quant_table("avx-vnni");
  return &table;
}

}  // namespace tinyvllm
