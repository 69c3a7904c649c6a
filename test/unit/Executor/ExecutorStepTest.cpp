//===- ExecutorStepTest.cpp - The seed experiment and executor errors -----===//
//
// The seed experiment is the centre: greedy tokens with the paged cache must
// equal those of full recomputation, for any page size, chunking and batch
// layout. Then the executor's errors: nothing changes on a refused step.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;
using json::Value;

//===----------------------------------------------------------------------===//
// The seed experiment: cached == recomputed, for any page size and layout
//===----------------------------------------------------------------------===//

struct SeedCase {
  const char *name;
  TinyConfig config;
};

TEST(SeedExperiment, CachedTokensEqualFullRecomputation) {
  const SeedCase cases[] = {{"gqa", withKV(2)}, {"mqa", withKV(1)}, {"mha", withKV(4)},
                            {"mistral-window", mistral()}, {"tied", tied()}, {"qwen2-bias", qwen2()}};
  for (const SeedCase &c : cases)
    for (int64_t bs : {1, 3, 16}) {
      SCOPED_TRACE(std::string(c.name) + " block_size " + std::to_string(bs));
      std::unique_ptr<Rig> r = Rig::make(c.config, bs);
      ASSERT_TRUE(r);
      std::vector<int32_t> prompt = somePrompt(11);
      ExecutorOptions eo;
      eo.maxContext = 64;
      GenerateStats cached, full;
      std::vector<int32_t> a = r->greedy(prompt, 40, eo, 0, &cached);
      eo.noKVCache = true;
      std::vector<int32_t> b = r->greedy(prompt, 40, eo, 0, &full);
      ASSERT_EQ(a.size(), 40u);
      EXPECT_EQ(a, b);
      // Not a degenerate run that would hide a difference.
      std::sort(b.begin(), b.end());
      EXPECT_GE(std::unique(b.begin(), b.end()) - b.begin(), 5);
      EXPECT_EQ(cached.tokensComputed, 11 + 39);
      EXPECT_EQ(full.tokensComputed, 11 + (12 + 50) * 39 / 2);
      EXPECT_EQ(cached.kvBytesPerToken, 2 * 2 * c.config.kvHeads * 16 * 4);
      EXPECT_EQ(cached.pagesUsed, (50 + bs - 1) / bs);
      EXPECT_EQ(cached.kvBytesInUse, cached.pagesUsed * bs * cached.kvBytesPerToken);
      EXPECT_EQ(cached.stopReason, "max_tokens");
    }
}

TEST(SeedExperiment, ChunkedPrefillEqualsOneChunk) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  std::vector<int32_t> prompt = somePrompt(17, 11);
  ExecutorOptions eo;
  eo.maxContext = 64;
  std::vector<int32_t> whole = r->greedy(prompt, 32, eo);
  ASSERT_EQ(whole.size(), 32u);
  for (int64_t chunk : {1, 2, 3, 5, 16, 17, 100}) {
    GenerateStats st;
    EXPECT_EQ(r->greedy(prompt, 32, eo, chunk, &st), whole) << "chunk " << chunk;
    EXPECT_EQ(st.prefillSteps, (17 + chunk - 1) / chunk);
  }
  // The chunked prefill leaves bit-identical logits, not just the same argmax.
  std::vector<float> one, last;
  std::unique_ptr<Executor> a = r->executor(eo), b = r->executor(eo);
  ASSERT_TRUE(a->step({{0, prompt}}, one).ok());
  for (size_t s = 0; s < prompt.size(); s += 4)
    ASSERT_TRUE(b->step({{0, std::vector<int32_t>(prompt.begin() + s, prompt.begin() + std::min(s + 4, prompt.size()))}},
                        last)
                    .ok());
  EXPECT_EQ(one, last);
}

TEST(SeedExperiment, RaggedBatchEqualsSequencesAlone) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.maxContext = 40;
  eo.maxBatch = 3;
  std::vector<std::vector<int32_t>> prompts = {somePrompt(9, 1), somePrompt(4, 2), somePrompt(1, 3)};
  const int64_t V = kVocab;
  // Alone: each sequence in its own executor.
  std::vector<std::vector<std::vector<float>>> alone(3);
  for (int s = 0; s < 3; ++s) {
    std::unique_ptr<Executor> ex = r->executor(eo);
    std::vector<float> logits;
    ASSERT_TRUE(ex->step({{s, prompts[s]}}, logits).ok());
    alone[s].push_back(logits);
    for (int t = 0; t < 6; ++t) {
      int32_t next = *Sampler::greedy(logits.data(), logits.size());
      ASSERT_TRUE(ex->step({{s, {next}}}, logits).ok());
      alone[s].push_back(logits);
    }
  }
  // Together: one ragged prefill step (block-table rows of 3, 2 and 1 pages,
  // padded), then batched decode steps, the batch order reversed each time.
  std::unique_ptr<Executor> ex = r->executor(eo);
  std::vector<float> logits;
  ASSERT_TRUE(ex->step({{0, prompts[0]}, {1, prompts[1]}, {2, prompts[2]}}, logits).ok());
  ASSERT_EQ(logits.size(), size_t(3 * V));
  for (int s = 0; s < 3; ++s)
    EXPECT_TRUE(std::equal(alone[s][0].begin(), alone[s][0].end(), logits.begin() + s * V)) << "prefill seq " << s;
  for (int t = 0; t < 6; ++t) {
    std::vector<StepSequence> batch;
    std::vector<int> order = t % 2 ? std::vector<int>{2, 1, 0} : std::vector<int>{0, 1, 2};
    for (int s : order)
      batch.push_back({s, {*Sampler::greedy(alone[s][t].data(), V)}});
    ASSERT_TRUE(ex->step(batch, logits).ok());
    for (size_t i = 0; i < order.size(); ++i)
      EXPECT_TRUE(std::equal(alone[order[i]][t + 1].begin(), alone[order[i]][t + 1].end(), logits.begin() + i * V))
          << "decode " << t << " seq " << order[i];
  }
  EXPECT_EQ(r->mockError(), "");
  for (int s = 0; s < 3; ++s)
    EXPECT_TRUE(ex->release(s).ok());
  EXPECT_EQ(ex->blocks().usedBlocks(), 0);
  EXPECT_FALSE(ex->release(0).ok());
}

//===----------------------------------------------------------------------===//
// Executor errors: nothing changes on a refused step
//===----------------------------------------------------------------------===//

TEST(ExecutorTest, PoolExhaustionIsACleanError) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.kvPages = 3; // 9 tokens
  std::unique_ptr<Executor> ex = r->executor(eo);
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->tokenCapacity(), 9);
  std::vector<float> logits;
  Status s = ex->step({{0, somePrompt(10)}}, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "KV cache pool exhausted")) << s.message();
  EXPECT_EQ(ex->blocks().usedBlocks(), 0);
  EXPECT_EQ(ex->stepsRun(), 0);

  ASSERT_TRUE(ex->step({{0, somePrompt(5)}}, logits).ok());
  s = ex->step({{1, somePrompt(5)}}, logits); // needs 2 pages, 1 free
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "needs 2 new pages of 3 tokens, 1 of 3 are free")) << s.message();
  EXPECT_EQ(ex->contextLength(0), 5);
  EXPECT_FALSE(ex->blocks().hasSequence(1));
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(ex->step({{0, {1}}}, logits).ok());
  s = ex->step({{0, {1}}}, logits);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ex->contextLength(0), 9);
  EXPECT_TRUE(ex->release(0).ok());
  EXPECT_EQ(ex->blocks().freeBlocks(), 3);

  // Without a cache the whole history needs pages at every step.
  eo.noKVCache = true;
  ex = r->executor(eo);
  ASSERT_TRUE(ex->step({{0, somePrompt(8)}}, logits).ok());
  ASSERT_TRUE(ex->step({{0, {1}}}, logits).ok());
  EXPECT_FALSE(ex->step({{0, {1}}}, logits).ok());
  EXPECT_EQ(ex->contextLength(0), 9);
  EXPECT_EQ(r->mockError(), "");
}

TEST(ExecutorTest, BadStepsAreRefused) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::unique_ptr<Executor> ex = r->executor(ExecutorOptions());
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->numPages(), 64); // model context 256 / 4
  std::vector<float> logits;
  struct {
    std::vector<StepSequence> batch;
    const char *expect;
  } cases[] = {
      {{}, "at least one sequence"},
      {{{0, {}}}, "sequence 0 has no new tokens"},
      {{{0, {1, 300}}}, "token 300 (position 1 of sequence 0) is outside the vocabulary [0, 300)"},
      {{{0, {-1}}}, "token -1"},
      {{{0, {1}}, {0, {2}}}, "sequence 0 appears twice"},
      {{{0, somePrompt(257)}}, "beyond the model's context of 256"},
  };
  for (const auto &c : cases) {
    Status s = ex->step(c.batch, logits);
    EXPECT_TRUE(contains(s.message(), c.expect)) << s.message();
  }
  EXPECT_EQ(ex->stepsRun(), 0);
  EXPECT_EQ(ex->blocks().usedBlocks(), 0);

  ExecutorOptions eo;
  eo.maxContext = 1000;
  EXPECT_FALSE(Executor::create(*r->artifact, *r->weights, eo).ok());
  eo = ExecutorOptions();
  eo.maxBatch = 0;
  EXPECT_FALSE(Executor::create(*r->artifact, *r->weights, eo).ok());
}

TEST(ExecutorTest, PoisonedPagesAreNeverRead) {
  // Rig::executor poisons every page a sequence takes with NaN; logits stay
  // finite because only written slots are read, also after pages recycle.
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 2);
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.kvPages = 8;
  std::unique_ptr<Executor> ex = r->executor(eo);
  std::vector<float> logits;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(ex->step({{round, somePrompt(5, round)}}, logits).ok());
    ASSERT_TRUE(ex->step({{round, {3}}}, logits).ok());
    for (float v : logits)
      ASSERT_TRUE(std::isfinite(v));
    ASSERT_TRUE(ex->release(round).ok());
  }
}

//===----------------------------------------------------------------------===//
// Greedy steps: the model's own argmax instead of the logits
//===----------------------------------------------------------------------===//

TEST(ExecutorTest, GreedyStepsPickTheArgmaxOfTheLogits) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.maxContext = 40;
  eo.maxBatch = 3;
  // Two executors fed the same ragged steps: one returns logits, the other
  // only the picks, which must be the sampler's greedy choice of each row.
  std::unique_ptr<Executor> withLogits = r->executor(eo), greedy = r->executor(eo);
  std::vector<StepSequence> step = {{0, somePrompt(9, 1)}, {1, somePrompt(4, 2)}, {2, somePrompt(1, 3)}};
  for (int t = 0; t < 5; ++t) {
    std::vector<float> logits;
    std::vector<int32_t> picks;
    ASSERT_TRUE(withLogits->step(step, logits).ok());
    Status s = greedy->stepGreedy(step, picks);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(picks.size(), step.size());
    for (size_t b = 0; b < step.size(); ++b) {
      Expected<int32_t> want = Sampler::greedy(logits.data() + b * kVocab, kVocab);
      ASSERT_TRUE(want.ok());
      EXPECT_EQ(picks[b], *want) << "step " << t << " row " << b;
      step[b].tokens = {picks[b]};
    }
    std::reverse(step.begin(), step.end());
  }
  EXPECT_EQ(r->mockError(), "");
}

TEST(ExecutorTest, AGreedyPickOfNaNIsAnErrorNamingTheToken) {
  TinyConfig c;
  c.tied = false;
  std::unique_ptr<Rig> r = Rig::make(c, 4);
  ASSERT_TRUE(r);
  // Row 17 of the LM head poisoned: the logit of token 17 is NaN, which the
  // argmax ranks above every number.
  const int64_t hidden = c.hidden;
  for (const ManifestWeight &w : r->artifact->manifest().weights)
    if (w.name == "lm_head")
      for (int64_t i = 0; i < hidden; ++i)
        static_cast<float *>(r->weights->data())[w.offset + 17 * hidden + i] = std::numeric_limits<float>::quiet_NaN();
  std::unique_ptr<Executor> ex = r->executor(ExecutorOptions());
  std::vector<int32_t> picks;
  Status s = ex->stepGreedy({{5, {1, 2, 3}}}, picks);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "executor: sequence 5: logit of token 17 is NaN");
}
