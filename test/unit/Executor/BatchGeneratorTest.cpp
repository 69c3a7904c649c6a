//===- BatchGeneratorTest.cpp - Many prompts at once -----------------------===//
//
// Generator::generateBatch over a Rig (TestModel.h): every sequence gets the
// tokens generate() gives it alone (greedy and seeded sampling, whole and
// chunked prompts, a pool that holds only some of them at once), no page or
// sequence is left behind, and bad input is refused before the first step.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;

namespace {

std::vector<std::vector<int32_t>> somePrompts() {
  std::vector<std::vector<int32_t>> prompts;
  for (size_t n : {5, 1, 13, 8, 2, 21, 9})
    prompts.push_back(somePrompt(n, 100 + n));
  return prompts;
}

/// What generate() gives each prompt alone, on a fresh executor each (made
/// with `eo` for one sequence, as kvcc-run makes it for --prompt).
std::vector<GenerateResult> aloneResults(Rig &r, const std::vector<std::vector<int32_t>> &prompts,
                                         const GenerateOptions &go, ExecutorOptions eo = ExecutorOptions()) {
  eo.maxBatch = 1;
  std::vector<GenerateResult> out;
  for (const auto &p : prompts) {
    std::unique_ptr<Executor> ex = r.executor(eo);
    Expected<GenerateResult> res = r.generator->generate(*ex, p, go, nullptr);
    EXPECT_TRUE(res.ok()) << res.message();
    out.push_back(res ? res.take() : GenerateResult());
  }
  return out;
}

std::vector<std::vector<int32_t>> oneByOne(Rig &r, const std::vector<std::vector<int32_t>> &prompts,
                                           const GenerateOptions &go) {
  std::vector<std::vector<int32_t>> out;
  for (GenerateResult &res : aloneResults(r, prompts, go))
    out.push_back(res.tokens);
  return out;
}

void expectClean(Rig &r, const Executor &ex) {
  EXPECT_EQ(ex.blocks().usedBlocks(), 0);
  EXPECT_EQ(ex.blocks().numSequences(), 0u);
  EXPECT_TRUE(ex.blocks().checkInvariants().ok());
  EXPECT_EQ(r.mockError(), "");
}

} // namespace

TEST(BatchGeneratorTest, EverySequenceGetsItsOwnTokens) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  const std::vector<std::vector<int32_t>> prompts = somePrompts();
  struct Mode {
    const char *name;
    double temperature;
    int64_t prefillChunk, maxBatch;
  } modes[] = {{"greedy", 0, 0, 3}, {"greedy, 4-token chunks", 0, 4, 3},
               {"sampled", 0.9, 0, 4}, {"greedy, one at a time", 0, 0, 1},
               {"greedy, all at once", 0, 0, 16}};
  for (const Mode &m : modes) {
    GenerateOptions go;
    go.maxTokens = 11;
    go.ignoreEos = true;
    go.prefillChunk = m.prefillChunk;
    go.sampling.temperature = m.temperature;
    go.sampling.seed = 5;
    ExecutorOptions eo;
    eo.maxBatch = m.maxBatch;
    eo.maxContext = 32;
    std::unique_ptr<Executor> ex = r->executor(eo);
    ASSERT_TRUE(ex);
    Expected<BatchResult> batch = r->generator->generateBatch(*ex, prompts, go, m.maxBatch);
    ASSERT_TRUE(batch.ok()) << m.name << ": " << batch.message();
    std::vector<std::vector<int32_t>> alone = oneByOne(*r, prompts, go);
    ASSERT_EQ(batch->results.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(batch->results[i].tokens, alone[i]) << m.name << ", prompt " << i;
      EXPECT_EQ(batch->results[i].promptIds, prompts[i]);
      EXPECT_EQ(batch->results[i].stats.stopReason, "max_tokens");
    }
    const BatchStats &st = batch->stats;
    EXPECT_EQ(st.requests, 7);
    EXPECT_EQ(st.generatedTokens, 7 * 11);
    EXPECT_EQ(st.maxInFlight, std::min<int64_t>(m.maxBatch, 7)) << m.name;
    EXPECT_LE(st.peakPagesUsed, st.pagesTotal);
    // Sequences share steps: fewer steps than rows unless one runs at a time.
    if (m.maxBatch > 1)
      EXPECT_LT(st.steps, st.rows) << m.name;
    expectClean(*r, *ex);
  }
}

TEST(BatchGeneratorTest, ASmallPoolAdmitsWhatFitsAndReusesFreedPages) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  const std::vector<std::vector<int32_t>> prompts = somePrompts();
  GenerateOptions go;
  go.maxTokens = 8;
  go.ignoreEos = true;
  ExecutorOptions eo;
  eo.kvPages = 10; // the 21-token prompt needs 7 pages (21 + 7 tokens): it runs nearly alone
  std::unique_ptr<Executor> ex = r->executor(eo);
  ASSERT_TRUE(ex);
  Expected<BatchResult> batch = r->generator->generateBatch(*ex, prompts, go, 8);
  ASSERT_TRUE(batch.ok()) << batch.message();
  std::vector<std::vector<int32_t>> alone = oneByOne(*r, prompts, go);
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(batch->results[i].tokens, alone[i]) << "prompt " << i;
  EXPECT_LE(batch->stats.peakPagesUsed, 10);
  EXPECT_GT(batch->stats.maxInFlight, 1);
  EXPECT_LT(batch->stats.maxInFlight, 7);
  expectClean(*r, *ex);
}

TEST(BatchGeneratorTest, BadInputIsRefusedBeforeTheFirstStep) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::unique_ptr<Executor> ex = r->executor(ExecutorOptions());
  ASSERT_TRUE(ex);
  GenerateOptions go;
  std::vector<std::vector<int32_t>> prompts = somePrompts();
  Expected<BatchResult> res = r->generator->generateBatch(*ex, prompts, go, 0);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "--max-batch 0 must be >= 1")) << res.message();
  prompts[2] = {};
  res = r->generator->generateBatch(*ex, prompts, go, 4);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "prompt 2: the prompt is empty")) << res.message();
  prompts[2] = {1, 2, int32_t(ex->vocabSize())};
  res = r->generator->generateBatch(*ex, prompts, go, 4);
  ASSERT_FALSE(res.ok());
  EXPECT_TRUE(contains(res.message(), "prompt 2: prompt token 2 is")) << res.message();
  go.sampling.topP = 2;
  res = r->generator->generateBatch(*ex, somePrompts(), go, 4);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(ex->stepsRun(), 0);
  expectClean(*r, *ex);
  // No prompts: nothing to do, nothing run.
  go = GenerateOptions();
  res = r->generator->generateBatch(*ex, {}, go, 4);
  ASSERT_TRUE(res.ok()) << res.message();
  EXPECT_TRUE(res->results.empty());
  EXPECT_EQ(ex->stepsRun(), 0);
}

TEST(BatchGeneratorTest, StopsAndCountsMatchSingleRuns) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::vector<std::vector<int32_t>> prompts;
  for (size_t n : {5, 1, 13, 8, 2, 9})
    prompts.push_back(somePrompt(n, 200 + n));
  struct Case {
    const char *name;
    int64_t maxTokens, maxContext;
    bool ignoreEos, noKVCache;
    double temperature;
  } cases[] = {
      // --max-context 16: every sequence stops at context_full where it would alone,
      // though the pool of a batch of 3 holds 48 tokens.
      {"context_full", 30, 16, true, false, 0},
      {"max_tokens 1", 1, 0, true, false, 0},
      {"max_tokens 0", 0, 0, true, false, 0},
      {"no kv cache", 6, 0, true, true, 0},
      // Sampled hot enough that some sequences draw the EOS token (the seed
      // is fixed; the loop below asserts that one does).
      {"eos", 40, 0, false, false, 3.0},
  };
  for (const Case &c : cases) {
    GenerateOptions go;
    go.maxTokens = c.maxTokens;
    go.ignoreEos = c.ignoreEos;
    go.sampling.temperature = c.temperature;
    go.sampling.seed = 11;
    ExecutorOptions eo;
    eo.maxContext = c.maxContext;
    eo.noKVCache = c.noKVCache;
    std::vector<GenerateResult> alone = aloneResults(*r, prompts, go, eo);
    eo.maxBatch = 3;
    std::unique_ptr<Executor> ex = r->executor(eo);
    ASSERT_TRUE(ex);
    Expected<BatchResult> batch = r->generator->generateBatch(*ex, prompts, go, 3);
    ASSERT_TRUE(batch.ok()) << c.name << ": " << batch.message();
    int64_t computed = 0;
    std::vector<std::string> reasons;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const GenerateResult &b = batch->results[i], &a = alone[i];
      EXPECT_EQ(b.tokens, a.tokens) << c.name << ", prompt " << i;
      EXPECT_EQ(b.text, a.text) << c.name << ", prompt " << i;
      EXPECT_EQ(b.stats.stopReason, a.stats.stopReason) << c.name << ", prompt " << i;
      EXPECT_EQ(b.stats.tokensComputed, a.stats.tokensComputed) << c.name << ", prompt " << i;
      computed += b.stats.tokensComputed;
      reasons.push_back(b.stats.stopReason);
    }
    EXPECT_EQ(computed, ex->tokensComputed()) << c.name;
    const std::string want = c.maxContext ? "context_full" : c.ignoreEos ? "max_tokens" : "eos";
    EXPECT_NE(std::find(reasons.begin(), reasons.end(), want), reasons.end()) << c.name;
    expectClean(*r, *ex);
  }
}
