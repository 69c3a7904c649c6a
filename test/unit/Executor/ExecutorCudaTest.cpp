//===- ExecutorCudaTest.cpp - The executor's device path (mock driver) ----===//
//
// A CUDA artifact keeps the weights and the KV pools in device memory,
// uploads each step's arguments and downloads the logits. Against the mock
// driver (test/unit/CUDA/MockCuda.h: device memory is host memory) the mock
// model.so computes on those device buffers, so the device path must give
// exactly the tokens and logits of the host path; driver failures become step
// errors and a missing driver is reported when the artifact is opened.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <cstdlib>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;

namespace {

class ExecutorCuda : public ::testing::Test {
protected:
  void SetUp() override {
    const char *old = std::getenv("KVCC_LIBCUDA");
    saved_ = old ? old : "";
    setenv("KVCC_LIBCUDA", KVCC_MOCK_CUDA, 1);
    unsetenv("KVCC_MOCK_CUDA_FAIL");
    cuda::mgpuResetForTesting();
  }
  void TearDown() override {
    unsetenv("KVCC_MOCK_CUDA_FAIL");
    cuda::mgpuResetForTesting();
    if (saved_.empty())
      unsetenv("KVCC_LIBCUDA");
    else
      setenv("KVCC_LIBCUDA", saved_.c_str(), 1);
  }
  std::string saved_;
};

TEST_F(ExecutorCuda, DevicePathEqualsHostPath) {
  for (const TinyConfig &c : {withKV(2), qwen2(), mistral()}) {
    SCOPED_TRACE(c.arch);
    std::unique_ptr<Rig> host = Rig::make(c, 3), device = Rig::make(c, 3, "cuda");
    ASSERT_TRUE(host && device);
    ExecutorOptions eo;
    eo.maxContext = 64;
    std::vector<int32_t> prompt = somePrompt(9);
    std::vector<int32_t> a = host->greedy(prompt, 24, eo), b = device->greedy(prompt, 24, eo);
    ASSERT_EQ(a.size(), 24u);
    EXPECT_EQ(a, b);

    // A ragged step (a prefill next to a decode token) gives the same bits.
    std::unique_ptr<Executor> eh = host->executor(eo), ed = device->executor(eo);
    ASSERT_TRUE(eh && ed);
    EXPECT_FALSE(eh->onDevice());
    EXPECT_TRUE(ed->onDevice());
    EXPECT_EQ(ed->layerPool(0), nullptr);
    std::vector<float> lh, ld;
    for (const std::vector<StepSequence> &step :
         {std::vector<StepSequence>{{1, somePrompt(7, 1)}, {2, somePrompt(4, 2)}},
          std::vector<StepSequence>{{2, {5}}, {1, somePrompt(3, 3)}, {3, somePrompt(12, 4)}}}) {
      ASSERT_TRUE(eh->step(step, lh).ok());
      Status s = ed->step(step, ld);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(lh.size(), ld.size());
      for (size_t i = 0; i < lh.size(); ++i)
        ASSERT_EQ(lh[i], ld[i]) << "logit " << i;
      for (float v : ld)
        ASSERT_TRUE(std::isfinite(v)); // poisoned pages were not read
    }
    EXPECT_EQ(device->mockError(), "");
  }
}

/// A test hook of the mock driver (MockCuda.h), from the library instance
/// the runtime loaded; null if absent.
template <typename Fn> Fn mockHook(const char *name) {
  void *lib = ::dlopen(KVCC_MOCK_CUDA, RTLD_NOW | RTLD_NOLOAD);
  if (!lib)
    return nullptr;
  auto fn = reinterpret_cast<Fn>(::dlsym(lib, name));
  ::dlclose(lib); // still loaded by the runtime
  return fn;
}

/// Times the API function `name` was entered since the last reset.
int mockCalls(const char *name) {
  auto count = mockHook<int (*)(const char *)>("kvcc_mock_cuda_call_count");
  return count ? count(name) : -1;
}

/// Bytes the copy function `name` moved since the last reset.
int64_t mockBytes(const char *name) {
  auto bytes = mockHook<int64_t (*)(const char *)>("kvcc_mock_cuda_bytes_copied");
  return bytes ? bytes(name) : -1;
}

void resetMockCalls() {
  auto reset = mockHook<void (*)()>("kvcc_mock_cuda_reset");
  ASSERT_NE(reset, nullptr);
  reset();
}

TEST_F(ExecutorCuda, OneCopyEachWayAndOneHostWaitPerStep) {
  std::unique_ptr<Rig> r = Rig::make(withKV(2), 4, "cuda");
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.maxContext = 32;
  std::unique_ptr<Executor> ex = r->executor(eo);
  ASSERT_TRUE(ex);
  std::vector<float> logits;
  // A prefill that takes new pages (poisoned on the legacy stream: ordered
  // by an event, not a host wait), then a decode step.
  for (const std::vector<StepSequence> &step :
       {std::vector<StepSequence>{{0, somePrompt(9)}, {1, somePrompt(3, 2)}},
        std::vector<StepSequence>{{0, {7}}, {1, {8}}}}) {
    resetMockCalls();
    Status s = ex->step(step, logits);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(mockCalls("cuMemcpyHtoDAsync"), 1);
    EXPECT_EQ(mockCalls("cuMemcpyDtoHAsync"), 1);
    EXPECT_EQ(mockCalls("cuStreamSynchronize"), 1);
    EXPECT_EQ(mockCalls("cuCtxSynchronize"), 0);
    EXPECT_EQ(mockCalls("cuStreamWaitEvent"), 1);
    for (float v : logits)
      ASSERT_TRUE(std::isfinite(v));
  }
}

TEST_F(ExecutorCuda, AGreedyStepBringsBackOnlyThePicks) {
  std::unique_ptr<Rig> r = Rig::make(withKV(2), 4, "cuda");
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.maxContext = 32;
  eo.maxBatch = 2;
  std::unique_ptr<Executor> withLogits = r->executor(eo), greedy = r->executor(eo);
  ASSERT_TRUE(withLogits && greedy);
  std::vector<StepSequence> step = {{0, somePrompt(9)}, {1, somePrompt(3, 2)}};
  for (int t = 0; t < 3; ++t) {
    std::vector<float> logits;
    std::vector<int32_t> picks;
    ASSERT_TRUE(withLogits->step(step, logits).ok());
    resetMockCalls();
    Status s = greedy->stepGreedy(step, picks);
    ASSERT_TRUE(s.ok()) << s.message();
    // Still one copy each way and one wait; the download is the picks'
    // buffer (2 ids, then 2 logits at the next 256-byte boundary), not the
    // 2 x vocab logits.
    EXPECT_EQ(mockCalls("cuMemcpyHtoDAsync"), 1);
    EXPECT_EQ(mockCalls("cuMemcpyDtoHAsync"), 1);
    EXPECT_EQ(mockBytes("cuMemcpyDtoHAsync"), 256 + 2 * 4);
    EXPECT_EQ(mockCalls("cuStreamSynchronize"), 1);
    for (size_t b = 0; b < step.size(); ++b) {
      EXPECT_EQ(picks[b], *Sampler::greedy(logits.data() + b * kVocab, kVocab)) << "row " << b;
      step[b].tokens = {picks[b]};
    }
  }
  EXPECT_EQ(r->mockError(), "");
}

TEST_F(ExecutorCuda, DriverFailuresBecomeStepErrors) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4, "cuda");
  ASSERT_TRUE(r);
  ExecutorOptions eo;
  eo.maxContext = 32;
  std::unique_ptr<Executor> ex = r->executor(eo);
  ASSERT_TRUE(ex);
  std::vector<float> logits;
  setenv("KVCC_MOCK_CUDA_FAIL", "cuMemcpyHtoDAsync", 1);
  Status s = ex->step({{0, somePrompt(5)}}, logits);
  unsetenv("KVCC_MOCK_CUDA_FAIL");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "executor: copying the step's buffers: ")) << s.message();
  EXPECT_TRUE(contains(s.message(), "cuMemcpyHtoDAsync failed: CUDA_ERROR_INVALID_VALUE")) << s.message();

  // A failure recorded by the mgpu functions before the step's launches
  // (here, by hand) is the step's error.
  cuda::mgpuRecordFailure("mgpuLaunchKernel: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED");
  s = ex->step({{1, somePrompt(3)}}, logits);
  EXPECT_EQ(s.message(),
            "executor: the CUDA step failed: mgpuLaunchKernel: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED");
}

/// Runs `steps` on a host executor and a CUDA one (graphs on) side by side;
/// every step must give the same logits, bit for bit. Each step lists
/// (sequence, new tokens); a sequence with no tokens is released.
void expectGraphsMatchTheHost(Executor &host, Executor &device,
                              const std::vector<std::vector<StepSequence>> &steps) {
  std::vector<float> lh, ld;
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    std::vector<StepSequence> run;
    for (const StepSequence &s : steps[i]) {
      if (!s.tokens.empty()) {
        run.push_back(s);
        continue;
      }
      ASSERT_TRUE(host.release(s.seq).ok());
      ASSERT_TRUE(device.release(s.seq).ok());
    }
    ASSERT_TRUE(host.step(run, lh).ok());
    Status st = device.step(run, ld);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(lh.size(), ld.size());
    for (size_t j = 0; j < lh.size(); ++j)
      ASSERT_EQ(lh[j], ld[j]) << "logit " << j;
  }
}

/// Decode steps of `seqs` (one token each, different every step).
std::vector<std::vector<StepSequence>> decodeSteps(const std::vector<int64_t> &seqs, int n, int32_t first) {
  std::vector<std::vector<StepSequence>> steps;
  for (int t = 0; t < n; ++t) {
    std::vector<StepSequence> step;
    for (int64_t s : seqs)
      step.push_back({s, {static_cast<int32_t>((first + 7 * t + 3 * s) % kVocab)}});
    steps.push_back(step);
  }
  return steps;
}

TEST_F(ExecutorCuda, DecodeStepsReplayFromCudaGraphs) {
  std::unique_ptr<Rig> host = Rig::make(withKV(2), 4, "cpu"), device = Rig::make(withKV(2), 4, "cuda");
  ASSERT_TRUE(host && device);
  ExecutorOptions eo;
  eo.maxContext = 64;
  eo.maxBatch = 3;
  eo.poisonNewPages = true; // a replay reading a stale page table shows as NaN
  std::unique_ptr<Executor> eh = host->executor(eo);
  eo.cudaGraphs = true;
  std::unique_ptr<Executor> ed = device->executor(eo);
  ASSERT_TRUE(eh && ed);
  EXPECT_TRUE(ed->cudaGraphStats().enabled);

  // Two sequences decode across page boundaries (4 tokens a page), a third
  // joins with a prefill chunk (not a graph step), all three decode, one
  // leaves, two decode again: graphs for batch 2 and batch 3, each replayed
  // on the current tokens, positions and pages.
  std::vector<std::vector<StepSequence>> steps = {{{1, somePrompt(5, 1)}, {2, somePrompt(2, 2)}}};
  for (const auto &s : decodeSteps({1, 2}, 12, 11))
    steps.push_back(s);
  steps.push_back({{3, somePrompt(6, 3)}});
  for (const auto &s : decodeSteps({1, 2, 3}, 9, 5))
    steps.push_back(s);
  std::vector<std::vector<StepSequence>> lastTwo = decodeSteps({3, 2}, 9, 17);
  lastTwo[0].insert(lastTwo[0].begin(), {1, {}}); // released before the step
  for (const auto &s : lastTwo)
    steps.push_back(s);
  resetMockCalls();
  expectGraphsMatchTheHost(*eh, *ed, steps);

  const CudaGraphStats &g = ed->cudaGraphStats();
  EXPECT_TRUE(g.enabled);
  EXPECT_EQ(g.disabledBecause, "");
  EXPECT_EQ(g.captured, 2); // no buffer grew under a graph
  EXPECT_EQ(g.captured, mockCalls("cuStreamBeginCapture"));
  EXPECT_EQ(kvcc_cuda_live_graphs(), 2);
  // Every decode step is a replay but the first of each batch size (batch
  // 2 comes back after batch 3: its graph is still there).
  EXPECT_EQ(g.replayed, 12 + 9 + 9 - 2);
  EXPECT_EQ(g.replayed, mockCalls("cuGraphLaunch"));
  EXPECT_EQ(g.eagerSteps, 2 + 2);
  EXPECT_EQ(g.replayed + g.eagerSteps, ed->stepsRun());
  EXPECT_EQ(device->mockError(), "");
  ed.reset();
  EXPECT_EQ(kvcc_cuda_live_graphs(), 0);
}

TEST_F(ExecutorCuda, AFailedCaptureFallsBackToLaunches) {
  // Refused at the start, or after the whole step was recorded.
  for (const char *fail : {"cuStreamBeginCapture=CUDA_ERROR_NOT_SUPPORTED",
                           "cuGraphInstantiateWithFlags=CUDA_ERROR_OUT_OF_MEMORY"}) {
    SCOPED_TRACE(fail);
    std::unique_ptr<Rig> host = Rig::make(TinyConfig(), 4, "cpu"), device = Rig::make(TinyConfig(), 4, "cuda");
    ASSERT_TRUE(host && device);
    ExecutorOptions eo;
    eo.maxContext = 32;
    std::unique_ptr<Executor> eh = host->executor(eo);
    eo.cudaGraphs = true;
    std::unique_ptr<Executor> ed = device->executor(eo);
    ASSERT_TRUE(eh && ed);
    std::vector<std::vector<StepSequence>> steps = {{{0, somePrompt(3)}}};
    for (const auto &s : decodeSteps({0}, 6, 2))
      steps.push_back(s);
    setenv("KVCC_MOCK_CUDA_FAIL", fail, 1);
    expectGraphsMatchTheHost(*eh, *ed, steps);
    unsetenv("KVCC_MOCK_CUDA_FAIL");
    const CudaGraphStats &g = ed->cudaGraphStats();
    EXPECT_FALSE(g.enabled);
    const std::string call = std::string(fail).substr(0, std::string(fail).find('='));
    EXPECT_TRUE(contains(g.disabledBecause, call + " failed: CUDA_ERROR_")) << g.disabledBecause;
    EXPECT_EQ(g.captured, 0);
    EXPECT_EQ(g.replayed, 0);
    EXPECT_EQ(g.eagerSteps, 7);
    EXPECT_EQ(kvcc_cuda_live_graphs(), 0);
    EXPECT_EQ(device->mockError(), "");
  }
}

TEST_F(ExecutorCuda, AnEarlierFailureIsTheStepsErrorNotAGraphFailure) {
  std::unique_ptr<Rig> device = Rig::make(TinyConfig(), 4, "cuda");
  ASSERT_TRUE(device);
  ExecutorOptions eo;
  eo.maxContext = 32;
  eo.cudaGraphs = true;
  std::unique_ptr<Executor> ed = device->executor(eo);
  ASSERT_TRUE(ed);
  std::vector<float> logits;
  ASSERT_TRUE(ed->step({{0, somePrompt(3)}}, logits).ok());
  ASSERT_TRUE(ed->step({{0, {4}}}, logits).ok()); // warms batch 1 up
  cuda::mgpuRecordFailure("mgpuLaunchKernel: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED");
  Status s = ed->step({{0, {5}}}, logits); // would be captured
  EXPECT_EQ(s.message(),
            "executor: the CUDA step failed: mgpuLaunchKernel: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED");
  EXPECT_TRUE(ed->cudaGraphStats().enabled);
  EXPECT_EQ(ed->cudaGraphStats().disabledBecause, "");
}

TEST_F(ExecutorCuda, MissingDriverIsReportedAtOpen) {
  setenv("KVCC_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  std::string model = writeModel(TinyConfig());
  Expected<std::unique_ptr<Artifact>> a =
      Artifact::open(writeArtifact(withTarget(json::write(manifestFor(specOf(model), 16)), "cuda")));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.message(), "kvcc_cuda_init: no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded"))
      << a.message();
}

} // namespace

TEST_F(ExecutorCuda, BatchedGenerationOnTheDeviceEqualsTheHost) {
  // Generator::generateBatch on the device path: steps that mix a new
  // prompt with decode tokens run launch by launch, decode-only steps replay
  // a graph per batch size as sequences finish (4, then 3, 2, 1 at the end).
  std::unique_ptr<Rig> host = Rig::make(withKV(2), 4, "cpu"), device = Rig::make(withKV(2), 4, "cuda");
  ASSERT_TRUE(host && device);
  std::vector<std::vector<int32_t>> prompts;
  for (size_t n : {5, 1, 9, 3, 7, 2})
    prompts.push_back(somePrompt(n, 40 + n));
  GenerateOptions go;
  go.maxTokens = 9;
  go.ignoreEos = true;
  ExecutorOptions eo;
  eo.maxContext = 24;
  eo.maxBatch = 4;
  std::unique_ptr<Executor> eh = host->executor(eo);
  eo.cudaGraphs = true;
  std::unique_ptr<Executor> ed = device->executor(eo);
  ASSERT_TRUE(eh && ed);
  Expected<BatchResult> onHost = host->generator->generateBatch(*eh, prompts, go, 4);
  Expected<BatchResult> onDevice = device->generator->generateBatch(*ed, prompts, go, 4);
  ASSERT_TRUE(onHost.ok()) << onHost.message();
  ASSERT_TRUE(onDevice.ok()) << onDevice.message();
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(onDevice->results[i].tokens, onHost->results[i].tokens) << "prompt " << i;
  const CudaGraphStats &g = ed->cudaGraphStats();
  EXPECT_EQ(g.disabledBecause, "");
  EXPECT_GE(g.captured, 2);
  EXPECT_GT(g.replayed, 0);
  EXPECT_EQ(g.replayed + g.eagerSteps, ed->stepsRun());
  EXPECT_EQ(ed->blocks().usedBlocks(), 0);
  EXPECT_EQ(device->mockError(), "");
}
