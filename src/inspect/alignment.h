// Word alignments read from cross-attention, and how good they are (AER against a gold set).
//
// A cross-attention map of one sentence is [H, T, Ts] per decoder layer: its rows are the
// *fed* target tokens <s>, y1, …, y(T−1) and its columns the source pieces, the last one </s>.
// Row t is computed while the decoder predicts token t+1, so
//
//     output token y_i (i = 1, 2, …) is predicted at query row i − 1.
//
// soft_alignment() applies that shift: its row k (k = 0, 1, …) is output token y_(k+1), read
// from map row k; the eos the decoder emits after y_n is read from row n. (AlignOptions::shift
// instead reads y_i from row i, the row where y_i is the decoder's *input*: "Shift-Att",
// Chen et al. 2020, often aligns better because by then the decoder knows which word it wrote.)
//
// Every index is 0-based: layers, heads, target and source positions, and the links printed in
// Pharaoh / Moses format "src-tgt" (source index first, as fast_align, Moses and Marian's
// --alignment print them).
//
// Gold alignments index *words* (whitespace-separated tokens), the model sees SentencePiece
// pieces. word_index_of_pieces() maps each piece to its word (a piece that starts with "▁"
// starts a new word) and pool_to_words() turns a piece-level soft alignment into a word-level
// one: the source pieces of a word are summed (the mass the target token puts on the word), the
// rows of a target word's pieces are averaged (so word rows still sum to 1).
#pragma once

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "nn/transformer.h"

namespace attnscope {

// Which cross-attention map an alignment is read from.
struct AlignmentSource {
  enum class Kind { kHead, kLayerMean, kAllMean };
  Kind kind = Kind::kAllMean;
  int64_t layer = 0;  // kHead, kLayerMean (0-based decoder layer)
  int64_t head = 0;   // kHead (0-based)

  static AlignmentSource one_head(int64_t layer, int64_t head) {
    return {Kind::kHead, layer, head};
  }
  static AlignmentSource layer_mean(int64_t layer) { return {Kind::kLayerMean, layer, 0}; }
  static AlignmentSource all_mean() { return {Kind::kAllMean, 0, 0}; }
  // "layer 1 head 3", "layer 1 mean", "all layers mean"
  std::string name() const;
};

// The chosen map [T, Ts] from the per-layer cross-attention maps [H, T, Ts] of one sentence
// (a head's map, or the mean over a layer's heads, or over every head of every layer). Throws
// attnscope::Error naming the layer or head when it does not exist.
Tensor select_cross_map(const std::vector<Tensor>& cross, const AlignmentSource& source);

struct AlignOptions {
  // Drop the source </s> column (and renormalise each row over the real source pieces) and
  // align no target eos. false: keep the </s> column and add a last row for the eos the
  // decoder emitted after y_n (read from row n; needs T ≥ n + 1).
  bool skip_eos = true;
  // Read y_i from row i (where it is fed) instead of row i − 1 (where it is predicted).
  bool shift = false;
  // Hard links: 0 = the argmax source token of each target token (one link each);
  // > 0 = every source token whose weight is ≥ threshold (zero, one or several links).
  float threshold = 0.0f;
};

// map [T, Ts] (rows: the fed tokens; columns: source pieces ending in </s>), num_outputs = n,
// the output tokens y1..yn (without eos) → soft alignment [n (+1), Ts (−1)]: row k is the
// distribution of output token y_(k+1) over the source tokens, rows summing to 1. A row with no
// weight left after dropping </s> becomes uniform. Throws when the map has too few rows.
Tensor soft_alignment(const Tensor& map, int64_t num_outputs, const AlignOptions& opt);

// One link of a hard alignment: source position src aligned to target position tgt.
struct AlignmentLink {
  int64_t src = 0, tgt = 0;
  auto operator<=>(const AlignmentLink&) const = default;
};

// Per target row of soft [Tt, Ts], its argmax source column (the first one on ties); rows with
// no columns give no link. Links come in target order.
std::vector<AlignmentLink> hard_alignment(const Tensor& soft);
// Every (target row, source column) with weight ≥ threshold, in target order then source order.
std::vector<AlignmentLink> threshold_alignment(const Tensor& soft, float threshold);
// hard_alignment when opt.threshold is 0, threshold_alignment otherwise.
std::vector<AlignmentLink> extract_links(const Tensor& soft, const AlignOptions& opt);
// "0-0 1-2 2-1": Pharaoh format, source index first, in the order given.
std::string format_pharaoh(const std::vector<AlignmentLink>& links);

// The word of each piece: the first piece starts word 0, a piece starting with "▁" (U+2581)
// starts the next word, any other piece continues the current one; "<s>" and "</s>" are words
// of their own. {"▁the", "▁cat", "s", "▁sat", "</s>"} → {0, 1, 1, 2, 3}.
std::vector<int64_t> word_index_of_pieces(const std::vector<std::string>& pieces);
// The text of each word of a piece sequence, given word_index_of_pieces(pieces): the word's
// pieces joined without their "▁" ({"▁cat", "s"} → "cats").
std::vector<std::string> word_texts(const std::vector<std::string>& pieces,
                                    const std::vector<int64_t>& word);
// soft [Tt, Ts] over pieces → [Wt, Ws] over words, given the word of each target row
// (tgt_word, Tt entries) and of each source column (src_word, Ts entries), both as made by
// word_index_of_pieces (start at 0, each next entry equal or one more):
//   out[w, u] = mean over target pieces r of word w of Σ over source pieces c of word u soft[r, c].
Tensor pool_to_words(const Tensor& soft, const std::vector<int64_t>& tgt_word,
                     const std::vector<int64_t>& src_word);

// A gold alignment: sure links S and possible links P, with P ⊇ S (every sure link is also
// possible, as Och & Ney define them).
struct GoldAlignment {
  std::set<AlignmentLink> sure, possible;
};

// One line of a gold file: whitespace-separated pairs "i-j" (sure) or "i?j" / "ipj" (possible),
// i the source and j the target word index, counted from `base` (0 or 1; 1-based files are
// shifted to 0-based). An empty line is an empty alignment. Throws attnscope::Error starting
// with `where` ("gold.txt:3") and naming the malformed pair.
GoldAlignment parse_gold_alignment(std::string_view line, const std::string& where, int base = 0);
// Every line of a gold file. Throws naming the file (and line) when it cannot be read or a pair
// is malformed.
std::vector<GoldAlignment> read_gold_alignments(const std::string& path, int base = 0);

// The counts of the alignment error rate (Och & Ney 2003). Summed over sentences they give the
// corpus AER, which is what alignment papers report.
//   AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|)
struct AerCounts {
  int64_t a = 0;           // |A|, links proposed
  int64_t s = 0;           // |S|, sure gold links
  int64_t a_sure = 0;      // |A∩S|
  int64_t a_possible = 0;  // |A∩P|
  AerCounts& operator+=(const AerCounts& o);
  double aer() const;        // 0 when A and S are both empty
  double precision() const;  // |A∩P| / |A| (1 when A is empty)
  double recall() const;     // |A∩S| / |S| (1 when S is empty)
};
AerCounts aer_counts(const std::vector<AlignmentLink>& predicted, const GoldAlignment& gold);

// One sentence for alignment-head discovery.
struct AlignmentExample {
  std::vector<Tensor> cross;  // per decoder layer [H, T, Ts]: rows <s>, y1, …; columns end in </s>
  int64_t num_outputs = 0;    // n: output pieces y1..yn aligned (eos not counted)
  // The word of each row / column of soft_alignment's result (word_index_of_pieces of the
  // pieces it covers); both empty: the pieces are the words and are scored as they are.
  std::vector<int64_t> tgt_word, src_word;
  GoldAlignment gold;
};

// The hard links of one example read from one source: soft_alignment, pool_to_words when the
// example has word maps, extract_links.
std::vector<AlignmentLink> align_example(const AlignmentExample& ex, const AlignmentSource& source,
                                         const AlignOptions& opt);

// One sentence aligned as `attnscope align` prints it.
struct SentenceAlignment {
  Tensor soft;  // [target units, source units]: row k is output unit k over the source units
  std::vector<AlignmentLink> links;  // extract_links(soft)
  // The units: words (the pieces' texts joined), or the pieces themselves; with
  // AlignOptions::skip_eos false the source ends in </s> and the target in the emitted </s>.
  std::vector<std::string> src_labels, tgt_labels;
  // The word of each source / target piece (word_index_of_pieces); empty when aligning pieces.
  std::vector<int64_t> src_word, tgt_word;
};

// cross: per decoder layer [H, n + 1, Ts] (forced_cross_attention, or what beam search
// captured), src_pieces: the source pieces ending in </s>, out_pieces: the n output pieces y1..yn
// (no eos). Reads the map `source` names, applies soft_alignment (with opt), pools to words
// unless `pieces`, and extracts the links.
SentenceAlignment align_sentence(const std::vector<Tensor>& cross,
                                 std::vector<std::string> src_pieces,
                                 std::vector<std::string> out_pieces, const AlignmentSource& source,
                                 const AlignOptions& opt, bool pieces);

struct HeadScore {
  AlignmentSource source;
  AerCounts counts;  // summed over the examples
};

// Scores every (layer, head), every layer's mean over heads and the mean over all layers by
// corpus AER over the examples, best (lowest AER) first; ties keep that order. Every example
// must have the same number of layers and heads.
std::vector<HeadScore> rank_alignment_heads(const std::vector<AlignmentExample>& examples,
                                            const AlignOptions& opt);

// Teacher-forced cross-attention: for each sentence, the source ids (ending in eos) and the
// output ids y1..yn (no bos, no eos) → per decoder layer [H, n + 1, Ts], rows <s>, y1, …, yn
// (row n is where the eos is predicted). Runs the model's forward (inference) on batches of
// `batch` sentences; padding is cropped away. Equal to what beam search captures for the same
// output.
std::vector<std::vector<Tensor>> forced_cross_attention(
    Seq2SeqModel& model, const std::vector<std::vector<int32_t>>& src_ids,
    const std::vector<std::vector<int32_t>>& out_ids, int64_t batch = 32);

}  // namespace attnscope
