//===- Passes.h - kvc conversion passes -------------------------*- C++ -*-===//
#ifndef KVCC_CONVERSION_PASSES_H
#define KVCC_CONVERSION_PASSES_H

#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

namespace kvcc {
#define GEN_PASS_REGISTRATION
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

#endif // KVCC_CONVERSION_PASSES_H
