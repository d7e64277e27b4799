// attnscope forward: one teacher-forced pass over given token ids, printing logits and every
// attention map — the entry point the PyTorch parity checks and scripts use.
#include <fmt/core.h>

#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/device_args.h"
#include "app/token_args.h"
#include "core/error.h"
#include "inspect/tensor_json.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

struct ForwardArgs {
  std::string model_dir;
  std::vector<std::string> src, tgt;
  bool json = false;
  DeviceArgs device;
};

std::string attention_json(const Seq2SeqModel& model) {
  std::string out = "{";
  bool first_kind = true;
  for (AttentionKind kind : kAllAttentionKinds) {
    if (!first_kind) out += ',';
    first_kind = false;
    out += fmt::format("\"{}\":[", attention_kind_name(kind));
    for (int64_t l = 0; l < model.num_layers(kind); ++l) {
      if (l) out += ',';
      append_json_array(out, model.attention(kind, l));
    }
    out += ']';
  }
  return out + "}";
}

void run_forward(const ForwardArgs& a) {
  std::unique_ptr<Seq2SeqModel> model = load_model_on(a.model_dir, a.device);
  const ModelInfo cfg = model->info();
  TokenBatch src = parse_token_rows(a.src, cfg.pad_id, "--src");
  TokenBatch tgt = parse_token_rows(a.tgt, cfg.pad_id, "--tgt");
  ATTN_CHECK(src.rows == tgt.rows,
             "{} --src sequences but {} --tgt sequences: give one of each "
             "per batch row",
             src.rows, tgt.rows);
  const Tensor& logits = model->forward(src, tgt, ForwardOptions{});
  if (a.json) {
    std::string out = "{\"logits\":";
    append_json_array(out, logits);
    out += ",\"attention\":" + attention_json(*model) + "}\n";
    std::cout << out;
    return;
  }
  const int64_t B = logits.dim(0), T = logits.dim(1), V = logits.dim(2);
  fmt::print("logits {}  (batch, target positions, target vocabulary)\n", logits.shape_str());
  for (AttentionKind kind : kAllAttentionKinds)
    fmt::print("{:<13} {} layers of {}  (batch, heads, queries, keys)\n", attention_kind_name(kind),
               model->num_layers(kind),
               model->num_layers(kind) > 0 ? model->attention(kind, 0).shape_str() : "-");
  for (int64_t b = 0; b < B; ++b) {
    fmt::print("sequence {}: most likely next token at each target position:", b);
    for (int64_t t = 0; t < T; ++t) {
      const float* row = logits.data() + (b * T + t) * V;
      int64_t best = 0;
      for (int64_t v = 1; v < V; ++v)
        if (row[v] > row[best]) best = v;
      fmt::print(" {}", best);
    }
    fmt::print("\n");
  }
  fmt::print("(add --json for every number)\n");
}

}  // namespace

void register_forward(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forward",
      "One teacher-forced pass over raw token ids: logits and every attention map\n"
      "(encoder self, decoder self, cross; every layer and head).");
  cmd->add_option("--model", args->model_dir, "Model directory (config.json, model.safetensors)")
      ->required();
  cmd->add_option("--src", args->src, "Source token ids, e.g. \"5 6 7\"; repeat for a batch")
      ->required();
  cmd->add_option("--tgt", args->tgt,
                  "Decoder input ids, one per --src, starting with the decoder start id (bos; "
                  "for a Hugging Face Marian model its decoder_start_token_id, the pad id); "
                  "padded with pad_id")
      ->required();
  cmd->add_flag("--json", args->json,
                "Print {\"logits\": [B][Tt][V], \"attention\": {\"encoder_self\": "
                "[L][B][H][Ts][Ts], \"decoder_self\": [L][B][H][Tt][Tt], \"cross\": "
                "[L][B][H][Tt][Ts]}}");
  add_device_options(cmd, args->device);
  add_mask_heads_option(cmd, args->device.mask_heads);
  cmd->callback([args] { run_forward(*args); });
}

}  // namespace attnscope::app
