#include "inspect/attention_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "inspect/attention_export.h"
#include "inspect/heatmap.h"
#include "inspect/html_viewer.h"
#include "io/npy.h"
#include "io/safetensors.h"

namespace attnscope {

namespace fs = std::filesystem;

namespace {

struct KindMaps {
  AttentionKind kind;
  const std::vector<Tensor>* maps;
  const std::vector<int64_t>* layers;
  const std::vector<std::string>* rows;  // query labels
  const std::vector<std::string>* cols;  // key labels
};

const char* kind_title(AttentionKind k) {
  switch (k) {
    case AttentionKind::kEncoderSelf:
      return "encoder self-attention";
    case AttentionKind::kDecoderSelf:
      return "decoder self-attention (look-ahead masked)";
    case AttentionKind::kCross:
      return "cross-attention (target → source)";
  }
  return "";
}

std::string shorten(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 start
  return s.substr(0, cut) + "…";
}

HeatmapGrid grid_for(const KindMaps& k, const HypothesisAttention& a, const Translation& t) {
  HeatmapGrid g;
  g.title =
      fmt::format("{} — {} → {}", kind_title(k.kind), shorten(t.source, 60), shorten(t.text, 60));
  const int64_t H = k.maps->front().dim(0), Tq = k.maps->front().dim(1);
  if (k.kind != AttentionKind::kEncoderSelf)
    g.subtitle =
        "rows: decoder steps, the token fed → the token it wrote · columns: keys (the tokens "
        "looked at) · each row's weights sum to 1";
  g.rows = static_cast<int64_t>(k.maps->size());
  g.cols = H;
  g.row_labels = *k.rows;
  if (Tq == 1 && g.row_labels.size() > 1)  // last-row reduction: only the last query
    g.row_labels = {g.row_labels.back()};
  g.col_labels = *k.cols;
  for (int64_t l : *k.layers) g.row_titles.push_back(fmt::format("layer {}", l));
  for (int64_t h = 0; h < H; ++h) {
    if (a.heads.empty()) {
      g.col_titles.push_back(a.reduction == CaptureReduction::kMaxHeads ? "max of heads"
                                                                        : "mean of heads");
    } else {
      g.col_titles.push_back(fmt::format("head {}", a.heads[static_cast<size_t>(h)]));
    }
  }
  for (const Tensor& m : *k.maps) {
    const int64_t rows = m.dim(1), cols = m.dim(2);
    for (int64_t h = 0; h < H; ++h) {
      Tensor panel({rows, cols});
      std::copy(m.data() + h * rows * cols, m.data() + (h + 1) * rows * cols, panel.data());
      g.panels.push_back(std::move(panel));
    }
  }
  return g;
}

// The maps and labels of each kind of the best hypothesis (steps: decoder_step_labels(t)).
std::vector<KindMaps> kind_maps(const Translation& t, const std::vector<std::string>& steps) {
  const HypothesisAttention& a = t.hypotheses.front().attention;
  return {{AttentionKind::kEncoderSelf, &a.encoder_self, &a.encoder_layers, &t.src_pieces,
           &t.src_pieces},
          {AttentionKind::kDecoderSelf, &a.decoder_self, &a.decoder_layers, &steps, &t.tgt_pieces},
          {AttentionKind::kCross, &a.cross, &a.decoder_layers, &steps, &t.src_pieces}};
}

}  // namespace

HeatmapGrid attention_heatmap_grid(const Translation& t, AttentionKind kind) {
  ATTN_CHECK(!t.hypotheses.empty(), "nothing to draw for \"{}\": no translation", t.source);
  const std::vector<std::string> steps = decoder_step_labels(t);
  for (const KindMaps& k : kind_maps(t, steps)) {
    if (k.kind != kind) continue;
    ATTN_CHECK(!k.maps->empty(), "no {} attention was captured for \"{}\"",
               attention_kind_name(kind), t.source);
    return grid_for(k, t.hypotheses.front().attention, t);
  }
  fail("unknown attention kind");
}

std::vector<std::string> decoder_step_labels(const Translation& t) {
  std::vector<std::string> steps;
  const bool finished = !t.hypotheses.empty() && t.hypotheses.front().finished;
  for (size_t i = 0; i < t.tgt_pieces.size(); ++i)
    steps.push_back(
        t.tgt_pieces[i] + " → " +
        (i + 1 < t.tgt_pieces.size() ? t.tgt_pieces[i + 1] : std::string(finished ? "</s>" : "…")));
  return steps;
}

std::vector<std::string> write_attention_files(const std::string& dir, const Translation& t,
                                               const AttentionFileOptions& opt) {
  ATTN_CHECK(!t.hypotheses.empty(), "nothing to write for \"{}\": no translation", t.source);
  const HypothesisAttention& a = t.hypotheses.front().attention;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ATTN_CHECK(!ec, "cannot create {}: {}", dir, ec.message());
  std::vector<std::string> written;
  auto path = [&](const std::string& name) { return (fs::path(dir) / name).string(); };

  const std::string payload = attention_json(t);
  write_file_atomically(path("attention.json"), payload);
  written.push_back(path("attention.json"));
  if (opt.html) {
    const std::string page = attention_html(payload, fmt::format("{} → {}", t.source, t.text));
    write_file_atomically(path("attention.html"), page);
    written.push_back(path("attention.html"));
  }

  const std::vector<std::string> steps = decoder_step_labels(t);
  const std::vector<KindMaps> kinds = kind_maps(t, steps);

  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<std::string> names;
  for (const auto& k : kinds)
    for (size_t i = 0; i < k.maps->size(); ++i)
      names.push_back(fmt::format("{}.{}", attention_kind_name(k.kind), (*k.layers)[i]));
  size_t n = 0;
  for (const auto& k : kinds)
    for (const Tensor& m : *k.maps) tensors.emplace_back(names[n++], &m);
  write_safetensors(path("attention.safetensors"), tensors,
                    {{"source", t.source},
                     {"translation", t.text},
                     {"source_tokens", nlohmann::json(t.src_pieces).dump()},
                     {"target_tokens", nlohmann::json(t.tgt_pieces).dump()},
                     {"layout", "[heads, queries, keys]"}});
  written.push_back(path("attention.safetensors"));

  if (opt.npy) {
    fs::create_directories(path("npy"));
    for (const auto& [name, tensor] : tensors) {
      std::string file = name;
      std::replace(file.begin(), file.end(), '.', '_');
      const std::string p = (fs::path(dir) / "npy" / (file + ".npy")).string();
      write_npy(p, *tensor);
      written.push_back(p);
    }
  }
  if (opt.pictures) {
    for (const auto& k : kinds) {
      if (k.maps->empty()) continue;
      const HeatmapGrid g = grid_for(k, a, t);
      const std::string base = std::string(attention_kind_name(k.kind));
      write_heatmap_png(path(base + ".png"), g);
      write_heatmap_svg(path(base + ".svg"), g);
      written.push_back(path(base + ".png"));
      written.push_back(path(base + ".svg"));
    }
  }
  return written;
}

}  // namespace attnscope
