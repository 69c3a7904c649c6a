//===- WeightArena.h - The flat f32 weight buffer of a step -----*- C++ -*-===//
//
// model.so takes every weight in one f32 buffer (argument 7 of kvcc_step) at
// the offsets its manifest lists. The arena is filled once from a model file
// (GGUF dequantized, or safetensors converted) after checking that the model
// is the one the artifact was compiled for: same architecture on every dim,
// every listed weight present with the listed shape.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_WEIGHTARENA_H
#define KVCC_RUNTIME_WEIGHTARENA_H

#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/Artifact.h"
#include "kvcc/Support/Error.h"

#include <cstdint>
#include <memory>

namespace kvcc::runtime {

/// "MODEL has 30 layers but the artifact was compiled for 2" for the first
/// field on which the model's spec and the manifest's spec disagree. Fields
/// the compiled code does not depend on (maxContext, bos/eos ids) are not
/// compared: one artifact serves any checkpoint of the same shapes.
Status checkSpecMatches(const ModelSpec &model, const ModelSpec &compiled, const std::string &modelName);

/// Unmaps what allocateFloats returns.
struct AlignedFree {
  size_t bytes = 0;
  void operator()(float *p) const;
};
using FloatBuffer = std::unique_ptr<float, AlignedFree>;

/// One page-aligned (so 64-byte-aligned), zeroed f32 buffer of `count` (>= 1)
/// elements, or an error naming `what` and the bytes requested (the page
/// pools use it too). Anonymous mmap: zero pages cost nothing until touched,
/// and an impossible size fails here instead of in the OOM killer.
Expected<FloatBuffer> allocateFloats(int64_t count, const std::string &what);

class WeightArena {
public:
  /// Checks `source` against the artifact and loads every manifest weight, in
  /// manifest order, into a fresh 64-byte-aligned arena (gaps are zero),
  /// converted to the manifest's weights_dtype (f16 and bf16 rounded to
  /// nearest even).
  static Expected<WeightArena> load(const Artifact &artifact, const ModelSource &source);

  /// weights_dtype elements (the step's weights argument).
  void *data() { return data_.get(); }
  const void *data() const { return data_.get(); }
  int64_t size() const { return size_; } ///< elements
  abi::DType dtype() const { return dtype_; }
  int64_t bytes() const { return size_ * abi::dtypeBytes(dtype_); }

private:
  WeightArena() = default;
  FloatBuffer data_; ///< 4-byte words holding dtype_ elements
  int64_t size_ = 0;
  abi::DType dtype_ = abi::DType::F32;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_WEIGHTARENA_H
