// Strided row copies (kv_cache.h): one block row per destination row, threads over its vectors.
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/kv_cache.h"

namespace attnscope::cuda {

namespace {

constexpr int kThreads = 256;

template <typename V>
__global__ void copy_rows_kernel(char* dst, int64_t dst_stride, const char* src, int64_t src_stride,
                                 const int32_t* index, int64_t row_vectors) {
  const int64_t r = blockIdx.y;
  const int64_t from = index ? index[r] : r;
  if (from < 0) return;
  V* d = reinterpret_cast<V*>(dst + r * dst_stride);
  const V* s = reinterpret_cast<const V*>(src + from * src_stride);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < row_vectors;
       i += static_cast<int64_t>(gridDim.x) * kThreads)
    d[i] = s[i];
}

template <typename V>
void launch(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
            const int32_t* index, int64_t rows, int64_t row_bytes, cudaStream_t stream) {
  const int64_t vectors = row_bytes / static_cast<int64_t>(sizeof(V));
  int64_t bx = (vectors + kThreads - 1) / kThreads;
  if (bx > 1024) bx = 1024;
  const dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(rows));
  copy_rows_kernel<V><<<grid, kThreads, 0, stream>>>(static_cast<char*>(dst), dst_stride,
                                                     static_cast<const char*>(src), src_stride,
                                                     index, vectors);
  ATTN_CUDA_CHECK_LAUNCH("copy_rows_kernel");
}

}  // namespace

void copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
               const int32_t* index, int64_t rows, int64_t row_bytes, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(rows >= 0 && row_bytes >= 0,
                    "copy_rows: negative shape " << rows << " rows of " << row_bytes << " bytes");
  ATTN_CUDA_REQUIRE(rows <= 65535, "copy_rows: " << rows << " rows exceed one launch (65535)");
  if (rows == 0 || row_bytes == 0) return;
  ATTN_CUDA_REQUIRE(dst && src, "copy_rows: a null pointer");
  ATTN_CUDA_REQUIRE(rows == 1 || (dst_stride >= row_bytes),
                    "copy_rows: destination rows overlap (stride " << dst_stride << " < "
                                                                   << row_bytes << " bytes)");
  // The widest vector every address and length is a multiple of.
  const auto bits = reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src) |
                    static_cast<uintptr_t>(dst_stride) | static_cast<uintptr_t>(src_stride) |
                    static_cast<uintptr_t>(row_bytes);
  if (bits % 16 == 0)
    launch<int4>(dst, dst_stride, src, src_stride, index, rows, row_bytes, stream);
  else if (bits % 8 == 0)
    launch<int2>(dst, dst_stride, src, src_stride, index, rows, row_bytes, stream);
  else if (bits % 4 == 0)
    launch<int>(dst, dst_stride, src, src_stride, index, rows, row_bytes, stream);
  else if (bits % 2 == 0)
    launch<int16_t>(dst, dst_stride, src, src_stride, index, rows, row_bytes, stream);
  else
    launch<char>(dst, dst_stride, src, src_stride, index, rows, row_bytes, stream);
}

void kv_append(const KvCacheView& cache, int64_t pos, const void* src, int64_t src_stride,
               cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(
      pos >= 0 && pos < cache.capacity,
      "kv_append: position " << pos << " is outside the cache's capacity " << cache.capacity);
  ATTN_CUDA_REQUIRE(src_stride >= cache.width,
                    "kv_append: source stride " << src_stride << " < width " << cache.width);
  const auto elem = static_cast<int64_t>(dtype_size(cache.type));
  char* dst = static_cast<char*>(cache.data) + pos * cache.width * elem;
  copy_rows(dst, cache.capacity * cache.width * elem, src, src_stride * elem, nullptr, cache.rows,
            cache.width * elem, stream);
}

void kv_reorder(const KvCacheView& from, const KvCacheView& to, const int32_t* index,
                int64_t positions, cudaStream_t stream) {
  ATTN_CUDA_REQUIRE(from.type == to.type && from.width == to.width,
                    "kv_reorder: the caches differ in type or width");
  ATTN_CUDA_REQUIRE(positions >= 0 && positions <= from.capacity && positions <= to.capacity,
                    "kv_reorder: " << positions << " positions exceed a capacity (" << from.capacity
                                   << ", " << to.capacity << ")");
  ATTN_CUDA_REQUIRE(from.data != to.data, "kv_reorder: in place (from and to are one buffer)");
  ATTN_CUDA_REQUIRE(index != nullptr, "kv_reorder: no index");
  const auto elem = static_cast<int64_t>(dtype_size(from.type));
  copy_rows(to.data, to.capacity * to.width * elem, from.data, from.capacity * from.width * elem,
            index, to.rows, positions * from.width * elem, stream);
}

}  // namespace attnscope::cuda
