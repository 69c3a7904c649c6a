//===- SafeTensors.h - safetensors checkpoint reader ------------*- C++ -*-===//
//
// Reads Hugging Face safetensors files (u64 little-endian header length, a
// JSON header, then the byte buffer) over a read-only memory map, and sharded
// checkpoints described by model.safetensors.index.json. Converts F32, F16
// and BF16 tensors to float; other dtypes are recognised (so their sizes are
// validated) but reading them is an error that names the dtype.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_FRONTEND_SAFETENSORS_H
#define KVCC_FRONTEND_SAFETENSORS_H

#include "kvcc/Support/Error.h"
#include "kvcc/Support/File.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvcc {

enum class SafeTensorsDType {
  BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
};
const char *safeTensorsDTypeName(SafeTensorsDType dtype);
/// Bytes per element.
uint32_t safeTensorsDTypeSize(SafeTensorsDType dtype);
/// True for F32, F16 and BF16, the dtypes readFloat() converts.
bool isFloatConvertible(SafeTensorsDType dtype);

struct SafeTensorsTensorInfo {
  std::string name;
  SafeTensorsDType dtype = SafeTensorsDType::F32;
  std::vector<int64_t> shape;   ///< Row-major, outermost first.
  uint64_t numElements = 0;
  uint64_t fileOffset = 0;      ///< Absolute offset of the first byte.
  uint64_t numBytes = 0;
};

/// One .safetensors file.
class SafeTensorsFile {
public:
  static Expected<SafeTensorsFile> open(const std::string &path);

  const std::string &path() const { return file_.path(); }
  /// In header order (__metadata__ excluded).
  const std::vector<SafeTensorsTensorInfo> &tensors() const { return tensors_; }
  const SafeTensorsTensorInfo *find(std::string_view name) const;
  const uint8_t *tensorData(const SafeTensorsTensorInfo &info) const { return file_.data() + info.fileOffset; }

  /// Converts a tensor to float; `count` must equal its element count.
  Status readFloat(const SafeTensorsTensorInfo &info, float *dst, size_t count) const;

private:
  explicit SafeTensorsFile(MappedFile file) : file_(std::move(file)) {}
  Status parseHeader();

  MappedFile file_;
  std::vector<SafeTensorsTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

/// A checkpoint: one model.safetensors, or the shards listed by the
/// weight_map of a model.safetensors.index.json.
class SafeTensorsCheckpoint {
public:
  /// `path` is a .safetensors file or an index .json file.
  static Expected<SafeTensorsCheckpoint> open(const std::string &path);

  struct Entry {
    const SafeTensorsFile *file = nullptr;
    const SafeTensorsTensorInfo *info = nullptr;
  };
  /// The tensor and the shard it lives in, or {nullptr, nullptr}.
  Entry find(std::string_view name) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<SafeTensorsFile>> &files() const { return files_; }

  Status readFloat(std::string_view name, float *dst, size_t count) const;

private:
  // unique_ptr keeps Entry pointers valid when the checkpoint moves.
  std::vector<std::unique_ptr<SafeTensorsFile>> files_;
  std::unordered_map<std::string, Entry> entries_;
};

} // namespace kvcc

#endif // KVCC_FRONTEND_SAFETENSORS_H
