//===- GGUFTest.cpp - Tests for the GGUF reader ---------------------------===//
#include "kvcc/Frontend/GGUF.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

using namespace kvcc;
using namespace kvcc::test;

namespace {

// Independent binary16 reference: the IEEE formula evaluated in double.
double refHalf(uint16_t h) {
  int sign = (h >> 15) ? -1 : 1;
  int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0)
    return sign * std::ldexp(static_cast<double>(m), -24);
  if (e == 31)
    return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

uint16_t halfBits(double v) { // exact for the values the tests use
  for (uint32_t h = 0; h < 0x10000; ++h)
    if (refHalf(static_cast<uint16_t>(h)) == v && !(v == 0 && std::signbit(v) != bool(h >> 15)))
      return static_cast<uint16_t>(h);
  ADD_FAILURE() << v << " is not an f16 value";
  return 0;
}

Expected<GGUFFile> openBytes(const TempDir &dir, const std::string &bytes, const std::string &name = "m.gguf") {
  std::string path = dir.file(name);
  EXPECT_TRUE(writeFile(path, bytes));
  return GGUFFile::open(path);
}

std::string openError(const GGUFBuilder &b) {
  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, b.build());
  EXPECT_FALSE(f.ok()) << "opened a corrupt file";
  return f.ok() ? std::string() : f.message();
}

#define EXPECT_HAS(haystack, needle)                                                                         \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

GGUFBuilder smallValidFile() {
  GGUFBuilder b;
  b.addString("general.architecture", "llama");
  b.addU32("general.alignment", 32);
  b.addStringArray("tokenizer.ggml.tokens", {"a", "bc", ""});
  b.addArray<int32_t>("tokenizer.ggml.token_type", 5, {1, 2, 3});
  b.addTensor("w", {4, 2}, 0, bytesOf(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  b.addTensor("h", {3}, 1, bytesOf(std::vector<uint16_t>{0x3C00, 0xC000, 0x0001}));
  return b;
}

TEST(GGUF, HalfAndBFloat16ConversionIsExactForAllValues) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float got = halfToFloat(static_cast<uint16_t>(h));
    double want = refHalf(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << "h=" << h;
      ASSERT_EQ(std::signbit(got), bool(h >> 15)) << h;
    }
  }
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(bfloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xC0A0), -5.0f);
  EXPECT_EQ(bfloat16ToFloat(0x0001), std::ldexp(1.0f, -133)); // subnormal
  EXPECT_TRUE(std::isinf(bfloat16ToFloat(0xFF80)) && bfloat16ToFloat(0xFF80) < 0);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7FC1)));
}

// The rounding kvcc-run's weight arena applies (--dtype=f16|bf16): every
// 16-bit value survives a round trip, and random floats (normal, subnormal,
// huge, ties) round as the compiler's own _Float16 conversion and as the
// bf16 definition (nearest, ties to even) do.
TEST(GGUFTest, FloatToHalfRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t bits = static_cast<uint16_t>(h);
    if ((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF)) // an f16 nan stays a nan
      ASSERT_TRUE(std::isnan(halfToFloat(floatToHalf(halfToFloat(bits))))) << std::hex << h;
    else
      ASSERT_EQ(floatToHalf(halfToFloat(bits)), bits) << std::hex << h;
    if ((bits & 0x7F80) == 0x7F80 && (bits & 0x7F)) // a bf16 nan
      ASSERT_TRUE(std::isnan(bfloat16ToFloat(floatToBFloat16(bfloat16ToFloat(bits))))) << std::hex << h;
    else
      ASSERT_EQ(floatToBFloat16(bfloat16ToFloat(bits)), bits) << std::hex << h;
  }
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) {
    uint32_t x = any(rng);
    if (i % 3 == 0) // exactly halfway between two halves: ties to even
      x = (x & 0xFFFFE000u) | 0x1000u;
    float f;
    std::memcpy(&f, &x, 4);
    if (std::isnan(f))
      continue;
    _Float16 expect = static_cast<_Float16>(f);
    uint16_t expectBits;
    std::memcpy(&expectBits, &expect, 2);
    ASSERT_EQ(floatToHalf(f), expectBits) << std::hexfloat << f;
    double exact = f, down = bfloat16ToFloat(static_cast<uint16_t>(x >> 16)),
           up = bfloat16ToFloat(static_cast<uint16_t>((x >> 16) + 1));
    double got = bfloat16ToFloat(floatToBFloat16(f));
    if (std::isfinite(up) && std::isfinite(got)) {
      ASSERT_LE(std::fabs(got - exact), std::fmin(std::fabs(down - exact), std::fabs(up - exact)))
          << std::hexfloat << f;
    }
  }
}

// The bulk conversion (F16C vectors where the CPU has them) gives
// floatToHalf's bits for every input, nans included, and any tail length.
TEST(GGUFTest, FloatsToHalvesMatchesFloatToHalf) {
  std::vector<float> in;
  for (uint32_t h = 0; h < 0x10000; ++h) { // every half, and the floats halfway to its neighbour
    float f = halfToFloat(static_cast<uint16_t>(h));
    in.push_back(f);
    in.push_back(std::nextafter(f, INFINITY));
    uint32_t x;
    std::memcpy(&x, &f, 4);
    x += 0x1000u; // halfway to the next half: a tie
    std::memcpy(&f, &x, 4);
    in.push_back(f);
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 100000; ++i) {
    uint32_t x = any(rng);
    float f;
    std::memcpy(&f, &x, 4);
    in.push_back(f);
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e30f, -1e-30f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f})
    in.push_back(f);
  for (size_t n : {in.size(), size_t(0), size_t(1), size_t(7), size_t(9), size_t(17)}) {
    std::vector<uint16_t> out(n + 1, 0xABCD);
    floatsToHalves(in.data(), out.data(), n);
    for (size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], floatToHalf(in[i])) << "element " << i << " " << std::hexfloat << in[i];
    ASSERT_EQ(out[n], 0xABCD) << "wrote past n = " << n;
  }
}

TEST(GGUF, EveryMetadataTypeRoundTrips) {
  GGUFBuilder b;
  b.version = 2;
  b.addScalar<uint8_t>("u8", 0, 250);
  b.addScalar<int8_t>("i8", 1, -100);
  b.addScalar<uint16_t>("u16", 2, 65000);
  b.addScalar<int16_t>("i16", 3, -30000);
  b.addScalar<uint32_t>("u32", 4, 4000000000u);
  b.addScalar<int32_t>("i32", 5, -2000000000);
  b.addScalar<float>("f32", 6, 0.1f);
  b.addScalar<uint8_t>("bool", 7, 1);
  b.addString("str", std::string("h\xC3\xA9llo\0x", 8));
  b.addScalar<uint64_t>("u64", 10, 1ull << 62);
  b.addScalar<int64_t>("i64", 11, -(1ll << 62));
  b.addScalar<double>("f64", 12, 1e-300);
  b.addScalar<uint64_t>("u64max", 10, ~0ull);
  b.addArray<uint8_t>("arr.u8", 0, {1, 2, 255});
  b.addArray<int16_t>("arr.i16", 3, {-1, 7});
  b.addArray<float>("arr.f32", 6, {1.5f, -2.0f});
  b.addArray<double>("arr.f64", 12, {3.25});
  b.addArray<int64_t>("arr.i64", 11, {});
  b.addStringArray("arr.str", {"x", "", "yz"});
  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, b.build());
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->metadata().size(), 19u);
  EXPECT_EQ(f->metadata()[0].first, "u8");
  EXPECT_EQ(*f->getInt("u8"), 250);
  EXPECT_EQ(*f->getInt("i8"), -100);
  EXPECT_EQ(*f->getInt("u16"), 65000);
  EXPECT_EQ(*f->getInt("i16"), -30000);
  EXPECT_EQ(*f->getUInt("u32"), 4000000000u);
  EXPECT_EQ(*f->getInt("i32"), -2000000000);
  EXPECT_EQ(*f->getFloat("f32"), static_cast<double>(0.1f));
  EXPECT_EQ(*f->getBool("bool"), true);
  EXPECT_EQ(*f->getString("str"), std::string("h\xC3\xA9llo\0x", 8));
  EXPECT_EQ(*f->getUInt("u64"), 1ull << 62);
  EXPECT_EQ(*f->getInt("i64"), -(1ll << 62));
  EXPECT_EQ(*f->getFloat("f64"), 1e-300);
  EXPECT_EQ(*f->getUInt("u64max"), ~0ull);
  EXPECT_EQ(*f->getFloat("u16"), 65000.0);
  EXPECT_EQ(*f->getIntArray("arr.u8"), (std::vector<int64_t>{1, 2, 255}));
  EXPECT_EQ(*f->getIntArray("arr.i16"), (std::vector<int64_t>{-1, 7}));
  EXPECT_EQ(*f->getFloatArray("arr.f32"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(*f->getFloatArray("arr.f64"), (std::vector<double>{3.25}));
  EXPECT_TRUE(f->getIntArray("arr.i64")->empty());
  EXPECT_EQ(*f->getStringArray("arr.str"), (std::vector<std::string>{"x", "", "yz"}));
  // An array of strings is not an array of integers (token_type must not be
  // silently empty).
  Expected<std::vector<int64_t>> notInts = f->getIntArray("arr.str");
  ASSERT_FALSE(notInts.ok());
  EXPECT_NE(notInts.message().find("has type array of string, expected array of integers"),
            std::string::npos)
      << notInts.message();
  EXPECT_EQ(f->find("arr.str")->arraySize(), 3u);

  // Typed lookups name the key and the stored type.
  EXPECT_HAS(f->getInt("missing").message(), "missing metadata key 'missing'");
  EXPECT_HAS(f->getString("u8").message(), "metadata key 'u8' has type uint8, expected string");
  EXPECT_HAS(f->getInt("str").message(), "'str' has type string, expected an integer");
  EXPECT_HAS(f->getInt("u64max").message(), "does not fit in int64");
  EXPECT_HAS(f->getUInt("i8").message(), "'i8' is negative (-100)");
  EXPECT_HAS(f->getBool("u8").message(), "expected bool");
  EXPECT_HAS(f->getFloat("str").message(), "expected a float");
  EXPECT_HAS(f->getInt("arr.u8").message(), "'arr.u8' has type array of uint8, expected an integer");
  EXPECT_HAS(f->getStringArray("arr.u8").message(), "array of uint8, expected array of string");
  EXPECT_HAS(f->getFloatArray("arr.i16").message(), "expected array of floats");
  EXPECT_HAS(f->getIntArray("str").message(), "'str' has type string, expected array of integers");
}

TEST(GGUF, TensorInfosAndData) {
  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, smallValidFile().build());
  ASSERT_TRUE(f.ok()) << f.message();
  ASSERT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->dataOffset() % 32, 0u);
  const GGUFTensorInfo *w = f->findTensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(w->numElements, 8u);
  EXPECT_EQ(w->numBytes, 32u);
  EXPECT_EQ(f->findTensor("nope"), nullptr);
  std::vector<float> out(8);
  ASSERT_TRUE(f->dequantize(*w, out.data(), out.size()).ok());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  const GGUFTensorInfo *h = f->findTensor("h");
  EXPECT_EQ(h->offset, 32u);
  std::vector<float> hv(3);
  ASSERT_TRUE(f->dequantize(*h, hv.data(), 3).ok());
  EXPECT_EQ(hv, (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
  EXPECT_HAS(f->dequantize(*h, hv.data(), 2).message(), "tensor 'h' has 3 elements, but the destination holds 2");
  EXPECT_EQ(*f->tokenizerTokens(), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(*f->tokenizerTokenTypes(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(f->chatTemplate().ok());
}

TEST(GGUF, DequantizesQuantizedBlocksAsGgml) {
  const double d0 = 0.375, d1 = -1.25, m1 = -1.5, dsub = std::ldexp(3.0, -24);
  GGUFBuilder b;
  // Q8_0: two blocks, the second with a negative scale.
  std::string q8;
  std::vector<double> q8want;
  for (double d : {d0, d1}) {
    put<uint16_t>(q8, halfBits(d));
    for (int j = 0; j < 32; ++j) {
      int8_t q = static_cast<int8_t>(j * 8 - 128 + (d < 0 ? 3 : 0));
      q8 += static_cast<char>(q);
      q8want.push_back(q * d);
    }
  }
  b.addTensor("q8", {32, 2}, 8, q8);
  // Q4_0: byte j holds low nibble j and high nibble 15 - j, so each of the
  // 32 positions decodes to a distinct value.
  std::string q40;
  std::vector<double> q40want(64);
  for (int blk = 0; blk < 2; ++blk) {
    double d = blk ? d1 : d0;
    put<uint16_t>(q40, halfBits(d));
    for (int j = 0; j < 16; ++j) {
      q40 += static_cast<char>(j | ((15 - j) << 4));
      q40want[blk * 32 + j] = (j - 8) * d;
      q40want[blk * 32 + j + 16] = (15 - j - 8) * d;
    }
  }
  b.addTensor("q40", {64}, 2, q40);
  // Q4_1: a negative scale with a negative min, then a subnormal f16 scale.
  std::string q41;
  std::vector<double> q41want(64);
  for (int blk = 0; blk < 2; ++blk) {
    double d = blk ? dsub : d1, m = blk ? 0.5 : m1;
    put<uint16_t>(q41, blk ? uint16_t(3) : halfBits(d));
    put<uint16_t>(q41, halfBits(m));
    for (int j = 0; j < 16; ++j) {
      int lo = (j * 5) % 16, hi = (j * 3 + 1) % 16;
      q41 += static_cast<char>(lo | (hi << 4));
      q41want[blk * 32 + j] = lo * d + m;
      q41want[blk * 32 + j + 16] = hi * d + m;
    }
  }
  b.addTensor("q41", {32, 2}, 3, q41);
  b.addTensor("bf", {4}, 30, bytesOf(std::vector<uint16_t>{0x3F80, 0xC0A0, 0x0001, 0x4049}));
  b.addTensor("f16", {4}, 1, bytesOf(std::vector<uint16_t>{0x03FF, 0x8000, 0x7C00, 0x3555}));

  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, b.build());
  ASSERT_TRUE(f.ok()) << f.message();
  auto deq = [&](const char *name) {
    const GGUFTensorInfo *t = f->findTensor(name);
    std::vector<float> out(t ? t->numElements : 0, NAN);
    Status s = t ? f->dequantize(*t, out.data(), out.size()) : Status::error("no tensor");
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  };
  std::vector<float> got = deq("q8");
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], static_cast<float>(q8want[i])) << "q8 " << i;
  got = deq("q40");
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], static_cast<float>(q40want[i])) << "q40 " << i;
  got = deq("q41");
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_FLOAT_EQ(got[i], static_cast<float>(q41want[i])) << "q41 " << i;
  EXPECT_EQ(got[0], static_cast<float>(m1));       // q = 0
  EXPECT_EQ(got[16], static_cast<float>(-2.75));   // hi nibble 1: 1 * -1.25 - 1.5
  EXPECT_EQ(got[33], static_cast<float>(5 * dsub + 0.5));
  got = deq("bf");
  EXPECT_EQ(got, (std::vector<float>{1.0f, -5.0f, std::ldexp(1.0f, -133), 3.140625f}));
  got = deq("f16");
  EXPECT_EQ(got[0], std::ldexp(1023.0f, -24));
  EXPECT_TRUE(got[1] == 0 && std::signbit(got[1]));
  EXPECT_TRUE(std::isinf(got[2]));
  EXPECT_EQ(got[3], static_cast<float>(refHalf(0x3555)));
}

TEST(GGUF, UnsupportedTypeIsNamedOnDequantize) {
  GGUFBuilder b;
  b.addTensor("blk.0.ffn_down.weight", {256}, 14, std::string(210, '\0'));
  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, b.build());
  ASSERT_TRUE(f.ok()) << f.message();
  std::vector<float> out(256);
  EXPECT_HAS(f->dequantize(f->tensors()[0], out.data(), out.size()).message(),
             "tensor 'blk.0.ffn_down.weight' has type Q6_K (14), which kvcc does not dequantize (supported: F32, "
             "F16, BF16, Q8_0, Q4_0, Q4_1)");
  EXPECT_EQ(ggmlTypeDescription(39), "MXFP4 (39)");
  EXPECT_EQ(ggmlTypeTraits(12).typeSize, 144u);
}

TEST(GGUF, TruncationAtEveryByteFails) {
  std::string bytes = smallValidFile().build();
  TempDir dir;
  ASSERT_TRUE(openBytes(dir, bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Expected<GGUFFile> f = openBytes(dir, bytes.substr(0, n));
    EXPECT_FALSE(f.ok()) << "prefix of " << n << " bytes opened";
  }
}

TEST(GGUF, CorruptingAnyByteNeverCrashes) {
  // Overwrite each byte with a few values; whatever opens must also read.
  std::string bytes = smallValidFile().build();
  TempDir dir;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x7F, 0x80, 0xFF}) {
      std::string b = bytes;
      b[i] = static_cast<char>(v);
      Expected<GGUFFile> f = openBytes(dir, b);
      if (!f.ok()) {
        EXPECT_FALSE(f.message().empty());
        continue;
      }
      for (const GGUFTensorInfo &t : f->tensors()) {
        std::vector<float> out(t.numElements);
        (void)f->dequantize(t, out.data(), out.size());
      }
    }
  }
}

// Replaces general.alignment (the second key of smallValidFile) by a value
// of the given type.
template <typename T> void setAlignment(GGUFBuilder &b, uint32_t type, T value) {
  b.kvs[1].second.clear();
  put<uint32_t>(b.kvs[1].second, type);
  put<T>(b.kvs[1].second, value);
}

TEST(GGUF, CorruptHeadersGiveSpecificErrors) {
  std::string hugeString, hugeArray, nestedArray;
  put<uint64_t>(hugeString, 1ull << 40);
  hugeString += "abc";
  put<uint32_t>(hugeArray, 8);
  put<uint64_t>(hugeArray, 1ull << 50);
  put<uint32_t>(nestedArray, 9);
  put<uint64_t>(nestedArray, 0);
  struct Case {
    std::function<void(GGUFBuilder &)> corrupt;
    const char *expected;
  } cases[] = {
      {[](GGUFBuilder &b) { b.nKVOverride = 1ull << 60; },
       "header declares 1152921504606846976 metadata key/value pairs"},
      {[](GGUFBuilder &b) { b.nTensorsOverride = 1ull << 40; }, "tensors, but only"},
      {[&](GGUFBuilder &b) { b.addRaw("bad.string", 8, hugeString); },
       "metadata key 'bad.string': string length 1099511627776"},
      {[&](GGUFBuilder &b) { b.addRaw("huge.array", 9, hugeArray); },
       "metadata key 'huge.array': array of 1125899906842624 string elements"},
      {[&](GGUFBuilder &b) { b.addRaw("nested", 9, nestedArray); }, "nested arrays are not supported"},
      {[](GGUFBuilder &b) { b.addRaw("weird", 13, ""); }, "metadata key 'weird' has unknown value type 13"},
      {[](GGUFBuilder &b) { b.addString("general.architecture", "again"); },
       "duplicate metadata key 'general.architecture'"},
      {[](GGUFBuilder &b) { b.addTensor("deep", std::vector<uint64_t>(9, 1), 0, std::string(4, '\0')); },
       "tensor 'deep' has n_dims 9 (must be 1..4)"},
      {[](GGUFBuilder &b) { b.tensors[1].offset = 36; },
       "tensor 'h': data offset 36 is not a multiple of the alignment 32"},
      {[](GGUFBuilder &b) { b.tensors[1].offset = 0; }, "tensor 'h': data range [0, 6) overlaps tensor 'w' [0, 32)"},
      {[](GGUFBuilder &b) { b.tensors[1].offset = 1ull << 30; }, ") lies past the end of the file ("},
      {[](GGUFBuilder &b) { b.tensors[1].offset = ~0ull - 31; }, "tensor 'h': data offset 18446744073709551584"},
      {[](GGUFBuilder &b) { b.tensors[0].dims = {1ull << 62, 1ull << 62}; }, "tensor 'w': element count overflows"},
      {[](GGUFBuilder &b) { b.tensors[1].type = 99; }, "tensor 'h' has unknown tensor type 99"},
      {[](GGUFBuilder &b) { b.tensors[1].type = 4; }, "tensor 'h' has type Q4_2 (4), which was removed from ggml"},
      {[](GGUFBuilder &b) { b.addTensor("q", {31}, 8, std::string(34, '\0')); },
       "tensor 'q': ne[0] = 31 is not a multiple of the block size 32 of type Q8_0 (8)"},
      {[](GGUFBuilder &b) { b.addTensor("w", {1}, 0, std::string(4, '\0')); }, "duplicate tensor name 'w'"},
      {[](GGUFBuilder &b) { setAlignment<uint32_t>(b, 4, 48); },
       "metadata key 'general.alignment' is 48, expected a power of two"},
      {[](GGUFBuilder &b) { setAlignment<uint64_t>(b, 10, 64); },
       "'general.alignment' has type uint64, expected uint32"},
      {[](GGUFBuilder &b) { b.version = 1; }, "GGUF version 1 is not supported"},
      {[](GGUFBuilder &b) { b.version = 4; }, "GGUF version 4 is not supported (supported: 2, 3)"},
  };
  for (const Case &c : cases) {
    GGUFBuilder b = smallValidFile();
    c.corrupt(b);
    std::string msg = openError(b);
    EXPECT_HAS(msg, c.expected);
    EXPECT_HAS(msg, "m.gguf: "); // every error names the file
  }
  TempDir dir;
  std::string bytes = smallValidFile().build();
  bytes[0] = 'X';
  EXPECT_HAS(openBytes(dir, bytes).message(), "not a GGUF file (bad magic");
}

TEST(GGUF, CustomAlignmentPlacesDataSection) {
  GGUFBuilder b = smallValidFile();
  setAlignment<uint32_t>(b, 4, 64);
  b.alignment = 64;
  TempDir dir;
  Expected<GGUFFile> f = openBytes(dir, b.build());
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->dataOffset() % 64, 0u);
  EXPECT_EQ(f->findTensor("h")->offset, 64u);
}

} // namespace
