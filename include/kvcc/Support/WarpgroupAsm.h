//===- WarpgroupAsm.h - inline PTX of the warpgroup MMA forms ---*- C++ -*-===//
//
// MLIR 22's NVVM dialect models wgmma.mma_async with both multiplicands in
// shared memory only; the prefill kernel's P·V takes A (the softmax weights)
// from registers, as FlashAttention-3 does, so the lowering emits that form
// as inline PTX, and the GPU emulator recognises it by the same text. This
// header is the contract between the two: the text and constraints the
// lowering writes, and the parser the emulator reads them back with. It says
// nothing about what the instruction computes (the emulator models that from
// the PTX ISA on its own).
//
// Also here: the accumulator fence, an empty asm that passes the
// accumulators through after wgmma.wait_group so that no use of them is
// scheduled before the wait (CUTLASS's warpgroup_fence_operand).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_SUPPORT_WARPGROUPASM_H
#define KVCC_SUPPORT_WARPGROUPASM_H

#include <cstdint>
#include <optional>
#include <string>

namespace kvcc::wgmma {

/// wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{f16|bf16}.{f16|bf16} with A
/// in four .b32 registers and B by shared-memory descriptor, accumulating
/// (scale-d true) into n/2 f32 registers.
struct RegisterAMma {
  int64_t n = 0;
  bool bf16 = false;
  bool transposeB = false; ///< imm-trans-b: B is N-major (MN-major)
};

/// Operand order: $0..$(n/2 - 1) the accumulators (outputs), then the four A
/// registers, the B descriptor, and the accumulators' inputs tied to the
/// outputs.
inline std::string registerAMmaAsm(const RegisterAMma &m) {
  const char *type = m.bf16 ? "bf16" : "f16";
  std::string d;
  for (int64_t i = 0; i < m.n / 2; ++i)
    d += (i ? ", $" : "$") + std::to_string(i);
  int64_t a = m.n / 2;
  return "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\nwgmma.mma_async.sync.aligned.m64n" +
         std::to_string(m.n) + "k16.f32." + type + "." + type + " {" + d + "}, {$" +
         std::to_string(a) + ", $" + std::to_string(a + 1) + ", $" + std::to_string(a + 2) +
         ", $" + std::to_string(a + 3) + "}, $" + std::to_string(a + 4) + ", p, 1, 1, " +
         (m.transposeB ? "1" : "0") + ";\n}\n";
}

inline std::string registerAMmaConstraints(int64_t n) {
  std::string c;
  for (int64_t i = 0; i < n / 2; ++i)
    c += "=f,";
  c += "r,r,r,r,l";
  for (int64_t i = 0; i < n / 2; ++i)
    c += "," + std::to_string(i);
  return c;
}

/// The form of TEXT if it is exactly what registerAMmaAsm writes.
inline std::optional<RegisterAMma> parseRegisterAMma(const std::string &text) {
  const std::string head = "wgmma.mma_async.sync.aligned.m64n";
  size_t at = text.find(head);
  if (at == std::string::npos)
    return std::nullopt;
  size_t p = at + head.size(), end = p;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9')
    ++end;
  if (end == p || end - p > 3)
    return std::nullopt;
  RegisterAMma m;
  m.n = std::stoll(text.substr(p, end - p));
  if (m.n < 8 || m.n > 256 || m.n % 8)
    return std::nullopt;
  for (bool bf16 : {false, true})
    for (bool transposeB : {false, true}) {
      m.bf16 = bf16;
      m.transposeB = transposeB;
      if (registerAMmaAsm(m) == text)
        return m;
    }
  return std::nullopt;
}

/// The accumulator fence: no instruction, N registers in and out ("+f").
inline const char *accumulatorFenceAsm() { return "// wgmma accumulators settled"; }

inline std::string accumulatorFenceConstraints(int64_t count) {
  std::string c;
  for (int64_t i = 0; i < count; ++i)
    c += "=f,";
  for (int64_t i = 0; i < count; ++i)
    c += (i ? "," : "") + std::to_string(i);
  return c;
}

/// The operand fence: no instruction, N registers in. Placed after the
/// wait that retires a register-A MMA, it keeps the A registers live until
/// then, so nothing (a register the compiler coalesced with them, say the
/// next tile's P) is written into them while the MMA may still read them
/// (PTX ISA 9.7.15.7.1; CUTLASS's warpgroup_fence_operand).
inline const char *operandFenceAsm() { return "// wgmma operands released"; }

inline std::string operandFenceConstraints(int64_t count) {
  std::string c;
  for (int64_t i = 0; i < count; ++i)
    c += (i ? ",r" : "r");
  return c;
}

} // namespace kvcc::wgmma

#endif // KVCC_SUPPORT_WARPGROUPASM_H
