// attnscope score: BLEU and chrF of translations from any system (sacreBLEU's defaults), so
// that another toolkit's output is scored by exactly the metric attnscope eval uses.
#include <fmt/core.h>

#include <memory>

#include "app/commands.h"
#include "app/score_output.h"
#include "app/text_lines.h"
#include "app/tsv_columns.h"
#include "core/error.h"
#include "core/line_reader.h"
#include "data/corpus.h"
#include "eval/bleu.h"
#include "eval/chrf.h"

namespace attnscope::app {

namespace {

struct ScoreArgs {
  std::string hypotheses, references, data;
  TsvColumns columns;
  bool json = false;
};

// One sentence per line; "-" reads stdin. Invalid UTF-8 is an error naming file and line.
std::vector<std::string> read_lines(const std::string& path) {
  TextLines in(path);
  std::vector<std::string> lines;
  for (std::string line; in.next(line);) {
    // A cut would change the score: refused.
    ATTN_CHECK(!in.cut(), "{}:{}: a line longer than {} MiB is not a sentence to score", in.name(),
               in.line_number(), kMaxLineBytes >> 20);
    ATTN_CHECK(is_valid_utf8(line), "{}:{}: invalid UTF-8", in.name(), in.line_number());
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::string> read_references(const ScoreArgs& a) {
  if (!a.references.empty()) return read_lines(a.references);
  CorpusReport report;
  const auto pairs = read_tsv(a.data, a.columns.corpus_options(), report);
  // A skipped line would shift every later reference against its hypothesis.
  ATTN_CHECK(report.total_skipped() == 0,
             "{}\n{}: every line must be a usable pair to be matched with a hypothesis line",
             report.summary(), a.data);
  std::vector<std::string> refs;
  refs.reserve(pairs.size());
  for (const auto& p : pairs) refs.push_back(p.tgt);
  return refs;
}

void run_score(const ScoreArgs& a) {
  ATTN_CHECK(a.references.empty() != a.data.empty(),
             "score: give the references either as --references FILE or as --data TSV");
  a.columns.check();
  const std::vector<std::string> hyps = read_lines(a.hypotheses);
  const std::vector<std::string> refs = read_references(a);
  const std::string& ref_file = a.references.empty() ? a.data : a.references;
  ATTN_CHECK(hyps.size() == refs.size(),
             "{} has {} lines but {} has {} references: they must pair line by line", a.hypotheses,
             hyps.size(), ref_file, refs.size());
  ATTN_CHECK(!hyps.empty(), "{}: no sentences to score", a.hypotheses);
  const BleuScore bleu = corpus_bleu(hyps, refs);
  const double chrf = corpus_chrf(hyps, refs);
  print_scores(bleu, chrf, hyps.size(), a.json);
}

}  // namespace

void register_score(CLI::App& app) {
  auto a = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "score",
      "Score translations from any system with corpus BLEU (13a) and chrF2, as sacreBLEU: "
      "the metric of `attnscope eval`, without a model.");
  cmd->add_option("--hypotheses,-i", a->hypotheses, "Translations, one per line (- = stdin)")
      ->required();
  cmd->add_option("--references,-r", a->references, "References, one per line");
  cmd->add_option("--data", a->data, "Or a TSV test set: source<TAB>reference");
  add_tsv_column_options(cmd, a->columns, "TSV column of the source", "TSV column of the reference",
                         "Swap the columns' roles");
  cmd->add_flag("--json", a->json, "Print one JSON object");
  cmd->callback([a] { run_score(*a); });
}

}  // namespace attnscope::app
