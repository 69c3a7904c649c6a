//===- GGUFFuzzer.cpp - A hostile GGUF file through the executor's loaders ===//
//
// What kvcc-run does with a .gguf before any kernel runs: the reader (header,
// metadata, tensor table), every typed accessor, dequantization of each tensor,
// the ModelSpec and weight checks, and the tokenizer built from the metadata,
// which then encodes and decodes. Any crash, sanitizer report, hang or
// unbounded allocation is a bug; an error return is the expected outcome.
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"

#include "kvcc/Frontend/GGUF.h"
#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/Generator.h"
#include "kvcc/Runtime/Tokenizer.h"

#include <vector>

using namespace kvcc;

namespace {
// Tensors above this are skipped: the fuzzer looks for parsing bugs, not for
// the time it takes to convert 100 MB.
constexpr uint64_t kMaxElements = 1 << 16;

void readEveryValue(const GGUFFile &file) {
  for (const auto &[key, value] : file.metadata()) {
    (void)file.getInt(key);
    (void)file.getUInt(key);
    (void)file.getFloat(key);
    (void)file.getBool(key);
    (void)file.getString(key);
    (void)file.getStringArray(key);
    (void)file.getIntArray(key);
    (void)file.getFloatArray(key);
  }
  std::vector<float> values;
  for (const GGUFTensorInfo &info : file.tensors()) {
    if (info.numElements > kMaxElements || !isDequantizable(info.type))
      continue;
    values.assign(info.numElements, 0.0f);
    (void)file.dequantize(info, values.data(), values.size());
  }
}

void loadLikeTheExecutor(const std::string &path) {
  Expected<std::unique_ptr<ModelSource>> source = ModelSource::open(path);
  if (!source)
    return;
  (void)(*source)->checkWeights();
  std::vector<float> values;
  for (const WeightSpec &w : (*source)->weights()) {
    if (w.numElements() > kMaxElements)
      continue;
    values.assign(w.numElements(), 0.0f);
    (void)(*source)->readWeight(w.name, values.data(), values.size());
  }
  Expected<runtime::Tokenizer> tok = runtime::loadTokenizer(**source);
  if (!tok)
    return;
  std::vector<int32_t> ids = tok->encode("Hello, world! 12345 <|im_start|>user\n", true);
  (void)tok->decode(ids);
  (void)tok->decode({-1, 0, 1, int32_t(tok->vocabSize()), INT32_MAX});
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeInput("model.gguf", data, size);
  if (Expected<GGUFFile> file = GGUFFile::open(path))
    readEveryValue(*file);
  loadLikeTheExecutor(path);
  return 0;
}
