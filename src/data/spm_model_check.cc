#include "data/spm_model_check.h"

#include <cstdint>

#include "core/error.h"
#include "data/corpus.h"

namespace attnscope {

namespace {

// A protobuf message's bytes, read field by field with every length checked.
class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}
  bool done() const { return pos_ >= b_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) bad("a number runs past the end");
      const auto byte = static_cast<uint8_t>(b_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    bad("a number is longer than 10 bytes");
  }
  // The next field: its number and wire type; `payload` gets a length-delimited field's bytes.
  void field(uint64_t& number, int& type, std::string_view& payload) {
    const uint64_t key = varint();
    number = key >> 3;
    type = static_cast<int>(key & 7);
    payload = {};
    switch (type) {
      case 0:
        varint();
        break;
      case 1:
        skip(8);
        break;
      case 5:
        skip(4);
        break;
      case 2: {
        const uint64_t len = varint();
        if (len > b_.size() - pos_) bad("a field runs past the end");
        payload = b_.substr(pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        break;
      }
      default:
        bad("an unknown wire type " + std::to_string(type));
    }
    if (number == 0) bad("a field numbered 0");
  }
  [[noreturn]] void bad(const std::string& what) const {
    fail("{} is not a SentencePiece model: {} (at byte {})", source_, what, pos_);
  }

 private:
  void skip(size_t n) {
    if (n > b_.size() - pos_) bad("a field runs past the end");
    pos_ += n;
  }
  std::string_view b_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

void check_spm_model(std::string_view bytes, const std::string& source) {
  WireReader model(bytes, source);
  int64_t pieces = 0;
  while (!model.done()) {
    uint64_t number = 0;
    int type = 0;
    std::string_view payload;
    model.field(number, type, payload);
    if (number != 1) continue;  // ModelProto.pieces = 1; the specs are the library's to read
    if (type != 2) model.bad("a piece that is not a message");
    // SentencePiece { string piece = 1; float score = 2; Type type = 3; }
    WireReader piece(payload, source);
    std::string_view text;
    bool has_text = false;
    while (!piece.done()) {
      uint64_t n = 0;
      int t = 0;
      std::string_view p;
      piece.field(n, t, p);
      if (n == 1) {
        if (t != 2) piece.bad("a piece's text that is not a string");
        text = p;
        has_text = true;
      }
    }
    ATTN_CHECK(has_text && !text.empty(), "{}: piece {} is empty: not a usable SentencePiece model",
               source, pieces);
    ATTN_CHECK(text.find('\0') == std::string_view::npos,
               "{}: piece {} holds a NUL byte: not a usable SentencePiece model", source, pieces);
    ATTN_CHECK(is_valid_utf8(std::string(text)),
               "{}: piece {} is not valid UTF-8: not a usable SentencePiece model", source, pieces);
    ++pieces;
  }
  ATTN_CHECK(pieces > 0, "{} is not a SentencePiece model: it holds no piece", source);
}

}  // namespace attnscope
