//===- ArgmaxNumericsTest.cpp - compiled kvc.argmax vs a scan --------------===//
//
// Compiles kvc.argmax through the real CPU back end and checks every row
// against a plain scan written from the op's definition: the first maximum,
// a NaN above every number (the first NaN), a row of -inf at column 0. Rows
// are random, then doctored: repeated maxima, NaNs, +inf, -inf rows. Row
// lengths that 16-byte chunks tile and ones they do not (the GPU kernel's two
// load paths), f32 and f16.
//
//===----------------------------------------------------------------------===//
#include "kvcc/InitAll.h"
#include "kvcc/Runtime/ModelABI.h"
#include "kvcc/Target/CPUTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <limits>
#include <random>

namespace {

/// The definition, for the test: one left-to-right pass.
template <typename T> std::pair<int32_t, double> firstMaximum(const T *row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n && !std::isnan(double(row[best])); ++i)
    if (std::isnan(double(row[i])) || double(row[i]) > double(row[best]))
      best = i;
  return {static_cast<int32_t>(best), double(row[best])};
}

template <typename T> void runCase(int64_t cols, const std::string &type, uint64_t seed) {
  mlir::MLIRContext context;
  kvcc::loadAllDialects(context);
  const std::string t = "tensor<?x" + std::to_string(cols) + "x" + type + ">";
  const std::string text = "func.func @pick(%l: " + t + ") -> (tensor<?xi32>, tensor<?x" + type +
                           ">) {\n  %i, %v = kvc.argmax %l : " + t + " -> tensor<?xi32>, tensor<?x" + type +
                           ">\n  return %i, %v : tensor<?xi32>, tensor<?x" + type + ">\n}\n";
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  ASSERT_TRUE(module) << text;
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kvcc-argmax", dir));
  const std::string so = (dir + "/pick.so").str();
  ASSERT_TRUE(mlir::succeeded(kvcc::compileToSharedLibrary(*module, so, kvcc::CPUTargetOptions{})));
  void *handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto fn = reinterpret_cast<kvcc::abi::StepFn>(dlsym(handle, "kvcc_pick"));
  ASSERT_NE(fn, nullptr) << dlerror();

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-8.0f, 8.0f);
  std::uniform_int_distribution<int64_t> col(0, cols - 1);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  constexpr int64_t kRows = 9;
  std::vector<T> logits(kRows * cols);
  for (auto &x : logits)
    x = static_cast<T>(uni(rng));
  auto row = [&](int64_t r) { return &logits[r * cols]; };
  // 1: the maximum repeated at three columns; 2: a NaN; 3: two NaNs and a
  // +inf; 4: +inf twice; 5: every value -inf; 6: -inf and one finite value;
  // 7: every value equal; 8: the maximum in the last column.
  for (int k = 0; k < 3; ++k)
    row(1)[col(rng)] = static_cast<T>(100.0f);
  row(2)[col(rng)] = static_cast<T>(nan);
  row(3)[col(rng)] = static_cast<T>(nan);
  row(3)[col(rng)] = static_cast<T>(nan);
  row(3)[col(rng)] = static_cast<T>(inf);
  row(4)[col(rng)] = static_cast<T>(inf);
  row(4)[col(rng)] = static_cast<T>(inf);
  for (int64_t i = 0; i < cols; ++i) {
    row(5)[i] = static_cast<T>(-inf);
    row(6)[i] = static_cast<T>(-inf);
    row(7)[i] = static_cast<T>(0.5f);
  }
  row(6)[col(rng)] = static_cast<T>(-3.0f);
  row(8)[cols - 1] = static_cast<T>(1000.0f);

  std::vector<int32_t> ids(kRows, -7);
  std::vector<T> values(kRows, static_cast<T>(0.0f));
  auto ld = kvcc::abi::denseDescriptor<T, 2>(logits.data(), {kRows, cols});
  auto id = kvcc::abi::denseDescriptor<int32_t, 1>(ids.data(), {kRows});
  auto vd = kvcc::abi::denseDescriptor<T, 1>(values.data(), {kRows});
  void *args[] = {&ld, &id, &vd};
  fn(args);
  for (int64_t r = 0; r < kRows; ++r) {
    auto [want, wantValue] = firstMaximum(row(r), cols);
    EXPECT_EQ(ids[r], want) << "row " << r << " of " << cols << " " << type;
    if (std::isnan(wantValue))
      EXPECT_TRUE(std::isnan(double(values[r]))) << "row " << r;
    else
      EXPECT_EQ(double(values[r]), wantValue) << "row " << r;
  }
  dlclose(handle);
  llvm::sys::fs::remove_directories(dir);
}

class ArgmaxNumerics : public ::testing::TestWithParam<int64_t> {};

TEST_P(ArgmaxNumerics, FirstMaximumWithNaNAboveAllF32) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  runCase<float>(GetParam(), "f32", seed);
}

TEST_P(ArgmaxNumerics, FirstMaximumWithNaNAboveAllF16) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  runCase<_Float16>(GetParam(), "f16", seed);
}

// 1 column; lengths 16-byte chunks do not tile; a vocabulary-sized row.
INSTANTIATE_TEST_SUITE_P(Columns, ArgmaxNumerics, ::testing::Values(1, 37, 1000, 49152));

} // namespace
