//===- WeightArena.cpp - The flat weight buffer of a step -----------------===//
//
// Weights are checked before a byte is converted: a model that does not match
// the artifact would otherwise run to completion and print nonsense (wrong
// head count, transposed projection) or index past a buffer (wrong vocab).
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/WeightArena.h"

#include "kvcc/Frontend/GGUF.h" // floatToHalf, floatToBFloat16

#include <cerrno>
#include <cmath>
#include <cstring>
#include <sys/mman.h>

namespace kvcc::runtime {

void AlignedFree::operator()(float *p) const {
  if (p)
    ::munmap(p, bytes);
}

Expected<FloatBuffer> allocateFloats(int64_t count, const std::string &what) {
  if (count < 1 || count > (int64_t(1) << 40))
    return Status::error(what + ": cannot allocate " + std::to_string(count) + " f32 elements");
  // Compiled code may use aligned vector loads at any 16-element offset:
  // mmap's page alignment covers the 64 bytes that needs.
  size_t bytes = static_cast<size_t>(count) * sizeof(float);
  void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return Status::error(what + ": cannot allocate " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  return FloatBuffer(static_cast<float *>(p), AlignedFree{bytes});
}

namespace {
std::string num(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", d);
  return buf;
}
bool sameReal(double a, double b) {
  // The manifest went through JSON text; allow the last-digit noise of a
  // round trip, nothing a compiled constant would notice.
  return a == b || std::fabs(a - b) <= 1e-9 * std::fmax(std::fabs(a), std::fabs(b));
}
} // namespace

Status checkSpecMatches(const ModelSpec &m, const ModelSpec &c, const std::string &model) {
  auto differ = [&](const std::string &what, const std::string &mv, const std::string &cv) {
    return Status::error(model + " has " + what + " " + mv + " but the artifact was compiled for " + cv);
  };
  if (m.arch != c.arch)
    return differ("architecture", "'" + m.arch + "'", "'" + c.arch + "'");
  if (m.numLayers != c.numLayers)
    return Status::error(model + " has " + std::to_string(m.numLayers) + " layers but the artifact was compiled for " +
                         std::to_string(c.numLayers));
  struct {
    const char *what;
    int64_t m, c;
  } ints[] = {{"hidden size", m.hiddenSize, c.hiddenSize},
              {"attention heads", m.numHeads, c.numHeads},
              {"KV heads", m.numKVHeads, c.numKVHeads},
              {"head dim", m.headDim, c.headDim},
              {"intermediate (FFN) size", m.intermediateSize, c.intermediateSize},
              {"vocabulary size", m.vocabSize, c.vocabSize},
              {"rotary dim", m.rotaryDim, c.rotaryDim}};
  for (auto &f : ints)
    if (f.m != f.c)
      return differ(f.what, std::to_string(f.m), std::to_string(f.c));
  if (!sameReal(m.ropeTheta, c.ropeTheta))
    return differ("rope theta", num(m.ropeTheta), num(c.ropeTheta));
  if (!sameReal(m.rmsEps, c.rmsEps))
    return differ("RMSNorm eps", num(m.rmsEps), num(c.rmsEps));
  if (m.ropeStyle != c.ropeStyle)
    return differ("rope style", ropeStyleName(m.ropeStyle), ropeStyleName(c.ropeStyle));
  auto window = [](const std::optional<int64_t> &w) { return w ? std::to_string(*w) : std::string("none"); };
  if (m.slidingWindow != c.slidingWindow)
    return differ("sliding window", window(m.slidingWindow), window(c.slidingWindow));
  auto flag = [&](const char *what, bool mv, bool cv) {
    return Status::error(model + (mv ? " has " : " has no ") + what + " but the artifact was compiled " +
                         (cv ? "with" : "without") + " them");
  };
  if (m.qkvBias != c.qkvBias)
    return flag("q/k/v biases", m.qkvBias, c.qkvBias);
  if (m.tiedEmbeddings != c.tiedEmbeddings)
    return flag("tied embeddings", m.tiedEmbeddings, c.tiedEmbeddings);
  return Status::success();
}

Expected<WeightArena> WeightArena::load(const Artifact &artifact, const ModelSource &source) {
  const Manifest &man = artifact.manifest();
  if (Status s = checkSpecMatches(source.spec(), man.spec, source.path()); !s.ok())
    return s;
  // Shapes and types of everything the model should hold, summarized in one
  // message (with a count of further problems) before any conversion.
  if (Status s = source.checkWeights(); !s.ok())
    return s;

  const int64_t elementBytes = abi::dtypeBytes(man.weightsDType);
  Expected<FloatBuffer> buf = allocateFloats((man.weightsSize * elementBytes + 3) / 4, "weight arena");
  if (!buf)
    return buf.status();
  WeightArena arena;
  arena.data_ = buf.take();
  arena.size_ = man.weightsSize;
  arena.dtype_ = man.weightsDType;
  auto *bytes = reinterpret_cast<unsigned char *>(arena.data_.get());
  std::vector<float> staging; // one weight in f32 on its way to a 16-bit arena
  for (const ManifestWeight &w : man.weights) {
    const WeightSpec *have = source.findWeight(w.name);
    if (!have)
      return Status::error(source.path() + ": the artifact expects weight '" + w.name + "' " + shapeString(w.shape) +
                           ", which this model does not have");
    if (have->shape != w.shape)
      return Status::error(source.path() + ": weight '" + w.name + "' has shape " + shapeString(have->shape) +
                           " but the artifact expects " + shapeString(w.shape));
    // Manifest::fromJson checked offset + elements <= weightsSize.
    const size_t n = static_cast<size_t>(w.numElements);
    unsigned char *dst = bytes + w.offset * elementBytes;
    if (arena.dtype_ == abi::DType::F32) {
      if (Status s = source.readWeight(w.name, reinterpret_cast<float *>(dst), n); !s.ok())
        return s;
      continue;
    }
    staging.resize(n);
    if (Status s = source.readWeight(w.name, staging.data(), n); !s.ok())
      return s;
    auto *out = reinterpret_cast<uint16_t *>(dst);
    if (arena.dtype_ == abi::DType::BF16) {
      for (size_t i = 0; i < n; ++i)
        out[i] = floatToBFloat16(staging[i]);
      continue;
    }
    floatsToHalves(staging.data(), out, n);
    for (size_t i = 0; i < n; ++i)
      // f16 tops out at 65504: a finite weight beyond it would become inf
      // and poison every activation it touches.
      if ((out[i] & 0x7FFFu) == 0x7C00u && std::isfinite(staging[i]))
        return Status::error(source.path() + ": weight '" + w.name + "' holds " + num(staging[i]) +
                             " at element " + std::to_string(i) +
                             ", beyond f16's range (65504): compile with --dtype=bf16 or f32");
  }
  return arena;
}

} // namespace kvcc::runtime
