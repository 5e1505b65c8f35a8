// Kernels written once against a vector type and compiled once per ISA. A translation unit
// defines TV_VEC (its vector struct, from simd_*.h) and TV_NS (a namespace of its own) and then
// includes this file; everything here has internal linkage, so no code built for one ISA can
// leak into another. The kernels themselves live in impl/*.inc, included below, and
// make_table (impl/table.inc) gathers them into the path's KernelTable.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "half.h"
#include "kernels.h"

namespace tinyvllm {
namespace TV_NS {
namespace {

#include "impl/vec.inc"
#include "impl/rows.inc"
#include "impl/gemm.inc"
#include "impl/attention.inc"
#include "impl/bench.inc"
#include "impl/llama_rows.inc"
#include "impl/table.inc"

}  // namespace
}  // namespace TV_NS
}  // namespace tinyvllm
