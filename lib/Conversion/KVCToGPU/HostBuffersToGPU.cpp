//===- HostBuffersToGPU.cpp - device buffers for GPU host code -------------===//
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCHOSTBUFFERSTOGPU
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {
struct HostBuffersToGPUPass
    : public kvcc::impl::KVCHostBuffersToGPUBase<HostBuffersToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    // Host code of a GPU artifact is straight-line (launches, allocations,
    // copies) and no buffer escapes an entry point (kvc-results-to-out-params):
    // every allocation is freed at function exit. MLIR's ownership-based
    // deallocation cannot analyze gpu.launch_func, hence this simple rule.
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      SmallVector<Value> buffers;
      WalkResult walk = fn.walk([&](memref::AllocOp alloc) {
        if (alloc->getBlock() != &fn.getBody().front()) {
          alloc.emitError() << "kvc-host-buffers-to-gpu: the host code allocates "
                               "inside a region; only straight-line host code is "
                               "supported";
          return WalkResult::interrupt();
        }
        buffers.push_back(alloc.getResult());
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return signalPassFailure();
      fn.walk([&](func::ReturnOp ret) {
        OpBuilder b(ret);
        for (Value buffer : buffers)
          memref::DeallocOp::create(b, ret.getLoc(), buffer);
      });
    }

    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (op->getParentOfType<gpu::LaunchOp>() ||
          op->getParentOfType<gpu::GPUModuleOp>())
        return;
      if (isa<memref::AllocOp, memref::DeallocOp, memref::CopyOp>(op))
        ops.push_back(op);
    });
    auto tokenType = gpu::AsyncTokenType::get(&getContext());
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      // Each op waits on nothing and is waited for at once: launches are
      // synchronous, so this keeps host-side order without extra streams.
      Value ready = gpu::WaitOp::create(b, loc, tokenType, ValueRange{}).getAsyncToken();
      Value done;
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto gpuAlloc = gpu::AllocOp::create(
            b, loc, alloc.getType(), tokenType, ValueRange{ready},
            alloc.getDynamicSizes(), alloc.getSymbolOperands(),
            /*hostShared=*/false);
        alloc.replaceAllUsesWith(gpuAlloc.getMemref());
        done = gpuAlloc.getAsyncToken();
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        done = gpu::DeallocOp::create(b, loc, tokenType, ValueRange{ready},
                                      dealloc.getMemref())
                   .getAsyncToken();
      } else {
        auto copy = cast<memref::CopyOp>(op);
        done = gpu::MemcpyOp::create(b, loc, tokenType, ValueRange{ready},
                                     copy.getTarget(), copy.getSource())
                   .getAsyncToken();
      }
      gpu::WaitOp::create(b, loc, Type(), ValueRange{done});
      op->erase();
    }
  }
};
} // namespace
