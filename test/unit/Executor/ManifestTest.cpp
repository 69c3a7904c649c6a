//===- ManifestTest.cpp - Artifact manifests and the WeightArena ----------===//
//
// Manifest validation and library loading (every malformed field is named),
// and the WeightArena's check that the model is the one the artifact was
// compiled for. Inputs come from TestModel.h.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include "kvcc/Frontend/GGUF.h" // halfToFloat, bfloat16ToFloat

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;
using json::Value;

namespace {

/// A copy of `v` with the member at `path` replaced (or removed when
/// `replacement` is empty). Path elements are keys, or indices into arrays.
Value edited(const Value &v, const std::vector<std::string> &path, const std::optional<Value> &replacement,
             size_t depth = 0) {
  if (depth == path.size())
    return replacement.value_or(Value());
  if (v.isArray()) {
    std::vector<Value> items = v.asArray();
    size_t i = std::stoul(path[depth]);
    items[i] = edited(items[i], path, replacement, depth + 1);
    return Value::array(items);
  }
  std::vector<std::pair<std::string, Value>> members;
  bool found = false;
  for (const auto &[k, m] : v.asObject()) {
    if (k != path[depth]) {
      members.emplace_back(k, m);
      continue;
    }
    found = true;
    if (depth + 1 == path.size() && !replacement)
      continue;
    members.emplace_back(k, edited(m, path, replacement, depth + 1));
  }
  if (!found && replacement && depth + 1 == path.size())
    members.emplace_back(path[depth], *replacement);
  return Value::object(members);
}

} // namespace

//===----------------------------------------------------------------------===//
// Artifact: manifest validation and library loading
//===----------------------------------------------------------------------===//

class ManifestTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    modelDir_ = new std::string(writeModel(TinyConfig()));
    base_ = new Value(manifestFor(specOf(*modelDir_), 3));
  }
  static void TearDownTestSuite() {
    delete modelDir_;
    delete base_;
  }
  static std::string openError(const std::string &text) {
    Expected<std::unique_ptr<Artifact>> a = Artifact::open(writeArtifact(text));
    return a ? std::string("(opened)") : a.message();
  }
  static std::string *modelDir_;
  static Value *base_;
};
std::string *ManifestTest::modelDir_;
Value *ManifestTest::base_;

TEST_F(ManifestTest, ValidManifestOpens) {
  Expected<std::unique_ptr<Artifact>> a = Artifact::open(writeArtifact(json::write(*base_)));
  ASSERT_TRUE(a.ok()) << a.message();
  const Manifest &m = (*a)->manifest();
  EXPECT_EQ(m.target, "cpu");
  EXPECT_EQ(m.cache.blockSize, 3);
  EXPECT_EQ(m.cache.layers, 2);
  EXPECT_EQ(m.cache.pageElements(), 2 * 3 * 2 * 16);
  EXPECT_EQ(m.weights.size(), expectedWeights(m.spec).size());
  EXPECT_EQ(m.weights.front().name, "lm_head"); // manifest order is kept
  EXPECT_NE((*a)->step(), nullptr);
  EXPECT_NE((*a)->lookup("kvcc_mock_error"), nullptr);
  EXPECT_EQ((*a)->lookup("no_such_symbol"), nullptr);
}

TEST_F(ManifestTest, EveryMalformedFieldIsNamed) {
  const Value &w0 = base_->get("weights")->asArray()[0];
  struct Case {
    std::vector<std::string> path;
    std::optional<Value> value;
    const char *expect;
  } cases[] = {
      {{"format"}, Value::string("gguf"), "field 'format' is 'gguf'"},
      {{"format"}, std::nullopt, "missing field 'format'"},
      {{"version"}, Value::number(1), "field 'version' is 1"},
      {{"version"}, Value::string("1"), "field 'version' is a string"},
      {{"target"}, Value::string("tpu"), "field 'target' is 'tpu'"},
      {{"target"}, Value::number(1), "field 'target' is a number"},
      {{"entry"}, Value::string("main"), "field 'entry' is 'main'"},
      {{"model"}, std::nullopt, "missing field 'model'"},
      {{"model"}, Value::array({}), "field 'model' is an array"},
      {{"model", "numLayers"}, Value::number(0), "numLayers is 0"},
      {{"model", "arch"}, Value::string("gpt2"), "'gpt2'"},
      {{"model", "headDim"}, std::nullopt, "headDim"},
      {{"cache"}, std::nullopt, "missing field 'cache'"},
      {{"cache", "block_size"}, Value::number(0), "field 'cache.block_size' is 0"},
      {{"cache", "block_size"}, Value::number(-3), "field 'cache.block_size' is -3"},
      {{"cache", "block_size"}, Value::number(2.5), "field 'cache.block_size' is 2.5"},
      {{"cache", "block_size"}, Value::string("3"), "field 'cache.block_size' is a string"},
      {{"cache", "block_size"}, Value::number(1e12), "field 'cache.block_size' is 1000000000000"},
      {{"cache", "block_size"}, std::nullopt, "missing field 'cache.block_size'"},
      {{"cache", "layers"}, Value::number(3), "field 'cache.layers' is 3 but model.numLayers is 2"},
      {{"cache", "kv_heads"}, Value::number(4), "field 'cache.kv_heads' is 4 but model.numKVHeads is 2"},
      {{"cache", "head_dim"}, Value::number(8), "field 'cache.head_dim' is 8 but model.headDim is 16"},
      {{"cache", "dtype"}, Value::string("f8"), "field 'cache.dtype' is 'f8': not a cache element type of this runtime (expected 'f32', 'f16', 'bf16')"},
      {{"cache", "layout"}, Value::string("head_major"), "field 'cache.layout' is 'head_major'"},
      {{"weights_size"}, Value::number(0), "field 'weights_size' is 0"},
      {{"weights_size"}, std::nullopt, "missing field 'weights_size'"},
      {{"weights_size"}, Value::number(1e9), "field 'weights_size' is 1000000000 but the weights listed hold"},
      {{"weights_size"}, Value::number(100), "field 'weights[0].offset': weight 'lm_head' spans [5, 19205)"},
      {{"weights_dtype"}, Value::string("f8"), "field 'weights_dtype' is 'f8': not a weight element type of this runtime (expected 'f32', 'f16', 'bf16')"},
      {{"weights_dtype"}, std::nullopt, "missing field 'weights_dtype'"},
      {{"weights"}, std::nullopt, "missing field 'weights'"},
      {{"weights"}, Value::array({}), "field 'weights' is empty"},
      {{"weights"}, Value::string("x"), "field 'weights' is a string"},
      {{"weights", "0"}, Value::number(5), "field 'weights[0]' is a number"},
      {{"weights", "1", "name"}, Value::string("layers.9.wq"), "field 'weights[1].name' is 'layers.9.wq'"},
      {{"weights", "1", "name"}, Value::string("lm_head"), "weight 'lm_head' is listed twice"},
      {{"weights", "1", "name"}, std::nullopt, "missing field 'weights[1].name'"},
      {{"weights", "1", "shape"}, Value::array({Value::number(65)}), "field 'weights[1].shape' of 'final_norm' is [65]"},
      {{"weights", "0", "shape"}, Value::array({Value::number(64), Value::number(300)}),
       "field 'weights[0].shape' of 'lm_head' is [64, 300] but the model spec implies [300, 64]"},
      {{"weights", "1", "shape"}, Value::array({}), "field 'weights[1].shape' has rank 0"},
      {{"weights", "0", "shape", "0"}, Value::number(-1), "field 'weights[0].shape[0]' is -1"},
      {{"weights", "1", "offset"}, Value::number(-1), "field 'weights[1].offset' is -1"},
      {{"weights", "1", "offset"}, Value::number(0.5), "field 'weights[1].offset' is 0.5"},
      {{"weights", "1", "offset"}, std::nullopt, "missing field 'weights[1].offset'"},
      {{"weights", "1", "offset"}, *w0.get("offset"), "overlap"},
  };
  for (const Case &c : cases) {
    std::string err = openError(json::write(edited(*base_, c.path, c.value)));
    EXPECT_TRUE(contains(err, c.expect)) << "case " << c.path.front() << ": " << err;
    EXPECT_TRUE(contains(err, "manifest.json")) << err;
  }
}

TEST_F(ManifestTest, BrokenDocumentsAreRejected) {
  EXPECT_TRUE(contains(openError("[]"), "the manifest is an array, expected an object"));
  EXPECT_TRUE(contains(openError("{\"format\": \"kvcc-artifact\","), "manifest.json:1:"));
  EXPECT_TRUE(contains(openError(""), "manifest.json"));
  std::string dir = scratch().fresh("empty");
  Expected<std::unique_ptr<Artifact>> a = Artifact::open(dir);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.message(), dir + "/manifest.json")) << a.message();
}

TEST_F(ManifestTest, LibraryErrorsNameTheFileAndSymbol) {
  std::string text = json::write(*base_);
  Expected<std::unique_ptr<Artifact>> a = Artifact::open(writeArtifact(text, KVCC_MOCK_MODEL_NOSTEP));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.message(), "model.so: missing entry point 'kvcc_step'")) << a.message();

  std::string dir = scratch().fresh("nolib");
  writeFile(dir + "/manifest.json", text);
  a = Artifact::open(dir);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.message(), dir + "/model.so: cannot load the model library")) << a.message();

  writeFile(dir + "/model.so", "not an ELF file");
  a = Artifact::open(dir);
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(contains(a.message(), "model.so")) << a.message();
}

//===----------------------------------------------------------------------===//
// WeightArena: the model must be the one the artifact was compiled for
//===----------------------------------------------------------------------===//

std::string arenaError(const TinyConfig &compiled, const TinyConfig &model, const std::string &badTensor = "") {
  std::string art = writeArtifact(json::write(manifestFor(specOf(writeModel(compiled)), 4)));
  Expected<std::unique_ptr<Artifact>> a = Artifact::open(art);
  EXPECT_TRUE(a.ok()) << a.message();
  Expected<std::unique_ptr<ModelSource>> s = ModelSource::open(writeModel(model, badTensor));
  EXPECT_TRUE(s.ok()) << s.message();
  if (!a || !s)
    return "(setup failed)";
  Expected<WeightArena> w = WeightArena::load(**a, **s);
  return w ? std::string("(loaded)") : w.message();
}

TEST(WeightArenaTest, SpecMismatchesAreNamed) {
  TinyConfig c, m;
  m.layers = 3;
  EXPECT_TRUE(contains(arenaError(c, m), "has 3 layers but the artifact was compiled for 2")) << arenaError(c, m);
  m = c;
  m.ffn = 96;
  EXPECT_TRUE(contains(arenaError(c, m), "has intermediate (FFN) size 96 but the artifact was compiled for 128"));
  m = c;
  m.kvHeads = 1;
  EXPECT_TRUE(contains(arenaError(c, m), "has KV heads 1 but the artifact was compiled for 2"));
  m = c;
  m.tied = true;
  EXPECT_TRUE(contains(arenaError(c, m), "has tied embeddings but the artifact was compiled without them"));
  m = c;
  m.arch = "mistral";
  m.window = 8;
  EXPECT_TRUE(contains(arenaError(c, m), "has architecture 'mistral'"));
}

TEST(WeightArenaTest, TensorShapeMismatchIsNamed) {
  TinyConfig c;
  std::string err = arenaError(c, c, "layers.1.w_up");
  EXPECT_TRUE(contains(err, "model.layers.1.mlp.up_proj.weight")) << err;
  EXPECT_TRUE(contains(err, "[128, 65], expected [128, 64]")) << err;
}

TEST(WeightArenaTest, WeightsLandAtTheirOffsets) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->weights->bytes(), r->artifact->manifest().weightsSize * 4);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(r->weights->data()) % 64, 0u);
  const auto *arena = static_cast<const float *>(r->weights->data());
  for (const ManifestWeight &w : r->artifact->manifest().weights) {
    std::vector<float> expect(static_cast<size_t>(w.numElements));
    ASSERT_TRUE(r->source->readWeight(w.name, expect.data(), expect.size()).ok());
    EXPECT_EQ(std::memcmp(expect.data(), arena + w.offset, expect.size() * 4), 0) << w.name;
    EXPECT_EQ(arena[w.offset - 1], 0.0f) << "gap before " << w.name;
  }
}

/// The artifact of `c` with 16-bit weights (the mock model.so takes any).
std::unique_ptr<Artifact> halfArtifact(const std::string &modelDir, const std::string &dtype) {
  Expected<std::unique_ptr<Artifact>> a =
      Artifact::open(writeArtifact(json::write(manifestFor(specOf(modelDir), 4, dtype))));
  EXPECT_TRUE(a.ok()) << a.message();
  return a ? a.take() : nullptr;
}

// kvcc compile --dtype=f16|bf16: the arena holds each weight rounded to
// nearest even, two bytes an element, at the manifest's offsets.
TEST(WeightArenaTest, HalfPrecisionArenasHoldRoundedWeights) {
  std::string modelDir = writeModel(TinyConfig());
  Expected<std::unique_ptr<ModelSource>> source = ModelSource::open(modelDir);
  ASSERT_TRUE(source.ok()) << source.message();
  for (const char *dtype : {"f16", "bf16"}) {
    SCOPED_TRACE(dtype);
    std::unique_ptr<Artifact> a = halfArtifact(modelDir, dtype);
    ASSERT_TRUE(a);
    Expected<WeightArena> arena = WeightArena::load(*a, **source);
    ASSERT_TRUE(arena.ok()) << arena.message();
    const bool f16 = std::string(dtype) == "f16";
    EXPECT_EQ(arena->dtype(), f16 ? kvcc::abi::DType::F16 : kvcc::abi::DType::BF16);
    EXPECT_EQ(arena->bytes(), a->manifest().weightsSize * 2);
    const auto *bits = static_cast<const uint16_t *>(arena->data());
    for (const ManifestWeight &w : a->manifest().weights) {
      std::vector<float> expect(static_cast<size_t>(w.numElements));
      ASSERT_TRUE((*source)->readWeight(w.name, expect.data(), expect.size()).ok());
      for (size_t i = 0; i < expect.size(); ++i) {
        float back = f16 ? halfToFloat(bits[w.offset + i]) : bfloat16ToFloat(bits[w.offset + i]);
        // Nearest: within half an ulp (2^-11 relative for f16, 2^-8 for
        // bf16; f16 subnormals below 2^-14 have a fixed ulp of 2^-24).
        float halfUlp = std::fmax(std::ldexp(std::fabs(expect[i]), f16 ? -11 : -8), f16 ? std::ldexp(1.0f, -25) : 0.0f);
        ASSERT_LE(std::fabs(back - expect[i]), halfUlp)
            << w.name << "[" << i << "]";
      }
      EXPECT_EQ(bits[w.offset - 1], 0) << "gap before " << w.name;
    }
  }
}

// A finite weight f16 cannot hold would turn into inf and poison every
// activation: the load names it instead (bf16 has f32's range and takes it).
TEST(WeightArenaTest, WeightsBeyondF16RangeAreNamed) {
  TinyConfig c;
  c.hugeWeight = "layers.1.w_up";
  std::string modelDir = writeModel(c);
  Expected<std::unique_ptr<ModelSource>> source = ModelSource::open(modelDir);
  ASSERT_TRUE(source.ok()) << source.message();
  std::unique_ptr<Artifact> f16 = halfArtifact(modelDir, "f16");
  ASSERT_TRUE(f16);
  Expected<WeightArena> arena = WeightArena::load(*f16, **source);
  ASSERT_FALSE(arena.ok());
  EXPECT_EQ(arena.message(), modelDir + ": weight 'layers.1.w_up' holds 100000 at element 3, beyond f16's range "
                                        "(65504): compile with --dtype=bf16 or f32");
  std::unique_ptr<Artifact> bf16 = halfArtifact(modelDir, "bf16");
  ASSERT_TRUE(bf16);
  EXPECT_TRUE(WeightArena::load(*bf16, **source).ok());
}
