//===- Sampler.cpp - Next-token sampling ----------------------------------===//
//
// Candidates are ordered by (logit descending, id ascending) whenever a cut is
// made (top-k, top-p), so ties always resolve toward the lower id and results
// do not depend on a sort's stability. Without a cut the walk is in id order,
// which saves sorting a 50k-entry vocabulary on every decode step.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace kvcc::runtime {
namespace {

uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::string str(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

/// NaN and +inf cannot be sampled meaningfully (softmax is undefined); they
/// signal a numerical bug upstream, so they are errors rather than guesses.
Status checkLogits(const float *logits, size_t count) {
  if (!logits || count == 0)
    return Status::error("sampler: no logits");
  if (count > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error("sampler: " + std::to_string(count) +
                         " logits do not fit 32-bit token ids");
  for (size_t i = 0; i < count; ++i) {
    if (std::isnan(logits[i]))
      return Status::error("sampler: logit of token " + std::to_string(i) +
                           " is NaN");
    if (logits[i] == std::numeric_limits<float>::infinity())
      return Status::error("sampler: logit of token " + std::to_string(i) +
                           " is +inf");
  }
  return Status::success();
}

} // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t &s : s_)
    s = splitmix64(seed);
}

uint64_t Rng::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

Expected<Sampler> Sampler::create(const SamplerOptions &options) {
  if (!(options.temperature >= 0.0) || std::isinf(options.temperature))
    return Status::error("sampler: temperature " + str(options.temperature) +
                         " must be a finite value >= 0");
  if (options.topK < 0)
    return Status::error("sampler: top_k " + std::to_string(options.topK) +
                         " must be >= 0");
  if (!(options.topP > 0.0 && options.topP <= 1.0))
    return Status::error("sampler: top_p " + str(options.topP) +
                         " must be in (0, 1]");
  return Sampler(options);
}

Expected<int32_t> Sampler::greedy(const float *logits, size_t count) {
  if (Status s = checkLogits(logits, count); !s.ok())
    return s;
  size_t best = 0;
  for (size_t i = 1; i < count; ++i)
    if (logits[i] > logits[best]) // strict: the first maximum wins
      best = i;
  if (logits[best] == -std::numeric_limits<float>::infinity())
    return Status::error("sampler: every logit is -inf");
  return static_cast<int32_t>(best);
}

Expected<std::vector<std::pair<int32_t, double>>>
Sampler::distribution(const float *logits, size_t count) const {
  using Result = std::vector<std::pair<int32_t, double>>;
  if (isGreedy()) {
    Expected<int32_t> id = greedy(logits, count);
    if (!id)
      return id.status();
    return Result{{*id, 1.0}};
  }
  if (Status s = checkLogits(logits, count); !s.ok())
    return s;

  std::vector<int32_t> ids;
  ids.reserve(count);
  float maxLogit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) {
    if (logits[i] == -std::numeric_limits<float>::infinity())
      continue;
    ids.push_back(static_cast<int32_t>(i));
    maxLogit = std::max(maxLogit, logits[i]);
  }
  if (ids.empty())
    return Status::error("sampler: every logit is -inf");

  auto better = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  bool cutK = options_.topK > 0 && static_cast<size_t>(options_.topK) < ids.size();
  bool cutP = options_.topP < 1.0;
  if (cutK) {
    auto kth = ids.begin() + options_.topK;
    std::partial_sort(ids.begin(), kth, ids.end(), better);
    ids.erase(kth, ids.end());
  } else if (cutP) {
    std::sort(ids.begin(), ids.end(), better);
  }

  Result out;
  out.reserve(ids.size());
  double total = 0.0;
  for (int32_t id : ids) {
    double p = std::exp((static_cast<double>(logits[id]) - maxLogit) /
                        options_.temperature);
    out.emplace_back(id, p);
    total += p;
  }
  if (cutP) {
    // Smallest prefix whose mass reaches topP; the most likely token always
    // stays, even when it alone exceeds topP.
    double threshold = options_.topP * total, mass = 0.0;
    size_t keep = 0;
    while (keep < out.size()) {
      mass += out[keep++].second;
      if (mass >= threshold)
        break;
    }
    out.resize(keep);
    total = mass;
  }
  // total >= 1: the maximum logit contributes exp(0) unless top-k removed it,
  // which it cannot (it is ranked first).
  for (auto &entry : out)
    entry.second /= total;
  return out;
}

Expected<int32_t> Sampler::sample(const float *logits, size_t count) {
  Expected<std::vector<std::pair<int32_t, double>>> dist =
      distribution(logits, count);
  if (!dist)
    return dist.status();
  // Greedy consumes no randomness; any other mode draws exactly once per
  // call, so a seeded stream does not depend on the shapes of distributions.
  if (isGreedy())
    return dist->front().first;
  double u = rng_.uniform(), mass = 0.0;
  for (const auto &[id, p] : *dist) {
    mass += p;
    if (u < mass)
      return id;
  }
  return dist->back().first; // u fell past a total that rounded below 1.
}

} // namespace kvcc::runtime
