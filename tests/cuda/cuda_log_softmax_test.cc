// Log-softmax over a vocabulary and the fused top-k of beam search, against a plain host
// reference: fp32 within 1e-5; the top-k ids exactly those of a sort by (logit desc, id asc) with
// the banned ids left out, for k from 1 to 32, fp32 and bf16 logits, with ties, −∞ logits and
// rows with fewer than k selectable tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "cuda_test_util.h"
#include "kernels/cuda/log_softmax.h"

namespace attnscope::cuda {
namespace {

using test::CudaTest;
using test::Guarded;

constexpr float kInf = std::numeric_limits<float>::infinity();

double logsumexp(const float* x, int64_t n) {
  double m = -kInf;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(x[i]));
  if (m == -kInf) return m;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

class CudaLogSoftmax : public CudaTest {};

TEST_F(CudaLogSoftmax, MatchesReference) {
  Rng rng(21);
  for (DType t : {DType::kF32, DType::kBF16}) {
    const int64_t rows = 7, V = 58101;
    std::vector<float> x = test::random_floats(rng, rows * V, -8, 8);
    if (t == DType::kBF16) x = test::rounded_to_bf16(x);
    x[5] = -kInf;  // a masked logit
    std::vector<float> all_masked(static_cast<size_t>(V), -kInf);
    std::copy(all_masked.begin(), all_masked.end(), x.begin() + 6 * V);  // row 6: nothing
    Guarded<unsigned char> dx("logits", x.size() * dtype_size(t));
    Guarded<float> dy("logp", x.size());
    if (t == DType::kF32) {
      dx.upload(std::vector<unsigned char>(reinterpret_cast<unsigned char*>(x.data()),
                                           reinterpret_cast<unsigned char*>(x.data() + x.size())));
    } else {
      const std::vector<Bf16> h = test::to_bf16(x);
      dx.upload(
          std::vector<unsigned char>(reinterpret_cast<const unsigned char*>(h.data()),
                                     reinterpret_cast<const unsigned char*>(h.data() + h.size())));
    }
    log_softmax(t, dx.data(), rows, V, dy.data(), stream());
    const std::vector<float> y = dy.download();
    std::vector<double> ref(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      const double lse = logsumexp(x.data() + r * V, V);
      for (int64_t v = 0; v < V; ++v)
        ref[r * V + v] = lse == -kInf ? -kInf : static_cast<double>(x[r * V + v]) - lse;
    }
    // Compare the finite part; the −∞ cells must be −∞ exactly.
    std::vector<double> yf, rf;
    for (size_t i = 0; i < y.size(); ++i) {
      if (ref[i] == -kInf) {
        ASSERT_EQ(y[i], -kInf) << "element " << i;
      } else {
        yf.push_back(y[i]);
        rf.push_back(ref[i]);
      }
    }
    EXPECT_LE(test::relative_error(yf, rf), 1e-5) << dtype_name(t);
  }
}

struct Pick {
  float value;
  int32_t id;
};

// The k best of offset + log_softmax(row), ties to the smaller id, banned ids skipped.
std::vector<Pick> reference_topk(const float* x, int64_t V, float offset, int k,
                                 const std::vector<int32_t>& banned) {
  const double lse = logsumexp(x, V);
  std::vector<int32_t> ids;
  for (int32_t v = 0; v < V; ++v)
    if (std::find(banned.begin(), banned.end(), v) == banned.end() && x[v] != -kInf)
      ids.push_back(v);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
  std::vector<Pick> out;
  for (int i = 0; i < k; ++i) {
    if (i < static_cast<int>(ids.size()))
      out.push_back({static_cast<float>(offset + (x[ids[static_cast<size_t>(i)]] - lse)),
                     ids[static_cast<size_t>(i)]});
    else
      out.push_back({-kInf, -1});
  }
  return out;
}

TEST_F(CudaLogSoftmax, TopKMatchesSortedReference) {
  Rng rng(22);
  for (DType t : {DType::kF32, DType::kBF16})
    for (int k : {1, 3, 4, 8, 13, 16, 32})
      for (int64_t V : {int64_t{5}, int64_t{300}, int64_t{58101}}) {
        SCOPED_TRACE(std::string(dtype_name(t)) + " k " + std::to_string(k) + " V " +
                     std::to_string(V));
        const int64_t rows = 9;
        // bf16 logits have many exact ties; fp32 ones get some planted.
        std::vector<float> x = test::random_floats(rng, rows * V, -6, 6);
        for (int64_t r = 0; r < rows; ++r) {
          x[r * V + V / 2] = 9.0f;  // a tie of three at the top
          x[r * V + V - 1] = 9.0f;
          x[r * V] = 9.0f;
          if (V > 10) x[r * V + 3] = -kInf;
        }
        if (t == DType::kBF16) x = test::rounded_to_bf16(x);
        std::vector<float> offset = test::random_floats(rng, rows, -20, 0);
        const std::vector<int32_t> banned = {0, 2};  // pad and bos, say
        Guarded<unsigned char> dx("logits", x.size() * dtype_size(t));
        if (t == DType::kF32) {
          dx.upload(
              std::vector<unsigned char>(reinterpret_cast<unsigned char*>(x.data()),
                                         reinterpret_cast<unsigned char*>(x.data() + x.size())));
        } else {
          const std::vector<Bf16> h = test::to_bf16(x);
          dx.upload(std::vector<unsigned char>(
              reinterpret_cast<const unsigned char*>(h.data()),
              reinterpret_cast<const unsigned char*>(h.data() + h.size())));
        }
        Guarded<float> doff("offset", offset.size()), dv("values", static_cast<size_t>(rows * k));
        Guarded<int32_t> di("ids", static_cast<size_t>(rows * k));
        doff.upload(offset);
        TopKArgs a;
        a.rows = rows, a.V = V, a.type = t, a.logits = dx.data(), a.offset = doff.data(), a.k = k;
        a.banned[0] = banned[0], a.banned[1] = banned[1];
        a.values = dv.data(), a.ids = di.data();
        log_softmax_topk(a, stream());
        const std::vector<float> values = dv.download();
        const std::vector<int32_t> ids = di.download();
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<Pick> want =
              reference_topk(x.data() + r * V, V, offset[static_cast<size_t>(r)], k, banned);
          for (int i = 0; i < k; ++i) {
            const size_t at = static_cast<size_t>(r * k + i);
            ASSERT_EQ(ids[at], want[static_cast<size_t>(i)].id) << "row " << r << " rank " << i;
            const float w = want[static_cast<size_t>(i)].value;
            if (w == -kInf)
              ASSERT_EQ(values[at], -kInf);
            else
              ASSERT_NEAR(values[at], w, 1e-5 * std::max(1.0f, std::fabs(w)))
                  << "row " << r << " rank " << i;
          }
        }
      }
}

TEST_F(CudaLogSoftmax, RejectsBadK) {
  TopKArgs a;
  a.rows = 1, a.V = 10, a.k = 0;
  EXPECT_THROW(log_softmax_topk(a, stream()), Error);
  a.k = kMaxTopK + 1;
  EXPECT_THROW(log_softmax_topk(a, stream()), Error);
}

}  // namespace
}  // namespace attnscope::cuda
