//===- CudaTestSupport.h - Fixtures of the CUDA runtime tests ---*- C++ -*-===//
//
// Two families:
//  - Mock*, Mgpu*, KvccRun*: against libmock_cuda.so (MockCuda.h), on any
//    machine. They set KVCC_LIBCUDA to the mock themselves.
//  - Gpu*: against the driver the process was started with ($KVCC_LIBCUDA,
//    else libcuda.so.1): real allocations, copies, memsets and a hand-written
//    PTX module the driver JITs. Without a driver or a device they skip with
//    "no CUDA device: skipped (...)". bench/gpu/cuda_runtime_smoke.sh runs
//    them on a GPU machine.
//
// Shared by DriverTest.cpp, DeviceBufferTest.cpp, MgpuAbiTest.cpp,
// KvccRunCudaTest.cpp and GpuTest.cpp: the paths of the mock and the driver,
// the mock's hooks and the MockTest fixture, the PTX module and the vadd round
// trips. CudaTestSupport.cpp defines what is declared here.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H
#define KVCC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H

#include "MockCuda.h"

#include "kvcc/Runtime/CUDA/CudaDriver.h"
#include "kvcc/Runtime/CUDA/DeviceBuffer.h"
#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

namespace cudatest {

using namespace kvcc;
using namespace kvcc::cuda;

//===----------------------------------------------------------------------===//
// Fixtures and helpers
//===----------------------------------------------------------------------===//

/// The driver the process was started with, before any test changed the
/// environment (static initialisation runs before main).
extern const std::string gStartLibcuda;

std::string exeDir();

bool exists(const std::string &p);

/// Next to the binary first (a build directory copied elsewhere), else where
/// CMake built it.
std::string mockPath();

bool contains(const std::string &s, const std::string &part);

void setEnv(const char *name, const std::string &value);

/// The mock's test hooks (same library instance as the driver's dlopen).
struct MockHooks {
  int (*launchCount)();
  int (*getLaunch)(int, KvccMockLaunch *);
  int64_t (*liveAllocations)();
  int (*liveObjects)();
  int (*callCount)(const char *);
  int (*lastJitOptLevel)();
  int (*lastSmemAttribute)();
  void (*reset)();
  void (*injectAsyncError)(int);

  static MockHooks &get() {
    static MockHooks h = [] {
      MockHooks m = {};
      void *lib = dlopen(mockPath().c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!lib) {
        std::fprintf(stderr, "cannot load the mock driver %s: %s\n", mockPath().c_str(), dlerror());
        std::abort();
      }
      auto sym = [&](auto &slot, const char *name) {
        void *p = dlsym(lib, name);
        if (!p) {
          std::fprintf(stderr, "mock driver lacks %s\n", name);
          std::abort();
        }
        std::memcpy(&slot, &p, sizeof(p));
      };
      sym(m.launchCount, "kvcc_mock_cuda_launch_count");
      sym(m.getLaunch, "kvcc_mock_cuda_get_launch");
      sym(m.liveAllocations, "kvcc_mock_cuda_live_allocations");
      sym(m.liveObjects, "kvcc_mock_cuda_live_objects");
      sym(m.callCount, "kvcc_mock_cuda_call_count");
      sym(m.lastJitOptLevel, "kvcc_mock_cuda_last_jit_opt_level");
      sym(m.lastSmemAttribute, "kvcc_mock_cuda_last_smem_attribute");
      sym(m.reset, "kvcc_mock_cuda_reset");
      sym(m.injectAsyncError, "kvcc_mock_cuda_inject_async_error");
      return m;
    }();
    return h;
  }
};

/// Every mock test starts from the mock driver with one device, no injected
/// failure, no recorded launches and a fresh mgpu runtime.
class MockTest : public ::testing::Test {
protected:
  void SetUp() override {
    setEnv("KVCC_LIBCUDA", mockPath());
    setEnv("KVCC_MOCK_CUDA_FAIL", "");
    setEnv("KVCC_MOCK_CUDA_DEVICES", "");
    mgpuResetForTesting();
    hooks().reset();
    allocationsBefore_ = hooks().liveAllocations();
    objectsBefore_ = hooks().liveObjects();
  }
  void TearDown() override {
    mgpuResetForTesting();
    setEnv("KVCC_MOCK_CUDA_FAIL", "");
    setEnv("KVCC_MOCK_CUDA_DEVICES", "");
    setEnv("KVCC_LIBCUDA", gStartLibcuda);
  }
  static MockHooks &hooks() { return MockHooks::get(); }
  static CudaDriver &driver() {
    Expected<CudaDriver *> d = CudaDriver::get(mockPath());
    if (!d) {
      std::fprintf(stderr, "%s\n", d.message().c_str());
      std::abort();
    }
    return **d;
  }
  void expectNoLeaks() const {
    EXPECT_EQ(hooks().liveAllocations(), allocationsBefore_);
    EXPECT_EQ(hooks().liveObjects(), objectsBefore_);
  }
  int64_t allocationsBefore_ = 0;
  int objectsBefore_ = 0;
};

std::string lastError();

/// Hand-written PTX (sm_80, ISA 7.0; the driver JITs it for newer GPUs, the
/// mock parses its entries). vadd: c[i] = a[i] + b[i], i < n. smem_probe:
/// thread t writes t+1 to word (bytes/4 - 1 - t) of dynamic shared memory and
/// copies it back to out[t], so a launch with a large `bytes` touches the top
/// of the opted-in window.
extern const char kPtx[];

/// PTX the JIT rejects (valid header, nonsense body).
extern const char kBadPtx[];

std::vector<float> pattern(size_t n, float scale);

/// The whole life of a vadd through the mgpu ABI, as gpu-to-llvm host code
/// does it: stream, allocations, copies, module, launch, sync, teardown.
/// `jit`: mgpuModuleLoadJIT (format=isa), else mgpuModuleLoad (format=bin;
/// the driver accepts PTX text there too).
void runMgpuVadd(bool jit, uint32_t n);

#ifdef KVCC_MGPU_VADD
/// Loads the library built from MgpuHostVadd.s (host code as MLIR emits it:
/// its constructor calls mgpuModuleLoadJIT), runs c = a + b through
/// _mlir_ciface_kvcc_test_vadd and unloads it (its destructor calls
/// mgpuModuleUnload).
void runEmittedHostCode(int64_t n);
#endif

} // namespace cudatest

#endif // KVCC_TEST_UNIT_CUDA_CUDATESTSUPPORT_H
