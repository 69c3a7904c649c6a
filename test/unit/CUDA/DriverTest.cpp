//===- DriverTest.cpp - Loading the driver, opening devices ---------------===//
//
// CudaDriver over a missing library, a library without the API and the
// KVCC_LIBCUDA variable; then CudaDevice against the mock driver: what it
// reports, the primary context, and every failure of open named by its call.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace cudatest;

namespace {

//===----------------------------------------------------------------------===//
// Loading the driver
//===----------------------------------------------------------------------===//

TEST(CudaDriverLoad, MissingLibraryIsNoCudaDriver) {
  Expected<CudaDriver *> d = CudaDriver::get("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.message().rfind("no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded: ", 0), 0u)
      << d.message();
  EXPECT_TRUE(contains(d.message(), "No such file")) << d.message();

  // The default name, on a machine without a driver: the exact message.
  Expected<CudaDriver *> real = CudaDriver::get("libcuda.so.1");
  if (!real.ok()) {
    EXPECT_EQ(real.message(), "no CUDA driver (libcuda.so.1 could not be loaded: libcuda.so.1: cannot open shared "
                              "object file: No such file or directory)");
  }
}

TEST(CudaDriverLoad, LibraryWithoutTheApiIsRefused) {
  Expected<CudaDriver *> d = CudaDriver::get("libm.so.6");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.message(), "no CUDA driver (libm.so.6 lacks cuInit; the driver is older than CUDA 12)");
}

TEST(CudaDriverLoad, EnvironmentPicksTheLibrary) {
  setEnv("KVCC_LIBCUDA", "/nonexistent/libcuda.so.1");
  EXPECT_EQ(CudaDriver::defaultPath(), "/nonexistent/libcuda.so.1");
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.message().rfind("no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded: ", 0), 0u);
  setEnv("KVCC_LIBCUDA", "");
  EXPECT_EQ(CudaDriver::defaultPath(), "libcuda.so.1");
  setEnv("KVCC_LIBCUDA", gStartLibcuda);
}

//===----------------------------------------------------------------------===//
// Devices (mock)
//===----------------------------------------------------------------------===//

TEST_F(MockTest, OpenReportsTheDevice) {
  Expected<CudaDevice> dev = CudaDevice::open(0); // through KVCC_LIBCUDA
  ASSERT_TRUE(dev.ok()) << dev.message();
  EXPECT_EQ(&dev->driver(), &driver()); // one driver per path
  const CudaDeviceInfo &info = dev->info();
  EXPECT_EQ(info.name, "kvcc mock GPU 0");
  EXPECT_EQ(info.smCount, 132);
  EXPECT_EQ(info.ccMajor, 9);
  EXPECT_EQ(info.ccMinor, 0);
  EXPECT_EQ(info.maxSharedPerBlockOptin, 227 * 1024);
  EXPECT_EQ(info.totalMemory, int64_t(80) << 30);
  EXPECT_EQ(info.driverVersion, 13000);
  EXPECT_EQ(info.deviceCount, 1);
  EXPECT_EQ(info.describe(), "kvcc mock GPU 0 (device 0 of 1): sm_90, 132 SMs, 80.0 GiB, 227 KiB shared/block, "
                             "driver 13.0");
  EXPECT_NE(dev->context(), nullptr);
  EXPECT_TRUE(dev->makeCurrent().ok());

  // Moving keeps one retain; the moved-from object releases nothing.
  CudaDevice moved = dev.take();
  EXPECT_NE(moved.context(), nullptr);
  EXPECT_EQ(hooks().callCount("cuDevicePrimaryCtxRetain"), 1);
}

TEST_F(MockTest, ReleasesThePrimaryContext) {
  {
    Expected<CudaDevice> dev = CudaDevice::open(driver(), 0);
    ASSERT_TRUE(dev.ok()) << dev.message();
    CudaDevice a = dev.take();
    CudaDevice b = std::move(a);
  }
  EXPECT_EQ(hooks().callCount("cuDevicePrimaryCtxRetain"), 1);
  EXPECT_EQ(hooks().callCount("cuDevicePrimaryCtxRelease"), 1);
}

TEST_F(MockTest, NoDevice) {
  setEnv("KVCC_MOCK_CUDA_DEVICES", "0");
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.message(), "no CUDA device");

  // What a driver on a machine without GPUs does: cuInit fails.
  setEnv("KVCC_MOCK_CUDA_DEVICES", "");
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuInit=CUDA_ERROR_NO_DEVICE");
  dev = CudaDevice::open(0);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.message(), "no CUDA device");
}

TEST_F(MockTest, OrdinalOutOfRange) {
  setEnv("KVCC_MOCK_CUDA_DEVICES", "2");
  Expected<CudaDevice> dev = CudaDevice::open(3);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.message(), "CUDA device 3 does not exist (2 devices)");
  dev = CudaDevice::open(1);
  ASSERT_TRUE(dev.ok()) << dev.message();
  EXPECT_EQ(dev->info().name, "kvcc mock GPU 1");
  EXPECT_EQ(CudaDevice::open(-1).message(), "CUDA device -1 does not exist (2 devices)");
}

TEST_F(MockTest, EveryFailureOfOpenNamesTheCall) {
  const char *calls[] = {"cuInit",          "cuDriverGetVersion",    "cuDeviceGetCount",
                         "cuDeviceGet",     "cuDeviceGetName",       "cuDeviceGetAttribute",
                         "cuDeviceTotalMem", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent"};
  for (const char *call : calls) {
    setEnv("KVCC_MOCK_CUDA_FAIL", call);
    Expected<CudaDevice> dev = CudaDevice::open(0);
    ASSERT_FALSE(dev.ok()) << call;
    EXPECT_EQ(dev.message(), std::string(call) + " failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");
  }
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuDevicePrimaryCtxRetain=CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(CudaDevice::open(0).message(), "cuDevicePrimaryCtxRetain failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
  // A failure after the retain releases it again.
  hooks().reset();
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuCtxSetCurrent");
  EXPECT_FALSE(CudaDevice::open(0).ok());
  EXPECT_EQ(hooks().callCount("cuDevicePrimaryCtxRetain"), hooks().callCount("cuDevicePrimaryCtxRelease"));
}

TEST_F(MockTest, DescribesErrorCodes) {
  CudaDriver &d = driver();
  EXPECT_TRUE(d.check(CUDA_SUCCESS, "cuInit").ok());
  EXPECT_EQ(d.check(CUDA_ERROR_INVALID_PTX, "cuModuleLoadData").message(),
            "cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)");
  EXPECT_EQ(d.describe(12345), "CUDA error 12345");
  EXPECT_EQ(KVCC_CU_CHECK(d, cuDeviceGetCount, nullptr).message(),
            "cuDeviceGetCount failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");
}

} // namespace
