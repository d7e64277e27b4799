// attnscope train: a translation model from a parallel corpus.
#include <fmt/core.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "app/commands.h"
#include "app/flag_checks.h"
#include "app/model_presets.h"
#include "app/progress.h"
#include "app/train_command.h"
#include "core/error.h"
#include "data/corpus.h"
#include "dist/communicator.h"
#include "io/architectures.h"
#include "io/config_json.h"
#include "train/recipe.h"

namespace attnscope::app {

namespace {

std::vector<SentencePair> read_pairs(const TrainArgs& a, const std::string& tsv,
                                     const CorpusOptions& opt, std::FILE* log) {
  CorpusReport report;
  auto pairs =
      tsv.empty() ? read_parallel(a.src_file, a.tgt_file, opt, report) : read_tsv(tsv, opt, report);
  fmt::print(log, "{}\n", report.summary());
  return pairs;
}

// One rank's part of a run on the ranks of `mpirun`/`srun` (or alone): rank 0 logs and shows
// progress, the others are quiet.
void train_on(const TrainArgs& a, Communicator& ranks) {
  std::FILE* log = stderr;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> quiet(nullptr, std::fclose);
  std::function<void(const TrainProgress&)> progress = [](const TrainProgress&) {};
  if (ranks.rank() == 0) {
    progress = TrainingProgress(stderr, a.out);
  } else {
    quiet.reset(std::fopen("/dev/null", "w"));
    ATTN_CHECK(quiet != nullptr, "cannot open /dev/null");
    log = quiet.get();
  }
  const TrainerState s = run_train(a, progress, log, &ranks);
  fmt::print(log, "best model (step {}) in {}\n", s.best_step, a.out);
}

// The command: the ranks this process was started with (one, without a launcher), each
// training its part; an error stops all of them.
void train_command(const TrainArgs& a) {
  // The rules between flags, before any rank connects (the same on every rank).
  validate_train_args(a);
  WorldOptions world_options;
  world_options.rank_timeout_s = a.rank_timeout;
  std::unique_ptr<Communicator> world = connect_world(world_options);
  if (world->size() == 1) return train_on(a, *world);
  try {
    train_on(a, *world);
  } catch (const CollectiveError& e) {
    // Every rank found the same error: rank 0 says it, once, and the others end only after it
    // has (mpirun stops the whole job, unflushed output and all, when a rank exits with an error).
    if (world->rank() == 0) {
      fmt::print(stderr, "attnscope: error: {}\n", e.what());
      std::fflush(stderr);
    }
    world->barrier();
    world.reset();
    std::exit(1);
  } catch (const std::exception& e) {
    // This rank alone: the others would wait for it until their timeouts; stop them all now.
    world->abort(e.what());
  }
}

}  // namespace

// The CLI checks each flag as it is parsed (flag_checks.h); callers without the CLI (the Python
// module) get the same rules here.
void validate_train_args(const TrainArgs& a) {
  ATTN_CHECK(!a.out.empty(), "--out is required: the model directory to write");
  ATTN_CHECK(a.spm_type == "unigram" || a.spm_type == "bpe",
             "--spm-type must be unigram or bpe, not \"{}\"", a.spm_type);
  ATTN_CHECK(a.schedule == "inverse_sqrt" || a.schedule == "constant",
             "--schedule must be inverse_sqrt or constant, not \"{}\"", a.schedule);
  ATTN_CHECK(a.norm.empty() || a.norm == "post" || a.norm == "pre",
             "--norm must be post or pre, not \"{}\"", a.norm);
  ATTN_CHECK(a.steps >= 0 && a.epochs >= 0 && a.minutes >= 0 && std::isfinite(a.minutes),
             "--steps, --epochs and --minutes must not be negative");
  ATTN_CHECK(a.steps > 0 || a.epochs > 0 || a.minutes > 0,
             "training needs a limit: --steps, --epochs or --minutes");
  ATTN_CHECK(a.vocab >= 8, "--vocab must be at least 8, not {}", a.vocab);
  ATTN_CHECK(a.batch_tokens >= 1, "--batch-tokens must be ≥ 1, not {}", a.batch_tokens);
  ATTN_CHECK(a.accumulate >= 1, "--accumulate must be ≥ 1, not {}", a.accumulate);
  ATTN_CHECK(std::isfinite(a.lr) && a.lr > 0, "--lr must be > 0, not {}", a.lr);
  ATTN_CHECK(a.warmup >= 0, "--warmup must not be negative, not {}", a.warmup);
  ATTN_CHECK(a.label_smoothing >= 0 && a.label_smoothing < 1,
             "--label-smoothing must lie in [0, 1), not {}", a.label_smoothing);
  ATTN_CHECK(a.dropout < 1, "--dropout must be below 1, not {}", a.dropout);
  ATTN_CHECK(a.clip_norm >= 0, "--clip-norm must not be negative, not {}", a.clip_norm);
  ATTN_CHECK(a.weight_decay >= 0, "--weight-decay must not be negative, not {}", a.weight_decay);
  ATTN_CHECK(a.valid_every >= 0 && a.log_every >= 1,
             "--valid-every must be ≥ 0 (0: only at the end) and --log-every ≥ 1");
  ATTN_CHECK(a.patience >= 0 && a.valid_bleu_sentences >= 0 && a.split_dev >= 0,
             "--patience, --valid-bleu-sentences and --split-dev must not be negative");
  ATTN_CHECK(a.columns.src_col >= 0 && a.columns.tgt_col >= 0,
             "--src-col and --tgt-col must not be negative");
  ATTN_CHECK(std::isfinite(a.rank_timeout) && a.rank_timeout >= 0,
             "--rank-timeout must be ≥ 0 seconds (0: never), not {}", a.rank_timeout);
  ATTN_CHECK(a.replica_check_every >= 0, "--replica-check-every must not be negative, not {}",
             a.replica_check_every);
  ATTN_CHECK(std::isfinite(a.bucket_mb) && a.bucket_mb >= 0.001 && a.bucket_mb <= 4096,
             "--bucket-mb must lie in [0.001, 4096], not {}", a.bucket_mb);
  ATTN_CHECK(!a.data.empty() || (!a.src_file.empty() && !a.tgt_file.empty()),
             "give the training data: --data FILE.tsv, or --src-file and --tgt-file");
  a.columns.check();
}

TrainerState run_train(const TrainArgs& a,
                       const std::function<void(const TrainProgress&)>& progress, std::FILE* log,
                       Communicator* ranks) {
  validate_train_args(a);
  const CorpusOptions copt = a.columns.corpus_options();
  TrainRecipe r;
  r.out_dir = a.out;
  r.resume = a.resume;
  r.train = read_pairs(a, a.data, copt, log);
  if (!a.valid.empty()) {
    CorpusReport report;
    r.valid = read_tsv(a.valid, copt, report);
    fmt::print(log, "{}\n", report.summary());
  } else if (a.split_dev > 0) {
    CorpusSplit split = split_corpus(r.train, a.split_dev, 0, a.seed);
    r.train = std::move(split.train);
    r.valid = std::move(split.dev);
    fmt::print(log, "held out {} pairs for validation (--split-dev)\n", r.valid.size());
  }
  const std::string arch = resolve_arch(a.arch, a.config);
  std::unique_ptr<ArchConfig> model = model_preset(arch, a.config);
  // Flags that name a config key: an error for an architecture without it.
  const auto set = [&](const char* flag, const char* key, const nlohmann::json& value) {
    ATTN_CHECK(set_config_field(*model, key, value),
               "{} does not apply to an {} model: its config has no \"{}\"", flag, arch, key);
  };
  if (a.dropout >= 0) set("--dropout", "dropout", a.dropout);
  if (!a.norm.empty()) set("--norm", "norm", a.norm);
  // Training defaults, where the architecture has them.
  set_config_field(*model, "share_embeddings", !a.separate_vocab);
  set_config_field(*model, "tie_output", true);
  r.model = std::move(model);
  r.joint_tokenizer = !a.separate_vocab;
  r.tokenizer.vocab_size = a.vocab;
  r.tokenizer.model_type = a.spm_type;
  r.tokenizer.seed = a.seed;
  r.source_spm = a.spm;
  r.target_spm = a.tgt_spm;
  r.max_tokens = a.batch_tokens;
  r.valid_bleu_sentences = a.valid_bleu_sentences;
  TrainerOptions& t = r.trainer;
  t.max_steps = a.steps;
  t.max_epochs = a.epochs;
  t.max_minutes = a.minutes;
  t.accumulate = a.accumulate;
  t.label_smoothing = a.label_smoothing;
  t.clip_norm = a.clip_norm;
  t.adam.weight_decay = a.weight_decay;
  t.adam.decoupled = a.weight_decay > 0;
  t.schedule.kind = a.schedule;
  t.schedule.peak = a.lr;
  t.schedule.warmup = a.warmup;
  t.log_every = a.log_every;
  t.valid_every = a.valid_every;
  t.patience = a.patience;
  t.seed = a.seed;
  r.ranks = ranks;
  r.parallel.replica_check_every = a.replica_check_every;
  r.parallel.bucket_bytes = static_cast<int64_t>(a.bucket_mb * 1024 * 1024);
  return run_training(r, progress, log);
}

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a translation model from a parallel corpus (TSV or two aligned files).");
  CLI::Option* data =
      cmd->add_option("--data", a->data, "Training pairs: source<TAB>target per line");
  CLI::Option* src_file = cmd->add_option("--src-file", a->src_file,
                                          "Source sentences, one per line (with --tgt-file)");
  CLI::Option* tgt_file =
      cmd->add_option("--tgt-file", a->tgt_file, "Target sentences, aligned with --src-file");
  data->excludes(src_file)->excludes(tgt_file);
  src_file->needs(tgt_file);
  tgt_file->needs(src_file);
  CLI::Option* valid =
      cmd->add_option("--valid", a->valid, "Validation pairs (TSV) for loss, BLEU and chrF");
  cmd->add_option("--split-dev", a->split_dev,
                  "Without --valid: hold out this many training pairs for validation")
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag))
      ->excludes(valid);
  cmd->add_option("--out", a->out, "Model directory to write")->required();
  cmd->add_option("--config", a->config, "Model size: tiny, small, base, or a config.json")
      ->capture_default_str();
  std::string arch_help = "The architecture (default: the --config file's, else transformer):";
  for (const Architecture& arch : architectures())
    if (arch.preset != nullptr) arch_help += fmt::format("\n  {}: {}", arch.name, arch.description);
  cmd->add_option("--arch", a->arch, arch_help)->check(CLI::IsMember(trainable_architectures()));
  add_tsv_column_options(cmd, a->columns, "TSV column of the source (0-based)",
                         "TSV column of the target (0-based)",
                         "Swap the direction (translate target → source)");
  cmd->add_option("--steps", a->steps, "Stop after this many updates")
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--epochs", a->epochs, "Stop after this many passes over the data")
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--minutes", a->minutes, "Stop after this much training time")
      ->check(finite_range(0, 1e8));
  cmd->add_option("--seed", a->seed, "Seed of initialisation, data order and dropout")
      ->capture_default_str()
      ->check(unsigned_number());
  cmd->add_flag("--resume", a->resume,
                "Continue the run in --out where it stopped, exactly; or start it when there is "
                "none yet (so the same command can be run again after any crash)");
  CLI::Option* vocab = cmd->add_option("--vocab", a->vocab, "SentencePiece vocabulary size")
                           ->capture_default_str()
                           ->check(CLI::Range(8, 1 << 22));
  CLI::Option* spm_type =
      cmd->add_option("--spm-type", a->spm_type, "SentencePiece model: unigram or bpe")
          ->capture_default_str()
          ->check(CLI::IsMember({"unigram", "bpe"}));
  cmd->add_flag("--separate-vocab", a->separate_vocab,
                "One tokenizer per side instead of a joint one");
  CLI::Option* spm = cmd->add_option("--spm", a->spm,
                                     "Use this SentencePiece .model (for both sides, or the "
                                     "source with --tgt-spm) instead of training one");
  spm->excludes(vocab)->excludes(spm_type);
  cmd->add_option("--tgt-spm", a->tgt_spm, "The target side's SentencePiece .model")->needs(spm);
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per batch (padded)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSizeFlag));
  cmd->add_option("--accumulate", a->accumulate, "Batches per update")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--lr", a->lr, "Peak learning rate")
      ->capture_default_str()
      ->check(finite_range(1e-12, 1e3));
  cmd->add_option("--warmup", a->warmup, "Warm-up steps")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--schedule", a->schedule, "inverse_sqrt or constant")
      ->capture_default_str()
      ->check(CLI::IsMember({"inverse_sqrt", "constant"}));
  cmd->add_option("--label-smoothing", a->label_smoothing, "Label smoothing ε")
      ->capture_default_str()
      ->check(finite_range(0, 1, true));
  cmd->add_option("--dropout", a->dropout, "Dropout (default: the config's)")
      ->check(finite_range(0, 1, true));
  cmd->add_option("--norm", a->norm, "post (the paper's) or pre")
      ->check(CLI::IsMember({"post", "pre"}));
  cmd->add_option("--clip-norm", a->clip_norm, "Gradient norm limit, 0 = off")
      ->capture_default_str()
      ->check(finite_range(0, 1e9));
  cmd->add_option("--weight-decay", a->weight_decay, "AdamW weight decay (0 = Adam)")
      ->capture_default_str()
      ->check(finite_range(0, 1));
  cmd->add_option("--valid-every", a->valid_every,
                  "Validate and checkpoint every N updates (0 = only at the end)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--valid-bleu-sentences", a->valid_bleu_sentences,
                  "Sentences translated for validation BLEU/chrF (0 = loss only)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--log-every", a->log_every, "Log every N updates")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxCountFlag));
  cmd->add_option("--patience", a->patience,
                  "Stop after N validations without improvement (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  // Data-parallel training: `mpirun -np N attnscope train …` (or srun) needs no flag of its own.
  cmd->add_option("--rank-timeout", a->rank_timeout,
                  "With several ranks (mpirun/srun): stop every rank when one has not been heard "
                  "from for this many seconds (0 = never)")
      ->capture_default_str()
      ->check(finite_range(0, 1e6));
  cmd->add_option("--replica-check-every", a->replica_check_every,
                  "With several ranks: also check every N updates that all ranks hold the same "
                  "weights (always before a checkpoint; 0 = only then)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--bucket-mb", a->bucket_mb,
                  "With several ranks: MiB of gradients summed at once (smaller buckets start "
                  "earlier during backward; larger ones pay the network's latency less often)")
      ->capture_default_str()
      ->check(finite_range(0.001, 4096));
  cmd->callback([a] { train_command(*a); });
}

}  // namespace attnscope::app
