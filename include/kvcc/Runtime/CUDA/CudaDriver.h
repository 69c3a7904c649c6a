//===- CudaDriver.h - The CUDA driver API, opened with dlopen ---*- C++ -*-===//
//
// The runtime links nothing from the CUDA toolkit: libcuda.so.1 (or the file
// named by KVCC_LIBCUDA, which the tests point at a mock) is opened at run
// time, so kvcc-run builds and starts on machines without a GPU and says so
// cleanly. The few driver types and constants the runtime needs are declared
// here, in namespace kvcc::cuda, with the names and values of cuda.h (CUDA
// 12/13). Do not include cuda.h next to this header: its macros rename API
// entry points (cuMemAlloc -> cuMemAlloc_v2) and would rename the members below.
//
// Every call is checked: `check` turns a CUresult into a Status naming the
// call, the error's name and its description,
//   "cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)".
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_CUDA_CUDADRIVER_H
#define KVCC_RUNTIME_CUDA_CUDADRIVER_H

#include "kvcc/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <string>

#define KVCC_CUDA_EXPORT __attribute__((visibility("default")))

namespace kvcc::cuda {

//===----------------------------------------------------------------------===//
// Driver types (ABI-compatible with cuda.h)
//===----------------------------------------------------------------------===//

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;
using CUjit_option = int;

// CUresult values the runtime and the mock name.
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
  CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
  CUDA_ERROR_UNKNOWN = 999,
};

// CUdevice_attribute
enum : int {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
  CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
  CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

// CUfunction_attribute
enum : int {
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14,
};

// CUjit_option
enum : int {
  CU_JIT_INFO_LOG_BUFFER = 3,
  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_OPTIMIZATION_LEVEL = 7,
};

// Stream and event flags.
enum : unsigned {
  CU_STREAM_DEFAULT = 0x0,
  CU_STREAM_NON_BLOCKING = 0x1,
  CU_EVENT_DEFAULT = 0x0,
  CU_EVENT_BLOCKING_SYNC = 0x1,
  CU_EVENT_DISABLE_TIMING = 0x2,
};

// CUstreamCaptureMode
enum : int {
  CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
  CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
  CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

// cuLaunchKernelEx (CUDA >= 12.0): CUlaunchConfig / CUlaunchAttribute.
enum : int { CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4 };
struct CUlaunchAttribute {
  int id;
  char pad[8 - sizeof(int)];
  union {
    char raw[64];
    struct {
      unsigned x, y, z;
    } clusterDim;
  } value;
};
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};
static_assert(sizeof(CUlaunchAttribute) == 72, "CUlaunchAttribute layout of cuda.h");

//===----------------------------------------------------------------------===//
// The driver library
//===----------------------------------------------------------------------===//

/// One loaded driver library and the entry points the runtime uses. The
/// pointers resolve the symbol names that CUDA 12/13's cuda.h maps the API to
/// (cuMemAlloc -> cuMemAlloc_v2, ...); the optional ones (cuLaunchKernelEx,
/// cuMemHostRegister/Unregister) may be null on old drivers.
class KVCC_CUDA_EXPORT CudaDriver {
public:
  /// The process-wide driver: the library named by $KVCC_LIBCUDA, else
  /// libcuda.so.1. Each path is opened once per process and never unloaded;
  /// a failure is not cached (the next call tries again). Errors:
  ///   "no CUDA driver (libcuda.so.1 could not be loaded: <dlerror>)"
  ///   "no CUDA driver (<path> lacks cuMemAlloc_v2; the driver is too old)"
  static Expected<CudaDriver *> get();
  /// The driver at `path` (a file name dlopen searches for, or a path).
  static Expected<CudaDriver *> get(const std::string &path);
  /// $KVCC_LIBCUDA, else "libcuda.so.1".
  static std::string defaultPath();

  const std::string &path() const { return path_; }

  /// Success, or "<call> failed: <CUDA_ERROR_NAME> (<description>)".
  Status check(CUresult result, const char *call) const;
  /// "CUDA_ERROR_NAME (description)" of a CUresult, also for unknown codes.
  std::string describe(CUresult result) const;

  // Entry points (resolved symbol in the comment where it differs).
  CUresult (*cuInit)(unsigned flags) = nullptr;
  CUresult (*cuDriverGetVersion)(int *version) = nullptr;
  CUresult (*cuDeviceGetCount)(int *count) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal) = nullptr;
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice dev) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *value, int attrib, CUdevice dev) = nullptr;
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice dev) = nullptr; // _v2
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice dev) = nullptr; // _v2
  CUresult (*cuCtxSetCurrent)(CUcontext ctx) = nullptr;
  CUresult (*cuCtxGetCurrent)(CUcontext *ctx) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuMemGetInfo)(size_t *free, size_t *total) = nullptr; // _v2
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image) = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned numOptions, CUjit_option *options,
                                 void **optionValues) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule module) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction fn, int attrib, int value) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction fn, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ, unsigned sharedBytes, CUstream stream, void **params,
                             void **extra) = nullptr;
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig *config, CUfunction fn, void **params,
                               void **extra) = nullptr; // optional
  CUresult (*cuMemAlloc)(CUdeviceptr *ptr, size_t bytes) = nullptr; // _v2
  CUresult (*cuMemFree)(CUdeviceptr ptr) = nullptr;                 // _v2
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream s) = nullptr; // _v2
  CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream s) = nullptr;       // _v2
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) = nullptr; // _v2
  CUresult (*cuMemcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) = nullptr;
  CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned value, size_t count, CUstream s) = nullptr;
  CUresult (*cuMemsetD16Async)(CUdeviceptr dst, unsigned short value, size_t count, CUstream s) = nullptr;
  CUresult (*cuMemHostRegister)(void *ptr, size_t bytes, unsigned flags) = nullptr; // _v2, optional
  CUresult (*cuMemHostUnregister)(void *ptr) = nullptr;                             // optional
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream stream) = nullptr; // _v2
  CUresult (*cuStreamSynchronize)(CUstream stream) = nullptr;
  CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned flags) = nullptr;
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags) = nullptr;
  CUresult (*cuEventDestroy)(CUevent event) = nullptr; // _v2
  CUresult (*cuEventRecord)(CUevent event, CUstream stream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent event) = nullptr;
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end) = nullptr; // _v2, else the original
  // CUDA graphs, all optional (kvcc_cuda_begin_capture says when missing).
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode) = nullptr; // _v2
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph, unsigned long long flags) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph graph) = nullptr;
  CUresult (*cuGetErrorName)(CUresult error, const char **name) = nullptr;
  CUresult (*cuGetErrorString)(CUresult error, const char **text) = nullptr;

private:
  CudaDriver() = default;
  static Expected<CudaDriver *> load(const std::string &path);
  std::string path_;
  void *handle_ = nullptr;
};

/// `KVCC_CU_CHECK(driver, cuMemAlloc, &ptr, n)` calls driver.cuMemAlloc(&ptr, n)
/// and returns its Status.
#define KVCC_CU_CHECK(driver, fn, ...) (driver).check((driver).fn(__VA_ARGS__), #fn)

//===----------------------------------------------------------------------===//
// A device
//===----------------------------------------------------------------------===//

/// What a device says about itself.
struct KVCC_CUDA_EXPORT CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int smCount = 0;
  int ccMajor = 0, ccMinor = 0;
  int maxSharedPerBlockOptin = 0; ///< Bytes of shared memory a block may opt into.
  int64_t totalMemory = 0;        ///< Bytes.
  int driverVersion = 0;          ///< 13000 = 13.0.
  int deviceCount = 0;            ///< Devices the driver sees.

  /// "NVIDIA H100 80GB HBM3 (device 0 of 1): sm_90, 132 SMs, 79.1 GiB, 227 KiB
  /// shared/block, driver 13.0".
  std::string describe() const;
};

/// An open device: the driver and the device's primary context, retained for
/// the lifetime of the object (move-only; the destructor releases it).
class KVCC_CUDA_EXPORT CudaDevice {
public:
  /// Opens device `ordinal` through CudaDriver::get(). Errors: "no CUDA driver
  /// (...)" when the library cannot be loaded, "no CUDA device" when the
  /// driver finds none, "CUDA device 3 does not exist (2 devices)", or the
  /// failing call.
  static Expected<CudaDevice> open(int ordinal = 0);
  /// The same on a given driver (tests open the mock this way).
  static Expected<CudaDevice> open(CudaDriver &driver, int ordinal);

  CudaDevice(CudaDevice &&other) noexcept;
  CudaDevice &operator=(CudaDevice &&other) noexcept;
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;
  ~CudaDevice();

  CudaDriver &driver() const { return *driver_; }
  const CudaDeviceInfo &info() const { return info_; }
  CUdevice device() const { return device_; }
  CUcontext context() const { return context_; }
  /// Makes the primary context current on the calling thread (every thread
  /// that issues driver calls needs it once).
  Status makeCurrent() const;

private:
  CudaDevice() = default;
  void release();
  CudaDriver *driver_ = nullptr;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CudaDeviceInfo info_;
};

} // namespace kvcc::cuda

#endif // KVCC_RUNTIME_CUDA_CUDADRIVER_H
