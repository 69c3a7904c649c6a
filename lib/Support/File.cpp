//===- File.cpp - Whole-file reads and read-only memory maps --------------===//
//
// POSIX only (open/fstat/mmap): the runtime targets Linux. Directories and
// other non-regular files are refused up front, since read() on them fails
// late and mmap() on a FIFO would block or fail with an unhelpful errno.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Support/File.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kvcc {

static Status errnoError(const std::string &path, const char *what, int err) {
  return Status::error(path + ": " + what + ": " + std::strerror(err));
}

namespace {
// Closes a descriptor on every return path.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0)
      ::close(fd);
  }
};
} // namespace

// Opens `path` and checks it is a regular file; on success fd and size are set.
static Status openRegular(const std::string &path, FdGuard &guard, size_t &size) {
  guard.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (guard.fd < 0)
    return errnoError(path, "cannot open", errno);
  struct stat st;
  if (::fstat(guard.fd, &st) != 0)
    return errnoError(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode))
    return Status::error(path + ": not a regular file");
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > SIZE_MAX)
    return Status::error(path + ": file size " + std::to_string(st.st_size) + " is not addressable");
  size = static_cast<size_t>(st.st_size);
  return Status::success();
}

Expected<std::string> readFile(const std::string &path) {
  FdGuard guard{-1};
  size_t size = 0;
  if (Status s = openRegular(path, guard, size); !s.ok())
    return s;
  std::string out;
  out.resize(size);
  size_t done = 0;
  // Read until EOF rather than trusting st_size alone: a file may shrink or
  // grow while we read it.
  while (true) {
    if (done == out.size())
      out.resize(out.size() + 4096);
    ssize_t n = ::read(guard.fd, &out[done], out.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errnoError(path, "read failed", errno);
    }
    if (n == 0)
      break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Expected<MappedFile> MappedFile::open(const std::string &path) {
  FdGuard guard{-1};
  size_t size = 0;
  if (Status s = openRegular(path, guard, size); !s.ok())
    return s;
  MappedFile file;
  file.path_ = path;
  if (size == 0)
    return file;
  void *p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, guard.fd, 0);
  if (p == MAP_FAILED)
    return errnoError(path, "cannot mmap", errno);
  file.data_ = static_cast<const uint8_t *>(p);
  file.size_ = size;
  return file;
}

MappedFile::MappedFile(MappedFile &&other) noexcept
    : data_(other.data_), size_(other.size_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

} // namespace kvcc
