//===- Artifact.h - A compiled artifact directory, opened -------*- C++ -*-===//
//
// `kvcc compile` writes DIR/model.so and DIR/manifest.json (schema in
// ModelABI.h). Opening an artifact validates the whole manifest before the
// library is loaded, so that everything downstream (weight arena, page pools,
// step descriptors) can trust the geometry it reads here: a hostile or stale
// manifest is rejected with the file, the field and the value at fault.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_ARTIFACT_H
#define KVCC_RUNTIME_ARTIFACT_H

#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Frontend/ModelSpec.h"
#include "kvcc/Runtime/ModelABI.h"
#include "kvcc/Support/Error.h"
#include "kvcc/Support/Json.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kvcc::runtime {

/// The "cache" object of the manifest.
struct CacheGeometry {
  int64_t layers = 0, blockSize = 0, kvHeads = 0, headDim = 0;
  abi::DType dtype = abi::DType::F32;
  /// Elements of one page of one layer: 2 * blockSize * kvHeads * headDim.
  int64_t pageElements() const { return 2 * blockSize * kvHeads * headDim; }
  int64_t elementBytes() const { return abi::dtypeBytes(dtype); }
  int64_t pageBytes() const { return pageElements() * elementBytes(); }
};

/// One entry of the manifest's "weights" list.
struct ManifestWeight {
  std::string name;           ///< Canonical name (ModelSource.h).
  std::vector<int64_t> shape; ///< Row-major.
  int64_t offset = 0;         ///< In elements of weights_dtype from the arena start.
  int64_t numElements = 0;
};

/// Everything manifest.json says, validated.
struct Manifest {
  std::string target; ///< "cpu" or "cuda"
  std::string entry;  ///< "kvcc_step"
  ModelSpec spec;
  CacheGeometry cache;
  std::vector<ManifestWeight> weights; ///< Manifest order.
  int64_t weightsSize = 0;             ///< Elements of weightsDType.
  /// The model's weights and activations (`kvcc compile --dtype`).
  abi::DType weightsDType = abi::DType::F32;

  /// Parses and validates a manifest document; `source` prefixes errors
  /// ("DIR/manifest.json: cache.block_size is 0, expected >= 1").
  static Expected<Manifest> fromJson(const json::Value &root, const std::string &source);
};

/// Caps that keep hostile manifests from turning into huge allocations or
/// int64 overflow further down (the arena is weightsSize * 4 bytes at most).
constexpr int64_t kMaxWeightsSize = int64_t(1) << 36; // 256 GiB of f32
constexpr int64_t kMaxBlockSize = int64_t(1) << 16;

class Artifact {
public:
  /// Reads DIR/manifest.json, validates it, dlopens DIR/model.so
  /// (RTLD_NOW | RTLD_LOCAL) and resolves the entry point.
  static Expected<std::unique_ptr<Artifact>> open(const std::string &dir);
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const std::string &dir() const { return dir_; }
  const Manifest &manifest() const { return manifest_; }
  const ModelSpec &spec() const { return manifest_.spec; }
  const CacheGeometry &cache() const { return manifest_.cache; }
  abi::StepFn step() const { return step_; }

  /// Another symbol of model.so, or nullptr (tests reach their mock's hooks
  /// through this; later ABIs may add entry points).
  void *lookup(const std::string &symbol) const;

private:
  Artifact() = default;
  std::string dir_;
  Manifest manifest_;
  void *handle_ = nullptr;
  abi::StepFn step_ = nullptr;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_ARTIFACT_H
