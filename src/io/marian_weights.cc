#include "io/marian_weights.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/positional_encoding.h"

namespace attnscope {

namespace {

const char* kEncoderPositions = "model.encoder.embed_positions.weight";
const char* kDecoderPositions = "model.decoder.embed_positions.weight";

// Takes the file's tensors out by name, checking each one as it goes.
class TensorSource {
 public:
  TensorSource(SafetensorsFile& file, const std::string& path) : file_(file), path_(path) {}

  bool has(const std::string& name) const { return file_.tensors.count(name) > 0; }

  // The tensor `name` of `shape`, checked (dtype, shape, finite values) and removed from the
  // file; nullopt when the file does not have it.
  std::optional<Tensor> take_if(const std::string& name, const Shape& shape) {
    auto it = file_.tensors.find(name);
    if (it == file_.tensors.end()) return std::nullopt;
    const std::string& dtype = file_.dtypes.count(name) ? file_.dtypes.at(name) : "F32";
    ATTN_CHECK(dtype == "F32" || dtype == "F16" || dtype == "BF16",
               "{}: tensor \"{}\" is {}: Marian weights must be F32, F16 or BF16", path_, name,
               dtype);
    ATTN_CHECK(it->second.shape() == shape, "{}: tensor \"{}\" has shape {}, the config needs {}",
               path_, name, it->second.shape_str(), shape_str(shape));
    Tensor t = std::move(it->second);
    file_.tensors.erase(it);
    for (int64_t i = 0; i < t.numel(); ++i)
      ATTN_CHECK(std::isfinite(t[i]), "{}: tensor \"{}\" holds a non-finite value ({}) at index {}",
                 path_, name, t[i], i);
    return t;
  }

  Tensor take(const std::string& name, const Shape& shape, const std::string& why = "") {
    std::optional<Tensor> t = take_if(name, shape);
    ATTN_CHECK(t.has_value(), "{}: tensor \"{}\" {} is missing{}", path_, name, shape_str(shape),
               why.empty() ? "" : " (" + why + ")");
    return std::move(*t);
  }

  // One table that may be stored under several names (tied copies): the first of `names` that
  // the file has; every other one present must hold the same values.
  Tensor take_tied(const std::vector<std::string>& names, const Shape& shape,
                   const std::string& what) {
    std::optional<Tensor> chosen;
    std::string chosen_name;
    for (const std::string& n : names) {
      std::optional<Tensor> t = take_if(n, shape);
      if (!t) continue;
      if (!chosen) {
        chosen = std::move(t);
        chosen_name = n;
        continue;
      }
      ATTN_CHECK(std::memcmp(t->data(), chosen->data(),
                             static_cast<size_t>(t->numel()) * sizeof(float)) == 0,
                 "{}: \"{}\" and \"{}\" are copies of one tied table ({}) but hold different "
                 "values; which one Hugging Face would use is not defined, so attnscope refuses",
                 path_, chosen_name, n, what);
    }
    if (!chosen) {
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
      fail("{}: the {} {} is missing: the file has none of {}", path_, what, shape_str(shape),
           list);
    }
    return std::move(*chosen);
  }

  // Whatever was not taken is a name this model does not have.
  void expect_empty() const {
    if (file_.tensors.empty()) return;
    const auto& [name, t] = *file_.tensors.begin();
    fail(
        "{}: unexpected tensor \"{}\" {} ({} left over): not a weight of a Marian model with "
        "this config.json",
        path_, name, t.shape_str(), file_.tensors.size());
  }

 private:
  SafetensorsFile& file_;
  const std::string& path_;
};

// [3D, D] from three [D, D] (or [3D] from three [D]): rows of q, then k, then v.
Tensor stack_rows(const Tensor& q, const Tensor& k, const Tensor& v) {
  Shape shape = q.shape();
  shape[0] *= 3;
  Tensor out(shape);
  const size_t n = static_cast<size_t>(q.numel());
  std::memcpy(out.data(), q.data(), n * sizeof(float));
  std::memcpy(out.data() + n, k.data(), n * sizeof(float));
  std::memcpy(out.data() + 2 * n, v.data(), n * sizeof(float));
  return out;
}

void attention(TensorSource& src, const std::string& hf, const std::string& ours, int64_t D,
               std::map<std::string, Tensor>& out) {
  Tensor w[3], b[3];
  const char* proj[3] = {"q_proj", "k_proj", "v_proj"};
  for (int i = 0; i < 3; ++i) {
    w[i] = src.take(hf + "." + proj[i] + ".weight", {D, D});
    b[i] = src.take(hf + "." + proj[i] + ".bias", {D});
  }
  out[ours + ".in_proj_weight"] = stack_rows(w[0], w[1], w[2]);
  out[ours + ".in_proj_bias"] = stack_rows(b[0], b[1], b[2]);
  out[ours + ".out_proj.weight"] = src.take(hf + ".out_proj.weight", {D, D});
  out[ours + ".out_proj.bias"] = src.take(hf + ".out_proj.bias", {D});
}

void layer_norm(TensorSource& src, const std::string& hf, const std::string& ours, int64_t D,
                std::map<std::string, Tensor>& out) {
  out[ours + ".weight"] = src.take(hf + ".weight", {D});
  out[ours + ".bias"] = src.take(hf + ".bias", {D});
}

void feed_forward(TensorSource& src, const std::string& hf, const std::string& ours, int64_t D,
                  int64_t F, std::map<std::string, Tensor>& out) {
  out[ours + "linear1.weight"] = src.take(hf + "fc1.weight", {F, D});
  out[ours + "linear1.bias"] = src.take(hf + "fc1.bias", {F});
  out[ours + "linear2.weight"] = src.take(hf + "fc2.weight", {D, F});
  out[ours + "linear2.bias"] = src.take(hf + "fc2.bias", {D});
}

}  // namespace

bool has_marian_position_tables(const SafetensorsFile& file) {
  return file.tensors.count(kEncoderPositions) > 0 || file.tensors.count(kDecoderPositions) > 0;
}

std::map<std::string, Tensor> marian_weights(SafetensorsFile& file, const MarianConfig& c,
                                             const std::string& path) {
  TensorSource src(file, path);
  std::map<std::string, Tensor> out;
  const int64_t D = c.d_model, F = c.d_ff, V = c.src_vocab;
  const Shape table{V, D};

  // Embeddings: the config decides which tables there are; tied copies in the file must agree.
  const std::string shared = "model.shared.weight", enc = "model.encoder.embed_tokens.weight",
                    dec = "model.decoder.embed_tokens.weight", head = "lm_head.weight";
  if (c.share_embeddings) {
    std::vector<std::string> names = {shared, enc, dec};
    if (c.tie_output) names.push_back(head);
    out["tgt_embed.weight"] = src.take_tied(names, table, "shared embedding table");
  } else {
    out["src_embed.weight"] = src.take_tied({enc}, table, "encoder embedding table");
    std::vector<std::string> names = {dec};
    if (c.tie_output) names.push_back(head);
    out["tgt_embed.weight"] = src.take_tied(names, table, "decoder embedding table");
  }
  if (!c.tie_output)
    out["generator.weight"] =
        src.take(head, table,
                 "config.json has tie_word_embeddings: false, so the output layer "
                 "is a table of its own");
  std::optional<Tensor> bias = src.take_if("final_logits_bias", {1, V});
  out["generator.bias"] = bias ? bias->view({V}) : Tensor({V});

  // Positions: the file's tables when it has them (Hugging Face uses them, F16-rounded or not);
  // a side without one gets the sinusoid Hugging Face would compute.
  if (c.positions == Positions::kTable) {
    const Shape pos{c.max_len, D};
    for (const auto& [hf, ours] :
         {std::pair<std::string, std::string>{kEncoderPositions, "src_positions.weight"},
          {kDecoderPositions, "tgt_positions.weight"}}) {
      std::optional<Tensor> t = src.take_if(hf, pos);
      if (!t) {
        t = Tensor(pos);
        cpu::positional_encoding(t->data(), c.max_len, D, cpu::PositionLayout::kHalves);
      }
      out[ours] = std::move(*t);
    }
  }

  for (int64_t l = 0; l < c.encoder_layers; ++l) {
    const std::string hf = "model.encoder.layers." + std::to_string(l) + ".";
    const std::string ours = "encoder.layers." + std::to_string(l) + ".";
    attention(src, hf + "self_attn", ours + "self_attn", D, out);
    layer_norm(src, hf + "self_attn_layer_norm", ours + "norm1", D, out);
    feed_forward(src, hf, ours, D, F, out);
    layer_norm(src, hf + "final_layer_norm", ours + "norm2", D, out);
  }
  for (int64_t l = 0; l < c.decoder_layers; ++l) {
    const std::string hf = "model.decoder.layers." + std::to_string(l) + ".";
    const std::string ours = "decoder.layers." + std::to_string(l) + ".";
    attention(src, hf + "self_attn", ours + "self_attn", D, out);
    layer_norm(src, hf + "self_attn_layer_norm", ours + "norm1", D, out);
    attention(src, hf + "encoder_attn", ours + "multihead_attn", D, out);
    layer_norm(src, hf + "encoder_attn_layer_norm", ours + "norm2", D, out);
    feed_forward(src, hf, ours, D, F, out);
    layer_norm(src, hf + "final_layer_norm", ours + "norm3", D, out);
  }
  src.expect_empty();
  return out;
}

}  // namespace attnscope
