//===- SamplerTest.cpp - Next-token sampling ------------------------------===//
//
// Frequencies are checked against softmax with a fixed seed, so the test is
// deterministic; the tolerance (0.01 absolute over 200k draws, about 8 sigma
// at p = 0.5) only guards against a wrong distribution, not against luck.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

Sampler make(double temperature, int64_t topK, double topP, uint64_t seed) {
  Expected<Sampler> s = Sampler::create({temperature, topK, topP, seed});
  EXPECT_TRUE(s.ok()) << s.message();
  return s.take();
}

std::vector<double> softmax(const std::vector<float> &logits, double t) {
  double max = -INFINITY, total = 0;
  for (float l : logits)
    max = std::max<double>(max, l);
  std::vector<double> p;
  for (float l : logits) {
    p.push_back(std::exp((l - max) / t));
    total += p.back();
  }
  for (double &x : p)
    x /= total;
  return p;
}

std::vector<double> frequencies(Sampler &s, const std::vector<float> &logits,
                                int draws) {
  std::vector<double> count(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    Expected<int32_t> id = s.sample(logits);
    EXPECT_TRUE(id.ok());
    count[*id] += 1.0 / draws;
  }
  return count;
}

const std::vector<float> kLogits = {1.0f, 2.5f, 0.3f, 2.5f, -1.0f, 1.7f};

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s = make(0.0, 0, 1.0, 0);
  EXPECT_EQ(*s.sample(kLogits), 1);
  EXPECT_EQ(*Sampler::greedy(kLogits.data(), kLogits.size()), 1);
  std::vector<float> masked = {-INFINITY, -3.0f, -INFINITY};
  EXPECT_EQ(*s.sample(masked), 1);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  Sampler s = make(1.5, 1, 1.0, 42);
  Rng rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> logits(100);
    for (float &l : logits)
      l = static_cast<float>(rng.uniform() * 10 - 5);
    EXPECT_EQ(*s.sample(logits), *Sampler::greedy(logits.data(), logits.size()));
  }
}

TEST(Sampler, SeededRunsReproduce) {
  Sampler a = make(0.8, 4, 0.95, 1234), b = make(0.8, 4, 0.95, 1234),
          c = make(0.8, 4, 0.95, 1235);
  std::vector<int32_t> ra, rb, rc;
  for (int i = 0; i < 200; ++i) {
    ra.push_back(*a.sample(kLogits));
    rb.push_back(*b.sample(kLogits));
    rc.push_back(*c.sample(kLogits));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

TEST(Sampler, RngIsPlatformIndependent) {
  // xoshiro256** seeded with splitmix64(0): fixed values, whatever the
  // standard library.
  Rng rng(0);
  uint64_t first = rng.next();
  Rng again(0);
  EXPECT_EQ(first, again.next());
  EXPECT_EQ(first, 0x99EC5F36CB75F2B4ull);
  for (int i = 0; i < 1000; ++i) {
    double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Sampler, FrequenciesMatchSoftmax) {
  for (double t : {1.0, 0.7, 2.0}) {
    Sampler s = make(t, 0, 1.0, 99);
    std::vector<double> expected = softmax(kLogits, t);
    std::vector<double> got = frequencies(s, kLogits, 200000);
    for (size_t i = 0; i < kLogits.size(); ++i)
      EXPECT_NEAR(got[i], expected[i], 0.01) << "token " << i << " T " << t;
  }
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  Sampler s = make(1.0, 3, 1.0, 5);
  // Top 3: ids 1, 3 (tied at 2.5) and 5 (1.7), renormalized.
  std::vector<double> got = frequencies(s, kLogits, 100000);
  double z = 2 * std::exp(2.5) + std::exp(1.7);
  EXPECT_NEAR(got[1], std::exp(2.5) / z, 0.01);
  EXPECT_NEAR(got[3], std::exp(2.5) / z, 0.01);
  EXPECT_NEAR(got[5], std::exp(1.7) / z, 0.01);
  EXPECT_EQ(got[0] + got[2] + got[4], 0.0);
}

TEST(Sampler, TopPExcludesTheTail) {
  // Probabilities about 0.5, 0.25, 0.125, ...: top_p 0.7 keeps two tokens.
  std::vector<float> logits;
  for (int i = 0; i < 8; ++i)
    logits.push_back(static_cast<float>(-i * std::log(2.0)));
  Sampler s = make(1.0, 0, 0.7, 3);
  Expected<std::vector<std::pair<int32_t, double>>> dist =
      s.distribution(logits.data(), logits.size());
  ASSERT_TRUE(dist.ok());
  ASSERT_EQ(dist->size(), 2u);
  EXPECT_EQ((*dist)[0].first, 0);
  EXPECT_NEAR((*dist)[0].second, 2.0 / 3.0, 1e-6);
  std::vector<double> got = frequencies(s, logits, 50000);
  EXPECT_NEAR(got[0], 2.0 / 3.0, 0.01);
  for (size_t i = 2; i < logits.size(); ++i)
    EXPECT_EQ(got[i], 0.0);
  // A tiny top_p still keeps the most likely token.
  Sampler tiny = make(1.0, 0, 1e-9, 3);
  EXPECT_EQ(tiny.distribution(logits.data(), logits.size())->size(), 1u);
  EXPECT_EQ(*tiny.sample(logits), 0);
}

TEST(Sampler, ValidatesOptions) {
  EXPECT_NE(Sampler::create({-0.1, 0, 1.0, 0}).message().find("temperature"),
            std::string::npos);
  EXPECT_FALSE(Sampler::create({NAN, 0, 1.0, 0}).ok());
  EXPECT_FALSE(Sampler::create({INFINITY, 0, 1.0, 0}).ok());
  EXPECT_NE(Sampler::create({1.0, -1, 1.0, 0}).message().find("top_k -1"),
            std::string::npos);
  EXPECT_NE(Sampler::create({1.0, 0, 0.0, 0}).message().find("top_p 0"),
            std::string::npos);
  EXPECT_FALSE(Sampler::create({1.0, 0, 1.5, 0}).ok());
  EXPECT_FALSE(Sampler::create({1.0, 0, NAN, 0}).ok());
}

TEST(Sampler, RejectsBadLogits) {
  Sampler greedy = make(0.0, 0, 1.0, 0), random = make(1.0, 0, 1.0, 0);
  std::vector<float> nan = {0.0f, NAN, 1.0f};
  EXPECT_NE(greedy.sample(nan).message().find("token 1 is NaN"),
            std::string::npos);
  EXPECT_FALSE(random.sample(nan).ok());
  std::vector<float> inf = {0.0f, INFINITY};
  EXPECT_NE(random.sample(inf).message().find("+inf"), std::string::npos);
  std::vector<float> allMasked = {-INFINITY, -INFINITY};
  EXPECT_FALSE(greedy.sample(allMasked).ok());
  EXPECT_FALSE(random.sample(allMasked).ok());
  EXPECT_FALSE(random.sample(std::vector<float>{}).ok());
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  std::vector<float> logits = {0.0f, -INFINITY, 0.0f};
  Sampler s = make(1.0, 0, 1.0, 11);
  std::vector<double> got = frequencies(s, logits, 20000);
  EXPECT_EQ(got[1], 0.0);
  EXPECT_NEAR(got[0], 0.5, 0.02);
}

} // namespace
