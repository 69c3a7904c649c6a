//===- ModelSource.cpp - A model file or directory, canonically named -----===//
//
// Canonical names decouple the compiler's weight list (which goes into the
// artifact manifest) from the naming of any one file format. GGUF stores dims
// innermost first, so its shapes are reversed to get row-major [out, in].
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelSource.h"

#include "kvcc/Frontend/GGUF.h"
#include "kvcc/Frontend/SafeTensors.h"
#include "kvcc/Support/Json.h"

#include <cstring>
#include <sys/stat.h>

namespace kvcc {

//===----------------------------------------------------------------------===//
// Canonical names
//===----------------------------------------------------------------------===//

uint64_t WeightSpec::numElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d); // dims are capped by ModelSpec::validate
  return n;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<WeightSpec> expectedWeights(const ModelSpec &s) {
  int64_t q = s.numHeads * s.headDim, kv = s.numKVHeads * s.headDim;
  std::vector<WeightSpec> w;
  w.push_back({"embed", {s.vocabSize, s.hiddenSize}});
  for (int64_t i = 0; i < s.numLayers; ++i) {
    std::string p = "layers." + std::to_string(i) + ".";
    w.push_back({p + "attn_norm", {s.hiddenSize}});
    w.push_back({p + "wq", {q, s.hiddenSize}});
    w.push_back({p + "wk", {kv, s.hiddenSize}});
    w.push_back({p + "wv", {kv, s.hiddenSize}});
    if (s.qkvBias) {
      w.push_back({p + "bq", {q}});
      w.push_back({p + "bk", {kv}});
      w.push_back({p + "bv", {kv}});
    }
    w.push_back({p + "wo", {s.hiddenSize, q}});
    w.push_back({p + "mlp_norm", {s.hiddenSize}});
    w.push_back({p + "w_gate", {s.intermediateSize, s.hiddenSize}});
    w.push_back({p + "w_up", {s.intermediateSize, s.hiddenSize}});
    w.push_back({p + "w_down", {s.hiddenSize, s.intermediateSize}});
  }
  w.push_back({"final_norm", {s.hiddenSize}});
  if (!s.tiedEmbeddings)
    w.push_back({"lm_head", {s.vocabSize, s.hiddenSize}});
  return w;
}

namespace {
struct NameMap {
  const char *canonical, *gguf, *hf;
};
// Per-layer suffixes: canonical, GGUF (after "blk.N."), HF (after "model.layers.N.").
const NameMap kLayerNames[] = {
    {"attn_norm", "attn_norm.weight", "input_layernorm.weight"},
    {"wq", "attn_q.weight", "self_attn.q_proj.weight"},
    {"wk", "attn_k.weight", "self_attn.k_proj.weight"},
    {"wv", "attn_v.weight", "self_attn.v_proj.weight"},
    {"bq", "attn_q.bias", "self_attn.q_proj.bias"},
    {"bk", "attn_k.bias", "self_attn.k_proj.bias"},
    {"bv", "attn_v.bias", "self_attn.v_proj.bias"},
    {"wo", "attn_output.weight", "self_attn.o_proj.weight"},
    {"mlp_norm", "ffn_norm.weight", "post_attention_layernorm.weight"},
    {"w_gate", "ffn_gate.weight", "mlp.gate_proj.weight"},
    {"w_up", "ffn_up.weight", "mlp.up_proj.weight"},
    {"w_down", "ffn_down.weight", "mlp.down_proj.weight"},
};
const NameMap kGlobalNames[] = {
    {"embed", "token_embd.weight", "model.embed_tokens.weight"},
    {"final_norm", "output_norm.weight", "model.norm.weight"},
    {"lm_head", "output.weight", "lm_head.weight"},
};

std::string mapName(std::string_view c, bool gguf) {
  for (const NameMap &m : kGlobalNames)
    if (c == m.canonical)
      return gguf ? m.gguf : m.hf;
  if (c.substr(0, 7) != "layers.")
    return "";
  std::string_view rest = c.substr(7);
  size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 6)
    return "";
  std::string_view layer = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  for (char ch : layer)
    if (ch < '0' || ch > '9')
      return "";
  for (const NameMap &m : kLayerNames)
    if (suffix == m.canonical)
      return (gguf ? "blk." : "model.layers.") + std::string(layer) + "." + (gguf ? m.gguf : m.hf);
  return "";
}
} // namespace

std::string ggufTensorName(std::string_view canonical) { return mapName(canonical, true); }
std::string hfTensorName(std::string_view canonical) { return mapName(canonical, false); }

//===----------------------------------------------------------------------===//
// ModelSource
//===----------------------------------------------------------------------===//

ModelSource::ModelSource(Format format, std::string path, ModelSpec spec)
    : format_(format), path_(std::move(path)), spec_(std::move(spec)), weights_(expectedWeights(spec_)) {}

ModelSource::~ModelSource() = default;

const WeightSpec *ModelSource::findWeight(std::string_view name) const {
  for (const WeightSpec &w : weights_)
    if (w.name == name)
      return &w;
  return nullptr;
}

Status ModelSource::checkWeight(const WeightSpec &w, StoredTensor &info) const {
  std::optional<StoredTensor> st = stored(w.name);
  std::string fileName = format_ == Format::GGUF ? ggufTensorName(w.name) : hfTensorName(w.name);
  if (!st)
    return Status::error(path_ + ": missing tensor '" + fileName + "' (weight '" + w.name + "', expected shape " +
                         shapeString(w.shape) + ")");
  if (st->shape != w.shape)
    return Status::error(path_ + ": tensor '" + st->fileName + "' (weight '" + w.name + "') has shape " +
                         shapeString(st->shape) + ", expected " + shapeString(w.shape));
  if (!st->convertible)
    return Status::error(path_ + ": tensor '" + st->fileName + "' has type " + st->typeName +
                         ", which kvcc does not " +
                         (format_ == Format::GGUF ? "dequantize (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)"
                                                  : "read (supported: F32, F16, BF16)"));
  info = std::move(*st);
  return Status::success();
}

Status ModelSource::checkWeights() const {
  Status first = Status::success();
  size_t problems = 0;
  for (const WeightSpec &w : weights_) {
    StoredTensor info;
    if (Status s = checkWeight(w, info); !s.ok() && problems++ == 0)
      first = s;
  }
  if (problems > 1)
    return Status::error(first.message() + " (and " + std::to_string(problems - 1) + " more problems)");
  return first;
}

Status ModelSource::readWeight(std::string_view name, float *dst, size_t count) const {
  const WeightSpec *w = findWeight(name);
  if (!w)
    return Status::error(path_ + ": '" + std::string(name) + "' is not a weight of this " + spec_.arch + " model");
  if (count != w->numElements())
    return Status::error(path_ + ": weight '" + w->name + "' has " + std::to_string(w->numElements()) +
                         " elements (shape " + shapeString(w->shape) + "), but the destination holds " +
                         std::to_string(count));
  StoredTensor info;
  if (Status s = checkWeight(*w, info); !s.ok())
    return s;
  return readStored(name, dst, count);
}

namespace {

class GGUFModelSource : public ModelSource {
public:
  GGUFModelSource(std::string path, ModelSpec spec, GGUFFile file)
      : ModelSource(Format::GGUF, std::move(path), std::move(spec)), file_(std::move(file)) {
    if (file_.has("tokenizer.chat_template"))
      if (Expected<std::string> t = file_.chatTemplate())
        chatTemplate_ = *t;
  }

  std::optional<StoredTensor> stored(std::string_view name) const override {
    const GGUFTensorInfo *t = file_.findTensor(ggufTensorName(name));
    if (!t)
      return std::nullopt;
    StoredTensor st;
    st.fileName = t->name;
    for (size_t i = t->dims.size(); i-- > 0;)
      st.shape.push_back(static_cast<int64_t>(t->dims[i])); // checked <= INT64_MAX at open
    st.typeName = ggmlTypeDescription(t->type);
    st.convertible = isDequantizable(t->type);
    return st;
  }

  const GGUFFile *gguf() const override { return &file_; }

protected:
  Status readStored(std::string_view name, float *dst, size_t count) const override {
    return file_.dequantize(*file_.findTensor(ggufTensorName(name)), dst, count);
  }

private:
  GGUFFile file_;
};

class HFModelSource : public ModelSource {
public:
  HFModelSource(std::string path, ModelSpec spec, SafeTensorsCheckpoint ckpt, std::string tokenizerJson,
                std::optional<std::string> chatTemplate)
      : ModelSource(Format::HuggingFace, std::move(path), std::move(spec)), ckpt_(std::move(ckpt)) {
    tokenizerJsonPath_ = std::move(tokenizerJson);
    chatTemplate_ = std::move(chatTemplate);
  }

  std::optional<StoredTensor> stored(std::string_view name) const override {
    SafeTensorsCheckpoint::Entry e = ckpt_.find(hfTensorName(name));
    if (!e.info)
      return std::nullopt;
    return StoredTensor{e.info->name, e.info->shape, safeTensorsDTypeName(e.info->dtype),
                        isFloatConvertible(e.info->dtype)};
  }

protected:
  Status readStored(std::string_view name, float *dst, size_t count) const override {
    return ckpt_.readFloat(hfTensorName(name), dst, count);
  }

private:
  SafeTensorsCheckpoint ckpt_;
};

bool isRegularFile(const std::string &p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// tokenizer_config.json's chat_template: a string, or a list of
// {"name", "template"} of which "default" (else the first) is used.
Expected<std::optional<std::string>> readChatTemplate(const std::string &path) {
  if (!isRegularFile(path))
    return std::optional<std::string>();
  Expected<json::Value> cfg = json::parseFile(path);
  if (!cfg)
    return cfg.status();
  const json::Value *t = cfg->get("chat_template");
  if (!t || t->isNull())
    return std::optional<std::string>();
  if (t->isString())
    return std::optional<std::string>(t->asString());
  if (t->isArray()) {
    const json::Value *chosen = nullptr;
    for (const json::Value &e : t->asArray()) {
      const json::Value *n = e.get("name");
      if (!chosen || (n && n->isString() && n->asString() == "default"))
        chosen = &e;
    }
    if (const json::Value *tmpl = chosen ? chosen->get("template") : nullptr; tmpl && tmpl->isString())
      return std::optional<std::string>(tmpl->asString());
  }
  return Status::error(path + ": 'chat_template' is neither a string nor a list of {name, template}");
}

Expected<std::unique_ptr<ModelSource>> openHF(const std::string &dir) {
  std::string configPath = dir + "/config.json";
  if (!isRegularFile(configPath))
    return Status::error(dir + ": not a Hugging Face model directory (no config.json)");
  Expected<json::Value> config = json::parseFile(configPath);
  if (!config)
    return config.status();
  Expected<ModelSpec> spec = specFromHFConfig(*config, configPath);
  if (!spec)
    return spec.status();
  std::string weights = dir + "/model.safetensors";
  if (!isRegularFile(weights))
    weights = dir + "/model.safetensors.index.json";
  if (!isRegularFile(weights))
    return Status::error(dir + ": has neither model.safetensors nor model.safetensors.index.json");
  Expected<SafeTensorsCheckpoint> ckpt = SafeTensorsCheckpoint::open(weights);
  if (!ckpt)
    return ckpt.status();
  std::string tokenizer = dir + "/tokenizer.json";
  if (!isRegularFile(tokenizer))
    tokenizer.clear();
  Expected<std::optional<std::string>> tmpl = readChatTemplate(dir + "/tokenizer_config.json");
  if (!tmpl)
    return tmpl.status();
  return std::unique_ptr<ModelSource>(
      new HFModelSource(dir, spec.take(), ckpt.take(), std::move(tokenizer), tmpl.take()));
}

} // namespace

Expected<std::unique_ptr<ModelSource>> ModelSource::open(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
    return openHF(dir);
  }
  Expected<GGUFFile> file = GGUFFile::open(path);
  if (!file)
    return file.status();
  Expected<ModelSpec> spec = specFromGGUF(*file);
  if (!spec)
    return spec.status();
  return std::unique_ptr<ModelSource>(new GGUFModelSource(path, spec.take(), file.take()));
}

} // namespace kvcc
