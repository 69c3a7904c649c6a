//===- Error.h - Error values for the MLIR-free libraries -------*- C++ -*-===//
//
// The readers and the runtime never throw (LLVM is built without exceptions and
// every parser treats its input as hostile): a failure is a value that carries
// a message naming the file, tensor, field and value at fault.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_ERROR_H
#define KVCC_SUPPORT_ERROR_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace kvcc {

/// Success, or an error message. `[[nodiscard]]` so a failure is never dropped.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    if (s.message_.empty())
      s.message_ = "unknown error";
    return s;
  }
  bool ok() const { return message_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

private:
  std::string message_;
};

/// A value, or the error that prevented it.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Status status) : error_(std::move(status)) {
    assert(!error_.ok() && "Expected built from a success status");
  }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T take() { return std::move(*value_); }
  const Status &status() const { return error_; }
  const std::string &message() const { return error_.message(); }

private:
  std::optional<T> value_;
  Status error_ = Status::success();
};

} // namespace kvcc

#endif // KVCC_SUPPORT_ERROR_H
