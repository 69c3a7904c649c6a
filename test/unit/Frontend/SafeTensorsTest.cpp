//===- SafeTensorsTest.cpp - Tests for the safetensors reader -------------===//
#include "kvcc/Frontend/SafeTensors.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace kvcc;
using namespace kvcc::test;

namespace {

#define EXPECT_HAS(haystack, needle)                                                                         \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

std::vector<STTensor> sampleTensors() {
  return {
      {"a.f32", "F32", {2, 3}, bytesOf(std::vector<float>{1, -2, 3.5f, 4, 5, 6})},
      {"b.f16", "F16", {4}, bytesOf(std::vector<uint16_t>{0x3C00, 0xC000, 0x0001, 0x7C00})},
      {"c.bf16", "BF16", {2}, bytesOf(std::vector<uint16_t>{0x3F80, 0xC0A0})},
      {"d.i64", "I64", {1}, bytesOf(std::vector<int64_t>{7})},
      {"e.empty", "F32", {0, 5}, ""},
  };
}

Expected<SafeTensorsFile> openBytes(const TempDir &dir, const std::string &bytes) {
  std::string path = dir.file("model.safetensors");
  EXPECT_TRUE(writeFile(path, bytes));
  return SafeTensorsFile::open(path);
}

// A file whose header is exactly `header` followed by `data`.
std::string rawFile(const std::string &header, const std::string &data, std::optional<uint64_t> len = {}) {
  std::string out;
  put<uint64_t>(out, len.value_or(header.size()));
  return out + header + data;
}

std::string openError(const std::string &bytes) {
  TempDir dir;
  Expected<SafeTensorsFile> f = openBytes(dir, bytes);
  EXPECT_FALSE(f.ok()) << "opened a corrupt file";
  return f.ok() ? std::string() : f.message();
}

TEST(SafeTensors, ReadsFloatDtypes) {
  TempDir dir;
  Expected<SafeTensorsFile> f = openBytes(dir, buildSafeTensors(sampleTensors()));
  ASSERT_TRUE(f.ok()) << f.message();
  ASSERT_EQ(f->tensors().size(), 5u); // __metadata__ is not a tensor
  EXPECT_EQ(f->tensors()[0].name, "a.f32");
  const SafeTensorsTensorInfo *a = f->find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->numBytes, 24u);
  std::vector<float> out(6);
  ASSERT_TRUE(f->readFloat(*a, out.data(), 6).ok());
  EXPECT_EQ(out, (std::vector<float>{1, -2, 3.5f, 4, 5, 6}));
  std::vector<float> h(4);
  ASSERT_TRUE(f->readFloat(*f->find("b.f16"), h.data(), 4).ok());
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(h[3]));
  std::vector<float> bf(2);
  ASSERT_TRUE(f->readFloat(*f->find("c.bf16"), bf.data(), 2).ok());
  EXPECT_EQ(bf, (std::vector<float>{1.0f, -5.0f}));
  EXPECT_EQ(f->find("e.empty")->numElements, 0u);

  EXPECT_HAS(f->readFloat(*f->find("d.i64"), out.data(), 1).message(),
             "tensor 'd.i64' has dtype I64, which kvcc does not read (supported: F32, F16, BF16)");
  EXPECT_HAS(f->readFloat(*a, out.data(), 5).message(), "has 6 elements, but the destination holds 5");
}

TEST(SafeTensors, BadHeaders) {
  EXPECT_HAS(openError("abc"), "too short for the 8-byte header length");
  EXPECT_HAS(openError(rawFile("{}", "", 1ull << 62)), "header length 4611686018427387904 exceeds the 2 bytes");
  std::string notJson = openError(rawFile("{\"a\": nope}", ""));
  EXPECT_HAS(notJson, "model.safetensors (header):1:7:");
  EXPECT_HAS(openError(rawFile("[1, 2]", "")), "header is a JSON array, expected an object");
  EXPECT_HAS(openError(rawFile(R"({"t": 3})", "")), "tensor 't' is a JSON number, expected an object");
  EXPECT_HAS(openError(rawFile(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", std::string(4, '\0'))),
             "tensor 't': missing member 'dtype'");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}})", std::string(4, '\0'))),
             "tensor 't' has unknown dtype 'Q7'");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", std::string(4, '\0'))),
             "negative shape dimension -1");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", std::string(4, '\0'))),
             "shape dimension is 1.5");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", std::string(4, '\0'))),
             "'shape' is missing or not an array");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", std::string(4, '\0'))),
             "'data_offsets' must be an array of two integers");
}

TEST(SafeTensors, OffsetsAreValidated) {
  std::string data(24, '\0');
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", data)),
             "tensor 't': data_offsets [0, 20) span 20 bytes, but shape x F32 needs 24");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [8, 32]}})", data)),
             "tensor 't': data_offsets [8, 32) lies past the end of the data buffer (24 bytes)");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", data)),
             "data_offsets [8, 4) is not a valid range");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                  "u": {"dtype": "F16", "shape": [4], "data_offsets": [12, 20]}})",
                               data)),
             "tensor 'u': data_offsets [12, 20) overlap tensor 't' [0, 16)");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [2147483648, 2147483648], "data_offsets": [0, 16]}})",
                               data)),
             "byte size overflows");
  EXPECT_HAS(openError(rawFile(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e300]}})", data)),
             "data_offsets[1] is 1");
}

TEST(SafeTensors, TruncationAtEveryByteFails) {
  std::string bytes = buildSafeTensors(sampleTensors());
  TempDir dir;
  ASSERT_TRUE(openBytes(dir, bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(openBytes(dir, bytes.substr(0, n)).ok()) << "prefix of " << n << " bytes opened";
}

TEST(SafeTensors, CorruptingAnyByteNeverCrashes) {
  std::string bytes = buildSafeTensors(sampleTensors());
  TempDir dir;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x22, 0x39, 0x7F, 0xFF}) {
      std::string b = bytes;
      b[i] = static_cast<char>(v);
      Expected<SafeTensorsFile> f = openBytes(dir, b);
      if (!f.ok())
        continue;
      for (const SafeTensorsTensorInfo &t : f->tensors()) {
        if (t.numElements > (1u << 20))
          continue;
        std::vector<float> out(t.numElements);
        (void)f->readFloat(t, out.data(), out.size());
      }
    }
  }
}

TEST(SafeTensors, ShardedCheckpoint) {
  TempDir dir;
  ASSERT_TRUE(writeFile(dir.file("s1.safetensors"),
                        buildSafeTensors({{"x", "F32", {2}, bytesOf(std::vector<float>{1, 2})}})));
  ASSERT_TRUE(writeFile(dir.file("s2.safetensors"),
                        buildSafeTensors({{"y", "BF16", {1}, bytesOf(std::vector<uint16_t>{0x4000})},
                                          {"z", "F32", {1}, bytesOf(std::vector<float>{9})}})));
  ASSERT_TRUE(writeFile(dir.file("model.safetensors.index.json"),
                        R"({"metadata": {"total_size": 14}, "weight_map": {"x": "s1.safetensors",
                            "y": "s2.safetensors", "z": "s2.safetensors"}})"));
  Expected<SafeTensorsCheckpoint> c = SafeTensorsCheckpoint::open(dir.file("model.safetensors.index.json"));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->files().size(), 2u);
  EXPECT_EQ(c->names(), (std::vector<std::string>{"x", "y", "z"}));
  float y = 0;
  ASSERT_TRUE(c->readFloat("y", &y, 1).ok());
  EXPECT_EQ(y, 2.0f);
  EXPECT_EQ(c->find("nope").file, nullptr);
  EXPECT_HAS(c->readFloat("nope", &y, 1).message(), "no tensor 'nope'");

  // Moving the checkpoint keeps entries valid.
  SafeTensorsCheckpoint moved = c.take();
  float x[2];
  ASSERT_TRUE(moved.readFloat("x", x, 2).ok());
  EXPECT_EQ(x[1], 2.0f);

  ASSERT_TRUE(writeFile(dir.file("bad1.json"), R"({"weight_map": {"x": "s2.safetensors"}})"));
  EXPECT_HAS(SafeTensorsCheckpoint::open(dir.file("bad1.json")).message(),
             "weight_map places tensor 'x' in shard 's2.safetensors', which does not contain it");
  ASSERT_TRUE(writeFile(dir.file("bad2.json"), R"({"weight_map": {"x": "../etc/passwd"}})"));
  EXPECT_HAS(SafeTensorsCheckpoint::open(dir.file("bad2.json")).message(), "is not a plain file name");
  ASSERT_TRUE(writeFile(dir.file("bad3.json"), R"({"weight_map": {"x": "missing.safetensors"}})"));
  EXPECT_HAS(SafeTensorsCheckpoint::open(dir.file("bad3.json")).message(), "missing.safetensors: cannot open");
  ASSERT_TRUE(writeFile(dir.file("bad4.json"), R"({"metadata": {}})"));
  EXPECT_HAS(SafeTensorsCheckpoint::open(dir.file("bad4.json")).message(), "'weight_map' is missing");
}

} // namespace
