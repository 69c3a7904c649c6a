//===- NpyFuzzer.cpp - A hostile .npy file (kvcc-emulate's inputs) -------===//
#include "FuzzInput.h"

#include "kvcc/Support/Npy.h"

using namespace kvcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)readNpy(fuzz::writeInput("input.npy", data, size));
  return 0;
}
