//===- DeviceBuffer.cpp - An owned device allocation ----------------------===//
#include "kvcc/Runtime/CUDA/DeviceBuffer.h"

#include <string>
#include <utility>

using namespace kvcc;
using namespace kvcc::cuda;

Expected<DeviceBuffer> DeviceBuffer::allocate(const CudaDevice &device, size_t bytes) {
  DeviceBuffer b;
  b.driver_ = &device.driver();
  b.context_ = device.context();
  if (bytes == 0)
    return b;
  if (Status s = b.makeCurrent(); !s)
    return s;
  CUdeviceptr p = 0;
  if (Status s = KVCC_CU_CHECK(*b.driver_, cuMemAlloc, &p, bytes); !s)
    return Status::error(s.message() + " (allocating " + std::to_string(bytes) + " bytes of device memory)");
  b.ptr_ = p;
  b.bytes_ = bytes;
  return b;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : driver_(other.driver_), context_(other.context_), ptr_(other.ptr_), bytes_(other.bytes_) {
  other.ptr_ = 0;
  other.bytes_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    (void)free();
    driver_ = other.driver_;
    context_ = other.context_;
    ptr_ = other.ptr_;
    bytes_ = other.bytes_;
    other.ptr_ = 0;
    other.bytes_ = 0;
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() { (void)free(); }

Status DeviceBuffer::free() {
  if (!ptr_)
    return Status::success();
  CUdeviceptr p = ptr_;
  ptr_ = 0;
  bytes_ = 0;
  if (Status s = makeCurrent(); !s)
    return s;
  return KVCC_CU_CHECK(*driver_, cuMemFree, p);
}

Status DeviceBuffer::makeCurrent() const {
  if (!driver_)
    return Status::error("DeviceBuffer: not allocated");
  return KVCC_CU_CHECK(*driver_, cuCtxSetCurrent, context_);
}

Status DeviceBuffer::range(const char *op, size_t bytes, size_t offset, size_t align) const {
  if (!driver_)
    return Status::error(std::string("DeviceBuffer::") + op + ": the buffer was never allocated");
  if (offset > bytes_ || bytes > bytes_ - offset)
    return Status::error(std::string("DeviceBuffer::") + op + ": " + std::to_string(bytes) + " bytes at offset " +
                         std::to_string(offset) + " exceed the buffer of " + std::to_string(bytes_) + " bytes");
  if (align > 1 && offset % align != 0)
    return Status::error(std::string("DeviceBuffer::") + op + ": offset " + std::to_string(offset) +
                         " is not a multiple of " + std::to_string(align));
  return makeCurrent();
}

Status DeviceBuffer::sync(CUstream stream) const { return KVCC_CU_CHECK(*driver_, cuStreamSynchronize, stream); }

Status DeviceBuffer::copyFromHostAsync(const void *src, size_t bytes, size_t offset, CUstream stream) {
  if (Status s = range("copyFromHost", bytes, offset, 1); !s)
    return s;
  if (bytes == 0)
    return Status::success();
  return KVCC_CU_CHECK(*driver_, cuMemcpyHtoDAsync, ptr_ + offset, src, bytes, stream);
}

Status DeviceBuffer::copyToHostAsync(void *dst, size_t bytes, size_t offset, CUstream stream) const {
  if (Status s = range("copyToHost", bytes, offset, 1); !s)
    return s;
  if (bytes == 0)
    return Status::success();
  return KVCC_CU_CHECK(*driver_, cuMemcpyDtoHAsync, dst, ptr_ + offset, bytes, stream);
}

Status DeviceBuffer::copyFromDeviceAsync(const DeviceBuffer &src, size_t bytes, size_t dstOffset, size_t srcOffset,
                                         CUstream stream) {
  if (Status s = range("copyFromDevice", bytes, dstOffset, 1); !s)
    return s;
  if (Status s = src.range("copyFromDevice (source)", bytes, srcOffset, 1); !s)
    return s;
  if (bytes == 0)
    return Status::success();
  return KVCC_CU_CHECK(*driver_, cuMemcpyDtoDAsync, ptr_ + dstOffset, src.ptr_ + srcOffset, bytes, stream);
}

Status DeviceBuffer::fill32Async(uint32_t value, size_t count, size_t offset, CUstream stream) {
  if (count > bytes_ / 4)
    return Status::error("DeviceBuffer::fill32: " + std::to_string(count) + " words exceed the buffer of " +
                         std::to_string(bytes_) + " bytes");
  if (Status s = range("fill32", count * 4, offset, 4); !s)
    return s;
  if (count == 0)
    return Status::success();
  return KVCC_CU_CHECK(*driver_, cuMemsetD32Async, ptr_ + offset, value, count, stream);
}

Status DeviceBuffer::fill16Async(uint16_t value, size_t count, size_t offset, CUstream stream) {
  if (count > bytes_ / 2)
    return Status::error("DeviceBuffer::fill16: " + std::to_string(count) + " halves exceed the buffer of " +
                         std::to_string(bytes_) + " bytes");
  if (Status s = range("fill16", count * 2, offset, 2); !s)
    return s;
  if (count == 0)
    return Status::success();
  return KVCC_CU_CHECK(*driver_, cuMemsetD16Async, ptr_ + offset, value, count, stream);
}

Status DeviceBuffer::upload(const void *src, size_t bytes, size_t offset, CUstream stream) {
  if (Status s = copyFromHostAsync(src, bytes, offset, stream); !s)
    return s;
  return sync(stream);
}

Status DeviceBuffer::download(void *dst, size_t bytes, size_t offset, CUstream stream) const {
  if (Status s = copyToHostAsync(dst, bytes, offset, stream); !s)
    return s;
  return sync(stream);
}

Status DeviceBuffer::zero(CUstream stream) {
  if (!driver_ || bytes_ == 0)
    return Status::success();
  // D32 over the word-aligned body, a copy of zeros for a 1..3-byte tail.
  static const unsigned char kZeros[4] = {0, 0, 0, 0};
  size_t words = bytes_ / 4;
  if (Status s = fill32Async(0, words, 0, stream); !s)
    return s;
  if (size_t tail = bytes_ % 4)
    if (Status s = copyFromHostAsync(kZeros, tail, words * 4, stream); !s)
      return s;
  return sync(stream);
}
