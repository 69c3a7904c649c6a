//===- PrefillWarpgroupMma.cpp - the prefill kernel's GEMMs on wgmma -------===//
//
// The two GEMMs of the prefill kernel (PrefillAttentionToGPU.cpp) on Hopper's
// warpgroup MMA (--gpu-prefill-wgmma, sm_90a): a warpgroup of 4 warps per 64
// query rows, warp w of it owning rows 16w..16w+15 in the mma.sync C layout,
// so the kernel's masks, softmax and epilogue serve both.
//
//   S = Q·Kᵀ   wgmma.mma_async, both operands by shared-memory descriptor
//   O += P·V   P from registers (mma.sync's A fragments; the inline PTX of
//              kvcc/Support/WarpgroupAsm.h), V by descriptor, N-major
//
// Descriptors (PTX ISA 9.7.15.5.1.2): bits 0-13 the start address >> 4,
// 16-29 the leading and 32-45 the stride byte offset >> 4, 62-63 the swizzle
// (1: 128 bytes). The tiles are [64-column atoms][rows][64] with chunk c of
// row r at c ^ (r mod 8), from a 1024-byte boundary. Q and K are K-major (the
// contraction runs along their rows): 8-row groups 1024 bytes apart (SBO),
// k-step ks 32·(ks mod 4) bytes into the rows of atom ks / 4 (the hardware
// swizzles that address as the writers did). V is MN-major (B = V: k the
// key, n the head_dim along a row): a k-step of 16 keys is 2048 bytes, 8-key
// groups SBO = 1024 apart, 64-column atoms LBO = N·128 apart. Offsets are
// multiples of 16 below 2^18, so a descriptor is a base's plus a constant.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "kvcc/Support/WarpgroupAsm.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kSwizzle128 = int64_t(1) << 62;
/// K-major, 128-byte swizzle: SBO 1024 bytes, LBO unused (1).
constexpr int64_t kKMajorBits = kSwizzle128 | (int64_t(1024 / 16) << 32) | (int64_t(1) << 16);

/// The descriptor of the operand `offset16` 16-byte units past `base` (a
/// start address >> 4, i32), with the fields of `bits`: the low word is
/// base + offset16 + the LBO field, the high word (SBO and swizzle) a
/// constant. Every offset a kernel adds lands in the address field (shared
/// memory is below 2^18 bytes: no carry out of bits 0-13), so the adds are
/// 32-bit. In 64 bits each of the 24 descriptors of a K/V tile took a
/// register pair, two moves and a carry chain a warp.
Value descriptor(ImplicitLocOpBuilder &b, Value base, int64_t offset16, int64_t bits) {
  Value low = arith::AddIOp::create(b, base, c32(b, offset16 + (bits & 0xFFFFFFFF)));
  Value word = arith::ExtUIOp::create(b, b.getI64Type(), low);
  return arith::OrIOp::create(
      b, word, arith::ConstantOp::create(b, b.getI64IntegerAttr(bits & ~int64_t(0xFFFFFFFF))));
}

LLVM::LLVMStructType accumulatorStruct(ImplicitLocOpBuilder &b, int64_t registers) {
  return LLVM::LLVMStructType::getLiteral(b.getContext(),
                                          SmallVector<Type>(registers, b.getF32Type()));
}

/// Registers 4n..4n+3 as the vector<2x2xf32> of 8-column block n: register
/// 4n + 2i + h is row quad + 8i, column 8n + 2·t4 + h.
SmallVector<Value> blocksOf(ImplicitLocOpBuilder &b, ArrayRef<Value> regs) {
  auto block = VectorType::get({2, 2}, b.getF32Type());
  SmallVector<Value> blocks;
  for (size_t n = 0; n < regs.size() / 4; ++n)
    blocks.push_back(vector::FromElementsOp::create(b, block, regs.slice(4 * n, 4)));
  return blocks;
}

} // namespace

WarpgroupTiles::WarpgroupTiles(ImplicitLocOpBuilder &b, Value tilesAddress, Value warp,
                               Type elem, SharedTileOffsets offsets, int64_t rows, int64_t keys,
                               int64_t headDim)
    : elem(elem), offsets(offsets), rows(rows), keys(keys), headDim(headDim) {
  assert(offsets.k % 16 == 0 && offsets.v % 16 == 0 && offsets.stage % 16 == 0 &&
         "descriptors address 16-byte units");
  Loops L{b};
  Value address = arith::IndexCastUIOp::create(b, b.getI32Type(), tilesAddress);
  descBase = arith::ShRUIOp::create(b, arith::AndIOp::create(b, address, c32(b, 0x3FFFF)),
                                    c32(b, 4));
  // Warpgroup w's 64 rows start 64 rows of 128 bytes into each Q atom.
  Value group = toI32(b, L.divU(warp, L.idx(4)));
  qDescBase = arith::AddIOp::create(b, descBase,
                                    arith::MulIOp::create(b, group, c32(b, 64 * 128 / 16)));
}

Value WarpgroupTiles::stageDescriptor(ImplicitLocOpBuilder &b, Value stage, bool v) const {
  Value stage16 = arith::MulIOp::create(b, toI32(b, stage), c32(b, offsets.stage / 16));
  return arith::AddIOp::create(
      b, descBase, arith::AddIOp::create(b, stage16, c32(b, (v ? offsets.v : offsets.k) / 16)));
}

void WarpgroupTiles::fence(ImplicitLocOpBuilder &b) const { NVVM::WgmmaFenceAlignedOp::create(b); }

Value WarpgroupTiles::issueScores(ImplicitLocOpBuilder &b, Value stage) const {
  auto type = elem.isBF16() ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
  Value kDesc = stageDescriptor(b, stage, /*v=*/false);
  // headDim/16 k-steps on one accumulator (the first overwrites it).
  Value acc = LLVM::PoisonOp::create(b, accumulatorStruct(b, keys / 2));
  for (int64_t ks = 0; ks < headDim / 16; ++ks) {
    const int64_t step = (ks % 4) * 32 / 16;
    Value qd = descriptor(b, qDescBase, (ks / 4) * rows * 128 / 16 + step, kKMajorBits);
    Value kd = descriptor(b, kDesc, (ks / 4) * keys * 128 / 16 + step, kKMajorBits);
    acc = NVVM::WgmmaMmaAsyncOp::create(
        b, acc.getType(), acc, qd, kd,
        NVVM::MMAShapeAttr::get(b.getContext(), 64, static_cast<int>(keys), 16), type, type,
        NVVM::WGMMATypes::f32, ks ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
        NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row,
        NVVM::MMALayout::col, NVVM::MMAIntOverflowAttr());
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  return acc;
}

WarpgroupTiles::Operands WarpgroupTiles::accumulateOperands(ImplicitLocOpBuilder &b,
                                                            ArrayRef<Value> p,
                                                            ArrayRef<Value> o) const {
  assert(static_cast<int64_t>(p.size()) == keys / 16 &&
         static_cast<int64_t>(o.size()) == headDim / 8 && "a fragment a k-step, a block a column");
  Operands operands;
  for (Value fragment : p)
    operands.a.push_back(packedPairs(b, fragment));
  for (Value block : o)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t h = 0; h < 2; ++h)
        operands.o.push_back(vector::ExtractOp::create(b, block, ArrayRef<int64_t>{i, h}));
  return operands;
}

Value WarpgroupTiles::issueAccumulate(ImplicitLocOpBuilder &b, Value stage,
                                      const Operands &operands) const {
  // MN-major, 128-byte swizzle: SBO 1024 bytes, LBO the 64-column atoms'
  // stride.
  const int64_t vBits = kSwizzle128 | (int64_t(1024 / 16) << 32) | ((keys * 128 / 16) << 16);
  Value vDesc = stageDescriptor(b, stage, /*v=*/true);
  auto type = accumulatorStruct(b, headDim / 2);
  const std::string text = wgmma::registerAMmaAsm({headDim, elem.isBF16(), /*transposeB=*/true});
  const std::string constraints = wgmma::registerAMmaConstraints(headDim);
  SmallVector<Value> regs = operands.o;
  Value acc;
  for (int64_t ks = 0; ks < keys / 16; ++ks) {
    SmallVector<Value> mmaOperands = operands.a[ks];
    mmaOperands.push_back(descriptor(b, vDesc, ks * 16 * 128 / 16, vBits));
    mmaOperands.append(regs);
    acc = LLVM::InlineAsmOp::create(b, type, mmaOperands, text, constraints,
                                    /*has_side_effects=*/true, /*is_align_stack=*/false,
                                    LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
              .getRes();
    for (int64_t k = 0; k < headDim / 2; ++k)
      regs[k] = LLVM::ExtractValueOp::create(b, acc, ArrayRef<int64_t>{k});
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  return acc;
}

SmallVector<Value> WarpgroupTiles::retired(ImplicitLocOpBuilder &b, Value accumulators,
                                           int64_t inFlight, const Operands *operands) const {
  NVVM::WgmmaWaitGroupSyncOp::create(b, inFlight);
  if (operands) {
    // The A registers stay live, and unwritten, until the wait.
    SmallVector<Value> a;
    for (const auto &step : operands->a)
      a.append(step.begin(), step.end());
    LLVM::InlineAsmOp::create(b, TypeRange{}, a, wgmma::operandFenceAsm(),
                              wgmma::operandFenceConstraints(static_cast<int64_t>(a.size())),
                              /*has_side_effects=*/true, /*is_align_stack=*/false,
                              LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
  }
  auto type = cast<LLVM::LLVMStructType>(accumulators.getType());
  const int64_t n = static_cast<int64_t>(type.getBody().size());
  SmallVector<Value> regs;
  for (int64_t i = 0; i < n; ++i)
    regs.push_back(LLVM::ExtractValueOp::create(b, accumulators, ArrayRef<int64_t>{i}));
  // The fence asm (WarpgroupAsm.h) hands the registers on as its results, so
  // no use is scheduled before the wait.
  Value fenced = LLVM::InlineAsmOp::create(b, type, regs, wgmma::accumulatorFenceAsm(),
                                           wgmma::accumulatorFenceConstraints(n),
                                           /*has_side_effects=*/true, /*is_align_stack=*/false,
                                           LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                                           ArrayAttr())
                     .getRes();
  for (int64_t i = 0; i < n; ++i)
    regs[i] = LLVM::ExtractValueOp::create(b, fenced, ArrayRef<int64_t>{i});
  return blocksOf(b, regs);
}

void WarpgroupTiles::accumulate(ImplicitLocOpBuilder &b, Value stage, ArrayRef<Value> p,
                                MutableArrayRef<Value> o) const {
  // Every A fragment is packed before the fence: the fence orders register
  // writes before the MMAs that read them (PTX ISA 9.7.15.7.1; ptxas would
  // otherwise insert warpgroup.arrive between the MMAs, info C7519).
  Operands operands = accumulateOperands(b, p, o);
  fence(b);
  llvm::copy(retired(b, issueAccumulate(b, stage, operands), 0, &operands), o.begin());
}
