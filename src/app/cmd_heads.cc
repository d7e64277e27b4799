// attnscope heads: which attention heads matter — confidence, gradient importance and the BLEU/
// chrF change with each head alone masked, then a greedy pruning curve (inspect/head_analysis.h).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/decode_args.h"
#include "app/flag_checks.h"
#include "app/stdout_check.h"
#include "app/tsv_columns.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "data/corpus.h"
#include "eval/bleu.h"
#include "eval/chrf.h"
#include "inspect/head_analysis.h"
#include "inspect/heatmap.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct HeadsArgs {
  std::string model, data, out = "heads";
  int64_t limit = 0, prune_step = 0, grad_batch = 16;
  bool no_ablation = false, no_pruning = false;
  TsvColumns columns;
  DecodeFlags decode;
};

struct Scores {
  double bleu = 0, chrf = 0;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every gate 1, then 0 on the heads in `off`.
void set_gates(Seq2SeqModel& model, const std::vector<HeadId>& off) {
  const int64_t H = model.info().heads;
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < model.num_layers(kind); ++l) {
      std::vector<float> g(static_cast<size_t>(H), 1.0f);
      bool any = false;
      for (const HeadId& h : off)
        if (h.kind == kind && h.layer == l) {
          g[static_cast<size_t>(h.head)] = 0.0f;
          any = true;
        }
      model.set_head_gates(kind, l, any ? g : std::vector<float>{});
    }
}

void run_heads(const HeadsArgs& a) {
  a.columns.check();
  check_decode_flags(a.decode);
  const auto start = Clock::now();
  auto model = load_model(a.model);
  const ModelInfo info = model->info();
  if (!info.head_gates) {
    try {
      model->head_gates(AttentionKind::kCross, 0);
    } catch (const Error& e) {
      fail("heads: {} ({})", e.what(), a.model);
    }
  }
  const TranslateOptions topt = a.decode.options_for(info);
  const TokenizerPair tok = load_tokenizers(a.model);
  CorpusReport report;
  auto pairs = read_tsv(a.data, a.columns.corpus_options(), report);
  if (report.total_skipped()) fmt::print(stderr, "{}\n", report.summary());
  if (a.limit > 0 && static_cast<int64_t>(pairs.size()) > a.limit)
    pairs.resize(static_cast<size_t>(a.limit));
  ATTN_CHECK(!pairs.empty(), "{}: no sentence pairs", a.data);
  std::vector<std::string> sources, refs;
  std::vector<ReferencePair> ref_ids;
  for (const auto& p : pairs) {
    sources.push_back(p.src);
    refs.push_back(p.tgt);
    ReferencePair r;
    r.src = encode_source(*tok.src, p.src, info.max_len, info.eos_id);
    r.out = tok.tgt->encode(p.tgt);
    if (static_cast<int64_t>(r.out.size()) > info.max_len - 1)
      r.out.resize(static_cast<size_t>(info.max_len - 1));
    r.out.push_back(info.eos_id);
    ref_ids.push_back(std::move(r));
  }
  const std::vector<HeadId> heads = all_heads(*model);
  const size_t n_heads = heads.size();
  fmt::print(stderr, "{} heads, {} sentences of {}\n", n_heads, pairs.size(), a.data);

  auto score = [&]() {
    std::vector<std::string> hyps;
    for (const auto& t : translate_sentences(*model, *tok.src, *tok.tgt, sources, topt))
      hyps.push_back(t.text);
    return Scores{corpus_bleu(hyps, refs).score, corpus_chrf(hyps, refs)};
  };

  auto t0 = Clock::now();
  const HeadStats stats = head_confidence_and_importance(*model, ref_ids, a.grad_batch);
  const double t_grad = seconds_since(t0);
  t0 = Clock::now();
  const Scores base = score();
  const double t_base = seconds_since(t0);
  fmt::print(stderr, "importance and confidence: {:.1f} s; one scoring pass: {:.1f} s\n", t_grad,
             t_base);

  // Each head alone masked.
  std::vector<Scores> ablated(n_heads);
  t0 = Clock::now();
  if (!a.no_ablation)
    for (size_t k = 0; k < n_heads; ++k) {
      set_gates(*model, {heads[k]});
      ablated[k] = score();
    }
  set_gates(*model, {});
  const double t_ablation = seconds_since(t0);

  // Greedy pruning: drop the least important remaining heads (importance recomputed with the
  // pruned heads off), re-score.
  struct PrunePoint {
    int64_t kept = 0;
    Scores s;
    double loss = 0;
    std::vector<HeadId> removed;
  };
  std::vector<PrunePoint> curve;
  t0 = Clock::now();
  if (!a.no_pruning) {
    const int64_t step =
        a.prune_step > 0
            ? a.prune_step
            : std::max<int64_t>(
                  1, static_cast<int64_t>(std::ceil(0.1 * static_cast<double>(n_heads))));
    std::vector<HeadId> off;
    std::vector<bool> is_off(n_heads, false);
    curve.push_back({static_cast<int64_t>(n_heads), base, stats.loss, {}});
    HeadStats now = stats;
    while (off.size() < n_heads) {
      std::vector<size_t> remaining;
      for (size_t k = 0; k < n_heads; ++k)
        if (!is_off[k]) remaining.push_back(k);
      std::stable_sort(remaining.begin(), remaining.end(),
                       [&](size_t x, size_t y) { return now.importance[x] < now.importance[y]; });
      PrunePoint p;
      for (size_t i = 0; i < remaining.size() && static_cast<int64_t>(i) < step; ++i) {
        is_off[remaining[i]] = true;
        off.push_back(heads[remaining[i]]);
        p.removed.push_back(heads[remaining[i]]);
      }
      set_gates(*model, off);
      p.kept = static_cast<int64_t>(n_heads - off.size());
      p.s = score();
      now = head_confidence_and_importance(*model, ref_ids, a.grad_batch);
      p.loss = now.loss;
      curve.push_back(std::move(p));
    }
    set_gates(*model, {});
  }
  const double t_pruning = seconds_since(t0);

  // The table.
  std::string table =
      fmt::format("baseline: BLEU {:.2f}  chrF {:.2f}  loss {:.4f} ({} sentences)\n", base.bleu,
                  base.chrf, stats.loss, pairs.size());
  table += fmt::format("{:<18} {:>10} {:>12} {:>8} {:>8}\n", "head", "confidence", "importance",
                       "ΔBLEU", "ΔchrF");
  for (size_t k = 0; k < n_heads; ++k) {
    table += fmt::format("{:<18} {:>10.3f} {:>12.4f}", head_id_name(heads[k]), stats.confidence[k],
                         stats.importance[k]);
    if (a.no_ablation)
      table += fmt::format(" {:>8} {:>8}\n", "-", "-");
    else
      table += fmt::format(" {:>+8.2f} {:>+8.2f}\n", ablated[k].bleu - base.bleu,
                           ablated[k].chrf - base.chrf);
  }
  if (!curve.empty()) {
    table += "pruning (least important first):\n";
    table += fmt::format("{:>10} {:>8} {:>8} {:>8}\n", "heads kept", "BLEU", "chrF", "loss");
    for (const PrunePoint& p : curve)
      table +=
          fmt::format("{:>10} {:>8.2f} {:>8.2f} {:>8.4f}\n", p.kept, p.s.bleu, p.s.chrf, p.loss);
  }
  std::cout << table;
  check_stdout("the head table");

  // heads.json
  nlohmann::json j = {
      {"model", fs::path(a.model).filename().string()},
      {"data", fs::path(a.data).filename().string()},
      {"sentences", pairs.size()},
      {"beam", topt.decode.beam},
      {"baseline", {{"bleu", base.bleu}, {"chrf", base.chrf}, {"loss", stats.loss}}},
      {"importance",
       "mean over sentences of |dL/dgate|, L the summed NLL of the "
       "reference (Michel et al. 2019)"},
      {"confidence",
       "mean over query positions of the largest weight (Voita et "
       "al. 2019)"}};
  nlohmann::json list = nlohmann::json::array();
  for (size_t k = 0; k < n_heads; ++k) {
    nlohmann::json h = {{"kind", attention_kind_name(heads[k].kind)},
                        {"layer", heads[k].layer},
                        {"head", heads[k].head},
                        {"confidence", stats.confidence[k]},
                        {"importance", stats.importance[k]}};
    if (!a.no_ablation) {
      h["masked_bleu"] = ablated[k].bleu;
      h["masked_chrf"] = ablated[k].chrf;
      h["bleu_change"] = ablated[k].bleu - base.bleu;
      h["chrf_change"] = ablated[k].chrf - base.chrf;
    }
    list.push_back(h);
  }
  j["heads"] = list;
  nlohmann::json pr = nlohmann::json::array();
  for (const PrunePoint& p : curve) {
    std::vector<std::string> removed;
    for (const HeadId& h : p.removed) removed.push_back(head_id_name(h));
    pr.push_back({{"heads_kept", p.kept},
                  {"bleu", p.s.bleu},
                  {"chrf", p.s.chrf},
                  {"loss", p.loss},
                  {"removed", removed}});
  }
  j["pruning"] = pr;
  j["seconds"] = {{"importance", t_grad},
                  {"one_scoring_pass", t_base},
                  {"ablation", t_ablation},
                  {"pruning", t_pruning},
                  {"total", seconds_since(start)}};
  std::error_code ec;
  fs::create_directories(a.out, ec);
  ATTN_CHECK(!ec, "cannot create {}: {}", a.out, ec.message());
  write_file_atomically((fs::path(a.out) / "heads.json").string(), j.dump(1) + "\n");

  // heads.png: one panel per kind, layers × heads, coloured by importance (one scale).
  std::vector<AttentionKind> kinds;
  int64_t max_layers = 0;
  for (AttentionKind kind : kAllAttentionKinds)
    if (model->num_layers(kind) > 0) {
      kinds.push_back(kind);
      max_layers = std::max(max_layers, model->num_layers(kind));
    }
  HeatmapGrid g;
  g.title = fmt::format("head importance |∂L/∂gate| — {} on {} sentences",
                        fs::path(a.model).filename().string(), pairs.size());
  g.subtitle =
      "rows: layers · columns: heads · one scale for every kind · a hatched cell: no such "
      "layer";
  g.cols = static_cast<int64_t>(kinds.size());
  float vmax = 0;
  for (double v : stats.importance) vmax = std::max(vmax, static_cast<float>(v));
  for (AttentionKind kind : kinds) {
    Tensor p({max_layers, info.heads});
    for (size_t k = 0; k < n_heads; ++k)
      if (heads[k].kind == kind)
        p[heads[k].layer * info.heads + heads[k].head] = static_cast<float>(stats.importance[k]);
    g.panels.push_back(std::move(p));
    g.col_titles.push_back(std::string(attention_kind_name(kind)));
  }
  for (int64_t l = 0; l < max_layers; ++l) g.row_labels.push_back(fmt::format("layer {}", l));
  for (int64_t h = 0; h < info.heads; ++h) g.col_labels.push_back(fmt::format("head {}", h));
  g.vmax = vmax > 0 ? vmax : 1.0f;
  g.bar_caption = "importance";
  write_heatmap_png((fs::path(a.out) / "heads.png").string(), g);
  write_heatmap_svg((fs::path(a.out) / "heads.svg").string(), g);
  fmt::print(stderr,
             "{}/heads.json, heads.png, heads.svg · {:.1f} s in all (importance {:.1f} s, "
             "ablation {:.1f} s, pruning {:.1f} s)\n",
             a.out, seconds_since(start), t_grad, t_ablation, t_pruning);
}

}  // namespace

void register_heads(CLI::App& app) {
  auto a = std::make_shared<HeadsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "heads",
      "Which attention heads matter, on a TSV of sentence pairs: per head its confidence (mean "
      "largest weight), its importance (|∂loss/∂gate| on the references, teacher-forced) and the "
      "BLEU/chrF change with that head alone masked; then greedy pruning (the least important "
      "heads first) as BLEU vs heads kept. A table on stdout, heads.json and heads.png/.svg in "
      "--out.");
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--data", a->data, "Sentence pairs: source<TAB>reference")->required();
  add_tsv_column_options(cmd, a->columns, "TSV column of the source", "TSV column of the reference",
                         "Swap the columns' roles");
  cmd->add_option("--limit", a->limit, "Use the first N pairs only (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxCountFlag));
  cmd->add_option("--out", a->out, "Output folder")->capture_default_str();
  cmd->add_option("--prune-step", a->prune_step,
                  "Heads dropped per pruning step (0: a tenth of the heads)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--grad-batch", a->grad_batch,
                  "Sentences per teacher-forced pass of the importance")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_flag("--no-ablation", a->no_ablation, "Skip the one-head-masked scoring passes");
  cmd->add_flag("--no-pruning", a->no_pruning, "Skip the pruning curve");
  add_decode_options(cmd, a->decode);
  cmd->callback([a] { run_heads(*a); });
}

}  // namespace attnscope::app
