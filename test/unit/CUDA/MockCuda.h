//===- MockCuda.h - Test hooks of the mock CUDA driver ----------*- C++ -*-===//
//
// libmock_cuda.so exports the cu* entry points CudaDriver resolves, over host
// memory (a device pointer is a host pointer), plus the hooks below, which
// tests reach with dlsym on the library. Environment, read at every call:
//
//   KVCC_MOCK_CUDA_DEVICES=N        devices the driver reports (default 1)
//   KVCC_MOCK_CUDA_FAIL=a[=E],b...  calls that fail with CUresult E (a number
//                                   or a CUDA_ERROR_* name; default
//                                   CUDA_ERROR_INVALID_VALUE). Names are the
//                                   API names (cuMemAlloc, not cuMemAlloc_v2).
//
// Module images: PTX text (".version" before the first ".entry"; each
// `.entry NAME(.param ...)` becomes a function with its parameter sizes, a
// PTX containing "KVCC_MOCK_BAD_PTX" fails to JIT with a log), or
//   "KVCCMOCK\nNAME SIZE SIZE ...\n..."   (one kernel per line, param sizes).
// Anything else is CUDA_ERROR_INVALID_IMAGE.
//
// Launches run nothing, they are recorded; except a kernel named `vadd`
// (f32* a, f32* b, f32* c, u32 n: c[i] = a[i] + b[i] for i < n, over
// grid.x * block.x threads), `vadd_memref` (the same over expanded 1-D
// memrefs, MgpuHostVadd.mlir), which are emulated so round trips can be
// checked, and `kvcc_mock_call` (u64 fn, u64 arg: calls fn(arg) on the host),
// which lets a test double of model.so queue its work as a launch.
//
// Graphs: cuStreamBeginCapture_v2 makes a stream record its launches, fills
// and device-to-device copies (with each launch parameter's bytes) instead of
// running them; cuGraphLaunch runs them again, in order. As the driver, a
// capture is invalidated by a synchronization of the stream or context, and
// in the strict modes (global, thread-local) by cuMemAlloc; stricter than the
// driver, also by cuMemFree in any mode and by a copy to or from host memory.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_UNIT_CUDA_MOCKCUDA_H
#define KVCC_TEST_UNIT_CUDA_MOCKCUDA_H

#include <cstdint>

extern "C" {

struct KvccMockLaunch {
  char name[64];
  unsigned grid[3], block[3], cluster[3]; // cluster {0,0,0}: cuLaunchKernel
  unsigned sharedBytes;
  int paramCount;                         // from the module's kernel signature
  void *stream;
  uint64_t params[16];                    // first 8 bytes of each parameter
};

/// Launches recorded since the last reset.
int kvcc_mock_cuda_launch_count(void);
/// 0 and *out filled, or -1 when i is out of range.
int kvcc_mock_cuda_get_launch(int i, struct KvccMockLaunch *out);
/// Live device allocations, streams, events and modules.
int64_t kvcc_mock_cuda_live_allocations(void);
int kvcc_mock_cuda_live_objects(void);
/// Times the API function `name` was entered (also when it failed).
int kvcc_mock_cuda_call_count(const char *name);
/// Bytes the copy function `name` (e.g. "cuMemcpyDtoHAsync") moved.
int64_t kvcc_mock_cuda_bytes_copied(const char *name);
/// The opt level of the last cuModuleLoadDataEx (-1: none given).
int kvcc_mock_cuda_last_jit_opt_level(void);
/// The value of the last cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES).
int kvcc_mock_cuda_last_smem_attribute(void);
/// Clears launches, call counts and copied bytes (allocations and objects stay).
void kvcc_mock_cuda_reset(void);
/// The next stream/context synchronization returns `error` (a kernel fault),
/// and keeps returning it (sticky, like the real driver) until reset.
void kvcc_mock_cuda_inject_async_error(int error);
}

#endif // KVCC_TEST_UNIT_CUDA_MOCKCUDA_H
