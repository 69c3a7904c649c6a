//===- GeneratorTest.cpp - Tokenizer, chat template, limits, streaming ----===//
//
// The Generator over a Rig (TestModel.h): prompt encoding with and without
// the chat template, limits checked before any work, streamed text and seeded
// sampling.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;
using json::Value;

//===----------------------------------------------------------------------===//
// Generator: tokenizer, chat template, limits, streaming
//===----------------------------------------------------------------------===//

TEST(GeneratorTest, PromptsAreEncodedWithAndWithoutChat) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  Expected<std::vector<int32_t>> plain = r->generator->encodePrompt("the top", false);
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ(*plain, (std::vector<int32_t>{256, 'e', 257, 'o', 'p'})); // "th" e "Ġt" o p
  Expected<std::vector<int32_t>> chat = r->generator->encodePrompt("hi", true);
  ASSERT_TRUE(chat.ok()) << chat.message();
  EXPECT_EQ(r->generator->tokenizer().decode(*chat), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chat->front(), kImStart);
  EXPECT_EQ(r->generator->stopTokens(), std::vector<int32_t>{kEos});
  EXPECT_FALSE(r->generator->encodePrompt("", false).ok());
}

TEST(GeneratorTest, LimitsAreCheckedBeforeAnyWork) {
  TinyConfig c;
  c.maxPos = 32;
  std::unique_ptr<Rig> r = Rig::make(c, 4);
  ASSERT_TRUE(r);
  std::unique_ptr<Executor> ex = r->executor(ExecutorOptions());
  GenerateOptions go;
  Expected<GenerateResult> res = r->generator->generate(*ex, somePrompt(33), go, nullptr);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "33 tokens, longer than the model's context of 32")) << res.message();

  ExecutorOptions eo;
  eo.kvPages = 2;
  ex = r->executor(eo);
  res = r->generator->generate(*ex, somePrompt(9), go, nullptr);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "the KV cache holds 8 (2 pages of 4)")) << res.message();
  go.sampling.temperature = -1;
  res = r->generator->generate(*ex, somePrompt(3), go, nullptr);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "temperature")) << res.message();
  EXPECT_EQ(ex->stepsRun(), 0);

  // A run that reaches the cache's end stops there, cleanly.
  go = GenerateOptions();
  go.maxTokens = 100;
  go.ignoreEos = true;
  res = r->generator->generate(*ex, somePrompt(3), go, nullptr);
  ASSERT_TRUE(res.ok()) << res.message();
  EXPECT_EQ(res->tokens.size(), 6u); // 3 + 6 - 1 = 8 slots
  EXPECT_EQ(res->stats.stopReason, "context_full");
  EXPECT_EQ(ex->blocks().usedBlocks(), 0);
}

TEST(GeneratorTest, StreamedTextMatchesTokensAndSamplingIsSeeded) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  Expected<std::vector<int32_t>> prompt = r->generator->encodePrompt("the cache", true);
  ASSERT_TRUE(prompt.ok());
  GenerateOptions go;
  go.maxTokens = 24;
  go.sampling.temperature = 0.8;
  go.sampling.topK = 40;
  go.sampling.topP = 0.9;
  go.sampling.seed = 42;
  std::vector<std::vector<int32_t>> runs;
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<Executor> ex = r->executor(ExecutorOptions());
    std::FILE *f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    Expected<GenerateResult> res = r->generator->generate(*ex, *prompt, go, f);
    ASSERT_TRUE(res.ok()) << res.message();
    std::rewind(f);
    std::string streamed;
    char buf[256];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
      streamed.append(buf, n);
    std::fclose(f);
    EXPECT_EQ(streamed, res->text);
    std::vector<int32_t> shown = res->tokens;
    if (res->stats.stopReason == "eos")
      shown.pop_back();
    EXPECT_EQ(streamed, r->generator->tokenizer().decode(shown, /*skipSpecial=*/true));
    runs.push_back(res->tokens);
  }
  EXPECT_EQ(runs[0], runs[1]);
}
