// Quantized GEMM kernels of the avx512-vnni path (impl/quant_gemm.inc), built with that path's flags.
#include "simd_avx512.h"
#define TV_VEC VecAvx512
#define TV_NS quant_avx512_vnni
#include "quant_impl.h"

namespace tinyvllm {

const QuantKernelTable* quant_kernels_avx512_vnni() {
  static const QuantKernelTable table = quant_avx512_vnni::make_quant_table("avx512-vnni");
  return &table;
}

}  // namespace tinyvllm
