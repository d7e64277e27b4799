// attnscope attention's files: .npy bytes numpy can read, and the folder of one translation
// (JSON, safetensors, heatmaps) holding exactly the captured maps.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "inspect/attention_files.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

TEST(Npy, HeaderAndDataAreNumpyFormat) {
  const Tensor t = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::string b = npy_bytes(t);
  ASSERT_EQ(b.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(b[6], '\x01');
  EXPECT_EQ(b[7], '\x00');
  const size_t header_len =
      static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string header = b.substr(10, header_len);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (2, 3)"), std::string::npos) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(b.size(), 10 + header_len + 6 * sizeof(float));
  float v[6];
  std::memcpy(v, b.data() + 10 + header_len, sizeof(v));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], static_cast<float>(i + 1));
  EXPECT_NE(npy_bytes(Tensor({5})).find("'shape': (5,)"), std::string::npos);
}

TEST(AttentionFiles, FolderHoldsTheCapturedMaps) {
  ModelConfig c;
  c.d_model = 8;
  c.heads = 2;
  c.encoder_layers = 2;
  c.decoder_layers = 1;
  c.d_ff = 16;
  c.src_vocab = 9;
  c.tgt_vocab = 9;
  c.max_len = 16;
  Transformer model(c);
  model.init_weights(1);
  DecodeOptions o;
  o.capture.emplace();
  o.max_len_extra = 3;
  Translation t;
  t.source = "um dois três";
  t.hypotheses = beam_search(model, TokenBatch{1, 4, {4, 5, 6, 2}}, o)[0];
  t.text = "one two";
  t.src_pieces = {"▁um", "▁dois", "▁três", "</s>"};
  const Hypothesis& h = t.hypotheses[0];
  const size_t T = h.attention.cross[0].dim(1);
  t.tgt_pieces = {"<s>"};
  while (t.tgt_pieces.size() < T) t.tgt_pieces.push_back("▁x");
  const fs::path dir = fs::temp_directory_path() / "attnscope_attention_files";
  fs::remove_all(dir);
  AttentionFileOptions fo;
  fo.npy = true;
  const auto files = write_attention_files(dir.string(), t, fo);
  for (const char* name :
       {"attention.json", "attention.safetensors", "encoder_self.png", "encoder_self.svg",
        "decoder_self.png", "cross.png", "cross.svg", "npy/cross_0.npy", "npy/encoder_self_1.npy"})
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  std::ifstream in(dir / "attention.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["source_tokens"].size(), 4u);
  EXPECT_EQ(j["weights"]["encoder_self"].size(), 2u);
  EXPECT_EQ(j["weights"]["cross"][0].size(), 2u);  // heads
  EXPECT_EQ(j["layers"]["encoder_self"], nlohmann::json::array({0, 1}));
  const auto st = read_safetensors((dir / "attention.safetensors").string());
  const Tensor& cross = st.tensors.at("cross.0");
  ASSERT_EQ(cross.shape(), h.attention.cross[0].shape());
  for (int64_t i = 0; i < cross.numel(); ++i) EXPECT_EQ(cross[i], h.attention.cross[0][i]);
  EXPECT_EQ(st.metadata.at("source"), "um dois três");
  fs::remove_all(dir);

  // The grid <kind>.png draws (the Python module's Result.heatmap): layers × heads, labelled.
  const HeatmapGrid g = attention_heatmap_grid(t, AttentionKind::kEncoderSelf);
  EXPECT_EQ(g.rows, 2);
  EXPECT_EQ(g.cols, 2);
  EXPECT_EQ(g.row_titles, (std::vector<std::string>{"layer 0", "layer 1"}));
  EXPECT_EQ(g.col_labels, t.src_pieces);
  ASSERT_EQ(g.panels.size(), 4u);
  EXPECT_EQ(g.panels[3][0], h.attention.encoder_self[1][(1 * 4 + 0) * 4 + 0]);
  Translation cross_only = t;
  cross_only.hypotheses[0].attention.decoder_self.clear();
  EXPECT_THROW(attention_heatmap_grid(cross_only, AttentionKind::kDecoderSelf), Error);
}

}  // namespace
}  // namespace attnscope
