// attnscope translate: sentences from stdin or a file, translations to stdout or a file.
#include <fmt/core.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "app/commands.h"
#include "app/decode_args.h"
#include "app/device_args.h"
#include "app/stdout_check.h"
#include "app/text_lines.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "data/corpus.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

struct TranslateArgs {
  std::string model, input, output;
  DecodeFlags decode;
  DeviceArgs device;
};

void run_translate(const TranslateArgs& a) {
  check_decode_flags(a.decode);
  auto model = load_model_on(a.model, a.device);
  const TranslateOptions opt = a.decode.options_for(model->info());
  const TokenizerPair tok = load_tokenizers(a.model);
  TextLines in(a.input);
  const std::string& in_name = in.name();
  std::vector<std::string> lines;
  std::vector<int64_t> bad;
  for (std::string line; in.next(line);) {
    if (!is_valid_utf8(line)) {
      bad.push_back(in.line_number());
      line.clear();  // keep the line count aligned: an empty translation
    }
    lines.push_back(line);
  }
  if (!in.cut_note().empty()) fmt::print(stderr, "attnscope: {}\n", in.cut_note());
  if (!bad.empty()) {
    fmt::print(stderr,
               "attnscope: {} line(s) of {} are not valid UTF-8 and were left "
               "untranslated (empty output lines), first: {}:{}\n",
               bad.size(), in_name, in_name, bad.front());
  }
  const auto translations = translate_sentences(*model, *tok.src, *tok.tgt, lines, opt);
  std::ostringstream out;
  for (size_t i = 0; i < translations.size(); ++i) {
    const Translation& t = translations[i];
    if (opt.decode.nbest <= 1 || lines[i].empty()) {
      out << (lines[i].empty() ? "" : t.text) << "\n";
      continue;
    }
    // n-best: "index ||| hypothesis ||| score", as Moses and Marian print it.
    for (const auto& h : t.hypotheses)
      out << i << " ||| " << tok.tgt->decode(h.tokens) << " ||| " << h.score << "\n";
  }
  if (a.output.empty()) {
    std::cout << out.str();
    check_stdout("the translations");
  } else {
    write_file_atomically(a.output, out.str());
  }
  if (!bad.empty()) throw Error(fmt::format("{} input line(s) were not valid UTF-8", bad.size()));
}

}  // namespace

void register_translate(CLI::App& app) {
  auto a = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "translate", "Translate sentences, one per line, from stdin (or --input) to stdout.");
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--input", a->input, "Read sentences from this file instead of stdin");
  cmd->add_option("--output", a->output, "Write translations to this file instead of stdout");
  add_decode_options(cmd, a->decode);
  add_device_options(cmd, a->device);
  add_mask_heads_option(cmd, a->device.mask_heads);
  cmd->callback([a] { run_translate(*a); });
}

}  // namespace attnscope::app
