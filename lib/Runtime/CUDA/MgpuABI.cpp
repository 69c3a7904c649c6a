//===- MgpuABI.cpp - MLIR's gpu-to-llvm launch ABI over CudaDriver --------===//
//
// See MgpuABI.h for the error model; the steps, their graphs and the block
// cache's controls are in MgpuSteps.cpp, the state both share in
// MgpuRuntime.h. Every entry point follows one shape:
//
//   Call c("mgpuX");            // null when a failure is already recorded,
//   if (!c) return nullptr;     // or when the device cannot be opened
//   c.check(c->cuY(...), "cuY") // records "mgpuX: cuY failed: CUDA_ERROR_..."
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include "MgpuRuntime.h"

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

namespace kvcc::cuda::detail {

Runtime &rt() {
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

/// For release calls: the driver if a device is open, even after a failure.
CudaDriver *releaseDriver() {
  CudaDevice *d = rt().dev.load(std::memory_order_acquire);
  if (!d)
    return nullptr;
  (void)d->driver().cuCtxSetCurrent(d->context());
  return &d->driver();
}

} // namespace kvcc::cuda::detail

using namespace kvcc::cuda::detail;

namespace {

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

extern "C" int32_t kvcc_cuda_multiprocessor_count(void) {
  // Called by every attention op of an eager step: once the device is open,
  // its info needs no driver call (nor a current context).
  CudaDevice *d = rt().dev.load(std::memory_order_acquire);
  if (!d)
    d = device("kvcc_cuda_multiprocessor_count");
  return d && d->info().smCount > 0 ? d->info().smCount : 1;
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
