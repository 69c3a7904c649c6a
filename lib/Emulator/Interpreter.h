//===- Interpreter.h - The warp interpreter of the GPU emulator -*- C++ -*-===//
//
// Values live per warp: a Slot holds one SSA value for all 32 lanes (scalars
// and vectors as the bits of their element type, memrefs as descriptors).
// Operations run for the lanes of an active mask; structured control flow
// narrows the mask. The host function runs in the same interpreter as a warp
// of one lane.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_LIB_EMULATOR_INTERPRETER_H
#define KVCC_LIB_EMULATOR_INTERPRETER_H

#include "kvcc/Emulator/GPUEmulator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kvcc::emu::sim {

constexpr unsigned kWarpSize = 32;

/// A buffer the emulated program may touch: a host argument, a gpu.alloc, or
/// a CTA's shared memory. Accesses are checked against [begin, begin + size).
struct Allocation {
  std::string what;
  char *begin = nullptr;
  size_t size = 0;
  bool shared = false;
  /// Shared memory: the byte address of `begin` in the CTA's shared window
  /// (what a kernel sees as the pointer's integer value; Launch.cpp).
  uint64_t window = 0;
  std::atomic<bool> live{true};
  std::vector<char> storage; ///< empty when the caller owns the bytes
};

/// One lane's memref: a strided view into an allocation.
struct MemRefVal {
  Allocation *alloc = nullptr;
  char *base = nullptr; ///< element 0 of the view is base + offset elements
  int64_t offset = 0;
  llvm::SmallVector<int64_t, 5> sizes, strides;
  unsigned elemBytes = 0;
};

/// One SSA value in every lane of a warp.
struct Slot {
  unsigned width = 1;          ///< elements per lane (vector, LLVM struct)
  uint64_t defined = 0;        ///< when the warp last wrote it (Warp::defineClock_)
  std::vector<uint64_t> bits;  ///< bits[lane * width + i], in the element type
  std::vector<MemRefVal> mem;  ///< per lane, for memrefs
  uint64_t &at(unsigned lane, unsigned i) { return bits[lane * width + i]; }
  uint64_t at(unsigned lane, unsigned i) const { return bits[lane * width + i]; }
};

/// One lane's value, passed from the host to a kernel's arguments.
struct LaneValue {
  llvm::SmallVector<uint64_t, 4> bits;
  std::optional<MemRefVal> mem;
};

/// Calls F(lane) for each lane set in MASK.
template <typename F> void forLanes(uint32_t mask, F f) {
  while (mask) {
    unsigned lane = __builtin_ctz(mask);
    mask &= mask - 1;
    f(lane);
  }
}

/// Sets every element of R in the lanes of MASK to F(lane, element).
template <typename F> void fillElements(Slot &r, uint32_t mask, F f) {
  forLanes(mask, [&](unsigned l) {
    for (unsigned i = 0; i < r.width; ++i)
      r.at(l, i) = f(l, i);
  });
}

struct ValueHash {
  size_t operator()(mlir::Value v) const { return mlir::hash_value(v); }
};

/// A CTA barrier for the warps (threads) of a block, with the popc/and/or
/// reduction of nvvm.barrier. A warp that returns retires from it; an error
/// in any warp aborts it so the others stop waiting.
class Barrier {
public:
  explicit Barrier(unsigned participants) : count_(participants) {}
  /// Waits for every live warp; TOTAL gets the sum of the contributions.
  bool arrive(int64_t contribution, int64_t *total);
  void retire();
  void abort();

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned count_, waiting_ = 0;
  uint64_t generation_ = 0;
  int64_t accumulated_ = 0, result_ = 0;
  bool aborted_ = false;
};

/// One warp instruction's shared-memory accesses, gathered lane by lane for
/// the bank model (Warp::countSharedAccess): each lane's first byte (null: no
/// access), all BYTES long, in ALLOC.
struct SharedRequest {
  const char *addresses[kWarpSize] = {};
  const Allocation *alloc = nullptr;
  unsigned bytes = 0;
  /// Notes LANE's access at P if it is to shared memory.
  void add(unsigned lane, const Allocation *a, const char *p, unsigned n) {
    if (!a->shared)
      return;
    alloc = a;
    addresses[lane] = p;
    bytes = n;
  }
};

/// One warp instruction's asynchronous access of shared memory, a
/// cp.async's writes or a wgmma's operand reads, from its issue to its
/// retirement (the wait that lands or retires it): the warp's barrier epoch
/// (barriers passed) and its async clock at each (AsyncShared.cpp).
struct AsyncAccess {
  static constexpr uint64_t kInFlight = ~uint64_t(0);
  unsigned warp = 0;
  bool write = false;
  uint64_t issueEpoch = 0, issueClock = 0;
  uint64_t retireEpoch = kInFlight, retireClock = kInFlight;
  /// Whether this access retired before LATER issued: in the same warp, in
  /// program order; in another, with a barrier between.
  bool retiredBefore(const AsyncAccess &later) const;
};

/// The asynchronous and generic-proxy history of a CTA's shared memory, per
/// 16-byte granule, kept for kernels that use wgmma (AsyncShared.cpp):
///   * two overlapping async accesses, one of them a write, race unless one
///     retired before the other issued (a cp.async landing in an operand of
///     an in-flight MMA, or an MMA reading a stage whose copies are still in
///     flight, whichever warp issued them);
///   * wgmma reads through the async proxy, so the generic writes it reads
///     (stores, landed cp.async) need a fence.proxy.async by their writer.
/// Every method may be called from any warp's thread.
class AsyncShadow {
public:
  explicit AsyncShadow(const std::vector<std::unique_ptr<Allocation>> &shared) : shared_(shared) {}
  struct Conflict {
    std::shared_ptr<const AsyncAccess> race; ///< an earlier access it races with
    int unfencedWriter = -1; ///< a read's: the warp of an unfenced generic write
    /// A read's: another warp that fenced its write with no barrier since.
    int unpublishedWriter = -1;
  };
  /// Notes ACCESS over the byte ranges (start, length).
  Conflict note(const std::shared_ptr<AsyncAccess> &access,
                llvm::ArrayRef<std::pair<const char *, size_t>> ranges);
  void retire(AsyncAccess &access, uint64_t epoch, uint64_t clock);
  /// A generic-proxy write of WARP's (a shared store, a landed cp.async).
  void genericWrite(unsigned warp, const char *p, size_t bytes);
  /// fence.proxy.async by WARP (in barrier epoch EPOCH): its generic writes
  /// become visible to the async proxy, and to other warps' MMAs after a
  /// barrier.
  void fenceProxy(unsigned warp, uint64_t epoch);

private:
  struct Granule {
    std::shared_ptr<const AsyncAccess> write;
    llvm::SmallVector<std::shared_ptr<const AsyncAccess>, 8> reads; ///< the latest, by warp
    int unfenced = -1; ///< the warp whose generic write awaits a fence
    int fencedBy = -1; ///< else the warp that fenced the last one, in fenceEpoch
    uint64_t fenceEpoch = 0;
  };
  /// The granule of P (null outside shared memory).
  Granule *granule(const char *p);
  /// Calls F on each granule [p, p + bytes) touches (bytes > 0).
  template <typename F> void forGranules(const char *p, size_t bytes, F f);

  const std::vector<std::unique_ptr<Allocation>> &shared_;
  std::mutex mutex_;
  std::unordered_map<const Allocation *, std::vector<Granule>> granules_;
  std::unordered_map<unsigned, std::vector<Granule *>> unfencedByWarp_;
};

/// A cp.async of one lane, applied when its group retires.
struct PendingCopy {
  char *dst = nullptr;
  const char *src = nullptr;
  size_t copyBytes = 0, totalBytes = 0; ///< the rest of totalBytes is zero-filled
  std::shared_ptr<AsyncAccess> access;  ///< the warp instruction's (with a shadow)
};

/// One wgmma.mma_async as issued (WarpgroupOps.cpp): A by descriptor or in
/// four registers, B by descriptor, the accumulator as one struct (`c`) or
/// one value a register (`cElements`).
struct WgmmaIssue {
  int64_t n = 0;
  bool bf16 = false, kMajorA = true, kMajorB = true, accumulate = true;
  mlir::Value descA, descB, c, result;
  llvm::SmallVector<mlir::Value, 4> aRegisters;
  llvm::SmallVector<mlir::Value> cElements;
};

/// A wgmma computed at issue, bound when a wait_group retires its group.
struct PendingWgmma {
  mlir::Value result;
  unsigned width = 0;
  std::vector<uint64_t> bits; ///< bits[lane * width + register]
  /// The shared elements it read and their bits then (the race check).
  std::vector<const char *> reads;
  std::vector<uint16_t> readBits;
  std::shared_ptr<AsyncAccess> access; ///< with a shadow
};

/// Each warpgroup's MMAs as its first warp issued them, until all 4 have
/// (Warp::agreeAcrossWarpgroup).
struct WarpgroupLedger {
  struct Issue {
    mlir::Operation *op;
    int64_t n;
    uint64_t descA, descB;
    unsigned warp, seen;
  };
  std::mutex mutex;
  std::map<std::pair<unsigned, uint64_t>, Issue> issues; ///< (warpgroup, its k-th MMA)
};

class Runner;

/// The state the warps of one CTA share.
struct CTA {
  int64_t blockId[3] = {0, 0, 0}, gridDim[3] = {1, 1, 1}, blockDim[3] = {1, 1, 1};
  std::vector<std::unique_ptr<Allocation>> sharedMemory; ///< attributions, then dynamic
  /// Kernels with wgmma only: the async-access race and proxy-fence checks.
  std::unique_ptr<AsyncShadow> asyncShadow;
  WarpgroupLedger warpgroupLedger;
  Allocation *dynamicShared = nullptr;
  std::unique_ptr<Barrier> barrier;
  /// cp.async groups no wait retired: they land after the last warp exits
  /// (the latest time PTX allows), so a read that needed a wait sees stale
  /// shared memory whatever the warps' interleaving.
  std::mutex unretiredMutex;
  std::vector<PendingCopy> unretired;
};

/// A failure: the operation, the lane, and what went wrong; the Runner turns
/// it into a message once the warps have stopped.
struct Failure {
  mlir::Operation *op = nullptr;
  std::string message;
  std::string where; ///< kernel, CTA, warp, lane
};

class Warp {
public:
  /// A warp of CTA (null for the host) whose existing lanes are LANES.
  Warp(Runner &runner, CTA *cta, unsigned index, uint32_t lanes, std::string where);

  /// Runs a kernel's body with its arguments (the same in every lane).
  bool runKernel(mlir::gpu::GPUFuncOp kernel, llvm::ArrayRef<LaneValue> arguments);
  /// Runs a host function (lane 0) and returns its results.
  bool runFunction(mlir::Operation *function, llvm::ArrayRef<LaneValue> arguments,
                   llvm::SmallVectorImpl<LaneValue> &results);

  LaneValue laneValue(mlir::Value v, unsigned lane);

private:
  bool runBlock(mlir::Block &block, uint32_t mask);
  bool exec(mlir::Operation &op, uint32_t mask);
  bool execArith(mlir::Operation &op, uint32_t mask, bool &handled);
  bool execAffine(mlir::Operation &op, uint32_t mask, bool &handled);
  bool execVectorMemRef(mlir::Operation &op, uint32_t mask, bool &handled);
  bool execControl(mlir::Operation &op, uint32_t mask, bool &handled);
  bool execGPU(mlir::Operation &op, uint32_t mask, bool &handled);
  bool execHost(mlir::Operation &op, uint32_t mask, bool &handled);
  /// wgmma and the async-proxy fence (WarpgroupOps.cpp).
  bool execWarpgroup(mlir::Operation &op, uint32_t mask, bool &handled);
  bool issueWgmma(mlir::Operation *op, uint32_t mask, const WgmmaIssue &issue);
  /// The warpgroup's 4 warps issue each MMA alike (the same operation, n
  /// and descriptors).
  bool agreeAcrossWarpgroup(mlir::Operation *op, const WgmmaIssue &issue, uint64_t descA,
                            uint64_t descB);
  bool retireWgmmaGroups(mlir::Operation *op, size_t keep);
  /// Notes an async access with the CTA's shadow (if any), failing on a race.
  bool noteAsync(mlir::Operation *op, const std::shared_ptr<AsyncAccess> &access,
                 llvm::ArrayRef<std::pair<const char *, size_t>> ranges);
  /// A new async access of this warp's, issued now (null without a shadow).
  std::shared_ptr<AsyncAccess> newAsyncAccess(bool write);
  void retireAsync(AsyncAccess *access);
  /// A generic store of [p, p + bytes) through M, for the proxy-fence check.
  void noteSharedStore(const MemRefVal &m, const char *p, size_t bytes);
  /// The in-flight wgmma whose result is V, if any.
  const PendingWgmma *pendingWgmma(mlir::Value v) const;
  /// The bytes at shared-window address WINDOW.
  bool sharedAt(mlir::Operation *op, uint64_t window, unsigned bytes, const char *&p);
  /// A call of a function without a body: the CUDA runtime functions a
  /// model's host code calls (HostCalls.cpp).
  bool execExternalCall(mlir::func::CallOp call, uint32_t mask);

  // Values.
  Slot &def(mlir::Value v, unsigned width);
  Slot &defMemRef(mlir::Value v);
  const Slot &get(mlir::Value v);
  void bind(mlir::Value v, const LaneValue &value);
  /// Copies SRC's lanes in MASK into DST (same shape).
  void assignLanes(mlir::Value dst, const Slot &src, uint32_t mask);
  /// A static size/offset/position, or a value's in LANE.
  int64_t laneInt(mlir::OpFoldResult v, unsigned lane);

  // Memory.
  /// The address of M[INDICES] in LANE (not range-checked: see checkRange).
  bool address(mlir::Operation *op, unsigned lane, const MemRefVal &m,
               mlir::ValueRange indices, char *&out);
  bool checkRange(mlir::Operation *op, unsigned lane, const MemRefVal &m, const char *p,
                  size_t bytes);
  /// Counts one warp request of shared memory in the bank model
  /// (SharedAccessStats); a request with no shared access counts nothing.
  void countSharedAccess(const char *kind, const SharedRequest &request);

  // Collectives and barriers.
  bool requireFullWarp(mlir::Operation *op, uint32_t mask);
  bool barrier(mlir::Operation *op, int64_t contribution, int64_t *total);
  void retireAsyncGroups(size_t keep);
  /// Leaves the copies no wait retired to the CTA.
  void handOverAsyncCopies();

public:
  bool fail(mlir::Operation *op, const llvm::Twine &message, int lane = -1);
  /// This warp's shared-memory traffic by access kind (the Runner merges it).
  std::map<std::string, SharedAccessStats> sharedAccesses;

  Runner &runner;
  CTA *cta;
  unsigned index;
  uint32_t lanes;
  std::string where;

private:
  std::unordered_map<mlir::Value, Slot, ValueHash> values_;
  llvm::SmallPtrSet<mlir::Operation *, 4> activeFunctions_;
  std::vector<PendingCopy> openGroup_;
  std::vector<std::vector<PendingCopy>> committedGroups_;
  bool wgmmaFenced_ = false;
  uint64_t wgmmaIssued_ = 0; ///< this warp's MMAs so far (the WarpgroupLedger's key)
  /// Barriers passed, and a count of async issues and retirements (the
  /// AsyncShadow's order).
  uint64_t epoch_ = 0, asyncClock_ = 0;
  /// A count of the warp's value definitions, and its value at the last
  /// wgmma.fence: a register an MMA reads must be older than the fence.
  uint64_t defineClock_ = 0, fenceStamp_ = 0;
  std::vector<PendingWgmma> openWgmma_;
  std::vector<std::vector<PendingWgmma>> committedWgmma_;
  /// llvm.extractvalue results of an in-flight wgmma's struct: (struct,
  /// register), so a chained MMA that takes its accumulators one register
  /// an operand (the register-A form) reads the pending value.
  std::unordered_map<mlir::Value, std::pair<mlir::Value, unsigned>, ValueHash> pendingElements_;
};

/// The emulation of one entry call: allocations, options, the first failure.
class Runner {
public:
  Runner(mlir::ModuleOp module, const EmulatorOptions &options)
      : module(module), options(options) {}

  /// Poisoned device memory (gpu.alloc, memref.alloc); host thread only.
  Allocation *allocate(std::string what, size_t bytes);
  Allocation *adopt(std::string what, char *data, size_t bytes);
  /// Runs every CTA of a launch; false after a failure.
  bool launch(mlir::Operation *launchOp, mlir::gpu::GPUFuncOp kernel, const int64_t grid[3],
              const int64_t block[3], int64_t dynamicSharedBytes,
              llvm::ArrayRef<LaneValue> arguments);
  void recordFailure(Failure failure);
  /// Adds a warp's shared-memory traffic to KERNEL's (any thread).
  void mergeSharedAccesses(const std::string &kernel,
                           const std::map<std::string, SharedAccessStats> &accesses);
  bool failed() const { return failed_.load(); }
  Status failureStatus();

  mlir::ModuleOp module;
  EmulatorOptions options;
  EmulationStats stats;

private:
  std::vector<std::unique_ptr<Allocation>> allocations_;
  std::mutex failureMutex_, statsMutex_;
  std::atomic<bool> failed_{false};
  Failure failure_;
};

// Element bits.
unsigned bitWidth(mlir::Type t);
mlir::Type elementType(mlir::Type t);
unsigned slotWidth(mlir::Type t);
double toDouble(mlir::Type t, uint64_t bits);
uint64_t fromDouble(mlir::Type t, double v);
int64_t toSigned(unsigned width, uint64_t bits);
uint64_t truncBits(unsigned width, uint64_t bits);

} // namespace kvcc::emu::sim

#endif // KVCC_LIB_EMULATOR_INTERPRETER_H
