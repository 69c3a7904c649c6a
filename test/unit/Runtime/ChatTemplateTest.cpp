//===- ChatTemplateTest.cpp - Chat templates of instruct models -----------===//
//
// Expected outputs were produced by Python's jinja2 3.1 with
// trim_blocks=True, lstrip_blocks=True (what Hugging Face's
// apply_chat_template uses), so they are an independent reference.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/ChatTemplate.h"

#include <gtest/gtest.h>

#include <map>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

// SmolLM2-135M-Instruct, exactly as its GGUF stores it (raw newlines inside
// the string literals).
const char *const kSmolLM =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != "
    "'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named "
    "SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' "
    "+ message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% "
    "endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% "
    "endif %}";

// TinyLlama-1.1B-Chat / Zephyr: one tag per line, relies on trim_blocks.
const char *const kZephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ "
    "'<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] "
    "== 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% "
    "elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + "
    "message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and "
    "add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor "
    "%}";

// Qwen2-Instruct ChatML, with backslash escapes in the literals as its
// tokenizer_config.json has them.
const char *const kQwen2 =
    R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";

// Everything else in the subset: comments, whitespace control, set, ~, |length,
// |upper, |trim, attribute access, `not in`, list literals, the conditional
// expression, tests, methods, raise_exception, undefined and arithmetic.
const char *const kCustom = R"({#- A template exercising the subset. -#}
{{- bos_token }}
{%- set greeting = 'Hello' ~ ' ' ~ (messages | length) -%}
{%- for m in messages %}
    {%- if m.role not in ['user', 'assistant', 'system'] %}
        {{- raise_exception('bad role ' + m.role) }}
    {%- elif m.role == 'system' and not loop.first %}
        {{- raise_exception('system must be first') }}
    {%- endif %}
    [{{ loop.index0 }}/{{ loop.index }}/{{ loop.length }}{{ '*' if loop.last else '' }}] {{ m['role'] | upper }}: {{ m.content | trim }}
    {% if m.content.strip().startswith('#') %}(heading){% endif %}
{% endfor %}
{% if add_generation_prompt is defined and add_generation_prompt %}
  {{ greeting }} -> {{ eos_token }}
{% else %}
  done {{ undefined_thing }}|{{ none_var is none }}|{{ 3 - 5 }}|{{ true and 'x' or 'y' }}
{% endif %})";

const std::vector<std::vector<ChatMessage>> kConversations = {
    {{"user", "Hi"}},
    {{"system", "You are a bot"},
     {"user", "Hi"},
     {"assistant", "Hello!"},
     {"user", "Bye"}},
    {{"user", "  # Title \n"}, {"assistant", "ok"}},
};

struct Case {
  const char *templateName;
  int conversation;
  bool addGenerationPrompt;
  const char *expected;
};

const Case kCases[] = {
    {"smol", 0, true,
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
    {"smol", 0, false,
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"},
    {"smol", 1, true,
     "<|im_start|>system\nYou are a bot<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
    {"smol", 1, false,
     "<|im_start|>system\nYou are a bot<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"},
    {"smol", 2, true,
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n  # Title \n<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n<|im_start|>assistant\n"},
    {"smol", 2, false,
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n  # Title \n<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"},
    {"zephyr", 0, true,
     "<|user|>\nHi</s>\n<|assistant|>\n"},
    {"zephyr", 0, false,
     "<|user|>\nHi</s>\n"},
    {"zephyr", 1, true,
     "<|system|>\nYou are a bot</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nBye</s>\n<|assistant|>\n"},
    {"zephyr", 1, false,
     "<|system|>\nYou are a bot</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nBye</s>\n"},
    {"zephyr", 2, true,
     "<|user|>\n  # Title \n</s>\n<|assistant|>\nok</s>\n<|assistant|>\n"},
    {"zephyr", 2, false,
     "<|user|>\n  # Title \n</s>\n<|assistant|>\nok</s>\n"},
    {"qwen", 0, true,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen", 0, false,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"},
    {"qwen", 1, true,
     "<|im_start|>system\nYou are a bot<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen", 1, false,
     "<|im_start|>system\nYou are a bot<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"},
    {"qwen", 2, true,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  # Title \n<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen", 2, false,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  # Title \n<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"},
    {"custom", 0, true,
     "<s>    [0/1/1*] USER: Hi\n  Hello 1 -> </s>\n"},
    {"custom", 0, false,
     "<s>    [0/1/1*] USER: Hi\n  done |False|-2|x\n"},
    {"custom", 1, true,
     "<s>    [0/1/4] SYSTEM: You are a bot\n    [1/2/4] USER: Hi\n    [2/3/4] ASSISTANT: Hello!\n    [3/4/4*] USER: Bye\n  Hello 4 -> </s>\n"},
    {"custom", 1, false,
     "<s>    [0/1/4] SYSTEM: You are a bot\n    [1/2/4] USER: Hi\n    [2/3/4] ASSISTANT: Hello!\n    [3/4/4*] USER: Bye\n  done |False|-2|x\n"},
    {"custom", 2, true,
     "<s>    [0/1/2] USER: # Title\n(heading)    [1/2/2*] ASSISTANT: ok\n  Hello 2 -> </s>\n"},
    {"custom", 2, false,
     "<s>    [0/1/2] USER: # Title\n(heading)    [1/2/2*] ASSISTANT: ok\n  done |False|-2|x\n"},
};

TEST(ChatTemplate, MatchesJinja2OnRealAndSyntheticTemplates) {
  const std::map<std::string, const char *> templates = {
      {"smol", kSmolLM}, {"zephyr", kZephyr}, {"qwen", kQwen2},
      {"custom", kCustom}};
  for (const Case &c : kCases) {
    SCOPED_TRACE(std::string(c.templateName) + " conversation " +
                 std::to_string(c.conversation) +
                 (c.addGenerationPrompt ? " +prompt" : ""));
    Expected<ChatTemplate> t = ChatTemplate::parse(templates.at(c.templateName));
    ASSERT_TRUE(t.ok()) << t.message();
    Expected<std::string> out = t->render(kConversations[c.conversation],
                                          c.addGenerationPrompt, "<s>", "</s>");
    ASSERT_TRUE(out.ok()) << out.message();
    EXPECT_EQ(*out, c.expected);
  }
}

TEST(ChatTemplate, EmptyConversation) {
  Expected<std::string> out = renderChatTemplate(kSmolLM, {}, true);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(*out, "<|im_start|>assistant\n");
}

TEST(ChatTemplate, RaiseExceptionIsAnError) {
  Expected<std::string> out =
      renderChatTemplate(kCustom, {{"tool", "x"}}, true);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("raise_exception(bad role tool)"),
            std::string::npos)
      << out.message();
}

TEST(ChatTemplate, ForElseAndScoping) {
  Expected<std::string> out = renderChatTemplate(
      "{% set x = 'outer' %}{% for m in messages %}{% set x = m.role %}{{ x }}"
      "{% else %}none{% endfor %}/{{ x }}",
      {{"user", "a"}}, false);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(*out, "user/outer");
  out = renderChatTemplate("{% for m in messages %}x{% else %}none{% endfor %}",
                           {}, false);
  EXPECT_EQ(*out, "none");
}

// Unsupported constructs and malformed templates: an error naming the
// construct and where it is, never a crash.
TEST(ChatTemplate, ErrorsNameConstructAndOffset) {
  struct Bad {
    const char *source;
    const char *message;
  };
  const Bad cases[] = {
      {"ab{% macro f() %}{% endmacro %}", "unsupported tag 'macro' at offset 5"},
      {"{{ x | tojson }}", "unsupported filter 'tojson'"},
      {"{{ range(3) }}", "unsupported function 'range'"},
      {"{% for m in messages if m %}{% endfor %}", "unsupported for-loop 'if'"},
      {"{% if true %}x", "missing 'endif' for the tag at offset 0"},
      {"{% endfor %}", "unexpected 'endfor' at offset 3"},
      {"{{ 'abc }}", "unterminated string literal at offset 3"},
      {"{{ x ", "unterminated tag at offset 0"},
      {"{# x", "unterminated comment at offset 0"},
      {"{{ 1.5 }}", "unsupported float literal at offset 3"},
      {"{{ messages[1:] }}", "unsupported slice at offset 13"},
      {"{{ a @ b }}", "unsupported character '@' at offset 5"},
      {"{% set ns.x = 1 %}", "unsupported attribute assignment"},
      {"{{ }}", "empty expression at offset 0"},
      {"{{ messages[5]['role'] }}", "undefined value has no item 'role'"},
      {"{{ messages + 1 }}", "cannot apply '+' to a list and a integer"},
      {"{{ messages }}", "cannot render a list"},
      {"{{ 1 2 }}", "unexpected '2' at offset 5"},
      // Jinja rejects a conditional expression as an if condition, too.
      {"{% if 'a' if x else 'b' %}{% endif %}", "unexpected 'if' at offset 10"},
  };
  for (const Bad &b : cases) {
    Expected<std::string> out = renderChatTemplate(b.source, {}, false);
    ASSERT_FALSE(out.ok()) << b.source;
    EXPECT_NE(out.message().find(b.message), std::string::npos)
        << b.source << " -> " << out.message();
  }
}

TEST(ChatTemplate, CapsStopHostileTemplates) {
  // Deep nesting: the parser stops at the cap instead of overflowing.
  std::string deep;
  for (int i = 0; i < 10000; ++i)
    deep += "{% if true %}";
  EXPECT_NE(renderChatTemplate(deep, {}, false).message().find("nested"),
            std::string::npos);
  std::string parens = "{{ " + std::string(10000, '(') + "1" +
                       std::string(10000, ')') + " }}";
  EXPECT_NE(renderChatTemplate(parens, {}, false).message().find("nested"),
            std::string::npos);
  std::string nots = "{{ " + std::string(2000, ' ') + " }}";
  for (int i = 0; i < 2000; ++i)
    nots.insert(3, "not ");
  EXPECT_FALSE(renderChatTemplate(nots, {}, false).ok());
  // Output growth: a doubling chain of set statements.
  std::string doubling = "{% set s = 'xxxxxxxxxxxxxxxx' %}";
  for (int i = 0; i < 40; ++i)
    doubling += "{% set s = s + s %}";
  doubling += "{{ s }}";
  EXPECT_FALSE(renderChatTemplate(doubling, {}, false).ok());
  // Loop nesting over many messages hits the step cap.
  std::vector<ChatMessage> many(400, {"user", "x"});
  std::string cubic = "{% for a in messages %}{% for b in messages %}{% for c "
                      "in messages %}{{ c.role }}{% endfor %}{% endfor %}{% "
                      "endfor %}";
  Expected<std::string> out = renderChatTemplate(cubic, many, false);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.message().find("steps"), std::string::npos) << out.message();
  EXPECT_FALSE(renderChatTemplate(std::string(2 << 20, 'a'), {}, false).ok());
}

TEST(ChatTemplate, ChainsAreBoundedLikeNesting) {
  // Found by scripts/fuzz.sh's hostile templates: a chain is parsed by a loop,
  // not by recursion, so the nesting cap never saw it, and evaluating (or
  // freeing) a 100,000-link chain overflowed the stack. Every link kind is now
  // bounded by the tree's height (50,000 links stay under the source cap).
  auto chain = [](const std::string &head, const std::string &link, int n) {
    std::string s = "{{ " + head;
    for (int i = 0; i < n; ++i)
      s += link;
    return s + " }}";
  };
  for (const std::string &link : {"[0]", "|string", "+1", ".a", " is defined", " ~ 'x'",
                                  " == 1", " and 1"}) {
    Expected<std::string> out =
        renderChatTemplate(chain("messages", link, 50000), kConversations[1], false);
    ASSERT_FALSE(out.ok()) << link;
    EXPECT_NE(out.message().find("levels deep"), std::string::npos) << link << ": " << out.message();
  }
  // Real templates' chains are short; 200 links still render.
  Expected<std::string> sum = renderChatTemplate(chain("1", "+1", 200), {}, false);
  ASSERT_TRUE(sum.ok()) << sum.message();
  EXPECT_EQ(*sum, "201");
  Expected<std::string> role =
      renderChatTemplate(chain("messages[0].role", "|trim", 100), kConversations[1], false);
  ASSERT_TRUE(role.ok()) << role.message();
  EXPECT_EQ(*role, kConversations[1][0].role);
}

TEST(ChatTemplate, WhitespaceRulesMatchJinja) {
  // trim_blocks eats the newline after a block tag, lstrip_blocks the indent
  // before one, `-` all whitespace on its side; one final newline is dropped.
  Expected<std::string> out = renderChatTemplate(
      "{% for m in messages %}\n  {% if true %}\n[{{ m.role }}]  \n  {%- endif %}\n"
      "{% endfor %}\n  {{- 'end' }}\n",
      {{"user", "a"}, {"assistant", "b"}}, false);
  ASSERT_TRUE(out.ok()) << out.message();
  EXPECT_EQ(*out, "[user][assistant]end");
}

TEST(ChatTemplate, NeverCrashesOnMutatedTemplates) {
  // Random edits built from template syntax; each render either succeeds or
  // fails with a message (run under ASan to make this meaningful).
  const char *const pieces[] = {"{%", "%}", "{{", "}}", "{#", "#}", "-", "'",
                                "\"", "(", ")", "[", "]", "not ", " and ",
                                " or ", "if ", "else", "elif ", "endif",
                                "for ", "endfor", " in ", "|", ".", "loop",
                                "messages", "\n", " ", "\\", "set ", "=",
                                "~", "+", "0", "is ", "defined"};
  uint64_t state = 12345;
  auto next = [&] { // splitmix64: deterministic everywhere
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  int rendered = 0;
  for (const char *source : {kSmolLM, kZephyr, kQwen2, kCustom}) {
    for (int trial = 0; trial < 600; ++trial) {
      std::string s = source;
      for (int edit = 0, n = 1 + int(next() % 4); edit < n; ++edit) {
        size_t at = next() % (s.size() + 1);
        if (next() % 2)
          s.insert(at, pieces[next() % (sizeof(pieces) / sizeof(*pieces))]);
        else
          s.erase(at, next() % 8);
      }
      Expected<std::string> out =
          renderChatTemplate(s, kConversations[1], true, "<s>", "</s>");
      rendered += out.ok();
    }
  }
  EXPECT_GT(rendered, 0);
}

TEST(ChatTemplate, NeverCrashesOnTruncatedTemplates) {
  // Every prefix of the real templates either renders or fails cleanly.
  for (const char *source : {kSmolLM, kZephyr, kQwen2, kCustom}) {
    std::string s = source;
    for (size_t n = 0; n <= s.size(); ++n) {
      Expected<std::string> out =
          renderChatTemplate(s.substr(0, n), kConversations[1], true);
      (void)out.ok();
    }
  }
}

} // namespace
