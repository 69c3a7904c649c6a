//===- AttentionNumericsTest.cpp - compiled attention vs a float64 reference ===//
//
// Compiles kvc.append + kvc.paged_attention through the real CPU back end
// (kvc-lower-to-cpu … LLVM → model-style .so), runs it on fresh random inputs
// and compares with a float64 reference written from the definition of
// attention, independent of pages: keys and values are indexed by position,
// the compiled code must find them through shuffled, non-contiguous block
// tables. Unused cache entries and outputs are poisoned with NaN.
//
// The model's element type (q, k, v, the output) and the cache's vary
// independently: an f32 model over an f16 or bf16 cache rounds keys and
// values when they are appended and computes in f32.
//
// Grid: GQA ratios 1, 2, 3, 4, 8 and MQA; head_dim 36, 64 and 128; page
// sizes 1, 3, 5, 7, 16, 64, 256, token- and head-major pages; ragged batches
// mixing full prefills, chunked prefills with a cached prefix and decode
// tokens; causal, sliding window (with and without the causal bound),
// soft-cap; split-KV.
//
//===----------------------------------------------------------------------===//
#include "kvcc/InitAll.h"
#include "kvcc/Runtime/ModelABI.h"
#include "kvcc/Target/CPUTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <dlfcn.h>
#include <cstring>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>

namespace {

enum class Elem { F32, F16, BF16 };
const char *name(Elem e) { return e == Elem::F32 ? "f32" : e == Elem::F16 ? "f16" : "bf16"; }

struct Config {
  int64_t qHeads, kvHeads, headDim, blockSize;
  int64_t window = 0;    // 0: none
  int64_t splits = 1;
  double softcap = 0.0;  // 0: none
  bool causal = true;
  Elem model = Elem::F32; // q, k, v and the output
  Elem cache = Elem::F32;
  bool headMajor = false; // pages [2, kv_heads, block, head_dim]
};

std::string describe(const Config &c) {
  std::ostringstream os;
  os << "q" << c.qHeads << "_kv" << c.kvHeads << "_d" << c.headDim << "_b"
     << c.blockSize << "_w" << c.window << "_s" << c.splits << "_cap"
     << c.softcap << (c.causal ? "_causal" : "_full") << "_" << name(c.model)
     << "_cache_" << name(c.cache) << (c.headMajor ? "_head_major" : "");
  return os.str();
}

std::string moduleText(const Config &c) {
  std::string t = name(c.model);
  std::string q = "tensor<?x" + std::to_string(c.qHeads) + "x" +
                  std::to_string(c.headDim) + "x" + t + ">";
  std::string kv = "tensor<?x" + std::to_string(c.kvHeads) + "x" +
                   std::to_string(c.headDim) + "x" + t + ">";
  std::string cache = "!kvc.paged_cache<" + std::to_string(c.blockSize) + ", " +
                      std::to_string(c.kvHeads) + ", " +
                      std::to_string(c.headDim) + ", " + name(c.cache) +
                      (c.headMajor ? ", head_major>" : ">");
  std::ostringstream attrs;
  attrs << std::scientific << std::setprecision(9);
  attrs << "{scale = " << 1.0 / std::sqrt(double(c.headDim)) << " : f32";
  if (c.causal)
    attrs << ", causal";
  if (c.window)
    attrs << ", sliding_window = " << std::to_string(c.window);
  if (c.softcap > 0)
    attrs << ", softcap = " << c.softcap << " : f32";
  if (c.splits > 1)
    attrs << ", num_splits = " << std::to_string(c.splits);
  attrs << "}";
  std::ostringstream os;
  os << "func.func @attn(%q: " << q << ", %k: " << kv << ", %v: " << kv
     << ", %slots: tensor<?xi64>, %cache: " << cache
     << ", %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> "
     << q << " {\n"
     << "  kvc.append %k, %v into %cache[%slots] : " << kv << ", " << kv
     << ", tensor<?xi64> into " << cache << "\n"
     << "  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) "
        "query_start(%starts) "
     << attrs.str() << " : " << q << ", " << cache
     << ", tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> " << q << "\n"
     << "  return %o : " << q << "\n}\n";
  return os.str();
}

/// bf16 as its bits: GCC 12 has no bf16 arithmetic type.
struct BF16 {
  uint16_t bits;
};

/// Storage elements (the reference sees the rounded values): rounding to
/// nearest even, as arith.truncf.
template <typename T> T store(float x) { return static_cast<T>(x); }
template <> BF16 store<BF16>(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x))
    return {static_cast<uint16_t>((u >> 16) | 0x40)};
  u += 0x7fff + ((u >> 16) & 1);
  return {static_cast<uint16_t>(u >> 16)};
}
template <typename T> double load(T x) { return static_cast<double>(x); }
template <> double load<BF16>(BF16 x) {
  uint32_t u = uint32_t(x.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
/// What a cache of type C holds for a model value of type T.
template <typename C, typename T> C toCache(T x) { return store<C>(static_cast<float>(load(x))); }

struct Sequence {
  int64_t context;  // tokens after the step
  int64_t newTokens;
};

template <typename T, typename C>
void runCase(const Config &c, const std::string &soPath, uint64_t seed) {
  void *handle = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto fn = reinterpret_cast<kvcc::abi::StepFn>(dlsym(handle, "kvcc_attn"));
  ASSERT_NE(fn, nullptr) << dlerror();

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  // Full prefill, decode tokens, chunked prefills over a cached prefix,
  // a one-token sequence, and contexts longer than one 256-token page.
  std::vector<Sequence> seqs = {{37, 37}, {50, 1}, {70, 13}, {1, 1},
                                {300, 1}, {9, 4},  {260, 260}};
  const int64_t B = c.blockSize, H = c.kvHeads, D = c.headDim,
                Hq = c.qHeads, G = Hq / H;
  // Element d of (page, kv, offset, head) in either page layout.
  auto at = [&](int64_t page, int64_t kv, int64_t off, int64_t h, int64_t d) {
    int64_t row = c.headMajor ? (page * 2 + kv) * H * B + h * B + off
                              : ((page * 2 + kv) * B + off) * H + h;
    return row * D + d;
  };
  int64_t maxPages = 0, totalPages = 0, totalNew = 0;
  for (auto &s : seqs) {
    int64_t pages = (s.context + B - 1) / B;
    maxPages = std::max(maxPages, pages);
    totalPages += pages;
    totalNew += s.newTokens;
  }
  // A pool with spare pages; each sequence gets a random, non-contiguous set.
  int64_t poolPages = totalPages + 7;
  std::vector<int32_t> pagePool(poolPages);
  for (int64_t i = 0; i < poolPages; ++i)
    pagePool[i] = static_cast<int32_t>(i);
  std::shuffle(pagePool.begin(), pagePool.end(), rng);

  const T nan = store<T>(std::numeric_limits<float>::quiet_NaN());
  std::vector<C> cache(poolPages * 2 * B * H * D, store<C>(std::numeric_limits<float>::quiet_NaN()));
  std::vector<int32_t> tables(seqs.size() * maxPages, 0);
  std::vector<int32_t> lens, starts = {0};
  std::vector<int64_t> slots;
  std::vector<T> q(totalNew * Hq * D), k(totalNew * H * D), v(totalNew * H * D);
  // keys[s][pos][h][d] as the reference sees them (rounded to the cache).
  std::vector<std::vector<double>> refK(seqs.size()), refV(seqs.size());

  int64_t nextPage = 0, row = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const Sequence &s = seqs[si];
    int64_t pages = (s.context + B - 1) / B;
    for (int64_t p = 0; p < pages; ++p)
      tables[si * maxPages + p] = pagePool[nextPage++];
    lens.push_back(static_cast<int32_t>(s.context));
    starts.push_back(starts.back() + static_cast<int32_t>(s.newTokens));
    refK[si].resize(s.context * H * D);
    refV[si].resize(s.context * H * D);
    int64_t prefix = s.context - s.newTokens;
    for (int64_t pos = 0; pos < s.context; ++pos) {
      int64_t page = tables[si * maxPages + pos / B], off = pos % B;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d) {
          T kx = store<T>(uni(rng)), vx = store<T>(uni(rng));
          refK[si][(pos * H + h) * D + d] = load(toCache<C>(kx));
          refV[si][(pos * H + h) * D + d] = load(toCache<C>(vx));
          if (pos < prefix) { // cached before this step
            cache[at(page, 0, off, h, d)] = toCache<C>(kx);
            cache[at(page, 1, off, h, d)] = toCache<C>(vx);
          } else { // appended by the compiled code
            int64_t r = row + (pos - prefix);
            k[(r * H + h) * D + d] = kx;
            v[(r * H + h) * D + d] = vx;
          }
        }
      if (pos >= prefix)
        slots.push_back(page * B + off);
    }
    row += s.newTokens;
  }
  for (auto &x : q)
    x = store<T>(uni(rng));
  std::vector<T> out(totalNew * Hq * D, nan);

  auto qd = kvcc::abi::denseDescriptor<T, 3>(q.data(), {totalNew, Hq, D});
  auto kd = kvcc::abi::denseDescriptor<T, 3>(k.data(), {totalNew, H, D});
  auto vd = kvcc::abi::denseDescriptor<T, 3>(v.data(), {totalNew, H, D});
  auto sd = kvcc::abi::denseDescriptor<int64_t, 1>(slots.data(), {totalNew});
  // The descriptor's sizes follow the page layout (head-major swaps B and H).
  auto cd = c.headMajor
                ? kvcc::abi::denseDescriptor<C, 5>(cache.data(), {poolPages, 2, H, B, D})
                : kvcc::abi::denseDescriptor<C, 5>(cache.data(), {poolPages, 2, B, H, D});
  auto td = kvcc::abi::denseDescriptor<int32_t, 2>(
      tables.data(), {static_cast<int64_t>(seqs.size()), maxPages});
  auto ld = kvcc::abi::denseDescriptor<int32_t, 1>(
      lens.data(), {static_cast<int64_t>(lens.size())});
  auto std_ = kvcc::abi::denseDescriptor<int32_t, 1>(
      starts.data(), {static_cast<int64_t>(starts.size())});
  auto od = kvcc::abi::denseDescriptor<T, 3>(out.data(), {totalNew, Hq, D});
  void *args[] = {&qd, &kd, &vd, &sd, &cd, &td, &ld, &std_, &od};
  fn(args);

  // float64 reference, position-indexed, from the definition.
  double scale = 1.0 / std::sqrt(double(D));
  // Each row's error is judged against that row's own scale: sum_j p_j |v_j|
  // (over sum_j p_j), the magnitude its rounding errors grow with. A long
  // row's output is a small average of values of size 1, and the largest
  // output of the whole grid (a short row's) would hide a 10 % error there.
  double worst = 0.0;
  row = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const Sequence &s = seqs[si];
    for (int64_t t = 0; t < s.newTokens; ++t, ++row) {
      int64_t pos = s.context - s.newTokens + t;
      int64_t hi = c.causal ? pos + 1 : s.context;
      int64_t lo = c.window ? std::max<int64_t>(0, pos - c.window + 1) : 0;
      for (int64_t hq = 0; hq < Hq; ++hq) {
        int64_t h = hq / G;
        std::vector<double> scores;
        double m = -INFINITY;
        for (int64_t j = lo; j < hi; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += load(q[(row * Hq + hq) * D + d]) * refK[si][(j * H + h) * D + d];
          double sc = dot * scale;
          if (c.softcap > 0)
            sc = c.softcap * std::tanh(sc / c.softcap);
          scores.push_back(sc);
          m = std::max(m, sc);
        }
        double sum = 0;
        for (double &sc : scores)
          sum += (sc = std::exp(sc - m));
        double rowErr = 0.0, rowScale = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          double o = 0, magnitude = 0;
          for (int64_t j = lo; j < hi; ++j) {
            double pv = scores[j - lo] * refV[si][(j * H + h) * D + d];
            o += pv;
            magnitude += std::fabs(pv);
          }
          o /= sum;
          double got = load(out[(row * Hq + hq) * D + d]);
          ASSERT_FALSE(std::isnan(got)) << "row " << row << " head " << hq;
          rowErr = std::max(rowErr, std::fabs(got - o));
          rowScale = std::max(rowScale, magnitude / sum);
        }
        worst = std::max(worst, rowErr / rowScale);
      }
    }
  }
  // The output's rounding dominates (the reference reads the cache's values).
  // Measured worst: 3e-7 (f32), 3.6e-4 (f16), 2.8e-3 (bf16).
  double tolerance = std::is_same<T, float>::value ? 1e-6 : std::is_same<T, BF16>::value ? 1e-2 : 1e-3;
  EXPECT_LE(worst, tolerance) << describe(c);

  // The append wrote the new tokens' keys and values, every head, where the
  // block tables point, rounded once to the cache's type.
  for (size_t i = 0; i < slots.size(); ++i) {
    int64_t page = slots[i] / B, off = slots[i] % B;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        ASSERT_EQ(load(cache[at(page, 0, off, h, d)]),
                  load(toCache<C>(k[(i * H + h) * D + d])));
        ASSERT_EQ(load(cache[at(page, 1, off, h, d)]),
                  load(toCache<C>(v[(i * H + h) * D + d])));
      }
  }
  dlclose(handle);
}

class AttentionNumerics : public ::testing::TestWithParam<Config> {};

TEST_P(AttentionNumerics, MatchesFloat64Reference) {
  const Config &c = GetParam();
  mlir::MLIRContext context;
  kvcc::loadAllDialects(context);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(moduleText(c), &context);
  ASSERT_TRUE(module) << moduleText(c);

  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kvcc-attn", dir));
  std::string so = (dir + "/attn.so").str();
  ASSERT_TRUE(mlir::succeeded(
      kvcc::compileToSharedLibrary(*module, so, kvcc::CPUTargetOptions{})));
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  if (c.model == Elem::F16 && c.cache == Elem::F16)
    runCase<_Float16, _Float16>(c, so, seed);
  else if (c.model == Elem::F32 && c.cache == Elem::F16)
    runCase<float, _Float16>(c, so, seed);
  else if (c.model == Elem::F32 && c.cache == Elem::BF16)
    runCase<float, BF16>(c, so, seed);
  else if (c.model == Elem::BF16 && c.cache == Elem::BF16)
    runCase<BF16, BF16>(c, so, seed);
  else if (c.model == Elem::F32 && c.cache == Elem::F32)
    runCase<float, float>(c, so, seed);
  else
    FAIL() << "no instantiation for " << describe(c);
  llvm::sys::fs::remove_directories(dir);
}

std::vector<Config> grid() {
  std::vector<Config> g;
  // GQA ratios 1, 2, 4, 8 and MQA, head_dim 64, across page sizes.
  g.push_back({4, 4, 64, 16});
  g.push_back({8, 4, 64, 3});
  g.push_back({8, 2, 64, 1});
  g.push_back({16, 2, 64, 64});
  g.push_back({8, 1, 64, 256});
  // head_dim 128.
  g.push_back({8, 2, 128, 16});
  g.push_back({4, 1, 128, 3});
  // Sliding window, soft-cap, split-KV and their mix; non-causal.
  g.push_back({8, 2, 64, 16, /*window=*/8});
  g.push_back({8, 2, 64, 3, /*window=*/40, /*splits=*/3});
  g.push_back({4, 4, 64, 1, 0, /*splits=*/5});
  g.push_back({8, 1, 128, 64, 0, 4, /*softcap=*/5.0});
  g.push_back({9, 3, 64, 16, 0, 1, 0.0, /*causal=*/false});
  // f16 storage, f32 math.
  g.push_back({8, 2, 64, 16, 0, 2, 0.0, true, Elem::F16, Elem::F16});
  g.push_back({8, 8, 128, 256, 30, 1, 0.0, true, Elem::F16, Elem::F16});
  // An f32 model over a half-precision cache (kvcc compile --kv-cache-dtype).
  g.push_back({9, 3, 64, 16, 0, 1, 0.0, true, Elem::F32, Elem::F16});
  g.push_back({8, 2, 128, 1, 0, 3, 0.0, true, Elem::F32, Elem::F16});
  g.push_back({8, 2, 64, 64, 20, 1, 0.0, true, Elem::F32, Elem::BF16});
  g.push_back({4, 4, 64, 3, 0, 1, 0.0, true, Elem::BF16, Elem::BF16});
  // Head-major pages; a head_dim that is not a multiple of 8; a sliding
  // window without the causal bound.
  g.push_back({8, 2, 64, 16, 0, 1, 0.0, true, Elem::F32, Elem::F32, /*headMajor=*/true});
  g.push_back({6, 2, 128, 5, 12, 2, 0.0, true, Elem::F16, Elem::F16, /*headMajor=*/true});
  g.push_back({6, 3, 36, 7});
  g.push_back({8, 2, 64, 16, /*window=*/24, 1, 0.0, /*causal=*/false});
  // Groups of 5-7 heads: a decode block's dot products take one or two
  // keys at a time and its P·V two row groups (4 + the rest).
  g.push_back({14, 2, 64, 7});
  g.push_back({10, 2, 36, 16, 0, 1, 0.0, true, Elem::F32, Elem::F16});
  return g;
}

INSTANTIATE_TEST_SUITE_P(Grid, AttentionNumerics, ::testing::ValuesIn(grid()),
                         [](const auto &info) { return describe(info.param); });

} // namespace
