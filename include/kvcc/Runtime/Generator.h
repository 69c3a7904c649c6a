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

/// A batch of generations (Generator::generateBatch).
struct BatchStats {
  int64_t requests = 0, promptTokens = 0, generatedTokens = 0;
  int64_t steps = 0;       ///< kvcc_step calls
  int64_t rows = 0;        ///< sequences summed over the steps
  int64_t maxInFlight = 0; ///< most sequences in one step
  int64_t peakPagesUsed = 0, pagesTotal = 0;
  double seconds = 0;      ///< the whole batch, first step to last

  /// Generated tokens per second of the whole batch.
  double tokensPerSecond() const;
  json::Value toJson() const;
  std::string summary() const;
};

struct BatchResult {
  std::vector<GenerateResult> results; ///< In prompt order; per-sequence times are wall times
  BatchStats stats;
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

  /// Generates after each of `prompts` (one sequence each, ids 0..n-1, which
  /// must be new to the executor) with continuous batching: at most
  /// `maxBatch` sequences in flight, a new one admitted when a finished one
  /// frees its place and the pool holds its prompt and its maxTokens (so no
  /// step runs out of pages), prefill chunks and decode tokens of different
  /// sequences in the same step. Each sequence samples with its own Sampler
  /// of `options.sampling`, so its tokens are those generate() gives it alone
  /// (up to the batch-dependent rounding of the GEMMs). Results are in prompt
  /// order; every sequence is released, also on error.
  Expected<BatchResult> generateBatch(Executor &executor, const std::vector<std::vector<int32_t>> &prompts,
                                      const GenerateOptions &options, int64_t maxBatch) const;

  const Tokenizer &tokenizer() const { return tokenizer_; }
  bool hasChatTemplate() const { return chatTemplate_.has_value(); }
  /// Ids that end generation (the tokenizer's and the model's EOS).
  const std::vector<int32_t> &stopTokens() const { return stopTokens_; }

private:
  /// What generate() and generateBatch() refuse before the first step: the
  /// options (a sampler of them when they are valid) and each prompt.
  static Expected<Sampler> checkOptions(const GenerateOptions &options);
  Status checkPrompt(const Executor &ex, const std::vector<int32_t> &prompt, int64_t seq) const;
  /// A result with the prompt and the executor's geometry filled in.
  static GenerateResult startResult(const Executor &ex, const std::vector<int32_t> &prompt);

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
