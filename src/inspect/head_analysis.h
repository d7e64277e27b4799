// Which attention heads matter (attnscope heads), from teacher-forced passes over reference
// translations:
//   confidence  the mean, over the non-pad query positions, of the head's largest weight
//               (Voita et al. 2019: a "confident" head puts most of its weight on one token)
//   importance  the mean over sentences of |∂L/∂gate_h|, L the sentence's summed negative log-
//               likelihood of its reference and gate_h the head's gate at the model's current
//               gates (Michel et al. 2019): how much the loss would move if the head were scaled
//               down — read off one backward pass, for every head at once
// The BLEU/chrF of a model with a head masked needs decoding and scoring: the CLI does that
// (app/cmd_heads.cc) with Seq2SeqModel::set_head_gates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/attention_kind.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct HeadId {
  AttentionKind kind = AttentionKind::kEncoderSelf;
  int64_t layer = 0, head = 0;
};
// "cross:1:2", as --mask-heads takes it.
std::string head_id_name(const HeadId& h);

// Every head of the model: kinds in kAllAttentionKinds order, then layers, then heads.
std::vector<HeadId> all_heads(const Seq2SeqModel& model);

// One sentence pair as the model reads it: the source ids (eos included) and the reference's
// output ids y_1 … y_N (eos included).
struct ReferencePair {
  std::vector<int32_t> src, out;
};

struct HeadStats {
  std::vector<double> confidence;  // per head of all_heads()
  std::vector<double> importance;  // per head of all_heads()
  double loss = 0;                 // mean negative log-likelihood per reference token
  int64_t tokens = 0, sentences = 0;
};

// Teacher-forced passes over `pairs` (sorted by length, `batch` sentences per pass), at the
// model's current head gates. Needs info().head_gates (an attnscope::Error saying why
// otherwise) and a CPU model (it runs backward).
HeadStats head_confidence_and_importance(Seq2SeqModel& model,
                                         const std::vector<ReferencePair>& pairs, int64_t batch);

}  // namespace attnscope
