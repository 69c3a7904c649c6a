//===- JsonFuzzer.cpp - Hostile JSON: config.json, manifests, tokenizers -===//
//
// The parser every JSON input goes through, a round trip (what write() prints
// parses back to the same text), and the two readers of a parsed config: the
// Hugging Face config.json and the ModelSpec a manifest embeds.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelSpec.h"
#include "kvcc/Support/Json.h"

#include <cstdlib>
#include <string_view>

using namespace kvcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  Expected<json::Value> value = json::parse(text, "fuzz.json");
  if (!value)
    return 0;
  std::string printed = json::write(*value);
  Expected<json::Value> again = json::parse(printed, "printed.json");
  if (!again || json::write(*again) != printed)
    std::abort(); // write() must print what parse() reads back
  (void)specFromHFConfig(*value, "config.json");
  (void)ModelSpec::fromJson(*value);
  return 0;
}
