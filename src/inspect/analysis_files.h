// The analyses `attnscope attention --rollout --contributions` adds beside the raw maps of one
// translation. Both come from one teacher-forced pass over the source and the output (the same
// maps the decoder produced, every layer and head, whatever the capture spec kept):
//   rollout.json, rollout_encoder.{png,svg}, rollout_decoder.{png,svg}
//       attention rollout (inspect/rollout.h): how much of each input token has flowed into each
//       position at the top of the encoder stack / the decoder's self-attention stack
//   contributions.json, contributions_<kind>.{png,svg}
//       value-weighted contributions ‖α_ij · v_j W_O‖ (inspect/contributions.h) per layer and
//       head, and ‖Σ_h …‖ for the whole layer: how far key j actually moves query i's output
#pragma once

#include <string>
#include <vector>

#include "decode/translate.h"
#include "inspect/contributions.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct AnalysisOptions {
  bool rollout = false;
  bool contributions = false;
  bool pictures = true;
  float residual_share = 0.5f;  // rollout's (1 − r): the share the residual path keeps
};

// Throws attnscope::Error, naming `model_name` and what is missing, when the model cannot give
// what opt asks for: rollout needs encoder and decoder self-attention layers, contributions
// need value vectors (ModelInfo::value_vectors). Cheap: call it before decoding.
void check_analysis_supported(const Seq2SeqModel& model, const AnalysisOptions& opt,
                              const std::string& model_name);

// The teacher-forced pass both analyses read: model.forward over src_ids (the source as the
// model saw it, encode_source) and <s> followed by the best hypothesis of t. Afterwards the
// model's maps are those the translation was made with, every layer and head.
void run_forced_pass(Seq2SeqModel& model, const std::vector<int32_t>& src_ids,
                     const Translation& t);

// After run_forced_pass: the rollout (inspect/rollout.h) of the encoder's self-attention stack
// [Ts, Ts] and of the decoder's [T, T]. residual_share in [0, 1].
struct SentenceRollout {
  Tensor encoder, decoder;
};
SentenceRollout sentence_rollout(const Seq2SeqModel& model, float residual_share);

// After run_forced_pass: the value-weighted contributions (inspect/contributions.h) of every layer
// of `kind`, for the one sentence: value_norms [H, Tk], per_head [H, Tq, Tk], summed [Tq, Tk].
std::vector<LayerContributions> sentence_contributions(const Seq2SeqModel& model,
                                                       AttentionKind kind);

// src_ids: the source as the model saw it (encode_source); t: its translation (the best
// hypothesis is analysed). Returns the paths written into dir.
std::vector<std::string> write_analysis_files(const std::string& dir, Seq2SeqModel& model,
                                              const std::vector<int32_t>& src_ids,
                                              const Translation& t, const AnalysisOptions& opt);

}  // namespace attnscope
