//===- DeviceBufferTest.cpp - DeviceBuffer against the mock driver --------===//
//
// DeviceBuffer against the mock driver: round trips, device-to-device copies
// and fills, bounds and alignment, failures named by their call, and use from
// a thread without a current context.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace cudatest;

namespace {

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

} // namespace
