// The Transformer (arch "transformer", nn/transformer.h) computed on an NVIDIA GPU, behind the
// same Seq2SeqModel interface: forward (teacher-forced), start_decoding / decode_step over a
// device KV cache, decode_step_topk (beam search's step: only each row's best few tokens cross to
// the host), and the attention maps of every kind, recovered exactly for the heads asked for
// from the log-sum-exp each attention call keeps (kernels/cuda/attention.h).
//
// Built from a loaded CPU model's parameters (uploaded once, by name through visit_params), in
// bf16 (weights and activations, fp32 accumulation, statistics and logits) or fp32 (every value
// fp32: the CPU's arithmetic up to summation order). Every config switch of ModelConfig is
// implemented — post/pre-norm, ReLU/GELU, shared and tied embeddings, final norms, embedding
// scale, generator bias, the learner's residual and scale_scores — and check_cuda_supported
// refuses, before anything is uploaded, what is not: another architecture, a config key this
// file does not know with a value other than its default, a head wider than 256.
//
// Compiled only with -DATTNSCOPE_CUDA=ON; nn/device.h's to_device() is the way in.
#pragma once

#include <memory>
#include <string>

#include "nn/device.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

// Whether a CUDA device this build can run on is here; *why says what is missing when not (no
// driver, no device, a GPU older than compute capability 9.0).
bool cuda_device_usable(std::string* why);

// Throws attnscope::Error naming what the device model does not implement in `model`'s
// architecture and config. Needs no GPU.
void check_cuda_supported(const Seq2SeqModel& model);

// `model` on the current CUDA device (it is kept, and owned, for its config and host weights).
std::unique_ptr<Seq2SeqModel> make_cuda_transformer(std::unique_ptr<Seq2SeqModel> model,
                                                    Precision precision);

}  // namespace attnscope
