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

/// What generate() gives each prompt alone, on a fresh executor each.
std::vector<std::vector<int32_t>> oneByOne(Rig &r, const std::vector<std::vector<int32_t>> &prompts,
                                           const GenerateOptions &go) {
  std::vector<std::vector<int32_t>> out;
  for (const auto &p : prompts) {
    std::unique_ptr<Executor> ex = r.executor(ExecutorOptions());
    Expected<GenerateResult> res = r.generator->generate(*ex, p, go, nullptr);
    EXPECT_TRUE(res.ok()) << res.message();
    out.push_back(res ? res->tokens : std::vector<int32_t>());
  }
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
