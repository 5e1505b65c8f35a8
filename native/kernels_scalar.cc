// The portable path: built with the baseline flags of the target, used where no SIMD path fits.
#include "simd_scalar.h"
#define TV_VEC VecScalar
#define TV_NS scalar
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_scalar() {
  using namespace scalar;
  static const KernelTable table = {"scalar", W, NR, W * Weights<DType::BF16>::NV, false, gemm, round_bf16, layer_norm, softmax, attention, fma_peak, read_sum, argmax, sample};
  return &table;
}

}  // namespace tinyvllm
