//===- CacheDir.h - Where kvcc keeps what its scripts download --*- C++ -*-===//
//
// Header-only, so the CUDA runtime library (which links nothing of kvcc's)
// and the compiler agree with scripts/fetch-model.sh and
// scripts/fetch-cuda-tools.sh on one location.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_CACHEDIR_H
#define KVCC_SUPPORT_CACHEDIR_H

#include <cstdlib>
#include <string>

namespace kvcc {

/// $KVCC_CACHE, else $HOME/.cache/kvcc; "" when neither is set.
inline std::string cacheDir() {
  if (const char *cache = std::getenv("KVCC_CACHE"); cache && *cache)
    return cache;
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/kvcc";
  return "";
}

/// The CUDA toolkit scripts/fetch-cuda-tools.sh unpacks from PyPI (bin/ptxas,
/// bin/fatbinary, nvvm/libdevice, and with --cublas lib64/libcublas*); "" when
/// there is no cache directory.
inline std::string fetchedCudaToolkit() {
  std::string dir = cacheDir();
  return dir.empty() ? dir : dir + "/cuda-toolkit";
}

} // namespace kvcc

#endif // KVCC_SUPPORT_CACHEDIR_H
