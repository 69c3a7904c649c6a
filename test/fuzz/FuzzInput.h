//===- FuzzInput.h - Hand a fuzzer's bytes to readers that take paths ----===//
//
// The model readers map files (mmap), so each input is written to a file of
// this process's own scratch directory, under the name the reader expects.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_FUZZ_FUZZINPUT_H
#define KVCC_TEST_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace kvcc::fuzz {

/// A directory made once per process ($TMPDIR or /tmp); fuzzers run for
/// minutes, so it is left for the OS to clean.
inline const std::string &scratchDir() {
  static const std::string dir = [] {
    std::string tmpl =
        std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/kvcc-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      std::abort();
    return tmpl;
  }();
  return dir;
}

/// Writes the input to scratchDir()/name and returns the path.
inline std::string writeInput(const std::string &name, const uint8_t *data, size_t size) {
  std::string path = scratchDir() + "/" + name;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0)
    std::abort();
  return path;
}

/// Removes a file written by writeInput (a reader that fails must not depend
/// on a previous input's file).
inline void removeInput(const std::string &name) { ::unlink((scratchDir() + "/" + name).c_str()); }

} // namespace kvcc::fuzz

#endif // KVCC_TEST_FUZZ_FUZZINPUT_H
