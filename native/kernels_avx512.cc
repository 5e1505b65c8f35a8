// The AVX-512 path (built with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c).
#include "simd_avx512.h"
#define TV_VEC VecAvx512
#define TV_NS avx512
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_avx512() {
  static const KernelTable table = avx512::make_table("avx512");
  return &table;
}

const LlamaKernelTable* llama_kernels_avx512() {
  using namespace avx512;
  static const LlamaKernelTable table = {rms_norm, silu_mul, rotary};
  return &table;
}

}  // namespace tinyvllm
