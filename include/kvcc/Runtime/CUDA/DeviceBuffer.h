//===- DeviceBuffer.h - An owned device allocation --------------*- C++ -*-===//
//
// RAII over cuMemAlloc / cuMemFree (plain device memory, never managed) with
// bounds-checked host<->device copies and fills. Every operation makes the
// buffer's context current on the calling thread first, so a buffer may be
// used from any thread.
//
// The *Async operations enqueue on `stream` (nullptr: the legacy default
// stream) and return at once; the host memory they read or write must stay
// alive and untouched until the stream is synchronized. upload/download are
// the synchronous forms.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_CUDA_DEVICEBUFFER_H
#define KVCC_RUNTIME_CUDA_DEVICEBUFFER_H

#include "kvcc/Runtime/CUDA/CudaDriver.h"

#include <cstddef>
#include <cstdint>

namespace kvcc::cuda {

class KVCC_CUDA_EXPORT DeviceBuffer {
public:
  /// `bytes` of device memory on `device` (contents undefined). Zero bytes
  /// give an empty buffer with a null address.
  static Expected<DeviceBuffer> allocate(const CudaDevice &device, size_t bytes);

  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  /// Frees the memory; errors are dropped (call free() to see them).
  ~DeviceBuffer();

  CUdeviceptr address() const { return ptr_; }
  /// The address as a pointer, for memref descriptors handed to GPU code.
  void *data() const { return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr_)); }
  size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }

  /// Frees now and reports the driver's verdict; the buffer becomes empty.
  Status free();

  Status copyFromHostAsync(const void *src, size_t bytes, size_t offset = 0, CUstream stream = nullptr);
  Status copyToHostAsync(void *dst, size_t bytes, size_t offset = 0, CUstream stream = nullptr) const;
  /// bytes from src[srcOffset..] to this[dstOffset..].
  Status copyFromDeviceAsync(const DeviceBuffer &src, size_t bytes, size_t dstOffset = 0, size_t srcOffset = 0,
                             CUstream stream = nullptr);
  /// `count` 32-bit words of `value` from byte `offset` (4-byte aligned).
  Status fill32Async(uint32_t value, size_t count, size_t offset = 0, CUstream stream = nullptr);
  /// `count` 16-bit halves of `value` from byte `offset` (2-byte aligned).
  Status fill16Async(uint16_t value, size_t count, size_t offset = 0, CUstream stream = nullptr);

  /// Synchronous forms: enqueue on `stream`, then wait for it.
  Status upload(const void *src, size_t bytes, size_t offset = 0, CUstream stream = nullptr);
  Status download(void *dst, size_t bytes, size_t offset = 0, CUstream stream = nullptr) const;
  Status zero(CUstream stream = nullptr);

private:
  Status range(const char *op, size_t bytes, size_t offset, size_t align) const;
  Status makeCurrent() const;
  Status sync(CUstream stream) const;
  CudaDriver *driver_ = nullptr;
  CUcontext context_ = nullptr;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

} // namespace kvcc::cuda

#endif // KVCC_RUNTIME_CUDA_DEVICEBUFFER_H
