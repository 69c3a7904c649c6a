//===- TestModel.h - Tiny models and artifacts for tests --------*- C++ -*-===//
//
// Every input of the executor's tests is written by the tests: a tiny random
// Llama-family model as a Hugging Face directory (config.json,
// model.safetensors, tokenizer.json), a manifest.json, and a copy of
// MockModel.cpp's library as model.so. The writers, and the Rig that loads an
// artifact with its model, are shared by ManifestTest.cpp,
// ExecutorStepTest.cpp, GeneratorTest.cpp, KvccRunCliTest.cpp and
// MockModelTest.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_UNIT_EXECUTOR_TESTMODEL_H
#define KVCC_TEST_UNIT_EXECUTOR_TESTMODEL_H

#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/Artifact.h"
#include "kvcc/Runtime/Executor.h"
#include "kvcc/Runtime/Generator.h"
#include "kvcc/Runtime/WeightArena.h"
#include "kvcc/Support/Json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace exectest {

using namespace kvcc;
using namespace kvcc::runtime;
using json::Value;

//===----------------------------------------------------------------------===//
// Scratch files
//===----------------------------------------------------------------------===//

/// One directory for the whole process, removed at exit. Artifact
/// directories are never deleted earlier: a model.so that stays mapped must
/// not see its inode reused by a later test's copy (dlopen matches loaded
/// libraries by inode).
class ScratchRoot {
public:
  ScratchRoot() {
    std::string t = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/kvcc-exec-XXXXXX");
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~ScratchRoot() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  std::string fresh(const std::string &name) {
    std::string p = path_ + "/" + name + "-" + std::to_string(counter_++);
    std::filesystem::create_directories(p);
    return p;
  }

private:
  std::string path_;
  int counter_ = 0;
};

ScratchRoot &scratch();

void writeFile(const std::string &path, const std::string &bytes);

//===----------------------------------------------------------------------===//
// Tiny models
//===----------------------------------------------------------------------===//

struct TinyConfig {
  std::string arch = "llama";
  int64_t layers = 2, hidden = 64, heads = 4, kvHeads = 2, headDim = 16, ffn = 128, maxPos = 256;
  bool tied = false;
  std::optional<int64_t> window; // mistral only
  uint64_t seed = 1;
  /// Element 3 of this weight is 1e5, beyond f16's range (65504).
  std::string hugeWeight;
};
inline constexpr int64_t kVocab = 300;
inline constexpr int32_t kBos = 258, kImStart = 259, kEos = 260; // see tokenizerJson

TinyConfig withKV(int64_t kv);
TinyConfig mistral();
TinyConfig tied();
TinyConfig qwen2();

/// Writes config.json, tokenizer files and random weights (scaled as in
/// python/kvcc_ref/tiny_model.py so that greedy decoding does not collapse
/// onto one token). `reshape` may replace a tensor's shape (mismatch tests).
std::string writeModel(const TinyConfig &c, const std::string &badTensor = "");

//===----------------------------------------------------------------------===//
// Artifacts
//===----------------------------------------------------------------------===//

/// The manifest `kvcc compile` would write for `spec`. Weights are listed in
/// reverse order with gaps between them, so offsets are really followed.
Value manifestFor(const ModelSpec &spec, int64_t blockSize, const std::string &weightsDType = "f32");

std::string writeArtifact(const std::string &manifestText, const char *library = KVCC_MOCK_MODEL);

/// `manifestText` (as manifestFor + json::write give it) with another target.
inline std::string withTarget(std::string manifestText, const std::string &target) {
  const std::string from = "\"target\": \"cpu\"";
  size_t at = manifestText.find(from);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos && target != "cpu")
    manifestText.replace(at, from.size(), "\"target\": \"" + target + "\"");
  return manifestText;
}

ModelSpec specOf(const std::string &modelDir);

//===----------------------------------------------------------------------===//
// A loaded artifact + model
//===----------------------------------------------------------------------===//

struct Rig {
  std::string modelDir, artifactDir;
  std::unique_ptr<Artifact> artifact;
  std::unique_ptr<ModelSource> source;
  std::optional<WeightArena> weights;
  std::optional<Generator> generator;

  /// `target` "cuda" runs the same mock model.so through the executor's
  /// device path (tests point KVCC_LIBCUDA at the mock driver, whose device
  /// memory is host memory, so the mock computes on device buffers).
  static std::unique_ptr<Rig> make(const TinyConfig &c, int64_t blockSize, const std::string &target = "cpu") {
    auto r = std::make_unique<Rig>();
    r->modelDir = writeModel(c);
    r->artifactDir = writeArtifact(withTarget(json::write(manifestFor(specOf(r->modelDir), blockSize)), target));
    Expected<std::unique_ptr<Artifact>> a = Artifact::open(r->artifactDir);
    EXPECT_TRUE(a.ok()) << a.message();
    if (!a)
      return nullptr;
    r->artifact = a.take();
    Expected<std::unique_ptr<ModelSource>> s = ModelSource::open(r->modelDir);
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s)
      return nullptr;
    r->source = s.take();
    Expected<WeightArena> w = WeightArena::load(*r->artifact, *r->source);
    EXPECT_TRUE(w.ok()) << w.message();
    if (!w)
      return nullptr;
    r->weights.emplace(w.take());
    Expected<Generator> g = Generator::create(*r->source);
    EXPECT_TRUE(g.ok()) << g.message();
    if (!g)
      return nullptr;
    r->generator.emplace(g.take());
    return r;
  }

  std::unique_ptr<Executor> executor(ExecutorOptions o) {
    o.poisonNewPages = true;
    Expected<std::unique_ptr<Executor>> e = Executor::create(*artifact, *weights, o);
    EXPECT_TRUE(e.ok()) << e.message();
    return e ? e.take() : nullptr;
  }

  std::string mockError() const {
    auto fn = reinterpret_cast<const char *(*)()>(artifact->lookup("kvcc_mock_error"));
    return fn ? fn() : "no kvcc_mock_error hook";
  }

  /// Greedy tokens after `prompt`, checking that no page is left behind.
  std::vector<int32_t> greedy(const std::vector<int32_t> &prompt, int64_t n, ExecutorOptions eo,
                              int64_t prefillChunk = 0, GenerateStats *stats = nullptr) {
    std::unique_ptr<Executor> ex = executor(eo);
    if (!ex)
      return {};
    GenerateOptions go;
    go.maxTokens = n;
    go.ignoreEos = true;
    go.prefillChunk = prefillChunk;
    Expected<GenerateResult> r = generator->generate(*ex, prompt, go, nullptr);
    EXPECT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(ex->blocks().usedBlocks(), 0);
    EXPECT_EQ(ex->blocks().numSequences(), 0u);
    EXPECT_TRUE(ex->blocks().checkInvariants().ok());
    EXPECT_EQ(mockError(), "");
    if (!r)
      return {};
    if (stats)
      *stats = r->stats;
    return r->tokens;
  }
};

std::vector<int32_t> somePrompt(size_t n, uint64_t seed = 7);

bool contains(const std::string &haystack, const std::string &needle);

/// `s` quoted for the shell.
std::string quote(const std::string &s);

} // namespace exectest

#endif // KVCC_TEST_UNIT_EXECUTOR_TESTMODEL_H
