//===- CUDATargetFlags.h - The --gpu-* lowering flags -----------*- C++ -*-===//
//
// The command-line flags that choose how kvc lowers to GPU kernels (tile,
// lazy rescale, tensor-core decode, split cap, swizzle), shared by the tools
// that lower: kvcc (which adds --gpu-arch) and kvcc-emulate.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TARGET_CUDATARGETFLAGS_H
#define KVCC_TARGET_CUDATARGETFLAGS_H

#include "kvcc/Target/CUDATarget.h"

#include <string>

namespace kvcc {

/// Registers the flags; call before llvm::cl::ParseCommandLineOptions.
void registerCUDALoweringFlags();

/// Copies the parsed flags into OPTIONS' lowering fields. Returns "" or an
/// error that names the flag and its value.
std::string applyCUDALoweringFlags(CUDATargetOptions &options);

} // namespace kvcc

#endif // KVCC_TARGET_CUDATARGETFLAGS_H
