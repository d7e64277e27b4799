#include "inspect/analysis_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "inspect/attention_files.h"
#include "inspect/contributions.h"
#include "inspect/heatmap.h"
#include "inspect/rollout.h"
#include "inspect/tensor_json.h"

namespace attnscope {

namespace {

namespace fs = std::filesystem;

// [1, ...] → [...]: the batch of one sentence.
Tensor drop_batch(const Tensor& t) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  return t.clone().view(s);
}

// Row h of a [H, Tq, Tk] (or the only map of [Tq, Tk]) as its own [Tq, Tk] panel.
Tensor panel_of(const Tensor& t, int64_t h) {
  const int64_t Tq = t.dim(-2), Tk = t.dim(-1);
  Tensor p({Tq, Tk});
  std::copy(t.data() + h * Tq * Tk, t.data() + (h + 1) * Tq * Tk, p.data());
  return p;
}

std::vector<std::string> write_pictures(const std::string& base, const HeatmapGrid& g) {
  write_heatmap_png(base + ".png", g);
  write_heatmap_svg(base + ".svg", g);
  return {base + ".png", base + ".svg"};
}

const char* kind_title(AttentionKind k) {
  switch (k) {
    case AttentionKind::kEncoderSelf:
      return "encoder self-attention";
    case AttentionKind::kDecoderSelf:
      return "decoder self-attention";
    case AttentionKind::kCross:
      return "cross-attention";
  }
  return "";
}

}  // namespace

void check_analysis_supported(const Seq2SeqModel& model, const AnalysisOptions& opt,
                              const std::string& model_name) {
  const ModelInfo info = model.info();
  const int64_t Le = model.num_layers(AttentionKind::kEncoderSelf);
  const int64_t Ld = model.num_layers(AttentionKind::kDecoderSelf);
  ATTN_CHECK(!opt.rollout || (Le > 0 && Ld > 0),
             "--rollout needs self-attention layers in the encoder and the decoder to roll out: "
             "{} is an {} model with {} encoder and {} decoder self-attention layers",
             model_name, info.arch, Le, Ld);
  ATTN_CHECK(!opt.contributions || info.value_vectors,
             "--contributions needs the value vectors of each attention head: {} is an {} model, "
             "which has none",
             model_name, info.arch);
}

void run_forced_pass(Seq2SeqModel& model, const std::vector<int32_t>& src_ids,
                     const Translation& t) {
  ATTN_CHECK(!t.hypotheses.empty(), "nothing to analyse for \"{}\": no translation", t.source);
  const ModelInfo cfg = model.info();
  const std::vector<int32_t>& out = t.hypotheses.front().tokens;
  ATTN_CHECK(src_ids.size() == t.src_pieces.size(), "\"{}\": {} source ids for {} source pieces",
             t.source, src_ids.size(), t.src_pieces.size());
  // The decoder's inputs: the start token, y1 … yn — the rows of the maps the translation was
  // made with.
  TokenBatch src{1, static_cast<int64_t>(src_ids.size()), src_ids};
  TokenBatch tgt{1, static_cast<int64_t>(out.size()) + 1, {cfg.decoder_start_id}};
  tgt.ids.insert(tgt.ids.end(), out.begin(), out.end());
  ATTN_CHECK(tgt.ids.size() == t.tgt_pieces.size(), "\"{}\": {} target ids for {} target pieces",
             t.source, tgt.ids.size(), t.tgt_pieces.size());
  model.forward(src, tgt, ForwardOptions{});
}

SentenceRollout sentence_rollout(const Seq2SeqModel& model, float residual_share) {
  ATTN_CHECK(residual_share >= 0 && residual_share <= 1,
             "the rollout's residual share must lie in [0, 1], not {}", residual_share);
  std::vector<Tensor> enc, dec;
  for (int64_t l = 0; l < model.num_layers(AttentionKind::kEncoderSelf); ++l)
    enc.push_back(model.attention(AttentionKind::kEncoderSelf, l));
  for (int64_t l = 0; l < model.num_layers(AttentionKind::kDecoderSelf); ++l)
    dec.push_back(model.attention(AttentionKind::kDecoderSelf, l));
  return {drop_batch(attention_rollout(enc, residual_share)),   // [Ts, Ts]
          drop_batch(attention_rollout(dec, residual_share))};  // [T, T]
}

std::vector<LayerContributions> sentence_contributions(const Seq2SeqModel& model,
                                                       AttentionKind kind) {
  std::vector<LayerContributions> layers = value_weighted_contributions(model, kind);
  for (LayerContributions& c : layers) {
    c.value_norms = drop_batch(c.value_norms);  // [H, Tk]
    c.per_head = drop_batch(c.per_head);        // [H, Tq, Tk]
    c.summed = drop_batch(c.summed);            // [Tq, Tk]
  }
  return layers;
}

std::vector<std::string> write_analysis_files(const std::string& dir, Seq2SeqModel& model,
                                              const std::vector<int32_t>& src_ids,
                                              const Translation& t, const AnalysisOptions& opt) {
  std::vector<std::string> written;
  if (!opt.rollout && !opt.contributions) return written;
  check_analysis_supported(model, opt, "the model");
  run_forced_pass(model, src_ids, t);
  const SentenceRollout rollout =
      opt.rollout ? sentence_rollout(model, opt.residual_share) : SentenceRollout{};

  std::error_code ec;
  fs::create_directories(dir, ec);
  ATTN_CHECK(!ec, "cannot create {}: {}", dir, ec.message());
  auto path = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  auto append = [&](std::vector<std::string> more) {
    written.insert(written.end(), more.begin(), more.end());
  };
  const std::string tokens = ",\"source_tokens\":" + nlohmann::json(t.src_pieces).dump() +
                             ",\"target_tokens\":" + nlohmann::json(t.tgt_pieces).dump();
  const std::string sentence = "\"source\":" + nlohmann::json(t.source).dump() +
                               ",\"translation\":" + nlohmann::json(t.text).dump();

  if (opt.rollout) {
    const Tensor& enc_r = rollout.encoder;  // [Ts, Ts]
    const Tensor& dec_r = rollout.decoder;  // [T, T]
    std::string json = "{" + sentence + tokens +
                       fmt::format(",\"residual_share\":{},\"encoder\":", opt.residual_share);
    append_json_array(json, enc_r);
    json += ",\"decoder\":";
    append_json_array(json, dec_r);
    json += "}\n";
    write_file_atomically(path("rollout.json"), json);
    written.push_back(path("rollout.json"));
    if (opt.pictures) {
      auto sub = [&](int64_t n) {
        return fmt::format(
            "row i: how much of each token (column) has flowed into position i through all {} "
            "layers (residual share {}) · each row sums to 1",
            n, opt.residual_share);
      };
      HeatmapGrid e;
      e.title = fmt::format("encoder rollout — {}", t.source);
      e.subtitle = sub(model.num_layers(AttentionKind::kEncoderSelf));
      e.row_labels = t.src_pieces;
      e.col_labels = t.src_pieces;
      e.panels = {enc_r};
      e.bar_caption = "share of the token";
      append(write_pictures(path("rollout_encoder"), e));
      HeatmapGrid d;
      d.title = fmt::format("decoder self-attention rollout — {}", t.text);
      d.subtitle = sub(model.num_layers(AttentionKind::kDecoderSelf));
      d.row_labels = decoder_step_labels(t);
      d.col_labels = t.tgt_pieces;
      d.panels = {dec_r};
      d.bar_caption = "share of the token";
      append(write_pictures(path("rollout_decoder"), d));
    }
  }

  if (opt.contributions) {
    std::string json = "{" + sentence + tokens;
    for (AttentionKind kind : kAllAttentionKinds) {
      const auto layers = sentence_contributions(model, kind);
      std::vector<Tensor> norms, per_head, summed;
      for (const LayerContributions& c : layers) {
        norms.push_back(c.value_norms);  // [H, Tk]
        per_head.push_back(c.per_head);  // [H, Tq, Tk]
        summed.push_back(c.summed);      // [Tq, Tk]
      }
      auto append_list = [&](const std::vector<Tensor>& list) {
        json += '[';
        for (size_t l = 0; l < list.size(); ++l) {
          if (l) json += ',';
          append_json_array(json, list[l]);
        }
        json += ']';
      };
      json += fmt::format(",\"{}\":{{\"value_norms\":", attention_kind_name(kind));
      append_list(norms);
      json += ",\"per_head\":";
      append_list(per_head);
      json += ",\"summed\":";
      append_list(summed);
      json += '}';
      if (!opt.pictures || layers.empty()) continue;
      // layers × (heads + the layer's whole effect), on one scale: the largest norm.
      const int64_t H = per_head.front().dim(0);
      HeatmapGrid g;
      g.title = fmt::format("value-weighted contributions ‖α·v·W_O‖, {} — {} → {}",
                            kind_title(kind), t.source, t.text);
      g.subtitle =
          "how far key j (column) moves query i's output (row); compare with the weights in " +
          std::string(attention_kind_name(kind)) + ".png · not normalised";
      g.rows = static_cast<int64_t>(layers.size());
      g.cols = H + 1;
      const bool source_queries = kind == AttentionKind::kEncoderSelf;
      const bool source_keys = kind != AttentionKind::kDecoderSelf;
      g.row_labels = source_queries ? t.src_pieces : decoder_step_labels(t);
      g.col_labels = source_keys ? t.src_pieces : t.tgt_pieces;
      for (size_t l = 0; l < layers.size(); ++l) g.row_titles.push_back(fmt::format("layer {}", l));
      for (int64_t h = 0; h < H; ++h) g.col_titles.push_back(fmt::format("head {}", h));
      g.col_titles.push_back("all heads ‖Σ_h‖");
      float vmax = 0;
      for (size_t l = 0; l < layers.size(); ++l) {
        for (int64_t h = 0; h < H; ++h) g.panels.push_back(panel_of(per_head[l], h));
        g.panels.push_back(summed[l].clone());
      }
      for (const Tensor& p : g.panels)
        for (int64_t i = 0; i < p.numel(); ++i) vmax = std::max(vmax, p[i]);
      g.vmax = vmax > 0 ? vmax : 1.0f;
      g.bar_caption = "‖α·v·W_O‖";
      append(write_pictures(path(fmt::format("contributions_{}", attention_kind_name(kind))), g));
    }
    json += "}\n";
    write_file_atomically(path("contributions.json"), json);
    written.push_back(path("contributions.json"));
  }
  return written;
}

}  // namespace attnscope
