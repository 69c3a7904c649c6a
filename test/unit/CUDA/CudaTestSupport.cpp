//===- CudaTestSupport.cpp - Fixtures of the CUDA runtime tests -----------===//
//
// What CudaTestSupport.h declares: paths, the PTX module and the vadd round
// trips through the mgpu ABI and through host code as MLIR emits it.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <unistd.h>

namespace cudatest {

//===----------------------------------------------------------------------===//
// Fixtures and helpers
//===----------------------------------------------------------------------===//

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

std::string mockPath() {
  std::string local = exeDir() + "/../lib/" + KVCC_MOCK_CUDA_NAME;
  return exists(local) ? local : std::string(KVCC_MOCK_CUDA);
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

void setEnv(const char *name, const std::string &value) {
  if (value.empty())
    unsetenv(name);
  else
    setenv(name, value.c_str(), 1);
}

std::string lastError() {
  const char *e = kvcc_cuda_last_error();
  return e ? e : "";
}

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

const char kBadPtx[] = ".version 7.0\n.target sm_80\n.address_size 64\n"
                       ".visible .entry broken()\n{\n\tthis is not ptx; // KVCC_MOCK_BAD_PTX\n}\n";

std::vector<float> pattern(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>((i * 7919) % 1000) - 3.5f;
  return v;
}

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

} // namespace cudatest
