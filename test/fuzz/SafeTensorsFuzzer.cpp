//===- SafeTensorsFuzzer.cpp - A hostile .safetensors file ---------------===//
//
// The header (an 8-byte length and a JSON table of dtypes, shapes and data
// offsets) and the conversion of every tensor to float.
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"

#include "kvcc/Frontend/SafeTensors.h"

#include <vector>

using namespace kvcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeInput("model.safetensors", data, size);
  Expected<SafeTensorsFile> file = SafeTensorsFile::open(path);
  if (!file)
    return 0;
  std::vector<float> values;
  for (const SafeTensorsTensorInfo &info : file->tensors()) {
    if (info.numElements > (1 << 16) || !isFloatConvertible(info.dtype))
      continue;
    values.assign(info.numElements, 0.0f);
    (void)file->readFloat(info, values.data(), values.size());
  }
  return 0;
}
