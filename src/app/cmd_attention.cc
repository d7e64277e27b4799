// attnscope attention: translate and write every attention map as numbers, files and pictures.
#include <fmt/core.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/decode_args.h"
#include "app/device_args.h"
#include "app/flag_checks.h"
#include "app/text_lines.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "data/corpus.h"
#include "inspect/analysis_files.h"
#include "inspect/attention_files.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

namespace fs = std::filesystem;

struct AttentionArgs {
  std::string model, out = "attention", input, kinds, layers, heads, reduce = "none";
  std::vector<std::string> sentences;
  bool npy = false, no_pictures = false, no_html = false, rollout = false, contributions = false;
  float residual_share = 0.5f;
  DecodeFlags decode;
  DeviceArgs device;
};

std::vector<std::string> read_sentences(const AttentionArgs& a) {
  if (!a.sentences.empty()) return a.sentences;
  TextLines in(a.input);
  std::vector<std::string> out;
  for (std::string line; in.next(line);) {
    ATTN_CHECK(is_valid_utf8(line), "{}:{}: not valid UTF-8", in.name(), in.line_number());
    if (!line.empty()) out.push_back(line);
  }
  if (!in.cut_note().empty()) fmt::print(stderr, "attnscope: {}\n", in.cut_note());
  ATTN_CHECK(!out.empty(),
             "no sentence to translate (give one as an argument, --input FILE, "
             "or lines on stdin)");
  return out;
}

void run_attention(const AttentionArgs& a) {
  // The flags first: nothing is loaded, translated or written before they are all usable.
  check_decode_flags(a.decode);
  CaptureSpec spec;
  if (!a.kinds.empty()) spec.kinds = parse_kinds(a.kinds);
  if (!a.layers.empty()) spec.layers = parse_indices(a.layers, "--layers");
  if (!a.heads.empty()) spec.heads = parse_indices(a.heads, "--heads");
  spec.reduction = parse_reduction(a.reduce);
  auto model = load_model_on(a.model, a.device);
  TranslateOptions opt = a.decode.options_for(model->info());
  opt.decode.capture = spec;
  AnalysisOptions aopt;
  aopt.rollout = a.rollout;
  aopt.contributions = a.contributions;
  aopt.pictures = !a.no_pictures;
  aopt.residual_share = a.residual_share;
  check_analysis_supported(*model, aopt, a.model);  // before any decoding
  const TokenizerPair tok = load_tokenizers(a.model);
  const auto sentences = read_sentences(a);
  const auto translations = translate_sentences(*model, *tok.src, *tok.tgt, sentences, opt);
  AttentionFileOptions fopt;
  fopt.npy = a.npy;
  fopt.pictures = !a.no_pictures;
  fopt.html = !a.no_html;
  // With several sentences: one folder each, and index.tsv (written last) lists them.
  std::string index = "folder\tsource\ttranslation\n";
  if (opt.decode.nbest > 1)
    fmt::print(stderr,
               "attnscope: --nbest {}: the files hold the best hypothesis only "
               "(`attnscope translate --nbest` lists the others)\n",
               opt.decode.nbest);
  for (size_t i = 0; i < translations.size(); ++i) {
    const Translation& t = translations[i];
    const std::string dir =
        translations.size() == 1 ? a.out : (fs::path(a.out) / fmt::format("{:04}", i + 1)).string();
    auto files = write_attention_files(dir, t, fopt);
    if (aopt.rollout || aopt.contributions) {
      const ModelInfo info = model->info();
      const auto src_ids = encode_source(*tok.src, t.source, info.max_len, info.eos_id);
      const auto more = write_analysis_files(dir, *model, src_ids, t, aopt);
      files.insert(files.end(), more.begin(), more.end());
    }
    std::cout << t.text << "\n";
    fmt::print(stderr, "{} → {}: {} files in {}/\n", t.source, t.text, files.size(), dir);
    index += fmt::format("{:04}\t{}\t{}\n", i + 1, t.source, t.text);
  }
  if (translations.size() > 1)
    write_file_atomically((fs::path(a.out) / "index.tsv").string(), index);
}

}  // namespace

void register_attention(CLI::App& app) {
  auto a = std::make_shared<AttentionArgs>();
  CLI::App* cmd = app.add_subcommand(
      "attention",
      "Translate and write every attention map of the translation: attention.json, "
      "attention.safetensors, heatmap grids (PNG, SVG) per kind, the viewer attention.html (opens "
      "from file://, no network), optionally .npy.\n"
      "The maps follow the hypothesis that was output, also with --beam > 1.");
  cmd->add_option("sentences", a->sentences, "Sentences to translate (else --input or stdin)");
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--out", a->out, "Output folder (one subfolder per sentence when several)")
      ->capture_default_str();
  cmd->add_option("--input", a->input, "Read sentences from this file, one per line");
  cmd->add_option("--kinds", a->kinds,
                  "Which kinds: encoder_self,decoder_self,cross (default all)");
  cmd->add_option("--layers", a->layers, "Which layers, e.g. 0,2 (default all)");
  cmd->add_option("--heads", a->heads, "Which heads, e.g. 1,3 (default all)");
  cmd->add_option("--reduce", a->reduce, "none, mean or max over heads, or last (query row)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "mean", "max", "last"}));
  cmd->add_flag("--npy", a->npy, "Also write each map as a NumPy .npy file");
  cmd->add_flag("--no-pictures", a->no_pictures, "Skip the PNG and SVG heatmaps");
  cmd->add_flag("--rollout", a->rollout,
                "Also write attention rollout (how much of each token flows through the whole "
                "stack): rollout.json, rollout_encoder/decoder .png/.svg");
  cmd->add_option("--residual-share", a->residual_share,
                  "Rollout: the share each position keeps through the residual path, in [0, 1]")
      ->capture_default_str()
      ->check(finite_range(0, 1));
  cmd->add_flag("--contributions", a->contributions,
                "Also write value-weighted contributions ‖α·v·W_O‖ per layer and head (how far "
                "each key moves each query's output): contributions.json, "
                "contributions_<kind>.png/.svg");
  cmd->add_flag("--no-html", a->no_html, "Skip the interactive viewer attention.html");
  add_decode_options(cmd, a->decode);
  add_device_options(cmd, a->device);
  add_mask_heads_option(cmd, a->device.mask_heads);
  cmd->callback([a] { run_attention(*a); });
}

}  // namespace attnscope::app
