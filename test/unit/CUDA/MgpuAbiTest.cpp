//===- MgpuAbiTest.cpp - The mgpu ABI against the mock driver -------------===//
//
// The mgpu* entry points (MgpuABI.h) against the mock driver: vadd round
// trips, launch geometry and parameters, module errors, sticky first failures,
// asynchronous kernel faults, memory edges, device selection, no driver or
// device, many threads, the block cache, steps and their CUDA graphs.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace cudatest;

namespace {

//===----------------------------------------------------------------------===//
// The mgpu ABI (mock)
//===----------------------------------------------------------------------===//

TEST_F(MockTest, MgpuVaddThroughTheJit) {
  runMgpuVadd(/*jit=*/true, 1000);
  EXPECT_EQ(hooks().lastJitOptLevel(), 3);
  ASSERT_EQ(hooks().launchCount(), 1);
  KvccMockLaunch l;
  ASSERT_EQ(hooks().getLaunch(0, &l), 0);
  EXPECT_STREQ(l.name, "vadd");
  EXPECT_EQ(l.grid[0], 8u);
  EXPECT_EQ(l.grid[1], 1u);
  EXPECT_EQ(l.grid[2], 1u);
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.block[1], 1u);
  EXPECT_EQ(l.sharedBytes, 0u);
  EXPECT_EQ(l.paramCount, 4);
  EXPECT_EQ(l.params[3], 1000u);
  EXPECT_NE(l.stream, nullptr);
  EXPECT_EQ(l.cluster[0], 0u);
  EXPECT_EQ(hooks().callCount("cuFuncSetAttribute"), 0);
  expectNoLeaks();
}

TEST_F(MockTest, MgpuVaddThroughModuleLoad) {
  runMgpuVadd(/*jit=*/false, 77);
  EXPECT_EQ(hooks().callCount("cuModuleLoadData"), 1);
  EXPECT_EQ(hooks().callCount("cuModuleLoadDataEx"), 0);
  expectNoLeaks();
}

TEST_F(MockTest, MgpuLaunchGeometryAndParameters) {
  ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
  static const char image[] = "KVCCMOCK\nattention 8 8 4 2\nempty\n";
  void *m = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  void *fn = mgpuModuleGetFunction(m, "attention");
  ASSERT_NE(fn, nullptr) << lastError();
  uint64_t p0 = 0x1234, p1 = 0x5678;
  uint32_t p2 = 99;
  uint16_t p3 = 7;
  void *params[] = {&p0, &p1, &p2, &p3};
  void *s = mgpuStreamCreate();
  mgpuLaunchKernel(fn, 30, 9, 2, 64, 2, 1, 1024, s, params, nullptr, 4);
  // Above 48 KiB: opted in once per function and size, then reused.
  mgpuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 100 * 1024, s, params, nullptr, 4);
  mgpuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 100 * 1024, s, params, nullptr, 4);
  mgpuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 64 * 1024, s, params, nullptr, 4);
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  EXPECT_EQ(hooks().callCount("cuFuncSetAttribute"), 2); // 1 KiB, then 100 KiB
  EXPECT_EQ(hooks().lastSmemAttribute(), 100 * 1024);
  ASSERT_EQ(hooks().launchCount(), 4);
  KvccMockLaunch l;
  ASSERT_EQ(hooks().getLaunch(0, &l), 0);
  EXPECT_EQ(l.grid[0], 30u);
  EXPECT_EQ(l.grid[1], 9u);
  EXPECT_EQ(l.grid[2], 2u);
  EXPECT_EQ(l.block[0], 64u);
  EXPECT_EQ(l.block[1], 2u);
  EXPECT_EQ(l.block[2], 1u);
  EXPECT_EQ(l.sharedBytes, 1024u);
  EXPECT_EQ(l.paramCount, 4);
  EXPECT_EQ(l.params[0], 0x1234u);
  EXPECT_EQ(l.params[1], 0x5678u);
  EXPECT_EQ(l.params[2], 99u);
  EXPECT_EQ(l.params[3], 7u);
  EXPECT_EQ(l.stream, s);
  ASSERT_EQ(hooks().getLaunch(1, &l), 0);
  EXPECT_EQ(l.sharedBytes, 100u * 1024);

  // A kernel without parameters.
  void *empty = mgpuModuleGetFunction(m, "empty");
  mgpuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  ASSERT_EQ(hooks().getLaunch(4, &l), 0);
  EXPECT_EQ(l.paramCount, 0);

  // Thread block clusters go through cuLaunchKernelEx.
  mgpuLaunchClusterKernel(fn, 2, 1, 1, 4, 1, 1, 128, 1, 1, 0, s, params, nullptr);
  ASSERT_EQ(hooks().getLaunch(5, &l), 0);
  EXPECT_EQ(l.cluster[0], 2u);
  EXPECT_EQ(l.cluster[1], 1u);
  EXPECT_EQ(l.grid[0], 4u);
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.params[2], 99u);
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();

  mgpuStreamDestroy(s);
  mgpuModuleUnload(m);
  expectNoLeaks();
}

TEST_F(MockTest, MgpuLaunchRefusesWhatTheDeviceCannotDo) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  static const char image[] = "KVCCMOCK\nk 8\n";
  void *fn = mgpuModuleGetFunction(mgpuModuleLoad(const_cast<char *>(image), sizeof(image)), "k");
  uint64_t p = 0;
  void *params[] = {&p};
  mgpuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 300 * 1024, nullptr, params, nullptr, 1);
  EXPECT_EQ(lastError(), "mgpuLaunchKernel: the kernel asks for 307200 bytes of dynamic shared memory; kvcc mock "
                         "GPU 0 allows 232448 per block");
  kvcc_cuda_clear_error();
  mgpuLaunchKernel(fn, -1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr, 1);
  EXPECT_EQ(lastError(), "mgpuLaunchKernel: grid (-1, 1, 1) / block (32, 1, 1) out of range");
  kvcc_cuda_clear_error();
  mgpuLaunchKernel(fn, 1, 1, 1, 2048, 1, 1, 0, nullptr, params, nullptr, 1);
  EXPECT_EQ(lastError(), "mgpuLaunchKernel: cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");
  kvcc_cuda_clear_error();
  mgpuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(lastError(), "mgpuLaunchKernel: null function (mgpuModuleGetFunction failed?)");
  EXPECT_EQ(hooks().launchCount(), 0);
}

TEST_F(MockTest, MgpuModuleErrors) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  EXPECT_EQ(mgpuModuleLoadJIT(const_cast<char *>(kBadPtx), 2), nullptr);
  EXPECT_EQ(lastError(), "mgpuModuleLoadJIT: cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (a PTX JIT "
                         "compilation failed): ptxas application ptx input, line 1; error   : mock PTX rejected");
  kvcc_cuda_clear_error();
  static const char junk[] = "\x7f" "ELF not really";
  EXPECT_EQ(mgpuModuleLoad(const_cast<char *>(junk), sizeof(junk)), nullptr);
  EXPECT_EQ(lastError(), "mgpuModuleLoad: cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is "
                         "invalid) (image of 16 bytes)");
  kvcc_cuda_clear_error();
  void *m = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 2);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(m, "nope"), nullptr);
  EXPECT_EQ(lastError(), "mgpuModuleGetFunction: cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (named symbol not "
                         "found) (kernel nope)");
  mgpuModuleUnload(m); // released even after a failure
  expectNoLeaks();
}

/// Every mgpu entry point: an injected failure of the driver call it makes is
/// recorded under both names, and the calls after it do nothing.
TEST_F(MockTest, MgpuEveryFailureIsRecordedAndLaterCallsAreNoOps) {
  struct Case {
    const char *mgpu, *call;
    void (*op)(void *module, void *stream, void *event, void *mem);
  };
  static const char image[] = "KVCCMOCK\nk 8\n";
  std::vector<Case> cases = {
      {"mgpuModuleLoad", "cuModuleLoadData",
       [](void *, void *, void *, void *) { mgpuModuleLoad(const_cast<char *>(image), sizeof(image)); }},
      {"mgpuModuleLoadJIT", "cuModuleLoadDataEx",
       [](void *, void *, void *, void *) { mgpuModuleLoadJIT(const_cast<char *>(kPtx), 2); }},
      {"mgpuModuleGetFunction", "cuModuleGetFunction", [](void *m, void *, void *, void *) { mgpuModuleGetFunction(m, "k"); }},
      {"mgpuLaunchKernel", "cuLaunchKernel",
       [](void *m, void *s, void *, void *mem) {
         void *fn = mgpuModuleGetFunction(m, "k");
         void *params[] = {&mem};
         mgpuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, params, nullptr, 1);
       }},
      {"mgpuLaunchKernel", "cuFuncSetAttribute",
       [](void *m, void *s, void *, void *mem) {
         void *fn = mgpuModuleGetFunction(m, "k");
         void *params[] = {&mem};
         mgpuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 50000, s, params, nullptr, 1);
       }},
      {"mgpuLaunchClusterKernel", "cuLaunchKernelEx",
       [](void *m, void *s, void *, void *mem) {
         void *fn = mgpuModuleGetFunction(m, "k");
         void *params[] = {&mem};
         mgpuLaunchClusterKernel(fn, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, s, params, nullptr);
       }},
      {"mgpuStreamCreate", "cuStreamCreate", [](void *, void *, void *, void *) { mgpuStreamCreate(); }},
      {"mgpuStreamSynchronize", "cuStreamSynchronize", [](void *, void *s, void *, void *) { mgpuStreamSynchronize(s); }},
      {"mgpuStreamWaitEvent", "cuStreamWaitEvent", [](void *, void *s, void *e, void *) { mgpuStreamWaitEvent(s, e); }},
      {"mgpuEventCreate", "cuEventCreate", [](void *, void *, void *, void *) { mgpuEventCreate(); }},
      {"mgpuEventSynchronize", "cuEventSynchronize", [](void *, void *, void *e, void *) { mgpuEventSynchronize(e); }},
      {"mgpuEventRecord", "cuEventRecord", [](void *, void *s, void *e, void *) { mgpuEventRecord(e, s); }},
      {"mgpuMemAlloc", "cuMemAlloc", [](void *, void *s, void *, void *) { mgpuMemAlloc(64, s, false); }},
      {"mgpuMemcpy", "cuMemcpyAsync",
       [](void *, void *s, void *, void *mem) {
         char host[16] = {};
         mgpuMemcpy(mem, host, sizeof(host), s);
       }},
      {"mgpuMemset32", "cuMemsetD32Async", [](void *, void *s, void *, void *mem) { mgpuMemset32(mem, 1, 4, s); }},
      {"mgpuMemset16", "cuMemsetD16Async", [](void *, void *s, void *, void *mem) { mgpuMemset16(mem, 1, 4, s); }},
      {"mgpuMemHostRegister", "cuMemHostRegister",
       [](void *, void *, void *, void *) {
         static char host[64];
         mgpuMemHostRegister(host, sizeof(host));
       }},
      {"mgpuMemHostUnregister", "cuMemHostUnregister",
       [](void *, void *, void *, void *) {
         static char host[64];
         mgpuMemHostUnregister(host);
       }},
      {"mgpuMemAlloc", "cuCtxSetCurrent", [](void *, void *s, void *, void *) { mgpuMemAlloc(64, s, false); }},
      // Release calls record their failure too (when they are the first).
      {"mgpuMemFree", "cuMemFree", [](void *, void *s, void *, void *mem) { mgpuMemFree(mem, s); }},
      {"mgpuStreamDestroy", "cuStreamDestroy", [](void *, void *s, void *, void *) { mgpuStreamDestroy(s); }},
      {"mgpuEventDestroy", "cuEventDestroy", [](void *, void *, void *e, void *) { mgpuEventDestroy(e); }},
      {"mgpuModuleUnload", "cuModuleUnload", [](void *m, void *, void *, void *) { mgpuModuleUnload(m); }},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.mgpu) + " / " + c.call);
    mgpuResetForTesting();
    ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
    void *m = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
    void *s = mgpuStreamCreate();
    void *e = mgpuEventCreate();
    void *mem = mgpuMemAlloc(64, s, false);
    ASSERT_TRUE(m && s && e && mem) << lastError();

    setEnv("KVCC_MOCK_CUDA_FAIL", c.call);
    c.op(m, s, e, mem);
    setEnv("KVCC_MOCK_CUDA_FAIL", "");
    std::string expect =
        std::string(c.mgpu) + ": " + c.call + " failed: CUDA_ERROR_INVALID_VALUE (invalid argument)";
    EXPECT_EQ(lastError().substr(0, expect.size()), expect);
    EXPECT_EQ(mgpuStatus().message(), lastError());

    // Work after the failure is not even attempted.
    hooks().reset();
    std::string first = lastError();
    EXPECT_EQ(mgpuMemAlloc(64, s, false), nullptr);
    EXPECT_EQ(mgpuStreamCreate(), nullptr);
    EXPECT_EQ(mgpuModuleLoad(const_cast<char *>(image), sizeof(image)), nullptr);
    void *params[] = {&mem};
    mgpuLaunchKernel(mgpuModuleGetFunction(m, "k"), 1, 1, 1, 1, 1, 1, 0, s, params, nullptr, 1);
    mgpuMemset32(mem, 0, 1, s);
    mgpuStreamSynchronize(s);
    EXPECT_EQ(hooks().callCount("cuMemAlloc"), 0);
    EXPECT_EQ(hooks().callCount("cuStreamCreate"), 0);
    EXPECT_EQ(hooks().callCount("cuModuleLoadData"), 0);
    EXPECT_EQ(hooks().callCount("cuLaunchKernel"), 0);
    EXPECT_EQ(hooks().callCount("cuMemsetD32Async"), 0);
    EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 0);
    EXPECT_EQ(hooks().launchCount(), 0);
    EXPECT_EQ(kvcc_cuda_init(0), -1);
    EXPECT_EQ(lastError(), first); // the first failure stands

    // Releases still release (the failed ones already did what they could).
    mgpuMemFree(mem, s);
    mgpuEventDestroy(e);
    mgpuStreamDestroy(s);
    mgpuModuleUnload(m);
    EXPECT_EQ(lastError(), first);

    // Clearing starts over.
    kvcc_cuda_clear_error();
    EXPECT_EQ(kvcc_cuda_last_error(), nullptr);
    EXPECT_TRUE(mgpuStatus().ok());
    void *again = mgpuMemAlloc(64, nullptr, false);
    EXPECT_NE(again, nullptr) << lastError();
    mgpuMemFree(again, nullptr);
  }
}

#ifdef KVCC_MGPU_VADD
TEST_F(MockTest, MgpuHostCodeAsMlirEmitsIt) {
  runEmittedHostCode(300);
  EXPECT_EQ(hooks().callCount("cuModuleLoadDataEx"), 1);
  EXPECT_EQ(hooks().callCount("cuModuleUnload"), 1);
  EXPECT_EQ(hooks().callCount("cuMemsetD32Async"), 1);
  ASSERT_EQ(hooks().launchCount(), 1);
  KvccMockLaunch l;
  ASSERT_EQ(hooks().getLaunch(0, &l), 0);
  EXPECT_STREQ(l.name, "vadd_memref");
  EXPECT_EQ(l.paramCount, 16); // three expanded memrefs and n
  EXPECT_EQ(l.grid[0], 3u);
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.params[15], 300u);
  expectNoLeaks();
}
#endif

TEST_F(MockTest, MgpuKernelFaultSurfacesAtSynchronize) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  void *s = mgpuStreamCreate();
  void *a = mgpuMemAlloc(16, s, false);
  void *m = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 2);
  void *fn = mgpuModuleGetFunction(m, "vadd");
  uint32_t n = 1000; // far past the 16-byte buffers
  void *params[] = {&a, &a, &a, &n};
  mgpuLaunchKernel(fn, 8, 1, 1, 128, 1, 1, 0, s, params, nullptr, 4);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr); // launches are asynchronous
  mgpuStreamSynchronize(s);
  EXPECT_EQ(lastError(), "mgpuStreamSynchronize: cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal "
                         "memory access was encountered)");
  hooks().reset(); // the mock's sticky error
  mgpuMemFree(a, s);
  mgpuModuleUnload(m);
  mgpuStreamDestroy(s);
  expectNoLeaks();
}

TEST_F(MockTest, MgpuMemoryEdges) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  EXPECT_EQ(mgpuMemAlloc(0, nullptr, false), nullptr); // empty memref
  mgpuMemFree(nullptr, nullptr);
  mgpuMemcpy(nullptr, nullptr, 0, nullptr);
  mgpuMemset32(nullptr, 0, 0, nullptr);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, true), nullptr);
  EXPECT_EQ(lastError(), "mgpuMemAlloc: gpu.alloc host_shared is not supported (kvcc allocates device memory only, "
                         "never managed memory)");
  kvcc_cuda_clear_error();
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuMemAlloc=CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(mgpuMemAlloc(1 << 20, nullptr, false), nullptr);
  EXPECT_EQ(lastError(), "mgpuMemAlloc: cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) (1048576 bytes)");
  setEnv("KVCC_MOCK_CUDA_FAIL", "");
  kvcc_cuda_clear_error();

  // Memset16 and a device-to-device copy through unified addressing.
  void *a = mgpuMemAlloc(64, nullptr, false), *b = mgpuMemAlloc(64, nullptr, false);
  mgpuMemset16(a, 0xABCD, 32, nullptr);
  mgpuMemcpy(b, a, 64, nullptr);
  uint16_t host[32] = {};
  mgpuMemcpy(host, b, 64, nullptr);
  mgpuStreamSynchronize(nullptr);
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  for (uint16_t h : host)
    EXPECT_EQ(h, 0xABCD);
  mgpuMemFree(a, nullptr);
  mgpuMemFree(b, nullptr);

  // Host registration of a dense memref, and the refusal of a strided one.
  float data[6] = {};
  struct {
    float *allocated, *aligned;
    int64_t offset, sizes[2], strides[2];
  } dense = {data, data, 0, {2, 3}, {3, 1}}, strided = {data, data, 0, {2, 2}, {3, 1}};
  mgpuMemHostRegisterMemRef(2, &dense, 4);
  mgpuMemHostUnregisterMemRef(2, &dense, 4);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  EXPECT_EQ(hooks().callCount("cuMemHostRegister"), 1);
  mgpuMemHostRegisterMemRef(2, &strided, 4);
  EXPECT_EQ(lastError(), "mgpuMemHostRegisterMemRef: memref is not dense (dimension 0 has stride 3, expected 2)");
  expectNoLeaks();
}

TEST_F(MockTest, MgpuDeviceSelection) {
  setEnv("KVCC_MOCK_CUDA_DEVICES", "2");
  mgpuSetDefaultDevice(1);
  void *s = mgpuStreamCreate(); // lazily opens device 1
  ASSERT_NE(s, nullptr) << lastError();
  Expected<CudaDevice *> dev = mgpuDevice(1);
  ASSERT_TRUE(dev.ok()) << dev.message();
  EXPECT_EQ((*dev)->info().ordinal, 1);
  // What model.so plans its decode splits from.
  EXPECT_EQ(kvcc_cuda_multiprocessor_count(), 132);
  EXPECT_EQ(kvcc_cuda_init(1), 0);
  mgpuSetDefaultDevice(1); // same device: fine
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr);
  EXPECT_EQ(kvcc_cuda_init(0), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_init(0): the CUDA runtime already runs on device 1");
  kvcc_cuda_clear_error();
  mgpuSetDefaultDevice(0);
  EXPECT_EQ(lastError(), "mgpuSetDefaultDevice(0): the CUDA runtime already runs on device 1");
  kvcc_cuda_clear_error();
  mgpuStreamDestroy(s);

  mgpuResetForTesting();
  EXPECT_EQ(kvcc_cuda_init(5), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_init: CUDA device 5 does not exist (2 devices)");
}

TEST_F(MockTest, MgpuWithoutDriverOrDevice) {
  setEnv("KVCC_LIBCUDA", "/nonexistent/libcuda.so.1");
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  EXPECT_EQ(lastError().rfind("mgpuStreamCreate: no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded: ", 0),
            0u)
      << lastError();
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr);
  EXPECT_EQ(kvcc_cuda_multiprocessor_count(), 1); // a plan of one split, and nothing runs
  mgpuMemFree(reinterpret_cast<void *>(0x1000), nullptr); // no device: nothing to release with
  EXPECT_EQ(kvcc_cuda_init(0), -1);

  mgpuResetForTesting();
  setEnv("KVCC_LIBCUDA", mockPath());
  setEnv("KVCC_MOCK_CUDA_DEVICES", "0");
  EXPECT_EQ(kvcc_cuda_init(0), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_init: no CUDA device");
  Expected<CudaDevice *> dev = mgpuDevice(0);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.message(), "kvcc_cuda_init: no CUDA device");
}

TEST_F(MockTest, MgpuFromManyThreads) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &ok] {
      void *s = mgpuStreamCreate();
      void *p = mgpuMemAlloc(256, s, false);
      std::vector<uint32_t> in(64, uint32_t(t + 1)), out(64, 0);
      mgpuMemcpy(p, in.data(), 256, s);
      mgpuMemcpy(out.data(), p, 256, s);
      mgpuStreamSynchronize(s);
      mgpuMemFree(p, s);
      mgpuStreamDestroy(s);
      ok[size_t(t)] = in == out;
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
  expectNoLeaks();
}

//===----------------------------------------------------------------------===//
// Caching (kvcc_cuda_set_caching)
//===----------------------------------------------------------------------===//

TEST_F(MockTest, CachingReusesStreamsAndBlocks) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  kvcc_cuda_set_caching(1);
  void *s1 = mgpuStreamCreate();
  mgpuStreamDestroy(s1);
  void *s2 = mgpuStreamCreate();
  EXPECT_EQ(s2, s1);
  EXPECT_EQ(hooks().callCount("cuStreamCreate"), 1);
  EXPECT_EQ(hooks().callCount("cuStreamDestroy"), 0);

  void *a = mgpuMemAlloc(100, s2, false);
  mgpuMemFree(a, s2);
  EXPECT_EQ(kvcc_cuda_cached_bytes(), 256u);
  void *b = mgpuMemAlloc(200, s2, false); // same size class
  EXPECT_EQ(b, a);
  void *c = mgpuMemAlloc(300, s2, false); // the next class: a new block
  EXPECT_NE(c, a);
  EXPECT_EQ(hooks().callCount("cuMemAlloc"), 2);
  EXPECT_EQ(hooks().callCount("cuMemFree"), 0);
  mgpuMemFree(b, s2);
  mgpuMemFree(c, s2);
  mgpuStreamDestroy(s2);
  EXPECT_EQ(kvcc_cuda_cached_bytes(), 256u + 512u);
  EXPECT_EQ(lastError(), "");

  // Trimming gives everything back to the driver.
  EXPECT_EQ(kvcc_cuda_trim(), 0);
  EXPECT_EQ(kvcc_cuda_cached_bytes(), 0u);
  EXPECT_EQ(hooks().callCount("cuMemFree"), 2);
  EXPECT_EQ(hooks().callCount("cuStreamDestroy"), 1);
  expectNoLeaks();
}

TEST_F(MockTest, CachingTrimsAndRetriesWhenOutOfMemory) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  kvcc_cuda_set_caching(1);
  mgpuMemFree(mgpuMemAlloc(1000, nullptr, false), nullptr);
  EXPECT_EQ(kvcc_cuda_cached_bytes(), 1024u);
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuMemAlloc=CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(mgpuMemAlloc(5000, nullptr, false), nullptr);
  setEnv("KVCC_MOCK_CUDA_FAIL", "");
  EXPECT_EQ(hooks().callCount("cuMemAlloc"), 3); // first block, then the failure and its retry
  EXPECT_EQ(kvcc_cuda_cached_bytes(), 0u);       // trimmed in between
  EXPECT_EQ(lastError(), "mgpuMemAlloc: cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) (8192 bytes)");
  expectNoLeaks();
}

//===----------------------------------------------------------------------===//
// Steps (kvcc_cuda_begin_step / kvcc_cuda_end_step)
//===----------------------------------------------------------------------===//

TEST_F(MockTest, StepQueuesEverythingOnOneStreamAndWaitsOnce) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  kvcc_cuda_set_caching(1); // as the executor runs
  void *step = kvcc_cuda_begin_step();
  ASSERT_NE(step, nullptr) << lastError();
  EXPECT_EQ(hooks().callCount("cuStreamWaitEvent"), 1); // after the legacy stream
  hooks().reset();
  // What gpu-to-llvm emits for two synchronous launches and a temporary.
  for (int i = 0; i < 2; ++i) {
    void *s = mgpuStreamCreate();
    EXPECT_EQ(s, step);
    void *tmp = mgpuMemAlloc(1000, s, false);
    ASSERT_NE(tmp, nullptr);
    mgpuStreamSynchronize(s);
    mgpuMemFree(tmp, s); // back to the cache, stream-ordered: no wait
    mgpuStreamDestroy(s);
  }
  EXPECT_EQ(hooks().callCount("cuStreamCreate"), 0);
  EXPECT_EQ(hooks().callCount("cuStreamDestroy"), 0);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 0);
  EXPECT_EQ(hooks().callCount("cuMemAlloc"), 1); // the second reuses the block
  EXPECT_EQ(kvcc_cuda_begin_step(), nullptr);    // one step at a time
  EXPECT_EQ(lastError(), "kvcc_cuda_begin_step: a step is already open");
  kvcc_cuda_clear_error();
  EXPECT_EQ(kvcc_cuda_end_step(), 0);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 1);

  // Outside a step, streams are the caller's again and are waited for.
  void *s = mgpuStreamCreate();
  EXPECT_NE(s, step);
  mgpuStreamSynchronize(s);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 2);
  mgpuStreamDestroy(s);
  EXPECT_EQ(kvcc_cuda_end_step(), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_end_step: no step is open");
  kvcc_cuda_clear_error();

  // The next step reuses the stream and the ordering event.
  hooks().reset();
  EXPECT_EQ(kvcc_cuda_begin_step(), step);
  EXPECT_EQ(kvcc_cuda_end_step(), 0);
  EXPECT_EQ(hooks().callCount("cuStreamCreate"), 0);
  EXPECT_EQ(hooks().callCount("cuEventCreate"), 0);
  EXPECT_EQ(hooks().callCount("cuEventRecord"), 1);
  EXPECT_EQ(hooks().callCount("cuStreamWaitEvent"), 1);
  mgpuResetForTesting();
  expectNoLeaks();
}

TEST_F(MockTest, StepFaultSurfacesAtEndStep) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  ASSERT_NE(kvcc_cuda_begin_step(), nullptr);
  hooks().injectAsyncError(CUDA_ERROR_ILLEGAL_ADDRESS);
  mgpuStreamSynchronize(mgpuStreamCreate()); // deferred: nothing seen yet
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(kvcc_cuda_end_step(), -1);
  EXPECT_EQ(lastError().rfind("kvcc_cuda_end_step: cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS", 0), 0u)
      << lastError();
  hooks().reset(); // the mock's sticky error
  mgpuResetForTesting();
  expectNoLeaks();
}

//===----------------------------------------------------------------------===//
// CUDA graphs of a step (kvcc_cuda_begin_capture / kvcc_cuda_end_capture)
//===----------------------------------------------------------------------===//

/// Launches the mock's emulated vadd (c = a + b over n floats) on `s`.
void vadd(void *fn, float *a, float *b, float *c, uint32_t n, void *s) {
  void *params[] = {&a, &b, &c, &n};
  mgpuLaunchKernel(fn, 1, 1, 1, n, 1, 1, 0, s, params, nullptr, 4);
}

TEST_F(MockTest, GraphsRecordAStepAndReplayItOnTheCurrentData) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  kvcc_cuda_set_caching(1); // as the executor runs
  static const char image[] = "KVCCMOCK\nvadd 8 8 8 4\n";
  void *module = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  void *fn = mgpuModuleGetFunction(module, "vadd");
  const uint32_t n = 64;
  void *step = kvcc_cuda_begin_step();
  ASSERT_NE(step, nullptr) << lastError();
  auto *a = static_cast<float *>(mgpuMemAlloc(n * 4, step, false));
  auto *b = static_cast<float *>(mgpuMemAlloc(n * 4, step, false));
  auto *c = static_cast<float *>(mgpuMemAlloc(n * 4, step, false));
  ASSERT_TRUE(a && b && c);
  for (uint32_t i = 0; i < n; ++i)
    b[i] = 1.0f; // the mock's device memory is host memory

  hooks().reset();
  ASSERT_EQ(kvcc_cuda_begin_capture(), 0) << lastError();
  // What gpu-to-llvm emits: a temporary, two synchronous launches.
  void *s = mgpuStreamCreate();
  EXPECT_EQ(s, step);
  auto *tmp = static_cast<float *>(mgpuMemAlloc(n * 4, s, false)); // relaxed mode: may reach the driver
  vadd(fn, a, b, tmp, n, s);
  vadd(fn, tmp, b, c, n, s);
  mgpuStreamSynchronize(s);
  mgpuMemFree(tmp, s);
  mgpuStreamDestroy(s);
  EXPECT_EQ(hooks().launchCount(), 0); // recorded, not run
  void *exec = nullptr;
  ASSERT_EQ(kvcc_cuda_end_capture(&exec), 0) << lastError();
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(kvcc_cuda_live_graphs(), 1);
  EXPECT_EQ(hooks().callCount("cuStreamBeginCapture"), 1);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 0);

  // The graph keeps its temporary's address: trimming leaves that block.
  EXPECT_EQ(kvcc_cuda_trim(), 0);
  EXPECT_EQ(hooks().callCount("cuMemFree"), 0);
  // Each replay computes on what the buffers hold at the time.
  for (int round = 0; round < 3; ++round) {
    for (uint32_t i = 0; i < n; ++i)
      a[i] = float(100 * round + int(i));
    ASSERT_EQ(kvcc_cuda_launch_graph(exec), 0) << lastError();
    for (uint32_t i = 0; i < n; ++i)
      ASSERT_EQ(c[i], a[i] + 2.0f) << "round " << round << ", element " << i;
  }
  EXPECT_EQ(hooks().launchCount(), 6);
  EXPECT_EQ(hooks().callCount("cuGraphLaunch"), 3);
  EXPECT_EQ(kvcc_cuda_end_step(), 0);

  // Without graphs the block goes back to the driver with the others.
  kvcc_cuda_destroy_graph(exec);
  EXPECT_EQ(kvcc_cuda_live_graphs(), 0);
  for (float *p : {a, b, c})
    mgpuMemFree(p, nullptr);
  mgpuModuleUnload(module);
  EXPECT_EQ(kvcc_cuda_trim(), 0);
  EXPECT_EQ(hooks().callCount("cuMemFree"), 4);
  EXPECT_EQ(lastError(), "");
  mgpuResetForTesting(); // the step's stream and event
  expectNoLeaks();
}

TEST_F(MockTest, GraphCaptureRefusesWhatItCannotRecord) {
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  void *exec = &exec;
  EXPECT_EQ(kvcc_cuda_begin_capture(), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_begin_capture: no step is open");
  kvcc_cuda_clear_error();
  EXPECT_EQ(kvcc_cuda_end_capture(&exec), -1);
  EXPECT_EQ(exec, nullptr);
  EXPECT_EQ(lastError(), "kvcc_cuda_end_capture: no capture is open");
  kvcc_cuda_clear_error();

  void *step = kvcc_cuda_begin_step();
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(kvcc_cuda_begin_capture(), -1); // every temporary would be a leak
  EXPECT_EQ(lastError(), "kvcc_cuda_begin_capture: capturing a step needs the block cache "
                         "(kvcc_cuda_set_caching(1))");
  kvcc_cuda_clear_error();
  EXPECT_EQ(kvcc_cuda_launch_graph(nullptr), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_launch_graph: null graph");
  kvcc_cuda_clear_error();

  // A copy from host memory cannot be replayed: the capture fails, says
  // why, and the stream runs work again afterwards.
  kvcc_cuda_set_caching(1);
  auto *dst = static_cast<float *>(mgpuMemAlloc(64, step, false));
  float host[16] = {};
  ASSERT_EQ(kvcc_cuda_begin_capture(), 0);
  EXPECT_EQ(kvcc_cuda_begin_capture(), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_begin_capture: a capture is already open");
  kvcc_cuda_clear_error();
  mgpuMemcpy(dst, host, sizeof(host), step);
  EXPECT_EQ(kvcc_cuda_end_capture(&exec), -1);
  EXPECT_EQ(exec, nullptr);
  EXPECT_EQ(lastError().rfind("mgpuMemcpy: cuMemcpyAsync failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", 0), 0u)
      << lastError();
  EXPECT_EQ(kvcc_cuda_live_graphs(), 0);
  kvcc_cuda_clear_error();
  host[3] = 7.0f;
  mgpuMemcpy(dst, host, sizeof(host), step); // runs now
  EXPECT_EQ(dst[3], 7.0f);
  EXPECT_EQ(kvcc_cuda_end_step(), 0);

  // A step closed while recording abandons the capture (an error), and the
  // next step's stream runs work again.
  ASSERT_EQ(kvcc_cuda_begin_step(), step);
  ASSERT_EQ(kvcc_cuda_begin_capture(), 0);
  EXPECT_EQ(kvcc_cuda_end_step(), -1);
  EXPECT_EQ(lastError(), "kvcc_cuda_end_step: a capture was still open (abandoned)");
  kvcc_cuda_clear_error();
  ASSERT_EQ(kvcc_cuda_begin_step(), step);
  host[3] = 9.0f;
  mgpuMemcpy(dst, host, sizeof(host), step);
  EXPECT_EQ(dst[3], 9.0f);
  EXPECT_EQ(kvcc_cuda_end_step(), 0);
  mgpuMemFree(dst, nullptr);
  EXPECT_EQ(lastError(), "");
  mgpuResetForTesting();
  expectNoLeaks();
}

} // namespace
