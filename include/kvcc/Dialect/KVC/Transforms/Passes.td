//===- Passes.td - kvc transformation passes ---------------*- tablegen -*-===//
#ifndef KVCC_DIALECT_KVC_TRANSFORMS_PASSES_TD
#define KVCC_DIALECT_KVC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KVCPlanSplitKV : Pass<"kvc-plan-split-kv", "mlir::func::FuncOp"> {
  let summary = "choose the split-KV factor of decode attention";
  let description = [{
    Flash-decoding splits a sequence's context across CTAs when one CTA per
    (sequence, KV-head group) cannot fill the GPU, and combines the partial
    results by their log-sum-exp. This pass annotates every decode-shaped
    `kvc.paged_attention` (one query token per sequence, static batch: the
    decode step of a batch bucket) with `num_splits`, chosen so that
    `batch * kv_heads * num_splits` CTAs fill whole waves of the device's SMs
    best, preferring fewer splits (each split adds a combine) when two choices
    are within `wave-tolerance`. An op whose batch is dynamic (a model's step
    function, which serves prefill chunks and decode steps of any batch) gets
    `max_splits` instead: the target plans each call from its batch and the
    device's SM count. Ops that carry a plan already are left alone.
  }];
  let options = [
    Option<"numSMs", "num-sms", "int64_t", /*default=*/"132",
           "streaming multiprocessors on the target GPU (H100 SXM: 132)">,
    Option<"maxSplits", "max-splits", "int64_t", /*default=*/"32",
           "upper bound on the split factor (1: never split)">,
    Option<"waveTolerance", "wave-tolerance", "double", /*default=*/"0.85",
           "accept the fewest splits whose wave efficiency is within this "
           "fraction of the best">
  ];
}

def KVCFuseRopeAppend : Pass<"kvc-fuse-rope-append", "mlir::func::FuncOp"> {
  let summary = "fuse the query rope, the key rope and the cache append";
  let description = [{
    An attention layer rotates its queries and keys and appends the rotated
    keys with the values to the cache; three kernels on the GPU, where the
    rotated keys make a round trip through memory only to be copied into the
    cache. This pass rewrites

    ```mlir
    %qr = kvc.rope neox %q, %pos {...}
    %kr = kvc.rope neox %k, %pos {...}
    kvc.append %kr, %v into %cache[%slots]
    ```

    into one `kvc.rope_append` when the key rope feeds only the append, and a
    query rope of the same positions and rotary parameters, in the same block
    before the append, has all its uses after it. Unmatched ops are left as
    they are.
  }];
}

#endif // KVCC_DIALECT_KVC_TRANSFORMS_PASSES_TD
