// vocab.json (and target_vocab.json) of a Hugging Face Marian model: {"piece": id, …}, as
// tokenization_marian.save_json writes it (non-ASCII escaped as \uXXXX, surrogate pairs outside
// the BMP). Read as hostile input: a size limit before reading, bad JSON with its line and
// column, anything but a flat object of integer ids, a piece that appears twice, ids that are
// not exactly 0 … n−1 (each once) — every one an attnscope::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnscope {

struct MarianVocab {
  std::string path;
  std::vector<std::string> pieces;               // by id: pieces[id]
  std::unordered_map<std::string, int32_t> ids;  // piece → id

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  // The id of `piece`, or -1.
  int32_t find(const std::string& piece) const;
};

inline constexpr uint64_t kMaxVocabFileBytes = 64ull << 20;  // 64 MiB: ~1M pieces, far past any
                                                             // OPUS-MT vocabulary (~60k)
MarianVocab read_marian_vocab(const std::string& path);
// The same from text already in memory (tests); `path` names it in messages.
MarianVocab parse_marian_vocab(const std::string& text, const std::string& path);

}  // namespace attnscope
