// attnscope explain: one attention layer walked through step by step (see inspect/explain.h).
#include <fmt/core.h>

#include <memory>

#include "app/commands.h"
#include "app/flag_checks.h"
#include "inspect/explain.h"

namespace attnscope::app {

void register_explain(CLI::App& app) {
  auto opt = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "Walk through one attention layer on small numbers, every step printed with its formula "
      "and shape:\n"
      "X → Q, K, V → scores = Q·Kᵀ (one batched product, no loop over the batch) → scaled by "
      "1/√d_k\n"
      "(d_k = the key width, not the sequence length) → mask (−∞ becomes weight exactly 0) → "
      "softmax over\n"
      "the keys (each row sums to 1) → Z = weights·V → out = X + Z (residual). With --heads N: "
      "split into\n"
      "heads, attention per head, concat and W_O. Ends with how to read the N×N weights versus "
      "the N×d Z.\n"
      "Every number comes from attnscope's own kernels and is checked against the fused "
      "attention kernel.");
  cmd->add_option("--batch", opt->batch, "Sequences in the batch (1–64)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--len", opt->len, "Tokens per sequence, the sequence length N (1–64)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--dim", opt->dim, "Features per token, d_model (1–64); d_k = dim / heads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--heads", opt->heads, "Attention heads; must divide --dim")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--causal", opt->causal,
                "Apply the causal (look-ahead) mask: no token attends to a later one");
  cmd->add_option("--pad", opt->pad,
                  "Padded positions at the end of the last sequence, masked as keys (< --len)")
      ->capture_default_str()
      ->check(CLI::Range(0, 63));
  cmd->add_option("--seed", opt->seed, "Seed for the random inputs and weights")
      ->capture_default_str()
      ->check(unsigned_number());
  cmd->add_flag("--json", opt->json,
                "Print JSON {\"steps\": [{\"name\", \"shape\", \"values\", \"note\"}, ...]} "
                "instead of text");
  cmd->callback([opt] { fmt::print("{}", explain(*opt)); });
}

}  // namespace attnscope::app
