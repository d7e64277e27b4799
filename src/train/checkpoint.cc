#include "train/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_error.h"
#include "io/model_dir.h"
#include "io/safetensors.h"

namespace attnscope {

namespace fs = std::filesystem;

namespace {
constexpr const char* kTrainerJson = "trainer.json";
constexpr const char* kTrainerTensors = "trainer.safetensors";

nlohmann::json state_to_json(const TrainerState& s, const AdamOptimizer& adam) {
  return {{"step", s.step},
          {"epoch", s.epoch},
          {"batch_index", s.batch_index},
          {"elapsed_s", s.elapsed_s},
          {"tokens_seen", s.tokens_seen},
          {"best_metric",
           std::isfinite(s.best_metric) ? nlohmann::json(s.best_metric) : nlohmann::json(nullptr)},
          {"best_step", s.best_step},
          {"bad_validations", s.bad_validations},
          {"seed", s.seed},
          {"adam_steps", adam.steps()},
          {"metrics_bytes", s.metrics_bytes},
          {"window_steps", s.window_steps},
          {"window_loss", s.window_loss}};
}
}  // namespace

void save_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     const TrainerState& state) {
  const fs::path final_dir = fs::path(dir) / "checkpoint";
  const fs::path tmp_dir = fs::path(dir) / "checkpoint.tmp";
  const fs::path old_dir = fs::path(dir) / "checkpoint.old";
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  ATTN_CHECK(!ec, "cannot create {}: {}", tmp_dir.string(), ec.message());

  std::vector<std::pair<std::string, const Tensor*>> weights, moments;
  model.visit_params([&](Param& p) { weights.emplace_back(p.name, &p.value); });
  write_safetensors((tmp_dir / kWeightsFile).string(), weights);
  std::vector<std::string> names;
  for (auto& [name, mo] : adam.moments()) {
    moments.emplace_back(name + ".m", &mo.m);
    moments.emplace_back(name + ".v", &mo.v);
  }
  write_safetensors((tmp_dir / kTrainerTensors).string(), moments);
  write_file_atomically((tmp_dir / kTrainerJson).string(),
                        state_to_json(state, adam).dump(2) + "\n");
  // Swap the folders. Each file inside is already durable (fsynced by its writer); syncing DIR
  // makes the renames durable too. checkpoint.old is removed only while checkpoint is whole.
  if (fs::exists(final_dir)) {
    fs::remove_all(old_dir, ec);
    ATTN_CHECK(!ec, "cannot remove {}: {}", old_dir.string(), ec.message());
    fs::rename(final_dir, old_dir, ec);
    ATTN_CHECK(!ec, "cannot move {} aside: {}", final_dir.string(), ec.message());
  }
  // (Else a crash left checkpoint.old as the only whole checkpoint: it stays until the new one
  // is in place.)
  fs::rename(tmp_dir, final_dir, ec);
  ATTN_CHECK(!ec, "cannot rename {} to {}: {}", tmp_dir.string(), final_dir.string(), ec.message());
  sync_directory(dir);
  fs::remove_all(old_dir, ec);
}

bool has_checkpoint(const std::string& dir, int64_t* step) {
  for (const char* name : {"checkpoint", "checkpoint.old"}) {
    const fs::path json = fs::path(dir) / name / kTrainerJson;
    if (!fs::exists(json)) continue;
    if (step != nullptr) {
      *step = -1;
      try {
        std::ifstream in(json);
        *step = nlohmann::json::parse(in).at("step").get<int64_t>();
      } catch (const nlohmann::json::exception&) {
      }
    }
    return true;
  }
  return false;
}

void recover_checkpoint(const std::string& dir) {
  const fs::path final_dir = fs::path(dir) / "checkpoint";
  const fs::path tmp_dir = fs::path(dir) / "checkpoint.tmp";
  const fs::path old_dir = fs::path(dir) / "checkpoint.old";
  std::error_code ec;
  // A kill between the two renames: checkpoint.old is the whole one; put it back in place.
  if (!fs::exists(final_dir) && fs::exists(old_dir / kTrainerJson)) {
    fs::rename(old_dir, final_dir, ec);
    ATTN_CHECK(!ec, "cannot restore {} from {}: {}", final_dir.string(), old_dir.string(),
               ec.message());
    sync_directory(dir);
  }
  fs::remove_all(tmp_dir, ec);
  if (fs::exists(final_dir)) fs::remove_all(old_dir, ec);
}

bool load_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     TrainerState& state) {
  recover_checkpoint(dir);
  const fs::path ckpt = fs::path(dir) / "checkpoint";
  if (!fs::exists(ckpt / kTrainerJson)) return false;
  nlohmann::json j;
  try {
    std::ifstream in(ckpt / kTrainerJson);
    j = nlohmann::json::parse(in);
    state.step = j.at("step").get<int64_t>();
    state.epoch = j.at("epoch").get<int64_t>();
    state.batch_index = j.at("batch_index").get<int64_t>();
    state.elapsed_s = j.at("elapsed_s").get<double>();
    state.tokens_seen = j.at("tokens_seen").get<int64_t>();
    state.best_metric = j.at("best_metric").is_null() ? -std::numeric_limits<double>::infinity()
                                                      : j.at("best_metric").get<double>();
    state.best_step = j.at("best_step").get<int64_t>();
    state.bad_validations = j.at("bad_validations").get<int64_t>();
    state.seed = j.at("seed").get<uint64_t>();
    adam.set_steps(j.at("adam_steps").get<int64_t>());
    state.metrics_bytes = j.value("metrics_bytes", int64_t{-1});
    state.window_steps = j.value("window_steps", int64_t{0});
    state.window_loss = j.value("window_loss", 0.0);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a valid trainer state: {}", (ckpt / kTrainerJson).string(), json_error_text(e));
  }
  load_weights(model, (ckpt / kWeightsFile).string());
  SafetensorsFile moments = read_safetensors((ckpt / kTrainerTensors).string());
  adam.moments().clear();
  model.visit_params([&](Param& p) {
    auto m = moments.tensors.find(p.name + ".m");
    auto v = moments.tensors.find(p.name + ".v");
    if (m == moments.tensors.end() && v == moments.tensors.end()) return;  // never updated
    ATTN_CHECK(m != moments.tensors.end() && v != moments.tensors.end() &&
                   m->second.shape() == p.value.shape() && v->second.shape() == p.value.shape(),
               "{}: Adam moments of \"{}\" are missing or mis-shaped",
               (ckpt / kTrainerTensors).string(), p.name);
    check_finite((ckpt / kTrainerTensors).string(), m->first, m->second);
    check_finite((ckpt / kTrainerTensors).string(), v->first, v->second);
    adam.moments()[p.name] = AdamOptimizer::Moments{m->second, v->second};
  });
  return true;
}

}  // namespace attnscope
