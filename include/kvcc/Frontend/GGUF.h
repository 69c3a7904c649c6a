//===- GGUF.h - GGUF model file reader --------------------------*- C++ -*-===//
//
// Reads GGUF v2/v3 (llama.cpp's format) over a read-only memory map: metadata
// key/values, tensor infos and tensor data, and dequantizes the tensor types
// kvcc runs (F32, F16, BF16, Q8_0, Q4_0, Q4_1) to float exactly as ggml does.
// Shared by the compiler and the runtime: no LLVM/MLIR here.
//
// Layout reminder: a tensor's dims are ne[0..n_dims), ne[0] innermost
// (fastest varying), so a ggml matrix ne = [in, out] is row-major [out, in].
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_FRONTEND_GGUF_H
#define KVCC_FRONTEND_GGUF_H

#include "kvcc/Support/Error.h"
#include "kvcc/Support/File.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvcc {

/// Exact IEEE binary16 / bfloat16 to binary32 (subnormals, inf, nan kept).
float halfToFloat(uint16_t h);
float bfloat16ToFloat(uint16_t b);
/// binary32 to binary16 / bfloat16, rounded to nearest even (overflow to
/// inf, subnormals kept, a nan stays a quiet nan).
uint16_t floatToHalf(float f);
uint16_t floatToBFloat16(float f);
/// dst[i] = floatToHalf(src[i]) for i < n, bit for bit; by F16C vectors when
/// the CPU has them (one call a weight made an f16 SmolLM2-135M start 0.2 s
/// slower).
void floatsToHalves(const float *src, uint16_t *dst, size_t n);

/// Types of GGUF metadata values (numbering from the GGUF spec).
enum class GGUFValueType : uint32_t {
  UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6,
  Bool = 7, String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
};
/// "uint8", ..., "float64", or "unknown(N)".
std::string ggufValueTypeName(GGUFValueType type);

/// One metadata value. Numbers and bools keep their raw little-endian bits in
/// `raw` (one element for a scalar, one per element for an array) and are
/// interpreted by `type`/`elemType`; strings live in `strings`.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UInt8;
  GGUFValueType elemType = GGUFValueType::UInt8; ///< Only for Array.
  std::vector<uint64_t> raw;
  std::vector<std::string> strings;

  bool isArray() const { return type == GGUFValueType::Array; }
  size_t arraySize() const;
};

/// ggml tensor types by number. Removed ones keep their number so a file that
/// uses them gets a precise error.
enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

/// Name ("Q4_1"), block size in elements and bytes per block of a ggml type.
/// blockSize == 0 for numbers that are unknown or were removed from ggml.
struct GGMLTypeTraits {
  const char *name;
  uint32_t blockSize;
  uint32_t typeSize;
};
GGMLTypeTraits ggmlTypeTraits(uint32_t type);
/// "Q6_K (14)" - the form used in error messages.
std::string ggmlTypeDescription(uint32_t type);
/// True for the types dequantize() handles.
bool isDequantizable(uint32_t type);

struct GGUFTensorInfo {
  std::string name;
  std::vector<uint64_t> dims; ///< ne[0] first (innermost).
  uint32_t type = 0;          ///< A GGMLType number.
  uint64_t offset = 0;        ///< Relative to the data section.
  uint64_t fileOffset = 0;    ///< Absolute offset of the first byte.
  uint64_t numBytes = 0;
  uint64_t numElements = 0;
};

class GGUFFile {
public:
  static Expected<GGUFFile> open(const std::string &path);

  const std::string &path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t dataOffset() const { return dataOffset_; }

  /// Metadata in file order.
  const std::vector<std::pair<std::string, GGUFValue>> &metadata() const { return metadata_; }
  const GGUFValue *find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors: errors name the file, the key and the stored type.
  /// Any integer type, range-checked into int64.
  Expected<int64_t> getInt(std::string_view key) const;
  /// Any unsigned or non-negative signed integer.
  Expected<uint64_t> getUInt(std::string_view key) const;
  /// float32/float64 (integers are accepted too, converted).
  Expected<double> getFloat(std::string_view key) const;
  Expected<bool> getBool(std::string_view key) const;
  Expected<std::string> getString(std::string_view key) const;
  Expected<std::vector<std::string>> getStringArray(std::string_view key) const;
  Expected<std::vector<int64_t>> getIntArray(std::string_view key) const;
  Expected<std::vector<double>> getFloatArray(std::string_view key) const;

  // Tokenizer metadata (tokenizer.ggml.*, tokenizer.chat_template).
  Expected<std::string> tokenizerModel() const { return getString("tokenizer.ggml.model"); }
  Expected<std::vector<std::string>> tokenizerTokens() const {
    return getStringArray("tokenizer.ggml.tokens");
  }
  Expected<std::vector<std::string>> tokenizerMerges() const {
    return getStringArray("tokenizer.ggml.merges");
  }
  Expected<std::vector<int64_t>> tokenizerTokenTypes() const {
    return getIntArray("tokenizer.ggml.token_type");
  }
  Expected<int64_t> bosTokenId() const { return getInt("tokenizer.ggml.bos_token_id"); }
  Expected<int64_t> eosTokenId() const { return getInt("tokenizer.ggml.eos_token_id"); }
  Expected<std::string> chatTemplate() const { return getString("tokenizer.chat_template"); }

  const std::vector<GGUFTensorInfo> &tensors() const { return tensors_; }
  const GGUFTensorInfo *findTensor(std::string_view name) const;
  /// The tensor's bytes inside the map (already checked in range at open()).
  const uint8_t *tensorData(const GGUFTensorInfo &info) const { return file_.data() + info.fileOffset; }

  /// Converts a whole tensor to float; `count` must equal its element count.
  Status dequantize(const GGUFTensorInfo &info, float *dst, size_t count) const;

private:
  explicit GGUFFile(MappedFile file) : file_(std::move(file)) {}
  friend class GGUFParser;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t dataOffset_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> metadata_;
  std::unordered_map<std::string, size_t> metadataIndex_;
  std::vector<GGUFTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensorIndex_;
};

/// Dequantizes `numElements` elements of ggml type `type` from `src` (which
/// must hold numElements / blockSize blocks). Exposed for tests and runtime
/// kernels that dequantize row by row.
Status dequantizeRow(uint32_t type, const uint8_t *src, float *dst, uint64_t numElements);

} // namespace kvcc

#endif // KVCC_FRONTEND_GGUF_H
