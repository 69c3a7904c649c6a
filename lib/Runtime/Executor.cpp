//===- Executor.cpp - Runs the steps of a compiled model ------------------===//
//
// A step is validated in full before anything changes (so a refused step can
// be retried smaller), then scheduled through the BlockManager, then the
// arguments are checked once more against ModelABI.h's guarantees: that second
// check is cheap (linear in tokens and table entries) and catches a scheduling
// bug before it becomes a silent out-of-bounds write inside model.so.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Executor.h"

#include "kvcc/Runtime/CUDA/DeviceBuffer.h"
#include "kvcc/Runtime/CUDA/MgpuABI.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>
#include <utility>

namespace kvcc::runtime {

/// A CUDA artifact's buffers: the weights and the KV pools live on the device
/// for the executor's lifetime. A step's arguments are packed into one host
/// staging area and go up in one copy, into a device buffer that only grows;
/// the logits, or for a greedy step only the picks (8 bytes a sequence), come
/// back in one copy on the same stream, and the host waits once per step
/// (kvcc_cuda_begin_step / kvcc_cuda_end_step).
struct Executor::DeviceState {
  cuda::CudaDevice *device = nullptr;
  cuda::DeviceBuffer weights;
  std::vector<cuda::DeviceBuffer> pools;
  enum Buf { Args, Logits, Greedy, NumBufs };
  cuda::DeviceBuffer bufs[NumBufs];
  std::vector<unsigned char> staging; // the packed arguments of the step
  std::vector<unsigned char> picked;  // a greedy step's ids and logits, as copied back
  // CUDA graphs of decode steps by (batch, block-table width): what a step
  // launches depends on nothing else (model.so's host code reads shapes
  // only; the data its kernels read is on the device, at the addresses of
  // bufs[] and of the weights and pools, which do not move while a graph
  // lives). `warmed`: keys that ran once launch by launch.
  using GraphKey = std::pair<int64_t, int64_t>;
  std::map<GraphKey, void *> graphs;
  std::set<GraphKey> warmed;

  void dropGraphs() {
    for (auto &entry : graphs)
      kvcc_cuda_destroy_graph(entry.second);
    graphs.clear();
  }
  ~DeviceState() { dropGraphs(); }

  /// `bytes` of room in bufs[b] (contents not kept when it grows).
  Status reserve(Buf b, size_t bytes, const char *what) {
    cuda::DeviceBuffer &buf = bufs[b];
    if (buf.size() >= bytes)
      return Status::success();
    dropGraphs(); // they would read and write the old buffer
    const size_t size = std::max(bytes, 2 * buf.size()); // doubling: few regrowths
    buf = cuda::DeviceBuffer(); // freed first: the old contents are not kept
    Expected<cuda::DeviceBuffer> grown = cuda::DeviceBuffer::allocate(*device, size);
    if (!grown)
      return Status::error("executor: device buffer for " + std::string(what) + ": " + grown.message());
    buf = grown.take();
    return Status::success();
  }
  /// Appends `v` to the staging area at a 256-byte boundary; its offset.
  template <typename T> size_t stage(const std::vector<T> &v) {
    const size_t offset = (staging.size() + 255) / 256 * 256;
    staging.resize(offset + v.size() * sizeof(T));
    if (!v.empty())
      std::memcpy(staging.data() + offset, v.data(), v.size() * sizeof(T));
    return offset;
  }
  template <typename T> T *argAt(size_t offset) {
    return reinterpret_cast<T *>(static_cast<unsigned char *>(bufs[Args].data()) + offset);
  }
};

namespace {
std::string seqName(int64_t seq) { return "sequence " + std::to_string(seq); }
int64_t ceilDiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }
} // namespace

Expected<std::unique_ptr<Executor>> Executor::create(const Artifact &artifact, WeightArena &weights,
                                                     const ExecutorOptions &o) {
  const ModelSpec &spec = artifact.spec();
  const CacheGeometry &c = artifact.cache();
  if (weights.size() != artifact.manifest().weightsSize || weights.dtype() != artifact.manifest().weightsDType)
    return Status::error("executor: the weight arena holds " + std::to_string(weights.size()) + " " +
                         abi::dtypeName(weights.dtype()) + " elements but the artifact expects " +
                         std::to_string(artifact.manifest().weightsSize) + " " +
                         abi::dtypeName(artifact.manifest().weightsDType));
  if (o.maxBatch < 1 || o.maxBatch > (int64_t(1) << 20))
    return Status::error("executor: batch size " + std::to_string(o.maxBatch) + " must be in 1..1048576");
  if (o.maxContext < 0 || o.maxContext > spec.maxContext)
    return Status::error("executor: --max-context " + std::to_string(o.maxContext) +
                         " is outside 1.." + std::to_string(spec.maxContext) + " (the model's context)");
  int64_t pages = o.kvPages;
  if (pages < 0 || pages > std::numeric_limits<int32_t>::max())
    return Status::error("executor: --kv-pages " + std::to_string(pages) + " must be in 1..2147483647");
  if (pages == 0) {
    int64_t ctx = o.maxContext > 0 ? o.maxContext : spec.maxContext;
    pages = ceilDiv(ctx, c.blockSize) * o.maxBatch; // <= 2^26 * 2^20: no overflow
    if (pages > std::numeric_limits<int32_t>::max())
      return Status::error("executor: " + std::to_string(pages) + " pages for a context of " + std::to_string(ctx) +
                           " x batch " + std::to_string(o.maxBatch) + " exceed 2^31-1; pass --kv-pages");
  }
  // Bytes of every layer's pool must stay within int64 (and size_t).
  if (pages > std::numeric_limits<int64_t>::max() / c.layers / c.pageBytes())
    return Status::error("executor: " + std::to_string(pages) + " pages of " + std::to_string(c.pageBytes()) +
                         " bytes in each of " + std::to_string(c.layers) + " layers overflow a 64-bit size");
  Expected<BlockManager> bm = BlockManager::create(pages, c.blockSize);
  if (!bm)
    return bm.status();

  std::unique_ptr<Executor> e(new Executor());
  e->artifact_ = &artifact;
  e->weights_ = &weights;
  e->options_ = o;
  e->cache_ = c;
  e->vocab_ = spec.vocabSize;
  e->maxContext_ = spec.maxContext;
  e->pages_ = pages;
  e->blocks_ = std::make_unique<BlockManager>(bm.take());
  if (artifact.manifest().target == "cuda")
    return createOnDevice(std::move(e));
  for (int64_t l = 0; l < c.layers; ++l) {
    // Pages hold an even number of elements: whole 4-byte words of any dtype
    // (at most pageElements() words a page, so no int64 overflow).
    Expected<FloatBuffer> pool =
        allocateFloats(pages * (c.pageBytes() / 4), "KV cache of layer " + std::to_string(l) + " (" +
                                                      std::to_string(pages) + " pages)");
    if (!pool)
      return pool.status();
    e->pools_.push_back(pool.take());
  }
  return e;
}

Expected<std::unique_ptr<Executor>> Executor::createOnDevice(std::unique_ptr<Executor> e) {
  // The device the mgpu functions of model.so run on (Artifact::open opened
  // it before loading the kernels).
  Expected<cuda::CudaDevice *> dev = cuda::mgpuDevice(0);
  if (!dev)
    return Status::error("executor: " + dev.message());
  auto d = std::make_unique<DeviceState>();
  d->device = *dev;
  const size_t weightBytes = static_cast<size_t>(e->weights_->bytes());
  Expected<cuda::DeviceBuffer> w = cuda::DeviceBuffer::allocate(*d->device, weightBytes);
  if (!w)
    return Status::error("executor: device memory for the weights (" + std::to_string(weightBytes) +
                         " bytes): " + w.message());
  d->weights = w.take();
  if (Status s = d->weights.upload(e->weights_->data(), weightBytes); !s.ok())
    return Status::error("executor: uploading the weights: " + s.message());
  const size_t poolBytes = static_cast<size_t>(e->pages_ * e->cache_.pageBytes());
  for (int64_t l = 0; l < e->cache_.layers; ++l) {
    Expected<cuda::DeviceBuffer> pool = cuda::DeviceBuffer::allocate(*d->device, poolBytes);
    if (!pool)
      return Status::error("executor: device memory for the KV cache of layer " + std::to_string(l) + " (" +
                           std::to_string(e->pages_) + " pages, " + std::to_string(poolBytes) +
                           " bytes): " + pool.message());
    if (Status s = pool->zero(); !s.ok())
      return Status::error("executor: clearing the KV cache: " + s.message());
    d->pools.push_back(pool.take());
  }
  e->device_ = std::move(d);
  e->graphStats_.enabled = e->options_.cudaGraphs;
  if (e->options_.cudaGraphs)
    if (Status s = e->reserveForGraphs(); !s.ok())
      return s;
  return e;
}

Status Executor::reserveForGraphs() {
  // The step buffers sized for the largest decode step up front: a buffer
  // that grows later drops the graphs that hold its old address.
  DeviceState &d = *device_;
  const size_t B = static_cast<size_t>(options_.maxBatch);
  const size_t width = static_cast<size_t>(ceilDiv(tokenCapacity(), cache_.blockSize));
  // The seven argument arrays of stage(), each at a 256-byte boundary.
  const size_t args = 7 * 256 + B * (4 + 8 + 8 + 4 + 4 + 8) + 4 + B * width * 4;
  const size_t greedy = (B * 4 + 255) / 256 * 256 + B * 4;
  if (Status s = d.reserve(DeviceState::Args, args, "the step's arguments"); !s.ok())
    return s;
  if (Status s = d.reserve(DeviceState::Logits, B * static_cast<size_t>(vocab_) * sizeof(float), "logits"); !s.ok())
    return s;
  return d.reserve(DeviceState::Greedy, greedy, "the greedy picks");
}

Executor::~Executor() = default;

int64_t Executor::tokenCapacity() const { return std::min(pages_ * cache_.blockSize, maxContext_); }

int64_t Executor::sequenceCapacity() const {
  if (options_.kvPages > 0 || options_.maxContext <= 0)
    return tokenCapacity();
  // The pages the derived pool gave each of its maxBatch sequences.
  const int64_t share = ceilDiv(options_.maxContext, cache_.blockSize) * cache_.blockSize;
  return std::min(tokenCapacity(), share);
}

int64_t Executor::contextLength(int64_t seq) const {
  if (options_.noKVCache) {
    auto it = history_.find(seq);
    return it == history_.end() ? 0 : static_cast<int64_t>(it->second.size());
  }
  Expected<int64_t> n = blocks_->contextLength(seq);
  return n ? *n : 0;
}

Status Executor::checkBatch(const std::vector<StepSequence> &batch) const {
  if (batch.empty())
    return Status::error("executor: a step needs at least one sequence");
  std::unordered_set<int64_t> ids;
  int64_t total = 0, pagesNeeded = 0, pagesReleased = 0;
  for (const StepSequence &s : batch) {
    if (!ids.insert(s.seq).second)
      return Status::error("executor: " + seqName(s.seq) + " appears twice in one step");
    if (s.tokens.empty())
      return Status::error("executor: " + seqName(s.seq) + " has no new tokens in this step");
    for (size_t i = 0; i < s.tokens.size(); ++i)
      if (s.tokens[i] < 0 || s.tokens[i] >= vocab_)
        return Status::error("executor: token " + std::to_string(s.tokens[i]) + " (position " +
                             std::to_string(contextLength(s.seq) + int64_t(i)) + " of " + seqName(s.seq) +
                             ") is outside the vocabulary [0, " + std::to_string(vocab_) + ")");
    int64_t n = static_cast<int64_t>(s.tokens.size());
    int64_t before = contextLength(s.seq);
    if (n > maxContext_ - before)
      return Status::error("executor: " + seqName(s.seq) + " would grow to " + std::to_string(before + n) +
                           " tokens, beyond the model's context of " + std::to_string(maxContext_));
    // Without a cache every token of the history goes through the model again.
    total += options_.noKVCache ? before + n : n;
    if (total > std::numeric_limits<int32_t>::max())
      return Status::error("executor: a step of " + std::to_string(total) + " tokens is too large for int32 "
                                                                                "query offsets");
    if (options_.noKVCache) {
      pagesNeeded += ceilDiv(before + n, cache_.blockSize);
      if (Expected<std::vector<int64_t>> t = blocks_->blockTable(s.seq))
        pagesReleased += static_cast<int64_t>(t->size());
    } else {
      Expected<int64_t> need = blocks_->blocksNeeded(s.seq, n);
      if (!need)
        return Status::error("executor: KV cache pool exhausted: " + need.message());
      pagesNeeded += *need;
    }
  }
  int64_t available = blocks_->freeBlocks() + pagesReleased;
  if (pagesNeeded > available)
    return Status::error("executor: KV cache pool exhausted: the step needs " + std::to_string(pagesNeeded) +
                         " new pages of " + std::to_string(cache_.blockSize) + " tokens, " +
                         std::to_string(available) + " of " + std::to_string(pages_) +
                         " are free (raise --kv-pages or --max-context)");
  return Status::success();
}

Status Executor::poison(int64_t page) {
  // A page as 4-byte words of quiet NaNs (two per word for 16-bit dtypes).
  const int64_t words = cache_.pageBytes() / 4;
  const uint32_t nanBits = abi::nanPattern(cache_.dtype);
  if (device_) {
    for (cuda::DeviceBuffer &pool : device_->pools)
      if (Status s = pool.fill32Async(nanBits, static_cast<size_t>(words), static_cast<size_t>(page * words) * 4);
          !s.ok())
        return Status::error("executor: poisoning page " + std::to_string(page) + ": " + s.message());
    // Enqueued on the legacy stream: kvcc_cuda_begin_step orders the next
    // step after them.
    return Status::success();
  }
  for (FloatBuffer &pool : pools_) {
    auto *w = reinterpret_cast<uint32_t *>(pool.get());
    std::fill(w + page * words, w + (page + 1) * words, nanBits);
  }
  return Status::success();
}

Status Executor::schedule(const std::vector<StepSequence> &batch, bool graph) {
  const size_t B = batch.size();
  tokens_.clear();
  positions_.clear();
  slots_.clear();
  queryStart_.assign(1, 0);
  contextLens_.clear();
  logitRows_.clear();
  std::vector<std::vector<int64_t>> tables(B);
  for (size_t b = 0; b < B; ++b) {
    const StepSequence &s = batch[b];
    // What goes through the model: the new tokens, or the whole history.
    const std::vector<int32_t> *feed = &s.tokens;
    int64_t start = contextLength(s.seq);
    size_t pagesBefore = 0;
    if (options_.noKVCache) {
      std::vector<int32_t> &h = history_[s.seq];
      h.insert(h.end(), s.tokens.begin(), s.tokens.end());
      feed = &h;
      start = 0;
      if (blocks_->hasSequence(s.seq))
        if (Status st = blocks_->release(s.seq); !st.ok())
          return st;
    } else if (Expected<std::vector<int64_t>> t = blocks_->blockTable(s.seq)) {
      pagesBefore = t->size();
    }
    Expected<std::vector<int64_t>> slots = blocks_->appendSlots(s.seq, static_cast<int64_t>(feed->size()));
    if (!slots) // checkBatch admitted the step: this is a bookkeeping bug
      return Status::error("executor: internal error: " + slots.message());
    Expected<std::vector<int64_t>> table = blocks_->blockTable(s.seq);
    if (!table)
      return table.status();
    tables[b] = table.take();
    // Without a cache every page is fresh; with one, only the pages just taken.
    if (options_.poisonNewPages)
      for (size_t p = options_.noKVCache ? 0 : pagesBefore; p < tables[b].size(); ++p)
        if (Status st = poison(tables[b][p]); !st.ok())
          return st;
    for (size_t i = 0; i < feed->size(); ++i) {
      tokens_.push_back((*feed)[i]);
      positions_.push_back(start + static_cast<int64_t>(i));
      slots_.push_back((*slots)[i]);
    }
    queryStart_.push_back(static_cast<int32_t>(tokens_.size()));
    contextLens_.push_back(static_cast<int32_t>(start + static_cast<int64_t>(feed->size())));
    logitRows_.push_back(static_cast<int64_t>(tokens_.size()) - 1);
  }
  tableWidth_ = 0;
  for (const auto &t : tables)
    tableWidth_ = std::max<int64_t>(tableWidth_, static_cast<int64_t>(t.size()));
  // A graph bakes the table's shape into its launches: one width for all.
  if (graph)
    tableWidth_ = std::max(tableWidth_, ceilDiv(tokenCapacity(), cache_.blockSize));
  // Rows are padded with page 0: a valid page, never read past context_lens.
  blockTables_.assign(B * static_cast<size_t>(tableWidth_), 0);
  for (size_t b = 0; b < B; ++b)
    for (size_t p = 0; p < tables[b].size(); ++p)
      blockTables_[b * static_cast<size_t>(tableWidth_) + p] = static_cast<int32_t>(tables[b][p]);
  return Status::success();
}

bool Executor::graphStep(const std::vector<StepSequence> &batch) const {
  if (!device_ || !graphStats_.enabled || options_.noKVCache)
    return false;
  return std::all_of(batch.begin(), batch.end(), [](const StepSequence &s) { return s.tokens.size() == 1; });
}

Status Executor::checkGuarantees() const {
  auto fail = [](const std::string &m) { return Status::error("executor: ABI guarantee violated: " + m); };
  const int64_t B = static_cast<int64_t>(contextLens_.size()), N = static_cast<int64_t>(tokens_.size());
  const int64_t bs = cache_.blockSize;
  if (static_cast<int64_t>(queryStart_.size()) != B + 1 || queryStart_[0] != 0 || queryStart_[B] != N)
    return fail("query_start must run from 0 to N = " + std::to_string(N));
  for (int64_t b = 0; b < B; ++b) {
    int64_t q0 = queryStart_[b], q1 = queryStart_[b + 1], ctx = contextLens_[b];
    if (q1 < q0)
      return fail("query_start decreases at sequence row " + std::to_string(b));
    if (ctx < q1 - q0 || ctx > tableWidth_ * bs)
      return fail("context_lens[" + std::to_string(b) + "] = " + std::to_string(ctx) + " for " +
                  std::to_string(q1 - q0) + " new tokens and " + std::to_string(tableWidth_) + " pages");
    if (logitRows_[b] < q0 || logitRows_[b] >= q1)
      return fail("logit_rows[" + std::to_string(b) + "] is outside the sequence's tokens");
    const int32_t *row = &blockTables_[static_cast<size_t>(b * tableWidth_)];
    for (int64_t p = 0; p < tableWidth_; ++p)
      if (row[p] < 0 || row[p] >= pages_)
        return fail("block_tables[" + std::to_string(b) + "][" + std::to_string(p) + "] = " +
                    std::to_string(row[p]) + " is not a page of the pool");
    for (int64_t t = q0; t < q1; ++t) {
      int64_t pos = positions_[t];
      // New tokens are the last ones of their sequence, in order.
      if (pos != ctx - (q1 - t))
        return fail("position of token " + std::to_string(t) + " is " + std::to_string(pos));
      int64_t want = int64_t(row[pos / bs]) * bs + pos % bs;
      if (slots_[t] != want)
        return fail("slot of token " + std::to_string(t) + " is " + std::to_string(slots_[t]) +
                    ", outside its sequence's pages (expected " + std::to_string(want) + ")");
    }
  }
  return Status::success();
}

Status Executor::step(const std::vector<StepSequence> &batch, std::vector<float> &logits) {
  return run(batch, Output::Logits, logits, greedyScratch_);
}

Status Executor::stepGreedy(const std::vector<StepSequence> &batch, std::vector<int32_t> &tokens) {
  if (Status s = run(batch, Output::Greedy, logitsScratch_, tokens); !s.ok())
    return s;
  // What Sampler::greedy refuses on the host, refused from the pick alone.
  for (size_t b = 0; b < tokens.size(); ++b) {
    const float v = greedyLogit_[b];
    const std::string where = seqName(batch[b].seq) + ": ";
    if (tokens[b] < 0 || tokens[b] >= vocab_)
      return Status::error("executor: " + where + "the model's greedy pick " + std::to_string(tokens[b]) +
                           " is outside the vocabulary [0, " + std::to_string(vocab_) + ")");
    if (std::isnan(v))
      return Status::error("executor: " + where + "logit of token " + std::to_string(tokens[b]) + " is NaN");
    if (v == std::numeric_limits<float>::infinity())
      return Status::error("executor: " + where + "logit of token " + std::to_string(tokens[b]) + " is +inf");
    if (v == -std::numeric_limits<float>::infinity())
      return Status::error("executor: " + where + "every logit is -inf");
  }
  return Status::success();
}

Status Executor::run(const std::vector<StepSequence> &batch, Output want, std::vector<float> &logits,
                     std::vector<int32_t> &greedy) {
  if (Status s = checkBatch(batch); !s.ok())
    return s;
  const bool graph = graphStep(batch);
  if (Status s = schedule(batch, graph); !s.ok())
    return s;
  if (Status s = checkGuarantees(); !s.ok())
    return s;

  const int64_t B = static_cast<int64_t>(batch.size()), N = static_cast<int64_t>(tokens_.size());
  // Poisoned so that a row the model forgot to write reads as NaN (the
  // sampler refuses it by token id; a pick of -1 is outside the vocabulary)
  // rather than as the previous step's outputs.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  greedy.assign(static_cast<size_t>(B), -1);
  greedyLogit_.assign(static_cast<size_t>(B), nan);
  if (device_) {
    if (want == Output::Logits)
      logits.assign(static_cast<size_t>(B * vocab_), nan);
    if (Status s = runOnDevice(B, N, graph, want, logits, greedy); !s.ok())
      return s;
  } else {
    logits.assign(static_cast<size_t>(B * vocab_), nan); // written either way
    StepBuffers host{tokens_.data(),      positions_.data(),   slots_.data(),  queryStart_.data(),
                     contextLens_.data(), blockTables_.data(), logitRows_.data(), weights_->data(),
                     {},                  logits.data(),       greedy.data(),  greedyLogit_.data()};
    for (FloatBuffer &pool : pools_)
      host.caches.push_back(pool.get());
    callStep(host, B, N);
  }
  tokensComputed_ += N;
  ++stepsRun_;
  return Status::success();
}

void Executor::callStep(const StepBuffers &m, int64_t B, int64_t N) const {
  using abi::denseDescriptor;
  auto dTokens = denseDescriptor<int32_t, 1>(m.tokens, {N});
  auto dPositions = denseDescriptor<int64_t, 1>(m.positions, {N});
  auto dSlots = denseDescriptor<int64_t, 1>(m.slots, {N});
  auto dQueryStart = denseDescriptor<int32_t, 1>(m.queryStart, {B + 1});
  auto dContextLens = denseDescriptor<int32_t, 1>(m.contextLens, {B});
  auto dBlockTables = denseDescriptor<int32_t, 2>(m.blockTables, {B, tableWidth_});
  auto dLogitRows = denseDescriptor<int64_t, 1>(m.logitRows, {B});
  auto dWeights = denseDescriptor<void, 1>(m.weights, {weights_->size()});
  // The element type only types the pointer: strides count elements.
  std::vector<abi::MemRefDescriptor<void, 5>> dCaches;
  dCaches.reserve(m.caches.size());
  for (void *pool : m.caches)
    dCaches.push_back(
        denseDescriptor<void, 5>(pool, {pages_, 2, cache_.blockSize, cache_.kvHeads, cache_.headDim}));
  auto dLogits = denseDescriptor<float, 2>(m.logits, {B, vocab_});
  auto dGreedy = denseDescriptor<int32_t, 1>(m.greedy, {B});
  auto dGreedyLogit = denseDescriptor<float, 1>(m.greedyLogit, {B});
  std::vector<void *> args = {&dTokens, &dPositions,   &dSlots,     &dQueryStart,
                              &dContextLens, &dBlockTables, &dLogitRows, &dWeights};
  for (auto &d : dCaches)
    args.push_back(&d);
  for (void *out : {static_cast<void *>(&dLogits), static_cast<void *>(&dGreedy),
                    static_cast<void *>(&dGreedyLogit)})
    args.push_back(out);
  artifact_->step()(args.data());
}

void Executor::launchStep(const StepBuffers &dev, int64_t B, int64_t N, bool graph) {
  DeviceState &d = *device_;
  if (!graph) {
    ++graphStats_.eagerSteps;
    callStep(dev, B, N);
    return;
  }
  const DeviceState::GraphKey key{B, tableWidth_};
  if (!cuda::mgpuStatus().ok()) { // an earlier failure: the step reports it, graphs are not to blame
    callStep(dev, B, N);
    return;
  }
  if (auto it = d.graphs.find(key); it != d.graphs.end()) {
    if (kvcc_cuda_launch_graph(it->second) == 0) // else recorded: the step fails
      ++graphStats_.replayed;
    return;
  }
  // The first step of a shape runs launch by launch: it loads the kernels
  // (lazily, on CUDA 12.2+), lets cuBLAS pick its kernels, and fills the
  // block cache, none of which may happen while recording.
  if (d.warmed.insert(key).second) {
    ++graphStats_.eagerSteps;
    callStep(dev, B, N);
    return;
  }
  if (kvcc_cuda_begin_capture() == 0) {
    callStep(dev, B, N);
    void *exec = nullptr;
    if (kvcc_cuda_end_capture(&exec) == 0) {
      d.graphs[key] = exec;
      ++graphStats_.captured;
      if (kvcc_cuda_launch_graph(exec) == 0)
        ++graphStats_.replayed;
      return;
    }
  }
  // Nothing ran while recording: say why, and run this step and the next
  // ones launch by launch.
  graphStats_.enabled = false;
  graphStats_.disabledBecause = cuda::mgpuStatus().message();
  cuda::mgpuClearError();
  d.dropGraphs();
  ++graphStats_.eagerSteps;
  callStep(dev, B, N);
}

Status Executor::runOnDevice(int64_t B, int64_t N, bool graph, Output want, std::vector<float> &logits,
                             std::vector<int32_t> &greedy) {
  using D = DeviceState;
  DeviceState &d = *device_;
  d.staging.clear();
  const size_t tokens = d.stage(tokens_), positions = d.stage(positions_), slots = d.stage(slots_),
               queryStart = d.stage(queryStart_), contextLens = d.stage(contextLens_),
               blockTables = d.stage(blockTables_), logitRows = d.stage(logitRows_);
  const size_t logitBytes = static_cast<size_t>(B * vocab_) * sizeof(float);
  // The greedy ids and their logits share one buffer, so they come back in
  // one copy: ids at 0, logits at the next 256-byte boundary.
  const size_t idBytes = static_cast<size_t>(B) * sizeof(int32_t);
  const size_t greedyLogitAt = (idBytes + 255) / 256 * 256;
  const size_t greedyBytes = greedyLogitAt + static_cast<size_t>(B) * sizeof(float);
  if (Status s = d.reserve(D::Args, d.staging.size(), "the step's arguments"); !s.ok())
    return s;
  if (Status s = d.reserve(D::Logits, logitBytes, "logits"); !s.ok())
    return s;
  if (Status s = d.reserve(D::Greedy, greedyBytes, "the greedy picks"); !s.ok())
    return s;
  auto *greedyBase = static_cast<unsigned char *>(d.bufs[D::Greedy].data());

  // Everything below is queued on the step's stream, behind the page fills
  // and before the download; the host waits once, in kvcc_cuda_end_step.
  auto stream = static_cast<cuda::CUstream>(kvcc_cuda_begin_step());
  if (!stream)
    return Status::error("executor: the CUDA step failed: " + cuda::mgpuStatus().message());
  Status queued = d.bufs[D::Args].copyFromHostAsync(d.staging.data(), d.staging.size(), 0, stream);
  if (queued.ok()) {
    StepBuffers dev{d.argAt<int32_t>(tokens),      d.argAt<int64_t>(positions),
                    d.argAt<int64_t>(slots),       d.argAt<int32_t>(queryStart),
                    d.argAt<int32_t>(contextLens), d.argAt<int32_t>(blockTables),
                    d.argAt<int64_t>(logitRows),   d.weights.data(),
                    {},                            static_cast<float *>(d.bufs[D::Logits].data()),
                    reinterpret_cast<int32_t *>(greedyBase),
                    reinterpret_cast<float *>(greedyBase + greedyLogitAt)};
    for (cuda::DeviceBuffer &pool : d.pools)
      dev.caches.push_back(pool.data());
    launchStep(dev, B, N, graph);
    // model.so's mgpu calls cannot return errors: the first one is recorded.
    if (cuda::mgpuStatus().ok()) {
      if (want == Output::Logits) {
        queued = d.bufs[D::Logits].copyToHostAsync(logits.data(), logitBytes, 0, stream);
      } else {
        d.picked.resize(greedyBytes);
        queued = d.bufs[D::Greedy].copyToHostAsync(d.picked.data(), greedyBytes, 0, stream);
      }
    }
  }
  const bool ended = kvcc_cuda_end_step() == 0; // waits for the whole step
  if (!queued.ok())
    return Status::error("executor: copying the step's buffers: " + queued.message());
  if (Status s = cuda::mgpuStatus(); !s.ok() || !ended)
    return Status::error("executor: the CUDA step failed: " + s.message());
  if (want == Output::Greedy) {
    std::memcpy(greedy.data(), d.picked.data(), idBytes);
    std::memcpy(greedyLogit_.data(), d.picked.data() + greedyLogitAt, static_cast<size_t>(B) * sizeof(float));
  }
  return Status::success();
}

Status Executor::release(int64_t seq) {
  history_.erase(seq);
  if (!blocks_->hasSequence(seq))
    return Status::error("executor: cannot release unknown " + seqName(seq));
  return blocks_->release(seq);
}

} // namespace kvcc::runtime
