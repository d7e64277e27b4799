// The output directory of `attnscope train`, and what a run does with each state a kill can leave
// it in, so that the same command run again after any crash either continues or starts cleanly:
//
//   empty or absent                 a new run
//   a run killed before its first   (the marker file .attnscope-train, no checkpoint) the files
//   checkpoint                      it wrote are removed and the run starts again from scratch
//                                   — with the same seed it is the run it would have been
//   a checkpoint (checkpoint/, or   --resume continues it exactly (train/checkpoint.h); without
//   checkpoint.old/ mid-swap)       --resume it is refused, naming the step
//   a model not made by a run       (config.json, no marker, no checkpoint) refused: it may be
//                                   someone's model
//
// So `attnscope train --resume …` may be run again after any crash, as often as needed: it starts
// the run when there is nothing to resume yet.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

inline constexpr const char* kRunMarker = ".attnscope-train";

struct RunDirState {
  bool marker = false;           // a run of attnscope train started here
  bool checkpoint = false;       // a completed checkpoint is there
  int64_t checkpoint_step = -1;  // its step (-1: unreadable, load_checkpoint will say why)
  bool model = false;            // config.json is there
};

RunDirState inspect_run_dir(const std::string& dir);

// Creates DIR (if needed) and its marker, before anything else of a new run is written.
void start_run_dir(const std::string& dir);

// Removes what a run that stopped before its first checkpoint wrote (its model, tokenizers,
// metrics, picture, a partial checkpoint, temporary files) — nothing else of DIR.
void clear_unfinished_run(const std::string& dir);

}  // namespace attnscope
