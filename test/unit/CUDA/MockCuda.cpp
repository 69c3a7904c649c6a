//===- MockCuda.cpp - A CUDA driver over host memory, for tests -----------===//
//
// Exports the cu* symbols CudaDriver resolves (with the _v2 names of CUDA
// 12/13) and checks what the real driver checks where the runtime could get it
// wrong: cuInit first, a current context for work, allocations in range,
// launch geometry and the dynamic shared memory opt-in. See MockCuda.h.
//
//===----------------------------------------------------------------------===//
#include "MockCuda.h"

#include "kvcc/Runtime/CUDA/CudaDriver.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace kvcc::cuda;

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))

struct kvcc::cuda::CUctx_st {
  int device;
  int refs;
};
struct kvcc::cuda::CUfunc_st {
  std::string name;
  std::vector<size_t> paramSizes;
  int smemAttr = 0;
};
struct kvcc::cuda::CUmod_st {
  std::vector<std::unique_ptr<CUfunc_st>> functions;
};
struct kvcc::cuda::CUstream_st {
  unsigned flags;
  CUgraph_st *capture = nullptr; // while cuStreamBeginCapture records
  int captureMode = 0;
};
struct kvcc::cuda::CUevent_st {
  unsigned flags;
  bool recorded = false;
  double ms = 0;
};

namespace {
/// What a captured stream operation does when its graph is launched.
struct GraphNode {
  enum Kind { Launch, Fill, Copy } kind;
  // Launch: the function, geometry and each parameter's bytes, as captured.
  CUfunction fn = nullptr;
  unsigned grid[3] = {}, block[3] = {}, cluster[3] = {}, smem = 0;
  std::vector<std::vector<unsigned char>> params;
  // Fill: `count` elements of `elementBytes` (value in the low bytes); Copy.
  uintptr_t dst = 0, src = 0;
  size_t count = 0, elementBytes = 0;
  uint32_t value = 0;
};
} // namespace

struct kvcc::cuda::CUgraph_st {
  std::vector<GraphNode> nodes;
  bool invalidated = false; // an operation the capture cannot record
};
struct kvcc::cuda::CUgraphExec_st {
  std::vector<GraphNode> nodes;
};

namespace {

constexpr int kDefaultSmem = 48 * 1024;
constexpr int kOptinSmem = 227 * 1024;
constexpr size_t kTotalMemory = size_t(80) << 30;

struct State {
  std::mutex mu;
  bool initialised = false;
  std::map<int, std::unique_ptr<CUctx_st>> contexts;
  std::map<uintptr_t, size_t> allocations;
  std::set<void *> objects; // streams, events, modules
  std::vector<KvccMockLaunch> launches;
  std::map<std::string, int> calls;
  std::map<std::string, size_t> bytesCopied; // by API function
  int lastJitOptLevel = -1;
  int lastSmemAttribute = 0;
  CUresult asyncError = CUDA_SUCCESS;
  std::set<CUstream> capturing; // streams between Begin/EndCapture
};

State &st() {
  static State *s = new State();
  return *s;
}

thread_local CUctx_st *current = nullptr;

struct ErrorName {
  CUresult code;
  const char *name, *text;
};
const ErrorName kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

int envInt(const char *name, int fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

int deviceCount() { return envInt("KVCC_MOCK_CUDA_DEVICES", 1); }

/// The injected failure for API function `name`, or CUDA_SUCCESS.
CUresult injected(const char *name) {
  const char *env = std::getenv("KVCC_MOCK_CUDA_FAIL");
  if (!env || !*env)
    return CUDA_SUCCESS;
  std::string list = env;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos)
      end = list.size();
    std::string item = list.substr(pos, end - pos);
    pos = end + 1;
    std::string fn = item, code;
    if (size_t eq = item.find('='); eq != std::string::npos) {
      fn = item.substr(0, eq);
      code = item.substr(eq + 1);
    }
    if (fn != name)
      continue;
    if (code.empty())
      return CUDA_ERROR_INVALID_VALUE;
    for (const ErrorName &e : kErrors)
      if (code == e.name)
        return e.code;
    return std::atoi(code.c_str());
  }
  return CUDA_SUCCESS;
}

enum Needs { None = 0, Init = 1, Context = 2 };

/// Entry bookkeeping: counts the call, applies injected failures, checks the
/// preconditions the real driver has.
CUresult enter(const char *name, int needs) {
  State &s = st();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.calls[name]++;
  }
  if (CUresult r = injected(name))
    return r;
  if ((needs & (Init | Context)) && !s.initialised)
    return CUDA_ERROR_NOT_INITIALIZED;
  if ((needs & Context) && !current)
    return CUDA_ERROR_INVALID_CONTEXT;
  return CUDA_SUCCESS;
}

#define ENTER(name, needs)                                                                                             \
  if (CUresult r_ = enter(name, needs))                                                                                \
  return r_

/// True if [p, p + n) lies inside one live allocation (caller holds the lock).
bool inAllocation(State &s, uintptr_t p, size_t n) {
  auto it = s.allocations.upper_bound(p);
  if (it == s.allocations.begin())
    return false;
  --it;
  return p >= it->first && p - it->first <= it->second && n <= it->second - (p - it->first);
}

/// A pointer that is either host memory or inside an allocation.
bool deviceRange(State &s, uintptr_t p, size_t n) { return p && inAllocation(s, p, n); }

/// A call that is not a stream operation a graph could replay, refused while
/// a capture is open: by the driver in the strict modes (global,
/// thread-local) for cuMemAlloc; in every mode when `evenRelaxed` (a context
/// synchronization; cuMemFree, stricter than the driver: it may synchronize,
/// and kvcc never frees while recording). True, and those captures
/// invalidated, when refused. The caller holds the lock.
bool refusedDuringCapture(State &s, bool evenRelaxed) {
  bool refused = false;
  for (CUstream c : s.capturing)
    if (evenRelaxed || c->captureMode != 2 /*CU_STREAM_CAPTURE_MODE_RELAXED*/) {
      c->capture->invalidated = true;
      refused = true;
    }
  return refused;
}

/// Destroys a stream, event, graph or executable graph the mock made.
template <typename T> CUresult destroyObject(const char *api, T *object) {
  ENTER(api, Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!object || !st().objects.count(object))
    return CUDA_ERROR_INVALID_HANDLE;
  if constexpr (std::is_same_v<T, CUstream_st>)
    if (object->capture)
      return 401; // CUDA_ERROR_ILLEGAL_STATE: end the capture first
  st().objects.erase(object);
  delete object;
  return CUDA_SUCCESS;
}

/// Refuses an operation a capture on `stream` cannot record (a host
/// synchronization, a copy to or from pageable host memory), invalidating it.
CUresult refuseInCapture(CUstream stream) {
  stream->capture->invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

size_t ptxTypeSize(const std::string &t) {
  if (t.size() < 3)
    return 0;
  std::string bits = t.substr(2);
  if (bits == "64")
    return 8;
  if (bits == "32")
    return 4;
  if (bits == "16")
    return 2;
  if (bits == "8")
    return 1;
  return 0;
}

/// Kernels and parameter sizes of a PTX text (".entry NAME( .param .u64 x, ...)").
bool parsePtx(const std::string &ptx, CUmod_st &m) {
  size_t pos = 0;
  while ((pos = ptx.find(".entry", pos)) != std::string::npos) {
    pos += 6;
    size_t open = ptx.find('(', pos), close = ptx.find(')', pos);
    if (open == std::string::npos || close == std::string::npos || close < open)
      return false;
    auto f = std::make_unique<CUfunc_st>();
    std::string name = ptx.substr(pos, open - pos);
    size_t b = name.find_first_not_of(" \t\r\n"), e = name.find_last_not_of(" \t\r\n");
    if (b == std::string::npos)
      return false;
    f->name = name.substr(b, e - b + 1);
    std::string params = ptx.substr(open + 1, close - open - 1);
    size_t p = 0;
    while ((p = params.find(".param", p)) != std::string::npos) {
      p += 6;
      size_t stop = params.find(',', p);
      std::string decl = params.substr(p, stop == std::string::npos ? std::string::npos : stop - p);
      size_t size = 0;
      // ".u64 x", ".u64 .ptr .align 1 x", ".align 8 .b8 x[16]"
      for (const char *t : {".u", ".s", ".b", ".f"}) {
        size_t q = 0;
        while (!size && (q = decl.find(t, q)) != std::string::npos) {
          size_t r = q + 2;
          while (r < decl.size() && isdigit(static_cast<unsigned char>(decl[r])))
            ++r;
          size = ptxTypeSize(decl.substr(q, r - q));
          q = r;
        }
      }
      if (size_t lb = decl.find('['); lb != std::string::npos)
        size *= std::strtoull(decl.c_str() + lb + 1, nullptr, 10);
      f->paramSizes.push_back(size ? size : 8);
    }
    m.functions.push_back(std::move(f));
    pos = close;
  }
  return !m.functions.empty();
}

/// Parses a module image; CUDA_SUCCESS or the load error (and a JIT log).
CUresult loadImage(const void *image, CUmod_st &m, std::string &log) {
  if (!image)
    return CUDA_ERROR_INVALID_VALUE;
  const char *text = static_cast<const char *>(image);
  if (std::strncmp(text, "KVCCMOCK\n", 9) == 0) {
    std::string body(text + 9);
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find('\n', pos);
      std::string line = body.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? body.size() : end + 1;
      if (line.empty())
        continue;
      auto f = std::make_unique<CUfunc_st>();
      size_t sp = line.find(' ');
      f->name = line.substr(0, sp);
      while (sp != std::string::npos) {
        char *next = nullptr;
        unsigned long long v = std::strtoull(line.c_str() + sp + 1, &next, 10);
        f->paramSizes.push_back(v);
        sp = line.find(' ', sp + 1);
      }
      m.functions.push_back(std::move(f));
    }
    return CUDA_SUCCESS;
  }
  // PTX: ".version" ahead of the first ".entry" (the text may be long; look
  // at a bounded prefix for the marker, the whole string for entries).
  std::string ptx(text, strnlen(text, size_t(1) << 24));
  size_t version = ptx.find(".version"), entry = ptx.find(".entry");
  if (version == std::string::npos || (entry != std::string::npos && entry < version))
    return CUDA_ERROR_INVALID_IMAGE;
  if (ptx.find("KVCC_MOCK_BAD_PTX") != std::string::npos || !parsePtx(ptx, m)) {
    log = "ptxas application ptx input, line 1; error   : mock PTX rejected";
    return CUDA_ERROR_INVALID_PTX;
  }
  return CUDA_SUCCESS;
}

/// The emulated `vadd` kernel; CUDA_ERROR_ILLEGAL_ADDRESS if a pointer is bad.
CUresult runVadd(State &s, const KvccMockLaunch &l) {
  auto *a = reinterpret_cast<float *>(l.params[0]);
  auto *b = reinterpret_cast<float *>(l.params[1]);
  auto *c = reinterpret_cast<float *>(l.params[2]);
  uint64_t n = static_cast<uint32_t>(l.params[3]);
  uint64_t threads = uint64_t(l.grid[0]) * l.block[0];
  uint64_t count = n < threads ? n : threads;
  size_t bytes = count * sizeof(float);
  if (count && (!inAllocation(s, uintptr_t(a), bytes) || !inAllocation(s, uintptr_t(b), bytes) ||
                !inAllocation(s, uintptr_t(c), bytes)))
    return CUDA_ERROR_ILLEGAL_ADDRESS;
  for (uint64_t i = 0; i < count; ++i)
    c[i] = a[i] + b[i];
  return CUDA_SUCCESS;
}

/// MgpuHostVadd.mlir's kernel: three expanded 1-D memrefs (allocated,
/// aligned, offset, size, stride) and n.
CUresult runVaddMemref(State &s, const KvccMockLaunch &l, void **params) {
  auto arg = [&](int i) {
    uint64_t v;
    std::memcpy(&v, params[i], 8);
    return v;
  };
  auto *a = reinterpret_cast<float *>(arg(1)) + arg(2);
  auto *b = reinterpret_cast<float *>(arg(6)) + arg(7);
  auto *c = reinterpret_cast<float *>(arg(11)) + arg(12);
  uint64_t n = arg(15), threads = uint64_t(l.grid[0]) * l.block[0];
  uint64_t count = n < threads ? n : threads;
  size_t bytes = count * sizeof(float);
  if (count && (!inAllocation(s, uintptr_t(a), bytes) || !inAllocation(s, uintptr_t(b), bytes) ||
                !inAllocation(s, uintptr_t(c), bytes)))
    return CUDA_ERROR_ILLEGAL_ADDRESS;
  for (uint64_t i = 0; i < count; ++i)
    c[i] = a[i] + b[i];
  return CUDA_SUCCESS;
}

CUresult execute(State &s, CUfunction f, const unsigned (&grid)[3], const unsigned (&block)[3],
                 const unsigned (&cluster)[3], unsigned smem, CUstream stream, void **params);

CUresult launch(const char *api, CUfunction f, const unsigned (&grid)[3], const unsigned (&block)[3],
                const unsigned (&cluster)[3], unsigned smem, CUstream stream, void **params, void **extra) {
  ENTER(api, Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!f)
    return CUDA_ERROR_INVALID_HANDLE;
  if (!grid[0] || !grid[1] || !grid[2] || !block[0] || !block[1] || !block[2])
    return CUDA_ERROR_INVALID_VALUE;
  if (uint64_t(block[0]) * block[1] * block[2] > 1024 || block[2] > 64 || grid[1] > 65535 || grid[2] > 65535)
    return CUDA_ERROR_INVALID_VALUE;
  if (int(smem) > kOptinSmem || (int(smem) > kDefaultSmem && int(smem) > f->smemAttr))
    return CUDA_ERROR_INVALID_VALUE;
  if (!f->paramSizes.empty() && !params && !extra)
    return CUDA_ERROR_INVALID_VALUE;
  if (stream && !s.objects.count(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  if (stream && stream->capture) { // recorded with its parameters' bytes, run by cuGraphLaunch
    GraphNode n{GraphNode::Launch};
    n.fn = f;
    for (int i = 0; i < 3; ++i) {
      n.grid[i] = grid[i];
      n.block[i] = block[i];
      n.cluster[i] = cluster[i];
    }
    n.smem = smem;
    for (size_t i = 0; params && i < f->paramSizes.size(); ++i) {
      const auto *p = static_cast<const unsigned char *>(params[i]);
      n.params.emplace_back(p, p + f->paramSizes[i]);
    }
    stream->capture->nodes.push_back(std::move(n));
    return CUDA_SUCCESS;
  }
  return execute(s, f, grid, block, cluster, smem, stream, params);
}

/// Runs (records, and emulates where it can) a launch the checks accepted;
/// the caller holds the lock.
CUresult execute(State &s, CUfunction f, const unsigned (&grid)[3], const unsigned (&block)[3],
                 const unsigned (&cluster)[3], unsigned smem, CUstream stream, void **params) {
  KvccMockLaunch l = {};
  std::strncpy(l.name, f->name.c_str(), sizeof(l.name) - 1);
  for (int i = 0; i < 3; ++i) {
    l.grid[i] = grid[i];
    l.block[i] = block[i];
    l.cluster[i] = cluster[i];
  }
  l.sharedBytes = smem;
  l.paramCount = static_cast<int>(f->paramSizes.size());
  l.stream = stream;
  for (size_t i = 0; params && i < f->paramSizes.size() && i < 16; ++i)
    std::memcpy(&l.params[i], params[i], f->paramSizes[i] < 8 ? f->paramSizes[i] : 8);
  s.launches.push_back(l);
  CUresult fault = CUDA_SUCCESS;
  if (f->name == "vadd" && f->paramSizes.size() == 4)
    fault = runVadd(s, l);
  else if (f->name == "vadd_memref" && f->paramSizes.size() == 16)
    fault = runVaddMemref(s, l, params);
  else if (f->name == "kvcc_mock_call" && f->paramSizes.size() == 2 && l.params[0])
    reinterpret_cast<void (*)(void *)>(l.params[0])(reinterpret_cast<void *>(l.params[1]));
  if (fault != CUDA_SUCCESS && s.asyncError == CUDA_SUCCESS)
    s.asyncError = fault; // a kernel fault surfaces at the next synchronization
  return CUDA_SUCCESS;
}

CUresult syncResult() {
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.asyncError;
}

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

} // namespace

//===----------------------------------------------------------------------===//
// Initialisation, devices, contexts
//===----------------------------------------------------------------------===//

MOCK_EXPORT CUresult cuInit(unsigned flags) {
  ENTER("cuInit", None);
  if (flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(st().mu);
  st().initialised = true;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDriverGetVersion(int *v) {
  ENTER("cuDriverGetVersion", None);
  if (!v)
    return CUDA_ERROR_INVALID_VALUE;
  *v = 13000;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDeviceGetCount(int *n) {
  ENTER("cuDeviceGetCount", Init);
  if (!n)
    return CUDA_ERROR_INVALID_VALUE;
  *n = deviceCount();
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
  ENTER("cuDeviceGet", Init);
  if (!d)
    return CUDA_ERROR_INVALID_VALUE;
  if (ordinal < 0 || ordinal >= deviceCount())
    return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
  ENTER("cuDeviceGetName", Init);
  if (!name || len <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= deviceCount())
    return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(name, static_cast<size_t>(len), "kvcc mock GPU %d", d);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDeviceGetAttribute(int *v, int attrib, CUdevice d) {
  ENTER("cuDeviceGetAttribute", Init);
  if (!v)
    return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= deviceCount())
    return CUDA_ERROR_INVALID_DEVICE;
  switch (attrib) {
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = kOptinSmem; break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *v = 228 * 1024; break;
  default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
  ENTER("cuDeviceTotalMem", Init);
  if (!bytes)
    return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= deviceCount())
    return CUDA_ERROR_INVALID_DEVICE;
  *bytes = kTotalMemory;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice d) {
  ENTER("cuDevicePrimaryCtxRetain", Init);
  if (!ctx)
    return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= deviceCount())
    return CUDA_ERROR_INVALID_DEVICE;
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  std::unique_ptr<CUctx_st> &c = s.contexts[d];
  if (!c)
    c.reset(new CUctx_st{d, 0});
  c->refs++;
  *ctx = c.get();
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
  ENTER("cuDevicePrimaryCtxRelease", Init);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.contexts.find(d);
  if (it == s.contexts.end() || it->second->refs <= 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  it->second->refs--; // kept allocated: a stale current pointer stays valid
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  ENTER("cuCtxSetCurrent", Init);
  if (ctx) {
    std::lock_guard<std::mutex> lock(st().mu);
    if (ctx->refs <= 0)
      return CUDA_ERROR_INVALID_CONTEXT;
  }
  current = ctx;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
  ENTER("cuCtxGetCurrent", Init);
  if (!ctx)
    return CUDA_ERROR_INVALID_VALUE;
  *ctx = current;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuCtxSynchronize() {
  ENTER("cuCtxSynchronize", Context);
  {
    std::lock_guard<std::mutex> lock(st().mu);
    if (refusedDuringCapture(st(), /*evenRelaxed=*/true))
      return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return syncResult();
}

MOCK_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  ENTER("cuMemGetInfo", Context);
  if (!free || !total)
    return CUDA_ERROR_INVALID_VALUE;
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  size_t used = 0;
  for (auto &a : s.allocations)
    used += a.second;
  *total = kTotalMemory;
  *free = kTotalMemory - used;
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Modules and launches
//===----------------------------------------------------------------------===//

namespace {
CUresult moduleLoad(const char *api, CUmodule *module, const void *image, std::string &log) {
  ENTER(api, Context);
  if (!module)
    return CUDA_ERROR_INVALID_VALUE;
  auto m = std::make_unique<CUmod_st>();
  if (CUresult r = loadImage(image, *m, log))
    return r;
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  *module = m.release();
  s.objects.insert(*module);
  return CUDA_SUCCESS;
}
} // namespace

MOCK_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  std::string log;
  return moduleLoad("cuModuleLoadData", module, image, log);
}

MOCK_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned n, CUjit_option *options,
                                        void **values) {
  char *logBuffer = nullptr;
  size_t logSize = 0;
  int opt = -1;
  for (unsigned i = 0; i < n && options && values; ++i) {
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
      logBuffer = static_cast<char *>(values[i]);
    else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
      logSize = reinterpret_cast<uintptr_t>(values[i]);
    else if (options[i] == CU_JIT_OPTIMIZATION_LEVEL)
      opt = static_cast<int>(reinterpret_cast<uintptr_t>(values[i]));
  }
  {
    std::lock_guard<std::mutex> lock(st().mu);
    st().lastJitOptLevel = opt;
  }
  std::string log;
  CUresult r = moduleLoad("cuModuleLoadDataEx", module, image, log);
  if (r != CUDA_SUCCESS && logBuffer && logSize > 0) {
    std::strncpy(logBuffer, log.c_str(), logSize - 1);
    logBuffer[logSize - 1] = 0;
  }
  return r;
}

MOCK_EXPORT CUresult cuModuleUnload(CUmodule module) {
  ENTER("cuModuleUnload", Init);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!module || !s.objects.erase(module))
    return CUDA_ERROR_INVALID_HANDLE;
  delete module;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuModuleGetFunction(CUfunction *fn, CUmodule module, const char *name) {
  ENTER("cuModuleGetFunction", Context);
  if (!fn || !name)
    return CUDA_ERROR_INVALID_VALUE;
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!module || !s.objects.count(module))
    return CUDA_ERROR_INVALID_HANDLE;
  for (auto &f : module->functions)
    if (f->name == name) {
      *fn = f.get();
      return CUDA_SUCCESS;
    }
  return CUDA_ERROR_NOT_FOUND;
}

MOCK_EXPORT CUresult cuFuncSetAttribute(CUfunction fn, int attrib, int value) {
  ENTER("cuFuncSetAttribute", Context);
  if (!fn)
    return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard<std::mutex> lock(st().mu);
  if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    if (value < 0 || value > kOptinSmem)
      return CUDA_ERROR_INVALID_VALUE;
    fn->smemAttr = value;
    st().lastSmemAttribute = value;
  } else if (attrib != CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned smem, CUstream stream, void **params, void **extra) {
  return launch("cuLaunchKernel", f, {gx, gy, gz}, {bx, by, bz}, {0, 0, 0}, smem, stream, params, extra);
}

MOCK_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **params, void **extra) {
  if (!c)
    return CUDA_ERROR_INVALID_VALUE;
  unsigned cluster[3] = {1, 1, 1};
  for (unsigned i = 0; i < c->numAttrs; ++i)
    if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      cluster[0] = c->attrs[i].value.clusterDim.x;
      cluster[1] = c->attrs[i].value.clusterDim.y;
      cluster[2] = c->attrs[i].value.clusterDim.z;
    }
  return launch("cuLaunchKernelEx", f, {c->gridDimX, c->gridDimY, c->gridDimZ},
                {c->blockDimX, c->blockDimY, c->blockDimZ}, cluster, c->sharedMemBytes, c->hStream, params, extra);
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

MOCK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  ENTER("cuMemAlloc", Context);
  if (!p || bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (bytes > (size_t(1) << 36))
    return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard<std::mutex> lock(st().mu);
  if (refusedDuringCapture(st(), /*evenRelaxed=*/false))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  size_t rounded = (bytes + 255) / 256 * 256;
  void *mem = std::aligned_alloc(256, rounded);
  if (!mem)
    return CUDA_ERROR_OUT_OF_MEMORY;
  std::memset(mem, 0xCD, rounded); // never hand out zeros
  st().allocations[reinterpret_cast<uintptr_t>(mem)] = bytes;
  *p = reinterpret_cast<uintptr_t>(mem);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  ENTER("cuMemFree", Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (refusedDuringCapture(s, /*evenRelaxed=*/true))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  auto it = s.allocations.find(static_cast<uintptr_t>(p));
  if (it == s.allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  std::free(reinterpret_cast<void *>(it->first));
  s.allocations.erase(it);
  return CUDA_SUCCESS;
}

namespace {
CUresult copy(const char *api, uintptr_t dst, bool dstDevice, uintptr_t src, bool srcDevice, size_t n,
              CUstream stream) {
  ENTER(api, Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (stream && !s.objects.count(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  if (!dst || !src || (dstDevice && !deviceRange(s, dst, n)) || (srcDevice && !deviceRange(s, src, n)))
    return CUDA_ERROR_INVALID_VALUE;
  if (stream && stream->capture) {
    // Host memory here is pageable: stricter than the driver, which could
    // capture a pinned buffer; kvcc keeps host copies out of its graphs.
    if (!dstDevice || !srcDevice)
      return refuseInCapture(stream);
    GraphNode node{GraphNode::Copy};
    node.dst = dst;
    node.src = src;
    node.count = n;
    stream->capture->nodes.push_back(node);
    return CUDA_SUCCESS;
  }
  std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), n);
  s.bytesCopied[api] += n;
  return CUDA_SUCCESS;
}

/// Unified addressing: a pointer inside an allocation is device memory and
/// must fit in it; anything else is host memory.
bool unifiedOk(State &s, uintptr_t p, size_t n) {
  auto it = s.allocations.upper_bound(p);
  if (it == s.allocations.begin())
    return true;
  --it;
  if (p - it->first >= it->second)
    return true; // past that allocation: host memory
  return inAllocation(s, p, n);
}

template <typename T> CUresult fill(const char *api, CUdeviceptr dst, T value, size_t count, CUstream stream) {
  ENTER(api, Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (stream && !s.objects.count(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  if (dst % sizeof(T) || !deviceRange(s, static_cast<uintptr_t>(dst), count * sizeof(T)))
    return CUDA_ERROR_INVALID_VALUE;
  if (stream && stream->capture) {
    GraphNode node{GraphNode::Fill};
    node.dst = static_cast<uintptr_t>(dst);
    node.count = count;
    node.elementBytes = sizeof(T);
    node.value = value;
    stream->capture->nodes.push_back(node);
    return CUDA_SUCCESS;
  }
  T *p = reinterpret_cast<T *>(static_cast<uintptr_t>(dst));
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return CUDA_SUCCESS;
}
} // namespace

MOCK_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream stream) {
  return copy("cuMemcpyHtoDAsync", static_cast<uintptr_t>(dst), true, reinterpret_cast<uintptr_t>(src), false, n,
              stream);
}

MOCK_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream stream) {
  return copy("cuMemcpyDtoHAsync", reinterpret_cast<uintptr_t>(dst), false, static_cast<uintptr_t>(src), true, n,
              stream);
}

MOCK_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream) {
  return copy("cuMemcpyDtoDAsync", static_cast<uintptr_t>(dst), true, static_cast<uintptr_t>(src), true, n, stream);
}

MOCK_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream) {
  ENTER("cuMemcpyAsync", Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (stream && !s.objects.count(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  if (!dst || !src || !unifiedOk(s, static_cast<uintptr_t>(dst), n) || !unifiedOk(s, static_cast<uintptr_t>(src), n))
    return CUDA_ERROR_INVALID_VALUE;
  if (stream && stream->capture) {
    if (!inAllocation(s, static_cast<uintptr_t>(dst), n) || !inAllocation(s, static_cast<uintptr_t>(src), n))
      return refuseInCapture(stream);
    GraphNode node{GraphNode::Copy};
    node.dst = static_cast<uintptr_t>(dst);
    node.src = static_cast<uintptr_t>(src);
    node.count = n;
    stream->capture->nodes.push_back(node);
    return CUDA_SUCCESS;
  }
  std::memmove(reinterpret_cast<void *>(static_cast<uintptr_t>(dst)),
               reinterpret_cast<const void *>(static_cast<uintptr_t>(src)), n);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, CUstream stream) {
  return fill<uint32_t>("cuMemsetD32Async", dst, value, count, stream);
}

MOCK_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count, CUstream stream) {
  return fill<uint16_t>("cuMemsetD16Async", dst, value, count, stream);
}

MOCK_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytes, unsigned) {
  ENTER("cuMemHostRegister", Context);
  return p && bytes ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

MOCK_EXPORT CUresult cuMemHostUnregister(void *p) {
  ENTER("cuMemHostUnregister", Context);
  return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

MOCK_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  ENTER("cuStreamCreate", Context);
  if (!stream || flags > CU_STREAM_NON_BLOCKING)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(st().mu);
  *stream = new CUstream_st{flags};
  st().objects.insert(*stream);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
  return destroyObject("cuStreamDestroy", stream);
}

MOCK_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  ENTER("cuStreamSynchronize", Context);
  {
    std::lock_guard<std::mutex> lock(st().mu);
    if (stream && !st().objects.count(stream))
      return CUDA_ERROR_INVALID_HANDLE;
    if (stream && stream->capture)
      return refuseInCapture(stream);
  }
  return syncResult();
}

MOCK_EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned flags) {
  ENTER("cuStreamWaitEvent", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if ((stream && !st().objects.count(stream)) || !event || !st().objects.count(event) || flags > 1)
    return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuEventCreate(CUevent *event, unsigned flags) {
  ENTER("cuEventCreate", Context);
  if (!event || flags > 0xF)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(st().mu);
  *event = new CUevent_st{flags};
  st().objects.insert(*event);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuEventDestroy_v2(CUevent event) {
  return destroyObject("cuEventDestroy", event);
}

MOCK_EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  ENTER("cuEventRecord", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!event || !st().objects.count(event) || (stream && !st().objects.count(stream)))
    return CUDA_ERROR_INVALID_HANDLE;
  event->recorded = true;
  event->ms = nowMs();
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuEventSynchronize(CUevent event) {
  ENTER("cuEventSynchronize", Context);
  {
    std::lock_guard<std::mutex> lock(st().mu);
    if (!event || !st().objects.count(event))
      return CUDA_ERROR_INVALID_HANDLE;
  }
  return syncResult();
}

MOCK_EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
  ENTER("cuEventElapsedTime", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!ms || !start || !end || !st().objects.count(start) || !st().objects.count(end))
    return CUDA_ERROR_INVALID_HANDLE;
  if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING)
    return CUDA_ERROR_INVALID_HANDLE;
  if (!start->recorded || !end->recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *ms = static_cast<float>(end->ms - start->ms);
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Graphs (stream capture)
//===----------------------------------------------------------------------===//

MOCK_EXPORT CUresult cuStreamBeginCapture_v2(CUstream stream, int mode) {
  ENTER("cuStreamBeginCapture", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!stream) // the legacy stream cannot be captured
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (!st().objects.count(stream))
    return CUDA_ERROR_INVALID_HANDLE;
  if (mode < 0 || mode > 2)
    return CUDA_ERROR_INVALID_VALUE;
  if (stream->capture)
    return 401; // CUDA_ERROR_ILLEGAL_STATE
  stream->capture = new CUgraph_st();
  stream->captureMode = mode;
  st().capturing.insert(stream);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  ENTER("cuStreamEndCapture", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!graph || !stream || !st().objects.count(stream))
    return CUDA_ERROR_INVALID_VALUE;
  if (!stream->capture)
    return 401; // CUDA_ERROR_ILLEGAL_STATE
  CUgraph g = std::exchange(stream->capture, nullptr);
  st().capturing.erase(stream);
  if (g->invalidated) {
    delete g;
    *graph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  st().objects.insert(g);
  *graph = g;
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph, unsigned long long flags) {
  ENTER("cuGraphInstantiateWithFlags", Context);
  std::lock_guard<std::mutex> lock(st().mu);
  if (!exec || !graph || !st().objects.count(graph) || flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  *exec = new CUgraphExec_st{graph->nodes};
  st().objects.insert(*exec);
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  ENTER("cuGraphLaunch", Context);
  State &s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!exec || !s.objects.count(exec) || (stream && !s.objects.count(stream)))
    return CUDA_ERROR_INVALID_HANDLE;
  if (stream && stream->capture)
    return refuseInCapture(stream); // graphs are not nested here
  for (GraphNode &n : exec->nodes) {
    switch (n.kind) {
    case GraphNode::Launch: {
      std::vector<void *> params;
      for (std::vector<unsigned char> &p : n.params)
        params.push_back(p.data());
      if (CUresult r = execute(s, n.fn, n.grid, n.block, n.cluster, n.smem, stream, params.data()))
        return r;
      break;
    }
    case GraphNode::Fill:
      // The range was checked at capture; it must still be allocated.
      if (!inAllocation(s, n.dst, n.count * n.elementBytes)) {
        s.asyncError = CUDA_ERROR_ILLEGAL_ADDRESS;
        break;
      }
      for (size_t i = 0; i < n.count; ++i)
        std::memcpy(reinterpret_cast<unsigned char *>(n.dst) + i * n.elementBytes, &n.value, n.elementBytes);
      break;
    case GraphNode::Copy:
      if (!inAllocation(s, n.dst, n.count) || !inAllocation(s, n.src, n.count)) {
        s.asyncError = CUDA_ERROR_ILLEGAL_ADDRESS;
        break;
      }
      std::memmove(reinterpret_cast<void *>(n.dst), reinterpret_cast<const void *>(n.src), n.count);
      break;
    }
  }
  return CUDA_SUCCESS;
}

MOCK_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  return destroyObject("cuGraphExecDestroy", exec);
}

MOCK_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  return destroyObject("cuGraphDestroy", graph);
}

MOCK_EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  if (!name)
    return CUDA_ERROR_INVALID_VALUE;
  for (const ErrorName &e : kErrors)
    if (e.code == error) {
      *name = e.name;
      return CUDA_SUCCESS;
    }
  *name = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

MOCK_EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  if (!text)
    return CUDA_ERROR_INVALID_VALUE;
  for (const ErrorName &e : kErrors)
    if (e.code == error) {
      *text = e.text;
      return CUDA_SUCCESS;
    }
  *text = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

//===----------------------------------------------------------------------===//
// Test hooks
//===----------------------------------------------------------------------===//

MOCK_EXPORT int kvcc_mock_cuda_launch_count(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  return static_cast<int>(st().launches.size());
}

MOCK_EXPORT int kvcc_mock_cuda_get_launch(int i, KvccMockLaunch *out) {
  std::lock_guard<std::mutex> lock(st().mu);
  if (i < 0 || i >= static_cast<int>(st().launches.size()) || !out)
    return -1;
  *out = st().launches[static_cast<size_t>(i)];
  return 0;
}

MOCK_EXPORT int64_t kvcc_mock_cuda_live_allocations(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  return static_cast<int64_t>(st().allocations.size());
}

MOCK_EXPORT int kvcc_mock_cuda_live_objects(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  return static_cast<int>(st().objects.size());
}

MOCK_EXPORT int kvcc_mock_cuda_call_count(const char *name) {
  std::lock_guard<std::mutex> lock(st().mu);
  auto it = st().calls.find(name ? name : "");
  return it == st().calls.end() ? 0 : it->second;
}

MOCK_EXPORT int64_t kvcc_mock_cuda_bytes_copied(const char *name) {
  std::lock_guard<std::mutex> lock(st().mu);
  auto it = st().bytesCopied.find(name ? name : "");
  return it == st().bytesCopied.end() ? 0 : static_cast<int64_t>(it->second);
}

MOCK_EXPORT int kvcc_mock_cuda_last_jit_opt_level(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  return st().lastJitOptLevel;
}

MOCK_EXPORT int kvcc_mock_cuda_last_smem_attribute(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  return st().lastSmemAttribute;
}

MOCK_EXPORT void kvcc_mock_cuda_reset(void) {
  std::lock_guard<std::mutex> lock(st().mu);
  st().launches.clear();
  st().calls.clear();
  st().bytesCopied.clear();
  st().lastJitOptLevel = -1;
  st().lastSmemAttribute = 0;
  st().asyncError = CUDA_SUCCESS;
}

MOCK_EXPORT void kvcc_mock_cuda_inject_async_error(int error) {
  std::lock_guard<std::mutex> lock(st().mu);
  st().asyncError = error;
}
