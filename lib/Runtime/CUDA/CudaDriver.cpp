//===- CudaDriver.cpp - The CUDA driver API, opened with dlopen -----------===//
//
// Links nothing from the CUDA toolkit (see the header). Symbol names are the
// ones CUDA 12/13's cuda.h maps the API to; a driver lacking a required one
// is refused as a whole rather than failing at the first call that needs it.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/CUDA/CudaDriver.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

using namespace kvcc;
using namespace kvcc::cuda;

namespace {

/// One entry point: where it goes, the symbols to try in order, and whether a
/// driver without it is refused.
struct Symbol {
  void *slot; // address of the function pointer member
  const char *names[2];
  bool required;
};

template <typename Fn> void *slotOf(Fn *&member) { return static_cast<void *>(&member); }

std::mutex &registryMutex() {
  static std::mutex m;
  return m;
}

/// Drivers by path; never unloaded (the driver keeps process-wide state and
/// handles from it may outlive any owner we could name).
std::map<std::string, CudaDriver *> &registry() {
  static auto *r = new std::map<std::string, CudaDriver *>();
  return *r;
}

} // namespace

std::string CudaDriver::defaultPath() {
  const char *env = std::getenv("KVCC_LIBCUDA");
  return env && *env ? std::string(env) : std::string("libcuda.so.1");
}

Expected<CudaDriver *> CudaDriver::get() { return get(defaultPath()); }

Expected<CudaDriver *> CudaDriver::get(const std::string &path) {
  std::lock_guard<std::mutex> lock(registryMutex());
  auto it = registry().find(path);
  if (it != registry().end())
    return it->second;
  Expected<CudaDriver *> driver = load(path);
  if (driver)
    registry()[path] = *driver;
  return driver;
}

Expected<CudaDriver *> CudaDriver::load(const std::string &path) {
  dlerror();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return Status::error("no CUDA driver (" + path + " could not be loaded: " + (why ? why : "unknown reason") + ")");
  }
  std::unique_ptr<CudaDriver> d(new CudaDriver());
  d->path_ = path;
  d->handle_ = handle;
  const Symbol symbols[] = {
      {slotOf(d->cuInit), {"cuInit"}, true},
      {slotOf(d->cuDriverGetVersion), {"cuDriverGetVersion"}, true},
      {slotOf(d->cuDeviceGetCount), {"cuDeviceGetCount"}, true},
      {slotOf(d->cuDeviceGet), {"cuDeviceGet"}, true},
      {slotOf(d->cuDeviceGetName), {"cuDeviceGetName"}, true},
      {slotOf(d->cuDeviceGetAttribute), {"cuDeviceGetAttribute"}, true},
      {slotOf(d->cuDeviceTotalMem), {"cuDeviceTotalMem_v2"}, true},
      {slotOf(d->cuDevicePrimaryCtxRetain), {"cuDevicePrimaryCtxRetain"}, true},
      {slotOf(d->cuDevicePrimaryCtxRelease), {"cuDevicePrimaryCtxRelease_v2"}, true},
      {slotOf(d->cuCtxSetCurrent), {"cuCtxSetCurrent"}, true},
      {slotOf(d->cuCtxGetCurrent), {"cuCtxGetCurrent"}, true},
      {slotOf(d->cuCtxSynchronize), {"cuCtxSynchronize"}, true},
      {slotOf(d->cuMemGetInfo), {"cuMemGetInfo_v2"}, true},
      {slotOf(d->cuModuleLoadData), {"cuModuleLoadData"}, true},
      {slotOf(d->cuModuleLoadDataEx), {"cuModuleLoadDataEx"}, true},
      {slotOf(d->cuModuleUnload), {"cuModuleUnload"}, true},
      {slotOf(d->cuModuleGetFunction), {"cuModuleGetFunction"}, true},
      {slotOf(d->cuFuncSetAttribute), {"cuFuncSetAttribute"}, true},
      {slotOf(d->cuLaunchKernel), {"cuLaunchKernel"}, true},
      {slotOf(d->cuLaunchKernelEx), {"cuLaunchKernelEx"}, false},
      {slotOf(d->cuMemAlloc), {"cuMemAlloc_v2"}, true},
      {slotOf(d->cuMemFree), {"cuMemFree_v2"}, true},
      {slotOf(d->cuMemcpyHtoDAsync), {"cuMemcpyHtoDAsync_v2"}, true},
      {slotOf(d->cuMemcpyDtoHAsync), {"cuMemcpyDtoHAsync_v2"}, true},
      {slotOf(d->cuMemcpyDtoDAsync), {"cuMemcpyDtoDAsync_v2"}, true},
      {slotOf(d->cuMemcpyAsync), {"cuMemcpyAsync"}, true},
      {slotOf(d->cuMemsetD32Async), {"cuMemsetD32Async"}, true},
      {slotOf(d->cuMemsetD16Async), {"cuMemsetD16Async"}, true},
      {slotOf(d->cuMemHostRegister), {"cuMemHostRegister_v2"}, false},
      {slotOf(d->cuMemHostUnregister), {"cuMemHostUnregister"}, false},
      {slotOf(d->cuStreamCreate), {"cuStreamCreate"}, true},
      {slotOf(d->cuStreamDestroy), {"cuStreamDestroy_v2"}, true},
      {slotOf(d->cuStreamSynchronize), {"cuStreamSynchronize"}, true},
      {slotOf(d->cuStreamWaitEvent), {"cuStreamWaitEvent"}, true},
      {slotOf(d->cuEventCreate), {"cuEventCreate"}, true},
      {slotOf(d->cuEventDestroy), {"cuEventDestroy_v2"}, true},
      {slotOf(d->cuEventRecord), {"cuEventRecord"}, true},
      {slotOf(d->cuEventSynchronize), {"cuEventSynchronize"}, true},
      // _v2 since CUDA 12.8; the original before (CUDA 13 drops it).
      {slotOf(d->cuEventElapsedTime), {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, true},
      {slotOf(d->cuStreamBeginCapture), {"cuStreamBeginCapture_v2"}, false},
      {slotOf(d->cuStreamEndCapture), {"cuStreamEndCapture"}, false},
      {slotOf(d->cuGraphInstantiateWithFlags), {"cuGraphInstantiateWithFlags"}, false},
      {slotOf(d->cuGraphLaunch), {"cuGraphLaunch"}, false},
      {slotOf(d->cuGraphExecDestroy), {"cuGraphExecDestroy"}, false},
      {slotOf(d->cuGraphDestroy), {"cuGraphDestroy"}, false},
      {slotOf(d->cuGetErrorName), {"cuGetErrorName"}, true},
      {slotOf(d->cuGetErrorString), {"cuGetErrorString"}, true},
  };
  for (const Symbol &s : symbols) {
    void *fn = nullptr;
    for (const char *name : s.names)
      if (name && !fn)
        fn = dlsym(handle, name);
    if (!fn && s.required) {
      // Keep the library mapped: dlclose of a driver is not worth the risk.
      return Status::error("no CUDA driver (" + path + " lacks " + s.names[0] +
                           "; the driver is older than CUDA 12)");
    }
    std::memcpy(s.slot, &fn, sizeof(fn));
  }
  return d.release();
}

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = nullptr;
  std::string s = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

Status CudaDriver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  return Status::error(std::string(call) + " failed: " + describe(result));
}

//===----------------------------------------------------------------------===//
// CudaDevice
//===----------------------------------------------------------------------===//

std::string CudaDeviceInfo::describe() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%s (device %d of %d): sm_%d%d, %d SMs, %.1f GiB, %d KiB shared/block, driver %d.%d",
                name.c_str(), ordinal, deviceCount, ccMajor, ccMinor, smCount,
                static_cast<double>(totalMemory) / (1024.0 * 1024.0 * 1024.0), maxSharedPerBlockOptin / 1024,
                driverVersion / 1000, (driverVersion % 1000) / 10);
  return buf;
}

Expected<CudaDevice> CudaDevice::open(int ordinal) {
  Expected<CudaDriver *> driver = CudaDriver::get();
  if (!driver)
    return driver.status();
  return open(**driver, ordinal);
}

Expected<CudaDevice> CudaDevice::open(CudaDriver &drv, int ordinal) {
  // A driver on a machine without a GPU fails cuInit with NO_DEVICE.
  CUresult init = drv.cuInit(0);
  if (init == CUDA_ERROR_NO_DEVICE)
    return Status::error("no CUDA device");
  if (Status s = drv.check(init, "cuInit"); !s)
    return s;
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  if (Status s = KVCC_CU_CHECK(drv, cuDriverGetVersion, &info.driverVersion); !s)
    return s;
  if (Status s = KVCC_CU_CHECK(drv, cuDeviceGetCount, &info.deviceCount); !s)
    return s;
  if (info.deviceCount <= 0)
    return Status::error("no CUDA device");
  if (ordinal < 0 || ordinal >= info.deviceCount)
    return Status::error("CUDA device " + std::to_string(ordinal) + " does not exist (" +
                         std::to_string(info.deviceCount) + (info.deviceCount == 1 ? " device)" : " devices)"));
  CUdevice dev = 0;
  if (Status s = KVCC_CU_CHECK(drv, cuDeviceGet, &dev, ordinal); !s)
    return s;
  char name[256] = {};
  if (Status s = KVCC_CU_CHECK(drv, cuDeviceGetName, name, static_cast<int>(sizeof(name) - 1), dev); !s)
    return s;
  info.name = name;
  struct {
    int *out;
    int attrib;
  } attrs[] = {{&info.smCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT},
               {&info.ccMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR},
               {&info.ccMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR},
               {&info.maxSharedPerBlockOptin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN}};
  for (auto &a : attrs)
    if (Status s = KVCC_CU_CHECK(drv, cuDeviceGetAttribute, a.out, a.attrib, dev); !s)
      return s;
  size_t total = 0;
  if (Status s = KVCC_CU_CHECK(drv, cuDeviceTotalMem, &total, dev); !s)
    return s;
  info.totalMemory = static_cast<int64_t>(total);

  CudaDevice d;
  d.driver_ = &drv;
  d.device_ = dev;
  d.info_ = std::move(info);
  if (Status s = KVCC_CU_CHECK(drv, cuDevicePrimaryCtxRetain, &d.context_, dev); !s)
    return s;
  if (Status s = d.makeCurrent(); !s)
    return s; // d's destructor releases the context
  return d;
}

Status CudaDevice::makeCurrent() const {
  if (!driver_ || !context_)
    return Status::error("makeCurrent on a closed CUDA device");
  return KVCC_CU_CHECK(*driver_, cuCtxSetCurrent, context_);
}

CudaDevice::CudaDevice(CudaDevice &&other) noexcept
    : driver_(other.driver_), device_(other.device_), context_(other.context_), info_(std::move(other.info_)) {
  other.context_ = nullptr;
}

CudaDevice &CudaDevice::operator=(CudaDevice &&other) noexcept {
  if (this != &other) {
    release();
    driver_ = other.driver_;
    device_ = other.device_;
    context_ = other.context_;
    info_ = std::move(other.info_);
    other.context_ = nullptr;
  }
  return *this;
}

CudaDevice::~CudaDevice() { release(); }

void CudaDevice::release() {
  if (driver_ && context_) {
    // Nothing to report to: at process exit the driver may already be torn
    // down (CUDA_ERROR_DEINITIALIZED), which is harmless.
    (void)driver_->cuDevicePrimaryCtxRelease(device_);
  }
  context_ = nullptr;
}
