// The AVX2 + FMA + F16C path (built with -mavx2 -mfma -mf16c).
#include "simd_avx2.h"
#define TV_VEC VecAvx2
#define TV_NS avx2
#include "kernels_impl.h"

namespace tinyvllm {

const KernelTable* kernels_avx2() {
  static const KernelTable table = avx2::make_table("avx2");
  return &table;
}

const LlamaKernelTable* llama_kernels_avx2() {
  using namespace avx2;
  static const LlamaKernelTable table = {rms_norm, silu_mul, rotary};
  return &table;
}

}  // namespace tinyvllm
