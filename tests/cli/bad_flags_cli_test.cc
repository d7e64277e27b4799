// Every flag is checked before any work: a table of bad invocations of every subcommand (numbers
// out of range, NaN and infinite floats, absurd sizes, values that do not parse, flags that
// exclude or need each other) must each end with a non-zero exit, a message naming the flag (or
// the file), and no file written — nothing trained into --out, no folder created.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

struct Bad {
  std::string args;  // shell words after `attnscope`, run in the test's folder
  std::string says;  // a part of the message
};

// Relative paths resolve in the test's folder: train.tsv, test.tsv, hyp.txt, ref.txt, big.json
// (a config.json asking for d_ff 2^62) are there; MODEL is the demo model of tests/data.
const std::vector<Bad>& table() {
  static const std::vector<Bad> rows = [] {
    const std::string train = "train --data train.tsv --out out --config tiny --steps 2 ";
    const std::string tr = "translate --model MODEL ";
    const std::string at = "attention --model MODEL 'o gato' --out att ";
    const std::string al = "align --model MODEL ";
    const std::string sv = "serve --model MODEL ";
    return std::vector<Bad>{
        {tr + "--mask-heads crossx:0:0 < /dev/null", "--mask-heads"},
        {tr + "--mask-heads cross:0 < /dev/null", "--mask-heads"},
        {tr + "--mask-heads cross:-1:0 < /dev/null", "--mask-heads"},
        {tr + "--mask-heads cross:9:0 < /dev/null", "--mask-heads: cross:9:0: no layer 9"},
        {tr + "--mask-heads encoder_self:0:7 < /dev/null",
         "--mask-heads: encoder_self:0:7: no head 7"},
        {at + "--mask-heads decoder_self:5:*", "--mask-heads"},
        {al + "--mask-heads cross:*:2 < /dev/null", "--mask-heads"},
        {sv + "--mask-heads cross:*:x", "--mask-heads"},
        {"heads --model MODEL --data test.tsv --out h --limit -1", "--limit"},
        {"heads --model MODEL --data test.tsv --out h --prune-step -2", "--prune-step"},
        {"heads --model MODEL --data test.tsv --out h --grad-batch 0", "--grad-batch"},
        {"heads --model MODEL --data test.tsv --out h --beam 0", "--beam"},
        {"heads --model MODEL --out h", "--data"},
        {"attribute --model MODEL 'o gato' --out attr --method grad", "--method"},
        {"attribute --model MODEL 'o gato' --out attr --steps 0", "--steps"},
        {"attribute --model MODEL 'o gato' --out attr --baseline one", "--baseline"},
        {"attribute --model MODEL 'o gato' --out attr --mask-heads cross:3:0", "--mask-heads"},
        {train + "--log-every 0", "--log-every"},
        {train + "--log-every -1", "--log-every"},
        {train + "--steps -1", "--steps"},
        {train + "--steps 99999999999999999999", "--steps"},
        {train + "--epochs -2", "--epochs"},
        {train + "--minutes nan", "--minutes"},
        {train + "--minutes inf", "--minutes"},
        {train + "--minutes -1", "--minutes"},
        {train + "--warmup -5", "--warmup"},
        {train + "--batch-tokens 0", "--batch-tokens"},
        {train + "--batch-tokens -1", "--batch-tokens"},
        {train + "--batch-tokens 1e3", "--batch-tokens"},
        {train + "--batch-tokens 99999999999", "--batch-tokens"},
        {train + "--accumulate 0", "--accumulate"},
        {train + "--lr 0", "--lr"},
        {train + "--lr nan", "--lr"},
        {train + "--lr -1", "--lr"},
        {train + "--lr inf", "--lr"},
        {train + "--lr 1e-x", "--lr"},
        {train + "--label-smoothing 1", "--label-smoothing"},
        {train + "--label-smoothing nan", "--label-smoothing"},
        {train + "--label-smoothing -0.1", "--label-smoothing"},
        {train + "--dropout 1", "--dropout"},
        {train + "--dropout nan", "--dropout"},
        {train + "--dropout -0.5", "--dropout"},
        {train + "--clip-norm -1", "--clip-norm"},
        {train + "--clip-norm nan", "--clip-norm"},
        {train + "--weight-decay -1", "--weight-decay"},
        {train + "--weight-decay inf", "--weight-decay"},
        {train + "--valid-every -1", "--valid-every"},
        {train + "--valid-bleu-sentences -1", "--valid-bleu-sentences"},
        {train + "--patience -1", "--patience"},
        {train + "--vocab 0", "--vocab"},
        {train + "--vocab 3", "--vocab"},
        {train + "--vocab 999999999999", "--vocab"},
        {train + "--vocab -8000", "--vocab"},
        {train + "--spm-type word", "--spm-type"},
        {train + "--schedule linear", "--schedule"},
        {train + "--norm middle", "--norm"},
        {train + "--arch lstm", "--arch"},
        {train + "--seed -1", "--seed"},
        {train + "--seed abc", "--seed"},
        {train + "--split-dev -3", "--split-dev"},
        {train + "--rank-timeout -1", "--rank-timeout"},
        {train + "--rank-timeout nan", "--rank-timeout"},
        {train + "--rank-timeout inf", "--rank-timeout"},
        {train + "--replica-check-every -1", "--replica-check-every"},
        {train + "--replica-check-every 1.5", "--replica-check-every"},
        {train + "--bucket-mb 0", "--bucket-mb"},
        {train + "--bucket-mb nan", "--bucket-mb"},
        {train + "--bucket-mb 99999", "--bucket-mb"},
        {train + "--src-col -1", "--src-col"},
        {train + "--tgt-col 70000", "--tgt-col"},
        {train + "--src-col 1 --tgt-col 1", "--src-col and --tgt-col are both 1"},
        {train + "--src-file a.txt --tgt-file b.txt", "--data excludes --src-file"},
        {"train --src-file train.tsv --out out --steps 2", "--src-file requires --tgt-file"},
        {train + "--valid train.tsv --split-dev 5", "--valid excludes --split-dev"},
        {train + "--spm x.model --vocab 100", "--spm"},
        {train + "--tgt-spm x.model", "--tgt-spm requires --spm"},
        {"train --data train.tsv --out out",
         "training needs a limit: --steps, --epochs or --minutes"},
        {"train --out out --steps 2", "give the training data"},
        {train + "--max-memory 12Q", "--max-memory"},
        {train + "--max-memory -1G", "--max-memory"},
        {"train --data train.tsv --out out --steps 2 --config huge", "--config huge: not a preset"},
        {"train --data train.tsv --out out --steps 2 --config wide.json",
         "needs 4.8 PiB: more than the memory cap"},
        {"train --data train.tsv --out out --steps 2 --config big.json",
         "\"d_ff\" is 4611686018427387904"},
        {"train --data train.tsv --out out --steps 2 --config big.json --arch rnn-attention",
         "big.json: \"d_ff\" is 4611686018427387904"},
        {train + "--no-such-flag", "--no-such-flag"},
        {train + "--steps", "--steps"},
        {tr + "--beam 0 < /dev/null", "--beam"},
        {tr + "--beam 65 < /dev/null", "--beam: Value 65 not in range 1 to 64"},
        {tr + "--beam -1 < /dev/null", "--beam"},
        {tr + "--beam 1e400 < /dev/null", "--beam"},
        {tr + "--nbest 0 < /dev/null", "--nbest"},
        {tr + "--nbest 5 --beam 2 < /dev/null", "--nbest 5 is larger than --beam 2"},
        {tr + "--length-penalty nan < /dev/null", "--length-penalty"},
        {tr + "--length-penalty inf < /dev/null", "--length-penalty"},
        {tr + "--length-penalty 11 < /dev/null", "--length-penalty"},
        {tr + "--max-len-ratio -1 < /dev/null", "--max-len-ratio"},
        {tr + "--max-len-ratio nan < /dev/null", "--max-len-ratio"},
        {tr + "--batch 0 < /dev/null", "--batch"},
        {tr + "--batch -4 < /dev/null", "--batch"},
        {tr + "--output", "--output"},
        {tr + "--input /nonexistent/in.txt", "cannot open /nonexistent/in.txt"},
        {tr + "--max-memory 1k < /dev/null", "more than the memory cap of 1.0 KiB (--max-memory)"},
        {"translate --model MODEL --batch 100000 --beam 64 --max-memory 64M < many.txt",
         "decoding 1000 sentence(s) with beam 64 needs 110 MiB: more than the memory cap"},
        {"translate --model /nonexistent/model < /dev/null", "/nonexistent/model"},
        {"eval --model MODEL --data test.tsv --beam 0", "--beam"},
        {"eval --model MODEL --data test.tsv --src-col 2 --tgt-col 2",
         "--src-col and --tgt-col are both 2"},
        {"eval --model MODEL --data test.tsv --batch 0", "--batch"},
        {"eval --model MODEL", "--data is required"},
        {"score --hypotheses hyp.txt",
         "give the references either as --references FILE or as --data"},
        {"score -i hyp.txt -r ref.txt --data test.tsv", "give the references either"},
        {"score -i hyp.txt --data test.tsv --src-col -1", "--src-col"},
        {at + "--residual-share 2", "--residual-share"},
        {at + "--residual-share nan", "--residual-share"},
        {at + "--reduce median", "--reduce"},
        {at + "--kinds nothing", "unknown attention kind \"nothing\""},
        {at + "--layers x", "--layers"},
        {at + "--heads -1", "--heads"},
        {at + "--beam 0", "--beam"},
        {at + "--nbest 3", "nbest must be between 1 and the beam size (1), not 3"},
        {al + "--threshold 2 < /dev/null", "--threshold"},
        {al + "--threshold nan < /dev/null", "--threshold"},
        {al + "--gold-base 5 < /dev/null", "--gold-base"},
        {al + "--layer -1 --head 0 < /dev/null", "--layer"},
        {al + "--layer 0 < /dev/null", "--layer requires --head"},
        {al + "--mean-layer 0 --layer 0 --head 0 < /dev/null", "--layer excludes --mean-layer"},
        {al + "--gold ref.txt < /dev/null", "--gold needs --data"},
        {al + "--beam 0 < /dev/null", "--beam"},
        {sv + "--port 70000", "--port"},
        {sv + "--port -1", "--port"},
        {sv + "--threads 0", "--threads"},
        {sv + "--threads 1000", "--threads"},
        {sv + "--max-chars 0", "--max-chars"},
        {sv + "--request-timeout 0", "--request-timeout"},
        {sv + "--request-timeout nan", "--request-timeout"},
        {"explain --len 0", "--len"},
        {"explain --len 65", "--len"},
        {"explain --dim 4 --heads 3", "heads"},
        {"explain --pad 64", "--pad"},
        {"explain --seed -1", "--seed"},
        {"demo --out demo-out --steps 0", "--steps"},
        {"demo --out demo-out --minutes nan", "--minutes"},
        {"demo --out demo-out --train-pairs 0", "--train-pairs"},
        {"demo --out demo-out --test-pairs 0", "--test-pairs"},
        {"demo --out demo-out --arch gru", "--arch"},
        {"demo --out demo-out --config nothing", "--config nothing"},
        {"bench --repeat 0", "--repeat"},
        {"bench --threads 0", "--threads"},
        {"bench W9", "W9"},
        {"forward --model MODEL --src '5 6' --tgt 'x'", "\"x\" is not a token id"},
        {"--max-memory lots translate --model MODEL", "--max-memory"},
        {"", "A subcommand is required"},
    };
  }();
  return rows;
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.insert(fs::relative(e.path(), dir).string());
  return out;
}

TEST(BadFlagsCli, EveryBadInvocationIsRefusedNamingTheFlagBeforeAnyWork) {
  const fs::path dir =
      fs::temp_directory_path() / ("attnscope_bad_flags_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "train.tsv") << "o gato\tthe cat\ndois gatos\ttwo cats\n";
  std::ofstream(dir / "test.tsv") << "9 de outubro de 1993\t1993-10-09\n";
  std::ofstream(dir / "hyp.txt") << "1993-10-09\n";
  std::ofstream(dir / "ref.txt") << "1993-10-09\n";
  {
    std::ofstream many(dir / "many.txt");
    for (int i = 0; i < 1000; ++i) many << (1 + i % 28) << " de outubro de 1993\n";
  }
  std::ofstream(dir / "big.json") << R"({"arch": "transformer", "d_ff": 4611686018427387904})";
  // Every size inside its range, the whole far past any machine.
  std::ofstream(dir / "wide.json") << R"({"d_model": 65536, "heads": 1, "d_ff": 1048576,
                                          "encoder_layers": 1024, "decoder_layers": 1024})";
  const std::set<std::string> before = files_in(dir);
  const std::string model = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";
  EXPECT_GE(table().size(), 100u);
  for (const Bad& bad : table()) {
    std::string args = bad.args;
    for (size_t at; (at = args.find("MODEL")) != std::string::npos;) args.replace(at, 5, model);
    const test::CliResult r = test::run_shell(
        "cd " + dir.string() + " && exec " + test::attnscope_binary() + " " + args + " 2>&1", 60);
    EXPECT_NE(r.exit_code, 0) << "accepted: attnscope " << args << "\n" << r.out;
    EXPECT_NE(r.exit_code, -1) << "crashed: attnscope " << args << "\n" << r.out;
    EXPECT_NE(r.out.find(bad.says), std::string::npos)
        << "attnscope " << args << "\nexpected \"" << bad.says << "\" in:\n"
        << r.out;
    EXPECT_EQ(r.out.find("internal error"), std::string::npos) << "attnscope " << args << r.out;
    EXPECT_EQ(files_in(dir), before) << "attnscope " << args << " wrote files:\n" << r.out;
    for (const auto& f : files_in(dir))
      if (!before.count(f)) fs::remove_all(dir / f);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace attnscope
