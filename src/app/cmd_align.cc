// attnscope align: word alignments from cross-attention, and which heads align best (AER
// against gold alignments). See inspect/alignment.h for the conventions (the off-by-one
// between a map's rows and the output tokens, Pharaoh "src-tgt" links, pieces → words).
#include <fmt/core.h>

#include <memory>

#include "app/align_checks.h"
#include "app/commands.h"
#include "app/decode_args.h"
#include "app/device_args.h"
#include "app/flag_checks.h"
#include "app/text_lines.h"
#include "core/error.h"
#include "data/corpus.h"
#include "data/sentence_cut.h"
#include "inspect/alignment.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

struct AlignArgs {
  std::string model, data, gold;
  int64_t layer = 0, head = 0, mean_layer = 0;
  bool mean_all = false, soft = false, force_target = false, pieces = false, keep_eos = false;
  bool shift = false;
  float threshold = 0.0f;
  int gold_base = 0;
  DecodeFlags decode;
  std::string mask_heads;
  CLI::Option *layer_opt = nullptr, *head_opt = nullptr, *mean_layer_opt = nullptr;
};

struct InputLine {
  std::string src, tgt;
  bool has_tgt = false;
};

std::vector<InputLine> read_input(const std::string& path, bool need_target) {
  TextLines in(path);
  std::vector<InputLine> lines;
  for (std::string line; in.next(line);) {
    ATTN_CHECK(is_valid_utf8(line), "{}:{}: not valid UTF-8", in.name(), in.line_number());
    InputLine l;
    const size_t tab = line.find('\t');
    l.src = line.substr(0, tab);
    if (tab != std::string::npos) {
      l.has_tgt = true;
      l.tgt = line.substr(tab + 1);
      l.tgt = l.tgt.substr(0, l.tgt.find('\t'));  // further columns are ignored
    }
    ATTN_CHECK(l.has_tgt || !need_target,
               "{}:{}: no target (source<TAB>target) to force; --force-target and --gold align "
               "the given target",
               in.name(), in.line_number());
    lines.push_back(std::move(l));
  }
  if (!in.cut_note().empty()) fmt::print(stderr, "attnscope: {}\n", in.cut_note());
  return lines;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

AlignmentSource chosen_source(const AlignArgs& a) {
  if (a.layer_opt->count() > 0) return AlignmentSource::one_head(a.layer, a.head);
  if (a.mean_layer_opt->count() > 0) return AlignmentSource::layer_mean(a.mean_layer);
  return AlignmentSource::all_mean();
}

void run_align(const AlignArgs& a) {
  const bool gold = !a.gold.empty();
  const bool force = a.force_target || gold;  // gold links index the reference's words
  check_align_flags({a.data, a.gold, a.gold_base, a.threshold});
  check_decode_flags(a.decode);
  auto model = load_model(a.model);
  apply_mask_heads(*model, a.mask_heads);
  const TokenizerPair tok = load_tokenizers(a.model);
  const ModelInfo cfg = model->info();
  const TranslateOptions topt = a.decode.options_for(cfg);
  const std::vector<InputLine> lines = read_input(a.data, force);
  const std::string in_name = a.data.empty() ? "stdin" : a.data;

  std::vector<std::vector<int32_t>> src_ids, out_ids;
  std::vector<bool> truncated;
  std::vector<std::string> translations;
  for (const auto& l : lines) {
    src_ids.push_back(encode_source(*tok.src, l.src, cfg.max_len, cfg.eos_id));
    truncated.push_back(
        static_cast<int64_t>(
            tok.src->encode(std::string(text_for_tokens(l.src, cfg.max_len))).size()) >
        cfg.max_len - 1);
  }
  if (force) {
    for (size_t i = 0; i < lines.size(); ++i) {
      std::vector<int32_t> ids =
          tok.tgt->encode(std::string(text_for_tokens(lines[i].tgt, cfg.max_len)));
      if (static_cast<int64_t>(ids.size()) > cfg.max_len - 1) {
        ids.resize(static_cast<size_t>(cfg.max_len - 1));
        truncated[i] = true;
      }
      out_ids.push_back(std::move(ids));
    }
  } else {
    std::vector<std::string> sources;
    for (const auto& l : lines) sources.push_back(l.src);
    const auto tr = translate_sentences(*model, *tok.src, *tok.tgt, sources, topt);
    for (const auto& t : tr) {
      std::vector<int32_t> ids;
      if (!t.hypotheses.empty()) ids = t.hypotheses.front().tokens;
      if (static_cast<int64_t>(ids.size()) > cfg.max_len - 1)
        ids.resize(static_cast<size_t>(cfg.max_len - 1));
      out_ids.push_back(std::move(ids));
      translations.push_back(t.text);
    }
  }
  const auto cross = forced_cross_attention(*model, src_ids, out_ids, topt.batch_sentences);

  AlignOptions opt;
  opt.skip_eos = !a.keep_eos;
  opt.shift = a.shift;
  opt.threshold = a.threshold;
  std::vector<GoldAlignment> golds;
  if (gold) {
    golds = read_gold_alignments(a.gold, a.gold_base);
    check_gold_line_count(a.gold, golds.size(), in_name, lines.size());
  }
  std::vector<AlignmentExample> examples;
  GoldTally tally(a.gold, a.pieces, a.gold_base);
  const AlignmentSource source = chosen_source(a);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = fmt::format("{}:{}", in_name, i + 1);
    // With --gold every head is ranked: the chosen map is not read (all_mean always exists).
    const SentenceAlignment sa =
        align_sentence(cross[i], tok.src->pieces(src_ids[i]), tok.tgt->pieces(out_ids[i]),
                       gold ? AlignmentSource::all_mean() : source, opt, a.pieces);
    const std::vector<std::string>& src_labels = sa.src_labels;
    const std::vector<std::string>& tgt_labels = sa.tgt_labels;
    AlignmentExample ex;
    ex.cross = cross[i];
    ex.num_outputs = static_cast<int64_t>(out_ids[i].size());
    ex.src_word = sa.src_word;
    ex.tgt_word = sa.tgt_word;
    if (gold) {
      ex.gold = golds[i];
      GoldPair pair;
      pair.where = where;
      pair.line = static_cast<int64_t>(i) + 1;
      pair.truncated = truncated[i];
      // The eos label (kept with --keep-eos) is no word of the text.
      pair.src_units = static_cast<int64_t>(src_labels.size()) - (opt.skip_eos ? 0 : 1);
      pair.tgt_units = static_cast<int64_t>(tgt_labels.size()) - (opt.skip_eos ? 0 : 1);
      pair.src_words = count_words(lines[i].src);
      pair.tgt_words = count_words(lines[i].tgt);
      pair.gold = &ex.gold;
      if (tally.admit(pair)) examples.push_back(std::move(ex));
      continue;
    }
    const Tensor& soft = sa.soft;
    if (a.soft) {
      // One block per sentence: the source tokens, then one row per target token.
      fmt::print("# {}\t{}\n", i + 1, join(src_labels));
      const int64_t C = soft.dim(1);
      for (int64_t r = 0; r < soft.dim(0); ++r) {
        std::string row = tgt_labels[static_cast<size_t>(r)] + "\t";
        for (int64_t c = 0; c < C; ++c)
          row += fmt::format("{}{:.3f}", c ? " " : "", soft[r * C + c]);
        fmt::print("{}\n", row);
      }
      fmt::print("\n");
      continue;
    }
    const std::string links = format_pharaoh(sa.links);
    if (force)
      fmt::print("{}\n", links);
    else
      fmt::print("{} ||| {}\n", translations[i], links);
  }
  if (!gold) return;

  for (const std::string& note : tally.notes(cfg.max_len))
    fmt::print(stderr, "attnscope: {}\n", note);
  tally.check_some_scored();
  const auto ranked = rank_alignment_heads(examples, opt);
  fmt::print(
      "AER of every cross-attention source over {} sentence pair(s), {} level, {}{}; "
      "best first:\n",
      examples.size(), a.pieces ? "piece" : "word",
      a.threshold > 0 ? fmt::format("links with weight ≥ {}", a.threshold)
                      : std::string("argmax links"),
      a.shift ? ", shifted rows" : "");
  fmt::print("{:>4}  {:<18} {:>7} {:>9} {:>7} {:>7}\n", "rank", "source", "AER", "precision",
             "recall", "links");
  for (size_t r = 0; r < ranked.size(); ++r) {
    const HeadScore& s = ranked[r];
    fmt::print("{:>4}  {:<18} {:>7.4f} {:>9.4f} {:>7.4f} {:>7}\n", r + 1, s.source.name(),
               s.counts.aer(), s.counts.precision(), s.counts.recall(), s.counts.a);
  }
  // The best source, as the flags that align new sentences with it.
  const AlignmentSource& best = ranked.front().source;
  fmt::print("best: {} (AER {:.4f}); align with it: attnscope align --model {} {}{}\n", best.name(),
             ranked.front().counts.aer(), a.model, align_source_flags(best),
             a.pieces ? " --pieces" : "");
}

}  // namespace

void register_align(CLI::App& app) {
  auto a = std::make_shared<AlignArgs>();
  CLI::App* cmd = app.add_subcommand(
      "align",
      "Word alignments from cross-attention, one line per sentence in Pharaoh format "
      "\"src-tgt\"\n"
      "(0-based, source index first). Sentences come from stdin or --data (TSV: "
      "source[<TAB>target]).\n"
      "By default the model translates each sentence and the line is \"translation ||| "
      "links\"; with\n"
      "--force-target the given target is fed (teacher forcing) and the line is the links.\n"
      "Output token y_i is aligned with the cross-attention row that predicts it (row i−1; "
      "--shift: row i).\n"
      "With --gold: the AER of every (layer, head), each layer's mean and the overall mean, "
      "best first.");
  cmd->add_option("--model", a->model, "Model directory")->required();
  a->layer_opt = cmd->add_option("--layer", a->layer, "Decoder layer of the head to read (0-based)")
                     ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  a->head_opt = cmd->add_option("--head", a->head, "Head to read within --layer (0-based)")
                    ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  a->layer_opt->needs(a->head_opt);
  a->head_opt->needs(a->layer_opt);
  a->mean_layer_opt =
      cmd->add_option("--mean-layer", a->mean_layer, "Read the mean over this layer's heads")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  CLI::Option* mean_all = cmd->add_flag(
      "--mean-all", a->mean_all, "Read the mean over every head of every layer (the default)");
  a->mean_layer_opt->excludes(a->layer_opt)->excludes(mean_all);
  mean_all->excludes(a->layer_opt);
  cmd->add_flag("--soft", a->soft,
                "Print the soft alignment: per sentence a '# n<TAB>source tokens' line, then one "
                "line per target token with its weights over the source tokens");
  cmd->add_option("--threshold", a->threshold,
                  "Link every source token with weight ≥ T (0 = the argmax, one link per target "
                  "token)")
      ->capture_default_str()
      ->check(finite_range(0, 1));
  cmd->add_flag("--shift", a->shift,
                "Align y_i with the row where it is fed (row i) instead of the row that predicts "
                "it (row i−1)");
  cmd->add_flag("--pieces", a->pieces,
                "Align SentencePiece pieces instead of words (a piece starting with ▁ starts a "
                "word)");
  cmd->add_flag("--keep-eos", a->keep_eos,
                "Keep the source </s> column and align the target eos too");
  cmd->add_option("--data", a->data, "Read source<TAB>target lines from this file, not stdin");
  cmd->add_flag("--force-target", a->force_target,
                "Align the given target (teacher-forced) instead of the model's translation");
  cmd->add_option("--gold", a->gold,
                  "Gold alignments, one line per --data line (\"i-j\" sure, \"i?j\"/\"ipj\" "
                  "possible, source first): print the AER table (implies --force-target)");
  cmd->add_option("--gold-base", a->gold_base, "Index base of the gold file: 0 or 1")
      ->capture_default_str()
      ->check(CLI::IsMember({0, 1}));
  add_decode_options(cmd, a->decode);
  add_mask_heads_option(cmd, a->mask_heads);
  cmd->callback([a] { run_align(*a); });
}

}  // namespace attnscope::app
