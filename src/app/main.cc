// attnscope: train, translate and see the attention of encoder–decoder Transformers.
#include <fmt/core.h>

#include <malloc.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <system_error>
#include <utility>

#include "app/commands.h"
#include "app/stdout_check.h"
#include "app/wait_policy.h"
#include "core/error.h"
#include "core/memory_limit.h"

int main(int argc, char** argv) {
  // libgomp and OpenBLAS read how their idle workers wait once, when they load. Spinning workers
  // make the many small parallel regions of a training step 10–30× slower whenever the cores are
  // shared (a build, a second process), and OpenBLAS's workers spinning (sched_yield) between
  // products take the core the OpenMP workers need for the element-wise kernels between them
  // (W2 +7% with them asleep, docs/performance.md). So unless the user chose, wait passively,
  // with a short spin when every thread has a core of its own (app/wait_policy.h): set the
  // variables and start again, once. If exec fails, carry on as we are.
  bool restart = false;
  for (const auto& [name, value] :
       attnscope::app::wait_settings(attnscope::app::current_wait_context())) {
    setenv(name.c_str(), value.c_str(), 1);
    restart = true;
  }
  if (restart) execv("/proc/self/exe", argv);
  // Keep freed memory for the next use instead of handing it back to the kernel: decoding
  // allocates its caches (megabytes) for every batch, and with glibc's defaults each batch gets
  // fresh pages that fault and are zeroed one 4 KiB page at a time. Blocks under 64 MiB come from
  // the heap, and the heap's free top is returned to the system only beyond 256 MiB.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  attnscope::app::install_checked_stdout();
  CLI::App app{
      "attnscope — train and run encoder–decoder Transformers and see every attention map.\n"
      "Run `attnscope <command> --help` for a command's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "attnscope 0.1.0");
  // Options of the main program may follow the subcommand too (`attnscope train … --max-memory
  // 64G`).
  app.fallthrough();
  app.add_option_function<std::string>(
         "--max-memory",
         [](const std::string& v) {
           attnscope::set_memory_limit(attnscope::parse_memory_size(v, "--max-memory"),
                                       "--max-memory");
         },
         "Cap on the memory models and their work may plan (e.g. 64G, 512M, none; default: this "
         "machine's memory, or ATTNSCOPE_MAX_MEMORY)")
      ->envname("ATTNSCOPE_MAX_MEMORY");
  attnscope::app::register_demo(app);
  attnscope::app::register_explain(app);
  attnscope::app::register_train(app);
  attnscope::app::register_translate(app);
  attnscope::app::register_eval(app);
  attnscope::app::register_score(app);
  attnscope::app::register_attention(app);
  attnscope::app::register_attribute(app);
  attnscope::app::register_heads(app);
  attnscope::app::register_serve(app);
  attnscope::app::register_forward(app);
  attnscope::app::register_align(app);
  attnscope::app::register_bench(app);
  try {
    app.parse(argc, argv);
    attnscope::app::finish_stdout();
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // --help and --version print to stdout, and are checked too
    try {
      attnscope::app::finish_stdout();
    } catch (const attnscope::Error& err) {
      fmt::print(stderr, "attnscope: error: {}\n", err.what());
      return rc != 0 ? rc : 1;
    }
    return rc;
  } catch (const attnscope::Error& e) {
    fmt::print(stderr, "attnscope: error: {}\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A folder that cannot be created or read (permissions, a file in the way): the message
    // names the path and the reason.
    fmt::print(stderr, "attnscope: error: {}\n", e.what());
    return 1;
  } catch (const std::system_error& e) {
    // fmt::print throws this when a write to stdout fails (a full disk, a closed pipe).
    fmt::print(stderr, "attnscope: error: cannot write the output: {}\n", e.code().message());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "attnscope: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
