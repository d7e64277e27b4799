#include "decode/translate.h"

#include <algorithm>
#include <numeric>

namespace attnscope {

std::vector<int32_t> encode_source(const Tokenizer& tok, const std::string& sentence,
                                   int64_t max_len, int32_t eos_id) {
  std::vector<int32_t> ids = tok.encode(sentence);
  if (static_cast<int64_t>(ids.size()) > max_len - 1) ids.resize(static_cast<size_t>(max_len - 1));
  ids.push_back(eos_id);
  return ids;
}

std::vector<int32_t> fed_tokens(const Hypothesis& h, int32_t bos_id) {
  std::vector<int32_t> fed = {bos_id};
  fed.insert(fed.end(), h.tokens.begin(), h.tokens.end());
  if (!h.finished && !h.tokens.empty()) fed.pop_back();
  return fed;
}

std::vector<Translation> translate_sentences(Seq2SeqModel& model, const Tokenizer& src_tok,
                                             const Tokenizer& tgt_tok,
                                             const std::vector<std::string>& sentences,
                                             const TranslateOptions& opt) {
  const ModelInfo cfg = model.info();
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(sentences.size());
  for (const auto& s : sentences) ids.push_back(encode_source(src_tok, s, cfg.max_len, cfg.eos_id));
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
    auto hyps = beam_search(model, src, opt.decode);
    for (size_t i = start; i < end; ++i) {
      Translation& t = out[order[i]];
      t.source = sentences[order[i]];
      t.hypotheses = std::move(hyps[i - start]);
      t.src_pieces = src_tok.pieces(ids[order[i]]);
      if (!t.hypotheses.empty()) {
        const Hypothesis& best = t.hypotheses.front();
        t.text = tgt_tok.decode(best.tokens);
        t.tgt_pieces = tgt_tok.pieces(fed_tokens(best, cfg.bos_id));
      }
    }
  }
  return out;
}

}  // namespace attnscope
