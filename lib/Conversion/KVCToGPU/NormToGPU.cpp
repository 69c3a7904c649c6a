//===- NormToGPU.cpp - kvc.rms_norm as one kernel ---------------------------===//
//
// One CTA per row; a decoder layer's `x += f(x); h = rmsnorm(x)` is this one
// kernel, where the linalg mapping took four (add, fill, a one-thread-per-row
// reduction, scale). Thread t of T owns elements t, t + T, ... of the row
// (coalesced): it adds the residual when one is fused in (the sum, rounded to
// the element type, is the next residual stream, stored, and what is
// normalized, as on the CPU), accumulates the squares in f32, and the CTA sums
// them with warp shuffles and one shared-memory exchange between its warps;
// then each thread scales its own elements by rsqrt(mean + eps) and the weight.
//
// T grows with the row (kElementsPerThread), and the thread's elements stay in
// registers: every load of the row, its residual and the weight is issued
// before the first use, so the kernel waits for memory about once. A loop
// over the row instead waits once per trip: on an H100 a SmolLM2 decode step
// spent 230 us in 59 of these kernels at 576 elements a row (5 trips of 128
// threads). Rows too long for registers take that loop, and read back the sum
// they stored.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include <algorithm>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

/// A CTA has as many threads (a power of two, 128 to 1024) as give each about
/// kElementsPerThread elements of the row: 128 for SmolLM2's 576, 512 for 4096.
constexpr int64_t kElementsPerThread = 8;
constexpr int64_t kMaxThreads = 1024;
/// Rows with more elements a thread than this (above 16K elements) take the
/// loop over the row: they would not stay in registers.
constexpr int64_t kMaxElementsPerThread = 16;

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
    const int64_t threads = std::clamp<int64_t>(
        llvm::PowerOf2Ceil(llvm::divideCeil(H, kElementsPerThread)), kGPUBlockThreads, kMaxThreads);
    const int64_t warps = threads / 32;
    auto partialsType = MemRefType::get({warps}, f32, nullptr, workgroup);
    auto name = kernelName(b, "kvc_rms_norm");
    auto launch = gpu::LaunchOp::create(
        b, rows, L.idx(1), L.idx(1), L.idx(threads), L.idx(1), L.idx(1),
        /*dynamicSmem=*/nullptr, /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
        TypeRange{partialsType}, /*privateAttributions=*/{}, nullptr, nullptr, nullptr,
        name, name);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      Loops L{b};
      Value partials = launch.getWorkgroupAttributions()[0];
      Value row = launch.getBlockIds().x, tid = launch.getThreadIds().x;
      const int64_t perThread = llvm::divideCeil(H, threads);
      // The CTA's sum of a per-thread f32 partial: rsqrt(mean + eps).
      auto invRms = [&](Value acc) {
        for (int64_t o = 16; o >= 1; o /= 2)
          acc = arith::AddFOp::create(b, acc, shuffleXor(b, acc, o));
        Value warp = L.divU(tid, L.idx(32));
        Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                             L.remU(tid, L.idx(32)), L.idx(0));
        scf::IfOp::create(b, leader, [&](OpBuilder &nb, Location loc) {
          memref::StoreOp::create(nb, loc, acc, partials, ValueRange{warp});
          scf::YieldOp::create(nb, loc);
        });
        gpu::BarrierOp::create(b);
        Value total = memref::LoadOp::create(b, partials, ValueRange{L.idx(0)});
        for (int64_t w = 1; w < warps; ++w)
          total = arith::AddFOp::create(
              b, total, memref::LoadOp::create(b, partials, ValueRange{L.idx(w)}));
        Value mean = arith::MulFOp::create(b, total, L.f32(invH));
        return Value(math::RsqrtOp::create(b, arith::AddFOp::create(b, mean, L.f32(eps))));
      };
      auto scaled = [&](ImplicitLocOpBuilder &b, Value s, Value inv, Value w) {
        Loops L{b};
        return L.fromF32(arith::MulFOp::create(b, arith::MulFOp::create(b, s, inv), w), elem);
      };

      if (perThread <= kMaxElementsPerThread) {
        // Element k of the thread: tid + T k. Only the last may fall past
        // the row (H not a multiple of T); it loads the row's last element
        // (in bounds), counts as 0 and stores nothing.
        SmallVector<Value> col(perThread), inRow(perThread), s(perThread), w(perThread);
        for (int64_t k = 0; k < perThread; ++k) {
          col[k] = L.add(tid, L.idx(k * threads));
          if ((k + 1) * threads > H) {
            inRow[k] = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, col[k], L.idx(H));
            col[k] = arith::SelectOp::create(b, inRow[k], col[k], L.idx(H - 1));
          }
        }
        for (int64_t k = 0; k < perThread; ++k) {
          s[k] = L.toF32(memref::LoadOp::create(b, input, ValueRange{row, col[k]}));
          if (residual)
            s[k] = arith::AddFOp::create(
                b, s[k], L.toF32(memref::LoadOp::create(b, residual, ValueRange{row, col[k]})));
        }
        for (int64_t k = 0; k < perThread; ++k)
          w[k] = L.toF32(memref::LoadOp::create(b, weight, ValueRange{col[k]}));
        auto storeOwn = [&](int64_t k, Value v, Value buffer) {
          if (!inRow[k]) {
            memref::StoreOp::create(b, v, buffer, ValueRange{row, col[k]});
            return;
          }
          scf::IfOp::create(b, inRow[k], [&](OpBuilder &nb, Location loc) {
            memref::StoreOp::create(nb, loc, v, buffer, ValueRange{row, col[k]});
            scf::YieldOp::create(nb, loc);
          });
        };
        Value acc = L.f32(0.0);
        for (int64_t k = 0; k < perThread; ++k) {
          if (residual) { // the stored sum is what is normalized
            Value stored = L.fromF32(s[k], elem);
            storeOwn(k, stored, sum);
            s[k] = L.toF32(stored);
          }
          Value sq = arith::MulFOp::create(b, s[k], s[k]);
          if (inRow[k])
            sq = arith::SelectOp::create(b, inRow[k], sq, L.f32(0.0));
          acc = arith::AddFOp::create(b, acc, sq);
        }
        Value inv = invRms(acc);
        for (int64_t k = 0; k < perThread; ++k)
          storeOwn(k, scaled(b, s[k], inv, w[k]), out);
      } else {
        // Pass 1: s = x (+ r), stored when fused; the thread's sum of squares.
        auto pass1 = scf::ForOp::create(
            b, tid, L.idx(H), L.idx(threads), ValueRange{L.f32(0.0)},
            [&](OpBuilder &nb, Location loc, Value i, ValueRange acc) {
              ImplicitLocOpBuilder b(loc, nb);
              Loops L{b};
              Value s = L.toF32(memref::LoadOp::create(b, input, ValueRange{row, i}));
              if (residual) {
                Value r = L.toF32(memref::LoadOp::create(b, residual, ValueRange{row, i}));
                Value stored = L.fromF32(arith::AddFOp::create(b, s, r), elem);
                memref::StoreOp::create(b, stored, sum, ValueRange{row, i});
                s = L.toF32(stored);
              }
              Value sq = arith::MulFOp::create(b, s, s);
              scf::YieldOp::create(b, ValueRange{arith::AddFOp::create(b, acc[0], sq)});
            });
        Value inv = invRms(pass1.getResult(0));
        // Pass 2: the same elements, so `sum` is read back by its writer.
        scf::ForOp::create(
            b, tid, L.idx(H), L.idx(threads), ValueRange{},
            [&](OpBuilder &nb, Location loc, Value i, ValueRange) {
              ImplicitLocOpBuilder b(loc, nb);
              Loops L{b};
              Value s = L.toF32(memref::LoadOp::create(b, residual ? sum : input, ValueRange{row, i}));
              Value w = L.toF32(memref::LoadOp::create(b, weight, ValueRange{i}));
              memref::StoreOp::create(b, scaled(b, s, inv, w), out, ValueRange{row, i});
              scf::YieldOp::create(b);
            });
      }
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
