#include "pack.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>

#include "half.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tinyvllm {

void* alloc_aligned(size_t bytes) {
  constexpr size_t kAlign = 64;
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  const size_t align = huge ? kHuge : kAlign;
  const size_t size = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, size == 0 ? align : size);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

void free_aligned(void* p) { std::free(p); }

namespace {

// Weight arena. A decode step streams every weight once, so TLB reach matters: matrices are carved
// one after another out of 2 MiB-aligned chunks marked for transparent huge pages, instead of each
// getting its own 4 KiB-paged block (or, past 2 MiB, a block rounded up to whole huge pages).
// A chunk is released when the last matrix in it is freed.
constexpr size_t kChunk = size_t{32} << 20;
constexpr size_t kHugePage = size_t{2} << 20;

struct Chunk {
  size_t used;  // bytes carved so far
  int live;  // matrices not yet freed
};

std::mutex g_arena_mutex;
std::map<char*, Chunk> g_chunks;  // by base address
char* g_current = nullptr;  // the chunk new matrices are carved from

}  // namespace

void* weights_alloc(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes >= kChunk / 4) return alloc_aligned(bytes);  // large enough for pages of its own
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  if (!g_current || g_chunks.at(g_current).used + bytes > kChunk) {
    char* base = static_cast<char*>(std::aligned_alloc(kHugePage, kChunk));
    if (!base) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(base, kChunk, MADV_HUGEPAGE);
#endif
    g_chunks[base] = Chunk{0, 0};
    if (g_current && g_chunks.at(g_current).live == 0) {
      std::free(g_current);
      g_chunks.erase(g_current);
    }
    g_current = base;
  }
  Chunk& c = g_chunks.at(g_current);
  void* p = g_current + c.used;
  c.used += bytes;
  ++c.live;
  return p;
}

void weights_free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  auto it = g_chunks.upper_bound(static_cast<char*>(p));
  if (it == g_chunks.begin() || static_cast<char*>(p) >= std::prev(it)->first + kChunk) {
    free_aligned(p);  // not from a chunk
    return;
  }
  char* base = std::prev(it)->first;
  Chunk& c = std::prev(it)->second;
  if (--c.live > 0) return;
  if (base == g_current) {
    c.used = 0;  // empty: carve it again from the start
    return;
  }
  std::free(base);
  g_chunks.erase(base);
}

void PackedMatrixDeleter::operator()(PackedMatrix* m) const {
  if (!m) return;
  weights_free(m->data);
  delete m;
}

namespace {

float read_value(const PackSource& s, size_t i) {
  switch (s.dtype) {
    case DType::F32: return static_cast<const float*>(s.data)[i];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(s.data)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(s.data)[i]);
  }
  return 0.0f;
}

/** Element (row kk, column j) of the source, converted to the packed precision. */
template <class Out>
Out convert(const PackSource& s, DType dtype, size_t i) {
  if constexpr (sizeof(Out) == 4) {
    return read_value(s, i);
  } else {
    if (s.dtype == dtype) return static_cast<const uint16_t*>(s.data)[i];  // same format: keep the bits
    const float v = read_value(s, i);
    return dtype == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
}

/** Where column jj of row kk lives inside a panel (see PackedMatrix). */
size_t panel_index(const PackedMatrix& m, int kk, int jj) {
  if (m.pairs) return (static_cast<size_t>(kk / 2) * m.nr + jj) * 2 + (kk & 1);
  if (m.bf16_width > 0) {
    const int w = m.bf16_width;
    const int group = jj / (2 * w), i = jj % (2 * w);
    jj = group * 2 * w + (i < w ? 2 * i : 2 * (i - w) + 1);
  }
  return static_cast<size_t>(kk) * m.nr + jj;
}

template <class Out>
void pack_panel(const PackSource& s, const PackedMatrix& m, int p) {
  Out* dst = static_cast<Out*>(const_cast<void*>(m.panel(p)));
  std::memset(dst, 0, m.panel_elems() * sizeof(Out));
  const int c0 = p * m.nr;
  const int nc = std::min(m.nr, m.n - c0);
  // Walk the source in its own row order so reads stay sequential; the panel fits in cache.
  if (s.nk_layout) {
    for (int jj = 0; jj < nc; ++jj) {
      const size_t row = static_cast<size_t>(c0 + jj) * s.k;
      for (int kk = 0; kk < s.k; ++kk) {
        dst[panel_index(m, kk, jj)] = convert<Out>(s, m.dtype, row + kk);
      }
    }
  } else {
    for (int kk = 0; kk < s.k; ++kk) {
      const size_t row = static_cast<size_t>(kk) * s.n + c0;
      for (int jj = 0; jj < nc; ++jj) {
        dst[panel_index(m, kk, jj)] = convert<Out>(s, m.dtype, row + jj);
      }
    }
  }
}

}  // namespace

PackedMatrixPtr pack_matrix(const PackSource& src, DType dtype, const KernelTable& kernels, ThreadPool& pool) {
  PackedMatrixPtr m(new PackedMatrix());
  const bool bf16 = dtype == DType::BF16;
  const int nr = bf16 ? kernels.nr_bf16 : kernels.nr;
  m->k = src.k;
  m->n = src.n;
  m->nr = nr;
  m->panels = (src.n + nr - 1) / nr;
  m->dtype = dtype;
  m->pairs = bf16 && kernels.bf16_pairs;
  m->bf16_width = bf16 && !kernels.bf16_pairs ? kernels.width : 0;
  m->kpad = m->pairs ? (src.k + 1) / 2 * 2 : src.k;
  m->bytes = static_cast<size_t>(m->panels) * m->panel_elems() * m->elem_size();
  m->data = weights_alloc(m->bytes);
  const PackedMatrix& mr = *m;
  pool.for_each(m->panels, [&](int p, int) {
    if (dtype == DType::F32) pack_panel<float>(src, mr, p);
    else pack_panel<uint16_t>(src, mr, p);
  });
  return m;
}

}  // namespace tinyvllm
