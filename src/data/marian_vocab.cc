#include "data/marian_vocab.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_error.h"

namespace attnscope {

namespace {

using json = nlohmann::json;

std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// A piece as a message shows it: JSON-quoted, shortened.
std::string piece_text(const std::string& piece) {
  return brief(json(piece));
}

}  // namespace

int32_t MarianVocab::find(const std::string& piece) const {
  const auto it = ids.find(piece);
  return it == ids.end() ? -1 : it->second;
}

MarianVocab read_marian_vocab(const std::string& path) {
  struct stat st {};
  ATTN_CHECK(::stat(path.c_str(), &st) == 0, "{}: cannot read the vocabulary: {}", path,
             std::strerror(errno));
  ATTN_CHECK(S_ISREG(st.st_mode), "{}: not a regular file", path);
  ATTN_CHECK(static_cast<uint64_t>(st.st_size) <= kMaxVocabFileBytes,
             "{}: {} bytes is more than a vocabulary file may hold ({} MiB); not a vocab.json?",
             path, st.st_size, kMaxVocabFileBytes >> 20);
  std::ifstream in(path, std::ios::binary);
  ATTN_CHECK(in.good(), "{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  ATTN_CHECK(!in.bad(), "{}: read error: {}", path, std::strerror(errno));
  return parse_marian_vocab(buf.str(), path);
}

MarianVocab parse_marian_vocab(const std::string& text, const std::string& path) {
  ATTN_CHECK(text.size() <= kMaxVocabFileBytes, "{}: {} bytes is more than a vocabulary may hold",
             path, text.size());
  // Depth 1 only (a flat object), and no piece twice: nlohmann would keep the last silently.
  std::unordered_map<std::string, int> seen;
  std::string duplicate;
  json j;
  try {
    j = json::parse(text, [&](int depth, json::parse_event_t ev, json& parsed) {
      if ((ev == json::parse_event_t::object_start || ev == json::parse_event_t::array_start) &&
          depth > 0)
        fail("{}: the value of a piece must be an integer id, not an object or a list", path);
      if (ev == json::parse_event_t::key && duplicate.empty()) {
        std::string key = parsed.get<std::string>();
        if (++seen[key] == 2) duplicate = std::move(key);
      }
      return true;
    });
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, json_error_text(e));
  }
  ATTN_CHECK(j.is_object(), "{}: a vocabulary must be a JSON object {{\"piece\": id, …}}, got {}",
             path, brief(j));
  ATTN_CHECK(duplicate.empty(), "{}: the piece {} appears twice", path, piece_text(duplicate));
  const size_t n = j.size();
  ATTN_CHECK(n >= 3, "{}: {} pieces; a Marian vocabulary holds at least </s>, <unk> and <pad>",
             path, n);
  ATTN_CHECK(n <= static_cast<size_t>(std::numeric_limits<int32_t>::max()), "{}: too many pieces",
             path);
  MarianVocab v;
  v.path = path;
  v.pieces.assign(n, std::string());
  std::vector<bool> taken(n, false);
  v.ids.reserve(n);
  for (const auto& [piece, value] : j.items()) {
    ATTN_CHECK(value.is_number_integer(), "{}: the id of {} must be an integer, got {}", path,
               piece_text(piece), brief(value));
    const bool negative =
        value.is_number_integer() && !value.is_number_unsigned() && value.get<int64_t>() < 0;
    ATTN_CHECK(!negative, "{}: the id of {} is negative ({})", path, piece_text(piece),
               brief(value));
    const uint64_t id = value.get<uint64_t>();
    ATTN_CHECK(id < n,
               "{}: the id of {} is {}, but the file has {} pieces: ids must be 0 … {}, each once",
               path, piece_text(piece), id, n, n - 1);
    ATTN_CHECK(!taken[id], "{}: id {} is given to {} and to {}", path, id, piece_text(v.pieces[id]),
               piece_text(piece));
    ATTN_CHECK(!piece.empty(), "{}: an empty piece (id {})", path, id);
    taken[id] = true;
    v.pieces[id] = piece;
    v.ids.emplace(piece, static_cast<int32_t>(id));
  }
  return v;
}

}  // namespace attnscope
