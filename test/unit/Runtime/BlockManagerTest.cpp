//===- BlockManagerTest.cpp - Paged KV block manager ----------------------===//
//
// Besides the unit cases, a property test drives random interleavings of
// append/fork/release against a simulated cache: every slot write stores a
// value, fork performs the returned copy, and after every operation each live
// sequence must read back exactly its own history through its block table.
// That catches shared-page overwrites, lost copies and leaks alike.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/BlockManager.h"
#include "kvcc/Runtime/Sampler.h"

#include <gtest/gtest.h>

#include <map>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

BlockManager make(int64_t numBlocks, int64_t blockSize) {
  Expected<BlockManager> bm = BlockManager::create(numBlocks, blockSize);
  EXPECT_TRUE(bm.ok()) << bm.message();
  return bm.take();
}

TEST(BlockManager, RejectsBadGeometry) {
  EXPECT_NE(BlockManager::create(0, 16).message().find("num_blocks 0"),
            std::string::npos);
  EXPECT_NE(BlockManager::create(8, 0).message().find("block_size 0"),
            std::string::npos);
  EXPECT_FALSE(BlockManager::create(int64_t(1) << 40, 16).ok());
  EXPECT_FALSE(BlockManager::create(1 << 30, int64_t(1) << 40).ok());
}

TEST(BlockManager, AppendAllocatesPagesAndSlots) {
  BlockManager bm = make(4, 3);
  Expected<std::vector<int64_t>> s = bm.appendSlots(7, 4);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(*s, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(*bm.blockTable(7), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(*bm.contextLength(7), 4);
  EXPECT_EQ(bm.usedBlocks(), 2);
  EXPECT_EQ(bm.freeBlocks(), 2);
  s = bm.appendSlots(7, 2); // fills block 1, no new page
  EXPECT_EQ(*s, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(bm.usedBlocks(), 2);
  s = bm.appendSlots(7, 0);
  EXPECT_TRUE(s->empty());
  EXPECT_TRUE(bm.checkInvariants().ok());
}

TEST(BlockManager, BlockSizeOne) {
  BlockManager bm = make(3, 1);
  EXPECT_EQ(*bm.appendSlots(1, 2), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(*bm.appendSlots(2, 1), (std::vector<int64_t>{2}));
  EXPECT_FALSE(bm.appendSlots(1, 1).ok());
}

TEST(BlockManager, ExhaustionIsAllOrNothing) {
  BlockManager bm = make(4, 4);
  ASSERT_TRUE(bm.appendSlots(1, 9).ok()); // 3 pages, 3 slots spare
  ASSERT_TRUE(bm.appendSlots(9, 4).ok()); // the last page
  Expected<std::vector<int64_t>> s = bm.appendSlots(1, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sequence 1 needs 1 new blocks"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(*bm.contextLength(1), 9);
  EXPECT_FALSE(bm.appendSlots(2, 1).ok());
  EXPECT_FALSE(bm.hasSequence(2)); // a failed first append creates nothing
  EXPECT_EQ(*bm.appendSlots(1, 3), (std::vector<int64_t>{9, 10, 11}));
  EXPECT_FALSE(bm.appendSlots(1, -1).ok());
  EXPECT_NE(bm.appendSlots(1, INT64_MAX).message().find("pool holds 16"),
            std::string::npos); // no overflow
  EXPECT_TRUE(bm.checkInvariants().ok());
}

TEST(BlockManager, ForkSharesFullPagesAndCopiesPartialOne) {
  BlockManager bm = make(8, 4);
  ASSERT_TRUE(bm.appendSlots(1, 6).ok()); // pages 0 (full), 1 (2 of 4)
  Expected<std::optional<BlockCopy>> copy = bm.fork(1, 2);
  ASSERT_TRUE(copy.ok()) << copy.message();
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ((*copy)->src, 1);
  EXPECT_EQ((*copy)->dst, 2);
  EXPECT_EQ(*bm.blockTable(2), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(bm.refCount(0), 2);
  EXPECT_EQ(bm.refCount(1), 1);
  EXPECT_EQ(*bm.contextLength(2), 6);
  // The child's next token lands in its own copy.
  EXPECT_EQ(*bm.appendSlots(2, 1), (std::vector<int64_t>{10}));
  EXPECT_EQ(*bm.appendSlots(1, 1), (std::vector<int64_t>{6}));

  ASSERT_TRUE(bm.appendSlots(3, 4).ok()); // exactly one full page: 3
  copy = bm.fork(3, 4);
  ASSERT_TRUE(copy.ok());
  EXPECT_FALSE(copy->has_value());
  EXPECT_EQ(bm.refCount(3), 2);

  EXPECT_FALSE(bm.fork(9, 10).ok());
  EXPECT_NE(bm.fork(1, 2).message().find("existing sequence 2"),
            std::string::npos);
  EXPECT_TRUE(bm.checkInvariants().ok());

  for (int64_t seq : {1, 2, 3, 4})
    EXPECT_TRUE(bm.release(seq).ok());
  EXPECT_EQ(bm.freeBlocks(), 8);
  EXPECT_FALSE(bm.release(1).ok());
}

TEST(BlockManager, ForkFailsCleanlyWithoutRoomForTheCopy) {
  BlockManager bm = make(2, 4);
  ASSERT_TRUE(bm.appendSlots(1, 5).ok());
  Expected<std::optional<BlockCopy>> copy = bm.fork(1, 2);
  ASSERT_FALSE(copy.ok());
  EXPECT_FALSE(bm.hasSequence(2));
  EXPECT_EQ(bm.refCount(0), 1);
  EXPECT_TRUE(bm.checkInvariants().ok());
}

TEST(BlockManager, Stats) {
  // SmolLM2-135M: 30 layers, 3 KV heads, head_dim 64, f16.
  Expected<int64_t> perToken = kvBytesPerToken(30, 3, 64, 2);
  ASSERT_TRUE(perToken.ok());
  EXPECT_EQ(*perToken, 2 * 30 * 3 * 64 * 2);
  EXPECT_NE(kvBytesPerToken(30, 0, 64, 2).message().find("kv_heads 0"),
            std::string::npos);
  EXPECT_FALSE(kvBytesPerToken(INT64_MAX, 2, 2, 2).ok());
  BlockManager bm = make(10, 16);
  ASSERT_TRUE(bm.appendSlots(1, 17).ok());
  EXPECT_EQ(bm.bytesInUse(*perToken), 2 * 16 * *perToken);
  EXPECT_EQ(bm.bytesInUse(INT64_MAX), INT64_MAX);
}

TEST(BlockManager, AddSequence) {
  BlockManager bm = make(2, 2);
  EXPECT_TRUE(bm.addSequence(5).ok());
  EXPECT_FALSE(bm.addSequence(5).ok());
  EXPECT_EQ(*bm.contextLength(5), 0);
  EXPECT_TRUE(bm.blockTable(5)->empty());
  EXPECT_EQ(*bm.blocksNeeded(5, 3), 2);
  EXPECT_FALSE(bm.contextLength(6).ok());
}

// Random interleavings checked against a simulated cache.
class Simulation {
public:
  Simulation(int64_t numBlocks, int64_t blockSize)
      : bm_(make(numBlocks, blockSize)), memory_(numBlocks * blockSize, -1) {}

  void step(Rng &rng) {
    uint64_t op = rng.next() % 10;
    if (op < 5 || live_.empty())
      append(rng);
    else if (op < 7)
      fork(rng);
    else
      release(rng);
    Status s = bm_.checkInvariants();
    ASSERT_TRUE(s.ok()) << s.message();
    verifyContents();
  }

  void releaseAll() {
    while (!live_.empty()) {
      ASSERT_TRUE(bm_.release(live_.begin()->first).ok());
      live_.erase(live_.begin());
    }
    EXPECT_EQ(bm_.freeBlocks(), bm_.numBlocks());
    EXPECT_EQ(bm_.usedBlocks(), 0);
    EXPECT_TRUE(bm_.checkInvariants().ok());
  }

private:
  int64_t pick(Rng &rng) const {
    auto it = live_.begin();
    std::advance(it, rng.next() % live_.size());
    return it->first;
  }

  void append(Rng &rng) {
    int64_t seq = live_.empty() || rng.next() % 4 == 0 ? nextId_++ : pick(rng);
    int64_t n = static_cast<int64_t>(rng.next() % (3 * bm_.blockSize() + 1));
    int64_t freeBefore = bm_.freeBlocks();
    Expected<std::vector<int64_t>> slots = bm_.appendSlots(seq, n);
    if (!slots.ok()) {
      EXPECT_EQ(bm_.freeBlocks(), freeBefore); // all or nothing
      return;
    }
    std::vector<int64_t> &history = live_[seq];
    ASSERT_EQ(static_cast<int64_t>(slots->size()), n);
    for (int64_t slot : *slots) {
      ASSERT_GE(slot, 0);
      ASSERT_LT(slot, static_cast<int64_t>(memory_.size()));
      int64_t value = counter_++;
      memory_[slot] = value;
      history.push_back(value);
    }
  }

  void fork(Rng &rng) {
    int64_t parent = pick(rng), child = nextId_++;
    Expected<std::optional<BlockCopy>> copy = bm_.fork(parent, child);
    if (!copy.ok())
      return;
    if (copy->has_value()) {
      int64_t bs = bm_.blockSize();
      for (int64_t i = 0; i < bs; ++i)
        memory_[(*copy)->dst * bs + i] = memory_[(*copy)->src * bs + i];
    }
    live_[child] = live_[parent];
  }

  void release(Rng &rng) {
    int64_t seq = pick(rng);
    ASSERT_TRUE(bm_.release(seq).ok());
    live_.erase(seq);
  }

  void verifyContents() {
    int64_t bs = bm_.blockSize();
    for (const auto &[seq, history] : live_) {
      std::vector<int64_t> table = *bm_.blockTable(seq);
      ASSERT_EQ(*bm_.contextLength(seq), static_cast<int64_t>(history.size()));
      for (size_t pos = 0; pos < history.size(); ++pos) {
        int64_t slot = table[pos / bs] * bs + static_cast<int64_t>(pos) % bs;
        ASSERT_EQ(memory_[slot], history[pos])
            << "sequence " << seq << " position " << pos;
      }
    }
  }

  BlockManager bm_;
  std::vector<int64_t> memory_;
  std::map<int64_t, std::vector<int64_t>> live_;
  int64_t nextId_ = 0, counter_ = 0;
};

TEST(BlockManager, RandomInterleavingsKeepInvariantsAndContents) {
  for (int64_t blockSize : {1, 3, 16}) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      SCOPED_TRACE("block size " + std::to_string(blockSize) + " seed " +
                   std::to_string(seed));
      Simulation sim(/*numBlocks=*/24, blockSize);
      Rng rng(seed);
      for (int i = 0; i < 400 && !testing::Test::HasFatalFailure(); ++i)
        sim.step(rng);
      sim.releaseAll();
    }
  }
}

} // namespace
