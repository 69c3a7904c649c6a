//===- Launch.cpp - The host side, the grid, CTA barriers, errors ---------===//
//
// The host function runs as a one-lane warp: gpu.alloc gives poisoned
// buffers, gpu.launch_func runs the grid. CTAs run one after another; the
// warps of a CTA run as threads (a barrier needs every warp to reach it).
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>
#include <thread>

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace kvcc;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

namespace {

/// Fresh device memory holds all-ones bytes: NaN in f16, bf16, f32 and f64,
/// -1 in integers, so a read of data nobody wrote shows in the results.
constexpr char kPoison = static_cast<char>(0xff);

int64_t numElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void applyCopies(ArrayRef<PendingCopy> copies) {
  for (const PendingCopy &c : copies) {
    if (c.copyBytes)
      std::memcpy(c.dst, c.src, c.copyBytes);
    std::memset(c.dst + c.copyBytes, 0, c.totalBytes - c.copyBytes);
  }
}

/// Where the emulated shared window's first allocation starts.
constexpr uint64_t kSharedWindowStart = 0x410;

/// A poisoned buffer of BYTES owned by the returned allocation.
std::unique_ptr<Allocation> makeAllocation(std::string what, size_t bytes, bool shared) {
  auto a = std::make_unique<Allocation>();
  a->what = std::move(what);
  a->storage.assign(std::max<size_t>(bytes, 1), kPoison);
  a->begin = a->storage.data();
  a->size = bytes;
  a->shared = shared;
  return a;
}

MemRefVal viewOf(Allocation *a, ArrayRef<int64_t> sizes, unsigned elemBytes) {
  MemRefVal m;
  m.alloc = a;
  m.base = a->begin;
  m.sizes.assign(sizes.begin(), sizes.end());
  m.strides.assign(sizes.size(), 1);
  for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
    m.strides[i] = m.strides[i + 1] * sizes[i + 1];
  m.elemBytes = elemBytes;
  return m;
}

} // namespace

//===----------------------------------------------------------------------===//
// Barrier
//===----------------------------------------------------------------------===//

bool Barrier::arrive(int64_t contribution, int64_t *total) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (aborted_)
    return false;
  accumulated_ += contribution;
  uint64_t generation = generation_;
  if (++waiting_ == count_) {
    result_ = accumulated_;
    accumulated_ = 0;
    waiting_ = 0;
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != generation || aborted_; });
    if (generation_ == generation)
      return false; // aborted
  }
  if (total)
    *total = result_;
  return true;
}

void Barrier::retire() {
  std::lock_guard<std::mutex> lock(mutex_);
  --count_;
  if (count_ > 0 && waiting_ == count_) {
    result_ = accumulated_;
    accumulated_ = 0;
    waiting_ = 0;
    ++generation_;
    cv_.notify_all();
  }
}

void Barrier::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  cv_.notify_all();
}

//===----------------------------------------------------------------------===//
// Runner
//===----------------------------------------------------------------------===//

Allocation *Runner::allocate(std::string what, size_t bytes) {
  allocations_.push_back(makeAllocation(std::move(what), bytes, /*shared=*/false));
  return allocations_.back().get();
}

Allocation *Runner::adopt(std::string what, char *data, size_t bytes) {
  auto a = std::make_unique<Allocation>();
  a->what = std::move(what);
  a->begin = data;
  a->size = bytes;
  Allocation *raw = a.get();
  allocations_.push_back(std::move(a));
  return raw;
}

void Runner::recordFailure(Failure failure) {
  std::lock_guard<std::mutex> lock(failureMutex_);
  if (failed_.load())
    return;
  failure_ = std::move(failure);
  failed_.store(true);
}

void Runner::mergeSharedAccesses(const std::string &kernel,
                                 const std::map<std::string, SharedAccessStats> &accesses) {
  if (accesses.empty())
    return;
  std::lock_guard<std::mutex> lock(statsMutex_);
  for (const auto &[kind, a] : accesses) {
    SharedAccessStats &total = stats.sharedAccesses[kernel][kind];
    total.requests += a.requests;
    total.phases += a.phases;
    total.wavefronts += a.wavefronts;
  }
}

Status Runner::failureStatus() {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << failure_.where << ": ";
  if (failure_.op) {
    os << "'" << failure_.op->getName() << "' at " << failure_.op->getLoc() << ": ";
  }
  os << failure_.message;
  if (failure_.op) {
    std::string opText;
    llvm::raw_string_ostream ops(opText);
    failure_.op->print(ops, OpPrintingFlags().skipRegions().elideLargeElementsAttrs());
    if (opText.size() > 400)
      opText = opText.substr(0, 400) + " ...";
    os << "\n  " << opText;
  }
  return Status::error(text);
}

bool Runner::launch(Operation *launchOp, gpu::GPUFuncOp kernel, const int64_t grid[3],
                    const int64_t block[3], int64_t dynamicSharedBytes,
                    ArrayRef<LaneValue> arguments) {
  ++stats.launches;
  std::string name = "kernel @" + kernel.getName().str();
  auto hostFail = [&](const std::string &message) {
    recordFailure({launchOp, message, name});
    return false;
  };
  for (int i = 0; i < 3; ++i)
    if (grid[i] < 1 || block[i] < 1 || block[i] > 1024)
      return hostFail("launch with a grid or block dimension outside the CUDA limits");
  int64_t threads = block[0] * block[1] * block[2];
  if (threads > 1024)
    return hostFail("launch of " + std::to_string(threads) + " threads a block (at most 1024)");
  if (grid[1] > 65535 || grid[2] > 65535 || grid[0] > (int64_t(1) << 31) - 1)
    return hostFail("grid (" + std::to_string(grid[0]) + ", " + std::to_string(grid[1]) + ", " +
                    std::to_string(grid[2]) + ") exceeds the CUDA limits");
  if (dynamicSharedBytes < 0 || dynamicSharedBytes > 227 * 1024)
    return hostFail("dynamic shared memory of " + std::to_string(dynamicSharedBytes) +
                    " bytes (at most 227 KiB)");
  if (arguments.size() != kernel.getNumArguments())
    return hostFail("launch passes " + std::to_string(arguments.size()) + " arguments to a kernel of " +
                    std::to_string(kernel.getNumArguments()));
  if (kernel.getNumPrivateAttributions())
    return hostFail("private attributions are not modelled");
  int64_t staticShared = 0;
  for (BlockArgument a : kernel.getWorkgroupAttributions()) {
    auto t = cast<MemRefType>(a.getType());
    if (!t.hasStaticShape() || !elementBytes(t.getElementType()))
      return hostFail("shared memory attributions need a static shape of whole-byte scalars");
    staticShared += numElements(t.getShape()) * elementBytes(t.getElementType());
  }
  if (staticShared > 48 * 1024)
    return hostFail("static shared memory of " + std::to_string(staticShared) +
                    " bytes (at most 48 KiB)");

  unsigned numWarps = static_cast<unsigned>((threads + kWarpSize - 1) / kWarpSize);
  // Every wgmma follows a wgmma.fence: such kernels get the async checks.
  const bool usesWarpgroupMma =
      kernel.walk([](NVVM::WgmmaFenceAlignedOp) { return WalkResult::interrupt(); })
          .wasInterrupted();
  for (int64_t z = 0; z < grid[2]; ++z)
    for (int64_t y = 0; y < grid[1]; ++y)
      for (int64_t x = 0; x < grid[0]; ++x) {
        CTA cta;
        int64_t ids[3] = {x, y, z};
        for (int i = 0; i < 3; ++i) {
          cta.blockId[i] = ids[i];
          cta.gridDim[i] = grid[i];
          cta.blockDim[i] = block[i];
        }
        for (BlockArgument a : kernel.getWorkgroupAttributions()) {
          auto t = cast<MemRefType>(a.getType());
          cta.sharedMemory.push_back(makeAllocation(
              "shared memory attribution " + std::to_string(a.getArgNumber()),
              numElements(t.getShape()) * elementBytes(t.getElementType()), /*shared=*/true));
        }
        if (dynamicSharedBytes > 0) {
          cta.sharedMemory.push_back(
              makeAllocation("dynamic shared memory", dynamicSharedBytes, /*shared=*/true));
          cta.dynamicShared = cta.sharedMemory.back().get();
        }
        // The shared window: the allocations one after another, 16-byte
        // aligned, from kSharedWindowStart (off any 1024-byte boundary, so a
        // kernel must align what a swizzled wgmma operand needs itself).
        uint64_t window = kSharedWindowStart;
        for (auto &a : cta.sharedMemory) {
          a->window = window;
          window = (window + a->size + 15) / 16 * 16;
        }
        if (usesWarpgroupMma)
          cta.asyncShadow = std::make_unique<AsyncShadow>(cta.sharedMemory);
        cta.barrier = std::make_unique<Barrier>(numWarps);
        auto runWarp = [&](unsigned w) {
          unsigned tail = static_cast<unsigned>(threads - int64_t(w) * kWarpSize);
          uint32_t lanes = tail >= kWarpSize ? 0xffffffffu : (1u << tail) - 1;
          std::string where = name + ", block (" + std::to_string(x) + ", " +
                              std::to_string(y) + ", " + std::to_string(z) + "), warp " +
                              std::to_string(w);
          Warp warp(*this, &cta, w, lanes, where);
          if (warp.runKernel(kernel, arguments))
            cta.barrier->retire();
          else
            cta.barrier->abort();
          mergeSharedAccesses(kernel.getName().str(), warp.sharedAccesses);
        };
        if (numWarps == 1) {
          runWarp(0);
        } else {
          std::vector<std::thread> warps;
          for (unsigned w = 0; w < numWarps; ++w)
            warps.emplace_back(runWarp, w);
          for (std::thread &t : warps)
            t.join();
        }
        if (failed())
          return false;
        applyCopies(cta.unretired);
        ++stats.blocks;
      }
  return true;
}

//===----------------------------------------------------------------------===//
// Warp: kernels, barriers, failures, host ops
//===----------------------------------------------------------------------===//

bool Warp::fail(Operation *op, const llvm::Twine &message, int lane) {
  runner.recordFailure(
      {op, message.str(), where + (lane >= 0 ? ", lane " + std::to_string(lane) : "")});
  if (cta)
    cta->barrier->abort();
  return false;
}

bool Warp::barrier(Operation *op, int64_t contribution, int64_t *total) {
  if (!cta)
    return fail(op, "barrier outside a kernel");
  if (!cta->barrier->arrive(contribution, total))
    return false;
  ++epoch_;
  return true;
}

bool Warp::runKernel(gpu::GPUFuncOp kernel, ArrayRef<LaneValue> arguments) {
  Block &entry = kernel.getBody().front();
  if (!kernel.getBody().hasOneBlock())
    return fail(kernel, "kernels of several blocks are not modelled");
  for (auto [i, value] : llvm::enumerate(arguments))
    bind(entry.getArgument(i), value);
  for (auto [i, a] : llvm::enumerate(kernel.getWorkgroupAttributions())) {
    auto t = cast<MemRefType>(a.getType());
    LaneValue v;
    v.mem = viewOf(cta->sharedMemory[i].get(), t.getShape(), elementBytes(t.getElementType()));
    bind(a, v);
  }
  if (!runBlock(entry, lanes))
    return false;
  if (!openWgmma_.empty() || !committedWgmma_.empty())
    return fail(kernel, "the kernel exits with wgmma.mma_async in flight (no wgmma.wait_group "
                        "retired it)");
  handOverAsyncCopies();
  return true;
}

bool Warp::execHost(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  if (cta) {
    handled = false;
    return true;
  }
  (void)mask;
  auto defineToken = [&](Value token) {
    if (token)
      def(token, 1);
  };
  if (auto w = dyn_cast<gpu::WaitOp>(op)) {
    defineToken(w.getAsyncToken());
    return true;
  }
  // gpu.alloc and memref.alloc: sizes checked (at most 16 GiB), memory poisoned.
  auto allocate = [&](MemRefType t, ValueRange dynamicSizes, Value result) {
    unsigned eb = elementBytes(t.getElementType());
    if (!eb || !t.getLayout().isIdentity())
      return fail(&op, "allocation of an element type or layout not modelled");
    SmallVector<int64_t> sizes;
    auto dynamic = dynamicSizes.begin();
    uint64_t bytes = eb;
    for (int64_t d : t.getShape()) {
      int64_t s = ShapedType::isDynamic(d) ? toSigned(64, get(*dynamic++).at(0, 0)) : d;
      if (s < 0 || (s > 0 && bytes > (uint64_t(1) << 34) / uint64_t(s)))
        return fail(&op, "allocation with a dimension of " + std::to_string(s) +
                             " (negative, or more than 16 GiB in all)");
      bytes *= uint64_t(s);
      sizes.push_back(s);
    }
    Allocation *alloc = runner.allocate(op.getName().getStringRef().str() + " after " +
                                            std::to_string(runner.stats.launches) + " launches",
                                        bytes);
    LaneValue v;
    v.mem = viewOf(alloc, sizes, eb);
    bind(result, v);
    return true;
  };
  if (auto a = dyn_cast<gpu::AllocOp>(op)) {
    if (!allocate(a.getMemref().getType(), a.getDynamicSizes(), a.getMemref()))
      return false;
    defineToken(a.getAsyncToken());
    return true;
  }
  if (auto d = dyn_cast<gpu::DeallocOp>(op)) {
    const Slot &m = get(d.getMemref());
    if (m.mem[0].alloc)
      m.mem[0].alloc->live.store(false);
    defineToken(d.getAsyncToken());
    return true;
  }
  if (auto l = dyn_cast<gpu::LaunchFuncOp>(op)) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(&op, l.getKernel());
    if (!kernel)
      return fail(&op, "kernel not found");
    int64_t grid[3], block[3];
    Value gridValues[3] = {l.getGridSizeX(), l.getGridSizeY(), l.getGridSizeZ()};
    Value blockValues[3] = {l.getBlockSizeX(), l.getBlockSizeY(), l.getBlockSizeZ()};
    for (int i = 0; i < 3; ++i) {
      grid[i] = toSigned(64, get(gridValues[i]).at(0, 0));
      block[i] = toSigned(64, get(blockValues[i]).at(0, 0));
    }
    int64_t dynamicShared = 0;
    if (Value s = l.getDynamicSharedMemorySize())
      dynamicShared = toSigned(32, get(s).at(0, 0));
    SmallVector<LaneValue> args;
    for (Value a : l.getKernelOperands())
      args.push_back(laneValue(a, 0));
    if (!runner.launch(&op, kernel, grid, block, dynamicShared, args))
      return false;
    defineToken(l.getAsyncToken());
    return true;
  }
  if (auto a = dyn_cast<memref::AllocOp>(op))
    return allocate(a.getType(), a.getDynamicSizes(), a.getResult());
  if (auto d = dyn_cast<memref::DeallocOp>(op)) {
    const Slot &m = get(d.getMemref());
    if (m.mem[0].alloc)
      m.mem[0].alloc->live.store(false);
    return true;
  }
  handled = false;
  return true;
}

//===----------------------------------------------------------------------===//
// Entry
//===----------------------------------------------------------------------===//

Status kvcc::emu::runEntry(ModuleOp module, StringRef entry,
                           std::vector<HostArgument> &arguments, const EmulatorOptions &options,
                           EmulationStats *stats) {
  // Warps run as threads and fold static sizes into attributes as they go.
  if (!module.getContext()->isMultithreadingEnabled())
    return Status::error("the emulator needs an MLIRContext with multithreading enabled");
  auto f = module.lookupSymbol<func::FuncOp>(entry);
  if (!f || f.isExternal())
    return Status::error("no function @" + entry.str() + " with a body in the module");
  FunctionType type = f.getFunctionType();
  if (type.getNumInputs() != arguments.size())
    return Status::error("@" + entry.str() + " takes " + std::to_string(type.getNumInputs()) +
                         " arguments, " + std::to_string(arguments.size()) + " given");
  Runner runner(module, options);
  SmallVector<LaneValue> args;
  for (auto [i, t] : llvm::enumerate(type.getInputs())) {
    HostArgument &a = arguments[i];
    std::string name = "argument " + std::to_string(i);
    LaneValue v;
    if (auto mt = dyn_cast<MemRefType>(t)) {
      if (!a.isMemRef)
        return Status::error(name + " is a memref (" + llvm::formatv("{0}", t).str() +
                             "), given a scalar");
      if (!mt.getLayout().isIdentity())
        return Status::error(name + ": memrefs with a layout are not accepted as arguments");
      unsigned eb = elementBytes(mt.getElementType());
      if (!eb)
        return Status::error(name + ": element type not modelled");
      if (a.shape.size() != static_cast<size_t>(mt.getRank()))
        return Status::error(name + " has rank " + std::to_string(mt.getRank()) + ", given " +
                             std::to_string(a.shape.size()) + " dimensions");
      for (auto [k, d] : llvm::enumerate(mt.getShape()))
        if (!ShapedType::isDynamic(d) && d != a.shape[k])
          return Status::error(name + " dimension " + std::to_string(k) + " is " +
                               std::to_string(d) + ", given " + std::to_string(a.shape[k]));
      if (static_cast<size_t>(numElements(a.shape)) * eb != a.bytes)
        return Status::error(name + ": data size does not match the shape");
      v.mem = viewOf(runner.adopt(name, a.data, a.bytes), a.shape, eb);
    } else if (t.isIntOrIndex()) {
      v.bits.push_back(truncBits(bitWidth(t), static_cast<uint64_t>(a.intValue)));
    } else if (isa<FloatType>(t)) {
      v.bits.push_back(fromDouble(t, a.floatValue));
    } else {
      return Status::error(name + ": argument type not modelled");
    }
    args.push_back(std::move(v));
  }
  Warp host(runner, nullptr, 0, 1u, "host function @" + entry.str());
  SmallVector<LaneValue> results;
  if (!host.runFunction(f, args, results) || runner.failed())
    return runner.failureStatus();
  if (stats)
    *stats = runner.stats;
  return Status::success();
}
