// attnscope eval: translate a test set and score it with BLEU and chrF (sacreBLEU-compatible).
#include <fmt/core.h>

#include <memory>

#include "app/commands.h"
#include "app/decode_args.h"
#include "app/device_args.h"
#include "app/score_output.h"
#include "app/tsv_columns.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "data/corpus.h"
#include "eval/bleu.h"
#include "eval/chrf.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

struct EvalArgs {
  std::string model, data, hypotheses;
  TsvColumns columns;
  bool json = false;
  DecodeFlags decode;
  DeviceArgs device;
};

void run_eval(const EvalArgs& a) {
  a.columns.check();
  check_decode_flags(a.decode);
  auto model = load_model_on(a.model, a.device);
  const TranslateOptions opt = a.decode.options_for(model->info());
  const TokenizerPair tok = load_tokenizers(a.model);
  CorpusReport report;
  const auto pairs = read_tsv(a.data, a.columns.corpus_options(), report);
  if (report.total_skipped()) fmt::print(stderr, "{}\n", report.summary());
  std::vector<std::string> sources, refs, hyps;
  for (const auto& p : pairs) {
    sources.push_back(p.src);
    refs.push_back(p.tgt);
  }
  for (const auto& t : translate_sentences(*model, *tok.src, *tok.tgt, sources, opt))
    hyps.push_back(t.text);
  if (!a.hypotheses.empty()) {
    std::string text;
    for (const auto& h : hyps) text += h + "\n";
    write_file_atomically(a.hypotheses, text);
  }
  const BleuScore bleu = corpus_bleu(hyps, refs);
  const double chrf = corpus_chrf(hyps, refs);
  print_scores(bleu, chrf, hyps.size(), a.json, static_cast<int>(opt.decode.beam));
}

}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Translate a TSV test set and print corpus BLEU (13a) and chrF2, as sacreBLEU.");
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--data", a->data, "Test pairs: source<TAB>reference")->required();
  add_tsv_column_options(cmd, a->columns, "TSV column of the source", "TSV column of the reference",
                         "Swap the columns' roles");
  cmd->add_option("--hypotheses", a->hypotheses, "Also write the translations to this file");
  cmd->add_flag("--json", a->json, "Print one JSON object");
  add_decode_options(cmd, a->decode);
  add_device_options(cmd, a->device);
  add_mask_heads_option(cmd, a->device.mask_heads);
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace attnscope::app
