//===- Executor.h - Runs the steps of a compiled model ----------*- C++ -*-===//
//
// Owns the paged KV cache (one pool per layer in the cache's dtype, token-major
// pages [pages, 2, block_size, kv_heads, head_dim]; device memory for a CUDA
// artifact, with the weights) and the BlockManager that hands its pages out,
// and turns a ragged batch of (sequence, new tokens) into one kvcc_step call
// with the argument descriptors of ModelABI.h.
//
// On a CUDA artifact with ExecutorOptions::cudaGraphs, decode steps replay a
// CUDA graph of kvcc_step per batch size (see launchStep): what a step
// launches depends only on its shapes and on the addresses of its buffers,
// which the executor keeps fixed (padded block tables, buffers sized up
// front).
//
// The compiled code checks nothing (ModelABI.h), so everything it relies on is
// checked here, before the call: a bug in the scheduling above must surface as
// an error, not as a write past a page.
//
// --no-kv-cache mode is the baseline of the seed experiment: each step forgets
// the cache, takes fresh pages and recomputes the whole sequence as one prefill
// chunk. Greedy tokens must equal those of the cached path.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_EXECUTOR_H
#define KVCC_RUNTIME_EXECUTOR_H

#include "kvcc/Runtime/Artifact.h"
#include "kvcc/Runtime/BlockManager.h"
#include "kvcc/Runtime/WeightArena.h"
#include "kvcc/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace kvcc::runtime {

/// The new tokens of one sequence in a step (a prefill chunk or one decode
/// token). An id the executor has not seen starts a new sequence.
struct StepSequence {
  int64_t seq = 0;
  std::vector<int32_t> tokens;
};

struct ExecutorOptions {
  /// Pages in the pool; 0 derives ceil(maxContext / block_size) * maxBatch.
  int64_t kvPages = 0;
  /// Tokens per sequence the derived pool holds; 0 means the model's context.
  int64_t maxContext = 0;
  int64_t maxBatch = 1;
  /// Recompute every sequence from scratch at every step (no cache reuse).
  bool noKVCache = false;
  /// Fill pages with NaN when a sequence takes them, so a kernel that reads
  /// a slot nobody wrote shows up as NaN logits (tests turn it on).
  bool poisonNewPages = false;
  /// CUDA artifacts: replay decode steps (one new token per sequence) from a
  /// CUDA graph, one per batch size, captured the second time that batch
  /// size runs (the first run warms the kernels and the caches up). Block
  /// tables of those steps are padded to the widest a sequence can need, so
  /// one graph serves every context length. If a capture fails the executor
  /// says why (cudaGraphStatus) and goes on without graphs.
  bool cudaGraphs = false;
};

/// What the CUDA graphs of an executor did (ExecutorOptions::cudaGraphs).
struct CudaGraphStats {
  bool enabled = false;   ///< asked for, on a CUDA artifact, and not given up
  int64_t captured = 0;   ///< graphs made (one per decode batch size, again after a buffer grew)
  int64_t replayed = 0;   ///< decode steps run as a graph launch
  int64_t eagerSteps = 0; ///< steps run launch by launch
  std::string disabledBecause; ///< why graphs were given up, if they were
};

class Executor {
public:
  /// Allocates the pools. `weights` must outlive the executor.
  static Expected<std::unique_ptr<Executor>> create(const Artifact &artifact, WeightArena &weights,
                                                    const ExecutorOptions &options);

  /// Runs one step. `logits` becomes [batch.size(), vocab], row b for the last
  /// new token of batch[b]. On error (pool exhausted, context too long, bad
  /// token id, duplicate sequence) nothing has changed.
  Status step(const std::vector<StepSequence> &batch, std::vector<float> &logits);

  /// Runs one step and returns each row's greedy token (the model's own
  /// argmax: the lowest id among equal maxima) instead of the logits; on a GPU
  /// only these 8 bytes per sequence come back. A NaN or +inf winning logit,
  /// or a row of -inf, is an error naming the sequence and token, as the
  /// sampler would refuse it; the step has run by then (its tokens are in
  /// the cache).
  Status stepGreedy(const std::vector<StepSequence> &batch, std::vector<int32_t> &tokens);

  /// Forgets a finished sequence; its pages return to the pool.
  Status release(int64_t seq);

  /// Tokens of `seq` so far (0 for an unknown sequence).
  int64_t contextLength(int64_t seq) const;

  const BlockManager &blocks() const { return *blocks_; }
  const CacheGeometry &cache() const { return cache_; }
  int64_t numPages() const { return pages_; }
  int64_t vocabSize() const { return vocab_; }
  /// The model's context (spec.maxContext): no sequence grows past it.
  int64_t modelContext() const { return maxContext_; }
  /// Tokens one sequence can hold: pages * block_size, capped by the model.
  int64_t tokenCapacity() const;
  /// Tokens the generators let one sequence grow to: with a pool derived from
  /// maxContext (kvPages = 0), the pages of one of its maxBatch shares, so a
  /// sequence stops where it would alone; else tokenCapacity().
  int64_t sequenceCapacity() const;
  /// 2 * layers * kv_heads * head_dim * bytes per element.
  int64_t kvBytesPerToken() const { return cache_.pageBytes() / cache_.blockSize * cache_.layers; }
  int64_t poolBytes() const { return pages_ * cache_.pageBytes() * cache_.layers; }
  bool noKVCache() const { return options_.noKVCache; }
  /// Tokens sent through kvcc_step so far (recomputation counts again).
  int64_t tokensComputed() const { return tokensComputed_; }
  int64_t stepsRun() const { return stepsRun_; }
  const CudaGraphStats &cudaGraphStats() const { return graphStats_; }

  /// Layer `l`'s pages, elements of cache().dtype (tests inspect them); null
  /// for a CUDA artifact, whose pools are device memory.
  const void *layerPool(int64_t l) const { return device_ ? nullptr : pools_[static_cast<size_t>(l)].get(); }
  /// True when the artifact targets CUDA: weights, pools and the step on the GPU.
  bool onDevice() const { return device_ != nullptr; }

  ~Executor();

private:
  struct DeviceState;
  Executor() = default;
  static Expected<std::unique_ptr<Executor>> createOnDevice(std::unique_ptr<Executor> e);
  /// Where the step's arguments live (host or device memory).
  struct StepBuffers {
    int32_t *tokens;
    int64_t *positions, *slots;
    int32_t *queryStart, *contextLens, *blockTables;
    int64_t *logitRows;
    void *weights; ///< elements of the arena's dtype
    std::vector<void *> caches; ///< elements of cache_.dtype
    float *logits;
    int32_t *greedy;     // [B]
    float *greedyLogit;  // [B]
  };
  /// What a step brings back to the host.
  enum class Output { Logits, Greedy };
  /// Validates, schedules and runs a step; `logits` ([B, vocab]) or `greedy`
  /// and greedyLogit_ ([B]) hold what `want` asked for.
  Status run(const std::vector<StepSequence> &batch, Output want, std::vector<float> &logits,
             std::vector<int32_t> &greedy);
  /// Calls kvcc_step with the descriptors of ModelABI.h over `m`.
  void callStep(const StepBuffers &m, int64_t B, int64_t N) const;
  /// Uploads the step's arguments, runs it on the GPU (from a CUDA graph
  /// when `graph`), downloads what `want` asks for.
  Status runOnDevice(int64_t B, int64_t N, bool graph, Output want, std::vector<float> &logits,
                     std::vector<int32_t> &greedy);
  /// Admission and input checks shared by both modes; nothing changes.
  Status checkBatch(const std::vector<StepSequence> &batch) const;
  /// Sizes the device step buffers for the largest decode step.
  Status reserveForGraphs();
  /// True when this step runs from a CUDA graph (a decode step, graphs on).
  bool graphStep(const std::vector<StepSequence> &batch) const;
  /// Runs the step on the device: from its graph, by capturing one, or
  /// launch by launch (`dev` holds the step's arguments).
  void launchStep(const StepBuffers &dev, int64_t B, int64_t N, bool graph);
  /// Appends the batch's tokens (or, without a cache, whole histories) and
  /// fills the argument arrays below (block tables padded when `graph`).
  Status schedule(const std::vector<StepSequence> &batch, bool graph);
  /// The guarantees of ModelABI.h, checked on the arrays about to be passed.
  Status checkGuarantees() const;
  Status poison(int64_t page);

  const Artifact *artifact_ = nullptr;
  WeightArena *weights_ = nullptr;
  ExecutorOptions options_;
  CacheGeometry cache_;
  int64_t vocab_ = 0, maxContext_ = 0, pages_ = 0;
  std::unique_ptr<BlockManager> blocks_;
  std::vector<FloatBuffer> pools_; ///< 4-byte words holding cache_.dtype elements
  std::unique_ptr<DeviceState> device_;
  /// Without a cache, the tokens of each live sequence (to recompute them).
  std::unordered_map<int64_t, std::vector<int32_t>> history_;
  int64_t tokensComputed_ = 0, stepsRun_ = 0;

  // The step's arguments (kept between steps to reuse their memory).
  std::vector<int32_t> tokens_, queryStart_, contextLens_, blockTables_;
  std::vector<int64_t> positions_, slots_, logitRows_;
  int64_t tableWidth_ = 0;
  CudaGraphStats graphStats_;
  // The outputs a caller did not ask for still need room on the host path.
  std::vector<float> logitsScratch_, greedyLogit_;
  std::vector<int32_t> greedyScratch_;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_EXECUTOR_H
