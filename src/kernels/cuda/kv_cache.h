// The decoder's key/value cache on the device, in the CPU's layout: per layer [rows, capacity,
// 2·D], position t of row r holding K (columns [0, D)) then V ([D, 2·D)), so attention reads K and
// V in place as strided head views. Two operations move it:
//   kv_append:  position `pos` of every row ← that row's K|V columns of a projection output
//               ([rows, src_stride], e.g. the packed [rows, 3·D] Q|K|V at column offset D);
//   kv_reorder: row r of `to` ← row index[r] of `from` (beam search following its backpointers,
//               or dropping finished sentences), for the first `positions` positions. Out of place:
//               `to` and `from` are two buffers the caller swaps.
// Both are copy_rows, a strided row gather that copies 16-byte vectors when every address allows.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

// dst row r [0, row_bytes) ← src row (index ? index[r] : r) [0, row_bytes); strides in bytes;
// index is a device array of `rows` ints, each in [0, src_rows) — checked on the host only by
// the caller (the device skips, and leaves untouched, rows whose index is negative).
void copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
               const int32_t* index, int64_t rows, int64_t row_bytes, cudaStream_t stream);

struct KvCacheView {
  void* data = nullptr;  // [rows, capacity, width]
  DType type = DType::kBF16;
  int64_t rows = 0, capacity = 0, width = 0;  // width = 2·D
};

// cache[r, pos, :] = src[r, 0 : width], src rows `src_stride` elements apart.
void kv_append(const KvCacheView& cache, int64_t pos, const void* src, int64_t src_stride,
               cudaStream_t stream);

// to[r, 0 : positions, :] = from[index[r], 0 : positions, :] for r < to.rows.
void kv_reorder(const KvCacheView& from, const KvCacheView& to, const int32_t* index,
                int64_t positions, cudaStream_t stream);

}  // namespace attnscope::cuda
