//===- FileTest.cpp - Tests for readFile and MappedFile -------------------===//
#include "kvcc/Support/File.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace kvcc;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string &contents) {
    char tmpl[] = "/tmp/kvcc-file-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    path = tmpl;
    if (fd >= 0) {
      EXPECT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
      ::close(fd);
    }
  }
  ~TempFile() { ::unlink(path.c_str()); }
};

TEST(File, ReadFile) {
  std::string contents("hello\0world", 11);
  TempFile f(contents);
  Expected<std::string> r = readFile(f.path);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, contents);

  TempFile empty("");
  Expected<std::string> e = readFile(empty.path);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
}

TEST(File, ErrorsNameThePath) {
  Expected<std::string> r = readFile("/nonexistent/kvcc/x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("/nonexistent/kvcc/x.json: cannot open"), std::string::npos) << r.message();
  Expected<std::string> d = readFile("/tmp");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("not a regular file"), std::string::npos) << d.message();
  Expected<MappedFile> m = MappedFile::open("/nonexistent/kvcc/m.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("m.gguf"), std::string::npos);
  EXPECT_FALSE(MappedFile::open("/tmp").ok());
}

TEST(File, MappedFileMapsAndMoves) {
  std::string contents(10000, 'x');
  contents[9999] = 'y';
  TempFile f(contents);
  Expected<MappedFile> m = MappedFile::open(f.path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->size(), contents.size());
  EXPECT_EQ(m->path(), f.path);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(m->data()), m->size()), contents);

  MappedFile a = m.take();
  MappedFile b = std::move(a);
  EXPECT_EQ(a.data(), nullptr); // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data()[9999], 'y');

  TempFile other("zz");
  Expected<MappedFile> m2 = MappedFile::open(other.path);
  ASSERT_TRUE(m2.ok());
  b = m2.take(); // releases the first mapping
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.data()[1], 'z');
}

TEST(File, EmptyFileMapsToNothing) {
  TempFile f("");
  Expected<MappedFile> m = MappedFile::open(f.path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->data(), nullptr);
}

} // namespace
