// Training curves: metrics.jsonl is read leniently (malformed lines skipped, later duplicates
// win), the PNG is real, has one panel or two, and shows each curve in its colour; a file with
// no data or an unwritable PNG is an Error naming the file.
#include "inspect/training_curves.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "temp_files.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint32_t be32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

// Pixels of exactly colour c.
int64_t count_color(const Image& img, Rgb c) {
  int64_t n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y) == c) ++n;
  return n;
}

constexpr Rgb kTrainColor{31, 119, 180}, kValidColor{230, 110, 20}, kBleuColor{44, 160, 44},
    kChrfColor{148, 103, 189};

class TrainingCurvesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_curves_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write_text(const std::string& name, const std::string& text) const {
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // A run of `steps` steps: loss every 50, validation every 500 (with scores if asked).
  std::string write_run(const std::string& name, int steps, bool scores) const {
    std::ostringstream s;
    for (int step = 50; step <= steps; step += 50) {
      s << "{\"step\":" << step << ",\"loss\":" << 2.0 + 6.0 * std::exp(-step / 800.0)
        << ",\"lr\":0.0005}\n";
      if (step % 500 == 0) {
        s << "{\"step\":" << step << ",\"valid_loss\":" << 2.5 + 5.0 * std::exp(-step / 900.0);
        if (scores) s << ",\"bleu\":" << step / 200.0 << ",\"chrf\":" << 10 + step / 100.0;
        s << "}\n";
      }
    }
    return write_text(name, s.str());
  }
  fs::path dir_;
};

TEST(NiceTicks, RoundStepsThatCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 9.3, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(50, 20000, 6), (std::vector<double>{0, 5000, 10000, 15000, 20000}));
  const std::vector<double> t = nice_ticks(1.83, 2.07, 6);
  ASSERT_GE(t.size(), 3u);
  EXPECT_LE(t.front(), 1.83);
  EXPECT_GE(t.back(), 2.07);
  EXPECT_NEAR(t[1] - t[0], 0.05, 1e-12);
  const std::vector<double> one = nice_ticks(3, 3, 6);  // a single value still gets an axis
  EXPECT_GE(one.size(), 2u);
  EXPECT_LE(one.front(), 3.0);
  EXPECT_GE(one.back(), 3.0);
  EXPECT_THROW(nice_ticks(2, 1), Error);
  EXPECT_THROW(nice_ticks(0, std::nan("")), Error);
  EXPECT_THROW(nice_ticks(-1e308, 1e308), Error);
}

TEST_F(TrainingCurvesTest, ReadsLenientlyAndLaterDuplicatesWin) {
  const std::string p = write_text("m.jsonl",
                                   "{\"step\":50,\"loss\":3.5,\"lr\":0.001}\n"
                                   "\n"
                                   "{\"step\":100,\"loss\":3.0}\n"
                                   "{\"step\":150,\"loss\":\n"  // half-written
                                   "not json at all\n"
                                   "[1,2,3]\n"
                                   "{\"loss\":9.0}\n"                 // no step
                                   "{\"step\":\"200\",\"loss\":1}\n"  // step not a number
                                   "{\"step\":200,\"loss\":null,\"valid_loss\":2.9,\"bleu\":12.5}\n"
                                   "{\"step\":100,\"loss\":2.5}\n"  // resumed: replaces step 100
                                   "{\"step\":500,\"valid_loss\":2.7,\"chrf\":40.1}\n"
                                   "{\"step\":550,\"loss\":1e300}\n");  // not plottable
  const TrainingMetrics m = read_training_metrics(p);
  ASSERT_EQ(m.loss.size(), 2u);
  EXPECT_EQ(m.loss[0], (std::pair<double, double>{50, 3.5}));
  EXPECT_EQ(m.loss[1], (std::pair<double, double>{100, 2.5}));
  ASSERT_EQ(m.valid_loss.size(), 2u);
  EXPECT_EQ(m.valid_loss[1], (std::pair<double, double>{500, 2.7}));
  ASSERT_EQ(m.bleu.size(), 1u);
  EXPECT_DOUBLE_EQ(m.bleu[0].second, 12.5);
  ASSERT_EQ(m.chrf.size(), 1u);
  EXPECT_DOUBLE_EQ(m.chrf[0].second, 40.1);
  EXPECT_EQ(m.lines, 11);
  EXPECT_EQ(m.skipped_lines, 6);
}

TEST_F(TrainingCurvesTest, TwoPanelsWithEveryCurve) {
  const std::string jsonl = write_run("run.jsonl", 5000, true);
  const std::string png = path("curves.png");
  write_training_curves_png(jsonl, png);
  EXPECT_TRUE(test::temp_files_beside(png).empty());
  const std::string b = read_bytes(png);
  ASSERT_GE(b.size(), 33u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(b.substr(12, 4), "IHDR");
  const Image img = read_png(png);
  EXPECT_EQ(be32(b, 16), static_cast<uint32_t>(img.width));
  EXPECT_EQ(be32(b, 20), static_cast<uint32_t>(img.height));
  // Curves and legend swatches are drawn in their colours.
  EXPECT_GT(count_color(img, kTrainColor), 100);
  EXPECT_GT(count_color(img, kValidColor), 100);
  EXPECT_GT(count_color(img, kBleuColor), 100);
  EXPECT_GT(count_color(img, kChrfColor), 100);
  // The loss curve falls: its pixels on the left sit higher (smaller y) than on the right.
  double left_y = 0, right_y = 0;
  int64_t left_n = 0, right_n = 0;
  const int half = img.width / 2;  // the loss panel is the left half
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < half; ++x)
      if (img.at(x, y) == kTrainColor) {
        (x < half / 2 ? left_y : right_y) += y;
        ++(x < half / 2 ? left_n : right_n);
      }
  ASSERT_GT(left_n, 0);
  ASSERT_GT(right_n, 0);
  EXPECT_LT(left_y / static_cast<double>(left_n), right_y / static_cast<double>(right_n));

  // Without scores there is one panel and no BLEU / chrF colour.
  const std::string png1 = path("one.png");
  write_training_curves_png(write_run("loss.jsonl", 5000, false), png1);
  const Image one = read_png(png1);
  EXPECT_LT(one.width, img.width * 2 / 3);
  EXPECT_EQ(count_color(one, kBleuColor), 0);
  EXPECT_EQ(count_color(one, kChrfColor), 0);
  EXPECT_GT(count_color(one, kTrainColor), 100);
  // Title ink at the top.
  int64_t dark = 0;
  for (int y = 16; y < 36; ++y)
    for (int x = 16; x < one.width; ++x)
      if (one.at(x, y).r < 80) ++dark;
  EXPECT_GT(dark, 50);
}

TEST_F(TrainingCurvesTest, SinglePointsAndScoresOnlyStillDraw) {
  const std::string p = write_text("s.jsonl", "{\"step\":500,\"bleu\":3.0}\n");
  write_training_curves_png(p, path("s.png"));
  const Image img = read_png(path("s.png"));
  EXPECT_GT(count_color(img, kBleuColor), 20);  // a marker and the legend
  const std::string q = write_text("l.jsonl", "{\"step\":7,\"loss\":4.0}\n");
  write_training_curves_png(q, path("l.png"));
  EXPECT_GT(count_color(read_png(path("l.png")), kTrainColor), 20);
}

TEST_F(TrainingCurvesTest, NoDataOrBadPathsAreErrorsNamingTheFile) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string missing = path("missing.jsonl");
  EXPECT_NE(message([&] { write_training_curves_png(missing, path("a.png")); }).find(missing),
            std::string::npos);
  const std::string junk = write_text("junk.jsonl", "garbage\n{\"step\":1}\n{\"lr\":3}\n\n");
  const std::string m = message([&] { write_training_curves_png(junk, path("b.png")); });
  EXPECT_NE(m.find(junk), std::string::npos) << m;
  EXPECT_NE(m.find("no training metrics"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(path("b.png")));
  const std::string empty = write_text("empty.jsonl", "");
  EXPECT_NE(message([&] { write_training_curves_png(empty, path("c.png")); }).find(empty),
            std::string::npos);
  const std::string good = write_run("good.jsonl", 1000, true);
  const std::string bad_png = path("no-dir/x.png");
  EXPECT_NE(message([&] { write_training_curves_png(good, bad_png); }).find(bad_png),
            std::string::npos);
}

}  // namespace
}  // namespace attnscope
