// Data-parallel training without MPI: the model's report of final gradients during backward
// (Seq2SeqModel::backward_reporting), the bucketed gradient sums over a pretend second rank
// (GradientReducer), DataParallel's checks and splits over a scripted communicator, fingerprints,
// and how a launch is recognised. The real ranks are tests/mpi/.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/fingerprint.h"
#include "core/rng.h"
#include "dist/communicator.h"
#include "dist/launch.h"
#include "nn/rnn_seq2seq_model.h"
#include "nn/transformer.h"
#include "tiny_transformer.h"
#include "train/data_parallel.h"
#include "train/gradient_reducer.h"
#include "train/loss.h"

namespace attnscope {
namespace {

// The shared tiny config with dropout (its masks must agree across ranks) and ModelConfig's own
// activation.
ModelConfig tiny() {
  ModelConfig c = test::tiny_transformer_config();
  c.dropout = 0.1f;
  c.activation = ModelConfig{}.activation;
  return c;
}

std::map<std::string, ModelConfig> configs() {
  std::map<std::string, ModelConfig> m;
  m["post"] = tiny();
  auto c = tiny();
  c.norm = NormPlacement::kPre;
  c.tie_output = true;
  m["pre_tied_output"] = c;
  c = tiny();
  c.src_vocab = c.tgt_vocab = 10;
  c.share_embeddings = true;
  c.tie_output = true;
  c.final_norms = false;
  m["shared_tied_no_final_norms"] = c;
  c = tiny();
  c.generator_bias = false;
  c.encoder_layers = 1;
  c.decoder_layers = 3;
  m["no_bias_uneven_stacks"] = c;
  c = tiny();
  c.src_vocab = c.tgt_vocab = 10;
  c.share_embeddings = true;
  c.tie_output = true;
  c.positions = Positions::kTable;  // learned position tables (Hugging Face Marian's layout)
  m["position_tables"] = c;
  return m;
}

TokenBatch tokens(int64_t rows, int64_t cols, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  TokenBatch t{rows, cols, std::vector<int32_t>(static_cast<size_t>(rows * cols))};
  for (auto& id : t.ids) id = 4 + static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab - 4)));
  t.ids.back() = 0;  // some padding
  return t;
}

// Forward and the loss gradient of one random batch, with dropout on.
Tensor forward_once(Seq2SeqModel& m, uint64_t seed) {
  const ModelInfo info = m.info();
  const TokenBatch src = tokens(3, 5, info.src_vocab, seed),
                   tgt = tokens(3, 4, info.tgt_vocab, seed + 1);
  const Tensor& logits = m.forward(src, tgt, ForwardOptions{true, seed});
  Tensor d;
  sequence_loss(logits, tgt, info.pad_id, 0.1f, &d);
  return d;
}

std::map<std::string, Tensor> grads(Seq2SeqModel& m) {
  std::map<std::string, Tensor> g;
  m.visit_params([&](Param& p) { g.emplace(p.name, p.grad.clone()); });
  return g;
}

void expect_equal(const Tensor& a, const Tensor& b, const std::string& name) {
  ASSERT_EQ(a.shape(), b.shape()) << name;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (a[i] != b[i]) {
      ADD_FAILURE() << name << " differs at " << i << ": " << a[i] << " vs " << b[i];
      return;
    }
}

// Each parameter is reported once, with its final gradient, and the decoder's well before the
// encoder's: what lets the sums start while backward runs.
TEST(BackwardReporting, TransformerReportsEachParameterOnceWhenItsGradientIsFinal) {
  for (const auto& [name, cfg] : configs()) {
    SCOPED_TRACE(name);
    Transformer m(cfg);
    m.init_weights(3);
    m.alloc_grads();
    // Accumulated onto an earlier micro-batch's gradients, as the last backward of an update is.
    m.zero_grads();
    m.backward(forward_once(m, 10));
    const Tensor d = forward_once(m, 20);
    std::vector<std::string> order;
    std::map<std::string, Tensor> at_report;
    m.backward_reporting(d, [&](Param& p) {
      order.push_back(p.name);
      EXPECT_TRUE(at_report.emplace(p.name, p.grad.clone()).second) << p.name << " reported twice";
    });
    const auto final = grads(m);
    EXPECT_EQ(at_report.size(), final.size());
    for (const auto& [pname, g] : final) {
      ASSERT_TRUE(at_report.count(pname)) << pname << " never reported";
      expect_equal(at_report.at(pname), g, pname + " changed after it was reported");
    }
    // The same gradients as plain backward.
    Transformer plain(cfg);
    plain.init_weights(3);
    plain.alloc_grads();
    plain.zero_grads();
    plain.backward(forward_once(plain, 10));
    plain.backward(forward_once(plain, 20));
    for (const auto& [pname, g] : grads(plain)) expect_equal(final.at(pname), g, pname);
    const auto pos = [&](const std::string& prefix) {
      for (size_t i = 0; i < order.size(); ++i)
        if (order[i].rfind(prefix, 0) == 0) return i;
      return order.size();
    };
    EXPECT_LT(pos("decoder.layers.0."),
              pos("encoder.layers." + std::to_string(cfg.encoder_layers - 1)));
    EXPECT_LT(pos("decoder.layers." + std::to_string(cfg.decoder_layers - 1)),
              pos("decoder.layers.0."));
  }
}

TEST(BackwardReporting, RnnReportsEveryParameterOnceAfterBackward) {
  RnnConfig c;
  c.embed_size = 6;
  c.encoder_hidden = 5;
  c.decoder_hidden = 7;
  c.attention_size = 4;
  c.src_vocab = 11;
  c.tgt_vocab = 9;
  RnnSeq2SeqModel m(c);
  m.init_weights(1);
  m.alloc_grads();
  m.zero_grads();
  std::map<std::string, int> seen;
  m.backward_reporting(forward_once(m, 5), [&](Param& p) { ++seen[p.name]; });
  EXPECT_EQ(seen.size(), grads(m).size());
  for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << name;
}

// A second rank that holds the same gradients: every sum doubles them. It records each sum
// started and whether backward was still running then.
class PretendTwoRanks : public Communicator {
 public:
  int rank_ = 0;
  bool in_backward = false;
  std::vector<size_t> started;  // sizes, in order
  int started_in_backward = 0;
  // allgather: what the other rank "sends" (rank 0's when this is rank 1, and so on).
  std::function<std::vector<std::string>(const std::string&)> gather;

  int rank() const override { return rank_; }
  int size() const override { return 2; }
  std::string describe(int r) const override { return "rank " + std::to_string(r) + " (test)"; }
  void sum(std::span<double> v) override {
    for (double& x : v) x *= 2;
  }
  void broadcast(std::string&, int) override {}
  void broadcast(std::span<float>, int) override {}
  std::vector<std::string> allgather(const std::string& mine) override { return gather(mine); }
  void barrier() override {}
  void start_sum(std::span<float> v) override {
    started.push_back(v.size());
    if (in_backward) ++started_in_backward;
    for (float& x : v) x *= 2;
  }
  void wait_sums() override {}
  void set_activity(std::string_view) override {}
  [[noreturn]] void abort(const std::string& message) override { throw Error(message); }
};

TEST(GradientReducer, SumsEveryGradientInBucketsStartedDuringBackward) {
  for (const int64_t bucket_bytes : {int64_t{1}, int64_t{600}, int64_t{1} << 30}) {
    SCOPED_TRACE(bucket_bytes);
    Transformer m(tiny());
    m.init_weights(3);
    m.alloc_grads();
    m.zero_grads();
    PretendTwoRanks comm;
    GradientReducer reducer(comm, m, bucket_bytes);
    const Tensor d = forward_once(m, 7);
    comm.in_backward = true;
    m.backward_reporting(d, reducer.grad_final());
    comm.in_backward = false;
    const auto before = grads(m);  // the sums go to buffers until finish()
    reducer.finish();
    size_t elements = 0;
    for (const size_t n : comm.started) elements += n;
    EXPECT_EQ(static_cast<int64_t>(elements), m.num_params());
    EXPECT_EQ(static_cast<int64_t>(comm.started.size()), reducer.num_buckets());
    if (bucket_bytes == 1) {
      EXPECT_EQ(reducer.num_buckets(), static_cast<int64_t>(before.size()));
    }
    if (bucket_bytes == int64_t{1} << 30) {
      EXPECT_EQ(reducer.num_buckets(), 1);
    }
    // All but what the source embedding closes were started while backward ran.
    if (reducer.num_buckets() > 2) {
      EXPECT_GE(comm.started_in_backward, reducer.num_buckets() - 2);
    }
    for (const auto& [name, g] : grads(m)) {
      const Tensor& b = before.at(name);
      for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g[i], 2 * b[i]) << name << " " << i;
    }
    // The next update: a model that reports nothing still gets its sums, in finish().
    m.zero_grads();
    m.backward(forward_once(m, 8));
    const auto plain = grads(m);
    comm.started.clear();
    reducer.finish();
    EXPECT_EQ(static_cast<int64_t>(comm.started.size()), reducer.num_buckets());
    for (const auto& [name, g] : grads(m))
      for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g[i], 2 * plain.at(name)[i]) << name;
  }
}

TEST(GradientReducer, RefusesAParameterReportedTwice) {
  Transformer m(tiny());
  m.alloc_grads();
  PretendTwoRanks comm;
  GradientReducer reducer(comm, m);
  Param* first = nullptr;
  m.visit_params([&](Param& p) {
    if (!first) first = &p;
  });
  reducer.grad_final()(*first);
  try {
    reducer.grad_final()(*first);
    FAIL() << "a second report passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reported \"" + first->name + "\" final twice"),
              std::string::npos)
        << e.what();
  }
}

TEST(DataParallel, AloneEverythingIsTheIdentity) {
  LocalCommunicator alone;
  DataParallel dp(alone);
  EXPECT_TRUE(dp.writes_files());
  EXPECT_EQ(dp.shard(4), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(dp.gather_shards({"a", "b"}, 2), (std::vector<std::string>{"a", "b"}));
  dp.check_same_run({{"anything", "x"}});
  EXPECT_TRUE(dp.share_flag(true));
  // on_root runs the work and lets its exceptions through unchanged.
  EXPECT_THROW(dp.on_root("x", [] { throw std::out_of_range("o"); }), std::out_of_range);
}

// What rank 0 sends in its gather, found by running the same code as rank 0 of a pretend pair
// up to that gather.
struct Gathered {};
template <typename Fn>
std::string as_rank_0(Fn fn) {
  std::string sent;
  PretendTwoRanks zero;
  zero.gather = [&](const std::string& mine) -> std::vector<std::string> {
    sent = mine;
    throw Gathered{};
  };
  DataParallel dp(zero);
  try {
    fn(dp);
  } catch (const Gathered&) {
  }
  return sent;
}

TEST(DataParallel, SplitsWorkAndGathersItInItemOrder) {
  PretendTwoRanks comm;
  comm.rank_ = 1;
  DataParallel dp(comm);
  EXPECT_FALSE(dp.writes_files());
  EXPECT_EQ(dp.shard(5), (std::vector<size_t>{1, 3}));
  // Rank 0 translated items 0, 2, 4; this rank items 1, 3.
  const std::string from_root = as_rank_0([](DataParallel& zero) {
    zero.gather_shards({"h0", "h2", "h4"}, 5);
  });
  comm.gather = [&](const std::string& mine) { return std::vector<std::string>{from_root, mine}; };
  EXPECT_EQ(dp.gather_shards({"h1", "h3"}, 5),
            (std::vector<std::string>{"h0", "h1", "h2", "h3", "h4"}));
}

TEST(DataParallel, ARunThatDiffersIsRefusedNamingWhatAndWhere) {
  const std::vector<DataParallel::Fact> root_facts{{"the attnscope binary", "build id 1"},
                                                   {"the option seed", "5"}};
  const std::string root = as_rank_0([&](DataParallel& dp) { dp.check_same_run(root_facts); });
  PretendTwoRanks comm;
  comm.rank_ = 1;
  comm.gather = [&](const std::string& mine) { return std::vector<std::string>{root, mine}; };
  DataParallel dp(comm);
  dp.check_same_run(root_facts);  // the same: passes
  try {
    dp.check_same_run({{"the attnscope binary", "build id 1"}, {"the option seed", "6"}});
    FAIL() << "a different seed passed";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the ranks differ in the option seed: rank 0 (test) has 5, but rank 1 (test) has "
              "6. Every rank must run the same attnscope binary with the same options on the "
              "same files");
  }
}

TEST(DataParallel, DivergedReplicasAreNamedByTheParameter) {
  Transformer a(tiny()), b(tiny());
  a.init_weights(1);
  b.init_weights(1);
  const std::string root = as_rank_0([&](DataParallel& dp) { dp.check_replicas(a, 3); });
  PretendTwoRanks comm;
  comm.rank_ = 1;
  comm.gather = [&](const std::string& mine) { return std::vector<std::string>{root, mine}; };
  DataParallel dp(comm);
  dp.check_replicas(b, 3);  // equal weights: passes
  b.visit_params([](Param& p) {
    if (p.name == "decoder.layers.1.linear2.weight") p.value[5] = std::nextafter(p.value[5], 1.0f);
  });
  try {
    dp.check_replicas(b, 3);
    FAIL() << "a one-ulp difference passed";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "after step 3 the replicas differ: \"decoder.layers.1.linear2.weight\" of rank "
                  "1 (test) is not rank 0 (test)'s"),
              std::string::npos)
        << e.what();
  }
}

TEST(Fingerprint, SeparatesPiecesAndSeesOneBit) {
  EXPECT_EQ(Fingerprint().add("ab").add("c").value(), Fingerprint().add("ab").add("c").value());
  EXPECT_NE(Fingerprint().add("ab").add("c").value(), Fingerprint().add("a").add("bc").value());
  EXPECT_NE(Fingerprint().add("").value(), Fingerprint().value());
  std::vector<float> x(1001, 0.5f);
  const uint64_t before = Fingerprint().add_bytes(x.data(), x.size() * sizeof(float)).value();
  x[1000] = std::nextafter(0.5f, 1.0f);
  EXPECT_NE(Fingerprint().add_bytes(x.data(), x.size() * sizeof(float)).value(), before);
  EXPECT_EQ(Fingerprint().add(int64_t{7}).hex().size(), 16u);
}

// Sets environment variables for a scope, restoring them after.
class Env {
 public:
  Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* name : kLaunchVars) {
      const char* v = std::getenv(name);
      saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
      unsetenv(name);
    }
    for (const auto& [name, value] : vars) setenv(name, value, 1);
  }
  ~Env() {
    for (const auto& [name, value] : saved_)
      value ? setenv(name, value->c_str(), 1) : unsetenv(name);
  }

 private:
  static constexpr const char* kLaunchVars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                                "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

TEST(Launch, MpiLaunchersAreRecognisedByTheirEnvironment) {
  {
    Env env({});
    EXPECT_FALSE(detect_launch().by_mpi);
    EXPECT_EQ(connect_world({})->size(), 1);  // alone: no MPI at all
  }
  {
    Env env({{"OMPI_COMM_WORLD_SIZE", "4"}});
    const Launch l = detect_launch();
    EXPECT_TRUE(l.by_mpi);
    EXPECT_EQ(l.size, 4);
    EXPECT_EQ(l.by, "mpirun (Open MPI)");
  }
  {
    Env env({{"PMIX_RANK", "0"}, {"SLURM_STEP_NUM_TASKS", "8"}});
    const Launch l = detect_launch();
    EXPECT_TRUE(l.by_mpi);
    EXPECT_EQ(l.size, 8);
    EXPECT_EQ(l.by, "srun (PMIx)");
  }
  {
    Env env({{"PMI_RANK", "1"}, {"PMI_SIZE", "3"}});
    EXPECT_EQ(detect_launch().size, 3);
  }
  {
    // srun without an MPI plugin: every task would train alone, in the same directory.
    Env env({{"SLURM_STEP_NUM_TASKS", "4"}});
    try {
      connect_world({});
      FAIL() << "4 lone tasks passed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("srun started 4 tasks, but none was given an MPI "
                                           "process manager"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace attnscope
