//===- TestModel.cpp - Tiny models and artifacts for tests ----------------===//
//
// The writers declared in TestModel.h: scratch directories, a tiny random
// model with its tokenizer, and the manifest `kvcc compile` would write.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace exectest {

//===----------------------------------------------------------------------===//
// Scratch files
//===----------------------------------------------------------------------===//

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

namespace {

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

} // namespace

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

std::string writeModel(const TinyConfig &c, const std::string &badTensor) {
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
    if (n == c.hugeWeight)
      v[3] = 1e5f;
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

Value manifestFor(const ModelSpec &spec, int64_t blockSize, const std::string &weightsDType) {
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
      {"version", Value::number(kvcc::abi::kManifestVersion)},
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
      {"weights_dtype", Value::string(weightsDType)},
  });
}

std::string writeArtifact(const std::string &manifestText, const char *library) {
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

std::vector<int32_t> somePrompt(size_t n, uint64_t seed) {
  Rng rng{seed};
  std::vector<int32_t> p;
  for (size_t i = 0; i < n; ++i)
    p.push_back(static_cast<int32_t>(rng.next() % 256));
  return p;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string quote(const std::string &s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

} // namespace exectest
