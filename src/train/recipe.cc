#include "train/recipe.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/fingerprint.h"
#include "core/memory_limit.h"
#include "decode/translate.h"
#include "dist/binary_id.h"
#include "eval/bleu.h"
#include "eval/chrf.h"
#include "io/architectures.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "train/loss.h"
#include "train/run_dir.h"

namespace attnscope {

namespace fs = std::filesystem;

std::vector<EncodedPair> encode_pairs(const std::vector<SentencePair>& pairs,
                                      const TextTokenizer& src, const TextTokenizer& tgt,
                                      const ModelInfo& cfg, int64_t* skipped) {
  std::vector<EncodedPair> out;
  out.reserve(pairs.size());
  int64_t n_skipped = 0;
  for (const auto& p : pairs) {
    EncodedPair e;
    e.src = src.encode(p.src);
    e.src.push_back(cfg.eos_id);
    e.tgt.push_back(cfg.decoder_start_id);
    const auto t = tgt.encode(p.tgt);
    e.tgt.insert(e.tgt.end(), t.begin(), t.end());
    e.tgt.push_back(cfg.eos_id);
    // The decoder sees tgt[:-1]: both sides must fit the positional encoding.
    if (static_cast<int64_t>(e.src.size()) > cfg.max_len ||
        static_cast<int64_t>(e.tgt.size()) - 1 > cfg.max_len) {
      ++n_skipped;
      continue;
    }
    out.push_back(std::move(e));
  }
  if (skipped) *skipped = n_skipped;
  return out;
}

double validation_loss(Seq2SeqModel& model, const std::vector<EncodedPair>& pairs,
                       int64_t max_tokens) {
  const LossTotal t = validation_loss_total(model, pairs, max_tokens);
  return t.tokens ? t.sum / static_cast<double>(t.tokens) : 0.0;
}

LossTotal validation_loss_total(Seq2SeqModel& model, const std::vector<EncodedPair>& pairs,
                                int64_t max_tokens) {
  std::vector<const EncodedPair*> sorted;
  for (const auto& p : pairs) sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(), [](const EncodedPair* a, const EncodedPair* b) {
    return a->src.size() < b->src.size();
  });
  double total = 0;
  int64_t tokens = 0;
  size_t i = 0;
  while (i < sorted.size()) {
    std::vector<const EncodedPair*> chunk;
    size_t longest = 0;
    while (i < sorted.size()) {
      const size_t len = std::max(sorted[i]->src.size(), sorted[i]->tgt.size());
      if (!chunk.empty() &&
          static_cast<int64_t>((chunk.size() + 1) * std::max(longest, len)) > max_tokens)
        break;
      longest = std::max(longest, len);
      chunk.push_back(sorted[i++]);
    }
    const Batch b = make_batch(chunk, model.info().pad_id);
    const LossValue v = sequence_loss(model.forward(b.src, b.tgt_in, ForwardOptions{}), b.tgt_out,
                                      model.info().pad_id, 0.0f, nullptr);
    total += v.mean * static_cast<double>(v.tokens);
    tokens += v.tokens;
  }
  return LossTotal{total, tokens};
}

namespace {

// A given SentencePiece model, copied into the model directory (atomically, like every file there).
void copy_tokenizer(const std::string& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) fail("cannot read tokenizer model {}: {}", from, std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  ATTN_CHECK(!in.bad(), "cannot read tokenizer model {}: read error", from);
  write_file_atomically(to.string(), bytes.str());
}

TokenizerPair prepare_tokenizers(const TrainRecipe& r, bool resume, std::FILE* log) {
  if (resume) return load_tokenizers(r.out_dir);
  if (!r.source_spm.empty()) {
    const std::string tgt_path = r.target_spm.empty() ? r.source_spm : r.target_spm;
    if (tgt_path == r.source_spm) {
      copy_tokenizer(r.source_spm, fs::path(r.out_dir) / kSharedTokenizer);
      return load_tokenizers(r.out_dir);
    }
    copy_tokenizer(r.source_spm, fs::path(r.out_dir) / kSourceTokenizer);
    copy_tokenizer(tgt_path, fs::path(r.out_dir) / kTargetTokenizer);
    return load_tokenizers(r.out_dir);
  }
  std::vector<std::string> src_text, tgt_text;
  for (const auto& p : r.train) {
    src_text.push_back(p.src);
    tgt_text.push_back(p.tgt);
  }
  if (r.joint_tokenizer) {
    std::vector<std::string> all = src_text;
    all.insert(all.end(), tgt_text.begin(), tgt_text.end());
    auto tok = std::make_shared<Tokenizer>(
        Tokenizer::train(all, (fs::path(r.out_dir) / kSharedTokenizer).string(), r.tokenizer));
    fmt::print(log, "tokenizer: joint SentencePiece {} with {} pieces\n", r.tokenizer.model_type,
               tok->vocab_size());
    return {tok, tok};
  }
  auto src = std::make_shared<Tokenizer>(
      Tokenizer::train(src_text, (fs::path(r.out_dir) / kSourceTokenizer).string(), r.tokenizer));
  auto tgt = std::make_shared<Tokenizer>(
      Tokenizer::train(tgt_text, (fs::path(r.out_dir) / kTargetTokenizer).string(), r.tokenizer));
  fmt::print(log, "tokenizers: SentencePiece {} with {} source and {} target pieces\n",
             r.tokenizer.model_type, src->vocab_size(), tgt->vocab_size());
  return {src, tgt};
}

// What every rank must agree on before training together (DataParallel::check_same_run): the
// binary, every option (so a difference is named), and the data.
std::vector<DataParallel::Fact> run_facts(const TrainRecipe& r) {
  std::vector<DataParallel::Fact> facts{{"the attnscope binary", binary_identity()}};
  const auto option = [&](const std::string& name, const auto& value) {
    facts.push_back({fmt::format("the option {}", name), fmt::format("{}", value)});
  };
  if (r.model) {
    const nlohmann::json model = config_to_json(*r.model);
    for (auto it = model.begin(); it != model.end(); ++it)
      option(fmt::format("model.{}", it.key()), it.value().dump());
  }
  const TokenizerOptions& tk = r.tokenizer;
  option("tokenizer.vocab_size", tk.vocab_size);
  option("tokenizer.model_type", tk.model_type);
  option("tokenizer.character_coverage", tk.character_coverage);
  option("tokenizer.input_sentence_size", tk.input_sentence_size);
  option("tokenizer.seed", tk.seed);
  option("tokenizer.split_digits", tk.split_digits);
  option("joint_tokenizer", r.joint_tokenizer);
  option("source_spm", r.source_spm);
  option("target_spm", r.target_spm);
  option("max_tokens", r.max_tokens);
  const TrainerOptions& t = r.trainer;
  option("max_steps", t.max_steps);
  option("max_epochs", t.max_epochs);
  option("max_minutes", t.max_minutes);
  option("accumulate", t.accumulate);
  option("label_smoothing", t.label_smoothing);
  option("clip_norm", t.clip_norm);
  option("adam", fmt::format("{} {} {} {} {}", t.adam.beta1, t.adam.beta2, t.adam.eps,
                             t.adam.weight_decay, t.adam.decoupled));
  option("schedule",
         fmt::format("{} peak {} warmup {}", t.schedule.kind, t.schedule.peak, t.schedule.warmup));
  option("log_every", t.log_every);
  option("valid_every", t.valid_every);
  option("patience", t.patience);
  option("seed", t.seed);
  option("valid_bleu_sentences", r.valid_bleu_sentences);
  option("valid_decode", fmt::format("beam {} length_penalty {}", r.valid_decode.beam,
                                     r.valid_decode.length_penalty));
  option("resume", r.resume);
  option("bucket_bytes", r.parallel.bucket_bytes);
  option("replica_check_every", r.parallel.replica_check_every);
  Fingerprint data;
  for (const auto* pairs : {&r.train, &r.valid}) {
    data.add(static_cast<int64_t>(pairs->size()));
    for (const SentencePair& p : *pairs) data.add(p.src).add(p.tgt);
  }
  facts.push_back({"the training data", fmt::format("{} training and {} validation pairs, "
                                                    "fingerprint {}",
                                                    r.train.size(), r.valid.size(), data.hex())});
  return facts;
}

// The memory a training run plans, checked against the cap (core/memory_limit.h) before anything
// is written: the weights with their gradients and Adam's two moments (16 bytes a parameter), and
// the largest batch's logits with their gradient and probabilities.
void check_training_memory(const ArchConfig& config, int64_t tgt_vocab, int64_t max_tokens) {
  config.validate();
  const char* what = "the memory of a training run";
  const int64_t params = config.parameter_count();
  const int64_t bytes =
      checked_add(checked_mul(params, 16, what),
                  checked_mul(checked_mul(max_tokens, tgt_vocab, what), 12, what), what);
  check_memory_plan(fmt::format("training a {} model of {} parameters ({}) on batches of {} tokens",
                                config.arch(), params, config.summary(), max_tokens),
                    bytes, "choose a smaller --config or --batch-tokens");
}

// The config a new run will train, with the largest vocabularies its tokenizers can have.
std::unique_ptr<ArchConfig> planned_config(const TrainRecipe& r, int64_t& tgt_vocab) {
  ATTN_CHECK(r.model != nullptr, "no model config to train (TrainRecipe::model is empty)");
  int64_t src_vocab = r.tokenizer.vocab_size;
  tgt_vocab = r.tokenizer.vocab_size;
  if (!r.source_spm.empty()) {
    src_vocab = Tokenizer::load(r.source_spm).vocab_size();
    tgt_vocab = r.target_spm.empty() ? src_vocab : Tokenizer::load(r.target_spm).vocab_size();
  }
  std::unique_ptr<ArchConfig> c = r.model->clone();
  c->set_vocabularies(src_vocab, tgt_vocab);
  return c;
}

}  // namespace

TrainerState run_training(const TrainRecipe& r,
                          const std::function<void(const TrainProgress&)>& progress,
                          std::FILE* log) {
  LocalCommunicator alone;
  DataParallel dp(r.ranks != nullptr ? *r.ranks : alone, r.parallel);
  dp.check_same_run(run_facts(r));
  if (dp.ranks() > 1)
    fmt::print(log, "data parallel: {} ranks, {} batches per update ({} per rank)\n", dp.ranks(),
               dp.ranks() * r.trainer.accumulate, r.trainer.accumulate);
  const std::string config_path = (fs::path(r.out_dir) / kConfigFile).string();
  // Rank 0 alone looks at out_dir and prepares it, the tokenizers and the config; the others
  // receive them.
  bool resume = false;
  TokenizerPair tok;
  std::unique_ptr<ArchConfig> config;
  std::string config_text;
  dp.on_root("preparing the run directory and the tokenizer", [&] {
    // What a kill may have left in out_dir decides whether this run continues or starts
    // (train/run_dir.h).
    const RunDirState dir = inspect_run_dir(r.out_dir);
    resume = dir.checkpoint;
    if (dir.checkpoint) {
      ATTN_CHECK(r.resume,
                 "{} already holds a training run (its checkpoint is at step {}): add --resume to "
                 "continue it, or choose another --out",
                 r.out_dir, dir.checkpoint_step);
      const auto c = read_config(config_path);
      const nlohmann::json j = config_to_json(*c);  // the target vocabulary, where it has one
      const int64_t tgt_vocab = j.value("tgt_vocab", int64_t{0});
      check_training_memory(*c, tgt_vocab, r.max_tokens);
    } else {
      int64_t tgt_vocab = 0;
      check_training_memory(*planned_config(r, tgt_vocab), tgt_vocab, r.max_tokens);
    }
    if (dir.checkpoint) {
      // Resumed below.
    } else if (dir.marker) {
      fmt::print(log, "{}: a run that stopped before its first checkpoint: starting it again\n",
                 r.out_dir);
      clear_unfinished_run(r.out_dir);
    } else {
      ATTN_CHECK(!dir.model,
                 "{} holds a model that is not a training run of attnscope train ({} but no "
                 "checkpoint): choose another --out",
                 r.out_dir, kConfigFile);
      if (r.resume) fmt::print(log, "{}: nothing to resume yet: starting a new run\n", r.out_dir);
      start_run_dir(r.out_dir);
    }
    // Temporary files of atomic writes a kill interrupted.
    remove_stale_temp_files(r.out_dir);
    tok = prepare_tokenizers(r, resume, log);
    if (resume) {
      config = read_config(config_path);
      const Architecture* arch = find_architecture(config->arch());
      if (arch == nullptr || arch->preset == nullptr) {
        std::string trainable;
        for (const Architecture& a : architectures())
          if (a.preset != nullptr) trainable += (trainable.empty() ? "" : ", ") + a.name;
        fail("{}: a {} model is not trained or fine-tuned here (attnscope trains: {})", config_path,
             config->arch(), trainable);
      }
    } else {
      ATTN_CHECK(r.model != nullptr, "no model config to train (TrainRecipe::model is empty)");
      config = r.model->clone();
      config->set_vocabularies(tok.src->vocab_size(), tok.tgt->vocab_size());
      check_training_memory(*config, tok.tgt->vocab_size(), r.max_tokens);
    }
    config_text = config_to_json(*config).dump();
  });
  resume = dp.share_flag(resume);
  tok = dp.share_tokenizers(r.out_dir, tok);
  dp.share_text(config_text);
  if (!config) {
    // Every rank holds the whole model: its memory plan is checked here too.
    const nlohmann::json j = nlohmann::json::parse(config_text);
    config = config_from_json(j, "rank 0's config");
    check_training_memory(*config, j.value("tgt_vocab", int64_t{0}), r.max_tokens);
  }
  std::unique_ptr<Seq2SeqModel> model_ptr = config->make_model();
  Seq2SeqModel& model = *model_ptr;
  if (!resume) {
    model.init_weights(r.trainer.seed);
    if (dp.writes_files()) save_model(model, r.out_dir);
  }
  fmt::print(log, "model: {} parameters, {}\n", model.num_params(), config->summary());
  const ModelInfo cfg = model.info();

  int64_t skipped = 0;
  std::vector<EncodedPair> train = encode_pairs(r.train, *tok.src, *tok.tgt, cfg, &skipped);
  fmt::print(log, "training pairs: {}{}\n", train.size(),
             skipped
                 ? fmt::format(" ({} skipped: longer than max_len {} tokens)", skipped, cfg.max_len)
                 : "");
  ATTN_CHECK(!train.empty(), "no training pair fits max_len {}", cfg.max_len);
  Batcher batcher(std::move(train), r.max_tokens, cfg.pad_id, r.trainer.seed);

  Trainer trainer(model, batcher, r.trainer, r.out_dir, &dp);
  if (!r.valid.empty()) {
    // Each rank validates its share (DataParallel::shard); the sums make one result, the same
    // on every rank.
    std::vector<EncodedPair> valid_all = encode_pairs(r.valid, *tok.src, *tok.tgt, cfg, nullptr);
    auto valid = std::make_shared<std::vector<EncodedPair>>();
    for (const size_t i : dp.shard(valid_all.size())) valid->push_back(std::move(valid_all[i]));
    trainer.set_validation([&, valid](Seq2SeqModel& m) {
      ValidationResult v;
      const LossTotal mine = validation_loss_total(m, *valid, r.max_tokens);
      double loss[2] = {mine.sum, static_cast<double>(mine.tokens)};
      dp.sum(loss);
      v.loss = loss[1] > 0 ? loss[0] / loss[1] : 0.0;
      if (r.valid_bleu_sentences > 0) {
        const size_t n = std::min(r.valid.size(), static_cast<size_t>(r.valid_bleu_sentences));
        std::vector<std::string> sources, refs;
        for (const size_t i : dp.shard(n)) sources.push_back(r.valid[i].src);
        for (size_t i = 0; i < n; ++i) refs.push_back(r.valid[i].tgt);
        TranslateOptions topt;
        topt.decode = r.valid_decode;
        std::vector<std::string> hyps;
        for (auto& t : translate_sentences(m, *tok.src, *tok.tgt, sources, topt))
          hyps.push_back(t.text);
        hyps = dp.gather_shards(hyps, n);
        v.bleu = corpus_bleu(hyps, refs).score;
        v.chrf = corpus_chrf(hyps, refs);
      }
      return v;
    });
  }
  if (resume) {
    if (!trainer.resume())
      throw CollectiveError(fmt::format("{} has no checkpoint to resume", r.out_dir));
    fmt::print(log, "resumed at step {} (epoch {}, batch {})\n", trainer.state().step,
               trainer.state().epoch, trainer.state().batch_index);
  }
  return trainer.run(progress);
}

}  // namespace attnscope
