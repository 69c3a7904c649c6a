//===- PrefillMmaSync.cpp - the prefill kernel's GEMMs on mma.sync --------===//
//
// The two GEMMs of the prefill kernel (PrefillAttentionToGPU.cpp) on
// mma.sync m16n8k16, sm_80 and up: fragments by ldmatrix.x4 from the shared
// tiles, MT 16-row MMA tiles a warp.
//
//   S = Q·Kᵀ   Q's A fragments and K's B fragments by ldmatrix; each K
//              fragment serves all MT row tiles
//   O += P·V   P from registers (the softmax's A fragments), V's B fragments
//              by ldmatrix.trans
//
// Fragment layouts (PTX ISA, mma.m16n8k16): lane = 4·group + t;
//   A: a0 (group, 2t..2t+1), a1 (group+8, 2t..), a2 (group, 2t+8..), a3 (group+8, 2t+8..)
//   B: b0 (k 2t..2t+1, n group), b1 (k 2t+8..2t+9, n group)
//   C: c0,c1 (group, 2t..2t+1), c2,c3 (group+8, 2t..2t+1)
//
// ldmatrix addresses are byte offsets into the shared buffer. A lane
// addresses one 16-byte chunk row of a matrix: row r (r mod 8 = lane mod 8
// for every matrix below), chunk h + 2·ks (Q and K: k-step ks, h the lane's
// half of the 16 columns) or h + n (V: column pair n, even). With rows of
// RB = 2·D bytes (a power of two >= 128) and tiles starting at multiples of
// RB, the swizzled offset
//   tile + r·RB + 16·((h + 2ks) ^ (r mod 8)) = (tile + r·RB + 16·(h ^ (r mod 8))) ^ 32ks
// (h < 2 <= 2ks's lowest set bit; the XOR stays below RB), and likewise ^ 16n
// for V: each k-step or column pair is one XOR with a constant of a per-lane
// base, and the other rows (MMA tiles, key blocks, V's k-steps) are constant
// multiples of RB added after it, which ptxas folds into the ldmatrix's
// immediate. (The generic swizzle of the indices cost a register or a spill
// per address at 128x64.)
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <array>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

/// Matrices 2·half and 2·half + 1 of an ldmatrix.x4 result (vector<4x2xE>):
/// the B fragment (vector<2x2xE>) of one of the two 8-wide tiles it loaded.
/// (Element by element: MLIR 22 leaves a 2-D vector.extract_strided_slice
/// unconverted on the way to LLVM.)
Value fragmentHalf(ImplicitLocOpBuilder &b, Value pair, int64_t half) {
  auto type = cast<VectorType>(pair.getType());
  SmallVector<Value> elems;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c)
      elems.push_back(vector::ExtractOp::create(b, pair, ArrayRef<int64_t>{2 * half + r, c}));
  return vector::FromElementsOp::create(
      b, VectorType::get({2, 2}, type.getElementType()), elems);
}

/// C + A·B for one m16n8k16 tile: A vector<4x2xE>, B vector<2x2xE>, C and
/// the result vector<2x2xf32> (rows group and group + 8). f16 goes through
/// nvgpu.mma.sync. MLIR 22's nvgpu-to-nvvm cannot type bf16 operands ("could
/// not deduce operand PTX types"), so bf16 builds the nvvm.mma.sync that
/// lowering would have built: the same fragments, the pairs as .b32
/// registers, the multiplicand type named (i32 alone would be ambiguous).
Value mmaSync(ImplicitLocOpBuilder &b, Value a, Value bFrag, Value c) {
  if (!cast<VectorType>(a.getType()).getElementType().isBF16())
    return nvgpu::MmaSyncOp::create(b, a, bFrag, c, ArrayRef<int64_t>{16, 8, 16});
  SmallVector<Value> accumulators;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j)
      accumulators.push_back(extract(b, c, i, j));
  Type f32 = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  SmallVector<Value> aRegs = packedPairs(b, a), bRegs = packedPairs(b, bFrag);
  Value d = NVVM::MmaOp::create(
      b, resultType, aRegs, bRegs, accumulators, ArrayRef<int64_t>{16, 8, 16},
      /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value> elems;
  for (int64_t k = 0; k < 4; ++k)
    elems.push_back(LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{k}));
  return vector::FromElementsOp::create(b, c.getType(), elems);
}

} // namespace

MmaSyncTiles::MmaSyncTiles(ImplicitLocOpBuilder &b, Value buffer, Value lane, Value warpRow,
                           Type elem, SharedTileOffsets offsets, int64_t keys, int64_t headDim,
                           int64_t mt, bool swizzle)
    : buffer(buffer), elem(elem), keys(keys), headDim(headDim), mt(mt) {
  Loops L{b};
  rowBytes = headDim * elem.getIntOrFloatBitWidth() / 8;
  stageBytes = offsets.stage;
  assert(stageBytes == keys * rowBytes && "a stage is a tile of keys");
  assert(rowBytes >= 128 && llvm::isPowerOf2_64(rowBytes) && "rows of 8 or more chunks");
  Value lane8 = toI32(b, L.remU(lane, L.idx(8)));
  Value hA = toI32(b, L.divU(lane, L.idx(16)));                   // lanes 16-31: k hi (Q), n + 1 (V)
  Value hB = toI32(b, L.remU(L.divU(lane, L.idx(8)), L.idx(2))); // odd octets: k hi (K), row + 8 (V)
  auto chunkOffset = [&](Value h) -> Value {
    Value chunk = swizzle ? arith::XOrIOp::create(b, h, lane8).getResult() : h;
    return arith::MulIOp::create(b, chunk, c32(b, 16));
  };
  auto rowOffset = [&](Value row) -> Value {
    return arith::MulIOp::create(b, row, c32(b, rowBytes));
  };
  // Q (A fragments) and V take the same lane pattern: row (lane mod 8) +
  // 8·hB, chunk hA.
  Value aPattern = arith::AddIOp::create(
      b, rowOffset(arith::AddIOp::create(b, lane8, arith::MulIOp::create(b, hB, c32(b, 8)))),
      chunkOffset(hA));
  // Q: rows warpRow + 16t + the pattern's, chunks hA + 2ks.
  qLane = arith::AddIOp::create(b, aPattern, rowOffset(toI32(b, warpRow)));
  // K: B fragments by ldmatrix.x4, lanes 8i..8i+7 addressing matrix i
  // (n, k lo), (n, k hi), (n + 8, k lo), (n + 8, k hi): rows
  // (lane mod 8) + 8·hA, chunks hB + 2ks.
  kLane = arith::AddIOp::create(
      b, rowOffset(arith::AddIOp::create(b, lane8, arith::MulIOp::create(b, hA, c32(b, 8)))),
      chunkOffset(hB));
  kLane = arith::AddIOp::create(b, kLane, c32(b, offsets.k));
  // V (keys x d, transposed): matrices (k lo, n), (k hi, n), (k lo, n + 8),
  // (k hi, n + 8): rows 16ks + the pattern's, chunks hA + n.
  vLane = arith::AddIOp::create(b, aPattern, c32(b, offsets.v));
}

Value MmaSyncTiles::ldmatrixAt(ImplicitLocOpBuilder &b, Value offset, bool transpose) const {
  // One ldmatrix.x4 at the lane's byte offset, through a one-chunk view.
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto chunkView = MemRefType::get({8}, elem, nullptr, workgroup);
  Value shift = arith::IndexCastUIOp::create(b, b.getIndexType(), offset);
  Value chunk = memref::ViewOp::create(b, chunkView, buffer, shift, ValueRange{});
  return nvgpu::LdMatrixOp::create(b, VectorType::get({4, 2}, elem), chunk,
                                   ValueRange{Loops{b}.idx(0)}, transpose, /*numTiles=*/4);
}

SmallVector<SmallVector<Value>> MmaSyncTiles::scores(ImplicitLocOpBuilder &b, Value stage) const {
  auto acc = VectorType::get({2, 2}, b.getF32Type());
  Value zero = zeros(b, acc);
  SmallVector<SmallVector<Value>> s(mt, SmallVector<Value>(keys / 8, zero));
  Value kStage = arith::AddIOp::create(
      b, kLane, arith::MulIOp::create(b, toI32(b, stage), c32(b, stageBytes)));
  for (int64_t ks = 0; ks < headDim / 16; ++ks) {
    Value qStep = arith::XOrIOp::create(b, qLane, c32(b, 32 * ks));
    Value kStep = arith::XOrIOp::create(b, kStage, c32(b, 32 * ks));
    SmallVector<Value> a;
    for (int64_t t = 0; t < mt; ++t)
      a.push_back(
          ldmatrixAt(b, arith::AddIOp::create(b, qStep, c32(b, 16 * t * rowBytes)), false));
    // One ldmatrix.x4: the fragments of two 8-key column tiles.
    for (int64_t n = 0; n < keys / 8; n += 2) {
      Value pair =
          ldmatrixAt(b, arith::AddIOp::create(b, kStep, c32(b, 8 * n * rowBytes)), false);
      for (int64_t half = 0; half < 2; ++half) {
        Value bk = fragmentHalf(b, pair, half);
        for (int64_t t = 0; t < mt; ++t)
          s[t][n + half] = mmaSync(b, a[t], bk, s[t][n + half]);
      }
    }
  }
  return s;
}

void MmaSyncTiles::accumulate(ImplicitLocOpBuilder &b, Value stage,
                              llvm::function_ref<Value(int64_t, int64_t)> p,
                              MutableArrayRef<Value> o) const {
  assert(static_cast<int64_t>(o.size()) == mt * (headDim / 8) && "a block an MMA tile and column");
  Value vStage = arith::AddIOp::create(
      b, vLane, arith::MulIOp::create(b, toI32(b, stage), c32(b, stageBytes)));
  for (int64_t ks = 0; ks < keys / 16; ++ks) {
    SmallVector<Value> a;
    for (int64_t t = 0; t < mt; ++t)
      a.push_back(p(t, ks));
    // One ldmatrix.x4.trans: the V fragments of two 8-column tiles.
    for (int64_t n = 0; n < headDim / 8; n += 2) {
      Value pair = ldmatrixAt(
          b,
          arith::AddIOp::create(b, arith::XOrIOp::create(b, vStage, c32(b, 16 * n)),
                                c32(b, 16 * ks * rowBytes)),
          /*transpose=*/true);
      for (int64_t half = 0; half < 2; ++half) {
        Value bv = fragmentHalf(b, pair, half);
        for (int64_t t = 0; t < mt; ++t) {
          Value &acc = o[t * (headDim / 8) + n + half];
          acc = mmaSync(b, a[t], bv, acc);
        }
      }
    }
  }
}
