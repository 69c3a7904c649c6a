//===- MgpuABI.h - The launch ABI of MLIR's gpu-to-llvm host code -*- C++ -*-===//
//
// The host code that MLIR 22's `gpu-to-llvm` (+ LLVM IR translation of
// gpu.binary / gpu.launch_func) emits calls these mgpu* functions; upstream
// implements them in libmlir_cuda_runtime, which Debian does not ship, so
// libkvcc_cuda_runtime.so implements them over CudaDriver. The signatures are
// the ones the installed compiler emits (LLVM types in the comments):
//
//   mgpuModuleLoad(ptr, i64) -> ptr          format=bin/fatbin: cubin/fatbin blob
//   mgpuModuleLoadJIT(ptr, i32) -> ptr       format=isa: NUL-terminated PTX, opt level
//   mgpuLaunchKernel(ptr, i64 x6, i32, ptr, ptr, ptr, i64)
//   mgpuLaunchClusterKernel(ptr, i64 x9, i32, ptr, ptr, ptr)
//   mgpuMemAlloc(i64, ptr, i8) -> ptr        bytes, stream, host_shared
//   mgpuMemset32(ptr, i32, i64, ptr), mgpuMemset16(ptr, i16, i64, ptr)   count of elements
//   ...
//
// Errors. These functions cannot return one, so the first failure is kept in
// a process-wide status (thread-safe) and every later call that does work is
// a no-op returning null: the executor checks kvcc_cuda_last_error() after
// each step. Calls that release a non-null handle (free, destroy, unload)
// still release it, without recording their own failure, so that an aborted
// step does not leak. kvcc_cuda_clear_error() starts over.
//
// Device. Everything runs in the primary context of the device chosen by
// kvcc_cuda_init(ordinal), or of device mgpuSetDefaultDevice() names (0 if
// neither was called) on the first call that needs one. The context is made
// current on the calling thread by every call.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_CUDA_MGPUABI_H
#define KVCC_RUNTIME_CUDA_MGPUABI_H

#include "kvcc/Runtime/CUDA/CudaDriver.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" {

/// Opens device `ordinal` for the mgpu functions: 0, or -1 with the error
/// recorded (also when a failure is already recorded, or the runtime already
/// runs on another device).
KVCC_CUDA_EXPORT int kvcc_cuda_init(int ordinal);
/// The first recorded failure, or NULL. Valid until kvcc_cuda_clear_error().
KVCC_CUDA_EXPORT const char *kvcc_cuda_last_error(void);
KVCC_CUDA_EXPORT void kvcc_cuda_clear_error(void);
/// The device's streaming multiprocessors: model.so plans the split-KV factor
/// of each decode call from it (kvc.paged_attention max_splits). 1 when the
/// device cannot be opened (the failure is recorded; launches do nothing).
KVCC_CUDA_EXPORT int32_t kvcc_cuda_multiprocessor_count(void);
/// Caching (off by default; the executor turns it on): mgpuStreamDestroy keeps
/// the stream for the next mgpuStreamCreate, and mgpuMemFree keeps the block
/// (allocations are rounded to size classes) for the next mgpuMemAlloc of its
/// class, so a model step stops paying a driver call per launch and per
/// intermediate buffer. kvcc_cuda_trim() returns what is kept to the driver
/// (0, or -1 with the failure recorded); an allocation that runs out of memory
/// trims and retries once.
KVCC_CUDA_EXPORT void kvcc_cuda_set_caching(int on);
KVCC_CUDA_EXPORT int kvcc_cuda_trim(void);
/// Bytes of device memory kept idle by the cache.
KVCC_CUDA_EXPORT uint64_t kvcc_cuda_cached_bytes(void);
/// Steps: between kvcc_cuda_begin_step() and kvcc_cuda_end_step(), every
/// mgpu stream (and every cuBLAS call) is one stream, mgpuStreamSynchronize on
/// it returns at once, and a cached block (kvcc_cuda_set_caching) freed on it
/// goes back to the cache without waiting: model.so's synchronous launches
/// become a queue the host only waits for once. begin_step orders the stream
/// after the work already on the legacy stream (the caller's uploads) and
/// returns the stream, for the caller's own copies of the step; NULL with the failure
/// recorded (also when a step is already open). end_step waits for the stream
/// and closes the step: 0, or -1 with the failure recorded (a kernel fault of
/// the step shows here).
KVCC_CUDA_EXPORT void *kvcc_cuda_begin_step(void);
KVCC_CUDA_EXPORT int kvcc_cuda_end_step(void);
/// CUDA graphs of a step. In an open step, kvcc_cuda_begin_capture() makes
/// the step's stream record instead of run (relaxed capture mode): every
/// launch, GEMM and device copy model.so issues becomes a node, with its
/// arguments as they are now. Blocks allocated while capturing come from a
/// pool of their own that is not given back to the driver while a graph
/// lives: a graph reads and writes the addresses it was captured with. Graphs
/// share that pool safely because each replay runs on the one step stream.
/// kvcc_cuda_end_capture() stops recording (also after a failure) and
/// instantiates the graph into *exec: 0, or -1 with the failure recorded
/// (a call that cannot be captured, such as a synchronization, or a driver
/// without graphs). kvcc_cuda_launch_graph() queues a replay on the open
/// step's stream (0, or -1 with the failure recorded);
/// kvcc_cuda_destroy_graph() releases one; kvcc_cuda_live_graphs() counts them.
KVCC_CUDA_EXPORT int kvcc_cuda_begin_capture(void);
KVCC_CUDA_EXPORT int kvcc_cuda_end_capture(void **exec);
KVCC_CUDA_EXPORT int kvcc_cuda_launch_graph(void *exec);
KVCC_CUDA_EXPORT void kvcc_cuda_destroy_graph(void *exec);
KVCC_CUDA_EXPORT int kvcc_cuda_live_graphs(void);

KVCC_CUDA_EXPORT void *mgpuModuleLoad(void *data, size_t gpuBlobSize);
KVCC_CUDA_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel);
KVCC_CUDA_EXPORT void mgpuModuleUnload(void *module);
KVCC_CUDA_EXPORT void *mgpuModuleGetFunction(void *module, const char *name);
KVCC_CUDA_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                                       intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
                                       void *stream, void **params, void **extra, size_t paramsCount);
KVCC_CUDA_EXPORT void mgpuLaunchClusterKernel(void *function, intptr_t clusterX, intptr_t clusterY,
                                              intptr_t clusterZ, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                                              intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
                                              void *stream, void **params, void **extra);
KVCC_CUDA_EXPORT void *mgpuStreamCreate(void);
KVCC_CUDA_EXPORT void mgpuStreamDestroy(void *stream);
KVCC_CUDA_EXPORT void mgpuStreamSynchronize(void *stream);
KVCC_CUDA_EXPORT void mgpuStreamWaitEvent(void *stream, void *event);
KVCC_CUDA_EXPORT void *mgpuEventCreate(void);
KVCC_CUDA_EXPORT void mgpuEventDestroy(void *event);
KVCC_CUDA_EXPORT void mgpuEventSynchronize(void *event);
KVCC_CUDA_EXPORT void mgpuEventRecord(void *event, void *stream);
KVCC_CUDA_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
KVCC_CUDA_EXPORT void mgpuMemFree(void *ptr, void *stream);
KVCC_CUDA_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream);
KVCC_CUDA_EXPORT void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);
KVCC_CUDA_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream);
KVCC_CUDA_EXPORT void mgpuSetDefaultDevice(int32_t device);
KVCC_CUDA_EXPORT void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes);
KVCC_CUDA_EXPORT void mgpuMemHostUnregister(void *ptr);
/// `descriptor` points at a ranked strided memref descriptor of rank `rank`.
KVCC_CUDA_EXPORT void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor, int64_t elementSizeBytes);
KVCC_CUDA_EXPORT void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor, int64_t elementSizeBytes);

} // extern "C"

namespace kvcc::cuda {

/// The first recorded failure of the mgpu functions, or success.
KVCC_CUDA_EXPORT Status mgpuStatus();
KVCC_CUDA_EXPORT void mgpuClearError();
/// The stream of the open step (kvcc_cuda_begin_step), or null.
KVCC_CUDA_EXPORT void *mgpuOpenStepStream();
/// The device the mgpu functions run on, opened (as kvcc_cuda_init) on first
/// use: the executor allocates its buffers in the same context.
KVCC_CUDA_EXPORT Expected<CudaDevice *> mgpuDevice(int ordinal = 0);
/// For entry points of this library beyond the mgpu ABI (the cuBLAS GEMMs of
/// CublasMatmul.cpp): the device with its context current on this thread, or
/// null when a failure is (or just got) recorded; and recording a failure.
KVCC_CUDA_EXPORT CudaDevice *mgpuDeviceForCall(const char *who);
KVCC_CUDA_EXPORT void mgpuRecordFailure(const std::string &message);

/// Tests only: releases the device, forgets the error and the default device,
/// so the next call opens CudaDriver::get() again (e.g. after KVCC_LIBCUDA
/// changed). Handles from before are dangling.
KVCC_CUDA_EXPORT void mgpuResetForTesting();

} // namespace kvcc::cuda

#endif // KVCC_RUNTIME_CUDA_MGPUABI_H
