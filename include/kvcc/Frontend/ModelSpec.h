//===- ModelSpec.h - Architecture description of a decoder LM ---*- C++ -*-===//
//
// Everything the compiler needs to know about a model's shape, read from GGUF
// metadata or a Hugging Face config.json, and written into the artifact
// manifest so the runtime can check the weights it is given against it.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_FRONTEND_MODELSPEC_H
#define KVCC_FRONTEND_MODELSPEC_H

#include "kvcc/Support/Error.h"
#include "kvcc/Support/Json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvcc {

class GGUFFile;

struct ModelSpec {
  /// Neox: rotate-half (pairs (i, i + rotaryDim/2)), as in HF checkpoints.
  /// GptJ: adjacent pairs (2i, 2i+1), llama.cpp's "NORM" rope. llama.cpp's
  /// converter permutes Q/K of llama-arch models so that GGUF llama/mistral use
  /// GptJ while GGUF qwen2 keeps Neox.
  enum class RopeStyle { Neox, GptJ };

  std::string arch; ///< llama | mistral | qwen2
  int64_t numLayers = 0, hiddenSize = 0, numHeads = 0, numKVHeads = 0, headDim = 0;
  int64_t intermediateSize = 0, vocabSize = 0, maxContext = 0;
  double ropeTheta = 10000.0, rmsEps = 1e-6;
  int64_t rotaryDim = 0;
  RopeStyle ropeStyle = RopeStyle::Neox;
  std::optional<int64_t> slidingWindow;
  bool qkvBias = false, tiedEmbeddings = false;
  int64_t bosToken = -1, eosToken = -1; ///< -1: unknown

  /// Positive dims within sane caps, numHeads % numKVHeads == 0, rotaryDim
  /// even and <= headDim, finite positive theta/eps, token ids in the vocab.
  Status validate() const;

  json::Value toJsonValue() const;
  std::string toJson(int indent = 2) const;
  /// Reads what toJson() writes; the result is validated.
  static Expected<ModelSpec> fromJson(const json::Value &v);
};

const char *ropeStyleName(ModelSpec::RopeStyle style); ///< "neox" | "gptj"
bool isSupportedArch(std::string_view arch);
/// "SOURCE: architecture 'phi3' is not supported (supported: llama, mistral, qwen2)"
Status unsupportedArchError(std::string_view source, std::string_view arch);

/// Reads {arch}.* and tokenizer.ggml.* metadata (plus the tensor list, for
/// tied embeddings and a vocab size fallback).
Expected<ModelSpec> specFromGGUF(const GGUFFile &file);
/// Reads a Hugging Face config.json; `sourceName` prefixes errors.
Expected<ModelSpec> specFromHFConfig(const json::Value &config, const std::string &sourceName);

} // namespace kvcc

#endif // KVCC_FRONTEND_MODELSPEC_H
