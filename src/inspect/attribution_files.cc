#include "inspect/attribution_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "inspect/attention_files.h"
#include "inspect/heatmap.h"
#include "inspect/html_viewer.h"
#include "inspect/tensor_json.h"
#include "io/safetensors.h"

namespace attnscope {

namespace fs = std::filesystem;

void attribution_sequences(const Translation& t, int32_t start_id, int32_t eos_id,
                           std::vector<int32_t>& tgt_in, std::vector<int32_t>& outputs) {
  ATTN_CHECK(!t.hypotheses.empty(), "nothing to attribute for \"{}\": no translation", t.source);
  const Hypothesis& h = t.hypotheses.front();
  outputs = h.tokens;
  if (h.finished) outputs.push_back(eos_id);
  tgt_in = {start_id};
  tgt_in.insert(tgt_in.end(), outputs.begin(), outputs.end());
  tgt_in.pop_back();  // the last output is predicted, never fed
}

namespace {

// [1, H, Tq, Tk] → [H, Tq, Tk] appended as JSON.
void append_maps(std::string& json, const Tensor& t) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  append_json_array(json, t.data(), s);
}

}  // namespace

std::vector<std::string> write_attribution_files(const std::string& dir, Seq2SeqModel& model,
                                                 const std::vector<int32_t>& src_ids,
                                                 const Translation& t, const Attribution& a,
                                                 const AttributionOptions& opt,
                                                 const AttributionFileOptions& fopt) {
  const int64_t N = a.outputs, Ts = static_cast<int64_t>(src_ids.size());
  ATTN_CHECK(static_cast<int64_t>(t.tgt_pieces.size()) == N &&
                 static_cast<int64_t>(t.src_pieces.size()) == Ts && a.source.dim(1) == Ts,
             "\"{}\": {} decoder steps and {} source tokens for an attribution of [{}, {}]",
             t.source, t.tgt_pieces.size(), t.src_pieces.size(), N, a.source.dim(1));
  std::error_code ec;
  fs::create_directories(dir, ec);
  ATTN_CHECK(!ec, "cannot create {}: {}", dir, ec.message());
  std::vector<std::string> written;
  auto path = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  const bool ig = opt.method == AttributionMethod::kIntegratedGradients;
  Tensor src_share, tgt_share;
  attribution_shares(a, src_share, tgt_share);
  const std::vector<std::string> steps = decoder_step_labels(t);

  // attribution.json
  nlohmann::json head = {{"source", t.source},
                         {"translation", t.text},
                         {"source_tokens", t.src_pieces},
                         {"target_tokens", t.tgt_pieces},
                         {"steps", steps},
                         {"method", attribution_method_name(opt.method)},
                         {"log_prob", a.log_prob},
                         {"score_sum", a.score_sum}};
  if (ig) {
    head["integration_steps"] = opt.steps;
    head["baseline"] = attribution_baseline_name(opt.baseline);
    head["baseline_log_prob"] = a.baseline_log_prob;
    head["completeness_gap"] = a.completeness_gap;
  }
  std::string json = head.dump();
  json.pop_back();  // the closing brace: the arrays follow
  const std::pair<const char*, const Tensor*> arrays[] = {{"source_scores", &a.source},
                                                          {"target_scores", &a.target},
                                                          {"source_share", &src_share},
                                                          {"target_share", &tgt_share}};
  for (const auto& [name, tensor] : arrays) {
    json += fmt::format(",\"{}\":", name);
    append_json_array(json, *tensor);
  }
  json += "}\n";
  write_file_atomically(path("attribution.json"), json);
  written.push_back(path("attribution.json"));

  std::map<std::string, std::string> meta = {
      {"source", t.source},
      {"translation", t.text},
      {"source_tokens", nlohmann::json(t.src_pieces).dump()},
      {"target_tokens", nlohmann::json(t.tgt_pieces).dump()},
      {"method", attribution_method_name(opt.method)},
      {"layout", "[decoder steps, source tokens] and [decoder steps, target tokens]"}};
  if (ig) meta["completeness_gap"] = fmt::format("{}", a.completeness_gap);
  write_safetensors(path("attribution.safetensors"),
                    {{"source", &a.source},
                     {"target", &a.target},
                     {"source_share", &src_share},
                     {"target_share", &tgt_share}},
                    meta);
  written.push_back(path("attribution.safetensors"));

  if (fopt.pictures) {
    // One panel [N, Ts + N]: the source tokens, then the target tokens.
    Tensor both({N, Ts + N});
    float vmax = 0;
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t j = 0; j < Ts; ++j) both[i * (Ts + N) + j] = src_share[i * Ts + j];
      for (int64_t j = 0; j < N; ++j) both[i * (Ts + N) + Ts + j] = tgt_share[i * N + j];
    }
    for (int64_t k = 0; k < both.numel(); ++k) vmax = std::max(vmax, both[k]);
    HeatmapGrid g;
    g.title = fmt::format("attribution ({}) — {} → {}", attribution_method_name(opt.method),
                          t.source, t.text);
    g.subtitle = fmt::format(
        "row: the token a step predicts · columns: the source tokens, then the target tokens fed "
        "so far · colour: the token's share of the row's |attribution|{}",
        ig ? fmt::format(" · completeness gap {:.2f}%", 100 * a.completeness_gap) : "");
    g.row_labels = steps;
    g.col_labels = t.src_pieces;
    for (const std::string& p : t.tgt_pieces) g.col_labels.push_back("tgt: " + p);
    g.panels = {both};
    g.vmax = vmax > 0 ? vmax : 1.0f;
    g.bar_caption = "share of |attribution|";
    write_heatmap_png(path("attribution.png"), g);
    write_heatmap_svg(path("attribution.svg"), g);
    written.push_back(path("attribution.png"));
    written.push_back(path("attribution.svg"));
  }

  if (fopt.html) {
    // The attention maps of the same sentence (one plain pass), then attribution as two kinds.
    const TokenBatch src{1, Ts, src_ids};
    std::vector<int32_t> fed, outputs;
    attribution_sequences(t, model.info().decoder_start_id, model.info().eos_id, fed, outputs);
    model.forward(src, TokenBatch{1, N, fed}, ForwardOptions{});
    std::string page = "{\"source\":" + nlohmann::json(t.source).dump() +
                       ",\"translation\":" + nlohmann::json(t.text).dump() +
                       ",\"source_tokens\":" + nlohmann::json(t.src_pieces).dump() +
                       ",\"target_tokens\":" + nlohmann::json(t.tgt_pieces).dump() +
                       ",\"weights\":{";
    bool first = true;
    for (AttentionKind kind : kAllAttentionKinds) {
      page += fmt::format("{}\"{}\":[", first ? "" : ",", attention_kind_name(kind));
      first = false;
      for (int64_t l = 0; l < model.num_layers(kind); ++l) {
        if (l) page += ',';
        append_maps(page, model.attention(kind, l));
      }
      page += ']';
    }
    page += ",\"attribution_source\":[[";
    append_json_array(page, src_share);
    page += "]],\"attribution_target\":[[";
    append_json_array(page, tgt_share);
    page += "]]}}";
    write_file_atomically(
        path("attribution.html"),
        attention_html(page, fmt::format("attribution ({}) · {} → {}",
                                         attribution_method_name(opt.method), t.source, t.text)));
    written.push_back(path("attribution.html"));
  }
  return written;
}

}  // namespace attnscope
