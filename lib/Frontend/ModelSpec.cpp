//===- ModelSpec.cpp - Architecture description of a decoder LM -----------===//
//
// Two readers (GGUF metadata, HF config.json) and the manifest round trip.
// Anything kvcc cannot run faithfully (rope scaling, biases other than qwen2's
// q/k/v, other activations) is refused by name here rather than producing a
// model that silently computes something else.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelSpec.h"

#include "kvcc/Frontend/GGUF.h"

#include <cmath>

namespace kvcc {

namespace {
// Caps keep every product of two dims (e.g. vocab x hidden) far from int64
// overflow and reject absurd values from hostile files early.
constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxContext = int64_t(1) << 26;
} // namespace

const char *ropeStyleName(ModelSpec::RopeStyle style) {
  return style == ModelSpec::RopeStyle::GptJ ? "gptj" : "neox";
}

bool isSupportedArch(std::string_view arch) { return arch == "llama" || arch == "mistral" || arch == "qwen2"; }

Status unsupportedArchError(std::string_view source, std::string_view arch) {
  return Status::error(std::string(source) + ": architecture '" + std::string(arch) +
                       "' is not supported (supported: llama, mistral, qwen2)");
}

Status ModelSpec::validate() const {
  auto err = [](const std::string &m) { return Status::error("ModelSpec: " + m); };
  if (!isSupportedArch(arch))
    return unsupportedArchError("ModelSpec", arch);
  struct Field {
    const char *name;
    int64_t value, max;
  } fields[] = {{"numLayers", numLayers, kMaxLayers},   {"hiddenSize", hiddenSize, kMaxDim},
                {"numHeads", numHeads, kMaxDim},       {"numKVHeads", numKVHeads, kMaxDim},
                {"headDim", headDim, kMaxDim},         {"intermediateSize", intermediateSize, kMaxDim},
                {"vocabSize", vocabSize, kMaxDim},     {"maxContext", maxContext, kMaxContext},
                {"rotaryDim", rotaryDim, kMaxDim}};
  for (const Field &f : fields)
    if (f.value <= 0 || f.value > f.max)
      return err(std::string(f.name) + " is " + std::to_string(f.value) + ", expected 1.." + std::to_string(f.max));
  if (numHeads % numKVHeads != 0)
    return err("numHeads (" + std::to_string(numHeads) + ") is not a multiple of numKVHeads (" +
               std::to_string(numKVHeads) + ")");
  if (numHeads * headDim > kMaxDim)
    return err("numHeads x headDim (" + std::to_string(numHeads * headDim) + ") exceeds " + std::to_string(kMaxDim));
  if (rotaryDim % 2 != 0 || rotaryDim > headDim)
    return err("rotaryDim " + std::to_string(rotaryDim) + " must be even and at most headDim (" +
               std::to_string(headDim) + ")");
  if (!std::isfinite(ropeTheta) || ropeTheta <= 0)
    return err("ropeTheta " + std::to_string(ropeTheta) + " must be finite and positive");
  if (!std::isfinite(rmsEps) || rmsEps <= 0)
    return err("rmsEps " + std::to_string(rmsEps) + " must be finite and positive");
  if (slidingWindow && *slidingWindow <= 0)
    return err("slidingWindow " + std::to_string(*slidingWindow) + " must be positive");
  if (bosToken < -1 || bosToken >= vocabSize)
    return err("bosToken " + std::to_string(bosToken) + " is outside the vocabulary (" + std::to_string(vocabSize) + ")");
  if (eosToken < -1 || eosToken >= vocabSize)
    return err("eosToken " + std::to_string(eosToken) + " is outside the vocabulary (" + std::to_string(vocabSize) + ")");
  return Status::success();
}

json::Value ModelSpec::toJsonValue() const {
  using json::Value;
  auto num = [](double d) { return Value::number(d); };
  return Value::object({
      {"arch", Value::string(arch)},
      {"numLayers", num(numLayers)},
      {"hiddenSize", num(hiddenSize)},
      {"numHeads", num(numHeads)},
      {"numKVHeads", num(numKVHeads)},
      {"headDim", num(headDim)},
      {"intermediateSize", num(intermediateSize)},
      {"vocabSize", num(vocabSize)},
      {"maxContext", num(maxContext)},
      {"ropeTheta", num(ropeTheta)},
      {"rmsEps", num(rmsEps)},
      {"rotaryDim", num(rotaryDim)},
      {"ropeStyle", Value::string(ropeStyleName(ropeStyle))},
      {"slidingWindow", slidingWindow ? num(*slidingWindow) : Value::null()},
      {"qkvBias", Value::boolean(qkvBias)},
      {"tiedEmbeddings", Value::boolean(tiedEmbeddings)},
      {"bosToken", num(bosToken)},
      {"eosToken", num(eosToken)},
  });
}

std::string ModelSpec::toJson(int indent) const { return json::write(toJsonValue(), indent); }

Expected<ModelSpec> ModelSpec::fromJson(const json::Value &v) {
  auto err = [](const std::string &m) { return Status::error("ModelSpec JSON: " + m); };
  if (!v.isObject())
    return err(std::string("is a ") + json::kindName(v.kind()) + ", expected an object");
  ModelSpec s;
  Expected<std::string> arch = v.getString("arch");
  if (!arch)
    return err(arch.message());
  s.arch = *arch;
  struct IntField {
    const char *key;
    int64_t *dst;
  } ints[] = {{"numLayers", &s.numLayers},   {"hiddenSize", &s.hiddenSize},
              {"numHeads", &s.numHeads},     {"numKVHeads", &s.numKVHeads},
              {"headDim", &s.headDim},       {"intermediateSize", &s.intermediateSize},
              {"vocabSize", &s.vocabSize},   {"maxContext", &s.maxContext},
              {"rotaryDim", &s.rotaryDim},   {"bosToken", &s.bosToken},
              {"eosToken", &s.eosToken}};
  for (const IntField &f : ints) {
    Expected<int64_t> i = v.getInt(f.key);
    if (!i)
      return err(i.message());
    *f.dst = *i;
  }
  Expected<double> theta = v.getNumber("ropeTheta"), eps = v.getNumber("rmsEps");
  if (!theta || !eps)
    return err(!theta ? theta.message() : eps.message());
  s.ropeTheta = *theta;
  s.rmsEps = *eps;
  Expected<std::string> style = v.getString("ropeStyle");
  if (!style)
    return err(style.message());
  if (*style == "neox")
    s.ropeStyle = RopeStyle::Neox;
  else if (*style == "gptj")
    s.ropeStyle = RopeStyle::GptJ;
  else
    return err("member 'ropeStyle' is '" + *style + "', expected 'neox' or 'gptj'");
  if (const json::Value *w = v.get("slidingWindow"); w && !w->isNull()) {
    Expected<int64_t> i = json::toInt(*w, "member 'slidingWindow'");
    if (!i)
      return err(i.message());
    s.slidingWindow = *i;
  }
  for (auto [key, dst] : {std::pair<const char *, bool *>{"qkvBias", &s.qkvBias}, {"tiedEmbeddings", &s.tiedEmbeddings}}) {
    const json::Value *b = v.get(key);
    if (!b || !b->isBool())
      return err(std::string("member '") + key + "' is missing or not a bool");
    *dst = b->asBool();
  }
  if (Status st = s.validate(); !st.ok())
    return st;
  return s;
}

//===----------------------------------------------------------------------===//
// GGUF
//===----------------------------------------------------------------------===//

Expected<ModelSpec> specFromGGUF(const GGUFFile &f) {
  ModelSpec s;
  Expected<std::string> arch = f.getString("general.architecture");
  if (!arch)
    return arch.status();
  if (!isSupportedArch(*arch))
    return unsupportedArchError(f.path(), *arch);
  s.arch = *arch;
  const std::string p = *arch + ".";

  struct Required {
    const char *key;
    int64_t *dst;
  } required[] = {{"block_count", &s.numLayers},
                  {"embedding_length", &s.hiddenSize},
                  {"attention.head_count", &s.numHeads},
                  {"feed_forward_length", &s.intermediateSize},
                  {"context_length", &s.maxContext}};
  for (const Required &r : required) {
    Expected<int64_t> v = f.getInt(p + r.key);
    if (!v)
      return v.status();
    *r.dst = *v;
  }
  auto optionalInt = [&](const std::string &key, int64_t dflt) -> Expected<int64_t> {
    return f.has(key) ? f.getInt(key) : Expected<int64_t>(dflt);
  };
  Expected<int64_t> kv = optionalInt(p + "attention.head_count_kv", s.numHeads);
  if (!kv)
    return kv.status();
  s.numKVHeads = *kv;
  if (s.numHeads <= 0)
    return Status::error(f.path() + ": metadata key '" + p + "attention.head_count' is " + std::to_string(s.numHeads));
  Expected<int64_t> headDim = optionalInt(p + "attention.key_length", s.hiddenSize / s.numHeads);
  if (!headDim)
    return headDim.status();
  s.headDim = *headDim;
  if (f.has(p + "attention.value_length")) {
    Expected<int64_t> vl = f.getInt(p + "attention.value_length");
    if (!vl)
      return vl.status();
    if (*vl != s.headDim)
      return Status::error(f.path() + ": metadata key '" + p + "attention.value_length' is " + std::to_string(*vl) +
                           ", but kvcc needs it equal to the key length " + std::to_string(s.headDim));
  }
  Expected<int64_t> rot = optionalInt(p + "rope.dimension_count", s.headDim);
  if (!rot)
    return rot.status();
  s.rotaryDim = *rot;

  Expected<double> theta = f.has(p + "rope.freq_base") ? f.getFloat(p + "rope.freq_base") : Expected<double>(10000.0);
  if (!theta)
    return theta.status();
  s.ropeTheta = *theta;
  Expected<double> eps = f.getFloat(p + "attention.layer_norm_rms_epsilon");
  if (!eps)
    return eps.status();
  s.rmsEps = *eps;

  if (f.has(p + "rope.scaling.type")) {
    Expected<std::string> t = f.getString(p + "rope.scaling.type");
    if (!t)
      return t.status();
    if (*t != "none")
      return Status::error(f.path() + ": metadata key '" + p + "rope.scaling.type' is '" + *t +
                           "'; kvcc does not support rope scaling");
  }
  // Llama 3.1+ GGUF files carry rope scaling as a per-frequency factor tensor.
  if (f.findTensor("rope_freqs.weight"))
    return Status::error(f.path() + ": tensor 'rope_freqs.weight' (per-frequency "
                         "rope factors, Llama 3.1 rope scaling) is not supported");
  if (f.has(p + "attention.sliding_window")) {
    Expected<int64_t> w = f.getInt(p + "attention.sliding_window");
    if (!w)
      return w.status();
    if (*w > 0)
      s.slidingWindow = *w;
  }

  // Vocab: explicit key, else the token list, else the embedding's rows.
  if (f.has(p + "vocab_size")) {
    Expected<int64_t> v = f.getInt(p + "vocab_size");
    if (!v)
      return v.status();
    s.vocabSize = *v;
  } else if (const GGUFValue *tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->isArray()) {
    s.vocabSize = static_cast<int64_t>(tokens->arraySize());
  } else if (const GGUFTensorInfo *emb = f.findTensor("token_embd.weight"); emb && emb->dims.size() == 2) {
    s.vocabSize = static_cast<int64_t>(emb->dims[1]);
  } else {
    return Status::error(f.path() + ": cannot determine the vocabulary size (no '" + p +
                         "vocab_size', no tokenizer.ggml.tokens, no 2-D token_embd.weight)");
  }

  s.ropeStyle = s.arch == "qwen2" ? ModelSpec::RopeStyle::Neox : ModelSpec::RopeStyle::GptJ;
  s.qkvBias = s.arch == "qwen2";
  s.tiedEmbeddings = f.findTensor("output.weight") == nullptr;
  for (auto [key, dst] : {std::pair<const char *, int64_t *>{"tokenizer.ggml.bos_token_id", &s.bosToken},
                          {"tokenizer.ggml.eos_token_id", &s.eosToken}}) {
    if (!f.has(key))
      continue;
    Expected<int64_t> id = f.getInt(key);
    if (!id)
      return id.status();
    *dst = *id;
  }
  if (Status st = s.validate(); !st.ok())
    return Status::error(f.path() + ": " + st.message());
  return s;
}

//===----------------------------------------------------------------------===//
// Hugging Face config.json
//===----------------------------------------------------------------------===//

Expected<ModelSpec> specFromHFConfig(const json::Value &c, const std::string &src) {
  auto err = [&](const std::string &m) { return Status::error(src + ": " + m); };
  if (!c.isObject())
    return err(std::string("is a JSON ") + json::kindName(c.kind()) + ", expected an object");
  // A member that is absent or null takes its default.
  auto present = [&](const char *key) {
    const json::Value *v = c.get(key);
    return v && !v->isNull();
  };
  ModelSpec s;
  if (present("model_type")) {
    Expected<std::string> mt = c.getString("model_type");
    if (!mt)
      return err(mt.message());
    s.arch = *mt;
  } else if (const json::Value *a = c.get("architectures"); a && a->isArray() && !a->asArray().empty() &&
                                                           a->asArray()[0].isString()) {
    const std::string &cls = a->asArray()[0].asString();
    s.arch = cls == "LlamaForCausalLM" ? "llama" : cls == "MistralForCausalLM" ? "mistral"
           : cls == "Qwen2ForCausalLM" ? "qwen2" : cls;
  } else {
    return err("neither 'model_type' nor 'architectures' names the architecture");
  }
  if (!isSupportedArch(s.arch))
    return unsupportedArchError(src, s.arch);

  struct IntField {
    const char *key;
    int64_t *dst;
    int64_t dflt; // 0: required
  } ints[] = {{"hidden_size", &s.hiddenSize, 0},         {"num_hidden_layers", &s.numLayers, 0},
              {"num_attention_heads", &s.numHeads, 0},   {"intermediate_size", &s.intermediateSize, 0},
              {"vocab_size", &s.vocabSize, 0},           {"max_position_embeddings", &s.maxContext, 2048}};
  for (const IntField &f : ints) {
    if (!present(f.key) && f.dflt) {
      *f.dst = f.dflt;
      continue;
    }
    Expected<int64_t> v = c.getInt(f.key);
    if (!v)
      return err(v.message());
    *f.dst = *v;
  }
  if (s.numHeads <= 0)
    return err("member 'num_attention_heads' is " + std::to_string(s.numHeads));
  s.numKVHeads = s.numHeads;
  s.headDim = s.hiddenSize / s.numHeads;
  for (auto [key, dst] : {std::pair<const char *, int64_t *>{"num_key_value_heads", &s.numKVHeads},
                          {"head_dim", &s.headDim}}) {
    if (!present(key))
      continue;
    Expected<int64_t> v = c.getInt(key);
    if (!v)
      return err(v.message());
    *dst = *v;
  }
  s.rotaryDim = s.headDim;
  for (auto [key, dst] : {std::pair<const char *, double *>{"rope_theta", &s.ropeTheta}, {"rms_norm_eps", &s.rmsEps}}) {
    if (!present(key))
      continue; // defaults: 10000 and 1e-6, as in transformers
    Expected<double> v = c.getNumber(key);
    if (!v)
      return err(v.message());
    *dst = *v;
  }
  if (present("rope_scaling"))
    return err("rope_scaling " + json::write(*c.get("rope_scaling"), 0) + " is not supported (only null)");
  if (present("hidden_act")) {
    Expected<std::string> act = c.getString("hidden_act");
    if (!act)
      return err(act.message());
    if (*act != "silu")
      return err("hidden_act '" + *act + "' is not supported (only 'silu')");
  }
  for (const char *key : {"attention_bias", "mlp_bias"})
    if (const json::Value *b = c.get(key); b && b->isBool() && b->asBool())
      return err(std::string(key) + " true is not supported for " + s.arch);

  // Sliding window: mistral always honours it; qwen2 only with
  // use_sliding_window, and then (HF semantics) only on layers at or above
  // max_window_layers — kvcc compiles one window for all layers, so a mix is
  // refused rather than silently applied everywhere.
  bool useWindow = s.arch == "mistral";
  if (s.arch == "qwen2")
    if (const json::Value *u = c.get("use_sliding_window"); u && u->isBool())
      useWindow = u->asBool();
  if (s.arch == "qwen2" && useWindow) {
    int64_t firstWindowed = 28; // transformers' default max_window_layers
    if (present("max_window_layers")) {
      Expected<int64_t> m = c.getInt("max_window_layers");
      if (!m)
        return err(m.message());
      firstWindowed = *m;
    }
    if (firstWindowed >= s.numLayers)
      useWindow = false;
    else if (firstWindowed > 0)
      return err("max_window_layers " + std::to_string(firstWindowed) + " < " +
                 std::to_string(s.numLayers) +
                 " layers: a sliding window on some layers only is not supported");
  }
  if (const json::Value *types = c.get("layer_types"); types && types->isArray()) {
    bool sliding = false, full = false;
    for (const json::Value &t : types->asArray()) {
      if (!t.isString())
        return err("layer_types must hold strings");
      sliding |= t.asString() == "sliding_attention";
      full |= t.asString() == "full_attention";
    }
    if (sliding && full)
      return err("layer_types mixes sliding_attention and full_attention layers; "
                 "a per-layer window is not supported");
    if (full && !sliding)
      useWindow = false;
  }
  if (useWindow && present("sliding_window")) {
    Expected<int64_t> w = c.getInt("sliding_window");
    if (!w)
      return err(w.message());
    s.slidingWindow = *w;
  }
  if (const json::Value *t = c.get("tie_word_embeddings"); t && !t->isNull()) {
    if (!t->isBool())
      return err(std::string("member 'tie_word_embeddings' is a ") + json::kindName(t->kind()) + ", expected a bool");
    s.tiedEmbeddings = t->asBool();
  }
  // Token ids may be an integer, a list (first one wins) or null.
  for (auto [key, dst] : {std::pair<const char *, int64_t *>{"bos_token_id", &s.bosToken}, {"eos_token_id", &s.eosToken}}) {
    const json::Value *v = c.get(key);
    if (!v || v->isNull())
      continue;
    const json::Value *first = v;
    if (v->isArray()) {
      if (v->asArray().empty())
        continue;
      first = &v->asArray()[0];
    }
    Expected<int64_t> id = json::toInt(*first, "member '" + std::string(key) + "'");
    if (!id)
      return err(id.message());
    *dst = *id;
  }
  s.ropeStyle = ModelSpec::RopeStyle::Neox; // HF checkpoints rotate halves
  s.qkvBias = s.arch == "qwen2";
  if (Status st = s.validate(); !st.ok())
    return err(st.message());
  return s;
}

} // namespace kvcc
