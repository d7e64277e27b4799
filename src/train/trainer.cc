#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/model_dir.h"
#include "train/loss.h"

namespace attnscope {

namespace fs = std::filesystem;

Trainer::Trainer(Seq2SeqModel& model, Batcher& batcher, const TrainerOptions& opt,
                 std::string out_dir, DataParallel* parallel)
    : model_(model),
      batcher_(batcher),
      opt_(opt),
      out_dir_(std::move(out_dir)),
      adam_(opt.adam),
      dp_(parallel != nullptr ? *parallel : alone_parallel_) {
  ATTN_CHECK(opt_.max_steps > 0 || opt_.max_epochs > 0 || opt_.max_minutes > 0,
             "training needs a limit: --steps, --epochs or --minutes");
  ATTN_CHECK(opt_.accumulate >= 1, "--accumulate must be ≥ 1");
  state_.seed = opt_.seed;
  model_.alloc_grads();
  if (dp_.writes_files()) fs::create_directories(out_dir_);
  if (dp_.ranks() > 1)
    reducer_ = std::make_unique<GradientReducer>(dp_.comm(), model_, dp_.options().bucket_bytes);
}

bool Trainer::resume() {
  if (!dp_.share_flag(dp_.writes_files() && load_checkpoint(out_dir_, model_, adam_, state_)))
    return false;
  shared_ = false;
  share_start_state();
  batcher_.seek(state_.epoch, state_.batch_index);
  saved_step_ = state_.step;
  if (dp_.writes_files()) restore_metrics();
  return true;
}

void Trainer::share_start_state() {
  if (shared_ || dp_.ranks() == 1) return;
  dp_.share_state(model_, adam_, state_);
  shared_ = true;
}

double Trainer::clip_gradients() {
  double sq = 0;
  model_.visit_params([&](Param& p) {
    for (int64_t i = 0; i < p.grad.numel(); ++i) sq += static_cast<double>(p.grad[i]) * p.grad[i];
  });
  const double norm = std::sqrt(sq);
  if (opt_.clip_norm > 0 && norm > opt_.clip_norm) {
    const float scale = static_cast<float>(opt_.clip_norm / (norm + 1e-6));
    model_.visit_params([&](Param& p) {
      for (int64_t i = 0; i < p.grad.numel(); ++i) p.grad[i] *= scale;
    });
  }
  return norm;
}

double Trainer::step_once(int64_t& tgt_tokens) {
  model_.zero_grads();
  double loss_sum = 0;
  tgt_tokens = 0;
  const int64_t step = state_.step + 1;
  // The update's micro-batches over all ranks; this rank takes [first, first + accumulate) of
  // them and steps over the others' (one rank: all of them).
  const int64_t global = opt_.accumulate * dp_.ranks();
  const int64_t first = opt_.accumulate * dp_.rank();
  dp_.comm().set_activity(fmt::format("step {}", step));
  batcher_.skip(first);
  for (int64_t local = 0; local < opt_.accumulate; ++local) {
    const int64_t micro = first + local;
    Batch batch = batcher_.next();
    // Each micro-batch has its own dropout masks, a pure function of (seed, step, micro).
    const uint64_t step_seed =
        counter_hash(state_.seed, static_cast<uint64_t>(step * global + micro));
    const Tensor& logits = model_.forward(batch.src, batch.tgt_in, ForwardOptions{true, step_seed});
    const LossValue loss = sequence_loss(logits, batch.tgt_out, model_.info().pad_id,
                                         opt_.label_smoothing, &d_logits_);
    if (!std::isfinite(loss.mean)) {
      std::string where = "the logits";
      for (int64_t i = 0; i < logits.numel(); ++i)
        if (!std::isfinite(logits[i])) {
          where = fmt::format("the logits (first non-finite value at flat index {})", i);
          break;
        }
      fail(
          "step {}: the loss is {}; first non-finite tensor: {}. HINT: lower --lr or raise "
          "--warmup; the last checkpoint is in {}/checkpoint",
          step, loss.mean, where, out_dir_);
    }
    if (global > 1) {
      const float s = 1.0f / static_cast<float>(global);
      for (int64_t i = 0; i < d_logits_.numel(); ++i) d_logits_[i] *= s;
    }
    // The last backward of the update starts summing each gradient over the ranks as soon as
    // it is final.
    if (reducer_ && local + 1 == opt_.accumulate)
      model_.backward_reporting(d_logits_, reducer_->grad_final());
    else
      model_.backward(d_logits_);
    loss_sum += loss.mean;
    tgt_tokens += batch.tgt_tokens;
  }
  batcher_.skip(global - first - opt_.accumulate);
  if (reducer_) {
    reducer_->finish();  // every rank's gradients summed: from here on all ranks compute alike
    double totals[2] = {loss_sum, static_cast<double>(tgt_tokens)};
    dp_.sum(totals);
    loss_sum = totals[0];
    tgt_tokens = static_cast<int64_t>(totals[1]);
  }
  const double norm = clip_gradients();
  if (!std::isfinite(norm)) {
    std::string name;
    model_.visit_params([&](Param& p) {
      if (!name.empty()) return;
      for (int64_t i = 0; i < p.grad.numel(); ++i)
        if (!std::isfinite(p.grad[i])) {
          name = p.name;
          return;
        }
    });
    fail(
        "step {}: a gradient is not finite; first non-finite tensor: grad of \"{}\". HINT: "
        "lower --lr or set --clip-norm",
        step, name);
  }
  adam_.step(model_, opt_.schedule.at(step));
  state_.step = step;
  state_.epoch = batcher_.epoch();
  state_.batch_index = batcher_.index();
  state_.tokens_seen += tgt_tokens;
  return loss_sum / static_cast<double>(global);
}

std::string Trainer::metrics_path() const {
  return (fs::path(out_dir_) / "metrics.jsonl").string();
}

void Trainer::append_metrics(const std::string& json_line) {
  if (!dp_.writes_files()) return;
  append_to_file(metrics_path(), json_line + "\n");
}

void Trainer::restore_metrics() {
  const std::string path = metrics_path();
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return;  // no metrics yet (or removed by the user): the run appends a new file
  if (state_.metrics_bytes >= 0) {
    // Only the rows after the checkpoint go; cutting again after another crash cuts nothing more.
    if (size > static_cast<uintmax_t>(state_.metrics_bytes)) {
      fs::resize_file(path, static_cast<uintmax_t>(state_.metrics_bytes), ec);
      ATTN_CHECK(!ec, "cannot cut {} back to the checkpoint's {} bytes: {}", path,
                 state_.metrics_bytes, ec.message());
    }
    return;
  }
  // A checkpoint of an older attnscope, without the byte count: keep the rows up to its step
  // (a line cut by the crash is dropped), written as a whole new file.
  std::ifstream in(path);
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= state_.step)
        kept << line << "\n";
    } catch (const nlohmann::json::exception&) {
    }
  }
  in.close();
  write_file_atomically(path, kept.str());
}

void Trainer::save_best() {
  if (dp_.writes_files()) save_model(model_, out_dir_);
}

TrainerState Trainer::run(const std::function<void(const TrainProgress&)>& on_progress) {
  using clock = std::chrono::steady_clock;
  share_start_state();
  const auto start = clock::now();
  const double elapsed_before = state_.elapsed_s;
  auto elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(clock::now() - start).count();
  };
  // The log window (state_.window_steps, state_.window_loss) continues a resumed one.
  int64_t window_tokens = 0;
  auto window_start = clock::now();
  std::string stop;

  auto epochs_done = [&] {
    const auto per_epoch = static_cast<double>(std::max<int64_t>(batcher_.batches_per_epoch(), 1));
    return static_cast<double>(batcher_.epoch()) +
           static_cast<double>(batcher_.index()) / per_epoch;
  };
  auto fraction = [&] {
    double f = 0;
    if (opt_.max_steps > 0)
      f = std::max(f, static_cast<double>(state_.step) / static_cast<double>(opt_.max_steps));
    if (opt_.max_minutes > 0) f = std::max(f, elapsed() / (60.0 * opt_.max_minutes));
    if (opt_.max_epochs > 0) f = std::max(f, epochs_done() / static_cast<double>(opt_.max_epochs));
    return std::min(f, 1.0);
  };
  auto validate_and_save = [&](TrainProgress& p) {
    state_.elapsed_s = elapsed();
    dp_.comm().set_activity(fmt::format("validating after step {}", state_.step));
    if (validate_) {
      ValidationResult v = validate_(model_);
      p.validation = v;
      nlohmann::json j = {{"step", state_.step}, {"valid_loss", v.loss}};
      if (v.bleu) j["bleu"] = *v.bleu;
      if (v.chrf) j["chrf"] = *v.chrf;
      if (v.metric() > state_.best_metric) {
        state_.best_metric = v.metric();
        state_.best_step = state_.step;
        state_.bad_validations = 0;
        p.improved = true;
        save_best();
      } else {
        ++state_.bad_validations;
      }
      j["best_step"] = state_.best_step;
      append_metrics(j.dump());
    } else {
      state_.best_step = state_.step;
      save_best();
    }
    dp_.check_replicas(model_, state_.step);
    saved_step_ = state_.step;
    if (!dp_.writes_files()) return;
    // The checkpoint records how much of metrics.jsonl it covers, after making those rows
    // durable: a resume keeps exactly them.
    const std::string metrics = metrics_path();
    std::error_code ec;
    if (fs::exists(metrics, ec)) {
      sync_file(metrics);
      state_.metrics_bytes = static_cast<int64_t>(fs::file_size(metrics));
    } else {
      state_.metrics_bytes = 0;
    }
    save_checkpoint(out_dir_, model_, adam_, state_);
  };

  while (true) {
    if (opt_.max_steps > 0 && state_.step >= opt_.max_steps)
      stop = "steps";
    else if (opt_.max_epochs > 0 && batcher_.epoch() >= opt_.max_epochs)
      stop = "epochs";
    else if (opt_.max_minutes > 0 && dp_.share_flag(elapsed() >= 60.0 * opt_.max_minutes))
      stop = "minutes";  // rank 0's clock decides for all
    else if (opt_.patience > 0 && state_.bad_validations >= opt_.patience)
      stop = "early stopping";
    if (!stop.empty()) break;

    int64_t tokens = 0;
    state_.window_loss += step_once(tokens);
    window_tokens += tokens;
    ++state_.window_steps;
    if (dp_.options().replica_check_every > 0 &&
        state_.step % dp_.options().replica_check_every == 0)
      dp_.check_replicas(model_, state_.step);

    const bool log_now = state_.step % opt_.log_every == 0;
    const bool valid_now = opt_.valid_every > 0 && state_.step % opt_.valid_every == 0;
    if (log_now || valid_now) {
      TrainProgress p;
      p.step = state_.step;
      p.max_steps = opt_.max_steps;
      p.epoch = batcher_.epoch();
      p.epochs = epochs_done();
      p.loss = state_.window_loss / static_cast<double>(std::max<int64_t>(state_.window_steps, 1));
      p.lr = opt_.schedule.at(state_.step);
      const double dt = std::chrono::duration<double>(clock::now() - window_start).count();
      p.tokens_per_s = dt > 0 ? static_cast<double>(window_tokens) / dt : 0;
      if (log_now) {
        append_metrics(nlohmann::json{
            {"step", p.step},
            {"epoch", p.epoch},
            {"loss", p.loss},
            {"lr", p.lr},
            {"tgt_tokens_per_s", p.tokens_per_s},
            {"elapsed_s",
             elapsed()}}.dump());
        state_.window_loss = 0;
        state_.window_steps = 0;
        window_tokens = 0;
        window_start = clock::now();
      }
      if (valid_now) {
        validate_and_save(p);
        p.kind = TrainProgress::Kind::kValidation;
      }
      p.elapsed_s = elapsed();
      p.fraction_done = fraction();
      on_progress(p);
    }
  }
  TrainProgress done;
  done.kind = TrainProgress::Kind::kDone;
  done.step = state_.step;
  done.max_steps = opt_.max_steps;
  done.epoch = batcher_.epoch();
  done.epochs = epochs_done();
  done.stop_reason = stop;
  // The final state is validated and saved unless it just was (or, resumed, it was the
  // checkpoint: a finished run started again has nothing to add).
  if (state_.step != saved_step_) validate_and_save(done);
  done.elapsed_s = elapsed();
  done.fraction_done = 1.0;
  on_progress(done);
  return state_;
}

}  // namespace attnscope
