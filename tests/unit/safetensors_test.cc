#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "temp_files.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void write_raw(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static std::string read_raw(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::string le64(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
      s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return s;
  }
  // A file with the given header text (length prefix computed) and data buffer.
  std::string make(const std::string& name, const std::string& header,
                   const std::string& data = "") const {
    const std::string p = path(name);
    write_raw(p, le64(header.size()) + header + data);
    return p;
  }
  static std::string floats(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), std::data(v), s.size());
    return s;
  }

  // read_safetensors(p) must throw an Error whose message names the file and contains `what`.
  static void expect_error(const std::string& p, const std::string& what) {
    try {
      read_safetensors(p);
      ADD_FAILURE() << "no error for " << p << " (expected: " << what << ")";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << "expected \"" << what << "\" in: " << msg;
    }
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Byte-exact compatibility with the reference format.

// What huggingface's safetensors writes for {"a": [1, -2], "b": [[0.5]]} with metadata {"k": "v"}:
// the length prefix, the compact JSON header (metadata first, then dtype/shape/data_offsets)
// padded with spaces to a multiple of 8, then the little-endian values.
const unsigned char kTinyFile[] = {
    0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // header length 136
    '{',  '"',  '_',  '_',  'm',  'e',  't',  'a',  'd', 'a', 't', 'a', '_', '_', '"', ':',
    '{',  '"',  'k',  '"',  ':',  '"',  'v',  '"',  '}', ',', '"', 'a', '"', ':', '{', '"',
    'd',  't',  'y',  'p',  'e',  '"',  ':',  '"',  'F', '3', '2', '"', ',', '"', 's', 'h',
    'a',  'p',  'e',  '"',  ':',  '[',  '2',  ']',  ',', '"', 'd', 'a', 't', 'a', '_', 'o',
    'f',  'f',  's',  'e',  't',  's',  '"',  ':',  '[', '0', ',', '8', ']', '}', ',', '"',
    'b',  '"',  ':',  '{',  '"',  'd',  't',  'y',  'p', 'e', '"', ':', '"', 'F', '3', '2',
    '"',  ',',  '"',  's',  'h',  'a',  'p',  'e',  '"', ':', '[', '1', ',', '1', ']', ',',
    '"',  'd',  'a',  't',  'a',  '_',  'o',  'f',  'f', 's', 'e', 't', 's', '"', ':', '[',
    '8',  ',',  '1',  '2',  ']',  '}',  '}',  ' ',   // 135 bytes of JSON + 1 space
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,  // a = [1.0, -2.0]
    0x00, 0x00, 0x00, 0x3f,                          // b = [[0.5]]
};

TEST_F(SafetensorsTest, WritesTheReferenceBytes) {
  const Tensor a = Tensor::from({2}, {1.0f, -2.0f});
  const Tensor b = Tensor::from({1, 1}, {0.5f});
  const std::string p = path("tiny.safetensors");
  write_safetensors(p, {{"a", &a}, {"b", &b}}, {{"k", "v"}});
  const std::string got = read_raw(p);
  const std::string want(reinterpret_cast<const char*>(kTinyFile), sizeof(kTinyFile));
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);
}

TEST_F(SafetensorsTest, ReadsTheReferenceBytes) {
  const std::string p = path("tiny.safetensors");
  write_raw(p, std::string(reinterpret_cast<const char*>(kTinyFile), sizeof(kTinyFile)));
  const SafetensorsFile f = read_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors.at("a").shape(), (Shape{2}));
  EXPECT_EQ(f.tensors.at("a").to_vector(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.tensors.at("b").shape(), (Shape{1, 1}));
  EXPECT_EQ(f.tensors.at("b")[0], 0.5f);
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
}

// Every dtype the reader accepts, from hand-written little-endian bytes.
TEST_F(SafetensorsTest, ConvertsEveryDtype) {
  std::string data;
  auto put = [&data](std::initializer_list<int> bytes) {
    for (int b : bytes) data += static_cast<char>(b);
  };
  put({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f});  // F64 1.0       [0, 16)
  put({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0});  // F64 -2.5
  put({0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b});  // F16 1, -2, 2^-24, 65504   [16, 24)
  put({0x00, 0x7c, 0x00, 0x80});                          // F16 +inf, -0            [24, 28)
  put({0x80, 0x3f, 0x60, 0xc0});                          // BF16 1, -3.5            [28, 32)
  put({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});  // I64 -1                  [32, 48)
  put({0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});  // I64 2^24
  put({0x07, 0x00, 0x00, 0x00, 0xf9, 0xff, 0xff, 0xff});  // I32 7, -7               [48, 56)
  put({0x00, 0x80, 0xff});                                // U8 0, 128, 255          [56, 59)
  put({0x01, 0x00});                                      // BOOL true, false        [59, 61)
  const std::string header = R"({"f64":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
                             R"("f16":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]},)"
                             R"("f16b":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                             R"("bf16":{"dtype":"BF16","shape":[2],"data_offsets":[28,32]},)"
                             R"("i64":{"dtype":"I64","shape":[2],"data_offsets":[32,48]},)"
                             R"("i32":{"dtype":"I32","shape":[2],"data_offsets":[48,56]},)"
                             R"("u8":{"dtype":"U8","shape":[3],"data_offsets":[56,59]},)"
                             R"("bool":{"dtype":"BOOL","shape":[2],"data_offsets":[59,61]},)"
                             R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[61,65]},)"
                             R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[65,65]}})";
  data += floats({42.0f});
  const SafetensorsFile f = read_safetensors(make("dtypes.safetensors", header, data));
  EXPECT_EQ(f.tensors.at("f64").to_vector(), (std::vector<float>{1.0f, -2.5f}));
  EXPECT_EQ(f.tensors.at("f16").shape(), (Shape{2, 2}));
  EXPECT_EQ(f.tensors.at("f16").to_vector(),
            (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24), 65504.0f}));
  EXPECT_EQ(f.tensors.at("f16b")[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f.tensors.at("f16b")[1], 0.0f);
  EXPECT_TRUE(std::signbit(f.tensors.at("f16b")[1]));
  EXPECT_EQ(f.tensors.at("bf16").to_vector(), (std::vector<float>{1.0f, -3.5f}));
  EXPECT_EQ(f.tensors.at("i64").to_vector(), (std::vector<float>{-1.0f, 16777216.0f}));
  EXPECT_EQ(f.tensors.at("i32").to_vector(), (std::vector<float>{7.0f, -7.0f}));
  EXPECT_EQ(f.tensors.at("u8").to_vector(), (std::vector<float>{0.0f, 128.0f, 255.0f}));
  EXPECT_EQ(f.tensors.at("bool").to_vector(), (std::vector<float>{1.0f, 0.0f}));
  EXPECT_EQ(f.tensors.at("scalar").shape(), Shape{});
  EXPECT_EQ(f.tensors.at("scalar")[0], 42.0f);
  EXPECT_EQ(f.tensors.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(f.tensors.at("empty").numel(), 0);
  EXPECT_TRUE(f.metadata.empty());
}

// ---------------------------------------------------------------------------------------------
// Writer.

TEST_F(SafetensorsTest, RoundTripKeepsOrderValuesAndMetadata) {
  const Tensor z = Tensor::from({2, 3}, {1.5f, -0.0f, std::numeric_limits<float>::infinity(),
                                         std::numeric_limits<float>::denorm_min(), 3e38f, -7.0f});
  const Tensor a = Tensor::from({}, {0.25f});
  const Tensor empty(Shape{0, 4});
  const Tensor m = Tensor::from({1, 2, 2}, {1, 2, 3, 4});
  const std::string p = path("rt.safetensors");
  write_safetensors(p, {{"z", &z}, {"a", &a}, {"empty", &empty}, {"m.weight", &m}},
                    {{"step", "12"}, {"note", "quote \" and ünïcode"}});

  const std::string raw = read_raw(p);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(raw[static_cast<size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + (6 + 1 + 0 + 4) * 4);
  const std::string header = raw.substr(8, n);
  EXPECT_LT(header.find("\"z\""), header.find("\"a\""));  // order given, not sorted
  EXPECT_LT(header.find("\"a\""), header.find("\"empty\""));
  EXPECT_LT(header.find("\"empty\""), header.find("\"m.weight\""));
  EXPECT_TRUE(test::temp_files_beside(p).empty());

  const SafetensorsFile f = read_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 4u);
  const Tensor& z2 = f.tensors.at("z");
  EXPECT_EQ(z2.shape(), z.shape());
  EXPECT_EQ(std::memcmp(z2.data(), z.data(), 6 * sizeof(float)), 0);  // bit-exact (-0, denormal)
  EXPECT_EQ(f.tensors.at("a").shape(), Shape{});
  EXPECT_EQ(f.tensors.at("a")[0], 0.25f);
  EXPECT_EQ(f.tensors.at("empty").shape(), (Shape{0, 4}));
  EXPECT_EQ(f.tensors.at("m.weight").to_vector(), m.to_vector());
  EXPECT_EQ(f.metadata.at("step"), "12");
  EXPECT_EQ(f.metadata.at("note"), "quote \" and ünïcode");
}

TEST_F(SafetensorsTest, EmptyFileRoundTrips) {
  const std::string p = path("none.safetensors");
  write_safetensors(p, {});
  EXPECT_EQ(read_raw(p), le64(8) + "{}      ");
  const SafetensorsFile f = read_safetensors(p);
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
}

TEST_F(SafetensorsTest, OverwriteReplacesTheFile) {
  const std::string p = path("w.safetensors");
  const Tensor a = Tensor::from({3}, {1, 2, 3});
  const Tensor b = Tensor::from({1}, {9});
  write_safetensors(p, {{"a", &a}});
  write_safetensors(p, {{"b", &b}});
  const SafetensorsFile f = read_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.at("b")[0], 9.0f);
  EXPECT_TRUE(test::temp_files_beside(p).empty());
}

TEST_F(SafetensorsTest, WriterRejectsBadInputWithoutTouchingTheFile) {
  const std::string p = path("keep.safetensors");
  const Tensor a = Tensor::from({1}, {1});
  write_safetensors(p, {{"a", &a}});
  const std::string before = read_raw(p);
  const Tensor unallocated;
  auto expect_throw = [&](const std::vector<std::pair<std::string, const Tensor*>>& ts,
                          const std::string& what) {
    try {
      write_safetensors(p, ts);
      ADD_FAILURE() << "no error, expected " << what;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
    EXPECT_EQ(read_raw(p), before);
    EXPECT_TRUE(test::temp_files_beside(p).empty());
  };
  expect_throw({{"a", &a}, {"a", &a}}, "given twice");
  expect_throw({{"", &a}}, "empty name");
  expect_throw({{"__metadata__", &a}}, "reserved");
  expect_throw({{"x", nullptr}}, "null");
  expect_throw({{"x", &unallocated}}, "no storage");
  expect_throw({{std::string("bad\xff", 4), &a}}, "cannot encode");
}

TEST_F(SafetensorsTest, WriterNamesThePathOnIoFailure) {
  const std::string p = path("no/such/dir/x.safetensors");
  const Tensor a = Tensor::from({1}, {1});
  try {
    write_safetensors(p, {{"a", &a}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Reader: every malformed file is an Error naming the file and the problem.

TEST_F(SafetensorsTest, MissingFile) {
  expect_error(path("absent.safetensors"), "No such file");
}

TEST_F(SafetensorsTest, Directory) {
  fs::create_directories(path("d.safetensors"));
  expect_error(path("d.safetensors"), "not a regular file");
}

TEST_F(SafetensorsTest, ShorterThanTheLengthPrefix) {
  const std::string p = path("short.safetensors");
  write_raw(p, "");
  expect_error(p, "too short");
  write_raw(p, std::string("\x05\x00\x00", 3));
  expect_error(p, "too short");
}

TEST_F(SafetensorsTest, HeaderLongerThanTheFile) {
  const std::string p = path("long.safetensors");
  write_raw(p, le64(100) + "{}");
  expect_error(p, "header length 100 is larger than the file");
}

TEST_F(SafetensorsTest, AbsurdHeaderLength) {
  const std::string p = path("absurd.safetensors");
  write_raw(p, le64(uint64_t{1} << 40) + "{}");
  expect_error(p, "absurd");
  write_raw(p, le64(~uint64_t{0}) + "{}");
  expect_error(p, "absurd");
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  expect_error(make("a.safetensors", "{\"a\": "), "not valid JSON");
  expect_error(make("b.safetensors", ""), "not valid JSON");
  expect_error(make("c.safetensors", "\x89PNG\r\n\x1a\n"), "not valid JSON");
  expect_error(make("d.safetensors", "{\"\xff\xfe\":{}}"), "not valid JSON");  // not UTF-8
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  expect_error(make("a.safetensors", "[1, 2]"), "header must be a JSON object");
  expect_error(make("b.safetensors", "\"x\""), "header must be a JSON object");
}

TEST_F(SafetensorsTest, EntryNotAnObject) {
  expect_error(make("a.safetensors", R"({"w": [1, 2]})"),
               "tensor \"w\": entry must be a JSON object");
}

TEST_F(SafetensorsTest, BadDtype) {
  expect_error(
      make("a.safetensors", R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", "x"),
      "tensor \"w\": unknown dtype \"F8\"");
  expect_error(make("b.safetensors", R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "xxxx"),
               "tensor \"w\": missing \"dtype\"");
  expect_error(
      make("c.safetensors", R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "xxxx"),
      "tensor \"w\": \"dtype\" must be a string");
}

TEST_F(SafetensorsTest, BadShape) {
  const std::string what = "tensor \"w\": \"shape\" must be a list of non-negative integers";
  for (const char* shape : {"2", "\"2\"", "[-1]", "[2.0]", "[1.5]", "[\"2\"]", "[[2]]", "null",
                            "[18446744073709551615]"}) {
    const std::string header =
        std::string(R"({"w":{"dtype":"F32","shape":)") + shape + R"(,"data_offsets":[0,8]}})";
    expect_error(make("s.safetensors", header, std::string(8, '\0')), what);
  }
  expect_error(
      make("m.safetensors", R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", std::string(8, '\0')),
      "tensor \"w\": missing \"shape\"");
}

TEST_F(SafetensorsTest, BadDataOffsets) {
  const std::string what = "tensor \"w\": \"data_offsets\" must be two non-negative integers";
  for (const char* offs : {"[0]", "[0,8,16]", "[0,\"8\"]", "[-8,0]", "[0,8.0]", "{}", "8"}) {
    const std::string header =
        std::string(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)") + offs + "}}";
    expect_error(make("o.safetensors", header, std::string(8, '\0')), what);
  }
  expect_error(make("m.safetensors", R"({"w":{"dtype":"F32","shape":[2]}})", std::string(8, '\0')),
               "tensor \"w\": missing \"data_offsets\"");
  expect_error(make("r.safetensors", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})",
                    std::string(8, '\0')),
               "tensor \"w\": data_offsets [8, 0] has begin > end");
}

TEST_F(SafetensorsTest, ByteLengthDoesNotMatchShape) {
  expect_error(make("a.safetensors", R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                    std::string(16, '\0')),
               "tensor \"w\": data_offsets [0, 12] span 12 bytes but F32 [2, 2] needs 16");
  expect_error(make("b.safetensors", R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,12]}})",
                    std::string(16, '\0')),
               "span 12 bytes but F16 [3] needs 6");
  // numel · size overflows 64 bits: still an error, not a wrap-around.
  expect_error(
      make("c.safetensors",
           R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
      "shape [4294967296, 4294967296] has too many elements");
  // The same with a zero dimension: 0 bytes, so the byte count alone would pass it.
  expect_error(
      make("z.safetensors",
           R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})"),
      "tensor \"w\": shape [0, 4294967296, 4294967296] has too many elements");
  expect_error(make("d.safetensors",
                    R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})"),
               "tensor \"w\"");
}

TEST_F(SafetensorsTest, OffsetsPastTheEndOfTheBuffer) {
  expect_error(make("a.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                    std::string(12, '\0')),
               "tensor \"w\": data_offsets [0, 16] run past the end of the data buffer (12 bytes");
  expect_error(make("b.safetensors",
                    R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,)"
                    R"(18446744073709551615]}})",
                    std::string(4, '\0')),
               "tensor \"w\"");
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expect_error(make("a.safetensors",
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    std::string(12, '\0')),
               "tensors \"a\" (bytes [0, 8)) and \"b\" (bytes [4, 12)) overlap");
  expect_error(make("b.safetensors",
                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(4, '\0')),
               "overlap");
  // Empty tensors occupy no bytes and may sit anywhere.
  const SafetensorsFile f =
      read_safetensors(make("c.safetensors",
                            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                            floats({3.0f})));
  EXPECT_EQ(f.tensors.size(), 2u);
}

TEST_F(SafetensorsTest, DuplicateNames) {
  expect_error(make("a.safetensors",
                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    std::string(8, '\0')),
               "duplicate tensor name \"a\"");
  expect_error(make("b.safetensors",
                    R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(4, '\0')),
               "duplicate key \"dtype\"");
}

TEST_F(SafetensorsTest, MetadataMustBeStrings) {
  expect_error(make("a.safetensors", R"({"__metadata__":{"step":12}})"),
               "metadata \"step\" must be a string, got 12");
  expect_error(make("b.safetensors", R"({"__metadata__":["x"]})"),
               "\"__metadata__\" must be an object of strings");
}

TEST_F(SafetensorsTest, ValuesThatDoNotFitFp32) {
  std::string big(8, '\0');
  const int64_t v = (int64_t{1} << 24) + 1;
  std::memcpy(big.data(), &v, 8);
  expect_error(
      make("a.safetensors", R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", big),
      "tensor \"ids\": I64 value 16777217 at index 0 is not exactly representable");
  std::string huge(8, '\0');
  const double d = 1e300;
  std::memcpy(huge.data(), &d, 8);
  expect_error(
      make("b.safetensors", R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", huge),
      "tensor \"x\": F64 value");
  expect_error(make("c.safetensors", R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                    std::string("\x01\x02", 2)),
               "tensor \"m\": BOOL byte 2 at index 1");
}

// Random corruption of a valid file: either a clean Error or a successful read, never a crash
// (run under ASan/UBSan to make "never reads out of bounds" meaningful).
TEST_F(SafetensorsTest, CorruptedBytesNeverCrash) {
  const std::string good(reinterpret_cast<const char*>(kTinyFile), sizeof(kTinyFile));
  const std::string p = path("fuzz.safetensors");
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  int errors = 0;
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
    if (trial % 5 == 0) bytes.resize(next() % bytes.size());
    write_raw(p, bytes);
    try {
      read_safetensors(p);
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace attnscope
