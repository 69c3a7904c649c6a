//===- File.h - Whole-file reads and read-only memory maps ------*- C++ -*-===//
//
// Weights are mapped, never copied: a 100 MB GGUF costs page-cache pages, not
// heap. Errors carry the path and the errno text.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_FILE_H
#define KVCC_SUPPORT_FILE_H

#include "kvcc/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace kvcc {

/// Reads a regular file into a string ("PATH: cannot open: No such file...").
Expected<std::string> readFile(const std::string &path);

/// A read-only, private memory map of a whole regular file. Move-only; the
/// mapping is released in the destructor. An empty file maps to
/// data() == nullptr, size() == 0 (mmap refuses zero lengths).
class MappedFile {
public:
  static Expected<MappedFile> open(const std::string &path);

  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile() = default;
  void release();

  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

} // namespace kvcc

#endif // KVCC_SUPPORT_FILE_H
