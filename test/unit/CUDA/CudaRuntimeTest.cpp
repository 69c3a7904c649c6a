//===- CudaRuntimeTest.cpp - CudaDriver, DeviceBuffer, the mgpu ABI -------===//
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
//===----------------------------------------------------------------------===//
#include "MockCuda.h"

#include "kvcc/Runtime/CUDA/CudaDriver.h"
#include "kvcc/Runtime/CUDA/DeviceBuffer.h"
#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;

namespace {

//===----------------------------------------------------------------------===//
// Fixtures and helpers
//===----------------------------------------------------------------------===//

/// The driver the process was started with, before any test changed the
/// environment (static initialisation runs before main).
const std::string gStartLibcuda = [] {
  const char *v = std::getenv("KVCC_LIBCUDA");
  return std::string(v ? v : "");
}();

std::string exeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  buf[n] = 0;
  std::string p(buf);
  return p.substr(0, p.rfind('/'));
}

bool exists(const std::string &p) { return access(p.c_str(), F_OK) == 0; }

/// Next to the binary first (a build directory copied elsewhere), else where
/// CMake built it.
std::string mockPath() {
  std::string local = exeDir() + "/../lib/" + KVCC_MOCK_CUDA_NAME;
  return exists(local) ? local : std::string(KVCC_MOCK_CUDA);
}

std::string kvccRunPath() {
  std::string local = exeDir() + "/" + KVCC_RUN_NAME;
  return exists(local) ? local : std::string(KVCC_RUN);
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

void setEnv(const char *name, const std::string &value) {
  if (value.empty())
    unsetenv(name);
  else
    setenv(name, value.c_str(), 1);
}

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

std::string lastError() {
  const char *e = kvcc_cuda_last_error();
  return e ? e : "";
}

/// Hand-written PTX (sm_80, ISA 7.0; the driver JITs it for newer GPUs, the
/// mock parses its entries). vadd: c[i] = a[i] + b[i], i < n. smem_probe:
/// thread t writes t+1 to word (bytes/4 - 1 - t) of dynamic shared memory and
/// copies it back to out[t], so a launch with a large `bytes` touches the top
/// of the opted-in window.
const char kPtx[] = R"(.version 7.0
.target sm_80
.address_size 64

.extern .shared .align 16 .b8 dyn_smem[];

.visible .entry vadd(
	.param .u64 vadd_param_0,
	.param .u64 vadd_param_1,
	.param .u64 vadd_param_2,
	.param .u32 vadd_param_3
)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .f32 %f<4>;
	.reg .b64 %rd<11>;

	ld.param.u64 %rd1, [vadd_param_0];
	ld.param.u64 %rd2, [vadd_param_1];
	ld.param.u64 %rd3, [vadd_param_2];
	ld.param.u32 %r2, [vadd_param_3];
	mov.u32 %r3, %ctaid.x;
	mov.u32 %r4, %ntid.x;
	mov.u32 %r5, %tid.x;
	mad.lo.s32 %r1, %r3, %r4, %r5;
	setp.ge.u32 %p1, %r1, %r2;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd4, %rd1;
	cvta.to.global.u64 %rd5, %rd2;
	cvta.to.global.u64 %rd6, %rd3;
	mul.wide.u32 %rd7, %r1, 4;
	add.s64 %rd8, %rd4, %rd7;
	add.s64 %rd9, %rd5, %rd7;
	add.s64 %rd10, %rd6, %rd7;
	ld.global.f32 %f1, [%rd8];
	ld.global.f32 %f2, [%rd9];
	add.f32 %f3, %f1, %f2;
	st.global.f32 [%rd10], %f3;
DONE:
	ret;
}

.visible .entry smem_probe(
	.param .u64 smem_probe_param_0,
	.param .u32 smem_probe_param_1
)
{
	.reg .b32 %r<8>;
	.reg .b64 %rd<4>;

	ld.param.u64 %rd1, [smem_probe_param_0];
	ld.param.u32 %r1, [smem_probe_param_1];
	mov.u32 %r2, %tid.x;
	mov.u32 %r3, dyn_smem;
	shr.u32 %r4, %r1, 2;
	sub.u32 %r4, %r4, 1;
	sub.u32 %r4, %r4, %r2;
	shl.b32 %r5, %r4, 2;
	add.u32 %r5, %r3, %r5;
	add.u32 %r6, %r2, 1;
	st.shared.u32 [%r5], %r6;
	bar.sync 0;
	ld.shared.u32 %r7, [%r5];
	cvta.to.global.u64 %rd2, %rd1;
	mul.wide.u32 %rd3, %r2, 4;
	add.s64 %rd2, %rd2, %rd3;
	st.global.u32 [%rd2], %r7;
	ret;
}
)";

/// PTX the JIT rejects (valid header, nonsense body).
const char kBadPtx[] = ".version 7.0\n.target sm_80\n.address_size 64\n"
                       ".visible .entry broken()\n{\n\tthis is not ptx; // KVCC_MOCK_BAD_PTX\n}\n";

std::vector<float> pattern(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>((i * 7919) % 1000) - 3.5f;
  return v;
}

/// The whole life of a vadd through the mgpu ABI, as gpu-to-llvm host code
/// does it: stream, allocations, copies, module, launch, sync, teardown.
/// `jit`: mgpuModuleLoadJIT (format=isa), else mgpuModuleLoad (format=bin;
/// the driver accepts PTX text there too).
void runMgpuVadd(bool jit, uint32_t n) {
  ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
  void *stream = mgpuStreamCreate();
  ASSERT_NE(stream, nullptr) << lastError();
  size_t bytes = n * sizeof(float);
  void *a = mgpuMemAlloc(bytes, stream, false), *b = mgpuMemAlloc(bytes, stream, false),
       *c = mgpuMemAlloc(bytes, stream, false);
  ASSERT_TRUE(a && b && c) << lastError();
  std::vector<float> ha = pattern(n, 0.25f), hb = pattern(n, -1.5f), hc(n, -7.0f);
  mgpuMemcpy(a, ha.data(), bytes, stream);
  mgpuMemcpy(b, hb.data(), bytes, stream);
  mgpuMemset32(c, 0x7fc00000u, n, stream); // NaN: poisoned output
  void *module = jit ? mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3)
                     : mgpuModuleLoad(const_cast<char *>(kPtx), sizeof(kPtx));
  ASSERT_NE(module, nullptr) << lastError();
  void *fn = mgpuModuleGetFunction(module, "vadd");
  ASSERT_NE(fn, nullptr) << lastError();
  uint32_t count = n;
  void *params[] = {&a, &b, &c, &count};
  intptr_t block = 128, grid = (n + block - 1) / block;
  mgpuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, stream, params, nullptr, 4);
  // Cross-stream ordering as gpu-to-llvm emits it for a token from another stream.
  void *other = mgpuStreamCreate();
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(other, event);
  mgpuMemcpy(hc.data(), c, bytes, other);
  mgpuStreamSynchronize(other);
  mgpuEventSynchronize(event);
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(hc[i], ha[i] + hb[i]) << "element " << i;
  mgpuEventDestroy(event);
  mgpuStreamDestroy(other);
  mgpuMemFree(a, stream);
  mgpuMemFree(b, stream);
  mgpuMemFree(c, stream);
  mgpuModuleUnload(module);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
}

#ifdef KVCC_MGPU_VADD
/// Loads the library built from MgpuHostVadd.s (host code as MLIR emits it:
/// its constructor calls mgpuModuleLoadJIT), runs c = a + b through
/// _mlir_ciface_kvcc_test_vadd and unloads it (its destructor calls
/// mgpuModuleUnload).
void runEmittedHostCode(int64_t n) {
  std::string local = exeDir() + "/../lib/" + KVCC_MGPU_VADD_NAME;
  std::string path = exists(local) ? local : std::string(KVCC_MGPU_VADD);
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  ASSERT_EQ(kvcc_cuda_last_error(), nullptr) << "loading the module: " << lastError();
  using Fn = void (*)(void *, void *, void *);
  Fn fn = reinterpret_cast<Fn>(dlsym(lib, "_mlir_ciface_kvcc_test_vadd"));
  ASSERT_NE(fn, nullptr);
  std::vector<float> a = pattern(size_t(n), 0.75f), b = pattern(size_t(n), -0.5f), c(size_t(n), -1.0f);
  struct Desc {
    float *allocated, *aligned;
    int64_t offset, size, stride;
  } da = {a.data(), a.data(), 0, n, 1}, db = {b.data(), b.data(), 0, n, 1}, dc = {c.data(), c.data(), 0, n, 1};
  fn(&da, &db, &dc);
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << lastError();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(c[size_t(i)], a[size_t(i)] + b[size_t(i)]) << "element " << i;
  dlclose(lib);
  void *still = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (still) {
    dlclose(still);
    FAIL() << path << " was not unloaded by dlclose (linked with -z nodelete?); its module stays loaded";
  }
  EXPECT_EQ(kvcc_cuda_last_error(), nullptr) << "unloading the module: " << lastError();
}
#endif

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string readFile(const std::string &path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string scratchDir() {
  char tmpl[] = "/tmp/kvcc-cuda-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

/// Runs `env ... kvcc-run args`, capturing stdout and stderr.
RunResult runKvccRun(const std::string &env, const std::string &args) {
  std::string dir = scratchDir();
  std::string cmd = env + " '" + kvccRunPath() + "' " + args + " >'" + dir + "/out' 2>'" + dir + "/err'";
  int rc = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = readFile(dir + "/out");
  r.err = readFile(dir + "/err");
  std::system(("rm -rf '" + dir + "'").c_str());
  return r;
}

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

//===----------------------------------------------------------------------===//
// DeviceBuffer (mock)
//===----------------------------------------------------------------------===//

TEST_F(MockTest, BufferRoundTrips) {
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_TRUE(dev.ok()) << dev.message();
  {
    Expected<DeviceBuffer> buf = DeviceBuffer::allocate(*dev, 1001);
    ASSERT_TRUE(buf.ok()) << buf.message();
    EXPECT_EQ(buf->size(), 1001u);
    EXPECT_NE(buf->data(), nullptr);
    std::vector<unsigned char> in(1001), out(1001, 0);
    for (size_t i = 0; i < in.size(); ++i)
      in[i] = static_cast<unsigned char>(i * 31 + 7);
    ASSERT_TRUE(buf->upload(in.data(), in.size()).ok());
    ASSERT_TRUE(buf->download(out.data(), out.size()).ok());
    EXPECT_EQ(in, out);

    // Device to device with offsets, on a stream.
    Expected<DeviceBuffer> other = DeviceBuffer::allocate(*dev, 600);
    ASSERT_TRUE(other.ok());
    CUstream s = nullptr;
    ASSERT_TRUE(KVCC_CU_CHECK(driver(), cuStreamCreate, &s, CU_STREAM_NON_BLOCKING).ok());
    ASSERT_TRUE(other->copyFromDeviceAsync(*buf, 500, 100, 300, s).ok());
    std::vector<unsigned char> part(500);
    ASSERT_TRUE(other->download(part.data(), 500, 100, s).ok());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), in.begin() + 300));

    // Fills.
    ASSERT_TRUE(buf->fill32Async(0xA1B2C3D4u, 10, 8, s).ok());
    ASSERT_TRUE(buf->fill16Async(0xBEEF, 3, 2, s).ok());
    ASSERT_TRUE(buf->download(out.data(), out.size(), 0, s).ok());
    uint32_t w;
    std::memcpy(&w, out.data() + 8, 4);
    EXPECT_EQ(w, 0xA1B2C3D4u);
    std::memcpy(&w, out.data() + 44, 4);
    EXPECT_EQ(w, 0xA1B2C3D4u);
    EXPECT_EQ(out[48], in[48]);
    uint16_t h;
    std::memcpy(&h, out.data() + 2, 2);
    EXPECT_EQ(h, 0xBEEF);
    std::memcpy(&h, out.data() + 6, 2);
    EXPECT_EQ(h, 0xBEEF);
    ASSERT_TRUE(buf->zero(s).ok()); // 1001 bytes: 250 words and a 1-byte tail
    ASSERT_TRUE(buf->download(out.data(), out.size(), 0, s).ok());
    EXPECT_EQ(out, std::vector<unsigned char>(1001, 0));
    EXPECT_TRUE(KVCC_CU_CHECK(driver(), cuStreamDestroy, s).ok());

    // Moves transfer ownership.
    DeviceBuffer moved = buf.take();
    EXPECT_EQ(moved.size(), 1001u);
    DeviceBuffer assigned;
    assigned = std::move(moved);
    EXPECT_EQ(moved.size(), 0u);
    EXPECT_EQ(assigned.size(), 1001u);
    EXPECT_EQ(hooks().liveAllocations(), allocationsBefore_ + 2);
    EXPECT_TRUE(assigned.free().ok());
    EXPECT_TRUE(assigned.free().ok()); // twice is fine
    EXPECT_EQ(hooks().liveAllocations(), allocationsBefore_ + 1);
  }
  expectNoLeaks();
}

TEST_F(MockTest, BufferChecksBoundsAndAlignment) {
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_TRUE(dev.ok());
  Expected<DeviceBuffer> buf = DeviceBuffer::allocate(*dev, 64);
  ASSERT_TRUE(buf.ok());
  char host[128] = {};
  EXPECT_EQ(buf->upload(host, 65).message(),
            "DeviceBuffer::copyFromHost: 65 bytes at offset 0 exceed the buffer of 64 bytes");
  EXPECT_EQ(buf->download(host, 8, 60).message(),
            "DeviceBuffer::copyToHost: 8 bytes at offset 60 exceed the buffer of 64 bytes");
  EXPECT_EQ(buf->fill32Async(0, 2, 2).message(), "DeviceBuffer::fill32: offset 2 is not a multiple of 4");
  EXPECT_EQ(buf->fill32Async(0, 17).message(), "DeviceBuffer::fill32: 17 words exceed the buffer of 64 bytes");
  EXPECT_EQ(buf->fill16Async(0, 1, 63).message(), "DeviceBuffer::fill16: 2 bytes at offset 63 exceed the buffer of 64 bytes");
  EXPECT_TRUE(buf->upload(host, 0, 64).ok()); // empty copy at the end
  DeviceBuffer never;
  EXPECT_EQ(never.upload(host, 1).message(), "DeviceBuffer::copyFromHost: the buffer was never allocated");
  Expected<DeviceBuffer> empty = DeviceBuffer::allocate(*dev, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data(), nullptr);
  EXPECT_TRUE(empty->zero().ok());
}

TEST_F(MockTest, BufferFailuresNameTheCall) {
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_TRUE(dev.ok());
  setEnv("KVCC_MOCK_CUDA_FAIL", "cuMemAlloc=CUDA_ERROR_OUT_OF_MEMORY");
  EXPECT_EQ(DeviceBuffer::allocate(*dev, 1000).message(),
            "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) (allocating 1000 bytes of device memory)");
  setEnv("KVCC_MOCK_CUDA_FAIL", "");
  Expected<DeviceBuffer> buf = DeviceBuffer::allocate(*dev, 64);
  ASSERT_TRUE(buf.ok());
  char host[64] = {};
  struct {
    const char *call;
    Status (*op)(DeviceBuffer &, char *);
  } cases[] = {
      {"cuMemcpyHtoDAsync", [](DeviceBuffer &b, char *h) { return b.upload(h, 64); }},
      {"cuMemcpyDtoHAsync", [](DeviceBuffer &b, char *h) { return b.download(h, 64); }},
      {"cuMemcpyDtoDAsync", [](DeviceBuffer &b, char *) { return b.copyFromDeviceAsync(b, 8, 0, 32); }},
      {"cuMemsetD32Async", [](DeviceBuffer &b, char *) { return b.fill32Async(1, 4); }},
      {"cuMemsetD16Async", [](DeviceBuffer &b, char *) { return b.fill16Async(1, 4); }},
      {"cuStreamSynchronize", [](DeviceBuffer &b, char *) { return b.zero(); }},
      {"cuCtxSetCurrent", [](DeviceBuffer &b, char *h) { return b.upload(h, 8); }},
      {"cuMemFree", [](DeviceBuffer &b, char *) { return b.free(); }},
  };
  for (auto &c : cases) {
    setEnv("KVCC_MOCK_CUDA_FAIL", c.call);
    EXPECT_EQ(c.op(*buf, host).message(), std::string(c.call) + " failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");
  }
  setEnv("KVCC_MOCK_CUDA_FAIL", "");
}

TEST_F(MockTest, BufferWorksFromAnotherThread) {
  Expected<CudaDevice> dev = CudaDevice::open(0);
  ASSERT_TRUE(dev.ok());
  Expected<DeviceBuffer> buf = DeviceBuffer::allocate(*dev, 256);
  ASSERT_TRUE(buf.ok());
  Status result = Status::error("not run");
  std::thread t([&] {
    std::vector<char> in(256, 'x'), out(256);
    result = buf->upload(in.data(), 256); // no context on this thread yet
    if (result.ok())
      result = buf->download(out.data(), 256);
    if (result.ok() && in != out)
      result = Status::error("mismatch");
  });
  t.join();
  EXPECT_TRUE(result.ok()) << result.message();
}

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
// kvcc-run --device=cuda
//===----------------------------------------------------------------------===//

class KvccRunCuda : public MockTest {
protected:
  std::string artifact(const char *target) {
    std::string dir = scratchDir();
    std::ofstream(dir + "/manifest.json") << "{\"format\": \"kvcc-artifact\", \"version\": 1, \"target\": \"" << target
                                          << "\"}\n";
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const std::string &d : dirs_)
      std::system(("rm -rf '" + d + "'").c_str());
    MockTest::TearDown();
  }
  std::vector<std::string> dirs_;
};

TEST_F(KvccRunCuda, ReportsTheMissingDriverOrDevice) {
  std::string args = "'" + artifact("cuda") + "' --weights /nonexistent --prompt hi --device=cuda";
  RunResult r = runKvccRun("KVCC_LIBCUDA=/nonexistent/libcuda.so.1", args);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("kvcc-run: no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded: ", 0), 0u) << r.err;

  if (!CudaDriver::get("libcuda.so.1").ok()) { // this machine: no driver at all
    r = runKvccRun("env -u KVCC_LIBCUDA", args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "kvcc-run: no CUDA driver (libcuda.so.1 could not be loaded: libcuda.so.1: cannot open shared "
                     "object file: No such file or directory)\n");
  }

  r = runKvccRun("KVCC_LIBCUDA='" + mockPath() + "' KVCC_MOCK_CUDA_DEVICES=0", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kvcc-run: no CUDA device\n");

  // With a device, it is reported and the run goes on to the artifact.
  r = runKvccRun("KVCC_LIBCUDA='" + mockPath() + "'", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "kvcc-run: CUDA device kvcc mock GPU 0 (device 0 of 1): sm_90, 132 SMs")) << r.err;
}

TEST_F(KvccRunCuda, CpuArtifactIsRefusedForWhatItIs) {
  std::string args = "'" + artifact("cpu") + "' --weights /nonexistent --prompt hi --device=cuda";
  RunResult r = runKvccRun("KVCC_LIBCUDA=/nonexistent/libcuda.so.1", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kvcc-run: --device=cuda: this artifact targets cpu (compile it with --target=cuda)\n");
}

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
