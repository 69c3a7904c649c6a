//===- ChatTemplateFuzzer.cpp - A hostile Jinja chat template ------------===//
//
// Instruct models ship their chat template as Jinja source inside the model
// file; kvcc-run parses and renders it. Input: the template. Its caps (output
// size, loop iterations, recursion) must turn a runaway template into an
// error, not a hang or a stack overflow.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/ChatTemplate.h"

using namespace kvcc::runtime;
using kvcc::Expected;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view source(reinterpret_cast<const char *>(data), size);
  Expected<ChatTemplate> t = ChatTemplate::parse(source);
  if (!t)
    return 0;
  std::vector<ChatMessage> messages = {{"system", "Be brief."},
                                       {"user", "Hi {{ there }} {% raw %}"},
                                       {"assistant", "Hello!"},
                                       {"user", "Why a KV cache?"}};
  (void)t->render(messages, true, "<s>", "</s>");
  (void)t->render({}, false);
  return 0;
}
