//===- MgpuABI.cpp - MLIR's gpu-to-llvm launch ABI over CudaDriver --------===//
//
// See MgpuABI.h for the error model. Every entry point follows one shape:
//
//   Call c("mgpuX");            // null when a failure is already recorded,
//   if (!c) return nullptr;     // or when the device cannot be opened
//   c.check(c->cuY(...), "cuY") // records "mgpuX: cuY failed: CUDA_ERROR_..."
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;

namespace {

/// Cached device blocks: idle ones by size class, live ones with their class.
struct BlockPool {
  std::unordered_map<size_t, std::vector<CUdeviceptr>> idle; // by size class
  std::unordered_map<CUdeviceptr, size_t> live;              // handed out, with their class
  size_t idleBytes = 0;
};

struct Runtime {
  std::mutex mu;
  std::atomic<bool> failed{false};
  std::string error;              // set once while !failed, then immutable until cleared
  std::atomic<CudaDevice *> dev{nullptr};
  std::unique_ptr<CudaDevice> owned;
  int defaultOrdinal = 0;
  // Dynamic shared memory each function was opted into (cuFuncSetAttribute).
  std::unordered_map<CUfunction, int> smemOptIn;
  // kvcc_cuda_set_caching(1): destroyed streams and freed blocks are kept for
  // reuse (a model step creates a stream per launch and allocates each
  // intermediate; the driver calls would dominate a decode step).
  std::mutex cacheMu;
  std::atomic<bool> caching{false};
  std::vector<CUstream> idleStreams;
  BlockPool eager;
  // What a captured step allocates (kvcc_cuda_begin_capture). Its graph
  // keeps the addresses for good, so these blocks are never given back to the
  // driver while a graph lives; graphs share them (every replay runs on the
  // one step stream, so no two steps use a block at the same time).
  BlockPool captured;
  int liveGraphs = 0;
  std::atomic<bool> capturing{false};
  // kvcc_cuda_begin_step(): while a step is open, every mgpu stream is
  // `stepStream` and the synchronizations of model.so are deferred to
  // kvcc_cuda_end_step(), so a step's launches queue up back to back instead
  // of waiting for each other on the host. The stream is kept across steps.
  std::atomic<CUstream> openStep{nullptr};
  CUstream stepStream = nullptr;
  CUevent stepReady = nullptr; // orders the step after the legacy stream
};

/// The size class of an allocation: powers of two up to 64 MiB, then
/// multiples of 2 MiB (at most 1/2 wasted, and bounded reuse misses).
size_t sizeClass(uint64_t bytes) {
  const size_t big = size_t(64) << 20, step = size_t(2) << 20;
  if (bytes > big)
    return (bytes + step - 1) / step * step;
  size_t c = 256;
  while (c < bytes)
    c <<= 1;
  return c;
}

Runtime &rt() {
  // Leaked: model.so may run kernels from static destructors of its own.
  static Runtime *r = new Runtime();
  return *r;
}

void record(const std::string &message) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.failed.load(std::memory_order_relaxed))
    return;
  r.error = message;
  r.failed.store(true, std::memory_order_release);
}

/// Opens the device under the lock; records and returns null on failure.
CudaDevice *openLocked(Runtime &r, int ordinal, const char *who) {
  if (CudaDevice *d = r.dev.load(std::memory_order_acquire))
    return d;
  Expected<CudaDevice> d = CudaDevice::open(ordinal);
  if (!d) {
    if (!r.failed.load(std::memory_order_relaxed)) {
      r.error = std::string(who) + ": " + d.message();
      r.failed.store(true, std::memory_order_release);
    }
    return nullptr;
  }
  r.owned = std::make_unique<CudaDevice>(d.take());
  r.dev.store(r.owned.get(), std::memory_order_release);
  return r.owned.get();
}

/// The device for a call, its context current on this thread; null (and
/// nothing to do) once a failure is recorded.
CudaDevice *device(const char *who) {
  Runtime &r = rt();
  if (r.failed.load(std::memory_order_acquire))
    return nullptr;
  CudaDevice *d = r.dev.load(std::memory_order_acquire);
  if (!d) {
    std::lock_guard<std::mutex> lock(r.mu);
    d = openLocked(r, r.defaultOrdinal, who);
    if (!d)
      return nullptr;
  }
  CudaDriver &drv = d->driver();
  if (Status s = drv.check(drv.cuCtxSetCurrent(d->context()), "cuCtxSetCurrent"); !s) {
    record(std::string(who) + ": " + s.message());
    return nullptr;
  }
  return d;
}

/// One mgpu call: the driver when there is work to do, and the check that
/// records a failure under the call's name.
class Call {
public:
  explicit Call(const char *who) : who_(who), dev_(device(who)) {}
  explicit operator bool() const { return dev_ != nullptr; }
  CudaDriver *operator->() const { return &dev_->driver(); }
  CudaDevice &dev() const { return *dev_; }
  bool check(CUresult result, const char *call, const std::string &detail = "") const {
    if (result == CUDA_SUCCESS)
      return true;
    fail(dev_->driver().check(result, call).message() + detail);
    return false;
  }
  void fail(const std::string &message) const { record(std::string(who_) + ": " + message); }

private:
  const char *who_;
  CudaDevice *dev_;
};

/// For release calls: the driver if a device is open, even after a failure.
CudaDriver *releaseDriver() {
  CudaDevice *d = rt().dev.load(std::memory_order_acquire);
  if (!d)
    return nullptr;
  (void)d->driver().cuCtxSetCurrent(d->context());
  return &d->driver();
}

CUstream stream(void *s) { return static_cast<CUstream>(s); }

/// The stream of the open step, or null.
CUstream openStep() { return rt().openStep.load(std::memory_order_acquire); }
CUdeviceptr dptr(const void *p) { return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)); }

bool fitsUnsigned(intptr_t v) { return v >= 0 && static_cast<uintmax_t>(v) <= UINT_MAX; }

/// Checks launch geometry and opts the function into `smem` bytes of dynamic
/// shared memory when needed (above the 48 KiB default, up to the device's
/// opt-in limit); false when a failure was recorded.
bool prepareLaunch(const Call &c, CUfunction fn, const intptr_t (&dims)[6], int32_t smem) {
  if (!fn) {
    c.fail("null function (mgpuModuleGetFunction failed?)");
    return false;
  }
  for (intptr_t v : dims)
    if (!fitsUnsigned(v)) {
      c.fail("grid (" + std::to_string(dims[0]) + ", " + std::to_string(dims[1]) + ", " + std::to_string(dims[2]) +
             ") / block (" + std::to_string(dims[3]) + ", " + std::to_string(dims[4]) + ", " +
             std::to_string(dims[5]) + ") out of range");
      return false;
    }
  if (smem < 0) {
    c.fail("negative dynamic shared memory size " + std::to_string(smem));
    return false;
  }
  if (smem == 0)
    return true;
  int limit = c.dev().info().maxSharedPerBlockOptin;
  if (limit > 0 && smem > limit) {
    c.fail("the kernel asks for " + std::to_string(smem) + " bytes of dynamic shared memory; " +
           c.dev().info().name + " allows " + std::to_string(limit) + " per block");
    return false;
  }
  Runtime &r = rt();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.smemOptIn.find(fn);
    if (it != r.smemOptIn.end() && it->second >= smem)
      return true;
  }
  if (!c.check(c->cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
               "cuFuncSetAttribute", " (opting into " + std::to_string(smem) + " bytes of shared memory)"))
    return false;
  std::lock_guard<std::mutex> lock(r.mu);
  int &v = r.smemOptIn[fn];
  if (v < smem)
    v = smem;
  return true;
}

struct MemRefHeader {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t sizes[1]; // sizes[rank], then strides[rank]
};

/// Bytes and start of a dense memref (what mgpuMemHostRegisterMemRef takes).
bool denseExtent(const Call &c, int64_t rank, void *descriptor, int64_t elementSize, char **start, uint64_t *bytes) {
  if (!descriptor || rank < 0 || elementSize <= 0) {
    c.fail("invalid memref descriptor");
    return false;
  }
  auto *d = static_cast<MemRefHeader *>(descriptor);
  const int64_t *sizes = d->sizes, *strides = d->sizes + rank;
  int64_t n = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    if (strides[i] != n && sizes[i] != 1) {
      c.fail("memref is not dense (dimension " + std::to_string(i) + " has stride " + std::to_string(strides[i]) +
             ", expected " + std::to_string(n) + ")");
      return false;
    }
    n *= sizes[i];
  }
  *start = d->aligned + d->offset * elementSize;
  *bytes = static_cast<uint64_t>(n) * static_cast<uint64_t>(elementSize);
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Errors and device
//===----------------------------------------------------------------------===//

extern "C" int kvcc_cuda_init(int ordinal) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.failed.load(std::memory_order_acquire))
    return -1;
  if (CudaDevice *d = r.dev.load(std::memory_order_acquire)) {
    if (d->info().ordinal == ordinal)
      return 0;
    r.error = "kvcc_cuda_init(" + std::to_string(ordinal) + "): the CUDA runtime already runs on device " +
              std::to_string(d->info().ordinal);
    r.failed.store(true, std::memory_order_release);
    return -1;
  }
  r.defaultOrdinal = ordinal;
  return openLocked(r, ordinal, "kvcc_cuda_init") ? 0 : -1;
}

extern "C" const char *kvcc_cuda_last_error(void) {
  Runtime &r = rt();
  return r.failed.load(std::memory_order_acquire) ? r.error.c_str() : nullptr;
}

extern "C" void kvcc_cuda_clear_error(void) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.mu);
  r.failed.store(false, std::memory_order_release);
  r.error.clear();
}

extern "C" void kvcc_cuda_set_caching(int on) { rt().caching.store(on != 0, std::memory_order_release); }

extern "C" int kvcc_cuda_trim(void) {
  Runtime &r = rt();
  std::vector<CUstream> streams;
  std::vector<CUdeviceptr> blocks;
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    streams.swap(r.idleStreams);
    auto drain = [&](BlockPool &pool) {
      for (auto &[cls, ptrs] : pool.idle)
        blocks.insert(blocks.end(), ptrs.begin(), ptrs.end());
      pool.idle.clear();
      pool.idleBytes = 0;
    };
    drain(r.eager);
    if (r.liveGraphs == 0 && !r.capturing.load(std::memory_order_acquire))
      drain(r.captured);
  }
  CudaDriver *d = releaseDriver();
  if (!d)
    return streams.empty() && blocks.empty() ? 0 : -1;
  int rc = 0;
  for (CUstream st : streams)
    if (CUresult res = d->cuStreamDestroy(st); res != CUDA_SUCCESS) {
      rc = -1;
      if (!r.failed.load(std::memory_order_acquire))
        record("kvcc_cuda_trim: " + d->check(res, "cuStreamDestroy").message());
    }
  for (CUdeviceptr p : blocks)
    if (CUresult res = d->cuMemFree(p); res != CUDA_SUCCESS) {
      rc = -1;
      if (!r.failed.load(std::memory_order_acquire))
        record("kvcc_cuda_trim: " + d->check(res, "cuMemFree").message());
    }
  return rc;
}

extern "C" uint64_t kvcc_cuda_cached_bytes(void) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.cacheMu);
  return r.eager.idleBytes + r.captured.idleBytes;
}

extern "C" void *kvcc_cuda_begin_step(void) {
  Call c("kvcc_cuda_begin_step");
  if (!c)
    return nullptr;
  Runtime &r = rt();
  if (openStep()) {
    c.fail("a step is already open");
    return nullptr;
  }
  // Made once, kept across steps (mgpuResetForTesting destroys them).
  if (!r.stepStream && !c.check(c->cuStreamCreate(&r.stepStream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return nullptr;
  if (!r.stepReady && !c.check(c->cuEventCreate(&r.stepReady, CU_EVENT_DISABLE_TIMING), "cuEventCreate"))
    return nullptr;
  // The step stream does not wait for the legacy stream by itself (it is
  // non-blocking): order it after what the caller enqueued there (uploads,
  // page fills) with an event rather than a host synchronization. The wait
  // captures the event as recorded now, so the event can be recorded again
  // by the next step.
  if (!c.check(c->cuEventRecord(r.stepReady, nullptr), "cuEventRecord") ||
      !c.check(c->cuStreamWaitEvent(r.stepStream, r.stepReady, 0), "cuStreamWaitEvent"))
    return nullptr;
  r.openStep.store(r.stepStream, std::memory_order_release);
  return r.stepStream;
}

/// Ends an open capture on `st` and drops what it recorded; true if one was open.
static bool abandonCapture(CudaDriver &d, CUstream st) {
  Runtime &r = rt();
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    if (!r.capturing.exchange(false, std::memory_order_acq_rel))
      return false;
  }
  CUgraph graph = nullptr;
  if (d.cuStreamEndCapture && d.cuStreamEndCapture(st, &graph) == CUDA_SUCCESS && graph)
    (void)d.cuGraphDestroy(graph);
  return true;
}

extern "C" int kvcc_cuda_end_step(void) {
  Runtime &r = rt();
  CUstream st = r.openStep.exchange(nullptr, std::memory_order_acq_rel);
  if (!st) {
    record("kvcc_cuda_end_step: no step is open");
    return -1;
  }
  // Waited for even after a failure: nothing of the step may still run
  // when the caller reuses its buffers.
  CudaDriver *d = releaseDriver();
  if (!d)
    return -1;
  // A capture left open is abandoned first: the stream must run work again.
  if (abandonCapture(*d, st))
    record("kvcc_cuda_end_step: a capture was still open (abandoned)");
  if (CUresult res = d->cuStreamSynchronize(st); res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_step: " + d->check(res, "cuStreamSynchronize").message());
    return -1;
  }
  return r.failed.load(std::memory_order_acquire) ? -1 : 0;
}

extern "C" int kvcc_cuda_begin_capture(void) {
  Call c("kvcc_cuda_begin_capture");
  if (!c)
    return -1;
  Runtime &r = rt();
  CUstream st = openStep();
  if (!st) {
    c.fail("no step is open");
    return -1;
  }
  if (!r.caching.load(std::memory_order_acquire)) {
    // Without the cache every intermediate is a cuMemAlloc the graph would
    // keep and nobody would free.
    c.fail("capturing a step needs the block cache (kvcc_cuda_set_caching(1))");
    return -1;
  }
  if (r.capturing.load(std::memory_order_acquire)) {
    c.fail("a capture is already open");
    return -1;
  }
  if (!c->cuStreamBeginCapture || !c->cuStreamEndCapture || !c->cuGraphInstantiateWithFlags || !c->cuGraphLaunch ||
      !c->cuGraphExecDestroy || !c->cuGraphDestroy) {
    c.fail("this CUDA driver has no CUDA graphs (cuStreamBeginCapture_v2 ... cuGraphInstantiateWithFlags need 11.4)");
    return -1;
  }
  // Relaxed: the block cache may call cuMemAlloc while the step records (a
  // first capture, or a larger batch); the blocks stay with the graphs.
  if (!c.check(c->cuStreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture"))
    return -1;
  std::lock_guard<std::mutex> lock(r.cacheMu);
  r.capturing.store(true, std::memory_order_release);
  return 0;
}

extern "C" int kvcc_cuda_end_capture(void **exec) {
  Runtime &r = rt();
  if (exec)
    *exec = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    if (!r.capturing.exchange(false, std::memory_order_acq_rel)) {
      record("kvcc_cuda_end_capture: no capture is open");
      return -1;
    }
  }
  // Ended even after a failure, so the stream stops recording
  // (kvcc_cuda_end_step abandons a capture left open).
  CudaDriver *d = releaseDriver();
  CUstream st = r.stepStream;
  if (!d || !st) {
    record("kvcc_cuda_end_capture: no step stream");
    return -1;
  }
  CUgraph graph = nullptr;
  CUresult res = d->cuStreamEndCapture(st, &graph);
  if (r.failed.load(std::memory_order_acquire)) { // a call of the captured step failed
    if (graph)
      (void)d->cuGraphDestroy(graph);
    return -1;
  }
  if (res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_capture: " + d->check(res, "cuStreamEndCapture").message());
    return -1;
  }
  if (!exec) {
    (void)d->cuGraphDestroy(graph);
    record("kvcc_cuda_end_capture: null result pointer");
    return -1;
  }
  CUgraphExec e = nullptr;
  res = d->cuGraphInstantiateWithFlags(&e, graph, 0);
  (void)d->cuGraphDestroy(graph); // the executable graph is a copy
  if (res != CUDA_SUCCESS) {
    record("kvcc_cuda_end_capture: " + d->check(res, "cuGraphInstantiateWithFlags").message());
    return -1;
  }
  std::lock_guard<std::mutex> lock(r.cacheMu);
  ++r.liveGraphs;
  *exec = e;
  return 0;
}

extern "C" int kvcc_cuda_launch_graph(void *exec) {
  Call c("kvcc_cuda_launch_graph");
  if (!c)
    return -1;
  CUstream st = openStep();
  if (!st || !exec) {
    c.fail(!st ? "no step is open" : "null graph");
    return -1;
  }
  return c.check(c->cuGraphLaunch(static_cast<CUgraphExec>(exec), st), "cuGraphLaunch") ? 0 : -1;
}

extern "C" void kvcc_cuda_destroy_graph(void *exec) {
  if (!exec)
    return;
  Runtime &r = rt();
  if (CudaDriver *d = releaseDriver()) {
    CUresult res = d->cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
    if (res != CUDA_SUCCESS && !r.failed.load(std::memory_order_acquire))
      record("kvcc_cuda_destroy_graph: " + d->check(res, "cuGraphExecDestroy").message());
  }
  std::lock_guard<std::mutex> lock(r.cacheMu);
  if (r.liveGraphs > 0)
    --r.liveGraphs;
}

extern "C" int kvcc_cuda_live_graphs(void) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.cacheMu);
  return r.liveGraphs;
}

void *kvcc::cuda::mgpuOpenStepStream() { return openStep(); }

Status kvcc::cuda::mgpuStatus() {
  const char *e = kvcc_cuda_last_error();
  return e ? Status::error(e) : Status::success();
}

void kvcc::cuda::mgpuClearError() { kvcc_cuda_clear_error(); }

CudaDevice *kvcc::cuda::mgpuDeviceForCall(const char *who) { return device(who); }

void kvcc::cuda::mgpuRecordFailure(const std::string &message) { record(message); }

Expected<CudaDevice *> kvcc::cuda::mgpuDevice(int ordinal) {
  if (kvcc_cuda_init(ordinal) != 0)
    return Status::error(kvcc_cuda_last_error());
  return rt().dev.load(std::memory_order_acquire);
}

void kvcc::cuda::mgpuResetForTesting() {
  rt().openStep.store(nullptr, std::memory_order_release);
  {
    // Graphs of the test are dangling now: their blocks go back with the rest.
    std::lock_guard<std::mutex> lock(rt().cacheMu);
    rt().liveGraphs = 0;
    rt().capturing.store(false, std::memory_order_release);
  }
  if (CudaDriver *d = releaseDriver()) {
    if (CUstream st = std::exchange(rt().stepStream, nullptr))
      (void)d->cuStreamDestroy(st);
    if (CUevent e = std::exchange(rt().stepReady, nullptr))
      (void)d->cuEventDestroy(e);
  }
  (void)kvcc_cuda_trim();
  rt().caching.store(false, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(rt().cacheMu);
    rt().eager.live.clear();
    rt().captured.live.clear();
  }
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.mu);
  r.dev.store(nullptr, std::memory_order_release);
  r.owned.reset();
  r.failed.store(false, std::memory_order_release);
  r.error.clear();
  r.defaultOrdinal = 0;
  r.smemOptIn.clear();
}

extern "C" void mgpuSetDefaultDevice(int32_t device) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.mu);
  CudaDevice *d = r.dev.load(std::memory_order_acquire);
  if (!d) {
    r.defaultOrdinal = device;
    return;
  }
  if (d->info().ordinal != device && !r.failed.load(std::memory_order_relaxed)) {
    r.error = "mgpuSetDefaultDevice(" + std::to_string(device) + "): the CUDA runtime already runs on device " +
              std::to_string(d->info().ordinal);
    r.failed.store(true, std::memory_order_release);
  }
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

extern "C" void *mgpuModuleLoad(void *data, size_t gpuBlobSize) {
  Call c("mgpuModuleLoad");
  if (!c)
    return nullptr;
  if (!data) {
    c.fail("null module image");
    return nullptr;
  }
  CUmodule module = nullptr;
  if (!c.check(c->cuModuleLoadData(&module, data), "cuModuleLoadData",
               " (image of " + std::to_string(gpuBlobSize) + " bytes)"))
    return nullptr;
  return module;
}

extern "C" void *mgpuModuleLoadJIT(void *data, int optLevel) {
  Call c("mgpuModuleLoadJIT");
  if (!c)
    return nullptr;
  if (!data) {
    c.fail("null PTX");
    return nullptr;
  }
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(static_cast<uintptr_t>(sizeof(log) - 1)),
                    reinterpret_cast<void *>(static_cast<uintptr_t>(optLevel < 0 ? 0 : optLevel > 4 ? 4 : optLevel))};
  CUmodule module = nullptr;
  CUresult res = c->cuModuleLoadDataEx(&module, data, 3, options, values);
  log[sizeof(log) - 1] = 0;
  if (!c.check(res, "cuModuleLoadDataEx", log[0] ? std::string(": ") + log : std::string()))
    return nullptr;
  return module;
}

extern "C" void mgpuModuleUnload(void *module) {
  if (!module)
    return;
  if (CudaDriver *d = releaseDriver()) {
    CUresult res = d->cuModuleUnload(static_cast<CUmodule>(module));
    if (res != CUDA_SUCCESS && !rt().failed.load(std::memory_order_acquire))
      record("mgpuModuleUnload: " + d->check(res, "cuModuleUnload").message());
  }
}

extern "C" void *mgpuModuleGetFunction(void *module, const char *name) {
  Call c("mgpuModuleGetFunction");
  if (!c)
    return nullptr;
  if (!module || !name) {
    c.fail(std::string("null module (mgpuModuleLoad failed?) looking up ") + (name ? name : "(null)"));
    return nullptr;
  }
  CUfunction fn = nullptr;
  if (!c.check(c->cuModuleGetFunction(&fn, static_cast<CUmodule>(module), name), "cuModuleGetFunction",
               std::string(" (kernel ") + name + ")"))
    return nullptr;
  return fn;
}

extern "C" void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ, int32_t smem, void *s, void **params,
                                 void **extra, size_t /*paramsCount*/) {
  Call c("mgpuLaunchKernel");
  if (!c)
    return;
  CUfunction fn = static_cast<CUfunction>(function);
  const intptr_t dims[6] = {gridX, gridY, gridZ, blockX, blockY, blockZ};
  // An empty grid (a step with no token for a kernel) launches nothing;
  // the driver would call it an invalid value and poison the sticky status.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  if (!prepareLaunch(c, fn, dims, smem))
    return;
  c.check(c->cuLaunchKernel(fn, unsigned(gridX), unsigned(gridY), unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                            unsigned(blockZ), unsigned(smem), stream(s), params, extra),
          "cuLaunchKernel");
}

extern "C" void mgpuLaunchClusterKernel(void *function, intptr_t clusterX, intptr_t clusterY, intptr_t clusterZ,
                                        intptr_t gridX, intptr_t gridY, intptr_t gridZ, intptr_t blockX,
                                        intptr_t blockY, intptr_t blockZ, int32_t smem, void *s, void **params,
                                        void **extra) {
  Call c("mgpuLaunchClusterKernel");
  if (!c)
    return;
  if (!c->cuLaunchKernelEx) {
    c.fail("this CUDA driver has no cuLaunchKernelEx (thread block clusters need CUDA 12)");
    return;
  }
  CUfunction fn = static_cast<CUfunction>(function);
  const intptr_t dims[6] = {gridX, gridY, gridZ, blockX, blockY, blockZ};
  if (!prepareLaunch(c, fn, dims, smem))
    return;
  if (!fitsUnsigned(clusterX) || !fitsUnsigned(clusterY) || !fitsUnsigned(clusterZ)) {
    c.fail("cluster dimensions out of range");
    return;
  }
  // Clusters above the portable size of 8 CTAs need an opt-in (as upstream).
  if (clusterX * clusterY * clusterZ > 8 &&
      !c.check(c->cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
               "cuFuncSetAttribute"))
    return;
  CUlaunchAttribute attr = {};
  attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attr.value.clusterDim.x = unsigned(clusterX);
  attr.value.clusterDim.y = unsigned(clusterY);
  attr.value.clusterDim.z = unsigned(clusterZ);
  CUlaunchConfig config = {};
  config.gridDimX = unsigned(gridX);
  config.gridDimY = unsigned(gridY);
  config.gridDimZ = unsigned(gridZ);
  config.blockDimX = unsigned(blockX);
  config.blockDimY = unsigned(blockY);
  config.blockDimZ = unsigned(blockZ);
  config.sharedMemBytes = unsigned(smem);
  config.hStream = stream(s);
  config.attrs = &attr;
  config.numAttrs = 1;
  c.check(c->cuLaunchKernelEx(&config, fn, params, extra), "cuLaunchKernelEx");
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

extern "C" void *mgpuStreamCreate(void) {
  Call c("mgpuStreamCreate");
  if (!c)
    return nullptr;
  if (CUstream st = openStep())
    return st;
  Runtime &r = rt();
  if (r.caching.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(r.cacheMu);
    if (!r.idleStreams.empty()) {
      CUstream st = r.idleStreams.back();
      r.idleStreams.pop_back();
      return st;
    }
  }
  CUstream st = nullptr;
  if (!c.check(c->cuStreamCreate(&st, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return nullptr;
  return st;
}

extern "C" void mgpuStreamDestroy(void *s) {
  Runtime &r = rt();
  if (!s || stream(s) == r.stepStream)
    return; // the step stream lives until mgpuResetForTesting
  if (r.caching.load(std::memory_order_acquire) && !r.failed.load(std::memory_order_acquire)) {
    // Kept for the next mgpuStreamCreate; its work is done when the next
    // user gets it, as gpu-to-llvm synchronizes before destroying.
    std::lock_guard<std::mutex> lock(r.cacheMu);
    r.idleStreams.push_back(stream(s));
    return;
  }
  if (CudaDriver *d = releaseDriver()) {
    CUresult res = d->cuStreamDestroy(stream(s));
    if (res != CUDA_SUCCESS && !rt().failed.load(std::memory_order_acquire))
      record("mgpuStreamDestroy: " + d->check(res, "cuStreamDestroy").message());
  }
}

extern "C" void mgpuStreamSynchronize(void *s) {
  if (s && stream(s) == openStep())
    return; // deferred to kvcc_cuda_end_step
  Call c("mgpuStreamSynchronize");
  if (c)
    c.check(c->cuStreamSynchronize(stream(s)), "cuStreamSynchronize");
}

extern "C" void mgpuStreamWaitEvent(void *s, void *event) {
  Call c("mgpuStreamWaitEvent");
  if (c)
    c.check(c->cuStreamWaitEvent(stream(s), static_cast<CUevent>(event), 0), "cuStreamWaitEvent");
}

extern "C" void *mgpuEventCreate(void) {
  Call c("mgpuEventCreate");
  if (!c)
    return nullptr;
  CUevent e = nullptr;
  if (!c.check(c->cuEventCreate(&e, CU_EVENT_DISABLE_TIMING), "cuEventCreate"))
    return nullptr;
  return e;
}

extern "C" void mgpuEventDestroy(void *event) {
  if (!event)
    return;
  if (CudaDriver *d = releaseDriver()) {
    CUresult res = d->cuEventDestroy(static_cast<CUevent>(event));
    if (res != CUDA_SUCCESS && !rt().failed.load(std::memory_order_acquire))
      record("mgpuEventDestroy: " + d->check(res, "cuEventDestroy").message());
  }
}

extern "C" void mgpuEventSynchronize(void *event) {
  Call c("mgpuEventSynchronize");
  if (c)
    c.check(c->cuEventSynchronize(static_cast<CUevent>(event)), "cuEventSynchronize");
}

extern "C" void mgpuEventRecord(void *event, void *s) {
  Call c("mgpuEventRecord");
  if (c)
    c.check(c->cuEventRecord(static_cast<CUevent>(event), stream(s)), "cuEventRecord");
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

extern "C" void *mgpuMemAlloc(uint64_t sizeBytes, void * /*stream*/, bool isHostShared) {
  Call c("mgpuMemAlloc");
  if (!c)
    return nullptr;
  if (isHostShared) {
    c.fail("gpu.alloc host_shared is not supported (kvcc allocates device memory only, never managed memory)");
    return nullptr;
  }
  if (sizeBytes == 0)
    return nullptr; // an empty memref; mgpuMemFree(nullptr) is a no-op
  Runtime &r = rt();
  if (r.caching.load(std::memory_order_acquire)) {
    const size_t cls = sizeClass(sizeBytes);
    // Read under the lock: a capture opens and closes on the step's thread.
    auto pool = [&r]() -> BlockPool & {
      return r.capturing.load(std::memory_order_acquire) ? r.captured : r.eager;
    };
    {
      std::lock_guard<std::mutex> lock(r.cacheMu);
      BlockPool &from = pool();
      auto it = from.idle.find(cls);
      if (it != from.idle.end() && !it->second.empty()) {
        CUdeviceptr p = it->second.back();
        it->second.pop_back();
        from.idleBytes -= cls;
        from.live[p] = cls;
        return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
      }
    }
    CUdeviceptr p = 0;
    CUresult res = c->cuMemAlloc(&p, cls);
    // Not while recording: cuMemFree may synchronize, which a capture refuses.
    if (res == CUDA_ERROR_OUT_OF_MEMORY && kvcc_cuda_cached_bytes() > 0 &&
        !r.capturing.load(std::memory_order_acquire)) {
      (void)kvcc_cuda_trim(); // give the idle blocks back, then try once more
      res = c->cuMemAlloc(&p, cls);
    }
    if (!c.check(res, "cuMemAlloc", " (" + std::to_string(cls) + " bytes)"))
      return nullptr;
    std::lock_guard<std::mutex> lock(r.cacheMu);
    pool().live[p] = cls;
    return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
  }
  CUdeviceptr p = 0;
  if (!c.check(c->cuMemAlloc(&p, static_cast<size_t>(sizeBytes)), "cuMemAlloc",
               " (" + std::to_string(sizeBytes) + " bytes)"))
    return nullptr;
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

/// A block of the cache goes back to it (also with caching now off: its size
/// class is what it was allocated with); false for other blocks.
bool returnToCache(CUdeviceptr p) {
  Runtime &r = rt();
  std::lock_guard<std::mutex> lock(r.cacheMu);
  for (BlockPool *pool : {&r.captured, &r.eager}) {
    auto it = pool->live.find(p);
    if (it == pool->live.end())
      continue;
    size_t cls = it->second;
    pool->live.erase(it);
    pool->idle[cls].push_back(p);
    pool->idleBytes += cls;
    return true;
  }
  return false;
}

extern "C" void mgpuMemFree(void *ptr, void *s) {
  if (!ptr)
    return;
  if (CudaDriver *d = releaseDriver()) {
    // gpu-to-llvm frees as soon as the dealloc is issued, before the stream
    // is synchronized; kernels on `s` may still read the memory. cuMemFree
    // is not stream-ordered, so wait for the stream first (not after a
    // failure: the work is abandoned then).
    // A cached block freed on the open step's stream needs no wait: it is
    // only handed out again to work on that same stream, which runs after.
    if (s && stream(s) == openStep() && returnToCache(dptr(ptr)))
      return;
    if (s && !rt().failed.load(std::memory_order_acquire)) {
      CUresult res = d->cuStreamSynchronize(stream(s));
      if (res != CUDA_SUCCESS)
        record("mgpuMemFree: " + d->check(res, "cuStreamSynchronize").message());
    }
    if (returnToCache(dptr(ptr)))
      return;
    CUresult res = d->cuMemFree(dptr(ptr));
    if (res != CUDA_SUCCESS && !rt().failed.load(std::memory_order_acquire))
      record("mgpuMemFree: " + d->check(res, "cuMemFree").message());
  }
}

extern "C" void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *s) {
  Call c("mgpuMemcpy");
  if (!c || sizeBytes == 0)
    return;
  c.check(c->cuMemcpyAsync(dptr(dst), dptr(src), sizeBytes, stream(s)), "cuMemcpyAsync",
          " (" + std::to_string(sizeBytes) + " bytes)");
}

extern "C" void mgpuMemset32(void *dst, unsigned int value, size_t count, void *s) {
  Call c("mgpuMemset32");
  if (!c || count == 0)
    return;
  c.check(c->cuMemsetD32Async(dptr(dst), value, count, stream(s)), "cuMemsetD32Async");
}

extern "C" void mgpuMemset16(void *dst, unsigned short value, size_t count, void *s) {
  Call c("mgpuMemset16");
  if (!c || count == 0)
    return;
  c.check(c->cuMemsetD16Async(dptr(dst), value, count, stream(s)), "cuMemsetD16Async");
}

extern "C" void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes) {
  Call c("mgpuMemHostRegister");
  if (!c)
    return;
  if (!c->cuMemHostRegister) {
    c.fail("this CUDA driver has no cuMemHostRegister_v2");
    return;
  }
  c.check(c->cuMemHostRegister(ptr, static_cast<size_t>(sizeBytes), 0), "cuMemHostRegister");
}

extern "C" void mgpuMemHostUnregister(void *ptr) {
  Call c("mgpuMemHostUnregister");
  if (!c)
    return;
  if (!c->cuMemHostUnregister) {
    c.fail("this CUDA driver has no cuMemHostUnregister");
    return;
  }
  c.check(c->cuMemHostUnregister(ptr), "cuMemHostUnregister");
}

extern "C" void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor, int64_t elementSizeBytes) {
  Call c("mgpuMemHostRegisterMemRef");
  if (!c)
    return;
  char *start = nullptr;
  uint64_t bytes = 0;
  if (denseExtent(c, rank, descriptor, elementSizeBytes, &start, &bytes))
    mgpuMemHostRegister(start, bytes);
}

extern "C" void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor, int64_t elementSizeBytes) {
  Call c("mgpuMemHostUnregisterMemRef");
  if (!c)
    return;
  char *start = nullptr;
  uint64_t bytes = 0;
  if (denseExtent(c, rank, descriptor, elementSizeBytes, &start, &bytes))
    mgpuMemHostUnregister(start);
}
