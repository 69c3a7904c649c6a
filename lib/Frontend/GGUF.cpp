//===- GGUF.cpp - GGUF model file reader ----------------------------------===//
//
// The file is hostile input: every read goes through a bounds-checked cursor,
// every count is capped by the bytes left (each element needs at least one
// byte, each string at least eight), all size arithmetic is overflow-checked,
// and every tensor's byte range is checked inside the file before any
// pointer into the map is handed out.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/GGUF.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF is little-endian; kvcc's readers assume a little-endian host"
#endif

namespace kvcc {

//===----------------------------------------------------------------------===//
// Scalar conversions
//===----------------------------------------------------------------------===//

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in binary32 (a normal there).
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31)
    bits = sign | 0x7F800000u | (mant << 13); // inf, or nan with its payload
  else
    bits = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) // nan: keep the payload's top bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FF000u) // >= 65520 rounds past 65504: inf
    return static_cast<uint16_t>(sign | 0x7C00u);
  if (ax < 0x38800000u) {
    // Below 2^-14, a subnormal: round(|f| * 2^24) units of 2^-24 (exact
    // scaling, rounded to nearest even; 1024 is the smallest normal's code).
    float units = std::fabs(f) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::lrintf(units)));
  }
  // Normal: round the 13 dropped mantissa bits to nearest even (a carry
  // moves into the exponent correctly), then rebias 127 -> 15.
  uint32_t rounded = ax + 0xFFFu + ((ax >> 13) & 1u) - (uint32_t(127 - 15) << 23);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

#if defined(__x86_64__)
// F16C's conversion rounds as floatToHalf does (nearest even, overflow to
// inf, subnormals kept; MXCSR's flush-to-zero does not apply to it) and
// quiets a nan keeping its payload's top bits, as floatToHalf does.
__attribute__((target("avx,f16c"))) static size_t floatsToHalvesF16C(const float *src, uint16_t *dst,
                                                                      size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return i;
}
#endif

void floatsToHalves(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  static const bool hasF16C = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (hasF16C)
    i = floatsToHalvesF16C(src, dst, n);
#endif
  for (; i < n; ++i)
    dst[i] = floatToHalf(src[i]);
}

uint16_t floatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  if ((x & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

float bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

//===----------------------------------------------------------------------===//
// Type tables
//===----------------------------------------------------------------------===//

std::string ggufValueTypeName(GGUFValueType type) {
  static const char *names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32", "float32",
                                "bool",  "string", "array",  "uint64", "int64", "float64"};
  uint32_t t = static_cast<uint32_t>(type);
  if (t < sizeof(names) / sizeof(names[0]))
    return names[t];
  return "unknown(" + std::to_string(t) + ")";
}

// Byte size of a fixed-size metadata scalar, 0 for string/array/unknown.
static uint32_t scalarSize(GGUFValueType t) {
  switch (t) {
  case GGUFValueType::UInt8: case GGUFValueType::Int8: case GGUFValueType::Bool: return 1;
  case GGUFValueType::UInt16: case GGUFValueType::Int16: return 2;
  case GGUFValueType::UInt32: case GGUFValueType::Int32: case GGUFValueType::Float32: return 4;
  case GGUFValueType::UInt64: case GGUFValueType::Int64: case GGUFValueType::Float64: return 8;
  default: return 0;
  }
}

size_t GGUFValue::arraySize() const {
  if (!isArray())
    return 0;
  return elemType == GGUFValueType::String ? strings.size() : raw.size();
}

GGMLTypeTraits ggmlTypeTraits(uint32_t type) {
  // Indexed by ggml's type number; {name, 0, 0} marks removed types.
  static const GGMLTypeTraits table[] = {
      {"F32", 1, 4},         {"F16", 1, 2},        {"Q4_0", 32, 18},    {"Q4_1", 32, 20},
      {"Q4_2", 0, 0},        {"Q4_3", 0, 0},       {"Q5_0", 32, 22},    {"Q5_1", 32, 24},
      {"Q8_0", 32, 34},      {"Q8_1", 32, 36},     {"Q2_K", 256, 84},   {"Q3_K", 256, 110},
      {"Q4_K", 256, 144},    {"Q5_K", 256, 176},   {"Q6_K", 256, 210},  {"Q8_K", 256, 292},
      {"IQ2_XXS", 256, 66},  {"IQ2_XS", 256, 74},  {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50},
      {"IQ4_NL", 32, 18},    {"IQ3_S", 256, 110},  {"IQ2_S", 256, 82},  {"IQ4_XS", 256, 136},
      {"I8", 1, 1},          {"I16", 1, 2},        {"I32", 1, 4},       {"I64", 1, 8},
      {"F64", 1, 8},         {"IQ1_M", 256, 56},   {"BF16", 1, 2},      {"Q4_0_4_4", 0, 0},
      {"Q4_0_4_8", 0, 0},    {"Q4_0_8_8", 0, 0},   {"TQ1_0", 256, 54},  {"TQ2_0", 256, 66},
      {"IQ4_NL_4_4", 0, 0},  {"IQ4_NL_4_8", 0, 0}, {"IQ4_NL_8_8", 0, 0}, {"MXFP4", 32, 17},
  };
  if (type < sizeof(table) / sizeof(table[0]))
    return table[type];
  return {"unknown", 0, 0};
}

std::string ggmlTypeDescription(uint32_t type) {
  return std::string(ggmlTypeTraits(type).name) + " (" + std::to_string(type) + ")";
}

bool isDequantizable(uint32_t type) {
  switch (static_cast<GGMLType>(type)) {
  case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16:
  case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q4_1:
    return true;
  default:
    return false;
  }
}

//===----------------------------------------------------------------------===//
// Parsing
//===----------------------------------------------------------------------===//

namespace {
constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr uint64_t kMaxAlignment = 1u << 20;

// Overflow-checked a * b and a + b.
bool mulOverflow(uint64_t a, uint64_t b, uint64_t &r) { return __builtin_mul_overflow(a, b, &r); }
bool addOverflow(uint64_t a, uint64_t b, uint64_t &r) { return __builtin_add_overflow(a, b, &r); }
} // namespace

// Friend of GGUFFile; holds the cursor and the error context.
class GGUFParser {
public:
  GGUFParser(GGUFFile &f) : f_(f), data_(f.file_.data()), size_(f.file_.size()) {}

  Status parse();

private:
  GGUFFile &f_;
  const uint8_t *data_;
  uint64_t size_;
  uint64_t pos_ = 0;

  Status err(const std::string &msg) const { return Status::error(f_.path() + ": " + msg); }
  uint64_t remaining() const { return size_ - pos_; }

  Status truncated(const std::string &what, uint64_t need) const {
    return err(what + ": needs " + std::to_string(need) + " bytes at offset " + std::to_string(pos_) +
               ", but the file ends at " + std::to_string(size_) + " (truncated file?)");
  }

  template <typename T> Status read(T &out, const std::string &what) {
    if (remaining() < sizeof(T))
      return truncated(what, sizeof(T));
    std::memcpy(&out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::success();
  }

  Status readString(std::string &out, const std::string &what) {
    uint64_t len = 0;
    if (Status s = read(len, what + " (string length)"); !s.ok())
      return s;
    if (len > remaining())
      return err(what + ": string length " + std::to_string(len) + " at offset " + std::to_string(pos_ - 8) +
                 " exceeds the " + std::to_string(remaining()) + " bytes left in the file");
    out.assign(reinterpret_cast<const char *>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return Status::success();
  }

  Status readValue(GGUFValue &v, const std::string &key);
  Status readTensorInfo(GGUFTensorInfo &t, uint64_t index);
  Status placeTensors();
};

Status GGUFParser::readValue(GGUFValue &v, const std::string &key) {
  std::string what = "metadata key '" + key + "'";
  uint32_t type = 0;
  if (Status s = read(type, what + " (value type)"); !s.ok())
    return s;
  v.type = static_cast<GGUFValueType>(type);
  if (type > static_cast<uint32_t>(GGUFValueType::Float64))
    return err(what + " has unknown value type " + std::to_string(type));

  GGUFValueType elem = v.type;
  uint64_t count = 1;
  if (v.type == GGUFValueType::Array) {
    uint32_t et = 0;
    if (Status s = read(et, what + " (array element type)"); !s.ok())
      return s;
    if (et > static_cast<uint32_t>(GGUFValueType::Float64))
      return err(what + ": array has unknown element type " + std::to_string(et));
    elem = v.elemType = static_cast<GGUFValueType>(et);
    // ggml itself refuses nested arrays; so do we (it also bounds recursion).
    if (elem == GGUFValueType::Array)
      return err(what + ": nested arrays are not supported");
    if (Status s = read(count, what + " (array length)"); !s.ok())
      return s;
    uint64_t minBytes = elem == GGUFValueType::String ? 8 : scalarSize(elem);
    if (count > remaining() / minBytes)
      return err(what + ": array of " + std::to_string(count) + " " + ggufValueTypeName(elem) +
                 " elements needs at least " + std::to_string(minBytes) + " bytes each, but only " +
                 std::to_string(remaining()) + " bytes are left in the file");
  }

  if (elem == GGUFValueType::String) {
    v.strings.resize(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
      std::string ew = v.isArray() ? what + " element " + std::to_string(i) : what;
      if (Status s = readString(v.strings[i], ew); !s.ok())
        return s;
    }
    return Status::success();
  }
  uint32_t sz = scalarSize(elem);
  // Check the bytes before allocating: raw keeps 8 bytes per element, so a
  // lying count would otherwise cost 8x the file's size in memory.
  if (count * sz > remaining()) // count * sz cannot overflow: capped above
    return truncated(what + " (" + ggufValueTypeName(elem) + " data)", count * sz);
  v.raw.resize(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t bits = 0;
    std::memcpy(&bits, data_ + pos_ + i * sz, sz);
    v.raw[i] = bits;
  }
  pos_ += count * sz;
  return Status::success();
}

Status GGUFParser::readTensorInfo(GGUFTensorInfo &t, uint64_t index) {
  std::string what = "tensor info #" + std::to_string(index);
  if (Status s = readString(t.name, what + " (name)"); !s.ok())
    return s;
  what = "tensor '" + t.name + "'";
  uint32_t nDims = 0;
  if (Status s = read(nDims, what + " (n_dims)"); !s.ok())
    return s;
  if (nDims == 0 || nDims > kMaxDims)
    return err(what + " has n_dims " + std::to_string(nDims) + " (must be 1.." + std::to_string(kMaxDims) + ")");
  t.dims.resize(nDims);
  uint64_t elements = 1;
  for (uint32_t d = 0; d < nDims; ++d) {
    if (Status s = read(t.dims[d], what + " (ne[" + std::to_string(d) + "])"); !s.ok())
      return s;
    if (t.dims[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        mulOverflow(elements, t.dims[d], elements) ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return err(what + ": element count overflows at ne[" + std::to_string(d) + "] = " +
                 std::to_string(t.dims[d]));
  }
  t.numElements = elements;
  if (Status s = read(t.type, what + " (type)"); !s.ok())
    return s;
  if (Status s = read(t.offset, what + " (offset)"); !s.ok())
    return s;

  GGMLTypeTraits tr = ggmlTypeTraits(t.type);
  if (tr.blockSize == 0) {
    if (std::strcmp(tr.name, "unknown") == 0)
      return err(what + " has unknown tensor type " + std::to_string(t.type));
    return err(what + " has type " + ggmlTypeDescription(t.type) + ", which was removed from ggml");
  }
  if (t.dims[0] % tr.blockSize != 0)
    return err(what + ": ne[0] = " + std::to_string(t.dims[0]) + " is not a multiple of the block size " +
               std::to_string(tr.blockSize) + " of type " + ggmlTypeDescription(t.type));
  // Bytes = (elements / blockSize) * typeSize; elements is a multiple of blockSize.
  if (mulOverflow(elements / tr.blockSize, tr.typeSize, t.numBytes))
    return err(what + ": byte size overflows");
  return Status::success();
}

// Computes the data section start and checks every tensor's range: aligned,
// inside the file, and not overlapping another tensor.
Status GGUFParser::placeTensors() {
  uint64_t a = f_.alignment_;
  uint64_t start;
  if (addOverflow(pos_, a - 1, start))
    return err("data section offset overflows");
  start = start / a * a;
  f_.dataOffset_ = start;
  std::vector<size_t> order;
  for (size_t i = 0; i < f_.tensors_.size(); ++i) {
    GGUFTensorInfo &t = f_.tensors_[i];
    std::string what = "tensor '" + t.name + "'";
    if (t.offset % a != 0)
      return err(what + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                 std::to_string(a));
    uint64_t begin, end;
    if (addOverflow(start, t.offset, begin) || addOverflow(begin, t.numBytes, end))
      return err(what + ": data offset " + std::to_string(t.offset) + " + size " + std::to_string(t.numBytes) +
                 " overflows");
    if (end > size_)
      return err(what + ": data range [" + std::to_string(begin) + ", " + std::to_string(end) +
                 ") lies past the end of the file (" + std::to_string(size_) + " bytes)");
    t.fileOffset = begin;
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return f_.tensors_[x].offset < f_.tensors_[y].offset; });
  // Sorted by offset, each non-empty tensor must start at or after the
  // furthest end seen so far (empty tensors occupy no bytes).
  const GGUFTensorInfo *furthest = nullptr;
  for (size_t k : order) {
    const GGUFTensorInfo &cur = f_.tensors_[k];
    if (cur.numBytes == 0)
      continue;
    if (furthest && cur.offset < furthest->offset + furthest->numBytes)
      return err("tensor '" + cur.name + "': data range [" + std::to_string(cur.offset) + ", " +
                 std::to_string(cur.offset + cur.numBytes) + ") overlaps tensor '" + furthest->name + "' [" +
                 std::to_string(furthest->offset) + ", " + std::to_string(furthest->offset + furthest->numBytes) +
                 ") (offsets relative to the data section)");
    if (!furthest || cur.offset + cur.numBytes > furthest->offset + furthest->numBytes)
      furthest = &cur;
  }
  return Status::success();
}

Status GGUFParser::parse() {
  uint32_t magic = 0, version = 0;
  if (Status s = read(magic, "magic"); !s.ok())
    return s;
  if (std::memcmp(data_, "GGUF", 4) != 0)
    return err("not a GGUF file (bad magic; expected 'GGUF')");
  if (Status s = read(version, "version"); !s.ok())
    return s;
  if (version == 1)
    return err("GGUF version 1 is not supported (its 32-bit counts were replaced in version 2; supported: 2, 3)");
  if (version != 2 && version != 3)
    return err("GGUF version " + std::to_string(version) + " is not supported (supported: 2, 3)");
  f_.version_ = version;

  uint64_t nTensors = 0, nKV = 0;
  if (Status s = read(nTensors, "tensor count"); !s.ok())
    return s;
  if (Status s = read(nKV, "metadata count"); !s.ok())
    return s;
  // Minimum encodings: a key/value is 8 (key length) + 4 (type) + 1 byte;
  // a tensor info is 8 (name length) + 4 + 8 (one dim) + 4 + 8.
  if (nKV > remaining() / 13)
    return err("header declares " + std::to_string(nKV) + " metadata key/value pairs, but only " +
               std::to_string(remaining()) + " bytes remain (each needs at least 13)");
  if (nTensors > remaining() / 32)
    return err("header declares " + std::to_string(nTensors) + " tensors, but only " +
               std::to_string(remaining()) + " bytes remain (each tensor info needs at least 32)");

  f_.metadata_.reserve(static_cast<size_t>(nKV));
  for (uint64_t i = 0; i < nKV; ++i) {
    std::string key;
    if (Status s = readString(key, "metadata key #" + std::to_string(i)); !s.ok())
      return s;
    GGUFValue v;
    if (Status s = readValue(v, key); !s.ok())
      return s;
    if (!f_.metadataIndex_.emplace(key, f_.metadata_.size()).second)
      return err("duplicate metadata key '" + key + "'");
    f_.metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const GGUFValue *al = f_.find("general.alignment")) {
    if (al->type != GGUFValueType::UInt32)
      return err("metadata key 'general.alignment' has type " + ggufValueTypeName(al->type) + ", expected uint32");
    uint64_t a = al->raw[0];
    if (a == 0 || (a & (a - 1)) != 0 || a > kMaxAlignment)
      return err("metadata key 'general.alignment' is " + std::to_string(a) +
                 ", expected a power of two no larger than " + std::to_string(kMaxAlignment));
    f_.alignment_ = a;
  }

  f_.tensors_.resize(static_cast<size_t>(nTensors));
  for (uint64_t i = 0; i < nTensors; ++i) {
    GGUFTensorInfo &t = f_.tensors_[i];
    if (Status s = readTensorInfo(t, i); !s.ok())
      return s;
    if (!f_.tensorIndex_.emplace(t.name, i).second)
      return err("duplicate tensor name '" + t.name + "'");
  }
  return placeTensors();
}

Expected<GGUFFile> GGUFFile::open(const std::string &path) {
  Expected<MappedFile> mf = MappedFile::open(path);
  if (!mf)
    return mf.status();
  GGUFFile f(mf.take());
  if (Status s = GGUFParser(f).parse(); !s.ok())
    return s;
  return f;
}

//===----------------------------------------------------------------------===//
// Metadata accessors
//===----------------------------------------------------------------------===//

const GGUFValue *GGUFFile::find(std::string_view key) const {
  auto it = metadataIndex_.find(std::string(key));
  return it == metadataIndex_.end() ? nullptr : &metadata_[it->second].second;
}

const GGUFTensorInfo *GGUFFile::findTensor(std::string_view name) const {
  auto it = tensorIndex_.find(std::string(name));
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

namespace {
bool isInteger(GGUFValueType t) {
  switch (t) {
  case GGUFValueType::UInt8: case GGUFValueType::Int8: case GGUFValueType::UInt16: case GGUFValueType::Int16:
  case GGUFValueType::UInt32: case GGUFValueType::Int32: case GGUFValueType::UInt64: case GGUFValueType::Int64:
    return true;
  default:
    return false;
  }
}
bool isSigned(GGUFValueType t) {
  return t == GGUFValueType::Int8 || t == GGUFValueType::Int16 || t == GGUFValueType::Int32 ||
         t == GGUFValueType::Int64;
}
// Sign-extends the raw bits of a signed integer of type t.
int64_t signedValue(GGUFValueType t, uint64_t bits) {
  switch (t) {
  case GGUFValueType::Int8: return static_cast<int8_t>(bits);
  case GGUFValueType::Int16: return static_cast<int16_t>(bits);
  case GGUFValueType::Int32: return static_cast<int32_t>(bits);
  default: return static_cast<int64_t>(bits);
  }
}
double floatValue(GGUFValueType t, uint64_t bits) {
  if (t == GGUFValueType::Float32) {
    float f;
    uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}
} // namespace

// Looks `key` up and checks it is a scalar (or an array when wantArray).
#define KVCC_GGUF_LOOKUP(V, KEY, WANT_ARRAY, EXPECTED)                                                   \
  const GGUFValue *V = find(KEY);                                                                        \
  if (!V)                                                                                                \
    return Status::error(path() + ": missing metadata key '" + std::string(KEY) + "'");                  \
  if (V->isArray() != (WANT_ARRAY))                                                                      \
    return Status::error(path() + ": metadata key '" + std::string(KEY) + "' has type " +                \
                         (V->isArray() ? "array of " + ggufValueTypeName(V->elemType)                    \
                                       : ggufValueTypeName(V->type)) +                                   \
                         ", expected " + (EXPECTED));                                                   \
  /* Strings keep no raw bits; the type checks below reject them. */                                   \
  const uint64_t V##Bits = V->raw.empty() ? 0 : V->raw[0];                                               \
  (void)V##Bits;

static Status convertInt(const std::string &path, std::string_view key, GGUFValueType t, uint64_t bits,
                         int64_t &out) {
  if (!isInteger(t))
    return Status::error(path + ": metadata key '" + std::string(key) + "' has type " + ggufValueTypeName(t) +
                         ", expected an integer");
  if (isSigned(t)) {
    out = signedValue(t, bits);
  } else {
    if (bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Status::error(path + ": metadata key '" + std::string(key) + "' value " + std::to_string(bits) +
                           " does not fit in int64");
    out = static_cast<int64_t>(bits);
  }
  return Status::success();
}

Expected<int64_t> GGUFFile::getInt(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, false, "an integer")
  int64_t out;
  if (Status s = convertInt(path(), key, v->type, vBits, out); !s.ok())
    return s;
  return out;
}

Expected<uint64_t> GGUFFile::getUInt(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, false, "an unsigned integer")
  if (!isInteger(v->type))
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type " +
                         ggufValueTypeName(v->type) + ", expected an unsigned integer");
  if (isSigned(v->type)) {
    int64_t s = signedValue(v->type, vBits);
    if (s < 0)
      return Status::error(path() + ": metadata key '" + std::string(key) + "' is negative (" +
                           std::to_string(s) + ")");
    return static_cast<uint64_t>(s);
  }
  return vBits;
}

Expected<double> GGUFFile::getFloat(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, false, "a float")
  if (v->type == GGUFValueType::Float32 || v->type == GGUFValueType::Float64)
    return floatValue(v->type, vBits);
  int64_t i;
  if (Status s = convertInt(path(), key, v->type, vBits, i); !s.ok())
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type " +
                         ggufValueTypeName(v->type) + ", expected a float");
  return static_cast<double>(i);
}

Expected<bool> GGUFFile::getBool(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, false, "bool")
  if (v->type != GGUFValueType::Bool)
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type " +
                         ggufValueTypeName(v->type) + ", expected bool");
  return vBits != 0;
}

Expected<std::string> GGUFFile::getString(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, false, "string")
  if (v->type != GGUFValueType::String)
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type " +
                         ggufValueTypeName(v->type) + ", expected string");
  return v->strings[0];
}

Expected<std::vector<std::string>> GGUFFile::getStringArray(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, true, "array of string")
  if (v->elemType != GGUFValueType::String)
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type array of " +
                         ggufValueTypeName(v->elemType) + ", expected array of string");
  return v->strings;
}

Expected<std::vector<int64_t>> GGUFFile::getIntArray(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, true, "array of integers")
  // An array of strings (or floats, or bools) has no integer values: say so
  // instead of returning an empty list.
  if (v->elemType == GGUFValueType::String || v->elemType == GGUFValueType::Bool ||
      v->elemType == GGUFValueType::Float32 || v->elemType == GGUFValueType::Float64)
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type array of " +
                         ggufValueTypeName(v->elemType) + ", expected array of integers");
  std::vector<int64_t> out(v->raw.size());
  for (size_t i = 0; i < v->raw.size(); ++i)
    if (Status s = convertInt(path(), key, v->elemType, v->raw[i], out[i]); !s.ok())
      return Status::error(s.message() + " (array element " + std::to_string(i) + ")");
  return out;
}

Expected<std::vector<double>> GGUFFile::getFloatArray(std::string_view key) const {
  KVCC_GGUF_LOOKUP(v, key, true, "array of floats")
  if (v->elemType != GGUFValueType::Float32 && v->elemType != GGUFValueType::Float64)
    return Status::error(path() + ": metadata key '" + std::string(key) + "' has type array of " +
                         ggufValueTypeName(v->elemType) + ", expected array of floats");
  std::vector<double> out(v->raw.size());
  for (size_t i = 0; i < v->raw.size(); ++i)
    out[i] = floatValue(v->elemType, v->raw[i]);
  return out;
}
#undef KVCC_GGUF_LOOKUP

//===----------------------------------------------------------------------===//
// Dequantization (ggml's reference dequantize_row_* semantics)
//===----------------------------------------------------------------------===//

static uint16_t load16(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

Status dequantizeRow(uint32_t type, const uint8_t *src, float *dst, uint64_t n) {
  GGMLTypeTraits tr = ggmlTypeTraits(type);
  if (!isDequantizable(type))
    return Status::error("type " + ggmlTypeDescription(type) +
                         " is not dequantized by kvcc (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)");
  if (n % tr.blockSize != 0)
    return Status::error("element count " + std::to_string(n) + " is not a multiple of the block size " +
                         std::to_string(tr.blockSize) + " of " + ggmlTypeDescription(type));
  uint64_t blocks = n / tr.blockSize;
  switch (static_cast<GGMLType>(type)) {
  case GGMLType::F32:
    if (n) // memcpy may not be given the null data() of an empty vector
      std::memcpy(dst, src, n * 4);
    break;
  case GGMLType::F16:
    for (uint64_t i = 0; i < n; ++i)
      dst[i] = halfToFloat(load16(src + 2 * i));
    break;
  case GGMLType::BF16:
    for (uint64_t i = 0; i < n; ++i)
      dst[i] = bfloat16ToFloat(load16(src + 2 * i));
    break;
  case GGMLType::Q8_0: // {f16 d; int8 qs[32]}: x = q * d
    for (uint64_t b = 0; b < blocks; ++b, src += 34, dst += 32) {
      float d = halfToFloat(load16(src));
      for (int j = 0; j < 32; ++j)
        dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
    }
    break;
  case GGMLType::Q4_0: // {f16 d; u8 qs[16]}: low nibbles -> 0..15, high -> 16..31
    for (uint64_t b = 0; b < blocks; ++b, src += 18, dst += 32) {
      float d = halfToFloat(load16(src));
      for (int j = 0; j < 16; ++j) {
        dst[j] = static_cast<float>((src[2 + j] & 0x0F) - 8) * d;
        dst[j + 16] = static_cast<float>((src[2 + j] >> 4) - 8) * d;
      }
    }
    break;
  case GGMLType::Q4_1: // {f16 d; f16 m; u8 qs[16]}: x = q * d + m
    for (uint64_t b = 0; b < blocks; ++b, src += 20, dst += 32) {
      float d = halfToFloat(load16(src)), m = halfToFloat(load16(src + 2));
      for (int j = 0; j < 16; ++j) {
        dst[j] = static_cast<float>(src[4 + j] & 0x0F) * d + m;
        dst[j + 16] = static_cast<float>(src[4 + j] >> 4) * d + m;
      }
    }
    break;
  default:
    break;
  }
  return Status::success();
}

Status GGUFFile::dequantize(const GGUFTensorInfo &info, float *dst, size_t count) const {
  std::string what = path() + ": tensor '" + info.name + "'";
  if (!isDequantizable(info.type))
    return Status::error(what + " has type " + ggmlTypeDescription(info.type) +
                         ", which kvcc does not dequantize (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)");
  if (count != info.numElements)
    return Status::error(what + " has " + std::to_string(info.numElements) + " elements, but the destination holds " +
                         std::to_string(count));
  if (Status s = dequantizeRow(info.type, tensorData(info), dst, info.numElements); !s.ok())
    return Status::error(what + ": " + s.message());
  return Status::success();
}

} // namespace kvcc
