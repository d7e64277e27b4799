// Each subcommand lives in its own cmd_<name>.cc and registers itself on the CLI11 app.
// The CLI layer only parses arguments, calls the library and prints.
#pragma once

#include <CLI/CLI.hpp>

namespace attnscope::app {

void register_explain(CLI::App& app);
void register_forward(CLI::App& app);
void register_train(CLI::App& app);
void register_translate(CLI::App& app);
void register_eval(CLI::App& app);
void register_score(CLI::App& app);
void register_demo(CLI::App& app);
void register_align(CLI::App& app);
void register_attention(CLI::App& app);
void register_serve(CLI::App& app);
void register_bench(CLI::App& app);
void register_attribute(CLI::App& app);
void register_heads(CLI::App& app);

}  // namespace attnscope::app
