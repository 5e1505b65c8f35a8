// Kernels written once against a vector type and compiled once per ISA. A translation unit
// defines TV_VEC (its vector struct, from simd_*.h) and TV_NS (a namespace of its own) and then
// includes this file; everything here has internal linkage, so no code built for one ISA can
// leak into another. The kernels themselves live in impl/*.inc, included below.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "half.h"
#include "kernels.h"

namespace tinyvllm {
namespace TV_NS {
namespace {

using V = TV_VEC;
using VT = V::T;
constexpr int W = V::W;
constexpr int MR = V::MR;
constexpr int NV = V::NV;
constexpr int NR = W * NV;

#include "impl/rows.inc"
#include "impl/gemm.inc"
#include "impl/attention.inc"
#include "impl/bench.inc"

}  // namespace
}  // namespace TV_NS
}  // namespace tinyvllm
