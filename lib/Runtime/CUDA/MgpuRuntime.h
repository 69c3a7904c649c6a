//===- MgpuRuntime.h - The state behind the mgpu ABI (internal) -*- C++ -*-===//
//
// Shared by the files of libkvcc_cuda_runtime that implement MgpuABI.h: the
// process-wide Runtime (device, first failure, block cache, open step and
// capture) and the helpers every entry point uses. Not installed.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_LIB_RUNTIME_CUDA_MGPURUNTIME_H
#define KVCC_LIB_RUNTIME_CUDA_MGPURUNTIME_H

#include "kvcc/Runtime/CUDA/CudaDriver.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kvcc::cuda::detail {

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

/// The process's runtime (leaked: model.so may run kernels from static
/// destructors of its own).
Runtime &rt();
/// Keeps `message` as the first failure (later ones are dropped).
void record(const std::string &message);
/// Opens the device under r.mu; records and returns null on failure.
CudaDevice *openLocked(Runtime &r, int ordinal, const char *who);
/// The device for a call, its context current on this thread; null (and
/// nothing to do) once a failure is recorded.
CudaDevice *device(const char *who);
/// For release calls: the driver if a device is open, even after a failure.
CudaDriver *releaseDriver();

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

inline CUstream stream(void *s) { return static_cast<CUstream>(s); }
/// The stream of the open step, or null.
inline CUstream openStep() { return rt().openStep.load(std::memory_order_acquire); }
inline CUdeviceptr dptr(const void *p) { return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)); }

} // namespace kvcc::cuda::detail

#endif // KVCC_LIB_RUNTIME_CUDA_MGPURUNTIME_H
