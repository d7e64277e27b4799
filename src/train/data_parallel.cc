#include "train/data_parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <type_traits>

#include "core/fingerprint.h"

namespace attnscope {

namespace fs = std::filesystem;

namespace {

// Strings packed as [length][bytes]…, for one gather or broadcast.
std::string pack(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    const auto n = static_cast<uint64_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += s;
  }
  return out;
}

std::vector<std::string> unpack(const std::string& bytes) {
  std::vector<std::string> items;
  size_t at = 0;
  while (at < bytes.size()) {
    uint64_t n = 0;
    ATTN_CHECK(at + sizeof n <= bytes.size(), "a message between ranks is cut short");
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    ATTN_CHECK(n <= bytes.size() - at, "a message between ranks is cut short");
    items.push_back(bytes.substr(at, static_cast<size_t>(n)));
    at += static_cast<size_t>(n);
  }
  return items;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  ATTN_CHECK(in.good(), "cannot read {}", path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ATTN_CHECK(!in.bad(), "cannot read {}: read error", path.string());
  return bytes;
}

}  // namespace

DataParallel::DataParallel(Communicator& comm, DataParallelOptions options)
    : comm_(comm), options_(options) {
  ATTN_CHECK(options_.bucket_bytes >= 1, "gradient buckets of {} bytes", options_.bucket_bytes);
  ATTN_CHECK(options_.replica_check_every >= 0, "--replica-check-every must be ≥ 0 (got {})",
             options_.replica_check_every);
}

void DataParallel::check_same_run(const std::vector<Fact>& facts) {
  if (ranks() == 1) return;
  std::vector<std::string> values;
  for (const Fact& f : facts) values.push_back(f.value);
  const std::vector<std::string> all = comm_.allgather(pack(values));
  const std::vector<std::string> root = unpack(all[0]);
  for (size_t i = 0; i < facts.size(); ++i) {
    std::vector<std::string> differ;
    for (size_t r = 1; r < all.size(); ++r) {
      const std::vector<std::string> theirs = unpack(all[r]);
      if (theirs.size() != root.size() || theirs[i] != root[i])
        differ.push_back(fmt::format("{} has {}", comm_.describe(static_cast<int>(r)),
                                     i < theirs.size() ? theirs[i] : "nothing"));
    }
    if (differ.empty()) continue;
    std::string list;
    for (const std::string& d : differ) list += (list.empty() ? "" : "; ") + d;
    throw CollectiveError(fmt::format(
        "the ranks differ in {}: {} has {}, but {}. Every rank must run the same attnscope "
        "binary with the same options on the same files",
        facts[i].what, comm_.describe(0), root[i], list));
  }
}

void DataParallel::on_root(std::string_view what, const std::function<void()>& work) {
  if (ranks() == 1) {
    work();
    return;
  }
  std::string error;
  if (writes_files()) {
    comm_.set_activity(what);
    try {
      work();
    } catch (const Error& e) {
      error = e.what();
    }
  } else {
    comm_.set_activity(fmt::format("waiting for rank 0: {}", what));
  }
  comm_.broadcast(error, 0);
  if (!error.empty()) throw CollectiveError(error);
}

bool DataParallel::share_flag(bool value) {
  if (ranks() == 1) return value;
  std::string b(1, value ? '1' : '0');
  comm_.broadcast(b, 0);
  return b == "1";
}

void DataParallel::share_text(std::string& text) {
  comm_.broadcast(text, 0);
}

TokenizerPair DataParallel::share_tokenizers(const std::string& dir, TokenizerPair root) {
  if (ranks() == 1) return root;
  // [file name, bytes] of each tokenizer file rank 0 has in dir.
  std::vector<std::string> files;
  if (writes_files()) {
    const bool shared = fs::exists(fs::path(dir) / kSharedTokenizer);
    for (const char* name : shared ? std::vector<const char*>{kSharedTokenizer}
                                   : std::vector<const char*>{kSourceTokenizer, kTargetTokenizer}) {
      files.push_back(name);
      files.push_back(read_bytes(fs::path(dir) / name));
    }
  }
  std::string bytes = writes_files() ? pack(files) : std::string();
  comm_.broadcast(bytes, 0);
  if (writes_files()) return root;
  files = unpack(bytes);
  const auto load = [&](size_t i) {
    return std::make_shared<Tokenizer>(Tokenizer::from_bytes(
        files.at(i + 1),
        fmt::format("{}'s {}", comm_.describe(0), (fs::path(dir) / files.at(i)).string())));
  };
  if (files.size() == 2) {
    auto tok = load(0);
    return {tok, tok};
  }
  ATTN_CHECK(files.size() == 4, "rank 0 sent {} tokenizer files", files.size() / 2);
  return {load(0), load(2)};
}

void DataParallel::share_state(Seq2SeqModel& model, AdamOptimizer& adam, TrainerState& state) {
  if (ranks() == 1) return;
  model.visit_params([&](Param& p) {
    comm_.broadcast(std::span<float>(p.value.data(), static_cast<size_t>(p.value.numel())), 0);
  });
  // Adam: its step count and the moments of the parameters it has updated.
  std::vector<std::string> names{std::to_string(adam.steps())};
  if (writes_files())
    for (const auto& [name, mo] : adam.moments()) names.push_back(name);
  std::string packed = pack(names);
  comm_.broadcast(packed, 0);
  names = unpack(packed);
  adam.set_steps(std::stoll(names.at(0)));
  if (!writes_files()) {
    adam.moments().clear();
    model.visit_params([&](Param& p) {
      if (std::find(names.begin() + 1, names.end(), p.name) != names.end())
        adam.moments()[p.name] =
            AdamOptimizer::Moments{Tensor(p.value.shape()), Tensor(p.value.shape())};
    });
    ATTN_CHECK(adam.moments().size() == names.size() - 1,
               "rank 0 has Adam moments of a parameter this model does not have");
  }
  for (auto& [name, mo] : adam.moments()) {
    comm_.broadcast(std::span<float>(mo.m.data(), static_cast<size_t>(mo.m.numel())), 0);
    comm_.broadcast(std::span<float>(mo.v.data(), static_cast<size_t>(mo.v.numel())), 0);
  }
  // The counters, as bytes: the same binary runs everywhere (check_same_run).
  static_assert(std::is_trivially_copyable_v<TrainerState>);
  std::string s(sizeof state, '\0');
  std::memcpy(s.data(), &state, sizeof state);
  comm_.broadcast(s, 0);
  std::memcpy(&state, s.data(), sizeof state);
}

std::vector<size_t> DataParallel::shard(size_t n) const {
  std::vector<size_t> mine;
  for (size_t i = static_cast<size_t>(rank()); i < n; i += static_cast<size_t>(ranks()))
    mine.push_back(i);
  return mine;
}

std::vector<std::string> DataParallel::gather_shards(const std::vector<std::string>& mine,
                                                     size_t n) {
  if (ranks() == 1) return mine;
  const std::vector<std::string> all = comm_.allgather(pack(mine));
  std::vector<std::string> out(n);
  for (size_t r = 0; r < all.size(); ++r) {
    const std::vector<std::string> theirs = unpack(all[r]);
    size_t k = 0;
    for (size_t i = r; i < n; i += all.size()) out[i] = theirs.at(k++);
    ATTN_CHECK(k == theirs.size(), "rank {} sent {} results for {} items", r, theirs.size(), k);
  }
  return out;
}

void DataParallel::check_replicas(Seq2SeqModel& model, int64_t step) {
  if (ranks() == 1) return;
  std::vector<std::string> prints, names;
  model.visit_params([&](Param& p) {
    names.push_back(p.name);
    prints.push_back(
        Fingerprint()
            .add_bytes(p.value.data(), static_cast<size_t>(p.value.numel()) * sizeof(float))
            .hex());
  });
  const std::vector<std::string> all = comm_.allgather(pack(prints));
  const std::vector<std::string> root = unpack(all[0]);
  ATTN_CHECK(root.size() == prints.size(), "rank 0 sent {} fingerprints for {} parameters",
             root.size(), prints.size());
  for (size_t r = 1; r < all.size(); ++r) {
    const std::vector<std::string> theirs = unpack(all[r]);
    for (size_t i = 0; i < prints.size(); ++i) {
      if (i < theirs.size() && theirs[i] == root[i]) continue;
      throw CollectiveError(fmt::format(
          "after step {} the replicas differ: \"{}\" of {} is not {}'s (fingerprints {} and "
          "{}). The ranks must compute bit-identical updates; this is a bug of attnscope or of "
          "the MPI library's sum",
          step, names[i], comm_.describe(static_cast<int>(r)), comm_.describe(0),
          i < theirs.size() ? theirs[i] : "none", root[i]));
    }
  }
}

}  // namespace attnscope
