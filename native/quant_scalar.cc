// Quantized GEMM kernels of the scalar path (impl/quant_gemm.inc), built with that path's flags.
#include "simd_scalar.h"
#define TV_VEC VecScalar
#define TV_NS quant_scalar
#include "quant_impl.h"

namespace tinyvllm {

const QuantKernelTable* quant_kernels_scalar() {
  static const QuantKernelTable table = quant_scalar::make_quant_table("scalar");
  return &table;
}

}  // namespace tinyvllm
