// Embedding lookup and scatter-add gradient against the reference; repeated ids accumulate;
// out-of-range ids are errors that name the position and the id.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "grad_check.h"
#include "kernels/cpu/embedding.h"
#include "kernels/ref/embedding.h"

namespace attnscope {
namespace {

using test::expect_close;
using test::Guarded;
using test::random_vector;

TEST(Embedding, ForwardMatchesRef) {
  for (const auto& [n_tokens, dim, vocab] :
       {std::tuple<int64_t, int64_t, int32_t>{7, 13, 11}, {257, 129, 50}}) {
    const auto ids = test::random_ids(n_tokens, vocab, 1);
    const auto table = random_vector(vocab * dim, 2);
    Guarded<float> out(n_tokens * dim, -99.0f);
    cpu::embedding_forward(ids.data(), table.data(), out.data(), n_tokens, dim, vocab, 2.5f);
    std::vector<float> expected(n_tokens * dim);
    ref::embedding_forward<float>(ids.data(), table.data(), expected.data(), n_tokens, dim, vocab,
                                  2.5f);
    expect_close(out.values(), expected, 0, 0, "out");
    out.expect_guards_intact("out");
  }
}

TEST(Embedding, BackwardAccumulatesRepeatedIds) {
  const int64_t n_tokens = 9, dim = 5, vocab = 4;
  const std::vector<int32_t> ids = {1, 3, 1, 0, 1, 3, 2, 2, 1};
  const auto dout = random_vector(n_tokens * dim, 3);
  Guarded<float> dtable(random_vector(vocab * dim, 4));
  const auto before = dtable.values();
  cpu::embedding_backward(ids.data(), dout.data(), dtable.data(), n_tokens, dim, 0.5f);
  // Row 1 gets tokens 0, 2, 4 and 8.
  for (int64_t c = 0; c < dim; ++c) {
    const double expected = before[1 * dim + c] + 0.5 * (dout[0 * dim + c] + dout[2 * dim + c] +
                                                         dout[4 * dim + c] + dout[8 * dim + c]);
    EXPECT_NEAR(dtable[1 * dim + c], expected, 1e-6) << "column " << c;
  }
  auto expected = before;
  ref::embedding_backward<float>(ids.data(), dout.data(), expected.data(), n_tokens, dim, 0.5f);
  expect_close(dtable.values(), expected, 1e-6, 1e-6, "dtable");
  dtable.expect_guards_intact("dtable");
}

TEST(Embedding, LargeBackwardMatchesRef) {
  const int64_t n_tokens = 513, dim = 131, vocab = 37;  // many repeats, threaded over columns
  const auto ids = test::random_ids(n_tokens, vocab, 5);
  const auto dout = random_vector(n_tokens * dim, 6);
  std::vector<float> dtable(vocab * dim, 0.0f);
  std::vector<double> expected(vocab * dim, 0.0);
  cpu::embedding_backward(ids.data(), dout.data(), dtable.data(), n_tokens, dim, 1.0f);
  const auto doutd = test::to_double(dout);
  ref::embedding_backward<double>(ids.data(), doutd.data(), expected.data(), n_tokens, dim, 1.0);
  expect_close(dtable, expected, 1e-5, 1e-5, "dtable");
}

TEST(Embedding, OutOfRangeIdThrowsNamingPositionAndId) {
  const std::vector<float> table(10 * 3, 1.0f);
  std::vector<float> out(4 * 3);
  for (const int32_t bad : {10, -1, 12345}) {
    const std::vector<int32_t> ids = {0, 9, bad, 2};
    try {
      cpu::embedding_forward(ids.data(), table.data(), out.data(), 4, 3, 10, 1.0f);
      ADD_FAILURE() << "id " << bad << " should throw";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("position 2"), std::string::npos) << msg;
    }
  }
}

TEST(Embedding, RefGradientMatchesFiniteDifferences) {
  const int64_t n_tokens = 6, dim = 3, vocab = 4;
  const std::vector<int32_t> ids = {2, 0, 2, 3, 2, 0};
  const auto table = random_vector<double>(vocab * dim, 7);
  const auto w = random_vector<double>(n_tokens * dim, 8);
  auto loss = [&](const std::vector<double>& t) {
    std::vector<double> out(n_tokens * dim);
    ref::embedding_forward<double>(ids.data(), t.data(), out.data(), n_tokens, dim, vocab, 1.7);
    return test::dot(out, w);
  };
  std::vector<double> dtable(vocab * dim, 0.0);
  ref::embedding_backward<double>(ids.data(), w.data(), dtable.data(), n_tokens, dim, 1.7);
  expect_close(dtable, test::numeric_gradient(loss, table), 1e-6, 1e-9, "dtable");
}

}  // namespace
}  // namespace attnscope
