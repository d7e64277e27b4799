// cuBLASLt products against the reference Linear (ref::linear_forward in double, on the inputs a
// bf16 product really sees): bf16 → bf16, bf16 → fp32 and fp32 → fp32, with and without the bias
// and ReLU epilogues and the residual, on odd sizes and strided (wider) buffers; every output
// element written and nothing outside the output touched; argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "cuda_test_util.h"
#include "kernels/cuda/gemm.h"
#include "kernels/ref/gemm.h"

namespace attnscope::cuda {
namespace {

using test::CudaTest;
using test::Guarded;

struct GemmCase {
  int64_t M, N, K;
  DType in, out;
  bool bias, residual, relu;
  int64_t pad = 0;  // extra columns in every row of x, w and y (strided buffers)
};

std::string name(const GemmCase& c) {
  return std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) + " " +
         dtype_name(c.in) + "->" + dtype_name(c.out) + (c.bias ? " bias" : "") +
         (c.residual ? " residual" : "") + (c.relu ? " relu" : "") +
         (c.pad ? " pad " + std::to_string(c.pad) : "");
}

// Host values stored as `type` (rounded when bf16), and their upload to a guarded buffer.
struct HostMatrix {
  std::vector<float> values;  // what the device sees
  std::vector<unsigned char> bytes;
};
HostMatrix make(Rng& rng, size_t n, DType type, float lo = -1, float hi = 1) {
  HostMatrix m;
  m.values = test::random_floats(rng, n, lo, hi);
  if (type == DType::kBF16) {
    const std::vector<Bf16> b = test::to_bf16(m.values);
    m.values = test::to_float(b);
    m.bytes.resize(n * 2);
    std::memcpy(m.bytes.data(), b.data(), n * 2);
  } else {
    m.bytes.resize(n * 4);
    std::memcpy(m.bytes.data(), m.values.data(), n * 4);
  }
  return m;
}

std::vector<float> as_floats(const std::vector<unsigned char>& bytes, DType type) {
  const size_t n = bytes.size() / dtype_size(type);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (type == DType::kF32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else {
      Bf16 b;
      std::memcpy(&b, bytes.data() + 2 * i, 2);
      out[i] = to_float(b);
    }
  }
  return out;
}

class CudaGemm : public CudaTest {
 protected:
  void check(const GemmCase& c) {
    SCOPED_TRACE(name(c));
    Rng rng(static_cast<uint64_t>(c.M * 131 + c.N * 7 + c.K));
    const int64_t ldx = c.K + c.pad, ldw = c.K + c.pad, ldy = c.N + c.pad;
    const size_t out_b = dtype_size(c.out);
    HostMatrix x = make(rng, static_cast<size_t>(c.M * ldx), c.in);
    HostMatrix w = make(rng, static_cast<size_t>(c.N * ldw), c.in);
    HostMatrix bias = make(rng, static_cast<size_t>(c.N), c.out);
    HostMatrix res = make(rng, static_cast<size_t>(c.M * ldy), c.out);

    Guarded<unsigned char> dx("x", x.bytes.size()), dw("w", w.bytes.size()),
        db("bias", bias.bytes.size()), dy("y", static_cast<size_t>(c.M * ldy) * out_b);
    dx.upload(x.bytes);
    dw.upload(w.bytes);
    db.upload(bias.bytes);
    if (c.residual) dy.upload(res.bytes);  // in place: y = x·Wᵀ + b + y
    GemmArgs g;
    g.M = c.M, g.N = c.N, g.K = c.K, g.in = c.in, g.out = c.out;
    g.x = dx.data(), g.ldx = ldx, g.w = dw.data(), g.ldw = ldw;
    g.y = dy.data(), g.ldy = ldy;
    g.bias = c.bias ? db.data() : nullptr;
    g.residual = c.residual ? dy.data() : nullptr;
    g.epilogue = c.relu ? GemmEpilogue::kRelu : GemmEpilogue::kNone;
    gemm_->run(g, stream());
    sync();

    // Reference in double on the (rounded) values the device saw.
    std::vector<double> xd(static_cast<size_t>(c.M * c.K)), wd(static_cast<size_t>(c.N * c.K));
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t k = 0; k < c.K; ++k) xd[i * c.K + k] = x.values[i * ldx + k];
    for (int64_t j = 0; j < c.N; ++j)
      for (int64_t k = 0; k < c.K; ++k) wd[j * c.K + k] = w.values[j * ldw + k];
    std::vector<double> bd(bias.values.begin(), bias.values.end());
    std::vector<double> ref(static_cast<size_t>(c.M * c.N));
    ref::linear_forward<double>(xd.data(), wd.data(), c.bias ? bd.data() : nullptr, ref.data(), c.M,
                                c.K, c.N);
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) {
        double& r = ref[i * c.N + j];
        if (c.residual) r += res.values[i * ldy + j];
        if (c.relu) r = std::max(r, 0.0);
      }
    const std::vector<float> yall = as_floats(dy.download(), c.out);
    std::vector<float> y(static_cast<size_t>(c.M * c.N));
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) y[i * c.N + j] = yall[i * ldy + j];
    const double tol = c.out == DType::kF32 && c.in == DType::kF32 ? 1e-5 : 1e-2;
    EXPECT_LE(test::relative_error(y, ref), tol);
    // The padding columns of y: untouched (poison, or the residual's values when in place).
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = c.N; j < ldy; ++j) {
        const size_t at = static_cast<size_t>(i * ldy + j);
        if (!c.residual) {
          EXPECT_TRUE(std::isnan(yall[at]))
              << "padding column " << j << " of row " << i << " was written";
        } else {
          EXPECT_EQ(yall[at], res.values[at]) << "padding column " << j << " of row " << i;
        }
      }
  }
  void SetUp() override {
    CudaTest::SetUp();
    if (!IsSkipped()) gemm_ = std::make_unique<Gemm>();
  }
  std::unique_ptr<Gemm> gemm_;  // made after the device check: it allocates its workspace
};

TEST_F(CudaGemm, Bf16ToBf16) {
  check({37, 56, 72, DType::kBF16, DType::kBF16, false, false, false});
  check({64, 512, 512, DType::kBF16, DType::kBF16, true, false, false});
  check({1, 1536, 512, DType::kBF16, DType::kBF16, true, false, false});  // a decoder step
}

TEST_F(CudaGemm, Bf16ToF32) {
  check({37, 56, 72, DType::kBF16, DType::kF32, true, false, false});
  check({200, 2048, 512, DType::kBF16, DType::kF32, true, false, true});
}

TEST_F(CudaGemm, F32ToF32IsExact) {
  check({5, 13, 7, DType::kF32, DType::kF32, false, false, false});
  check({37, 53, 71, DType::kF32, DType::kF32, true, false, false});
  check({33, 100, 257, DType::kF32, DType::kF32, true, true, true});
}

TEST_F(CudaGemm, EpiloguesAndResidual) {
  check({40, 64, 96, DType::kBF16, DType::kBF16, true, true, false});
  check({40, 64, 96, DType::kBF16, DType::kBF16, false, false, true});
  check({40, 64, 96, DType::kBF16, DType::kF32, true, true, true});
}

TEST_F(CudaGemm, StridedRows) {
  check({31, 40, 48, DType::kBF16, DType::kBF16, true, false, false, 8});
  check({31, 40, 48, DType::kF32, DType::kF32, true, true, false, 3});
}

TEST_F(CudaGemm, UnalignedBf16Shapes) {  // rows of odd length: 2-byte alignment only
  check({7, 13, 11, DType::kBF16, DType::kBF16, true, false, false});
  check({9, 17, 33, DType::kBF16, DType::kF32, false, true, false});
}

TEST_F(CudaGemm, RejectsBadArguments) {
  GemmArgs g;
  g.M = 2, g.N = 2, g.K = 2, g.x = g.w = g.y = reinterpret_cast<void*>(256);
  g.ldx = 1, g.ldw = 2, g.ldy = 2;
  EXPECT_THROW(gemm_->run(g, stream()), Error) << "ldx < K";
  g.ldx = 2, g.in = DType::kF32, g.out = DType::kBF16;
  EXPECT_THROW(gemm_->run(g, stream()), Error) << "fp32 in, bf16 out";
  g.out = DType::kF32, g.K = 0;
  EXPECT_THROW(gemm_->run(g, stream()), Error) << "K = 0";
}

}  // namespace
}  // namespace attnscope::cuda
