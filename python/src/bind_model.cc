// attnscope._attnscope._Model and _Translation: what attnscope.Model and attnscope.Result
// (attnscope/model.py, attnscope/result.py) are built on. Arguments arrive checked by the Python
// layer (attnscope/_args.py); the engine checks them again and its errors become attnscope.Error.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "arrays.h"
#include "bindings.h"
#include "core/error.h"
#include "decode/generation.h"
#include "decode/translate.h"
#include "inspect/alignment.h"
#include "inspect/analysis_files.h"
#include "inspect/attention_export.h"
#include "inspect/attention_files.h"
#include "inspect/heatmap.h"
#include "inspect/html_viewer.h"
#include "io/config_json.h"
#include "native_model.h"

namespace attnscope::python {

namespace {

using TranslationPtr = std::shared_ptr<Translation>;

AttentionKind kind_from_name(const std::string& name) {
  const auto k = attention_kind_from_name(name);
  if (!k) {
    throw py::value_error("unknown attention kind \"" + name +
                          "\" (encoder_self, decoder_self, cross)");
  }
  return *k;
}

// The capture spec of translate(): None keeps nothing; a dict with "kinds", "layers", "heads"
// and "reduce" (as attnscope/_args.py makes it) selects.
std::optional<CaptureSpec> capture_spec(const py::object& spec) {
  if (spec.is_none()) return std::nullopt;
  const auto d = spec.cast<py::dict>();
  CaptureSpec c;
  c.kinds.clear();
  for (const auto& k : d["kinds"].cast<std::vector<std::string>>())
    c.kinds.push_back(kind_from_name(k));
  c.layers = d["layers"].cast<std::vector<int64_t>>();
  c.heads = d["heads"].cast<std::vector<int64_t>>();
  c.reduction = parse_reduction(d["reduce"].cast<std::string>());
  return c;
}

const Hypothesis& hypothesis_at(const Translation& t, size_t i) {
  if (i >= t.hypotheses.size()) {
    throw py::index_error("hypothesis " + std::to_string(i) + " of " +
                          std::to_string(t.hypotheses.size()));
  }
  return t.hypotheses[i];
}

// Every map of `kind` the model keeps from its last forward, copied into one block
// [layers, ...map shape] (the model overwrites its own on the next call).
Tensor layers_block(const Seq2SeqModel& model, AttentionKind kind) {
  const int64_t L = model.num_layers(kind);
  Shape shape = {L};
  const Shape& map = model.attention(kind, 0).shape();
  shape.insert(shape.end(), map.begin(), map.end());
  Tensor block(shape);
  for (int64_t l = 0; l < L; ++l) {
    const Tensor& a = model.attention(kind, l);
    std::memcpy(block.slice(l).data(), a.data(), static_cast<size_t>(a.numel()) * sizeof(float));
  }
  return block;
}

// [1, ...] → [...] of each layer, as one block [layers, ...] (the batch of one sentence).
Tensor drop_batch_block(const Tensor& block) {
  Shape shape = {block.dim(0)};
  shape.insert(shape.end(), block.shape().begin() + 2, block.shape().end());
  return block.view(shape);
}

TokenBatch token_batch(const py::array_t<int32_t, py::array::c_style | py::array::forcecast>& a,
                       const char* what) {
  if (a.ndim() != 2 || a.shape(0) < 1 || a.shape(1) < 1)
    throw py::value_error(std::string(what) + " must be a non-empty [batch, length] array");
  TokenBatch b;
  b.rows = a.shape(0);
  b.cols = a.shape(1);
  b.ids.assign(a.data(), a.data() + a.size());
  return b;
}

// The panels of grid rows `rows` (layers) and columns `cols` (heads), positions in the grid;
// empty: all. The Python layer checks the positions.
HeatmapGrid select_panels(const HeatmapGrid& g, std::vector<int64_t> rows,
                          std::vector<int64_t> cols) {
  auto all = [](int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
    return v;
  };
  if (rows.empty()) rows = all(g.rows);
  if (cols.empty()) cols = all(g.cols);
  for (int64_t r : rows)
    if (r < 0 || r >= g.rows) throw py::index_error("no panel row " + std::to_string(r));
  for (int64_t c : cols)
    if (c < 0 || c >= g.cols) throw py::index_error("no panel column " + std::to_string(c));
  HeatmapGrid out = g;
  out.rows = static_cast<int64_t>(rows.size());
  out.cols = static_cast<int64_t>(cols.size());
  out.panels.clear();
  out.row_titles.clear();
  out.col_titles.clear();
  out.panel_titles.clear();
  for (int64_t r : rows) {
    if (!g.row_titles.empty()) out.row_titles.push_back(g.row_titles[static_cast<size_t>(r)]);
    for (int64_t c : cols) {
      const auto i = static_cast<size_t>(r * g.cols + c);
      out.panels.push_back(g.panels[i]);
      if (!g.panel_titles.empty()) out.panel_titles.push_back(g.panel_titles[i]);
    }
  }
  for (int64_t c : cols)
    if (!g.col_titles.empty()) out.col_titles.push_back(g.col_titles[static_cast<size_t>(c)]);
  return out;
}

py::dict info_dict(const ModelInfo& i) {
  py::dict d;
  d["arch"] = i.arch;
  d["src_vocab"] = i.src_vocab;
  d["tgt_vocab"] = i.tgt_vocab;
  d["max_len"] = i.max_len;
  d["heads"] = i.heads;
  d["d_model"] = i.d_model;
  d["pad_id"] = i.pad_id;
  d["bos_id"] = i.bos_id;
  d["decoder_start_id"] = i.decoder_start_id;  // what the decoder is fed first (Marian: <pad>)
  d["eos_id"] = i.eos_id;
  d["unk_id"] = i.unk_id;
  d["value_vectors"] = i.value_vectors;
  return d;
}

void register_translation(py::module_& m) {
  py::class_<Translation, TranslationPtr>(
      m, "_Translation", "One translation as the engine made it (attnscope.Result wraps it).")
      .def_readonly("source", &Translation::source)
      .def_readonly("text", &Translation::text)
      .def_readonly("source_tokens", &Translation::src_pieces)
      .def_readonly("target_tokens", &Translation::tgt_pieces)
      .def_property_readonly("num_hypotheses",
                             [](const Translation& t) { return t.hypotheses.size(); })
      .def(
          "attention",
          [](const TranslationPtr& t, size_t i) {
            const HypothesisAttention& a = hypothesis_at(*t, i).attention;
            py::dict maps, layers;
            const std::pair<AttentionKind, const std::vector<Tensor>*> kinds[] = {
                {AttentionKind::kEncoderSelf, &a.encoder_self},
                {AttentionKind::kDecoderSelf, &a.decoder_self},
                {AttentionKind::kCross, &a.cross}};
            for (const auto& [kind, list] : kinds) {
              if (list->empty()) continue;
              const char* name = attention_kind_name(kind).data();
              maps[name] = stack(*list);  // [layers, H', Tq, Tk], the engine's memory
              layers[name] =
                  kind == AttentionKind::kEncoderSelf ? a.encoder_layers : a.decoder_layers;
            }
            py::dict d;
            d["maps"] = maps;
            d["layers"] = layers;
            d["heads"] = a.heads;
            d["reduction"] = reduction_name(a.reduction);
            return d;
          },
          py::arg("hypothesis") = 0,
          "The captured maps of a hypothesis: {'maps': {kind: array [layers, heads, Tq, Tk]}, "
          "'layers': {kind: [index, ...]}, 'heads': [...], 'reduction': str}. The arrays view "
          "the engine's memory (no copy).")
      .def(
          "_attention_address",
          [](const Translation& t, const std::string& kind) {
            const HypothesisAttention& a = hypothesis_at(t, 0).attention;
            const AttentionKind k = kind_from_name(kind);
            const auto& list = k == AttentionKind::kEncoderSelf   ? a.encoder_self
                               : k == AttentionKind::kDecoderSelf ? a.decoder_self
                                                                  : a.cross;
            if (list.empty()) throw py::value_error("no " + kind + " attention captured");
            return reinterpret_cast<std::uintptr_t>(list.front().data());
          },
          "Where the engine keeps the first captured map of `kind` (for the tests: the array "
          "views this address).")
      .def("to_json", [](const Translation& t) { return attention_json(t); })
      .def(
          "html",
          [](const Translation& t, const std::string& title) {
            std::string page;
            {
              py::gil_scoped_release release;
              page = attention_html(attention_json(t), title);
            }
            return page;
          },
          py::arg("title"), "The attention.html viewer of the best hypothesis (self-contained).")
      .def(
          "heatmap_png",
          [](const Translation& t, const std::string& kind, const std::vector<int64_t>& rows,
             const std::vector<int64_t>& cols) {
            const AttentionKind k = kind_from_name(kind);
            std::string png;
            {
              py::gil_scoped_release release;
              png = render_heatmap(select_panels(attention_heatmap_grid(t, k), rows, cols))
                        .encode_png();
            }
            return py::bytes(png);
          },
          py::arg("kind"), py::arg("rows"), py::arg("cols"),
          "<kind>.png of `attnscope attention`, or the panels of the given grid rows (layers) "
          "and columns (heads)")
      .def(
          "heatmap_svg",
          [](const Translation& t, const std::string& kind, const std::vector<int64_t>& rows,
             const std::vector<int64_t>& cols) {
            const AttentionKind k = kind_from_name(kind);
            std::string svg;
            {
              py::gil_scoped_release release;
              svg = heatmap_svg(select_panels(attention_heatmap_grid(t, k), rows, cols));
            }
            return svg;
          },
          py::arg("kind"), py::arg("rows"), py::arg("cols"));
}

void register_model(py::module_& m) {
  py::class_<NativeModel>(m, "_Model", "A model directory loaded (attnscope.Model wraps it).")
      .def(py::init([](const std::string& dir) {
             py::gil_scoped_release release;
             return std::make_unique<NativeModel>(dir);
           }),
           py::arg("dir"))
      .def_property_readonly("dir", &NativeModel::dir)
      .def("info", [](const NativeModel& n) { return info_dict(n.model().info()); })
      .def("config_json",
           [](const NativeModel& n) { return config_to_json(n.model().config()).dump(); })
      .def("summary", [](const NativeModel& n) { return n.model().config().summary(); })
      .def("num_parameters",
           [](NativeModel& n) { return n.run([](Seq2SeqModel& mo) { return mo.num_params(); }); })
      .def(
          "num_layers",
          [](const NativeModel& n, const std::string& kind) {
            return n.model().num_layers(kind_from_name(kind));
          },
          py::arg("kind"))
      .def(
          "vocab_size",
          [](const NativeModel& n, const std::string& side) {
            return n.vocab_size(side_from_name(side));
          },
          py::arg("side"))
      .def(
          "encode",
          [](const NativeModel& n, const std::string& text, const std::string& side) {
            return n.encode(text, side_from_name(side));
          },
          py::arg("text"), py::arg("side"))
      .def("source_ids", &NativeModel::source_ids, py::arg("text"))
      .def(
          "decode",
          [](const NativeModel& n, const std::vector<int32_t>& ids, const std::string& side) {
            return n.decode(ids, side_from_name(side));
          },
          py::arg("ids"), py::arg("side"))
      .def(
          "pieces",
          [](const NativeModel& n, const std::vector<int32_t>& ids, const std::string& side) {
            return n.pieces(ids, side_from_name(side));
          },
          py::arg("ids"), py::arg("side"))
      .def(
          "translate",
          // Unset values are the model's defaults, as on the CLI (decode/generation.h): its
          // generation config for a Hugging Face model, attnscope's otherwise.
          [](NativeModel& n, const std::vector<std::string>& sentences, std::optional<int64_t> beam,
             std::optional<int64_t> nbest, std::optional<float> length_penalty,
             std::optional<float> max_len_ratio, std::optional<int64_t> max_len_extra,
             std::optional<int64_t> max_new_tokens, int64_t batch, const py::object& capture) {
            DecodeRequest r;
            r.beam = beam;
            r.nbest = nbest;
            r.length_penalty = length_penalty;
            r.max_new_tokens = max_new_tokens;
            TranslateOptions opt;
            opt.decode = decode_options_for(n.model().info(), r);
            // The length rule of attnscope's own models (ratio 0 with an extra: a fixed cap).
            if (max_len_ratio || max_len_extra)
              ATTN_CHECK(!opt.decode.hf,
                         "max_len, max_len_ratio and max_len_extra apply to attnscope's own "
                         "models; a Hugging Face model's output length is capped by "
                         "max_new_tokens");
            if (max_len_ratio) opt.decode.max_len_ratio = *max_len_ratio;
            if (max_len_extra) opt.decode.max_len_extra = *max_len_extra;
            opt.decode.capture = capture_spec(capture);
            opt.batch_sentences = batch;
            std::vector<TranslationPtr> out;
            for (Translation& t : n.translate(sentences, opt))
              out.push_back(std::make_shared<Translation>(std::move(t)));
            return out;
          },
          py::arg("sentences"), py::arg("beam"), py::arg("nbest"), py::arg("length_penalty"),
          py::arg("max_len_ratio"), py::arg("max_len_extra"), py::arg("max_new_tokens"),
          py::arg("batch"), py::arg("capture"))
      .def(
          "hypothesis",
          [](const NativeModel& n, const Translation& t, size_t i) {
            const Hypothesis& h = hypothesis_at(t, i);
            py::dict d;
            d["tokens"] = h.tokens;
            d["text"] = i == 0 ? t.text : n.decode(h.tokens, Side::kTarget);
            d["output_tokens"] = n.pieces(h.tokens, Side::kTarget);
            d["target_tokens"] =
                n.pieces(fed_tokens(h, n.model().info().decoder_start_id), Side::kTarget);
            d["score"] = h.score;
            d["log_prob"] = h.log_prob;
            d["finished"] = h.finished;
            return d;
          },
          py::arg("translation"), py::arg("i"))
      .def(
          "forward",
          [](NativeModel& n,
             const py::array_t<int32_t, py::array::c_style | py::array::forcecast>& src,
             const py::array_t<int32_t, py::array::c_style | py::array::forcecast>& tgt) {
            const TokenBatch s = token_batch(src, "src_ids"), t = token_batch(tgt, "tgt_ids");
            struct Out {
              Tensor logits;
              std::vector<std::pair<AttentionKind, Tensor>> maps;
            };
            Out o = n.run([&](Seq2SeqModel& model) {
              Out r;
              r.logits = model.forward(s, t, ForwardOptions{}).clone();
              for (AttentionKind kind : kAllAttentionKinds)
                if (model.num_layers(kind) > 0)
                  r.maps.emplace_back(kind, layers_block(model, kind));
              return r;
            });
            py::dict maps;
            for (const auto& [kind, block] : o.maps)
              maps[attention_kind_name(kind).data()] = own(block);  // [L, B, H, Tq, Tk]
            return py::make_tuple(own(o.logits), maps);
          },
          py::arg("src_ids"), py::arg("tgt_ids"))
      .def(
          "rollout",
          [](NativeModel& n, const Translation& t, float residual_share) {
            AnalysisOptions a;
            a.rollout = true;
            check_analysis_supported(n.model(), a, n.dir());
            const std::vector<int32_t> src_ids = n.source_ids(t.source);
            const SentenceRollout r = n.run([&](Seq2SeqModel& model) {
              run_forced_pass(model, src_ids, t);
              return sentence_rollout(model, residual_share);
            });
            py::dict d;
            d["encoder"] = own(r.encoder);
            d["decoder"] = own(r.decoder);
            return d;
          },
          py::arg("translation"), py::arg("residual_share"))
      .def(
          "contributions",
          [](NativeModel& n, const Translation& t) {
            AnalysisOptions a;
            a.contributions = true;
            check_analysis_supported(n.model(), a, n.dir());
            const std::vector<int32_t> src_ids = n.source_ids(t.source);
            struct Kind {
              AttentionKind kind;
              Tensor weights;  // [L, H, Tq, Tk]
              std::vector<LayerContributions> layers;
            };
            std::vector<Kind> kinds = n.run([&](Seq2SeqModel& model) {
              run_forced_pass(model, src_ids, t);
              std::vector<Kind> out;
              for (AttentionKind kind : kAllAttentionKinds)
                if (model.num_layers(kind) > 0)
                  out.push_back({kind, drop_batch_block(layers_block(model, kind)),
                                 sentence_contributions(model, kind)});
              return out;
            });
            py::dict d;
            for (const Kind& k : kinds) {
              std::vector<Tensor> norms, per_head, summed;
              for (const LayerContributions& c : k.layers) {
                norms.push_back(c.value_norms);
                per_head.push_back(c.per_head);
                summed.push_back(c.summed);
              }
              py::dict e;
              e["weights"] = own(k.weights);
              e["per_head"] = stack(per_head);
              e["summed"] = stack(summed);
              e["value_norms"] = stack(norms);
              d[attention_kind_name(k.kind).data()] = e;
            }
            return d;
          },
          py::arg("translation"))
      .def(
          "align",
          [](NativeModel& n, const Translation& t, std::optional<int64_t> layer,
             std::optional<int64_t> head, bool shift, float threshold, bool keep_eos, bool pieces) {
            if (t.hypotheses.empty()) throw py::value_error("nothing to align: no translation");
            const AlignmentSource source = head    ? AlignmentSource::one_head(*layer, *head)
                                           : layer ? AlignmentSource::layer_mean(*layer)
                                                   : AlignmentSource::all_mean();
            AlignOptions opt;
            opt.shift = shift;
            opt.threshold = threshold;
            opt.skip_eos = !keep_eos;
            const std::vector<int32_t> src_ids = n.source_ids(t.source);
            std::vector<int32_t> out = t.hypotheses.front().tokens;
            const int64_t max_len = n.model().info().max_len;
            if (static_cast<int64_t>(out.size()) > max_len - 1)
              out.resize(static_cast<size_t>(max_len - 1));  // <s> + outputs must fit
            const std::vector<Tensor> cross = n.run([&](Seq2SeqModel& model) {
              return forced_cross_attention(model, {src_ids}, {out}).front();
            });
            const SentenceAlignment a =
                align_sentence(cross, n.pieces(src_ids, Side::kSource),
                               n.pieces(out, Side::kTarget), source, opt, pieces);
            py::list links;
            for (const AlignmentLink& l : a.links) links.append(py::make_tuple(l.src, l.tgt));
            py::dict d;
            d["soft"] = own(a.soft);
            d["links"] = links;
            d["pharaoh"] = format_pharaoh(a.links);
            d["source_labels"] = a.src_labels;
            d["target_labels"] = a.tgt_labels;
            d["source"] = source.name();
            return d;
          },
          py::arg("translation"), py::arg("layer"), py::arg("head"), py::arg("shift"),
          py::arg("threshold"), py::arg("keep_eos"), py::arg("pieces"))
      .def(
          "save",
          [](NativeModel& n, const Translation& t, const std::string& dir, bool npy, bool pictures,
             bool html, bool rollout, bool contributions, float residual_share) {
            AttentionFileOptions f;
            f.npy = npy;
            f.pictures = pictures;
            f.html = html;
            AnalysisOptions a;
            a.rollout = rollout;
            a.contributions = contributions;
            a.pictures = pictures;
            a.residual_share = residual_share;
            check_analysis_supported(n.model(), a, n.dir());
            const std::vector<int32_t> src_ids = n.source_ids(t.source);
            return n.run([&](Seq2SeqModel& model) {
              std::vector<std::string> written = write_attention_files(dir, t, f);
              const auto more = write_analysis_files(dir, model, src_ids, t, a);
              written.insert(written.end(), more.begin(), more.end());
              return written;
            });
          },
          py::arg("translation"), py::arg("dir"), py::arg("npy"), py::arg("pictures"),
          py::arg("html"), py::arg("rollout"), py::arg("contributions"), py::arg("residual_share"));
}

}  // namespace

void register_models(py::module_& m) {
  register_translation(m);
  register_model(m);
}

}  // namespace attnscope::python
