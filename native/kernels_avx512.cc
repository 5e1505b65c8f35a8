// The AVX-512 path (built with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c).
#include "simd_avx512.h"
#define TV_VEC VecAvx512
#define TV_NS avx512
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_avx512() {
  using namespace avx512;
  static const KernelTable table = {"avx512", W, NR, W * Weights<DType::BF16>::NV, false, gemm, round_bf16, layer_norm, softmax, attention, fma_peak, read_sum, argmax, sample};
  return &table;
}

}  // namespace tinyvllm
