//===- BlockManager.h - Paged KV-cache block manager ------------*- C++ -*-===//
//
// The pool of KV-cache pages and which sequence owns which. A page holds K and
// V of `blockSize` consecutive tokens of one sequence (for every layer; the
// executor multiplies by layers). A token's slot is
// block * blockSize + offset, the index kvc.append writes to.
//
// Sharing: fork() gives a child the parent's full pages by reference count.
// A partially filled last page is never shared: fork copies it at once (the
// caller performs the returned BlockCopy), so appends only ever write into a
// page that belongs to one sequence and no later copy-on-write is needed.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_BLOCKMANAGER_H
#define KVCC_RUNTIME_BLOCKMANAGER_H

#include "kvcc/Support/Error.h"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace kvcc::runtime {

/// Copy the contents of page `src` to page `dst` (all layers, K and V).
struct BlockCopy {
  int64_t src;
  int64_t dst;
};

/// 2 (K and V) * layers * kvHeads * headDim * elemBytes; errors on a value
/// < 1 or an overflow, naming the field.
Expected<int64_t> kvBytesPerToken(int64_t layers, int64_t kvHeads,
                                  int64_t headDim, int64_t elemBytes);

class BlockManager {
public:
  /// numBlocks in [1, 2^31-1] (block ids fit int32 for kernels), blockSize >= 1,
  /// numBlocks * blockSize must fit int64.
  static Expected<BlockManager> create(int64_t numBlocks, int64_t blockSize);

  int64_t numBlocks() const { return static_cast<int64_t>(refCount_.size()); }
  int64_t blockSize() const { return blockSize_; }
  int64_t freeBlocks() const { return static_cast<int64_t>(free_.size()); }
  int64_t usedBlocks() const { return numBlocks() - freeBlocks(); }

  /// Registers an empty sequence; an error if the id is taken.
  Status addSequence(int64_t seq);
  bool hasSequence(int64_t seq) const { return seqs_.count(seq) != 0; }
  size_t numSequences() const { return seqs_.size(); }

  /// The pages appendSlots(seq, nTokens) would take now (0 for an unknown
  /// sequence and nTokens 0); for admission control before committing.
  Expected<int64_t> blocksNeeded(int64_t seq, int64_t nTokens) const;

  /// Slots for the next nTokens tokens of `seq`, allocating pages as needed.
  /// An unknown sequence is created. When the pool cannot hold them, nothing
  /// changes and the error says how many pages were needed and free.
  Expected<std::vector<int64_t>> appendSlots(int64_t seq, int64_t nTokens);

  /// The sequence's pages in token order.
  Expected<std::vector<int64_t>> blockTable(int64_t seq) const;
  Expected<int64_t> contextLength(int64_t seq) const;

  /// `child` (a new id) starts as a copy of `parent`: full pages are shared;
  /// a partially filled last page is duplicated into a fresh page, and the
  /// copy the caller must perform on the cache is returned. Errors (nothing
  /// changes): unknown parent, existing child, no free page for the copy.
  Expected<std::optional<BlockCopy>> fork(int64_t parent, int64_t child);

  /// Drops the sequence; its pages return to the pool when no other sequence
  /// references them.
  Status release(int64_t seq);

  /// How many sequences reference the page (0: free); -1 for a bad id.
  int64_t refCount(int64_t block) const;

  /// Bytes of the pages in use, given kvBytesPerToken(...); saturates at
  /// INT64_MAX rather than overflowing.
  int64_t bytesInUse(int64_t bytesPerToken) const;

  /// Recomputes reference counts and the free list from the block tables and
  /// names the first disagreement (tests and debug builds call it).
  Status checkInvariants() const;

private:
  struct Sequence {
    std::vector<int64_t> blocks;
    int64_t length = 0;
  };
  BlockManager(int64_t numBlocks, int64_t blockSize);
  const Sequence *find(int64_t seq) const;

  int64_t blockSize_;
  std::vector<int32_t> refCount_;
  std::vector<int64_t> free_; // a stack: the lowest ids are handed out first
  std::unordered_map<int64_t, Sequence> seqs_;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_BLOCKMANAGER_H
