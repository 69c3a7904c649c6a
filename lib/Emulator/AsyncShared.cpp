//===- AsyncShared.cpp - races of the async units on shared memory --------===//
//
// cp.async writes and wgmma operand reads run beside the warp that issued
// them, from issue to the wait that retires them (PTX ISA 9.7.9.25,
// 9.7.15.6). The emulator lands a cp.async at its wait and computes an MMA
// at its issue, which alone cannot show a copy landing in the operand of an
// MMA still in flight: the shadow below records each async access per
// 16-byte granule and fails a pair that overlaps, one of them a write, with
// neither retired before the other issued. Order is program order within a
// warp (its async clock) and a barrier between warps (its epoch): a wait only
// orders the waiting warp's own accesses.
//
// wgmma reads shared memory through the async proxy (9.7.15.5.1); a generic
// write (st.shared, a landed cp.async) becomes visible to it only after the
// writer's fence.proxy.async (9.7.13.4.18), and the shadow fails an MMA that
// reads a granule whose writer has not fenced since, or whose writer is
// another warp that fenced with no barrier between.
//
// Only latest accesses are kept: a warp's async reads and writes retire in
// issue order, so an access ordered after the latest is after the earlier.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

using namespace kvcc::emu::sim;

bool AsyncAccess::retiredBefore(const AsyncAccess &later) const {
  if (retireClock == kInFlight)
    return false;
  return warp == later.warp ? retireClock < later.issueClock : retireEpoch < later.issueEpoch;
}

AsyncShadow::Granule *AsyncShadow::granule(const char *p) {
  for (const auto &a : shared_) {
    if (p < a->begin || p >= a->begin + a->size)
      continue;
    std::vector<Granule> &g = granules_[a.get()];
    if (g.empty())
      g.resize((a->size + 15) / 16);
    return &g[static_cast<size_t>(p - a->begin) / 16];
  }
  return nullptr;
}

template <typename F> void AsyncShadow::forGranules(const char *p, size_t bytes, F f) {
  // A granule every 16 bytes from P, and the last byte's.
  Granule *last = nullptr;
  for (size_t i = 0; i < bytes + 15; i += 16) {
    Granule *g = granule(p + std::min(i, bytes - 1));
    if (g && g != last)
      f(*g);
    last = g;
  }
}

AsyncShadow::Conflict AsyncShadow::note(const std::shared_ptr<AsyncAccess> &access,
                                        llvm::ArrayRef<std::pair<const char *, size_t>> ranges) {
  std::lock_guard<std::mutex> lock(mutex_);
  Conflict conflict;
  auto &race = conflict.race;
  auto races = [&](const std::shared_ptr<const AsyncAccess> &earlier) {
    return earlier && earlier != access && !earlier->retiredBefore(*access);
  };
  for (auto [start, length] : ranges)
    forGranules(start, length, [&](Granule &g) {
      if (race)
        return;
      if (!access->write && conflict.unfencedWriter < 0)
        conflict.unfencedWriter = g.unfenced;
      // Another warp's fence reaches this warp's MMAs after a barrier.
      if (!access->write && conflict.unpublishedWriter < 0 && g.fencedBy >= 0 &&
          g.fencedBy != static_cast<int>(access->warp) && g.fenceEpoch >= access->issueEpoch)
        conflict.unpublishedWriter = g.fencedBy;
      if (races(g.write)) {
        race = g.write;
        return;
      }
      if (access->write) {
        for (const auto &r : g.reads)
          if (races(r)) {
            race = r;
            return;
          }
        g.write = access;
        return;
      }
      if (g.reads.size() <= access->warp)
        g.reads.resize(access->warp + 1);
      g.reads[access->warp] = access;
    });
  return conflict;
}

void AsyncShadow::retire(AsyncAccess &access, uint64_t epoch, uint64_t clock) {
  std::lock_guard<std::mutex> lock(mutex_);
  access.retireEpoch = epoch;
  access.retireClock = clock;
}

void AsyncShadow::genericWrite(unsigned warp, const char *p, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  forGranules(p, bytes, [&](Granule &g) {
    if (g.unfenced == static_cast<int>(warp))
      return;
    g.unfenced = static_cast<int>(warp);
    g.fencedBy = -1;
    unfencedByWarp_[warp].push_back(&g);
  });
}

void AsyncShadow::fenceProxy(unsigned warp, uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = unfencedByWarp_.find(warp);
  if (it == unfencedByWarp_.end())
    return;
  for (Granule *g : it->second)
    if (g->unfenced == static_cast<int>(warp)) {
      g->unfenced = -1;
      g->fencedBy = static_cast<int>(warp);
      g->fenceEpoch = epoch;
    }
  it->second.clear();
}

//===----------------------------------------------------------------------===//
// The warp's side
//===----------------------------------------------------------------------===//

std::shared_ptr<AsyncAccess> Warp::newAsyncAccess(bool write) {
  if (!cta || !cta->asyncShadow)
    return nullptr;
  auto access = std::make_shared<AsyncAccess>();
  access->warp = index;
  access->write = write;
  access->issueEpoch = epoch_;
  access->issueClock = ++asyncClock_;
  return access;
}

bool Warp::noteAsync(mlir::Operation *op, const std::shared_ptr<AsyncAccess> &access,
                     llvm::ArrayRef<std::pair<const char *, size_t>> ranges) {
  if (!access)
    return true;
  AsyncShadow::Conflict conflict = cta->asyncShadow->note(access, ranges);
  if (conflict.unfencedWriter >= 0)
    return fail(op, "wgmma.mma_async reads shared memory that warp " +
                        std::to_string(conflict.unfencedWriter) +
                        " wrote (a store or a landed cp.async) without a fence.proxy.async "
                        "since: the async proxy may not see it");
  if (conflict.unpublishedWriter >= 0)
    return fail(op, "wgmma.mma_async reads shared memory that warp " +
                        std::to_string(conflict.unpublishedWriter) +
                        " wrote and fenced (fence.proxy.async) with no barrier since: another "
                        "warp's write reaches this MMA only after a barrier");
  if (!conflict.race)
    return true;
  auto what = [](const AsyncAccess &a) {
    return std::string(a.write ? "a cp.async" : "a wgmma.mma_async's operand read");
  };
  return fail(op, what(*access) + " overlaps " + what(*conflict.race) + " of warp " +
                      std::to_string(conflict.race->warp) +
                      " in shared memory with neither retired (waited for, then a barrier "
                      "between warps) before the other issued");
}

void Warp::noteSharedStore(const MemRefVal &m, const char *p, size_t bytes) {
  if (cta && cta->asyncShadow && m.alloc && m.alloc->shared)
    cta->asyncShadow->genericWrite(index, p, bytes);
}

void Warp::retireAsync(AsyncAccess *access) {
  if (access && access->retireClock == AsyncAccess::kInFlight)
    cta->asyncShadow->retire(*access, epoch_, ++asyncClock_);
}
