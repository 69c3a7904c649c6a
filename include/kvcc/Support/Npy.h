//===- Npy.h - NumPy .npy arrays in and out ---------------------*- C++ -*-===//
//
// The GPU emulator's tool takes its inputs and writes its outputs as .npy
// files, so a test can build them with numpy and check them against the
// float64 references. Only C-order arrays of fixed-size little-endian scalars
// are read; the header is parsed as hostile input (every field checked, sizes
// checked for overflow against the file's length).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_NPY_H
#define KVCC_SUPPORT_NPY_H

#include "kvcc/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kvcc {

struct NpyArray {
  /// The numpy dtype string as written in the header: "<f2", "<f4", "<f8",
  /// "<i4", "<i8", "<u2", "|u1", "|i1", "|b1", ...
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> data; ///< C order, shape's product times itemSize() bytes

  /// Bytes per element, from the dtype (0 for an unsupported dtype).
  size_t itemSize() const;
  int64_t numElements() const;
};

/// Reads PATH ("PATH: not a .npy file (bad magic)", "PATH: fortran_order
/// arrays are not supported", ...).
Expected<NpyArray> readNpy(const std::string &path);

/// Writes ARRAY to PATH (format version 1.0), through a temporary file renamed
/// into place so a failure leaves no half-written output.
Status writeNpy(const std::string &path, const NpyArray &array);

} // namespace kvcc

#endif // KVCC_SUPPORT_NPY_H
