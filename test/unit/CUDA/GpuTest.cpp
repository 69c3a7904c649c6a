//===- GpuTest.cpp - The CUDA runtime on the real driver ------------------===//
//
// Gpu*: against the driver the process was started with ($KVCC_LIBCUDA,
// else libcuda.so.1): real allocations, copies, memsets and a hand-written
// PTX module the driver JITs. Without a driver or a device they skip with
// "no CUDA device: skipped (...)"; KVCC_REQUIRE_GPU=1 makes that a failure.
// bench/gpu/cuda_runtime_smoke.sh runs them on a GPU machine.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace cudatest;

namespace {

//===----------------------------------------------------------------------===//
// The real driver (skip without one)
//===----------------------------------------------------------------------===//

class GpuTest : public ::testing::Test {
protected:
  void SetUp() override {
    setEnv("KVCC_LIBCUDA", gStartLibcuda);
    mgpuResetForTesting();
    // KVCC_REQUIRE_GPU=1 (the GPU smoke script): a missing device fails.
    const bool required = std::getenv("KVCC_REQUIRE_GPU") && std::string(std::getenv("KVCC_REQUIRE_GPU")) == "1";
    Expected<CudaDriver *> drv = CudaDriver::get();
    if (!drv && required)
      FAIL() << "KVCC_REQUIRE_GPU=1 but " << drv.message();
    if (!drv)
      GTEST_SKIP() << "no CUDA device: skipped (" << drv.message() << ")";
    Expected<CudaDevice> dev = CudaDevice::open(**drv, 0);
    if (!dev && required)
      FAIL() << "KVCC_REQUIRE_GPU=1 but " << dev.message();
    if (!dev && (dev.message() == "no CUDA device" || dev.message().rfind("cuInit failed", 0) == 0))
      GTEST_SKIP() << "no CUDA device: skipped (" << dev.message() << ")";
    ASSERT_TRUE(dev.ok()) << dev.message();
    device_ = std::make_unique<CudaDevice>(dev.take());
  }
  void TearDown() override { mgpuResetForTesting(); }
  CudaDriver &driver() { return device_->driver(); }
  std::unique_ptr<CudaDevice> device_;
};

TEST_F(GpuTest, DeviceInfo) {
  const CudaDeviceInfo &info = device_->info();
  std::printf("[ device   ] %s (%s)\n", info.describe().c_str(), driver().path().c_str());
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.ccMajor, 7);
  EXPECT_GT(info.smCount, 0);
  EXPECT_GT(info.totalMemory, int64_t(1) << 30);
  EXPECT_GE(info.maxSharedPerBlockOptin, 48 * 1024);
  EXPECT_GE(info.driverVersion, 12000);
  size_t free = 0, total = 0;
  ASSERT_TRUE(KVCC_CU_CHECK(driver(), cuMemGetInfo, &free, &total).ok());
  EXPECT_EQ(int64_t(total), info.totalMemory);
  EXPECT_LE(free, total);
}

TEST_F(GpuTest, BufferCopiesAndFills) {
  const size_t n = (size_t(4) << 20) + 6; // 4 MiB and a 2-byte tail
  Expected<DeviceBuffer> a = DeviceBuffer::allocate(*device_, n), b = DeviceBuffer::allocate(*device_, n);
  ASSERT_TRUE(a.ok() && b.ok()) << a.message() << b.message();
  std::vector<unsigned char> in(n), out(n, 0x55);
  for (size_t i = 0; i < n; ++i)
    in[i] = static_cast<unsigned char>((i * 2654435761u) >> 24);
  CUstream s = nullptr;
  ASSERT_TRUE(KVCC_CU_CHECK(driver(), cuStreamCreate, &s, CU_STREAM_NON_BLOCKING).ok());
  ASSERT_TRUE(a->upload(in.data(), n, 0, s).ok());
  ASSERT_TRUE(b->fill32Async(0xDEADBEEFu, n / 4, 0, s).ok());
  ASSERT_TRUE(b->copyFromDeviceAsync(*a, 4096, 1024, 8192, s).ok());
  ASSERT_TRUE(b->download(out.data(), n, 0, s).ok());
  for (size_t i = 0; i < n / 4 * 4; i += 4) {
    if (i >= 1024 && i < 1024 + 4096) {
      ASSERT_EQ(std::memcmp(out.data() + i, in.data() + 8192 + (i - 1024), 4), 0) << "byte " << i;
    } else {
      uint32_t w;
      std::memcpy(&w, out.data() + i, 4);
      ASSERT_EQ(w, 0xDEADBEEFu) << "byte " << i;
    }
  }
  ASSERT_TRUE(a->fill16Async(0xBEEF, 3, n - 6, s).ok());
  ASSERT_TRUE(a->download(out.data(), n, 0, s).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end() - 6, in.begin()));
  for (size_t i = n - 6; i < n; i += 2) {
    uint16_t h;
    std::memcpy(&h, out.data() + i, 2);
    EXPECT_EQ(h, 0xBEEF);
  }
  ASSERT_TRUE(a->zero(s).ok());
  ASSERT_TRUE(a->download(out.data(), n, 0, s).ok());
  EXPECT_EQ(out, std::vector<unsigned char>(n, 0));
  EXPECT_TRUE(KVCC_CU_CHECK(driver(), cuStreamDestroy, s).ok());
  EXPECT_TRUE(a->free().ok());
  EXPECT_TRUE(b->free().ok());
}

TEST_F(GpuTest, PtxModuleThroughTheDriver) {
  CudaDriver &d = driver();
  CUmodule m = nullptr;
  char log[4096] = {};
  CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log)))};
  Status s = KVCC_CU_CHECK(d, cuModuleLoadDataEx, &m, kPtx, 2, opts, vals);
  ASSERT_TRUE(s.ok()) << s.message() << ": " << log;
  CUfunction fn = nullptr;
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuModuleGetFunction, &fn, m, "vadd").ok());
  const uint32_t n = 100003;
  Expected<DeviceBuffer> a = DeviceBuffer::allocate(*device_, n * 4), b = DeviceBuffer::allocate(*device_, n * 4),
                         c = DeviceBuffer::allocate(*device_, n * 4);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  std::vector<float> ha = pattern(n, 0.5f), hb = pattern(n, 2.0f), hc(n);
  ASSERT_TRUE(a->upload(ha.data(), n * 4).ok());
  ASSERT_TRUE(b->upload(hb.data(), n * 4).ok());
  ASSERT_TRUE(c->fill32Async(0x7fc00000u, n).ok()); // NaN poison
  CUdeviceptr pa = a->address(), pb = b->address(), pc = c->address();
  uint32_t count = n;
  void *params[] = {&pa, &pb, &pc, &count};
  CUevent start = nullptr, stop = nullptr;
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventCreate, &start, CU_EVENT_DEFAULT).ok());
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventCreate, &stop, CU_EVENT_DEFAULT).ok());
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventRecord, start, nullptr).ok());
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuLaunchKernel, fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr).ok());
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventRecord, stop, nullptr).ok());
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventSynchronize, stop).ok());
  float ms = -1;
  ASSERT_TRUE(KVCC_CU_CHECK(d, cuEventElapsedTime, &ms, start, stop).ok());
  EXPECT_GE(ms, 0.0f);
  ASSERT_TRUE(c->download(hc.data(), n * 4).ok());
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(hc[i], ha[i] + hb[i]) << "element " << i;
  EXPECT_TRUE(KVCC_CU_CHECK(d, cuEventDestroy, start).ok());
  EXPECT_TRUE(KVCC_CU_CHECK(d, cuEventDestroy, stop).ok());
  EXPECT_TRUE(KVCC_CU_CHECK(d, cuModuleUnload, m).ok());
}

TEST_F(GpuTest, MgpuVaddThroughTheJit) { runMgpuVadd(/*jit=*/true, 100003); }

TEST_F(GpuTest, MgpuVaddThroughModuleLoad) { runMgpuVadd(/*jit=*/false, 4097); }

#ifdef KVCC_MGPU_VADD
TEST_F(GpuTest, MgpuHostCodeAsMlirEmitsIt) { runEmittedHostCode(100003); }
#endif

TEST_F(GpuTest, MgpuLargeDynamicSharedMemory) {
  // Above the 48 KiB default: mgpuLaunchKernel must opt the function in.
  ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
  int smem = std::min(device_->info().maxSharedPerBlockOptin, 160 * 1024);
  void *m = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  void *fn = mgpuModuleGetFunction(m, "smem_probe");
  const int threads = 256;
  void *out = mgpuMemAlloc(threads * 4, nullptr, false);
  ASSERT_NE(out, nullptr) << lastError();
  uint32_t bytes = uint32_t(smem);
  void *params[] = {&out, &bytes};
  mgpuLaunchKernel(fn, 1, 1, 1, threads, 1, 1, smem, nullptr, params, nullptr, 2);
  std::vector<uint32_t> host(threads, 0);
  mgpuMemcpy(host.data(), out, threads * 4, nullptr);
  mgpuStreamSynchronize(nullptr);
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  for (int t = 0; t < threads; ++t)
    ASSERT_EQ(host[size_t(t)], uint32_t(t + 1)) << "thread " << t;
  mgpuMemFree(out, nullptr);
  mgpuModuleUnload(m);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
}

TEST_F(GpuTest, MgpuBadPtxIsRecorded) {
  ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
  EXPECT_EQ(mgpuModuleLoadJIT(const_cast<char *>(kBadPtx), 2), nullptr);
  std::string e = lastError();
  EXPECT_EQ(e.rfind("mgpuModuleLoadJIT: cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX", 0), 0u) << e;
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr); // a no-op now
  kvcc_cuda_clear_error();
  void *p = mgpuMemAlloc(64, nullptr, false);
  EXPECT_NE(p, nullptr) << lastError();
  mgpuMemFree(p, nullptr);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
}

} // namespace
