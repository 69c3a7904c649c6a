//===- NormToGPU.cpp - kvc.rms_norm as one kernel ---------------------------===//
//
// One CTA per row. Pass 1: each thread sweeps the row with a 128-element
// stride (coalesced), adds the residual when one is fused in, writes that sum
// (the next residual stream) and accumulates its squares in f32. The CTA sums
// the squares with warp shuffles and one shared-memory exchange between the 4
// warps. Pass 2: each thread scales the elements it wrote itself (read back
// from its own stores, so no barrier is needed) by rsqrt(mean + eps) and the
// weight. A decoder layer's `x += f(x); h = rmsnorm(x)` is this one kernel,
// where the linalg mapping took four (add, fill, a one-thread-per-row
// reduction, scale).
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kWarps = kGPUBlockThreads / 32;

struct RMSNormToGPU : OpConversionPattern<kvc::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType type = op.getResult().getType();
    if (type.isDynamicDim(1))
      return op.emitOpError("the GPU rms_norm needs a static hidden size");
    const int64_t H = type.getDimSize(1);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    Type elem = type.getElementType(), f32 = b.getF32Type();
    Value input = L.toBuffer(adaptor.getInput());
    Value residual = adaptor.getResidual() ? L.toBuffer(adaptor.getResidual()) : Value();
    Value weight = L.toStridedBuffer(adaptor.getWeight()); // a slice of the weights
    Value out = L.allocLike(type, input);
    Value sum = residual ? L.allocLike(type, input) : Value();
    Value rows = memref::DimOp::create(b, input, 0);
    const float invH = 1.0f / float(H);
    const float eps = float(op.getEpsilon().convertToDouble());

    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto partialsType = MemRefType::get({kWarps}, f32, nullptr, workgroup);
    auto name = kernelName(b, "kvc_rms_norm");
    auto launch = gpu::LaunchOp::create(
        b, rows, L.idx(1), L.idx(1), L.idx(kGPUBlockThreads), L.idx(1), L.idx(1),
        /*dynamicSmem=*/nullptr, /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
        TypeRange{partialsType}, /*privateAttributions=*/{}, nullptr, nullptr, nullptr,
        name, name);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      Loops L{b};
      Value partials = launch.getWorkgroupAttributions()[0];
      Value row = launch.getBlockIds().x, tid = launch.getThreadIds().x;
      Value step = L.idx(kGPUBlockThreads);

      // Pass 1: s = x (+ r), stored when fused; the thread's sum of squares.
      auto pass1 = scf::ForOp::create(
          b, tid, L.idx(H), step, ValueRange{L.f32(0.0)},
          [&](OpBuilder &nb, Location loc, Value i, ValueRange acc) {
            ImplicitLocOpBuilder b(loc, nb);
            Loops L{b};
            Value s = L.toF32(memref::LoadOp::create(b, input, ValueRange{row, i}));
            if (residual) {
              Value r = L.toF32(memref::LoadOp::create(b, residual, ValueRange{row, i}));
              s = arith::AddFOp::create(b, s, r);
              memref::StoreOp::create(b, L.fromF32(s, elem), sum, ValueRange{row, i});
            }
            Value sq = arith::MulFOp::create(b, s, s);
            scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(b, acc[0], sq)});
          });
      Value acc = pass1.getResult(0);
      for (int64_t o = 16; o >= 1; o /= 2)
        acc = arith::AddFOp::create(b, acc, shuffleXor(b, acc, o));
      Value warp = L.divU(tid, L.idx(32));
      Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, L.remU(tid, L.idx(32)),
                                           L.idx(0));
      scf::IfOp::create(b, leader, [&](OpBuilder &nb, Location loc) {
        memref::StoreOp::create(nb, loc, acc, partials, ValueRange{warp});
        scf::YieldOp::create(nb, loc);
      });
      gpu::BarrierOp::create(b);
      Value total = memref::LoadOp::create(b, partials, ValueRange{L.idx(0)});
      for (int64_t w = 1; w < kWarps; ++w)
        total = arith::AddFOp::create(b, total,
                                      memref::LoadOp::create(b, partials, ValueRange{L.idx(w)}));
      Value mean = arith::MulFOp::create(b, total, L.f32(invH));
      Value inv = math::RsqrtOp::create(b, arith::AddFOp::create(b, mean, L.f32(eps)));

      // Pass 2: the same elements, so `sum` is read back by its writer.
      blockStrided(b, tid, H, [&](ImplicitLocOpBuilder &b, Value i) {
        Loops L{b};
        Value s = L.toF32(memref::LoadOp::create(b, residual ? sum : input, ValueRange{row, i}));
        Value w = L.toF32(memref::LoadOp::create(b, weight, ValueRange{i}));
        Value y = arith::MulFOp::create(b, arith::MulFOp::create(b, s, inv), w);
        memref::StoreOp::create(b, L.fromF32(y, elem), out, ValueRange{row, i});
      });
      gpu::TerminatorOp::create(b);
    }
    SmallVector<Value> results = {L.toTensor(type, out)};
    if (residual)
      results.push_back(L.toTensor(type, sum));
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void kvcc::populateKVCNormToGPUPatterns(const TypeConverter &converter,
                                       RewritePatternSet &patterns) {
  patterns.add<RMSNormToGPU>(converter, patterns.getContext());
}
