//===- TestFiles.h - Writers for GGUF / safetensors test inputs -*- C++ -*-===//
//
// Tests build their inputs byte by byte (no checked-in binaries), so every
// field can be corrupted on purpose.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_UNIT_FRONTEND_TESTFILES_H
#define KVCC_TEST_UNIT_FRONTEND_TESTFILES_H

#include "kvcc/Support/Json.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kvcc::test {

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/kvcc-test-XXXXXX");
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline bool writeFile(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

template <typename T> void put(std::string &out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
inline void putString(std::string &out, const std::string &s) {
  put<uint64_t>(out, s.size());
  out += s;
}
template <typename T> std::string bytesOf(const std::vector<T> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}

/// Builds a GGUF file. Values are given as (type, raw payload) so tests can
/// write anything, including corrupt payloads.
struct GGUFBuilder {
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims; // ne[0] first
    uint32_t type = 0;
    std::string data;
    std::optional<uint64_t> offset; // default: next aligned offset
  };
  uint32_t version = 3;
  uint64_t alignment = 32; // only for placing data; add general.alignment yourself
  std::optional<uint64_t> nKVOverride, nTensorsOverride;
  std::vector<std::pair<std::string, std::string>> kvs; // key, type + payload
  std::vector<Tensor> tensors;

  void addRaw(const std::string &key, uint32_t type, const std::string &payload) {
    std::string v;
    put<uint32_t>(v, type);
    kvs.emplace_back(key, v + payload);
  }
  template <typename T> void addScalar(const std::string &key, uint32_t type, T value) {
    std::string p;
    put<T>(p, value);
    addRaw(key, type, p);
  }
  void addU32(const std::string &key, uint32_t v) { addScalar<uint32_t>(key, 4, v); }
  void addF32(const std::string &key, float v) { addScalar<float>(key, 6, v); }
  void addString(const std::string &key, const std::string &s) {
    std::string p;
    putString(p, s);
    addRaw(key, 8, p);
  }
  void addStringArray(const std::string &key, const std::vector<std::string> &items) {
    std::string p;
    put<uint32_t>(p, 8);
    put<uint64_t>(p, items.size());
    for (const std::string &s : items)
      putString(p, s);
    addRaw(key, 9, p);
  }
  template <typename T> void addArray(const std::string &key, uint32_t elemType, const std::vector<T> &items) {
    std::string p;
    put<uint32_t>(p, elemType);
    put<uint64_t>(p, items.size());
    p += bytesOf(items);
    addRaw(key, 9, p);
  }
  void addTensor(const std::string &name, std::vector<uint64_t> dims, uint32_t type, std::string data) {
    tensors.push_back({name, std::move(dims), type, std::move(data), std::nullopt});
  }

  std::string build() const {
    std::string out = "GGUF";
    put<uint32_t>(out, version);
    put<uint64_t>(out, nTensorsOverride.value_or(tensors.size()));
    put<uint64_t>(out, nKVOverride.value_or(kvs.size()));
    for (const auto &[key, value] : kvs) {
      putString(out, key);
      out += value;
    }
    std::vector<uint64_t> offsets;
    uint64_t next = 0;
    for (const Tensor &t : tensors) {
      uint64_t off = t.offset.value_or((next + alignment - 1) / alignment * alignment);
      offsets.push_back(off);
      next = std::max<uint64_t>(next, off + t.data.size());
      putString(out, t.name);
      put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims)
        put<uint64_t>(out, d);
      put<uint32_t>(out, t.type);
      put<uint64_t>(out, off);
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    std::string data;
    for (size_t i = 0; i < tensors.size(); ++i) {
      // Offsets far past everything (out-of-range tests) are not materialised.
      if (offsets[i] > (1u << 20))
        continue;
      if (data.size() < offsets[i] + tensors[i].data.size())
        data.resize(offsets[i] + tensors[i].data.size(), '\0');
      std::memcpy(&data[offsets[i]], tensors[i].data.data(), tensors[i].data.size());
    }
    return out + data;
  }
};

/// One safetensors tensor: dtype name, shape and raw little-endian bytes.
struct STTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string data;
};

/// A well-formed safetensors file holding `tensors` back to back.
inline std::string buildSafeTensors(const std::vector<STTensor> &tensors) {
  std::vector<std::pair<std::string, json::Value>> header;
  header.emplace_back("__metadata__", json::Value::object({{"format", json::Value::string("pt")}}));
  std::string data;
  for (const STTensor &t : tensors) {
    std::vector<json::Value> shape;
    for (int64_t d : t.shape)
      shape.push_back(json::Value::number(static_cast<double>(d)));
    header.emplace_back(
        t.name, json::Value::object({{"dtype", json::Value::string(t.dtype)},
                                     {"shape", json::Value::array(shape)},
                                     {"data_offsets", json::Value::array({json::Value::number(double(data.size())),
                                                                          json::Value::number(double(
                                                                              data.size() + t.data.size()))})}}));
    data += t.data;
  }
  std::string text = json::write(json::Value::object(std::move(header)), 0);
  while (text.size() % 8)
    text += ' '; // the reference writer pads the header with spaces
  std::string out;
  put<uint64_t>(out, text.size());
  return out + text + data;
}

/// Deterministic, distinct-per-element float data.
inline std::vector<float> ramp(size_t n, float scale = 0.01f, float bias = 0.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = bias + scale * static_cast<float>((i * 7919) % 1000) - 5.0f * scale;
  return v;
}

} // namespace kvcc::test

#endif // KVCC_TEST_UNIT_FRONTEND_TESTFILES_H
