//===- ChatTemplate.h - Chat templates of instruct models -------*- C++ -*-===//
//
// Instruct models ship a Jinja template (tokenizer.chat_template in GGUF,
// chat_template in tokenizer_config.json) that turns messages into the prompt
// text they were trained on. This is a small, safe interpreter of the Jinja
// subset such templates use, rendering as Hugging Face's apply_chat_template
// does (trim_blocks and lstrip_blocks on, one trailing newline dropped):
//   text, {{ expr }}, {# comments #}, {% if/elif/else/endif %},
//   {% for x in list %}...{% else %}...{% endfor %} with loop.first/last/
//   index/index0/revindex/length, {% set x = expr %}, whitespace control
//   {%- -%}; expressions: string/int/bool/none literals, list literals,
//   names, m['role'], m.role, + - ~ == != < > <= >= in, not in, and/or/not,
//   a if c else b, filters trim/length/upper/lower/default, tests
//   defined/undefined/none/string/number/boolean, raise_exception(msg), and
//   the string methods strip/lstrip/rstrip/upper/lower/startswith/endswith.
// Anything else is an error naming the construct and its byte offset. There
// are no macros, no recursion and no unbounded loops; nesting, source size,
// output size and evaluation steps are capped.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_CHATTEMPLATE_H
#define KVCC_RUNTIME_CHATTEMPLATE_H

#include "kvcc/Support/Error.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvcc::runtime {

struct ChatMessage {
  std::string role; // "system", "user", "assistant", ...
  std::string content;
};

namespace jinja {
struct Template;
} // namespace jinja

class ChatTemplate {
public:
  /// Parses once; render() may then run any number of times.
  static Expected<ChatTemplate> parse(std::string_view source);

  /// The prompt text. Variables: messages (a list of {role, content}),
  /// add_generation_prompt, bos_token, eos_token. Errors: a runtime type error
  /// or raise_exception() (naming the offset), a cap exceeded.
  Expected<std::string> render(const std::vector<ChatMessage> &messages,
                               bool addGenerationPrompt,
                               std::string_view bosToken = "",
                               std::string_view eosToken = "") const;

private:
  explicit ChatTemplate(std::shared_ptr<const jinja::Template> t)
      : template_(std::move(t)) {}
  std::shared_ptr<const jinja::Template> template_;
};

/// parse + render in one call.
Expected<std::string> renderChatTemplate(std::string_view source,
                                         const std::vector<ChatMessage> &messages,
                                         bool addGenerationPrompt,
                                         std::string_view bosToken = "",
                                         std::string_view eosToken = "");

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_CHATTEMPLATE_H
