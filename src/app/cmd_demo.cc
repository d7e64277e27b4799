// attnscope demo: the main job of the README's first command. Generates a date-normalisation
// corpus (dates as people write them, in Portuguese and English, → ISO 8601), trains a small
// Transformer (or, with --arch rnn-attention, an RNN with additive attention) on it, reports
// exact match on held-out dates, translates a few examples and writes the model and the
// attention of one example. --compare trains both and shows their attention side by side.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "app/commands.h"
#include "app/model_presets.h"
#include "app/progress.h"
#include "core/error.h"
#include "data/date_corpus.h"
#include "decode/translate.h"
#include "inspect/attention_files.h"
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

// What one trained model showed: where its files are and its translation of the example.
struct DemoResult {
  std::string model_dir, att_dir, source, text;
  double exact_pct = 0;
};

std::vector<SentencePair> to_pairs(const std::vector<DatePair>& dates) {
  std::vector<SentencePair> pairs;
  int64_t line = 0;
  for (const auto& d : dates) pairs.push_back({d.written, d.iso, ++line});
  return pairs;
}

// Trains `arch` into out/<model_name>, scores it and writes the example's attention to
// out/<att_name>.
DemoResult train_one(const DemoArgs& a, const std::string& arch, const std::string& model_name,
                     const std::string& att_name) {
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
  r.model = model_preset(arch == "rnn-attention" ? "tiny" : a.config);
  if (arch == "rnn-attention") {
    r.rnn = rnn_model_preset(a.config);
    r.model.max_len = r.rnn->max_len;
  }
  r.model.dropout = 0.05f;
  r.model.share_embeddings = true;
  r.model.tie_output = true;
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
  const auto start = clock::now();
  run_training(r, progress, stdout);
  const double train_s = std::chrono::duration<double>(clock::now() - start).count();

  // Held-out exact match.
  auto model = load_any_model(r.out_dir);
  const TokenizerPair tok = load_tokenizers(r.out_dir);
  std::vector<std::string> sources;
  for (const auto& d : test_dates) sources.push_back(d.written);
  TranslateOptions topt;
  topt.batch_sentences = 64;
  const auto out = translate_sentences(*model, *tok.src, *tok.tgt, sources, topt);
  int64_t exact = 0;
  for (size_t i = 0; i < out.size(); ++i) exact += out[i].text == test_dates[i].iso;
  const double pct = 100.0 * static_cast<double>(exact) / static_cast<double>(out.size());
  fmt::print("\nexact match: {:.1f}% ({} of {} held-out dates, greedy decoding; trained {})\n", pct,
             exact, out.size(), format_duration(train_s));

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
  capture.decode.capture_attention = true;
  const auto shown = translate_sentences(*model, *tok.src, *tok.tgt, {examples[0]}, capture);
  const std::string att_dir = (fs::path(a.out) / att_name).string();
  write_attention_files(att_dir, shown[0], AttentionFileOptions{});
  DemoResult res{r.out_dir, att_dir, shown[0].source, shown[0].text, pct};
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
  return res;
}

void run_demo(const DemoArgs& a) {
  // Only a folder an earlier demo made is replaced; anything else is the user's.
  if (fs::exists(a.out)) {
    ATTN_CHECK(fs::exists(fs::path(a.out) / kDemoMarker),
               "{} exists and was not made by `attnscope demo`: choose another --out", a.out);
    fs::remove_all(a.out);
  }
  fs::create_directories(a.out);
  std::ofstream(fs::path(a.out) / kDemoMarker) << "made by attnscope demo\n";
  if (!a.compare) {
    train_one(a, a.arch, "model", "attention");
    return;
  }
  // Both architectures, the same data and budget each; their maps side by side.
  const DemoResult t = train_one(a, "transformer", "transformer", "attention-transformer");
  fmt::print("\n");
  const DemoResult n = train_one(a, "rnn-attention", "rnn-attention", "attention-rnn-attention");
  const fs::path page = fs::path(a.out) / "compare.html";
  std::ofstream html(page);
  html << "<!doctype html><meta charset=\"utf-8\"><title>attnscope demo: Transformer vs "
          "RNN attention</title>\n<style>body{font-family:sans-serif;margin:1em}"
          ".row{display:flex;gap:1em}.col{flex:1;min-width:0}img{max-width:100%}"
          "iframe{width:100%;height:80vh;border:1px solid #ccc}</style>\n"
       << "<h1>The same sentence, two architectures</h1>\n<div class=\"row\">\n";
  for (const DemoResult* d : {&t, &n}) {
    const std::string name = fs::path(d->att_dir).filename().string();
    const bool rnn = d == &n;
    html << "<div class=\"col\"><h2>" << (rnn ? "RNN + additive attention" : "Transformer")
         << fmt::format(" — exact match {:.1f}%", d->exact_pct) << "</h2>\n<p>cross-attention"
         << (rnn ? " (its only attention: one layer, one head)" : " (every layer and head)")
         << "</p>\n<img src=\"" << name << "/cross.png\" alt=\"cross-attention\">\n<iframe src=\""
         << name << "/attention.html\"></iframe></div>\n";
  }
  html << "</div>\n";
  ATTN_CHECK(html.good(), "cannot write {}", page.string());
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
      ->capture_default_str();
  cmd->add_option("--steps", a->steps, "Training updates")->capture_default_str();
  cmd->add_option("--minutes", a->minutes, "Training time limit")->capture_default_str();
  cmd->add_option("--config", a->config,
                  "Model size: a preset (tiny, small, base) or a config.json")
      ->capture_default_str();
  cmd->add_option("--train-pairs", a->train_pairs, "Training pairs generated")
      ->capture_default_str();
  cmd->add_option("--arch", a->arch, "transformer or rnn-attention")
      ->capture_default_str()
      ->check(CLI::IsMember({"transformer", "rnn-attention"}));
  cmd->add_flag("--compare", a->compare,
                "Train both architectures and show their attention maps side by side");
  cmd->callback([a] { run_demo(*a); });
}

}  // namespace attnscope::app
