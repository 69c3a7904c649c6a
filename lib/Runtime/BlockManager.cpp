//===- BlockManager.cpp - Paged KV-cache block manager --------------------===//
//
// Every mutating operation checks everything that can fail before it changes
// anything, so a failed call leaves the manager exactly as it was: a scheduler
// can try to admit a request and back off without cleanup.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/BlockManager.h"

#include <limits>
#include <string>

namespace kvcc::runtime {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::string seqName(int64_t seq) { return "sequence " + std::to_string(seq); }

} // namespace

Expected<int64_t> kvBytesPerToken(int64_t layers, int64_t kvHeads,
                                  int64_t headDim, int64_t elemBytes) {
  const std::pair<const char *, int64_t> fields[] = {
      {"layers", layers},
      {"kv_heads", kvHeads},
      {"head_dim", headDim},
      {"elem_bytes", elemBytes}};
  int64_t bytes = 2;
  for (const auto &[name, value] : fields) {
    if (value < 1)
      return Status::error(std::string("kv cache: ") + name + " " +
                           std::to_string(value) + " must be >= 1");
    if (bytes > kInt64Max / value)
      return Status::error(std::string("kv cache: bytes per token overflow at ") +
                           name + " " + std::to_string(value));
    bytes *= value;
  }
  return bytes;
}

BlockManager::BlockManager(int64_t numBlocks, int64_t blockSize)
    : blockSize_(blockSize), refCount_(static_cast<size_t>(numBlocks), 0) {
  free_.reserve(static_cast<size_t>(numBlocks));
  for (int64_t b = numBlocks - 1; b >= 0; --b)
    free_.push_back(b);
}

Expected<BlockManager> BlockManager::create(int64_t numBlocks,
                                            int64_t blockSize) {
  if (numBlocks < 1 || numBlocks > std::numeric_limits<int32_t>::max())
    return Status::error("block manager: num_blocks " +
                         std::to_string(numBlocks) +
                         " must be in [1, 2147483647]");
  if (blockSize < 1)
    return Status::error("block manager: block_size " +
                         std::to_string(blockSize) + " must be >= 1");
  if (blockSize > kInt64Max / numBlocks)
    return Status::error("block manager: " + std::to_string(numBlocks) +
                         " blocks of " + std::to_string(blockSize) +
                         " tokens overflow 64-bit slot indices");
  return BlockManager(numBlocks, blockSize);
}

const BlockManager::Sequence *BlockManager::find(int64_t seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? nullptr : &it->second;
}

Status BlockManager::addSequence(int64_t seq) {
  if (!seqs_.emplace(seq, Sequence()).second)
    return Status::error("block manager: " + seqName(seq) + " already exists");
  return Status::success();
}

Expected<int64_t> BlockManager::blocksNeeded(int64_t seq,
                                             int64_t nTokens) const {
  if (nTokens < 0)
    return Status::error("block manager: cannot append " +
                         std::to_string(nTokens) + " tokens to " +
                         seqName(seq));
  const Sequence *s = find(seq);
  int64_t length = s ? s->length : 0;
  int64_t have = s ? static_cast<int64_t>(s->blocks.size()) : 0;
  // A sequence can never be longer than the whole pool; this bound also keeps
  // length + nTokens from overflowing.
  int64_t capacity = numBlocks() * blockSize_;
  if (nTokens > capacity - length)
    return Status::error("block manager: " + seqName(seq) + " of " +
                         std::to_string(length) + " tokens cannot grow by " +
                         std::to_string(nTokens) + ": the pool holds " +
                         std::to_string(capacity) + " tokens");
  int64_t total = length + nTokens;
  int64_t pages = total / blockSize_ + (total % blockSize_ != 0);
  return pages - have;
}

Expected<std::vector<int64_t>> BlockManager::appendSlots(int64_t seq,
                                                         int64_t nTokens) {
  Expected<int64_t> needed = blocksNeeded(seq, nTokens);
  if (!needed)
    return needed.status();
  if (*needed > freeBlocks())
    return Status::error("block manager: " + seqName(seq) + " needs " +
                         std::to_string(*needed) + " new blocks for " +
                         std::to_string(nTokens) + " tokens, " +
                         std::to_string(freeBlocks()) + " free");
  Sequence &s = seqs_[seq];
  for (int64_t i = 0; i < *needed; ++i) {
    int64_t b = free_.back();
    free_.pop_back();
    refCount_[b] = 1;
    s.blocks.push_back(b);
  }
  std::vector<int64_t> slots;
  slots.reserve(static_cast<size_t>(nTokens));
  for (int64_t pos = s.length; pos < s.length + nTokens; ++pos)
    slots.push_back(s.blocks[pos / blockSize_] * blockSize_ + pos % blockSize_);
  s.length += nTokens;
  return slots;
}

Expected<std::vector<int64_t>> BlockManager::blockTable(int64_t seq) const {
  const Sequence *s = find(seq);
  if (!s)
    return Status::error("block manager: unknown " + seqName(seq));
  return s->blocks;
}

Expected<int64_t> BlockManager::contextLength(int64_t seq) const {
  const Sequence *s = find(seq);
  if (!s)
    return Status::error("block manager: unknown " + seqName(seq));
  return s->length;
}

Expected<std::optional<BlockCopy>> BlockManager::fork(int64_t parent,
                                                      int64_t child) {
  const Sequence *p = find(parent);
  if (!p)
    return Status::error("block manager: cannot fork unknown " +
                         seqName(parent));
  if (find(child))
    return Status::error("block manager: cannot fork " + seqName(parent) +
                         " into existing " + seqName(child));
  bool partial = p->length % blockSize_ != 0;
  if (partial && free_.empty())
    return Status::error("block manager: no free block to copy the partial "
                         "last block of " + seqName(parent) + " for " +
                         seqName(child));
  Sequence copy = *p; // before the insert below may rehash and move *p
  std::optional<BlockCopy> result;
  if (partial) {
    int64_t dst = free_.back();
    free_.pop_back();
    refCount_[dst] = 1;
    result = BlockCopy{copy.blocks.back(), dst};
    copy.blocks.back() = dst;
  }
  for (size_t i = 0; i + (partial ? 1 : 0) < copy.blocks.size(); ++i)
    ++refCount_[copy.blocks[i]];
  seqs_.emplace(child, std::move(copy));
  return result;
}

Status BlockManager::release(int64_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    return Status::error("block manager: cannot release unknown " +
                         seqName(seq));
  for (int64_t b : it->second.blocks)
    if (--refCount_[b] == 0)
      free_.push_back(b);
  seqs_.erase(it);
  return Status::success();
}

int64_t BlockManager::refCount(int64_t block) const {
  if (block < 0 || block >= numBlocks())
    return -1;
  return refCount_[block];
}

int64_t BlockManager::bytesInUse(int64_t bytesPerToken) const {
  int64_t tokens = usedBlocks() * blockSize_; // fits: checked in create()
  if (bytesPerToken <= 0 || tokens == 0)
    return 0;
  return tokens > kInt64Max / bytesPerToken ? kInt64Max
                                            : tokens * bytesPerToken;
}

Status BlockManager::checkInvariants() const {
  auto fail = [](const std::string &what) {
    return Status::error("block manager invariant: " + what);
  };
  std::vector<int64_t> counted(refCount_.size(), 0);
  for (const auto &[id, s] : seqs_) {
    int64_t pages = s.length / blockSize_ + (s.length % blockSize_ != 0);
    if (pages != static_cast<int64_t>(s.blocks.size()))
      return fail(seqName(id) + " has " + std::to_string(s.blocks.size()) +
                  " blocks for " + std::to_string(s.length) + " tokens");
    for (int64_t b : s.blocks) {
      if (b < 0 || b >= numBlocks())
        return fail(seqName(id) + " holds bad block " + std::to_string(b));
      ++counted[b];
    }
  }
  for (const auto &[id, s] : seqs_)
    if (s.length % blockSize_ != 0 && counted[s.blocks.back()] != 1)
      return fail("partial last block " + std::to_string(s.blocks.back()) +
                  " of " + seqName(id) + " is shared");
  std::vector<bool> isFree(refCount_.size(), false);
  for (int64_t b : free_) {
    if (b < 0 || b >= numBlocks() || isFree[b])
      return fail("free list holds bad or repeated block " + std::to_string(b));
    isFree[b] = true;
  }
  for (size_t b = 0; b < refCount_.size(); ++b) {
    if (counted[b] != refCount_[b])
      return fail("block " + std::to_string(b) + " has ref count " +
                  std::to_string(refCount_[b]) + " but " +
                  std::to_string(counted[b]) + " references");
    if (isFree[b] != (refCount_[b] == 0))
      return fail("block " + std::to_string(b) +
                  (isFree[b] ? " is free but referenced"
                             : " is unreferenced but not free"));
  }
  return Status::success();
}

} // namespace kvcc::runtime
