//===- ModelSource.h - A model file or directory, canonically named -*- C++ -*-===//
//
// Hides whether weights come from a GGUF file or a Hugging Face directory:
// the rest of kvcc sees a ModelSpec and weights under canonical names with
// row-major shapes ([out, in] for matrices):
//
//   embed [vocab, hidden]            final_norm [hidden]
//   lm_head [vocab, hidden]          (absent when spec().tiedEmbeddings: use embed)
//   layers.{i}.attn_norm [hidden]    layers.{i}.mlp_norm [hidden]
//   layers.{i}.wq [heads*headDim, hidden]   layers.{i}.wk/.wv [kvHeads*headDim, hidden]
//   layers.{i}.bq [heads*headDim]    layers.{i}.bk/.bv [kvHeads*headDim]   (qkvBias only)
//   layers.{i}.wo [hidden, heads*headDim]
//   layers.{i}.w_gate/.w_up [ffn, hidden]   layers.{i}.w_down [hidden, ffn]
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_FRONTEND_MODELSOURCE_H
#define KVCC_FRONTEND_MODELSOURCE_H

#include "kvcc/Frontend/ModelSpec.h"
#include "kvcc/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvcc {

class GGUFFile;
class SafeTensorsCheckpoint;

struct WeightSpec {
  std::string name;           ///< Canonical name.
  std::vector<int64_t> shape; ///< Row-major.
  uint64_t numElements() const;
};

/// The weights a model of this spec needs, in a stable order.
std::vector<WeightSpec> expectedWeights(const ModelSpec &spec);
/// File-format names of a canonical weight ("" when the name is not canonical).
std::string ggufTensorName(std::string_view canonical);
std::string hfTensorName(std::string_view canonical);
/// "[576, 49152]"
std::string shapeString(const std::vector<int64_t> &shape);

class ModelSource {
public:
  enum class Format { GGUF, HuggingFace };

  /// `path` is a .gguf file or a directory holding config.json and
  /// model.safetensors or model.safetensors.index.json.
  static Expected<std::unique_ptr<ModelSource>> open(const std::string &path);
  virtual ~ModelSource();

  Format format() const { return format_; }
  const std::string &path() const { return path_; }
  const ModelSpec &spec() const { return spec_; }
  const std::vector<WeightSpec> &weights() const { return weights_; }
  const WeightSpec *findWeight(std::string_view canonicalName) const;

  /// How a canonical weight is stored in the file.
  struct StoredTensor {
    std::string fileName;       ///< Name in the file, e.g. blk.0.attn_q.weight.
    std::vector<int64_t> shape; ///< Converted to row-major order.
    std::string typeName;       ///< "Q4_1 (3)", "BF16", ...
    bool convertible = false;   ///< readWeight can convert this type.
  };
  virtual std::optional<StoredTensor> stored(std::string_view canonicalName) const = 0;

  /// Every expected weight exists with exactly the expected shape and a
  /// convertible type. Errors name tensor, expected and actual shape.
  Status checkWeights() const;
  /// Converts a weight to float into caller memory (count = its elements).
  Status readWeight(std::string_view canonicalName, float *dst, size_t count) const;

  /// The GGUF file (tokenizer metadata lives there), or nullptr.
  virtual const GGUFFile *gguf() const { return nullptr; }
  /// HF only: path of tokenizer.json ("" when absent).
  const std::string &tokenizerJsonPath() const { return tokenizerJsonPath_; }
  /// tokenizer.chat_template (GGUF) or tokenizer_config.json's chat_template.
  const std::optional<std::string> &chatTemplate() const { return chatTemplate_; }

protected:
  ModelSource(Format format, std::string path, ModelSpec spec);
  /// Converts the stored tensor (already checked against the spec).
  virtual Status readStored(std::string_view canonicalName, float *dst, size_t count) const = 0;
  /// Checks one weight; on success `info` is filled.
  Status checkWeight(const WeightSpec &w, StoredTensor &info) const;

  Format format_;
  std::string path_;
  ModelSpec spec_;
  std::vector<WeightSpec> weights_;
  std::string tokenizerJsonPath_;
  std::optional<std::string> chatTemplate_;
};

} // namespace kvcc

#endif // KVCC_FRONTEND_MODELSOURCE_H
