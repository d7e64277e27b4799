#include "inspect/alignment.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "core/error.h"

namespace attnscope {

std::string AlignmentSource::name() const {
  switch (kind) {
    case Kind::kHead:
      return fmt::format("layer {} head {}", layer, head);
    case Kind::kLayerMean:
      return fmt::format("layer {} mean", layer);
    case Kind::kAllMean:
      return "all layers mean";
  }
  return "?";
}

namespace {

void check_cross(const std::vector<Tensor>& cross) {
  ATTN_CHECK(!cross.empty(), "no cross-attention maps (the model has no decoder layers?)");
  const Shape& s0 = cross[0].shape();
  for (size_t l = 0; l < cross.size(); ++l)
    ATTN_CHECK(cross[l].rank() == 3 && cross[l].shape() == s0,
               "cross-attention map of layer {} is {}, expected [H, T, Ts] like layer 0's {}", l,
               cross[l].shape_str(), shape_str(s0));
}

// out [T, Ts] += scale · map[h] for each head h in [h0, h1)
void add_heads(const Tensor& m, int64_t h0, int64_t h1, float scale, Tensor& out) {
  const int64_t n = m.dim(1) * m.dim(2);
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t i = 0; i < n; ++i) out[i] += scale * m[h * n + i];
}

}  // namespace

Tensor select_cross_map(const std::vector<Tensor>& cross, const AlignmentSource& source) {
  check_cross(cross);
  const int64_t L = static_cast<int64_t>(cross.size()), H = cross[0].dim(0);
  Tensor out({cross[0].dim(1), cross[0].dim(2)});
  if (source.kind != AlignmentSource::Kind::kAllMean)
    ATTN_CHECK(source.layer >= 0 && source.layer < L,
               "layer {} does not exist: the decoder has layers 0..{}", source.layer, L - 1);
  switch (source.kind) {
    case AlignmentSource::Kind::kHead:
      ATTN_CHECK(source.head >= 0 && source.head < H,
                 "head {} does not exist: each layer has heads 0..{}", source.head, H - 1);
      add_heads(cross[source.layer], source.head, source.head + 1, 1.0f, out);
      break;
    case AlignmentSource::Kind::kLayerMean:
      add_heads(cross[source.layer], 0, H, 1.0f / static_cast<float>(H), out);
      break;
    case AlignmentSource::Kind::kAllMean:
      for (const Tensor& m : cross) add_heads(m, 0, H, 1.0f / static_cast<float>(H * L), out);
      break;
  }
  return out;
}

Tensor soft_alignment(const Tensor& map, int64_t num_outputs, const AlignOptions& opt) {
  ATTN_CHECK(map.rank() == 2, "soft_alignment needs one map [T, Ts], got {}", map.shape_str());
  ATTN_CHECK(num_outputs >= 0, "negative number of output tokens {}", num_outputs);
  const int64_t T = map.dim(0), Ts = map.dim(1);
  ATTN_CHECK(Ts >= 1, "the cross-attention map has no source column (not even </s>)");
  const int64_t rows = num_outputs + (opt.skip_eos ? 0 : 1);
  const int64_t first = opt.shift ? 1 : 0;  // map row of output row 0
  ATTN_CHECK(first + rows <= T,
             "the cross-attention map has {} rows (fed tokens); aligning {} output token(s){} "
             "{} needs {}",
             T, num_outputs, opt.skip_eos ? "" : " and the eos",
             opt.shift ? "at the rows where they are fed" : "at the rows that predict them",
             first + rows);
  const int64_t cols = opt.skip_eos ? Ts - 1 : Ts;
  Tensor out({rows, cols});
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = map.data() + (first + r) * Ts;
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += in[j];
    for (int64_t j = 0; j < cols; ++j)
      out[r * cols + j] =
          sum > 0 ? static_cast<float>(in[j] / sum) : 1.0f / static_cast<float>(cols);
  }
  return out;
}

std::vector<AlignmentLink> hard_alignment(const Tensor& soft) {
  ATTN_CHECK(soft.rank() == 2, "a soft alignment is [Tt, Ts], got {}", soft.shape_str());
  const int64_t R = soft.dim(0), C = soft.dim(1);
  std::vector<AlignmentLink> links;
  if (C == 0) return links;
  for (int64_t r = 0; r < R; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c)
      if (soft[r * C + c] > soft[r * C + best]) best = c;
    links.push_back({best, r});
  }
  return links;
}

std::vector<AlignmentLink> threshold_alignment(const Tensor& soft, float threshold) {
  ATTN_CHECK(soft.rank() == 2, "a soft alignment is [Tt, Ts], got {}", soft.shape_str());
  const int64_t R = soft.dim(0), C = soft.dim(1);
  std::vector<AlignmentLink> links;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      if (soft[r * C + c] >= threshold) links.push_back({c, r});
  return links;
}

std::vector<AlignmentLink> extract_links(const Tensor& soft, const AlignOptions& opt) {
  ATTN_CHECK(opt.threshold >= 0 && opt.threshold <= 1,
             "alignment threshold {} is outside [0, 1] (0 = argmax)", opt.threshold);
  return opt.threshold > 0 ? threshold_alignment(soft, opt.threshold) : hard_alignment(soft);
}

std::string format_pharaoh(const std::vector<AlignmentLink>& links) {
  std::string s;
  for (const AlignmentLink& l : links) {
    if (!s.empty()) s += ' ';
    s += fmt::format("{}-{}", l.src, l.tgt);
  }
  return s;
}

std::vector<int64_t> word_index_of_pieces(const std::vector<std::string>& pieces) {
  static const std::string kWordStart = "\xE2\x96\x81";  // ▁ U+2581
  std::vector<int64_t> word;
  word.reserve(pieces.size());
  int64_t w = -1;
  bool after_special = false;
  for (const std::string& p : pieces) {
    const bool special = p == "<s>" || p == "</s>";
    if (w < 0 || special || after_special || p.starts_with(kWordStart)) ++w;
    after_special = special;
    word.push_back(w);
  }
  return word;
}

std::vector<std::string> word_texts(const std::vector<std::string>& pieces,
                                    const std::vector<int64_t>& word) {
  static const std::string kWordStart = "\xE2\x96\x81";
  ATTN_CHECK(word.size() == pieces.size(), "{} word indices for {} pieces", word.size(),
             pieces.size());
  std::vector<std::string> out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (static_cast<int64_t>(out.size()) <= word[i]) out.emplace_back();
    std::string p = pieces[i];
    if (p.starts_with(kWordStart)) p = p.substr(kWordStart.size());
    out.back() += p;
  }
  return out;
}

SentenceAlignment align_sentence(const std::vector<Tensor>& cross,
                                 std::vector<std::string> src_pieces,
                                 std::vector<std::string> out_pieces, const AlignmentSource& source,
                                 const AlignOptions& opt, bool pieces) {
  SentenceAlignment a;
  const auto n = static_cast<int64_t>(out_pieces.size());
  ATTN_CHECK(!src_pieces.empty(), "no source pieces to align to (not even </s>)");
  if (opt.skip_eos) src_pieces.pop_back();
  if (!opt.skip_eos) out_pieces.push_back("</s>");
  a.soft = soft_alignment(select_cross_map(cross, source), n, opt);
  a.src_labels = src_pieces;
  a.tgt_labels = out_pieces;
  if (!pieces) {
    a.src_word = word_index_of_pieces(src_pieces);
    a.tgt_word = word_index_of_pieces(out_pieces);
    a.src_labels = word_texts(src_pieces, a.src_word);
    a.tgt_labels = word_texts(out_pieces, a.tgt_word);
    a.soft = pool_to_words(a.soft, a.tgt_word, a.src_word);
  }
  a.links = extract_links(a.soft, opt);
  return a;
}

namespace {
// Checks a word map made by word_index_of_pieces; returns the number of words.
int64_t check_word_map(const std::vector<int64_t>& m, int64_t n, const char* what) {
  ATTN_CHECK(static_cast<int64_t>(m.size()) == n, "the {} word map has {} entries for {} {} pieces",
             what, m.size(), n, what);
  for (size_t i = 0; i < m.size(); ++i) {
    const int64_t prev = i == 0 ? -1 : m[i - 1];
    ATTN_CHECK(
        m[i] == prev || m[i] == prev + 1,
        "the {} word map is not 0, then equal or one more each time: entry {} is {} after {}", what,
        i, m[i], prev);
  }
  return m.empty() ? 0 : m.back() + 1;
}
}  // namespace

Tensor pool_to_words(const Tensor& soft, const std::vector<int64_t>& tgt_word,
                     const std::vector<int64_t>& src_word) {
  ATTN_CHECK(soft.rank() == 2, "a soft alignment is [Tt, Ts], got {}", soft.shape_str());
  const int64_t R = soft.dim(0), C = soft.dim(1);
  const int64_t Wt = check_word_map(tgt_word, R, "target");
  const int64_t Ws = check_word_map(src_word, C, "source");
  Tensor out({Wt, Ws});
  std::vector<int64_t> pieces_in(static_cast<size_t>(Wt), 0);
  for (int64_t r = 0; r < R; ++r) {
    const int64_t w = tgt_word[r];
    ++pieces_in[w];
    for (int64_t c = 0; c < C; ++c) out[w * Ws + src_word[c]] += soft[r * C + c];
  }
  for (int64_t w = 0; w < Wt; ++w)
    for (int64_t u = 0; u < Ws; ++u) out[w * Ws + u] /= static_cast<float>(pieces_in[w]);
  return out;
}

GoldAlignment parse_gold_alignment(std::string_view line, const std::string& where, int base) {
  ATTN_CHECK(base == 0 || base == 1, "gold alignment index base must be 0 or 1, not {}", base);
  GoldAlignment g;
  size_t pos = 0;
  auto bad = [&](std::string_view tok, const std::string& why) {
    fail(
        "{}: malformed alignment pair '{}': {} (expected i-j for a sure link, i?j or ipj for a "
        "possible one, source index first, counted from {})",
        where, tok, why, base);
  };
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) ++pos;
    if (pos >= line.size()) break;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') ++end;
    const std::string_view tok = line.substr(pos, end - pos);
    pos = end;
    const size_t sep = tok.find_first_of("-?p");
    if (sep == std::string_view::npos) bad(tok, "no '-', '?' or 'p' between the indices");
    const bool sure = tok[sep] == '-';
    int64_t idx[2] = {0, 0};
    const std::string_view parts[2] = {tok.substr(0, sep), tok.substr(sep + 1)};
    for (int k = 0; k < 2; ++k) {
      const std::string_view p = parts[k];
      const char* what = k == 0 ? "source" : "target";
      if (p.empty()) bad(tok, fmt::format("the {} index is missing", what));
      const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), idx[k]);
      if (ec != std::errc() || ptr != p.data() + p.size() || p[0] == '-' || p[0] == '+')
        bad(tok, fmt::format("the {} index '{}' is not a non-negative integer", what, p));
      if (idx[k] < base) bad(tok, fmt::format("the {} index {} is below {}", what, idx[k], base));
      idx[k] -= base;
    }
    const AlignmentLink link{idx[0], idx[1]};
    if (sure) g.sure.insert(link);
    g.possible.insert(link);  // P ⊇ S
  }
  return g;
}

std::vector<GoldAlignment> read_gold_alignments(const std::string& path, int base) {
  std::ifstream in(path);
  ATTN_CHECK(in.good(), "cannot open gold alignment file {}", path);
  std::vector<GoldAlignment> out;
  int64_t n = 0;
  for (std::string line; std::getline(in, line);)
    out.push_back(parse_gold_alignment(line, fmt::format("{}:{}", path, ++n), base));
  ATTN_CHECK(!in.bad(), "error reading {} after line {}", path, n);
  return out;
}

AerCounts& AerCounts::operator+=(const AerCounts& o) {
  a += o.a;
  s += o.s;
  a_sure += o.a_sure;
  a_possible += o.a_possible;
  return *this;
}

double AerCounts::aer() const {
  if (a + s == 0) return 0.0;
  return 1.0 - static_cast<double>(a_sure + a_possible) / static_cast<double>(a + s);
}
double AerCounts::precision() const {
  return a == 0 ? 1.0 : static_cast<double>(a_possible) / static_cast<double>(a);
}
double AerCounts::recall() const {
  return s == 0 ? 1.0 : static_cast<double>(a_sure) / static_cast<double>(s);
}

AerCounts aer_counts(const std::vector<AlignmentLink>& predicted, const GoldAlignment& gold) {
  // A is a set: a link proposed twice counts once.
  const std::set<AlignmentLink> A(predicted.begin(), predicted.end());
  AerCounts c;
  c.a = static_cast<int64_t>(A.size());
  c.s = static_cast<int64_t>(gold.sure.size());
  for (const AlignmentLink& l : A) {
    c.a_sure += gold.sure.count(l) ? 1 : 0;
    // P ⊇ S by definition, even if a caller filled only `sure`.
    c.a_possible += gold.possible.count(l) || gold.sure.count(l) ? 1 : 0;
  }
  return c;
}

std::vector<AlignmentLink> align_example(const AlignmentExample& ex, const AlignmentSource& source,
                                         const AlignOptions& opt) {
  Tensor soft = soft_alignment(select_cross_map(ex.cross, source), ex.num_outputs, opt);
  if (!ex.tgt_word.empty() || !ex.src_word.empty())
    soft = pool_to_words(soft, ex.tgt_word, ex.src_word);
  return extract_links(soft, opt);
}

std::vector<HeadScore> rank_alignment_heads(const std::vector<AlignmentExample>& examples,
                                            const AlignOptions& opt) {
  ATTN_CHECK(!examples.empty(), "no sentences to score alignment heads on");
  check_cross(examples[0].cross);
  const int64_t L = static_cast<int64_t>(examples[0].cross.size());
  const int64_t H = examples[0].cross[0].dim(0);
  std::vector<HeadScore> scores;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) scores.push_back({AlignmentSource::one_head(l, h), {}});
  for (int64_t l = 0; l < L; ++l) scores.push_back({AlignmentSource::layer_mean(l), {}});
  scores.push_back({AlignmentSource::all_mean(), {}});
  for (size_t e = 0; e < examples.size(); ++e) {
    const AlignmentExample& ex = examples[e];
    ATTN_CHECK(static_cast<int64_t>(ex.cross.size()) == L && !ex.cross.empty() &&
                   ex.cross[0].rank() == 3 && ex.cross[0].dim(0) == H,
               "sentence {} has {} layers of {} heads, sentence 0 has {} of {}", e, ex.cross.size(),
               ex.cross.empty() ? 0 : ex.cross[0].dim(0), L, H);
    for (HeadScore& s : scores) s.counts += aer_counts(align_example(ex, s.source, opt), ex.gold);
  }
  std::stable_sort(scores.begin(), scores.end(), [](const HeadScore& a, const HeadScore& b) {
    return a.counts.aer() < b.counts.aer();
  });
  return scores;
}

std::vector<std::vector<Tensor>> forced_cross_attention(
    Seq2SeqModel& model, const std::vector<std::vector<int32_t>>& src_ids,
    const std::vector<std::vector<int32_t>>& out_ids, int64_t batch) {
  ATTN_CHECK(src_ids.size() == out_ids.size(), "{} sources but {} outputs", src_ids.size(),
             out_ids.size());
  ATTN_CHECK(batch >= 1, "batch must be at least 1, not {}", batch);
  const ModelInfo cfg = model.info();
  const int64_t L = model.num_layers(AttentionKind::kCross);
  const size_t N = src_ids.size();
  std::vector<std::vector<Tensor>> out(N);
  for (size_t start = 0; start < N; start += static_cast<size_t>(batch)) {
    const size_t end = std::min(N, start + static_cast<size_t>(batch));
    TokenBatch src, tgt;
    src.rows = tgt.rows = static_cast<int64_t>(end - start);
    for (size_t i = start; i < end; ++i) {
      const int64_t ts = static_cast<int64_t>(src_ids[i].size());
      const int64_t tt = static_cast<int64_t>(out_ids[i].size()) + 1;
      ATTN_CHECK(ts >= 1, "sentence {}: the source has no token (not even eos)", i);
      ATTN_CHECK(ts <= cfg.max_len && tt <= cfg.max_len,
                 "sentence {}: {} source and {} target positions, the model covers {}", i, ts, tt,
                 cfg.max_len);
      src.cols = std::max(src.cols, ts);
      tgt.cols = std::max(tgt.cols, tt);
    }
    src.ids.assign(static_cast<size_t>(src.rows * src.cols), cfg.pad_id);
    tgt.ids.assign(static_cast<size_t>(tgt.rows * tgt.cols), cfg.pad_id);
    for (size_t i = start; i < end; ++i) {
      const int64_t r = static_cast<int64_t>(i - start);
      std::copy(src_ids[i].begin(), src_ids[i].end(), src.ids.begin() + r * src.cols);
      tgt.ids[static_cast<size_t>(r * tgt.cols)] = cfg.decoder_start_id;
      std::copy(out_ids[i].begin(), out_ids[i].end(), tgt.ids.begin() + r * tgt.cols + 1);
    }
    model.forward(src, tgt, {});
    for (int64_t l = 0; l < L; ++l) {
      const Tensor& p = model.attention(AttentionKind::kCross, l);  // [B, H, Tt, Ts]
      const int64_t H = p.dim(1), Tt = p.dim(2), Ts = p.dim(3);
      for (size_t i = start; i < end; ++i) {
        const int64_t r = static_cast<int64_t>(i - start);
        const int64_t ts = static_cast<int64_t>(src_ids[i].size());
        const int64_t tt = static_cast<int64_t>(out_ids[i].size()) + 1;
        Tensor m({H, tt, ts});
        for (int64_t h = 0; h < H; ++h)
          for (int64_t t = 0; t < tt; ++t)
            std::copy_n(p.data() + ((r * H + h) * Tt + t) * Ts, ts, m.data() + (h * tt + t) * ts);
        out[i].push_back(std::move(m));
      }
    }
  }
  return out;
}

}  // namespace attnscope
