//===- PrefillTile.cpp - When the prefill kernel applies, and its tile ---===//
//
// The choices made before the prefill kernel is emitted
// (PrefillAttentionToGPU.cpp): the tile a head_dim gets, the tiles the
// options accept, and the element types and shapes the kernel takes.
//
//===----------------------------------------------------------------------===//
#include "PrefillAttention.h"

#include <string>

using namespace mlir;
using namespace kvcc;

int64_t kvcc::PrefillTile::rowsFor(int64_t headDim) const {
  if (rows)
    return rows;
  // On an H100 (docs/performance.md) 128x32 ran causal prefill at d128
  // 1.15x faster than 64x32 (8.4 against 9.7 ms at 16k tokens) and
  // 128x16 / 64x64 slower; head_dim 64 was not measured.
  return headDim >= 128 ? 128 : 64;
}

int64_t kvcc::PrefillTile::keysFor(int64_t headDim) const {
  if (keys)
    return keys;
  return headDim <= 64 ? 64 : 32;
}

std::string kvcc::PrefillTile::check() const {
  if (rows != 0 && rows != 64 && rows != 128)
    return "prefill tile rows must be 64 or 128 (one or two 16-row MMA tiles a warp; 0: by "
           "head_dim), got " +
           std::to_string(rows);
  if (keys != 0 && keys != 16 && keys != 32 && keys != 64 && keys != 128)
    return "prefill tile keys must be 16, 32, 64 or 128 (0: by head_dim), got " +
           std::to_string(keys);
  return "";
}

bool kvcc::prefillKernelApplies(Type elem, int64_t headDim, int64_t groupSize) {
  // Rows are (token, head) pairs numbered token * G + head, each masked and
  // stored on its own, so a tile may split a token's group (SmolLM2's G = 3
  // puts 21⅓ tokens in a tile); the tile's key range comes from its first
  // and last token.
  return (elem.isF16() || elem.isBF16()) && (headDim == 64 || headDim == 128) && groupSize <= 64;
}
