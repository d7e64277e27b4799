// attnscope attribute: which input tokens moved each output token (inspect/attribution.h), from
// the gradients of each output token's log-probability with respect to the input embeddings.
#include <fmt/core.h>

#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/decode_args.h"
#include "app/device_args.h"
#include "app/flag_checks.h"
#include "core/error.h"
#include "data/corpus.h"
#include "inspect/attribution.h"
#include "inspect/attribution_files.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

struct AttributeArgs {
  std::string model, sentence, target, out = "attribution", method = "saliency", baseline = "pad";
  int64_t steps = 32;
  bool no_pictures = false, no_html = false;
  DecodeFlags decode;
  std::string mask_heads;
  CLI::Option* steps_opt = nullptr;
};

void run_attribute(const AttributeArgs& a) {
  check_decode_flags(a.decode);
  AttributionOptions opt;
  opt.method = parse_attribution_method(a.method);
  opt.baseline = parse_attribution_baseline(a.baseline);
  opt.steps = a.steps;
  ATTN_CHECK(is_valid_utf8(a.sentence), "the sentence is not valid UTF-8");
  ATTN_CHECK(is_valid_utf8(a.target), "--target is not valid UTF-8");
  if (opt.method != AttributionMethod::kIntegratedGradients && a.steps_opt->count() > 0)
    fmt::print(stderr, "attnscope: --steps is for integrated-gradients; {} ignores it\n", a.method);
  auto model = load_model(a.model);
  apply_mask_heads(*model, a.mask_heads);
  const ModelInfo info = model->info();
  ATTN_CHECK(info.input_gradients,
             "attribute needs gradients with respect to the input embeddings: {} is an {} model, "
             "which has none",
             a.model, info.arch);
  const TokenizerPair tok = load_tokenizers(a.model);

  Translation t;
  if (a.target.empty()) {
    const TranslateOptions topt = a.decode.options_for(info);
    t = translate_sentences(*model, *tok.src, *tok.tgt, {a.sentence}, topt).front();
  } else {
    // The given translation, as the model would have written it: its pieces, then </s>.
    t.source = a.sentence;
    t.text = a.target;
    Hypothesis h;
    h.tokens = tok.tgt->encode(a.target);
    h.finished = true;
    ATTN_CHECK(static_cast<int64_t>(h.tokens.size()) + 1 <= info.max_len,
               "--target has {} tokens with </s>; the model's positions cover {}",
               h.tokens.size() + 1, info.max_len);
    std::vector<int32_t> fed = {info.decoder_start_id};
    fed.insert(fed.end(), h.tokens.begin(), h.tokens.end());
    t.tgt_pieces = tok.tgt->pieces(fed);
    t.hypotheses.push_back(std::move(h));
  }
  const auto src_ids = encode_source(*tok.src, a.sentence, info.max_len, info.eos_id);
  t.src_pieces = tok.src->pieces(src_ids);
  std::vector<int32_t> tgt_in, outputs;
  attribution_sequences(t, info.decoder_start_id, info.eos_id, tgt_in, outputs);
  const Attribution attr = attribute_tokens(*model, src_ids, tgt_in, outputs, opt);
  AttributionFileOptions fopt;
  fopt.pictures = !a.no_pictures;
  fopt.html = !a.no_html;
  const auto files = write_attribution_files(a.out, *model, src_ids, t, attr, opt, fopt);

  // The table: per output token, the source and target token with the largest |score|.
  const int64_t N = attr.outputs, Ts = static_cast<int64_t>(src_ids.size());
  std::cout << t.text << "\n";
  for (int64_t i = 0; i < N; ++i) {
    int64_t js = 0, jt = 0;
    for (int64_t j = 1; j < Ts; ++j)
      if (std::abs(attr.source[i * Ts + j]) > std::abs(attr.source[i * Ts + js])) js = j;
    for (int64_t j = 1; j <= i; ++j)
      if (std::abs(attr.target[i * N + j]) > std::abs(attr.target[i * N + jt])) jt = j;
    const std::string out_piece = tok.tgt->piece(outputs[static_cast<size_t>(i)]);
    fmt::print(
        "{:>3}  {:<14} log p {:8.4f}  top source {:<12} {:9.4f}  top target {:<12} {:9.4f}\n", i,
        out_piece, attr.log_prob[static_cast<size_t>(i)], t.src_pieces[static_cast<size_t>(js)],
        attr.source[i * Ts + js], t.tgt_pieces[static_cast<size_t>(jt)], attr.target[i * N + jt]);
  }
  if (opt.method == AttributionMethod::kIntegratedGradients)
    fmt::print("completeness gap: {:.1f}% ({} steps, {} baseline)\n", 100 * attr.completeness_gap,
               opt.steps, attribution_baseline_name(opt.baseline));
  std::cout.flush();
  fmt::print(stderr, "{} files in {}/\n", files.size(), a.out);
}

}  // namespace

void register_attribute(CLI::App& app) {
  auto a = std::make_shared<AttributeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "attribute",
      "Attribute each output token to the input: for every token of the translation (or of "
      "--target), a score for every source token and every earlier target token, from the "
      "gradient of the token's log-probability with respect to the input embeddings. Writes "
      "attribution.json, attribution.safetensors, attribution.png/.svg and attribution.html (the "
      "viewer, with the attention maps beside).");
  cmd->add_option("sentence", a->sentence, "The source sentence")->required();
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--target", a->target,
                  "Attribute this translation instead of the model's own (teacher-forced)");
  cmd->add_option("--method", a->method,
                  "saliency (‖gradient‖), input-x-gradient (Σ e·gradient, signed) or "
                  "integrated-gradients (signed; from the --baseline)")
      ->capture_default_str()
      ->check(CLI::IsMember({"saliency", "input-x-gradient", "integrated-gradients"}));
  a->steps_opt =
      cmd->add_option("--steps", a->steps,
                      "Integrated gradients: points of the path integral (Gauss–Legendre; more: a "
                      "smaller completeness gap, proportionally slower)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--baseline", a->baseline,
                  "Integrated gradients' starting input: pad (the pad token's embedding at every "
                  "position) or zero (zero embeddings)")
      ->capture_default_str()
      ->check(CLI::IsMember({"pad", "zero"}));
  cmd->add_option("--out", a->out, "Output folder")->capture_default_str();
  cmd->add_flag("--no-pictures", a->no_pictures, "Skip the PNG and SVG heatmap");
  cmd->add_flag("--no-html", a->no_html, "Skip the viewer attribution.html");
  add_decode_options(cmd, a->decode);
  add_mask_heads_option(cmd, a->mask_heads);
  cmd->callback([a] { run_attribute(*a); });
}

}  // namespace attnscope::app
