//===- Generator.h - Text in, text out, over an Executor --------*- C++ -*-===//
//
// Tokenizes a prompt (optionally through the model's chat template), runs the
// prefill (whole or in chunks) and the decode loop on an Executor, samples,
// and streams the decoded text as it is generated. Every check that can fail
// (sampler options, prompt length against the context and the cache) runs
// before the first step, so a refused run prints nothing.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_GENERATOR_H
#define KVCC_RUNTIME_GENERATOR_H

#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/ChatTemplate.h"
#include "kvcc/Runtime/Executor.h"
#include "kvcc/Runtime/Sampler.h"
#include "kvcc/Runtime/Tokenizer.h"
#include "kvcc/Support/Error.h"
#include "kvcc/Support/Json.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace kvcc::runtime {

/// The model's tokenizer: GGUF tokenizer.ggml.* metadata (model "gpt2";
/// tokenizer.ggml.pre "smollm" -> SmolLM, "gpt2"/"default"/absent -> Gpt2),
/// or a Hugging Face directory's tokenizer.json.
Expected<Tokenizer> loadTokenizer(const ModelSource &source);

struct GenerateOptions {
  int64_t maxTokens = 128;
  SamplerOptions sampling;
  /// Prompt tokens per prefill step; 0 sends the whole prompt in one step.
  int64_t prefillChunk = 0;
  /// Keep going past EOS until maxTokens (fixed-length benchmarks).
  bool ignoreEos = false;
};

struct GenerateStats {
  int64_t promptTokens = 0, generatedTokens = 0;
  int64_t prefillSteps = 0, decodeSteps = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
  int64_t kvBytesPerToken = 0;
  int64_t kvBytesInUse = 0; ///< At the end, before the sequence is released.
  int64_t pagesUsed = 0, pagesTotal = 0, blockSize = 0;
  int64_t tokensComputed = 0; ///< Through kvcc_step (recomputation counts).
  bool noKVCache = false;
  std::string stopReason; ///< "eos", "max_tokens" or "context_full"

  double prefillTokensPerSecond() const;
  double decodeTokensPerSecond() const;
  json::Value toJson() const;
  /// Human-readable lines for stderr.
  std::string summary() const;
};

struct GenerateResult {
  std::vector<int32_t> promptIds;
  std::vector<int32_t> tokens; ///< Generated ids, EOS included when hit.
  std::string text;            ///< What was streamed.
  GenerateStats stats;
};

class Generator {
public:
  /// Loads the tokenizer and (when the model has one) the chat template.
  static Expected<Generator> create(const ModelSource &source);

  /// The prompt's token ids; `chat` renders it as one user message with the
  /// generation prompt through the model's template. An empty result is an
  /// error.
  Expected<std::vector<int32_t>> encodePrompt(const std::string &prompt, bool chat) const;

  /// Generates after `promptIds` as sequence `seq` (which must be new to the
  /// executor; it is released at the end, also on error). Text is written
  /// to `out` (when not null) as it becomes complete UTF-8.
  Expected<GenerateResult> generate(Executor &executor, const std::vector<int32_t> &promptIds,
                                    const GenerateOptions &options, std::FILE *out, int64_t seq = 0) const;

  const Tokenizer &tokenizer() const { return tokenizer_; }
  bool hasChatTemplate() const { return chatTemplate_.has_value(); }
  /// Ids that end generation (the tokenizer's and the model's EOS).
  const std::vector<int32_t> &stopTokens() const { return stopTokens_; }

private:
  Generator(Tokenizer t, std::optional<std::string> chat, std::string modelPath, bool addBos,
            std::vector<int32_t> stops)
      : tokenizer_(std::move(t)), chatTemplate_(std::move(chat)), modelPath_(std::move(modelPath)),
        addBos_(addBos), stopTokens_(std::move(stops)) {}

  Tokenizer tokenizer_;
  /// Parsed only when --chat asks for it: a template this interpreter cannot
  /// read must not stop a plain completion.
  std::optional<std::string> chatTemplate_;
  std::string modelPath_;
  bool addBos_ = false;
  std::vector<int32_t> stopTokens_;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_GENERATOR_H
