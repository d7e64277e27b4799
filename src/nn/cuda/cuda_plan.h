// What the device Transformer takes from a ModelConfig, in one place: every switch of config.json
// becomes a field here (plan_of), and the GPU code reads only the plan. A new config switch is
// wired by giving it a field, setting it in plan_of and naming its key in kWiredConfigKeys; until
// then check_cuda_supported refuses any model that sets it to something other than its default,
// so the GPU never computes a model it does not know how to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/activation.h"
#include "kernels/cuda/embedding.h"
#include "nn/model_config.h"

namespace attnscope::cuda_model {

struct Plan {
  int64_t d_model = 0, heads = 0, d_head = 0, d_ff = 0;
  int64_t encoder_layers = 0, decoder_layers = 0;
  int64_t src_vocab = 0, tgt_vocab = 0, max_len = 0;
  bool pre_norm = false;    // norm: "pre" (x + F(LN(x))) or "post" (LN(x + F(x)))
  bool residual = true;     // learner switch: false drops the "x +"
  bool final_norms = true;  // encoder.norm / decoder.norm after the stacks
  bool share_embeddings = false;
  bool tie_output = false;
  bool generator_bias = true;
  float embed_scale = 1.0f;  // √d_model when embed_scale
  float score_scale = 1.0f;  // 1/√d_head when scale_scores
  float layer_norm_eps = 1e-5f;
  cuda::DeviceActivation activation = cuda::DeviceActivation::kRelu;
  cuda::PositionLayout positions = cuda::PositionLayout::kInterleaved;
  // The teacher-forced pass hides padded target keys from the decoder's self-attention (the CPU
  // Transformer does).
  bool decoder_self_padding = true;
  int32_t pad_id = 0;
};

// The config.json keys plan_of reads (every other key must keep its default value).
extern const std::vector<std::string> kWiredConfigKeys;

// The plan of a validated config; throws attnscope::Error for a value the GPU does not implement.
Plan plan_of(const ModelConfig& cfg);

}  // namespace attnscope::cuda_model
