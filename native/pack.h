// Converting a weight matrix once, at load time, into the panel layout the GEMM kernels stream.
#pragma once
#include <memory>

#include "kernels.h"
#include "thread_pool.h"

namespace tinyvllm {

struct PackSource {
  const void* data;  // f32 values or f16/bf16 bits
  DType dtype;
  int k;
  int n;
  bool nk_layout;  // [n, k] (nn.Linear, tied wte) rather than [k, n] (GPT-2's Conv1D)
};

/** Frees the aligned buffer when the last owner lets go. */
struct PackedMatrixDeleter {
  void operator()(PackedMatrix* m) const;
};
using PackedMatrixPtr = std::unique_ptr<PackedMatrix, PackedMatrixDeleter>;

/** Packs `src` as `dtype` into the panel layout `kernels` expect. */
PackedMatrixPtr pack_matrix(const PackSource& src, DType dtype, const KernelTable& kernels, ThreadPool& pool);

/** A 64-byte aligned buffer, backed by huge pages where the OS allows (fewer TLB misses when streaming). */
void* alloc_aligned(size_t bytes);
void free_aligned(void* p);
/** Memory for a prepared weight matrix (see the arena in pack.cc); release with weights_free. */
void* weights_alloc(size_t bytes);
void weights_free(void* p);

}  // namespace tinyvllm
