//===- TokenizerJsonFuzzer.cpp - A hostile Hugging Face tokenizer.json ---===//
//
// The tokenizer a Hugging Face model directory brings, then text through it
// both ways (with and without special tokens parsed, ids out of range).
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"

#include "kvcc/Runtime/Tokenizer.h"

using namespace kvcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeInput("tokenizer.json", data, size);
  Expected<runtime::Tokenizer> tok = runtime::Tokenizer::fromTokenizerJson(path);
  if (!tok)
    return 0;
  for (bool special : {true, false}) {
    std::vector<int32_t> ids =
        tok->encode("Hello, world!  12345 \xc3\xa9\xe2\x82\xac <|endoftext|>\n\t x", true, special);
    (void)tok->decode(ids, special);
  }
  (void)tok->decode({-7, 0, int32_t(tok->vocabSize()), INT32_MAX});
  return 0;
}
