//===- HalfBits.h - 16-bit float bits for the tests' references -*- C++ -*-===//
//
// f16 through the compiler's _Float16 and bf16 by its definition (nearest
// even): conversions independent of kvcc's own, for the mock cuBLAS and the
// GEMM tests' float64 references.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TEST_UNIT_HALFBITS_H
#define KVCC_TEST_UNIT_HALFBITS_H

#include <cstdint>
#include <cstring>

namespace halfbits {

inline double decode(uint16_t h, bool bf16) {
  if (bf16) {
    uint32_t w = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  _Float16 x;
  std::memcpy(&x, &h, 2);
  return double(x);
}

/// Rounded to nearest even from float (no NaN inputs in the tests).
inline uint16_t encode(double v, bool bf16) {
  float f = float(v);
  if (bf16) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
  }
  _Float16 h = _Float16(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

} // namespace halfbits

#endif // KVCC_TEST_UNIT_HALFBITS_H
