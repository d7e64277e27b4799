// A C stdio stream whose text goes to Python's sys.stdout, so the engine's log lines (written
// with fmt::print to a FILE*) reach a Jupyter cell's output, where the process's own stderr
// never shows. Complete lines are passed on as they come (the GIL is taken for each); the rest
// waits for its newline or close. Invalid UTF-8 is replaced, never an error.
#pragma once

#include <cstdio>
#include <string>

namespace attnscope::python {

class PythonStdout {
 public:
  PythonStdout();
  ~PythonStdout();
  PythonStdout(const PythonStdout&) = delete;
  PythonStdout& operator=(const PythonStdout&) = delete;

  std::FILE* file() const { return file_; }

 private:
  static ssize_t write(void* self, const char* data, size_t size);
  static int close(void* self);
  void emit(const std::string& text);

  std::FILE* file_ = nullptr;
  std::string pending_;
};

}  // namespace attnscope::python
