//===- KVCDialectTest.cpp - building kvc IR through the C++ API ------------===//
#include "kvcc/Dialect/KVC/IR/KVC.h"
#include "kvcc/Dialect/KVC/Transforms/Passes.h"
#include "kvcc/InitAll.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kvcc::kvc;

namespace {

class KVCDialectTest : public ::testing::Test {
protected:
  KVCDialectTest() : builder(&context) {
    kvcc::loadAllDialects(context);
    context.loadDialect<func::FuncDialect, tensor::TensorDialect,
                        arith::ArithDialect>();
    loc = builder.getUnknownLoc();
    module = ModuleOp::create(loc);
    builder.setInsertionPointToEnd(module->getBody());
  }

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type elem) {
    return RankedTensorType::get(shape, elem);
  }

  /// A function with the given argument types whose body the test fills.
  func::FuncOp makeFunc(StringRef name, TypeRange args) {
    auto fn = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(args, {}));
    Block *body = fn.addEntryBlock();
    builder.setInsertionPointToStart(body);
    return fn;
  }

  /// Verifies `op`, capturing the first diagnostic message.
  std::string verifyMessage(Operation *op) {
    std::string message;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (message.empty())
        message = diag.str();
      return success();
    });
    if (succeeded(verify(op)))
      return "";
    return message;
  }

  MLIRContext context;
  OpBuilder builder;
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module;
};

TEST_F(KVCDialectTest, PagedCacheTypeCarriesGeometry) {
  Type f16 = builder.getF16Type();
  auto cache = PagedCacheType::get(&context, 16, 8, 128, f16,
                                   CacheLayout::TokenMajor);
  EXPECT_EQ(cache.getBlockSize(), 16);
  EXPECT_EQ(cache.getNumKVHeads(), 8);
  EXPECT_EQ(cache.getHeadDim(), 128);
  // K and V of 8 heads x 128 f16 elements.
  EXPECT_EQ(cache.getBytesPerToken(), 2 * 8 * 128 * 2);
  auto other = PagedCacheType::get(&context, 16, 8, 128, f16,
                                   CacheLayout::HeadMajor);
  EXPECT_NE(cache, other);

  std::string printed;
  llvm::raw_string_ostream os(printed);
  Type(other).print(os);
  EXPECT_EQ(printed, "!kvc.paged_cache<16, 8, 128, f16, head_major>");
}

TEST_F(KVCDialectTest, InvalidCacheGeometryIsRejected) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto bad = PagedCacheType::getChecked(
      [&] { return emitError(loc); }, &context, int64_t(0), int64_t(8),
      int64_t(128),
      Type(builder.getF16Type()), CacheLayout::TokenMajor);
  EXPECT_FALSE(bad);
  EXPECT_EQ(message, "paged_cache block size must be at least 1, got 0");
}

TEST_F(KVCDialectTest, BuildsAVerifiedDecodeStep) {
  Type f16 = builder.getF16Type();
  auto i32 = builder.getI32Type();
  auto i64 = builder.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  auto cache = PagedCacheType::get(&context, 16, 8, 128, f16,
                                   CacheLayout::TokenMajor);
  auto qType = tensor({dyn, 32, 128}, f16), kvType = tensor({dyn, 8, 128}, f16);
  auto fn = makeFunc("decode", {qType, kvType, kvType, tensor({dyn}, i64),
                                tensor({dyn}, i64), cache,
                                tensor({dyn, dyn}, i32), tensor({dyn}, i32),
                                tensor({dyn}, i32)});
  auto args = fn.getArguments();
  auto rope = RopeOp::create(builder, loc, qType, RopeStyleAttr::get(&context, RopeStyle::Neox), args[0],
                             args[3], builder.getI64IntegerAttr(128),
                             builder.getF64FloatAttr(500000.0),
                             builder.getF64FloatAttr(1.0));
  auto append =
      AppendOp::create(builder, loc, args[1], args[2], args[5], args[4]);
  auto attention = PagedAttentionOp::create(
      builder, loc, qType, rope.getResult(), args[5], args[6], args[7],
      args[8], builder.getF32FloatAttr(0.0883883f), builder.getUnitAttr(),
      /*sliding_window=*/nullptr, /*softcap=*/nullptr, /*num_splits=*/nullptr, /*max_splits=*/nullptr);
  func::ReturnOp::create(builder, loc);

  EXPECT_TRUE(succeeded(verify(*module)));
  EXPECT_EQ(attention.getGroupSize(), 4);
  EXPECT_TRUE(attention.getCausal());
  EXPECT_FALSE(attention.getSlidingWindow().has_value());

  // The cache ops carry their effects on the KV-cache resource: the append
  // writes it, the attention reads it, the rope is pure.
  auto effectsOn = [](Operation *op) {
    SmallVector<MemoryEffects::EffectInstance> effects;
    cast<MemoryEffectOpInterface>(op).getEffects(effects);
    return effects;
  };
  auto appendEffects = effectsOn(append);
  ASSERT_EQ(appendEffects.size(), 1u);
  EXPECT_TRUE(isa<MemoryEffects::Write>(appendEffects[0].getEffect()));
  EXPECT_TRUE(isa<KVCacheResource>(appendEffects[0].getResource()));
  auto attentionEffects = effectsOn(attention);
  ASSERT_EQ(attentionEffects.size(), 1u);
  EXPECT_TRUE(isa<MemoryEffects::Read>(attentionEffects[0].getEffect()));
  EXPECT_TRUE(isa<KVCacheResource>(attentionEffects[0].getResource()));
  EXPECT_TRUE(isPure(rope));
}

TEST_F(KVCDialectTest, VerifierNamesTheOffendingHeads) {
  auto f32 = builder.getF32Type();
  auto qType = tensor({4, 6, 64}, f32), kType = tensor({9, 4, 64}, f32);
  auto fn = makeFunc("bad", {qType, kType, kType});
  auto args = fn.getArguments();
  auto op = AttentionOp::create(builder, loc, qType, args[0], args[1], args[2],
                                builder.getF32FloatAttr(0.125f), nullptr,
                                nullptr, nullptr);
  EXPECT_EQ(verifyMessage(op),
            "'kvc.attention' op query has 6 heads, which is not a multiple of "
            "the 4 KV heads");
}

TEST_F(KVCDialectTest, GatherResultsMatchTheCache) {
  Type bf16 = builder.getBF16Type();
  auto cache = PagedCacheType::get(&context, 3, 2, 64, bf16,
                                   CacheLayout::HeadMajor);
  auto table = tensor({ShapedType::kDynamic}, builder.getI32Type());
  auto fn = makeFunc("gather", {cache, table, builder.getIndexType()});
  auto args = fn.getArguments();
  auto good = tensor({ShapedType::kDynamic, 2, 64}, bf16);
  auto gather = GatherOp::create(builder, loc, good, good, args[0], args[1],
                                 args[2]);
  EXPECT_EQ(verifyMessage(gather), "");
  auto wrongHeads = tensor({ShapedType::kDynamic, 3, 64}, bf16);
  auto bad = GatherOp::create(builder, loc, wrongHeads, wrongHeads, args[0],
                              args[1], args[2]);
  EXPECT_EQ(verifyMessage(bad), "'kvc.gather' op key result has kv_heads 3, "
                                "but the cache kv_heads is 2");
}

TEST_F(KVCDialectTest, ParsedTextRoundTripsThroughTheAPI) {
  const char *text = R"mlir(
    func.func @f(%q: tensor<2x4x64xf32>, %p: tensor<2xi32>) -> tensor<2x4x64xf32> {
      %r = kvc.rope gptj %q, %p {rotary_dim = 32, theta = 1.0e+04 : f64} : tensor<2x4x64xf32>, tensor<2xi32> -> tensor<2x4x64xf32>
      return %r : tensor<2x4x64xf32>
    })mlir";
  auto parsed = parseSourceString<ModuleOp>(text, &context);
  ASSERT_TRUE(parsed);
  RopeOp rope;
  parsed->walk([&](RopeOp op) { rope = op; });
  ASSERT_TRUE(rope);
  EXPECT_EQ(rope.getStyle(), RopeStyle::GptJ);
  EXPECT_EQ(rope.getRotaryDim(), 32u);
  EXPECT_DOUBLE_EQ(rope.getScalingFactor().convertToDouble(), 1.0);
}

TEST(SplitKVHeuristic, FillsWavesWithFewSplits) {
  // A full grid is never split.
  EXPECT_EQ(chooseNumSplits(512, 132, 32, 0.85), 1);
  EXPECT_EQ(chooseNumSplits(106, 132, 32, 0.85), 1);
  // One sequence of 8 KV heads on an H100: 14 splits (112 CTAs).
  EXPECT_EQ(chooseNumSplits(8, 132, 32, 0.85), 14);
  // Tolerance 1.0 takes the best wave efficiency exactly (16 x 8 = 128).
  EXPECT_EQ(chooseNumSplits(8, 132, 32, 1.0), 16);
  // Degenerate inputs fall back to no split.
  EXPECT_EQ(chooseNumSplits(0, 132, 32, 0.85), 1);
  EXPECT_EQ(chooseNumSplits(8, 132, 1, 0.85), 1);
}

} // namespace
