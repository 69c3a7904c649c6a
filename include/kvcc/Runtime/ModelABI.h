//===- ModelABI.h - The contract between model.so and the runtime -*- C++ -*-===//
//
// `kvcc compile MODEL --target=cpu -o DIR` writes DIR/model.so and
// DIR/manifest.json. This header is the whole contract the executor relies on;
// it holds no MLIR types (the runtime links no LLVM/MLIR).
//
// Entry point. model.so exports, with C linkage,
//
//     void kvcc_step(void **args);
//
// `args[i]` points at the i-th argument's strided memref descriptor
// (MemRefDescriptor<T, Rank> below: MLIR's C interface). One call runs one
// step of a ragged batch: prefill chunks and decode tokens of several
// sequences together. Arguments, in order:
//
//   0 tokens        i32 [N]            token ids of the step's N new tokens
//   1 positions     i64 [N]            position of each new token in its sequence
//   2 slots         i64 [N]            cache slot of each new token
//                                      (page * block_size + offset; < 0: padding)
//   3 query_start   i32 [B + 1]        tokens of sequence b: [query_start[b], query_start[b+1])
//   4 context_lens  i32 [B]            tokens of sequence b after this step
//   5 block_tables  i32 [B, P]         pages of sequence b (row padded with 0)
//   6 logit_rows    i64 [B]            row (in 0..N) whose logits are wanted, usually
//                                      the last token of each sequence
//   7 weights       T [W]              every weight, flat, at the manifest's offsets;
//                                      T is the manifest's weights_dtype (f32, f16
//                                      or bf16: the model's compute type)
//   8 .. 8+L-1      cache of layer l   [pages, 2, block_size, kv_heads, head_dim]
//                                      (token-major; keys at [.,0], values at [.,1]),
//                                      elements of the manifest's cache.dtype:
//                                      f32, f16 or bf16 (DType below)
//   8+L             logits (output)    f32 [B, vocab]
//   8+L+1           greedy (output)    i32 [B]  argmax of each logits row: the
//                                      lowest id among equal maxima; a NaN
//                                      counts above every number (kvc.argmax)
//   8+L+2           greedy_logit (out) f32 [B]  the logit at that id, so the
//                                      runtime can refuse a NaN or +inf pick
//                                      without reading the row
//
// model.so also exports the int64_t constants kvcc_weights_size,
// kvcc_block_size, kvcc_num_layers, kvcc_cache_element_bytes and
// kvcc_weight_element_bytes; the runtime refuses a manifest that disagrees
// with them.
//
// The runtime guarantees what the compiled code does not check (as vLLM's
// kernels do): query_start is increasing from query_start[0] == 0 to
// query_start[B] == N (every sequence has at least one new token), context_lens[b] >= the sequence's new tokens, every page index < pages, and
// every slot of a new token is inside the pages of its sequence.
//
// manifest.json (written by the compiler, read by the runtime):
//   {
//     "format": "kvcc-artifact", "version": 3, "target": "cpu",
//     "entry": "kvcc_step",
//     "model": { ModelSpec::toJson() },
//     "cache": { "layers": L, "block_size": B, "kv_heads": H, "head_dim": D,
//                "dtype": "f32" | "f16" | "bf16", "layout": "token_major" },
//     "weights": [ { "name": "layers.0.wq", "shape": [576, 576], "offset": 0 }, ... ],
//     "weights_size": W,           // elements of weights_dtype
//     "weights_dtype": "f32" | "f16" | "bf16"
//   }
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_MODELABI_H
#define KVCC_RUNTIME_MODELABI_H

#include <cstdint>
#include <string_view>

namespace kvcc::abi {

/// MLIR's strided memref descriptor (the C interface of a memref argument).
template <typename T, int Rank> struct MemRefDescriptor {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

/// Builds the descriptor of a dense row-major buffer.
template <typename T, int Rank>
MemRefDescriptor<T, Rank> denseDescriptor(T *data, const int64_t (&sizes)[Rank]) {
  MemRefDescriptor<T, Rank> d{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int i = Rank - 1; i >= 0; --i) {
    d.sizes[i] = sizes[i];
    d.strides[i] = stride;
    stride *= sizes[i];
  }
  return d;
}

/// An element type of the model's data: its weights and activations
/// (`kvcc compile --dtype`) or its KV cache (`--kv-cache-dtype`). f16 and
/// bf16 halve the memory and the bytes a decode step reads; reductions
/// (norms, softmax, GEMM accumulators) stay f32 either way.
enum class DType { F32, F16, BF16 };

constexpr const char *dtypeName(DType t) {
  return t == DType::F32 ? "f32" : t == DType::F16 ? "f16" : "bf16";
}

constexpr int64_t dtypeBytes(DType t) { return t == DType::F32 ? 4 : 2; }

/// The 32 bits that fill a poisoned page with quiet NaNs (two elements of a
/// 16-bit type): the runtime poisons freed pages so a stale read shows.
constexpr uint32_t nanPattern(DType t) {
  return t == DType::F32 ? 0x7fc00000u : t == DType::F16 ? 0x7e007e00u : 0x7fc07fc0u;
}

/// "f32", "f16" or "bf16"; false for anything else.
inline bool parseDType(std::string_view name, DType &out) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    if (name == dtypeName(t)) {
      out = t;
      return true;
    }
  return false;
}

/// The step entry point of model.so.
using StepFn = void (*)(void **args);

constexpr const char *kStepSymbol = "kvcc_step";

/// int64_t constants a compiled model.so exports so the runtime can check the
/// manifest against the code (a test double may omit them).
constexpr const char *kWeightsSizeSymbol = "kvcc_weights_size";
constexpr const char *kBlockSizeSymbol = "kvcc_block_size";
constexpr const char *kNumLayersSymbol = "kvcc_num_layers";
constexpr const char *kCacheElementBytesSymbol = "kvcc_cache_element_bytes";
constexpr const char *kWeightElementBytesSymbol = "kvcc_weight_element_bytes";
constexpr int kNumFixedArgs = 8; // tokens .. weights; caches and outputs follow
constexpr int kNumOutputs = 3;   // logits, greedy, greedy_logit

/// The manifest version this runtime reads. 2: the step also writes the
/// greedy outputs (version 1 artifacts wrote logits only); 3: weights_dtype
/// (version 2 weights were f32).
constexpr int kManifestVersion = 3;

} // namespace kvcc::abi

#endif // KVCC_RUNTIME_MODELABI_H
