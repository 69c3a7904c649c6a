//===- ArgmaxToGPU.cpp - kvc.argmax as one kernel ---------------------------===//
//
// One CTA of 1024 threads per row (a decode step has a handful of rows and
// each row is a vocabulary: 49,152 logits for SmolLM2). Each thread sweeps
// 16-byte chunks of the row with a CTA-wide stride (coalesced; 12 loads per
// thread for SmolLM2) keeping its best (value, column) in registers; a warp
// combines its 32 candidates with five shuffle rounds, the 32 warp winners
// meet in shared memory and thread 0 picks among them. Every comparison is
// argmaxPrefers, the order the CPU lowering scans with, so the column does
// not depend on which thread saw what. Values are compared in f32 (exact for
// f16/bf16 inputs) and written back in the input's type.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kArgmaxThreads = 1024;
constexpr int64_t kArgmaxWarps = kArgmaxThreads / 32;

/// (a, ia) if it beats (best, ib), else (best, ib).
std::pair<Value, Value> pick(ImplicitLocOpBuilder &b, Value a, Value ia, Value best, Value ib) {
  Value take = argmaxPrefers(b, a, ia, best, ib);
  Value value = arith::SelectOp::create(b, take, a, best);
  Value column = arith::SelectOp::create(b, take, ia, ib);
  return {value, column};
}

struct ArgmaxToGPU : OpConversionPattern<kvc::ArgmaxOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::ArgmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType inType = op.getInput().getType();
    if (inType.isDynamicDim(1))
      return op.emitOpError("the GPU argmax needs a static row length");
    const int64_t V = inType.getDimSize(1);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    Type elem = inType.getElementType(), f32 = b.getF32Type(), i32 = b.getI32Type();
    // 16-byte loads when whole chunks tile the row (rows then start
    // 16-byte aligned in an identity-layout buffer); scalar loads otherwise.
    const int64_t elemBytes = elem.getIntOrFloatBitWidth() / 8;
    const int64_t chunk = V % (16 / elemBytes) == 0 ? 16 / elemBytes : 1;
    Value input = L.toBuffer(adaptor.getInput());
    Value rows = memref::DimOp::create(b, input, 0);
    Value index = L.allocLike(op.getIndex().getType(), input);
    Value value = L.allocLike(op.getValue().getType(), input);

    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto name = kernelName(b, "kvc_argmax");
    auto launch = gpu::LaunchOp::create(
        b, rows, L.idx(1), L.idx(1), L.idx(kArgmaxThreads), L.idx(1), L.idx(1),
        /*dynamicSmem=*/nullptr, /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
        TypeRange{MemRefType::get({kArgmaxWarps}, f32, nullptr, workgroup),
                  MemRefType::get({kArgmaxWarps}, i32, nullptr, workgroup)},
        /*privateAttributions=*/{}, nullptr, nullptr, nullptr, name, name);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      Loops L{b};
      Value warpValues = launch.getWorkgroupAttributions()[0];
      Value warpColumns = launch.getWorkgroupAttributions()[1];
      Value row = launch.getBlockIds().x, tid = launch.getThreadIds().x;
      auto column = [&](ImplicitLocOpBuilder &b, Value c) -> Value {
        return arith::IndexCastOp::create(b, i32, c);
      };

      // The thread's chunks c = tid, tid + 1024, ...: columns in increasing
      // order, so a tie keeps the first one seen.
      Value noValue = L.f32(-std::numeric_limits<double>::infinity());
      Value noColumn = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
      auto sweep = scf::ForOp::create(
          b, tid, L.idx(V / chunk), L.idx(kArgmaxThreads), ValueRange{noValue, noColumn},
          [&](OpBuilder &nb, Location loc, Value c, ValueRange best) {
            ImplicitLocOpBuilder b(loc, nb);
            Loops L{b};
            Value first = L.mul(c, L.idx(chunk));
            Value bv = best[0], bi = best[1];
            if (chunk == 1) {
              Value a = L.toF32(memref::LoadOp::create(b, input, ValueRange{row, first}));
              Value ia = column(b, first);
              std::tie(bv, bi) = pick(b, a, ia, bv, bi);
            } else {
              Value v = vector::LoadOp::create(b, VectorType::get({chunk}, elem), input,
                                               ValueRange{row, first}, false, llvm::Align(16));
              for (int64_t j = 0; j < chunk; ++j) {
                Value a = L.toF32(vector::ExtractOp::create(b, v, ArrayRef<int64_t>{j}));
                Value ia = column(b, L.add(first, L.idx(j)));
                std::tie(bv, bi) = pick(b, a, ia, bv, bi);
              }
            }
            scf::YieldOp::create(b, ValueRange{bv, bi});
          });
      Value bv = sweep.getResult(0), bi = sweep.getResult(1);
      for (int64_t o = 16; o >= 1; o /= 2) {
        Value ov = shuffleXor(b, bv, o);
        Value oi = shuffleXor(b, bi, o);
        std::tie(bv, bi) = pick(b, ov, oi, bv, bi);
      }
      Value warp = L.divU(tid, L.idx(32));
      Value zero = L.idx(0);
      Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, L.remU(tid, L.idx(32)), zero);
      scf::IfOp::create(b, leader, [&](OpBuilder &nb, Location loc) {
        memref::StoreOp::create(nb, loc, bv, warpValues, ValueRange{warp});
        memref::StoreOp::create(nb, loc, bi, warpColumns, ValueRange{warp});
        scf::YieldOp::create(nb, loc);
      });
      gpu::BarrierOp::create(b);
      Value isFirst = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, zero);
      scf::IfOp::create(b, isFirst, [&](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        Value v = memref::LoadOp::create(b, warpValues, ValueRange{L.idx(0)});
        Value i = memref::LoadOp::create(b, warpColumns, ValueRange{L.idx(0)});
        for (int64_t w = 1; w < kArgmaxWarps; ++w) {
          Value wv = memref::LoadOp::create(b, warpValues, ValueRange{L.idx(w)});
          Value wi = memref::LoadOp::create(b, warpColumns, ValueRange{L.idx(w)});
          std::tie(v, i) = pick(b, wv, wi, v, i);
        }
        v = L.fromF32(v, elem); // exact: v is one of the inputs
        memref::StoreOp::create(b, v, value, ValueRange{row});
        memref::StoreOp::create(b, i, index, ValueRange{row});
        scf::YieldOp::create(b);
      });
      gpu::TerminatorOp::create(b);
    }
    rewriter.replaceOp(op, ValueRange{L.toTensor(op.getIndex().getType(), index),
                                      L.toTensor(op.getValue().getType(), value)});
    return success();
  }
};

} // namespace

void kvcc::populateKVCArgmaxToGPUPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<ArgmaxToGPU>(converter, patterns.getContext());
}
