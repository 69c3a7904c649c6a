//===- Npy.cpp - NumPy .npy arrays in and out -----------------------------===//
//
// Format (numpy.lib.format): "\x93NUMPY", major and minor version bytes, the
// header length (2 bytes little-endian in version 1, 4 in versions 2 and 3),
// then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape':
// (...)} padded with spaces to a 64-byte boundary and ending in '\n'.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Support/Npy.h"

#include "kvcc/Support/File.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

using namespace kvcc;

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

/// The dtypes read and written: little-endian (or byte-order-free) fixed-size
/// scalars, by their numpy strings.
size_t dtypeSize(const std::string &d) {
  static const std::map<std::string, size_t> sizes = {
      {"<f2", 2}, {"<f4", 4}, {"<f8", 8}, {"<i2", 2}, {"<i4", 4}, {"<i8", 8},
      {"<u2", 2}, {"<u4", 4}, {"<u8", 8}, {"|i1", 1}, {"|u1", 1}, {"|b1", 1}};
  auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}

/// A cursor over the header's dict literal.
struct HeaderParser {
  const std::string &text;
  size_t pos = 0;

  void skipSpace() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool quoted(std::string &out) {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      return false;
    char q = text[pos++];
    size_t end = text.find(q, pos);
    if (end == std::string::npos)
      return false;
    out = text.substr(pos, end - pos);
    pos = end + 1;
    return true;
  }
  bool word(std::string &out) {
    skipSpace();
    size_t start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos])))
      ++pos;
    out = text.substr(start, pos - start);
    return !out.empty();
  }
  bool integer(int64_t &out) {
    skipSpace();
    size_t start = pos;
    uint64_t v = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      unsigned digit = text[pos] - '0';
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10)
        return false;
      v = v * 10 + digit;
      ++pos;
    }
    // numpy writes "3L" on Python 2.
    if (pos < text.size() && text[pos] == 'L')
      ++pos;
    out = static_cast<int64_t>(v);
    return pos > start;
  }
};

Status parseHeader(const std::string &path, const std::string &header, NpyArray &array) {
  auto bad = [&](const std::string &what) {
    return Status::error(path + ": malformed .npy header (" + what + "): " + header);
  };
  HeaderParser p{header};
  if (!p.consume('{'))
    return bad("expected '{'");
  bool haveDescr = false, haveOrder = false, haveShape = false;
  while (!p.consume('}')) {
    std::string key;
    if (!p.quoted(key) || !p.consume(':'))
      return bad("expected 'key':");
    if (key == "descr") {
      if (!p.quoted(array.dtype))
        return bad("descr is not a string");
      haveDescr = true;
    } else if (key == "fortran_order") {
      std::string value;
      if (!p.word(value) || (value != "False" && value != "True"))
        return bad("fortran_order is not True or False");
      if (value == "True")
        return Status::error(path + ": fortran_order arrays are not supported (write it "
                                    "with numpy.ascontiguousarray)");
      haveOrder = true;
    } else if (key == "shape") {
      if (!p.consume('('))
        return bad("shape is not a tuple");
      array.shape.clear();
      while (!p.consume(')')) {
        int64_t dim = 0;
        if (!p.integer(dim))
          return bad("shape holds a non-integer or an out-of-range dimension");
        array.shape.push_back(dim);
        if (!p.consume(',') && !(p.skipSpace(), p.pos < header.size() && header[p.pos] == ')'))
          return bad("expected ',' or ')' in shape");
      }
      haveShape = true;
    } else {
      return bad("unknown key '" + key + "'");
    }
    if (!p.consume(',')) {
      if (!p.consume('}'))
        return bad("expected ',' or '}'");
      break;
    }
  }
  if (!haveDescr || !haveOrder || !haveShape)
    return bad("needs descr, fortran_order and shape");
  if (dtypeSize(array.dtype) == 0)
    return Status::error(path + ": dtype '" + array.dtype +
                         "' is not supported (little-endian f2/f4/f8, i1/i2/i4/i8, "
                         "u1/u2/u4/u8, b1)");
  return Status::success();
}

} // namespace

size_t NpyArray::itemSize() const { return dtypeSize(dtype); }

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Expected<NpyArray> kvcc::readNpy(const std::string &path) {
  Expected<std::string> file = readFile(path);
  if (!file)
    return file.status();
  const std::string &bytes = *file;
  if (bytes.size() < kMagicLen + 4 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    return Status::error(path + ": not a .npy file (bad magic; expected '\\x93NUMPY')");
  unsigned major = static_cast<unsigned char>(bytes[kMagicLen]);
  size_t headerLen = 0, headerStart = 0;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return Status::error(path + ": truncated .npy header");
    for (int i = 3; i >= 0; --i)
      headerLen = headerLen << 8 | static_cast<unsigned char>(bytes[8 + i]);
    headerStart = 12;
  } else {
    return Status::error(path + ": .npy format version " + std::to_string(major) +
                         " is not supported (1, 2 or 3)");
  }
  if (headerLen > bytes.size() - headerStart)
    return Status::error(path + ": .npy header of " + std::to_string(headerLen) +
                         " bytes runs past the end of the file");
  NpyArray array;
  std::string header = bytes.substr(headerStart, headerLen);
  if (Status s = parseHeader(path, header, array); !s.ok())
    return s;
  // The data's size, checked for overflow dimension by dimension.
  uint64_t count = 1;
  for (int64_t d : array.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / uint64_t(d))
      return Status::error(path + ": shape is too large");
    count *= uint64_t(d);
  }
  uint64_t dataBytes = count * array.itemSize();
  size_t dataStart = headerStart + headerLen;
  if (dataBytes != bytes.size() - dataStart)
    return Status::error(path + ": shape and dtype '" + array.dtype + "' need " +
                         std::to_string(dataBytes) + " data bytes, the file has " +
                         std::to_string(bytes.size() - dataStart));
  array.data.assign(bytes.begin() + dataStart, bytes.end());
  return array;
}

Status kvcc::writeNpy(const std::string &path, const NpyArray &array) {
  if (array.itemSize() == 0)
    return Status::error(path + ": dtype '" + array.dtype + "' is not supported");
  if (uint64_t(array.numElements()) * array.itemSize() != array.data.size())
    return Status::error(path + ": array data does not match its shape");
  std::string header = "{'descr': '" + array.dtype + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i)
    header += (i ? ", " : "") + std::to_string(array.shape[i]);
  header += array.shape.size() == 1 ? ",)" : ")"; // a 1-tuple is "(3,)"
  header += ", }";
  size_t total = kMagicLen + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff)
    return Status::error(path + ": .npy header too long");

  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return Status::error(tmp + ": cannot open for writing: " + std::strerror(errno));
  unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<unsigned char>(header.size() & 0xff),
                              static_cast<unsigned char>(header.size() >> 8)};
  bool ok = std::fwrite(prefix, 1, sizeof(prefix), f) == sizeof(prefix) &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(array.data.data(), 1, array.data.size(), f) == array.data.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::error(path + ": write failed: " + std::strerror(errno));
  }
  return Status::success();
}
