//===- NpyTest.cpp - Tests for readNpy / writeNpy -------------------------===//
#include "kvcc/Support/Npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

using namespace kvcc;

namespace {

std::string tempPath() {
  char tmpl[] = "/tmp/kvcc-npy-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd >= 0)
    ::close(fd);
  return tmpl;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// A version-1 .npy file with HEADER (padded) and DATA.
std::string npy(std::string header, const std::string &data) {
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(Npy, RoundTrip) {
  NpyArray a;
  a.dtype = "<f4";
  a.shape = {2, 3};
  float values[6] = {1, 2, 3, 4, 5, -6};
  a.data.assign(reinterpret_cast<char *>(values), reinterpret_cast<char *>(values) + 24);
  std::string path = tempPath();
  ASSERT_TRUE(writeNpy(path, a).ok());
  Expected<NpyArray> b = readNpy(path);
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(b->dtype, "<f4");
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->data, a.data);
  // One dimension and zero dimensions (numpy's "(3,)" and "()").
  a.shape = {6};
  ASSERT_TRUE(writeNpy(path, a).ok());
  EXPECT_EQ(readNpy(path)->shape, (std::vector<int64_t>{6}));
  a.shape = {};
  a.data.resize(4);
  ASSERT_TRUE(writeNpy(path, a).ok());
  EXPECT_TRUE(readNpy(path)->shape.empty());
  ::unlink(path.c_str());
}

TEST(Npy, HostileHeaders) {
  std::string path = tempPath();
  auto expectError = [&](const std::string &bytes, const std::string &needle) {
    writeBytes(path, bytes);
    Expected<NpyArray> a = readNpy(path);
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.message().find(needle), std::string::npos) << a.message();
    EXPECT_EQ(a.message().rfind(path, 0), 0u) << "the message names the file";
  };
  expectError("PK\x03\x04 a zip", "bad magic");
  expectError(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"),
              "fortran_order");
  expectError(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"),
              "dtype '>f4' is not supported");
  expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "abcd"),
              "need 8 data bytes, the file has 4");
  expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", ""),
              "malformed .npy header");
  expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                  "(99999999999, 99999999999, 99999999999), }",
                  ""),
              "shape is too large");
  expectError(npy("{'descr': '<f4', 'shape': (1,), }", "abcd"), "needs descr, fortran_order");
  expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "abcd"),
              "unknown key 'x'");
  std::string truncated("\x93NUMPY\x01\x00\xff\x00{'descr'", 17);
  expectError(truncated, "runs past the end of the file");
  ::unlink(path.c_str());
}

} // namespace
