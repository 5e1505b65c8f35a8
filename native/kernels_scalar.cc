// The portable path: built with the baseline flags of the target, used where no SIMD path fits.
#include "simd_scalar.h"
#define TV_VEC VecScalar
#define TV_NS scalar
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_scalar() {
  static const KernelTable table = scalar::make_table("scalar");
  return &table;
}

const LlamaKernelTable* llama_kernels_scalar() {
  using namespace scalar;
  static const LlamaKernelTable table = {rms_norm, silu_mul, rotary};
  return &table;
}

}  // namespace tinyvllm
