// The pointwise and row kernels against the CPU references on odd sizes, in fp32 (relative error
// ≤ 1e-5) and bf16 (≤ 1e-2): embedding with both positional layouts (attnscope's interleaved one
// against ref::positional_encoding; the Marian/HF half-split one against its closed form) and a
// bad id; layernorm with and without the residual and sum output; every activation with and
// without a bias; add; the casts (bit-exact rounding); KV cache append and reorder. Outputs are
// guarded and must be written everywhere.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "cuda_test_util.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/kv_cache.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/ref/activation.h"
#include "kernels/ref/embedding.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/positional_encoding.h"

namespace attnscope::cuda {
namespace {

using test::CudaTest;
using test::Guarded;

// Values as a device buffer of `type`, and back.
template <typename T>
std::vector<unsigned char> raw(const std::vector<T>& v) {
  std::vector<unsigned char> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::vector<unsigned char> encode(const std::vector<float>& v, DType type) {
  return type == DType::kF32 ? raw(v) : raw(test::to_bf16(v));
}
std::vector<float> decode(const std::vector<unsigned char>& b, DType type) {
  if (type == DType::kF32) {
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  }
  std::vector<Bf16> h(b.size() / 2);
  std::memcpy(h.data(), b.data(), b.size());
  return test::to_float(h);
}
// What a buffer of `type` holds after storing v.
std::vector<float> stored(const std::vector<float>& v, DType type) {
  return type == DType::kF32 ? v : test::rounded_to_bf16(v);
}
double tolerance(DType out) {
  return out == DType::kF32 ? 1e-5 : 1e-2;
}

// Marian / Hugging Face sinusoidal positions: sines in the first ⌈d/2⌉ columns, then cosines.
double marian_position(int64_t pos, int64_t c, int64_t d) {
  const int64_t half = (d + 1) / 2;
  const int64_t j = c < half ? c : c - half;
  const double angle = static_cast<double>(pos) /
                       std::pow(10000.0, 2.0 * static_cast<double>(j) / static_cast<double>(d));
  return c < half ? std::sin(angle) : std::cos(angle);
}

class CudaOps : public CudaTest {};

TEST_F(CudaOps, EmbeddingWithPositions) {
  Rng rng(11);
  for (DType tt : {DType::kF32, DType::kBF16})
    for (DType ot : {DType::kF32, DType::kBF16})
      for (PositionLayout layout :
           {PositionLayout::kNone, PositionLayout::kInterleaved, PositionLayout::kHalfSplit})
        for (int64_t dim : {int64_t{7}, int64_t{64}, int64_t{301}}) {
          SCOPED_TRACE(std::string(dtype_name(tt)) + "->" + dtype_name(ot) + " layout " +
                       std::to_string(static_cast<int>(layout)) + " dim " + std::to_string(dim));
          const int64_t vocab = 53, B = 3, T = 5, offset = layout == PositionLayout::kNone ? 0 : 9;
          const int64_t n = B * T;
          const std::vector<float> table = stored(test::random_floats(rng, vocab * dim), tt);
          std::vector<int32_t> ids(static_cast<size_t>(n));
          for (auto& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
          ids[0] = static_cast<int32_t>(vocab - 1);
          const float scale = std::sqrt(static_cast<float>(dim));
          Guarded<unsigned char> dt("table", table.size() * dtype_size(tt)),
              dout("out", static_cast<size_t>(n * dim) * dtype_size(ot));
          Guarded<int32_t> did("ids", ids.size());
          dt.upload(encode(table, tt));
          did.upload(ids);
          EmbeddingArgs a;
          a.ids = did.data(), a.n = n, a.table = dt.data(), a.table_type = tt;
          a.vocab = vocab, a.dim = dim, a.out = dout.data(), a.out_type = ot, a.scale = scale;
          a.positions = layout, a.seq_len = T, a.pos_offset = offset;
          embedding_forward(a, stream());
          const std::vector<float> out = decode(dout.download(), ot);
          test::expect_all_written(out, "embedding");
          std::vector<double> ref(static_cast<size_t>(n * dim));
          const std::vector<double> table_d = test::to_double(table);
          ref::embedding_forward<double>(ids.data(), table_d.data(), ref.data(), n, dim, vocab,
                                         static_cast<double>(scale));
          for (int64_t i = 0; i < n; ++i)
            for (int64_t c = 0; c < dim; ++c) {
              const int64_t pos = offset + i % T;
              double pe = 0;
              if (layout == PositionLayout::kInterleaved)
                pe = ref::positional_encoding_at<double>(pos, c, dim);
              if (layout == PositionLayout::kHalfSplit) pe = marian_position(pos, c, dim);
              ref[i * dim + c] += pe;
            }
          EXPECT_LE(test::relative_error(out, ref), tolerance(ot));
        }
}

TEST_F(CudaOps, EmbeddingReportsBadIdAndWritesZeros) {
  const int64_t vocab = 10, dim = 8, n = 4;
  std::vector<float> table(static_cast<size_t>(vocab * dim), 1.0f);
  const std::vector<int32_t> ids = {1, 10, 2, -3};
  Guarded<float> dt("table", table.size()), dout("out", static_cast<size_t>(n * dim));
  Guarded<int32_t> did("ids", ids.size()), bad("bad", 1);
  dt.upload(table);
  did.upload(ids);
  bad.upload({INT32_MAX});
  EmbeddingArgs a;
  a.ids = did.data(), a.n = n, a.table = dt.data(), a.vocab = vocab, a.dim = dim;
  a.out = dout.data(), a.bad_row = bad.data();
  embedding_forward(a, stream());
  EXPECT_EQ(bad.download()[0], 1) << "the first row with an id outside [0, 10)";
  const std::vector<float> out = dout.download();
  for (int64_t c = 0; c < dim; ++c) {
    EXPECT_EQ(out[static_cast<size_t>(0 * dim + c)], 1.0f);
    EXPECT_EQ(out[static_cast<size_t>(1 * dim + c)], 0.0f);
    EXPECT_EQ(out[static_cast<size_t>(3 * dim + c)], 0.0f);
  }
}

TEST_F(CudaOps, LayerNormMatchesReference) {
  Rng rng(12);
  for (DType xt : {DType::kF32, DType::kBF16})
    for (DType yt : {DType::kF32, DType::kBF16})
      for (int64_t n : {int64_t{1}, int64_t{33}, int64_t{512}, int64_t{1500}})
        for (bool with_residual : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(xt)) + "->" + dtype_name(yt) + " n " +
                       std::to_string(n) + (with_residual ? " residual" : ""));
          const int64_t rows = 37;
          const std::vector<float> x = stored(test::random_floats(rng, rows * n, -2, 3), xt);
          const std::vector<float> r = stored(test::random_floats(rng, rows * n), xt);
          const std::vector<float> gamma = test::random_floats(rng, n, 0.5f, 1.5f);
          const std::vector<float> beta = test::random_floats(rng, n);
          const size_t xb = static_cast<size_t>(rows * n) * dtype_size(xt);
          Guarded<unsigned char> dx("x", xb), dr("residual", xb), ds("sum", xb),
              dy("y", static_cast<size_t>(rows * n) * dtype_size(yt));
          Guarded<float> dg("gamma", gamma.size()), dbeta("beta", beta.size());
          dx.upload(encode(x, xt));
          dr.upload(encode(r, xt));
          dg.upload(gamma);
          dbeta.upload(beta);
          LayerNormArgs a;
          a.rows = rows, a.n = n, a.x_type = xt, a.x = dx.data();
          a.residual = with_residual ? dr.data() : nullptr;
          a.sum_out = with_residual ? ds.data() : nullptr;
          a.gamma = dg.data(), a.beta = dbeta.data(), a.y_type = yt, a.y = dy.data();
          layernorm_forward(a, stream());
          // The reference sees x + residual as stored in x's type.
          std::vector<float> v = x;
          if (with_residual)
            for (size_t i = 0; i < v.size(); ++i) v[i] = x[i] + r[i];
          v = stored(v, xt);
          const std::vector<double> vd = test::to_double(v), gd = test::to_double(gamma),
                                    bd = test::to_double(beta);
          std::vector<double> ref(v.size()), mean(static_cast<size_t>(rows)),
              rstd(static_cast<size_t>(rows));
          ref::layernorm_forward<double>(vd.data(), gd.data(), bd.data(), ref.data(), mean.data(),
                                         rstd.data(), rows, n, 1e-5);
          const std::vector<float> y = decode(dy.download(), yt);
          test::expect_all_written(y, "layernorm y");
          EXPECT_LE(test::relative_error(y, ref), tolerance(yt));
          if (with_residual) {
            EXPECT_EQ(decode(ds.download(), xt), v) << "sum_out";
          }
        }
}

TEST_F(CudaOps, LayerNormInPlace) {
  Rng rng(13);
  const int64_t rows = 5, n = 2000;  // longer than the register-cached rows
  const std::vector<float> x = test::random_floats(rng, rows * n);
  const std::vector<float> gamma(static_cast<size_t>(n), 1.0f), beta(static_cast<size_t>(n), 0.0f);
  Guarded<float> dx("x", x.size()), dg("gamma", gamma.size()), db("beta", beta.size());
  dx.upload(x);
  dg.upload(gamma);
  db.upload(beta);
  LayerNormArgs a;
  a.rows = rows, a.n = n, a.x = dx.data(), a.y = dx.data(), a.gamma = dg.data(), a.beta = db.data();
  layernorm_forward(a, stream());
  std::vector<double> xd = test::to_double(x), gd = test::to_double(gamma),
                      bd = test::to_double(beta), ref(x.size()), m(rows), rs(rows);
  ref::layernorm_forward<double>(xd.data(), gd.data(), bd.data(), ref.data(), m.data(), rs.data(),
                                 rows, n, 1e-5);
  EXPECT_LE(test::relative_error(dx.download(), ref), 1e-5);
}

double activation_ref(DeviceActivation f, double x) {
  switch (f) {
    case DeviceActivation::kRelu:
      return ref::activation(cpu::Activation::kRelu, x);
    case DeviceActivation::kGeluErf:
      return ref::activation(cpu::Activation::kGelu, x);
    case DeviceActivation::kGeluTanh:
      return 0.5 * x *
             (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case DeviceActivation::kSilu:
      return x / (1 + std::exp(-x));
    default:
      return x;
  }
}

TEST_F(CudaOps, ActivationsWithBias) {
  Rng rng(14);
  for (DType t : {DType::kF32, DType::kBF16})
    for (DeviceActivation f :
         {DeviceActivation::kIdentity, DeviceActivation::kRelu, DeviceActivation::kGeluErf,
          DeviceActivation::kGeluTanh, DeviceActivation::kSilu})
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(t)) + " f " + std::to_string(static_cast<int>(f)) +
                     (with_bias ? " bias" : ""));
        const int64_t rows = 29, n = 131;
        const std::vector<float> x = stored(test::random_floats(rng, rows * n, -4, 4), t);
        const std::vector<float> b = stored(test::random_floats(rng, n), t);
        const size_t bytes = static_cast<size_t>(rows * n) * dtype_size(t);
        Guarded<unsigned char> dx("x", bytes), db("bias", b.size() * dtype_size(t)), dy("y", bytes);
        dx.upload(encode(x, t));
        db.upload(encode(b, t));
        ActivationArgs a;
        a.rows = rows, a.n = n, a.type = t, a.x = dx.data(), a.y = dy.data(), a.f = f;
        a.bias = with_bias ? db.data() : nullptr;
        activation_forward(a, stream());
        std::vector<double> ref(x.size());
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double v = x[i * n + j];
            if (with_bias) v += b[j];
            // bf16: the sum is formed in fp32 inside the kernel, not rounded to bf16
            ref[i * n + j] = activation_ref(f, v);
          }
        const std::vector<float> y = decode(dy.download(), t);
        test::expect_all_written(y, "activation");
        EXPECT_LE(test::relative_error(y, ref), tolerance(t));
      }
}

TEST_F(CudaOps, AddAndInPlace) {
  Rng rng(15);
  for (DType t : {DType::kF32, DType::kBF16}) {
    const int64_t n = 10007;
    const std::vector<float> a = stored(test::random_floats(rng, n), t);
    const std::vector<float> b = stored(test::random_floats(rng, n), t);
    Guarded<unsigned char> da("a", n * dtype_size(t)), db("b", n * dtype_size(t));
    da.upload(encode(a, t));
    db.upload(encode(b, t));
    add(t, da.data(), db.data(), da.data(), n, stream());  // a += b
    std::vector<double> ref(static_cast<size_t>(n));
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = static_cast<double>(a[i]) + b[i];
    EXPECT_LE(test::relative_error(decode(da.download(), t), ref), tolerance(t)) << dtype_name(t);
  }
}

TEST_F(CudaOps, CastsRoundLikeTheHost) {
  Rng rng(16);
  std::vector<float> x = test::random_floats(rng, 4099, -1000, 1000);
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-40f, x[3] = 3.3895314e38f,
  x[4] = 1.0f + 1.0f / 256;  // a tie
  x[5] = 1.0f + 3.0f / 256;  // a tie that rounds up
  Guarded<float> dx("x", x.size()), dback("back", x.size());
  Guarded<Bf16> dh("bf16", x.size());
  dx.upload(x);
  cast(DType::kF32, dx.data(), DType::kBF16, dh.data(), static_cast<int64_t>(x.size()), stream());
  cast(DType::kBF16, dh.data(), DType::kF32, dback.data(), static_cast<int64_t>(x.size()),
       stream());
  const std::vector<Bf16> h = dh.download();
  const std::vector<float> back = dback.download();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i].bits, to_bf16(x[i]).bits) << "element " << i << " = " << x[i];
    EXPECT_EQ(back[i], to_float(h[i])) << "element " << i;
  }
}

TEST_F(CudaOps, KvCacheAppendAndReorder) {
  for (DType t : {DType::kF32, DType::kBF16}) {
    SCOPED_TRACE(dtype_name(t));
    const int64_t rows = 6, cap = 9, D = 12, width = 2 * D,
                  elem = static_cast<int64_t>(dtype_size(t));
    const size_t cache_bytes = static_cast<size_t>(rows * cap * width * elem);
    Guarded<unsigned char> a("cache a", cache_bytes), b("cache b", cache_bytes);
    KvCacheView va{a.data(), t, rows, cap, width}, vb{b.data(), t, rows, cap, width};
    // Three steps of a packed [rows, 3·D] projection: the K|V columns go to positions 0, 1, 2.
    std::vector<std::vector<float>> proj;
    for (int64_t step = 0; step < 3; ++step) {
      std::vector<float> p(static_cast<size_t>(rows * 3 * D));
      for (size_t i = 0; i < p.size(); ++i)
        p[i] = static_cast<float>(step * 1000 + static_cast<int64_t>(i));
      p = stored(p, t);
      proj.push_back(p);
      Guarded<unsigned char> dp("proj", p.size() * elem);
      dp.upload(encode(p, t));
      kv_append(va, step, static_cast<char*>(static_cast<void*>(dp.data())) + D * elem, 3 * D,
                stream());
      sync();
    }
    const std::vector<int32_t> index = {2, 2, 0, 5, 1, 3};
    Guarded<int32_t> di("index", index.size());
    di.upload(index);
    kv_reorder(va, vb, di.data(), 3, stream());
    const std::vector<float> ca = decode(a.download(), t), cb = decode(b.download(), t);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t pos = 0; pos < cap; ++pos)
        for (int64_t c = 0; c < width; ++c) {
          const size_t at = static_cast<size_t>((r * cap + pos) * width + c);
          if (pos < 3) {
            const float want =
                proj[static_cast<size_t>(pos)][static_cast<size_t>(r * 3 * D + D + c)];
            ASSERT_EQ(ca[at], want) << "append: row " << r << " pos " << pos << " col " << c;
            const size_t from =
                static_cast<size_t>((index[static_cast<size_t>(r)] * cap + pos) * width + c);
            ASSERT_EQ(cb[at], ca[from]) << "reorder: row " << r << " pos " << pos << " col " << c;
          } else {
            ASSERT_TRUE(std::isnan(ca[at])) << "append wrote position " << pos;
            ASSERT_TRUE(std::isnan(cb[at])) << "reorder wrote position " << pos;
          }
        }
  }
}

TEST_F(CudaOps, RejectsBadArguments) {
  KvCacheView v{reinterpret_cast<void*>(256), DType::kF32, 2, 4, 8};
  EXPECT_THROW(kv_append(v, 4, reinterpret_cast<void*>(256), 8, stream()), Error);
  EXPECT_THROW(kv_reorder(v, v, reinterpret_cast<int32_t*>(256), 2, stream()), Error);
  LayerNormArgs ln;
  ln.rows = -1;
  EXPECT_THROW(layernorm_forward(ln, stream()), Error);
  EmbeddingArgs e;
  e.n = 1, e.dim = 1, e.vocab = 1, e.seq_len = 0;
  EXPECT_THROW(embedding_forward(e, stream()), Error);
}

}  // namespace
}  // namespace attnscope::cuda
