//===- SafeTensors.cpp - safetensors checkpoint reader --------------------===//
//
// Hostile-input rules: the header length is checked against the file and
// capped, the header must be a JSON object of well-formed entries, every
// tensor's [begin, end) must lie in the byte buffer and match shape x dtype
// size exactly, and no two tensors may overlap (an overlap would let one
// tensor's bytes masquerade as another's).
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/SafeTensors.h"

#include "kvcc/Frontend/GGUF.h" // halfToFloat, bfloat16ToFloat
#include "kvcc/Support/Json.h"

#include <algorithm>
#include <cstring>

namespace kvcc {

namespace {
// The reference implementation caps headers at 100 MB; so do we.
constexpr uint64_t kMaxHeaderSize = 100u << 20;
constexpr size_t kMaxRank = 8;

struct DTypeEntry {
  const char *name;
  SafeTensorsDType dtype;
  uint32_t size;
};
const DTypeEntry kDTypes[] = {
    {"BOOL", SafeTensorsDType::BOOL, 1},       {"U8", SafeTensorsDType::U8, 1},
    {"I8", SafeTensorsDType::I8, 1},           {"F8_E5M2", SafeTensorsDType::F8_E5M2, 1},
    {"F8_E4M3", SafeTensorsDType::F8_E4M3, 1}, {"I16", SafeTensorsDType::I16, 2},
    {"U16", SafeTensorsDType::U16, 2},         {"F16", SafeTensorsDType::F16, 2},
    {"BF16", SafeTensorsDType::BF16, 2},       {"I32", SafeTensorsDType::I32, 4},
    {"U32", SafeTensorsDType::U32, 4},         {"F32", SafeTensorsDType::F32, 4},
    {"F64", SafeTensorsDType::F64, 8},         {"I64", SafeTensorsDType::I64, 8},
    {"U64", SafeTensorsDType::U64, 8},
};

bool mulOverflow(uint64_t a, uint64_t b, uint64_t &r) { return __builtin_mul_overflow(a, b, &r); }
} // namespace

const char *safeTensorsDTypeName(SafeTensorsDType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.name;
  return "?";
}

uint32_t safeTensorsDTypeSize(SafeTensorsDType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.size;
  return 0;
}

bool isFloatConvertible(SafeTensorsDType dtype) {
  return dtype == SafeTensorsDType::F32 || dtype == SafeTensorsDType::F16 || dtype == SafeTensorsDType::BF16;
}

//===----------------------------------------------------------------------===//
// SafeTensorsFile
//===----------------------------------------------------------------------===//

Expected<SafeTensorsFile> SafeTensorsFile::open(const std::string &path) {
  Expected<MappedFile> mf = MappedFile::open(path);
  if (!mf)
    return mf.status();
  SafeTensorsFile f(mf.take());
  if (Status s = f.parseHeader(); !s.ok())
    return s;
  return f;
}

Status SafeTensorsFile::parseHeader() {
  auto err = [&](const std::string &msg) { return Status::error(path() + ": " + msg); };
  uint64_t size = file_.size();
  if (size < 8)
    return err("file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  uint64_t headerLen;
  std::memcpy(&headerLen, file_.data(), 8);
  if (headerLen > size - 8)
    return err("header length " + std::to_string(headerLen) + " exceeds the " + std::to_string(size - 8) +
               " bytes after the length field");
  if (headerLen > kMaxHeaderSize)
    return err("header length " + std::to_string(headerLen) + " exceeds the limit of " +
               std::to_string(kMaxHeaderSize) + " bytes");
  std::string_view text(reinterpret_cast<const char *>(file_.data() + 8), static_cast<size_t>(headerLen));
  Expected<json::Value> header = json::parse(text, path() + " (header)");
  if (!header)
    return header.status();
  if (!header->isObject())
    return err("header is a JSON " + std::string(json::kindName(header->kind())) + ", expected an object");

  uint64_t bufferStart = 8 + headerLen, bufferSize = size - bufferStart;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (const auto &[name, entry] : header->asObject()) {
    if (name == "__metadata__")
      continue; // free-form string map; nothing kvcc needs
    std::string what = "tensor '" + name + "'";
    if (!entry.isObject())
      return err(what + " is a JSON " + json::kindName(entry.kind()) + ", expected an object");
    Expected<std::string> dtypeName = entry.getString("dtype");
    if (!dtypeName)
      return err(what + ": " + dtypeName.message());
    const DTypeEntry *dt = nullptr;
    for (const DTypeEntry &e : kDTypes)
      if (*dtypeName == e.name)
        dt = &e;
    if (!dt)
      return err(what + " has unknown dtype '" + *dtypeName + "'");

    SafeTensorsTensorInfo info;
    info.name = name;
    info.dtype = dt->dtype;
    const json::Value *shape = entry.get("shape");
    if (!shape || !shape->isArray())
      return err(what + ": 'shape' is missing or not an array");
    if (shape->asArray().size() > kMaxRank)
      return err(what + ": rank " + std::to_string(shape->asArray().size()) + " exceeds " +
                 std::to_string(kMaxRank));
    uint64_t elements = 1;
    for (const json::Value &d : shape->asArray()) {
      Expected<int64_t> dim = json::toInt(d, "shape dimension");
      if (!dim)
        return err(what + ": " + dim.message());
      if (*dim < 0)
        return err(what + ": negative shape dimension " + std::to_string(*dim));
      if (mulOverflow(elements, static_cast<uint64_t>(*dim), elements))
        return err(what + ": element count overflows");
      info.shape.push_back(*dim);
    }
    info.numElements = elements;
    if (mulOverflow(elements, dt->size, info.numBytes))
      return err(what + ": byte size overflows");

    const json::Value *offsets = entry.get("data_offsets");
    if (!offsets || !offsets->isArray() || offsets->asArray().size() != 2)
      return err(what + ": 'data_offsets' must be an array of two integers");
    Expected<int64_t> begin = json::toInt(offsets->asArray()[0], "data_offsets[0]");
    Expected<int64_t> end = json::toInt(offsets->asArray()[1], "data_offsets[1]");
    if (!begin || !end)
      return err(what + ": " + (!begin ? begin.message() : end.message()));
    if (*begin < 0 || *end < *begin)
      return err(what + ": data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) +
                 ") is not a valid range");
    if (static_cast<uint64_t>(*end) > bufferSize)
      return err(what + ": data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) +
                 ") lies past the end of the data buffer (" + std::to_string(bufferSize) + " bytes)");
    uint64_t span = static_cast<uint64_t>(*end - *begin);
    if (span != info.numBytes)
      return err(what + ": data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) + ") span " +
                 std::to_string(span) + " bytes, but shape x " + dt->name + " needs " +
                 std::to_string(info.numBytes));
    info.fileOffset = bufferStart + static_cast<uint64_t>(*begin);
    ranges.push_back({static_cast<uint64_t>(*begin), static_cast<uint64_t>(*end), tensors_.size()});
    index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  // Sorted by begin, each non-empty range must start at or after the furthest
  // end seen so far (empty tensors occupy no bytes and never collide).
  std::sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) { return a.begin < b.begin; });
  const Range *furthest = nullptr;
  for (const Range &cur : ranges) {
    if (cur.begin == cur.end)
      continue;
    if (furthest && cur.begin < furthest->end)
      return err("tensor '" + tensors_[cur.index].name + "': data_offsets [" + std::to_string(cur.begin) + ", " +
                 std::to_string(cur.end) + ") overlap tensor '" + tensors_[furthest->index].name + "' [" +
                 std::to_string(furthest->begin) + ", " + std::to_string(furthest->end) + ")");
    if (!furthest || cur.end > furthest->end)
      furthest = &cur;
  }
  return Status::success();
}

const SafeTensorsTensorInfo *SafeTensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status SafeTensorsFile::readFloat(const SafeTensorsTensorInfo &info, float *dst, size_t count) const {
  std::string what = path() + ": tensor '" + info.name + "'";
  if (!isFloatConvertible(info.dtype))
    return Status::error(what + " has dtype " + safeTensorsDTypeName(info.dtype) +
                         ", which kvcc does not read (supported: F32, F16, BF16)");
  if (count != info.numElements)
    return Status::error(what + " has " + std::to_string(info.numElements) +
                         " elements, but the destination holds " + std::to_string(count));
  const uint8_t *src = tensorData(info);
  if (info.dtype == SafeTensorsDType::F32) {
    if (count) // memcpy may not be given the null data() of an empty vector
      std::memcpy(dst, src, count * 4);
    return Status::success();
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t v;
    std::memcpy(&v, src + 2 * i, 2);
    dst[i] = info.dtype == SafeTensorsDType::F16 ? halfToFloat(v) : bfloat16ToFloat(v);
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// SafeTensorsCheckpoint
//===----------------------------------------------------------------------===//

static std::string dirName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

Expected<SafeTensorsCheckpoint> SafeTensorsCheckpoint::open(const std::string &path) {
  SafeTensorsCheckpoint ckpt;
  bool isIndex = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (!isIndex) {
    Expected<SafeTensorsFile> f = SafeTensorsFile::open(path);
    if (!f)
      return f.status();
    ckpt.files_.push_back(std::make_unique<SafeTensorsFile>(f.take()));
    for (const SafeTensorsTensorInfo &t : ckpt.files_[0]->tensors())
      ckpt.entries_[t.name] = {ckpt.files_[0].get(), &t};
    return ckpt;
  }

  Expected<json::Value> index = json::parseFile(path);
  if (!index)
    return index.status();
  const json::Value *weightMap = index->get("weight_map");
  if (!weightMap || !weightMap->isObject())
    return Status::error(path + ": 'weight_map' is missing or not an object");

  std::unordered_map<std::string, SafeTensorsFile *> shards;
  std::string dir = dirName(path);
  for (const auto &[name, shardValue] : weightMap->asObject()) {
    if (!shardValue.isString())
      return Status::error(path + ": weight_map entry for '" + name + "' is not a string");
    const std::string &shard = shardValue.asString();
    // Shards must sit next to the index: refuse paths that would escape it.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
      return Status::error(path + ": weight_map entry for '" + name + "' names shard '" + shard +
                           "', which is not a plain file name");
    auto it = shards.find(shard);
    if (it == shards.end()) {
      Expected<SafeTensorsFile> f = SafeTensorsFile::open(dir + "/" + shard);
      if (!f)
        return f.status();
      ckpt.files_.push_back(std::make_unique<SafeTensorsFile>(f.take()));
      it = shards.emplace(shard, ckpt.files_.back().get()).first;
    }
    const SafeTensorsTensorInfo *info = it->second->find(name);
    if (!info)
      return Status::error(path + ": weight_map places tensor '" + name + "' in shard '" + shard +
                           "', which does not contain it");
    ckpt.entries_[name] = {it->second, info};
  }
  return ckpt;
}

SafeTensorsCheckpoint::Entry SafeTensorsCheckpoint::find(std::string_view name) const {
  auto it = entries_.find(std::string(name));
  return it == entries_.end() ? Entry{} : it->second;
}

std::vector<std::string> SafeTensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto &e : entries_)
    out.push_back(e.first);
  std::sort(out.begin(), out.end());
  return out;
}

Status SafeTensorsCheckpoint::readFloat(std::string_view name, float *dst, size_t count) const {
  Entry e = find(name);
  if (!e.file)
    return Status::error("checkpoint has no tensor '" + std::string(name) + "'");
  return e.file->readFloat(*e.info, dst, count);
}

} // namespace kvcc
