// Quantized GEMM kernels of the avx2 path (impl/quant_gemm.inc), built with that path's flags.
#include "simd_avx2.h"
#define TV_VEC VecAvx2
#define TV_NS quant_avx2
#include "quant_impl.h"

namespace tinyvllm {

const QuantKernelTable* quant_kernels_avx2() {
  static const QuantKernelTable table = quant_avx2::make_quant_table("avx2");
  return &table;
}

}  // namespace tinyvllm
