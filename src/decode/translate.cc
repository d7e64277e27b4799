#include "decode/translate.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include <fmt/format.h>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/memory_limit.h"
#include "data/sentence_cut.h"

namespace attnscope {

std::vector<int32_t> encode_source(const TextTokenizer& tok, const std::string& sentence,
                                   int64_t max_len, int32_t eos_id) {
  // Cut first: a line of megabytes is not tokenized whole to keep max_len tokens of it.
  std::vector<int32_t> ids = tok.encode(std::string(text_for_tokens(sentence, max_len)));
  if (static_cast<int64_t>(ids.size()) > max_len - 1) ids.resize(static_cast<size_t>(max_len - 1));
  ids.push_back(eos_id);
  return ids;
}

std::vector<int32_t> fed_tokens(const Hypothesis& h, int32_t decoder_start_id) {
  std::vector<int32_t> fed = {decoder_start_id};
  fed.insert(fed.end(), h.tokens.begin(), h.tokens.end());
  if (!h.finished && !h.tokens.empty()) fed.pop_back();
  return fed;
}

std::vector<Translation> translate_sentences(Seq2SeqModel& model, const TextTokenizer& src_tok,
                                             const TextTokenizer& tgt_tok,
                                             const std::vector<std::string>& sentences,
                                             const TranslateOptions& opt) {
  const ModelInfo cfg = model.info();
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i) {
    ids.push_back(encode_source(src_tok, sentences[i], INT64_MAX, cfg.eos_id));
    if (opt.decode.hf)
      ATTN_CHECK(static_cast<int64_t>(ids.back().size()) <= cfg.max_len,
                 "sentence {} has {} tokens with </s>; the model's positions cover {}", i + 1,
                 ids.back().size(), cfg.max_len);
    if (static_cast<int64_t>(ids.back().size()) > cfg.max_len) {  // attnscope's rules: truncate
      ids.back().resize(static_cast<size_t>(cfg.max_len - 1));
      ids.back().push_back(cfg.eos_id);
    }
  }
  // Batch sentences of similar length together: less padding, fewer wasted steps.
  std::vector<size_t> order(sentences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
  std::vector<Translation> out(sentences.size());
  const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, opt.batch_sentences));
  for (size_t start = 0; start < order.size(); start += per_batch) {
    const size_t end = std::min(order.size(), start + per_batch);
    TokenBatch src;
    src.rows = static_cast<int64_t>(end - start);
    for (size_t i = start; i < end; ++i)
      src.cols = std::max<int64_t>(src.cols, static_cast<int64_t>(ids[order[i]].size()));
    src.ids.assign(static_cast<size_t>(src.rows * src.cols), cfg.pad_id);
    for (size_t i = start; i < end; ++i)
      std::copy(ids[order[i]].begin(), ids[order[i]].end(),
                src.ids.begin() + static_cast<int64_t>(i - start) * src.cols);
    // The batch's beams at every step: their logits, log-probabilities and scores [rows, V],
    // beside what is held already (the model).
    const char* what = "the memory of decoding";
    const int64_t rows = checked_mul(src.rows, std::max<int64_t>(opt.decode.beam, 1), what);
    check_memory_plan(
        fmt::format("decoding {} sentence(s) with beam {}", src.rows, opt.decode.beam),
        checked_add(tensor_bytes_live(),
                    checked_mul(checked_mul(rows, cfg.tgt_vocab, what), 12, what), what),
        "lower --batch or --beam");
    auto hyps = beam_search(model, src, opt.decode);
    for (size_t i = start; i < end; ++i) {
      Translation& t = out[order[i]];
      t.source = sentences[order[i]];
      t.hypotheses = std::move(hyps[i - start]);
      t.src_pieces = src_tok.pieces(ids[order[i]]);
      if (!t.hypotheses.empty()) {
        const Hypothesis& best = t.hypotheses.front();
        t.text = tgt_tok.decode(best.tokens);
        t.tgt_pieces = tgt_tok.pieces(fed_tokens(best, cfg.decoder_start_id));
      }
    }
  }
  return out;
}

}  // namespace attnscope
