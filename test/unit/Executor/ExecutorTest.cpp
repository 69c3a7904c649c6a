//===- ExecutorTest.cpp - Artifact, weights, executor, generator, kvcc-run ===//
//
// Every input is written by the test: a tiny random Llama-family model as a
// Hugging Face directory (config.json, model.safetensors, tokenizer.json), a
// manifest.json, and a copy of MockModel.cpp's library as model.so. The seed
// experiment is the centre: greedy tokens with the paged cache must equal
// those of full recomputation, for any page size, chunking and batch layout.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/Artifact.h"
#include "kvcc/Runtime/Executor.h"
#include "kvcc/Runtime/Generator.h"
#include "kvcc/Runtime/WeightArena.h"
#include "kvcc/Support/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace kvcc;
using namespace kvcc::runtime;
using json::Value;

namespace {

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
ScratchRoot &scratch() {
  static ScratchRoot root;
  return root;
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

//===----------------------------------------------------------------------===//
// Tiny models
//===----------------------------------------------------------------------===//

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() { return std::sqrt(-2 * std::log(uniform() + 1e-300)) * std::cos(6.283185307179586 * uniform()); }
};

struct TinyConfig {
  std::string arch = "llama";
  int64_t layers = 2, hidden = 64, heads = 4, kvHeads = 2, headDim = 16, ffn = 128, maxPos = 256;
  bool tied = false;
  std::optional<int64_t> window; // mistral only
  uint64_t seed = 1;
};
constexpr int64_t kVocab = 300;
constexpr int32_t kBos = 258, kImStart = 259, kEos = 260; // see tokenizerJson

/// GPT-2's byte -> printable code point map, UTF-8 encoded.
std::string byteSymbol(int b) {
  auto printable = [](int c) { return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF); };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int c = 0; c < b; ++c)
      n += !printable(c);
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80)
    s += static_cast<char>(cp);
  else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

/// Byte-level BPE: ids 0..255 bytes, 256 "th", 257 "Ġt", then specials
/// <|endoftext|> (258), <|im_start|> (259), <|im_end|> (260), reserved fillers.
std::string tokenizerJson() {
  std::vector<std::pair<std::string, Value>> vocab;
  for (int b = 0; b < 256; ++b)
    vocab.emplace_back(byteSymbol(b), Value::number(b));
  vocab.emplace_back("th", Value::number(256));
  vocab.emplace_back(byteSymbol(' ') + "t", Value::number(257));
  std::vector<Value> added;
  for (int64_t id = 258; id < kVocab; ++id) {
    std::string content = id == 258 ? "<|endoftext|>" : id == 259 ? "<|im_start|>" : id == 260 ? "<|im_end|>"
                                                                    : "<|reserved_" + std::to_string(id) + "|>";
    vocab.emplace_back(content, Value::number(static_cast<double>(id)));
    added.push_back(Value::object({{"id", Value::number(static_cast<double>(id))},
                                   {"content", Value::string(content)},
                                   {"special", Value::boolean(true)}}));
  }
  Value byteLevel = Value::object({{"type", Value::string("ByteLevel")},
                                   {"add_prefix_space", Value::boolean(false)},
                                   {"use_regex", Value::boolean(true)}});
  return json::write(Value::object({
      {"version", Value::string("1.0")},
      {"added_tokens", Value::array(added)},
      {"normalizer", Value::null()},
      {"pre_tokenizer", byteLevel},
      {"decoder", byteLevel},
      {"model", Value::object({{"type", Value::string("BPE")},
                               {"vocab", Value::object(vocab)},
                               {"merges", Value::array({Value::string("t h"),
                                                        Value::string(byteSymbol(' ') + " t")})}})},
  }));
}

const char *kChatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
                      "}}{% endif %}";

std::string safetensors(const std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> &ts) {
  std::vector<std::pair<std::string, Value>> header = {
      {"__metadata__", Value::object({{"format", Value::string("pt")}})}};
  std::string data;
  for (const auto &[name, t] : ts) {
    std::vector<Value> shape;
    for (int64_t d : t.first)
      shape.push_back(Value::number(static_cast<double>(d)));
    double begin = static_cast<double>(data.size());
    data.append(reinterpret_cast<const char *>(t.second.data()), t.second.size() * sizeof(float));
    header.emplace_back(name, Value::object({{"dtype", Value::string("F32")},
                                             {"shape", Value::array(shape)},
                                             {"data_offsets", Value::array({Value::number(begin),
                                                                            Value::number(double(data.size()))})}}));
  }
  std::string h = json::write(Value::object(header), 0);
  h.resize((h.size() + 7) / 8 * 8, ' ');
  std::string out(8, '\0');
  uint64_t n = h.size();
  std::memcpy(&out[0], &n, 8);
  return out + h + data;
}

/// Writes config.json, tokenizer files and random weights (scaled as in
/// python/kvcc_ref/tiny_model.py so that greedy decoding does not collapse
/// onto one token). `reshape` may replace a tensor's shape (mismatch tests).
std::string writeModel(const TinyConfig &c, const std::string &badTensor = "") {
  std::string dir = scratch().fresh("model");
  std::vector<std::pair<std::string, Value>> cfg = {
      {"model_type", Value::string(c.arch)},
      {"hidden_size", Value::number(double(c.hidden))},
      {"intermediate_size", Value::number(double(c.ffn))},
      {"num_hidden_layers", Value::number(double(c.layers))},
      {"num_attention_heads", Value::number(double(c.heads))},
      {"num_key_value_heads", Value::number(double(c.kvHeads))},
      {"head_dim", Value::number(double(c.headDim))},
      {"vocab_size", Value::number(double(kVocab))},
      {"hidden_act", Value::string("silu")},
      {"rope_theta", Value::number(10000.0)},
      {"rms_norm_eps", Value::number(1e-6)},
      {"max_position_embeddings", Value::number(double(c.maxPos))},
      {"tie_word_embeddings", Value::boolean(c.tied)},
      {"bos_token_id", Value::number(kBos)},
      {"eos_token_id", Value::number(kEos)},
  };
  if (c.window)
    cfg.emplace_back("sliding_window", Value::number(double(*c.window)));
  writeFile(dir + "/config.json", json::write(Value::object(cfg)));
  writeFile(dir + "/tokenizer.json", tokenizerJson());
  writeFile(dir + "/tokenizer_config.json",
            json::write(Value::object({{"chat_template", Value::string(kChatML)},
                                       {"bos_token", Value::string("<|endoftext|>")},
                                       {"eos_token", Value::string("<|im_end|>")}})));

  ModelSpec spec;
  spec.arch = c.arch;
  spec.numLayers = c.layers, spec.hiddenSize = c.hidden, spec.numHeads = c.heads, spec.numKVHeads = c.kvHeads;
  spec.headDim = c.headDim, spec.intermediateSize = c.ffn, spec.vocabSize = kVocab, spec.tiedEmbeddings = c.tied;
  spec.qkvBias = c.arch == "qwen2";
  Rng rng{c.seed};
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> tensors;
  for (const WeightSpec &w : expectedWeights(spec)) {
    std::vector<float> v(w.numElements());
    const std::string &n = w.name;
    auto ends = [&](const char *s) { return n.size() >= std::strlen(s) && n.compare(n.size() - std::strlen(s), std::string::npos, s) == 0; };
    double fanIn = static_cast<double>(w.shape.back());
    double gain = ends("wq") || ends("wk") ? 1.5 : ends("wo") || ends("w_down") ? 2.0 : n == "lm_head" ? 4.0 : 1.0;
    bool norm = ends("norm"), bias = ends(".bq") || ends(".bk") || ends(".bv");
    double signScale = n == "final_norm" && c.tied ? 4.0 : 1.0;
    for (float &x : v) {
      if (norm)
        x = static_cast<float>(signScale * (c.tied && n == "final_norm" && rng.uniform() < 0.5 ? -1 : 1) *
                               (1.0 + 0.1 * rng.normal()));
      else if (bias)
        x = static_cast<float>(0.2 * rng.normal());
      else if (n == "embed")
        x = static_cast<float>(rng.normal() / std::sqrt(double(c.hidden)));
      else
        x = static_cast<float>(gain / std::sqrt(fanIn) * rng.normal());
    }
    std::vector<int64_t> shape = w.shape;
    if (n == badTensor)
      shape.back() += 1, v.resize(v.size() / w.shape.back() * shape.back(), 0.5f);
    tensors.push_back({hfTensorName(n), {shape, v}});
  }
  writeFile(dir + "/model.safetensors", safetensors(tensors));
  return dir;
}

//===----------------------------------------------------------------------===//
// Artifacts
//===----------------------------------------------------------------------===//

/// The manifest `kvcc compile` would write for `spec`. Weights are listed in
/// reverse order with gaps between them, so offsets are really followed.
Value manifestFor(const ModelSpec &spec, int64_t blockSize) {
  std::vector<WeightSpec> ws = expectedWeights(spec);
  std::vector<Value> list;
  int64_t offset = 0;
  for (size_t k = ws.size(); k-- > 0;) {
    const WeightSpec &w = ws[k];
    std::vector<Value> shape;
    for (int64_t d : w.shape)
      shape.push_back(Value::number(double(d)));
    offset = (offset + 15) / 16 * 16 + 5; // gaps stay zero and unread
    list.push_back(Value::object({{"name", Value::string(w.name)},
                                  {"shape", Value::array(shape)},
                                  {"offset", Value::number(double(offset))}}));
    offset += static_cast<int64_t>(w.numElements());
  }
  return Value::object({
      {"format", Value::string("kvcc-artifact")},
      {"version", Value::number(1)},
      {"target", Value::string("cpu")},
      {"entry", Value::string("kvcc_step")},
      {"compiler", Value::string("test")},
      {"model", spec.toJsonValue()},
      {"cache", Value::object({{"layers", Value::number(double(spec.numLayers))},
                               {"block_size", Value::number(double(blockSize))},
                               {"kv_heads", Value::number(double(spec.numKVHeads))},
                               {"head_dim", Value::number(double(spec.headDim))},
                               {"dtype", Value::string("f32")},
                               {"layout", Value::string("token_major")}})},
      {"weights", Value::array(list)},
      {"weights_size", Value::number(double(offset + 3))},
  });
}

std::string writeArtifact(const std::string &manifestText, const char *library = KVCC_MOCK_MODEL) {
  std::string dir = scratch().fresh("artifact");
  writeFile(dir + "/manifest.json", manifestText);
  std::error_code ec;
  std::filesystem::copy_file(library, dir + "/model.so", ec);
  EXPECT_FALSE(ec) << ec.message();
  return dir;
}

ModelSpec specOf(const std::string &modelDir) {
  Expected<std::unique_ptr<ModelSource>> src = ModelSource::open(modelDir);
  EXPECT_TRUE(src.ok()) << src.message();
  return src ? (*src)->spec() : ModelSpec();
}

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

//===----------------------------------------------------------------------===//
// A loaded artifact + model
//===----------------------------------------------------------------------===//

struct Rig {
  std::string modelDir, artifactDir;
  std::unique_ptr<Artifact> artifact;
  std::unique_ptr<ModelSource> source;
  std::optional<WeightArena> weights;
  std::optional<Generator> generator;

  static std::unique_ptr<Rig> make(const TinyConfig &c, int64_t blockSize) {
    auto r = std::make_unique<Rig>();
    r->modelDir = writeModel(c);
    r->artifactDir = writeArtifact(json::write(manifestFor(specOf(r->modelDir), blockSize)));
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

std::vector<int32_t> somePrompt(size_t n, uint64_t seed = 7) {
  Rng rng{seed};
  std::vector<int32_t> p;
  for (size_t i = 0; i < n; ++i)
    p.push_back(static_cast<int32_t>(rng.next() % 256));
  return p;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
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
      {{"version"}, Value::number(2), "field 'version' is 2"},
      {{"version"}, Value::string("1"), "field 'version' is a string"},
      {{"target"}, Value::string("cuda"), "field 'target' is 'cuda'"},
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
      {{"cache", "dtype"}, Value::string("f16"), "field 'cache.dtype' is 'f16'"},
      {{"cache", "layout"}, Value::string("head_major"), "field 'cache.layout' is 'head_major'"},
      {{"weights_size"}, Value::number(0), "field 'weights_size' is 0"},
      {{"weights_size"}, std::nullopt, "missing field 'weights_size'"},
      {{"weights_size"}, Value::number(1e9), "field 'weights_size' is 1000000000 but the weights listed hold"},
      {{"weights_size"}, Value::number(100), "field 'weights[0].offset': weight 'lm_head' spans [5, 19205)"},
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
  for (const ManifestWeight &w : r->artifact->manifest().weights) {
    std::vector<float> expect(static_cast<size_t>(w.numElements));
    ASSERT_TRUE(r->source->readWeight(w.name, expect.data(), expect.size()).ok());
    EXPECT_EQ(std::memcmp(expect.data(), r->weights->data() + w.offset, expect.size() * 4), 0) << w.name;
    EXPECT_EQ(r->weights->data()[w.offset - 1], 0.0f) << "gap before " << w.name;
  }
}

//===----------------------------------------------------------------------===//
// The seed experiment: cached == recomputed, for any page size and layout
//===----------------------------------------------------------------------===//

struct SeedCase {
  const char *name;
  TinyConfig config;
};
TinyConfig withKV(int64_t kv) {
  TinyConfig c;
  c.kvHeads = kv;
  return c;
}
TinyConfig mistral() {
  TinyConfig c;
  c.arch = "mistral";
  c.window = 8;
  c.seed = 3;
  return c;
}
TinyConfig tied() {
  TinyConfig c;
  c.tied = true;
  c.seed = 5;
  return c;
}
TinyConfig qwen2() {
  TinyConfig c;
  c.arch = "qwen2";
  c.kvHeads = 1;
  c.seed = 9;
  return c;
}

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

//===----------------------------------------------------------------------===//
// kvcc-run
//===----------------------------------------------------------------------===//

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string quote(const std::string &s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

RunResult runTool(const std::string &args) {
  std::string dir = scratch().fresh("run");
  std::string cmd = quote(KVCC_RUN) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  int st = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  for (auto [name, dst] : {std::pair<const char *, std::string *>{"out", &r.out}, {"err", &r.err}}) {
    std::ifstream f(dir + "/" + name);
    std::stringstream ss;
    ss << f.rdbuf();
    *dst = ss.str();
  }
  return r;
}

std::string lastLine(const std::string &s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n')
    t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST(KvccRunTest, CachedAndRecomputedRunsPrintTheSameTokens) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  std::string base = quote(r->artifactDir) + " --weights " + quote(r->modelDir) +
                     " --prompt 'The cache holds the keys' --max-tokens 32 --ignore-eos --print-tokens";
  RunResult cached = runTool(base);
  ASSERT_EQ(cached.status, 0) << cached.err;
  RunResult full = runTool(base + " --no-kv-cache");
  ASSERT_EQ(full.status, 0) << full.err;
  RunResult chunked = runTool(base + " --prefill-chunk 2 --kv-pages 40");
  ASSERT_EQ(chunked.status, 0) << chunked.err;
  std::string line = lastLine(cached.out);
  EXPECT_EQ(line.rfind("{\"prompt_tokens\":[", 0), 0u) << line;
  EXPECT_EQ(lastLine(full.out), line);
  EXPECT_EQ(lastLine(chunked.out), line);
  Expected<Value> doc = json::parse(line, "tokens");
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ(doc->get("tokens")->asArray().size(), 32u);
  EXPECT_TRUE(contains(cached.err, "decode")) << cached.err;
  EXPECT_TRUE(contains(cached.err, "512 bytes/token")) << cached.err; // 2 (K,V) * 2 layers * 2 heads * 16 * 4
}

TEST(KvccRunTest, StatsJsonAndChat) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::string stats = scratch().fresh("stats") + "/stats.json";
  RunResult res = runTool(quote(r->artifactDir) + " --weights " + quote(r->modelDir) +
                          " --prompt hello --chat --max-tokens 8 --temperature 0.7 --seed 3 --stats-json " +
                          quote(stats));
  ASSERT_EQ(res.status, 0) << res.err;
  Expected<Value> doc = json::parseFile(stats);
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ(*doc->getInt("kv_bytes_per_token"), 2 * 2 * 2 * 16 * 4);
  EXPECT_GE(*doc->getInt("prompt_tokens"), 9);
  EXPECT_LE(*doc->getInt("generated_tokens"), 8);
  EXPECT_EQ(*doc->getInt("block_size"), 4);
}

TEST(KvccRunTest, UsageAndRuntimeErrors) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::string good = quote(r->artifactDir) + " --weights " + quote(r->modelDir) + " --prompt hi";
  struct {
    std::string args;
    int status;
    const char *expect;
  } cases[] = {
      {"", 2, "missing the artifact directory"},
      {good + " --bogus", 2, "unknown option '--bogus'"},
      {good + " --max-tokens", 2, "--max-tokens needs a value"},
      {good + " --max-tokens abc", 2, "--max-tokens 'abc' is not"},
      {good + " --top-p 0", 2, "--top-p '0'"},
      {good + " --temperature nan", 2, "--temperature 'nan'"},
      {good + " --kv-pages 0", 2, "--kv-pages '0'"},
      {good + " --page-size 16", 2, "compiled into the artifact"},
      {good + " --chat=yes", 2, "--chat takes no value"},
      {good + " extra", 2, "unexpected argument 'extra'"},
      {quote(r->artifactDir) + " --prompt hi", 2, "missing --weights"},
      {good + " --device=tpu", 2, "--device 'tpu'"},
      {good + " --device=cuda", 1, "this artifact targets cpu"},
      {good + " --kv-pages 1 --max-tokens 4", 0, ""},
      {quote(r->artifactDir) + " --weights " + quote(r->modelDir) + " --prompt 'a long prompt here' --kv-pages 2", 1,
       "--kv-pages 2 holds 8"},
      {quote(r->artifactDir) + " --weights /nonexistent --prompt hi", 1, "/nonexistent"},
      {quote(scratch().fresh("noart")) + " --weights " + quote(r->modelDir) + " --prompt hi", 1, "manifest.json"},
  };
  for (const auto &c : cases) {
    RunResult res = runTool(c.args);
    EXPECT_EQ(res.status, c.status) << c.args << "\n" << res.err;
    EXPECT_TRUE(contains(res.err, c.expect)) << c.args << "\n" << res.err;
    if (c.status != 0) {
      EXPECT_EQ(res.out, "") << c.args; // no partial output
    }
  }
}

//===----------------------------------------------------------------------===//
// The mock itself against the float64 numpy reference (skipped without numpy)
//===----------------------------------------------------------------------===//

TEST(MockModelTest, MatchesThePythonReference) {
  if (std::system("python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with numpy is not available";
  for (const TinyConfig &c : {TinyConfig(), mistral(), qwen2()}) {
    std::unique_ptr<Rig> r = Rig::make(c, 3);
    ASSERT_TRUE(r);
    std::vector<int32_t> prompt = somePrompt(9, 5);
    ExecutorOptions eo;
    eo.maxContext = 64;
    std::vector<int32_t> ours = r->greedy(prompt, 24, eo);
    std::string promptList = "[";
    for (size_t i = 0; i < prompt.size(); ++i)
      promptList += (i ? "," : "") + std::to_string(prompt[i]);
    promptList += "]";
    std::string out = scratch().fresh("ref") + "/ref.json";
    std::string cmd = "python3 -c 'import sys, json; sys.path.insert(0, sys.argv[1]); "
                      "from kvcc_ref.reference import ReferenceModel; "
                      "t, m = ReferenceModel(sys.argv[2]).greedy_with_margins(json.loads(sys.argv[3]), 24); "
                      "json.dump({\"tokens\": [int(x) for x in t], \"margins\": [float(x) for x in m]}, "
                      "open(sys.argv[4], \"w\"))' " +
                      quote(KVCC_PYTHON_DIR) + " " + quote(r->modelDir) + " " + quote(promptList) + " " + quote(out);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    Expected<Value> ref = json::parseFile(out);
    ASSERT_TRUE(ref.ok()) << ref.message();
    const std::vector<Value> &tokens = ref->get("tokens")->asArray(), &margins = ref->get("margins")->asArray();
    ASSERT_EQ(ours.size(), tokens.size());
    // f32 against f64: compare up to the first near-tie of the reference.
    for (size_t i = 0; i < ours.size() && margins[i].asNumber() > 1e-3; ++i)
      EXPECT_EQ(ours[i], tokens[i].asNumber()) << c.arch << " token " << i;
  }
}
