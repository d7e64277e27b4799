// attnscope demo: the main job of the README's first command. Generates a date-normalisation
// corpus (dates as people write them, in Portuguese and English, → ISO 8601), trains a small
// Transformer (or, with --arch rnn-attention, an RNN with additive attention) on it, reports
// exact match on held-out dates, translates a few examples and writes the model and the
// attention of one example. --compare trains both and shows their attention side by side.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/flag_checks.h"
#include "app/model_presets.h"
#include "app/progress.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/escape.h"
#include "data/date_corpus.h"
#include "decode/translate.h"
#include "inspect/attention_files.h"
#include "io/config_json.h"
#include "io/model_dir.h"
#include "train/recipe.h"

namespace attnscope::app {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDemoMarker = ".attnscope-demo";

struct DemoArgs {
  std::string out = "attnscope-demo";
  uint64_t seed = 1;
  int64_t steps = 1200;
  double minutes = 3.0;
  std::string config = "tiny", arch = "transformer";
  bool compare = false;
  int64_t train_pairs = 20000, test_pairs = 1000;
};

std::string arch_title(const std::string& arch) {
  return arch == "rnn-attention" ? "an RNN with additive attention" : "a Transformer";
}

// Exact match of the held-out dates whose source has [min_tokens, max_tokens] tokens.
struct LengthBucket {
  int64_t min_tokens = 0, max_tokens = 0, sentences = 0, exact = 0;
  double pct() const {
    return sentences ? 100.0 * static_cast<double>(exact) / static_cast<double>(sentences) : 0.0;
  }
};

// What one trained model showed: where its files are, its translation of the example, and the
// figures --compare sets side by side.
struct DemoResult {
  std::string arch, model_dir, att_dir, source, text;
  double exact_pct = 0;
  double train_s = 0;  // training time (the trainer's clock: updates and validation)
  double epochs = 0;   // passes over the training pairs
  int64_t steps = 0;   // updates
  double tgt_tokens_per_s = 0;
  int64_t parameters = 0;
  std::vector<LengthBucket> by_length;
  double seconds_per_epoch() const { return epochs > 0 ? train_s / epochs : 0.0; }
};

// Up to n buckets of source length holding about equal shares of the held-out dates, cut at the
// quantiles of their lengths in tokens.
std::vector<LengthBucket> quantile_buckets(std::vector<int64_t> lengths, size_t n) {
  std::sort(lengths.begin(), lengths.end());
  std::vector<LengthBucket> buckets;
  int64_t lo = lengths.empty() ? 1 : lengths.front();
  for (size_t q = 1; q <= n && !lengths.empty(); ++q) {
    const int64_t hi = q == n ? lengths.back() : lengths[lengths.size() * q / n];
    if (hi < lo) continue;
    buckets.push_back({lo, hi, 0, 0});
    lo = hi + 1;
  }
  return buckets;
}

std::vector<SentencePair> to_pairs(const std::vector<DatePair>& dates) {
  std::vector<SentencePair> pairs;
  int64_t line = 0;
  for (const auto& d : dates) pairs.push_back({d.written, d.iso, ++line});
  return pairs;
}

// Trains `arch` into out/<model_name>, scores it and writes the example's attention to
// out/<att_name>.
// `buckets`: the source-length buckets to score by; empty = cut them from this test set.
DemoResult train_one(const DemoArgs& a, const std::string& arch, const std::string& model_name,
                     const std::string& att_name, std::vector<LengthBucket> buckets = {}) {
  using clock = std::chrono::steady_clock;
  fmt::print("attnscope demo: teach {} to normalise dates.\n", arch_title(arch));
  const auto train_dates = generate_dates(a.train_pairs, a.seed);
  const auto valid_dates = generate_dates(300, a.seed + 1000);
  const auto test_dates = generate_dates(a.test_pairs, a.seed + 2000);
  fmt::print("corpus: {} training pairs such as \"{}\" → \"{}\" and \"{}\" → \"{}\"\n",
             train_dates.size(), train_dates[0].written, train_dates[0].iso, train_dates[1].written,
             train_dates[1].iso);

  TrainRecipe r;
  r.train = to_pairs(train_dates);
  r.valid = to_pairs(valid_dates);
  r.out_dir = (fs::path(a.out) / model_name).string();
  std::unique_ptr<ArchConfig> config = model_preset(arch, a.config);
  // The demo's settings, where the architecture has them (the RNN has no dropout, no tying).
  set_config_field(*config, "dropout", 0.05f);
  set_config_field(*config, "share_embeddings", true);
  set_config_field(*config, "tie_output", true);
  r.model = std::move(config);
  r.tokenizer.vocab_size = 160;
  r.tokenizer.split_digits = true;  // one digit per token: the year's digits stay visible
  r.tokenizer.seed = a.seed;
  r.max_tokens = 2048;
  r.valid_bleu_sentences = 200;
  TrainerOptions& t = r.trainer;
  t.max_steps = a.steps;
  t.max_minutes = a.minutes;
  t.schedule.peak = 2e-3f;
  t.schedule.warmup = 200;
  t.label_smoothing = 0.1f;
  t.log_every = 50;
  t.valid_every = 400;
  t.seed = a.seed;
  TrainingProgress progress(stdout, r.out_dir);
  TrainProgress done;
  const auto start = clock::now();
  const TrainerState state = run_training(
      r,
      [&](const TrainProgress& p) {
        if (p.kind == TrainProgress::Kind::kDone) done = p;
        progress(p);
      },
      stdout);
  const double train_s = std::chrono::duration<double>(clock::now() - start).count();

  // Held-out exact match.
  auto model = load_model(r.out_dir);
  const TokenizerPair tok = load_tokenizers(r.out_dir);
  std::vector<std::string> sources;
  for (const auto& d : test_dates) sources.push_back(d.written);
  TranslateOptions topt;
  topt.batch_sentences = 64;
  const auto out = translate_sentences(*model, *tok.src, *tok.tgt, sources, topt);
  std::vector<int64_t> lengths;  // source tokens, eos included
  for (const auto& src : sources)
    lengths.push_back(static_cast<int64_t>(tok.src->encode(src).size()) + 1);
  if (buckets.empty()) buckets = quantile_buckets(lengths, 5);
  int64_t exact = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const bool right = out[i].text == test_dates[i].iso;
    exact += right;
    const int64_t len = lengths[i];
    // The first bucket whose upper end holds len (the last takes anything longer, should the
    // second model's tokenizer cut a date longer than the first's).
    auto b = std::find_if(buckets.begin(), buckets.end(),
                          [len](const LengthBucket& x) { return len <= x.max_tokens; });
    if (b == buckets.end()) b = std::prev(buckets.end());
    ++b->sentences;
    b->exact += right;
  }
  const double pct = 100.0 * static_cast<double>(exact) / static_cast<double>(out.size());
  fmt::print("\nexact match: {:.1f}% ({} of {} held-out dates, greedy decoding; trained {})\n", pct,
             exact, out.size(), format_duration(train_s));
  // The held-out pairs, for eval, heads and align on the same dates.
  std::string tsv;
  for (const auto& d : test_dates) tsv += d.written + "\t" + d.iso + "\n";
  write_file_atomically((fs::path(a.out) / "test.tsv").string(), tsv);

  fmt::print("\nexamples:\n");
  const std::vector<std::string> examples = {"terça-feira, 12 de outubro de 1993",
                                             "9 Oct 1993",
                                             "October 9, 1993",
                                             "1º de janeiro de 2000",
                                             "25 de dezembro de 1969",
                                             "Saturday, March 14, 2015"};
  const auto ex = translate_sentences(*model, *tok.src, *tok.tgt, examples, topt);
  for (const auto& e : ex) fmt::print("  {:<36} → {}\n", e.source, e.text);

  // The attention of the first example: every layer and head of all three kinds.
  TranslateOptions capture = topt;
  capture.decode.capture.emplace();
  const auto shown = translate_sentences(*model, *tok.src, *tok.tgt, {examples[0]}, capture);
  const std::string att_dir = (fs::path(a.out) / att_name).string();
  write_attention_files(att_dir, shown[0], AttentionFileOptions{});
  DemoResult res;
  res.arch = arch;
  res.model_dir = r.out_dir;
  res.att_dir = att_dir;
  res.source = shown[0].source;
  res.text = shown[0].text;
  res.exact_pct = pct;
  res.train_s = state.elapsed_s;
  res.epochs = done.epochs;
  res.steps = state.step;
  res.tgt_tokens_per_s =
      state.elapsed_s > 0 ? static_cast<double>(state.tokens_seen) / state.elapsed_s : 0.0;
  model->visit_params([&res](Param& p) { res.parameters += p.value.numel(); });
  res.by_length = buckets;
  fmt::print(
      "\nmodel:      {}/ (config.json, model.safetensors, shared.spm, metrics.jsonl, "
      "training.png)\n",
      r.out_dir);
  fmt::print(
      "attention:  {}/ (\"{}\" → \"{}\"): attention.json, attention.safetensors, {} (+ .svg): "
      "every layer and head;\n"
      "            open attention.html in a browser (no network needed)\n",
      att_dir, shown[0].source, shown[0].text,
      arch == "rnn-attention" ? "cross.png (its one additive attention)"
                              : "cross.png, decoder_self.png, encoder_self.png");
  fmt::print(
      "see more:   attnscope attention --model {} \"25 de dezembro de 1969\" --out my-attention\n",
      r.out_dir);
  fmt::print("next:       attnscope translate --model {} <<< \"9 de outubro de 1993\"\n",
             r.out_dir);
  if (arch != "rnn-attention")
    fmt::print("heads:      attnscope heads --model {} --data {} --limit 500 --out heads\n",
               r.out_dir, (fs::path(a.out) / "test.tsv").string());
  return res;
}

std::string bucket_label(const LengthBucket& b) {
  return b.min_tokens == b.max_tokens ? fmt::format("{}", b.min_tokens)
                                      : fmt::format("{}–{}", b.min_tokens, b.max_tokens);
}

// The figures docs/why-self-attention.md reads: speed per epoch, accuracy, accuracy by length.
void print_comparison(const std::vector<const DemoResult*>& rs) {
  fmt::print("\n{:<15} {:>11} {:>7} {:>7} {:>10} {:>11} {:>9} {:>9}\n", "", "parameters", "steps",
             "epochs", "s/epoch", "tgt tok/s", "trained", "exact");
  for (const DemoResult* r : rs)
    fmt::print("{:<15} {:>11} {:>7} {:>7.2f} {:>10.1f} {:>11.0f} {:>9} {:>8.1f}%\n", r->arch,
               r->parameters, r->steps, r->epochs, r->seconds_per_epoch(), r->tgt_tokens_per_s,
               format_duration(r->train_s), r->exact_pct);
  fmt::print("exact match by source length (tokens):\n{:<15}", "");
  for (const auto& b : rs[0]->by_length) fmt::print(" {:>14}", bucket_label(b));
  fmt::print("\n");
  for (const DemoResult* r : rs) {
    fmt::print("{:<15}", r->arch);
    for (const auto& b : r->by_length)
      fmt::print(" {:>14}", b.sentences ? fmt::format("{:.1f}% of {}", b.pct(), b.sentences) : "—");
    fmt::print("\n");
  }
}

void write_comparison_json(const fs::path& path, const std::vector<const DemoResult*>& rs) {
  nlohmann::json models = nlohmann::json::array();
  for (const DemoResult* r : rs) {
    nlohmann::json buckets = nlohmann::json::array();
    for (const auto& b : r->by_length)
      buckets.push_back({{"min_tokens", b.min_tokens},
                         {"max_tokens", b.max_tokens},
                         {"sentences", b.sentences},
                         {"exact", b.exact}});
    models.push_back({{"arch", r->arch},
                      {"parameters", r->parameters},
                      {"steps", r->steps},
                      {"epochs", r->epochs},
                      {"train_s", r->train_s},
                      {"seconds_per_epoch", r->seconds_per_epoch()},
                      {"tgt_tokens_per_s", r->tgt_tokens_per_s},
                      {"exact_match_pct", r->exact_pct},
                      {"exact_by_source_length", buckets},
                      {"example", {{"source", r->source}, {"translation", r->text}}}});
  }
  write_file_atomically(path.string(), nlohmann::json{{"models", models}}.dump(2) + "\n");
}

std::string comparison_table_html(const std::vector<const DemoResult*>& rs) {
  std::string h =
      "<h2>Measured</h2>\n<table border=\"1\" cellpadding=\"4\"><tr><th></th><th>parameters</th>"
      "<th>steps</th><th>epochs</th><th>s/epoch</th><th>target tokens/s</th><th>exact "
      "match</th>";
  for (const auto& b : rs[0]->by_length)
    h += fmt::format("<th>exact, {} source tokens</th>", bucket_label(b));
  h += "</tr>\n";
  for (const DemoResult* r : rs) {
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.1f}</td><td>{:.0f}</td>"
        "<td>{:.1f}%</td>",
        escape_html(r->arch), r->parameters, r->steps, r->epochs, r->seconds_per_epoch(),
        r->tgt_tokens_per_s, r->exact_pct);
    for (const auto& b : r->by_length)
      h += b.sentences ? fmt::format("<td>{:.1f}% of {}</td>", b.pct(), b.sentences) : "<td>—</td>";
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

void run_demo(const DemoArgs& a) {
  // The --config (a preset, or a config.json read and validated) for every architecture the
  // demo trains, before anything is written.
  for (const std::string& arch : a.compare
                                     ? std::vector<std::string>{"transformer", "rnn-attention"}
                                     : std::vector<std::string>{a.arch})
    model_preset(arch, a.config);
  // Only a folder an earlier demo made is replaced; anything else is the user's.
  if (fs::exists(a.out)) {
    ATTN_CHECK(fs::exists(fs::path(a.out) / kDemoMarker),
               "{} exists and was not made by `attnscope demo`: choose another --out", a.out);
    fs::remove_all(a.out);
  }
  fs::create_directories(a.out);
  write_file_atomically((fs::path(a.out) / kDemoMarker).string(), "made by attnscope demo\n");
  if (!a.compare) {
    train_one(a, a.arch, "model", "attention");
    return;
  }
  // Both architectures, the same data and budget each; their maps side by side.
  const DemoResult t = train_one(a, "transformer", "transformer", "attention-transformer");
  fmt::print("\n");
  std::vector<LengthBucket> same_buckets = t.by_length;  // scored on the same length cuts
  for (auto& b : same_buckets) b.sentences = b.exact = 0;
  const DemoResult n =
      train_one(a, "rnn-attention", "rnn-attention", "attention-rnn-attention", same_buckets);
  print_comparison({&t, &n});
  write_comparison_json(fs::path(a.out) / "compare.json", {&t, &n});
  const fs::path page = fs::path(a.out) / "compare.html";
  std::ostringstream html;
  html << "<!doctype html><meta charset=\"utf-8\"><title>attnscope demo: Transformer vs "
          "RNN attention</title>\n<style>body{font-family:sans-serif;margin:1em}"
          ".row{display:flex;gap:1em}.col{flex:1;min-width:0}img{max-width:100%}"
          "iframe{width:100%;height:80vh;border:1px solid #ccc}</style>\n"
       << "<h1>The same sentence, two architectures</h1>\n<div class=\"row\">\n";
  for (const DemoResult* d : {&t, &n}) {
    const std::string name = escape_html(fs::path(d->att_dir).filename().string());
    const bool rnn = d == &n;
    html << "<div class=\"col\"><h2>" << (rnn ? "RNN + additive attention" : "Transformer")
         << fmt::format(" — exact match {:.1f}%", d->exact_pct) << "</h2>\n<p>cross-attention"
         << (rnn ? " (its only attention: one layer, one head)" : " (every layer and head)")
         << "</p>\n<img src=\"" << name << "/cross.png\" alt=\"cross-attention\">\n<iframe src=\""
         << name << "/attention.html\"></iframe></div>\n";
  }
  html << "</div>\n" << comparison_table_html({&t, &n});
  write_file_atomically(page.string(), html.str());
  fmt::print(
      "\ncompare:    {} — the cross-attention of both models for \"{}\"\n"
      "            (Transformer → \"{}\", {:.1f}% exact; rnn-attention → \"{}\", {:.1f}% exact)\n",
      page.string(), t.source, t.text, t.exact_pct, n.text, n.exact_pct);
}

}  // namespace

void register_demo(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Train a small Transformer to normalise dates (\"terça-feira, 12 de outubro de 1993\" → "
      "\"1993-10-12\") in a few minutes, score it, and write its attention.\n"
      "--arch rnn-attention trains an RNN with additive attention instead; --compare trains both "
      "(each with --steps/--minutes) and writes compare.html with their maps side by side.");
  cmd->add_option("--out", a->out, "Folder for the model and the attention files")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the corpus, initialisation and training")
      ->capture_default_str()
      ->check(unsigned_number());
  cmd->add_option("--steps", a->steps, "Training updates")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxCountFlag));
  cmd->add_option("--minutes", a->minutes, "Training time limit")
      ->capture_default_str()
      ->check(finite_range(0, 1e8, false));
  cmd->add_option("--config", a->config,
                  "Model size: a preset (tiny, small, base) or a config.json")
      ->capture_default_str();
  cmd->add_option("--train-pairs", a->train_pairs, "Training pairs generated")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 26));
  cmd->add_option("--test-pairs", a->test_pairs, "Held-out dates scored for exact match")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--arch", a->arch, "transformer or rnn-attention")
      ->capture_default_str()
      ->check(CLI::IsMember({"transformer", "rnn-attention"}));
  cmd->add_flag("--compare", a->compare,
                "Train both architectures and show their attention maps side by side");
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace attnscope::app
