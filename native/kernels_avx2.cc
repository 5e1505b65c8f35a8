// The AVX2 + FMA + F16C path (built with -mavx2 -mfma -mf16c).
#include "simd_avx2.h"
#define TV_VEC VecAvx2
#define TV_NS avx2
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_avx2() {
  using namespace avx2;
  static const KernelTable table = {"avx2", W, NR, W * Weights<DType::BF16>::NV, false, gemm, round_bf16, layer_norm, softmax, attention, fma_peak, read_sum, argmax, sample};
  return &table;
}

}  // namespace tinyvllm
