//===- Sampler.h - Next-token sampling --------------------------*- C++ -*-===//
//
// Greedy, temperature, top-k and top-p (nucleus) sampling over one row of
// logits. Seeded runs are reproducible on every platform: the generator
// (xoshiro256** seeded through splitmix64) and the uniform double are our own,
// because std::uniform_*_distribution differs between standard libraries.
// (exp() comes from libm; a last-ulp difference there could only matter when
// a draw lands exactly on a probability boundary.)
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_SAMPLER_H
#define KVCC_RUNTIME_SAMPLER_H

#include "kvcc/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace kvcc::runtime {

/// xoshiro256** (Blackman & Vigna), state filled by splitmix64(seed).
class Rng {
public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();

private:
  uint64_t s_[4];
};

struct SamplerOptions {
  /// 0 means greedy (argmax); otherwise logits are divided by it.
  double temperature = 0.0;
  /// Keep the k most likely tokens; 0 keeps all. 1 is greedy.
  int64_t topK = 0;
  /// Keep the smallest set of most likely tokens whose probability (after
  /// temperature and top-k) reaches topP, at least one token; 1 keeps all.
  double topP = 1.0;
  uint64_t seed = 0;
};

class Sampler {
public:
  /// Rejects, naming the field and value: temperature < 0 or not finite,
  /// top_k < 0, top_p outside (0, 1].
  static Expected<Sampler> create(const SamplerOptions &options);

  /// One token id. Errors: no logits, a NaN or +inf logit (naming its id),
  /// every logit -inf. -inf logits are masked tokens and never drawn.
  Expected<int32_t> sample(const float *logits, size_t count);
  Expected<int32_t> sample(const std::vector<float> &logits) {
    return sample(logits.data(), logits.size());
  }

  /// The candidates the options leave and their normalized probabilities, in
  /// the order sample() walks them (no randomness consumed). For tests and
  /// for callers that want log-probabilities.
  Expected<std::vector<std::pair<int32_t, double>>>
  distribution(const float *logits, size_t count) const;

  /// argmax, the lowest id among equal maxima.
  static Expected<int32_t> greedy(const float *logits, size_t count);

  const SamplerOptions &options() const { return options_; }

  /// Temperature 0 or top-k 1: the pick is the argmax and draws no randomness.
  bool isGreedy() const {
    return options_.temperature == 0.0 || options_.topK == 1;
  }

private:
  explicit Sampler(const SamplerOptions &options)
      : options_(options), rng_(options.seed) {}

  SamplerOptions options_;
  Rng rng_;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_SAMPLER_H
