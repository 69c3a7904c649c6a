//===- KVCOps.td - kvc operations --------------------------*- tablegen -*-===//
#ifndef KVCC_DIALECT_KVC_IR_KVCOPS_TD
#define KVCC_DIALECT_KVC_IR_KVCOPS_TD

include "kvcc/Dialect/KVC/IR/KVCTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Every cache op reads or writes this one resource: an append must stay before
// the attention that reads what it wrote, and two attentions may be reordered.
def KVC_KVCacheResource : Resource<"::kvcc::kvc::KVCacheResource">;

def KVC_FloatTensor : RankedTensorOf<[AnyFloat]>;
def KVC_IndexTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// kvc.append
//===----------------------------------------------------------------------===//

def KVC_AppendOp : KVC_Op<"append"> {
  let summary = "write the keys and values of new tokens into cache slots";
  let description = [{
    Writes row `t` of `key` and `value` (`[tokens, kv_heads, head_dim]`) into
    slot `slots[t]` of the cache, where slot = page * block_size + offset.
    A negative slot skips its token (padding). Slots must be distinct.
    `key` and `value` share one element type (f16, bf16 or f32), which may
    differ from the cache's: each element is converted when stored (rounded
    to nearest even when the cache is narrower), so an f32 model can keep an
    f16 or bf16 cache at half the memory and half the decode traffic.

    ```mlir
    kvc.append %k, %v into %cache[%slots]
        : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64>
        into !kvc.paged_cache<16, 8, 128, f16>
    ```
  }];
  let arguments = (ins
    KVC_FloatTensor:$key,
    KVC_FloatTensor:$value,
    Arg<KVC_PagedCacheType, "the cache written", [MemWrite<KVC_KVCacheResource>]>:$cache,
    KVC_IndexTensor:$slots);
  let assemblyFormat = [{
    $key `,` $value `into` $cache `[` $slots `]` attr-dict `:` type($key) `,` type($value)
    `,` type($slots) `into` qualified(type($cache))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.paged_attention
//===----------------------------------------------------------------------===//

def KVC_PagedAttentionOp : KVC_Op<"paged_attention"> {
  let summary = "attention of a ragged batch of queries against a paged KV cache";
  let description = [{
    One op serves prefill chunks and decode tokens together. The queries of
    sequence `b` are rows `query_start[b] .. query_start[b+1]` of `query`
    (`[tokens, q_heads, head_dim]`); they are the last tokens of the
    sequence's `context_lens[b]` tokens, which the cache already holds (append
    first). The sequence's pages are `block_tables[b, :]`.

    Query head `h` reads KV head `h / (q_heads / kv_heads)`: MHA, GQA and MQA
    are implied by the shapes. Scores are `scale * q·k`, optionally soft-capped
    (`softcap * tanh(s / softcap)`); with `causal`, the query at position `p`
    sees keys `0 .. p`, and with `sliding_window = w` only keys `p - w + 1 .. p`.
    `num_splits`, when present, is the split-KV plan of a decode step (see
    `kvc-plan-split-kv`); `max_splits` instead lets each call choose its own
    plan (a GPU target fills the device with `batch * kv_heads * splits` CTAs,
    up to `max_splits` splits; a call with a prefill chunk, more query rows
    than sequences, takes one split). The two are exclusive, and a target may
    run fewer splits than planned (one on the CPU; one for a prefill call).
    A query with no visible key gets zeros. Keys and values are assumed
    finite: the kernels multiply a masked key's probability, 0, by its value
    when a tile serves several rows, so an inf or NaN in a row of the cache
    can reach rows of the same tile that do not see it. The query
    (f16, bf16 or f32) may have another element type than the cache; scores,
    softmax and the weighted sum are computed in f32 and the result has the
    query's type. The sequences cover the rows (`query_start[0] = 0`,
    `query_start[B] = tokens`) and each has at least one (ModelABI.h
    guarantees both); otherwise the result is unspecified.

    ```mlir
    %o = kvc.paged_attention %q, %cache[%tables] context_lens(%lens) query_start(%starts)
        {scale = 0.0883883461 : f32, causal}
        : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>,
          tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
    ```
  }];
  let arguments = (ins
    KVC_FloatTensor:$query,
    Arg<KVC_PagedCacheType, "the cache read", [MemRead<KVC_KVCacheResource>]>:$cache,
    KVC_IndexTensor:$block_tables,
    KVC_IndexTensor:$context_lens,
    KVC_IndexTensor:$query_start,
    F32Attr:$scale,
    UnitAttr:$causal,
    OptionalAttr<I64Attr>:$sliding_window,
    OptionalAttr<F32Attr>:$softcap,
    OptionalAttr<I64Attr>:$num_splits,
    OptionalAttr<I64Attr>:$max_splits);
  let results = (outs KVC_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $cache `[` $block_tables `]` `context_lens` `(` $context_lens `)`
    `query_start` `(` $query_start `)` attr-dict `:` type($query) `,` qualified(type($cache))
    `,` type($block_tables) `,` type($context_lens) `,` type($query_start) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Query heads that share one KV head (1 for MHA, q_heads for MQA).
    int64_t getGroupSize();
  }];
}

//===----------------------------------------------------------------------===//
// kvc.attention
//===----------------------------------------------------------------------===//

def KVC_AttentionOp : KVC_Op<"attention", [Pure]> {
  let summary = "attention against contiguous keys and values";
  let description = [{
    The semantics of `kvc.paged_attention` for one sequence whose keys and
    values (`[keys, kv_heads, head_dim]`) are contiguous. The queries are the
    last `queries` positions of the `keys` positions (causal alignment to the
    end, as in a decode step or a chunked prefill).

    ```mlir
    %o = kvc.attention %q, %k, %v {scale = 0.125 : f32, causal, sliding_window = 4096}
        : tensor<?x32x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32> -> tensor<?x32x64xf32>
    ```
  }];
  let arguments = (ins
    KVC_FloatTensor:$query,
    KVC_FloatTensor:$key,
    KVC_FloatTensor:$value,
    F32Attr:$scale,
    UnitAttr:$causal,
    OptionalAttr<I64Attr>:$sliding_window,
    OptionalAttr<F32Attr>:$softcap);
  let results = (outs KVC_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.rope
//===----------------------------------------------------------------------===//

def KVC_RopeOp : KVC_Op<"rope", [Pure]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates the first `rotary_dim` elements of every head of `input`
    (`[tokens, heads, head_dim]`) by the angle
    `(positions[t] / scaling_factor) * theta^(-2i / rotary_dim)` for pair `i`;
    the rest of the head passes through (partial rotary). `neox` pairs
    `x[i]` with `x[i + rotary_dim/2]`, `gptj` pairs `x[2i]` with `x[2i+1]`.

    ```mlir
    %r = kvc.rope neox %q, %pos {rotary_dim = 128, theta = 5.0e+05}
        : tensor<?x32x128xf16>, tensor<?xi64> -> tensor<?x32x128xf16>
    ```
  }];
  let arguments = (ins
    KVC_RopeStyleAttr:$style,
    KVC_FloatTensor:$input,
    KVC_IndexTensor:$positions,
    I64Attr:$rotary_dim,
    F64Attr:$theta,
    DefaultValuedAttr<F64Attr, "1.0">:$scaling_factor);
  let results = (outs KVC_FloatTensor:$result);
  let assemblyFormat = [{
    $style $input `,` $positions attr-dict `:` type($input) `,` type($positions)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.rope_append
//===----------------------------------------------------------------------===//

def KVC_RopeAppendOp : KVC_Op<"rope_append"> {
  let summary = "rotate the new tokens' queries and keys, append keys and values";
  let description = [{
    The front of an attention layer as one op:

    ```
    %rotated_query = kvc.rope <style> %query, %positions {...}
    %rotated_key   = kvc.rope <style> %key, %positions {...}
    kvc.append %rotated_key, %value into %cache[%slots]
    ```

    with the rope semantics of `kvc.rope` and the slot and conversion rules
    of `kvc.append` (the rotated keys are rounded to the cache's type after
    the rotation, which is computed in f32).
    The rotated keys exist only in the cache, so the GPU lowering is one kernel
    per token that reads q, k and v once (`kvc-fuse-rope-append` forms it).

    ```mlir
    %qr = kvc.rope_append neox %q, %k, %v into %cache[%slots] positions(%pos)
        {rotary_dim = 128, theta = 5.0e+05}
        : tensor<?x32x128xf16>, tensor<?x8x128xf16>, tensor<?x8x128xf16>,
          tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
        -> tensor<?x32x128xf16>
    ```
  }];
  let arguments = (ins
    KVC_RopeStyleAttr:$style,
    KVC_FloatTensor:$query,
    KVC_FloatTensor:$key,
    KVC_FloatTensor:$value,
    Arg<KVC_PagedCacheType, "the cache written", [MemWrite<KVC_KVCacheResource>]>:$cache,
    KVC_IndexTensor:$slots,
    KVC_IndexTensor:$positions,
    I64Attr:$rotary_dim,
    F64Attr:$theta,
    DefaultValuedAttr<F64Attr, "1.0">:$scaling_factor);
  let results = (outs KVC_FloatTensor:$rotated_query);
  let assemblyFormat = [{
    $style $query `,` $key `,` $value `into` $cache `[` $slots `]`
    `positions` `(` $positions `)` attr-dict `:` type($query) `,` type($key) `,`
    type($value) `,` type($slots) `,` type($positions) `into` qualified(type($cache))
    `->` type($rotated_query)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.rms_norm
//===----------------------------------------------------------------------===//

def KVC_RMSNormOp : KVC_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm of every row, with the residual add fused in";
  let description = [{
    `result[r] = s[r] * rsqrt(mean(s[r]^2) + epsilon) * weight` for every row
    `r` of `input` (`[rows, hidden]`), with `s = input`, or `s = input +
    residual` when a residual is given. The sum of squares is taken in f32.
    With a residual, `s` itself is the second result: a decoder layer's
    `x += f(x); h = rmsnorm(x)` is one op, and on the GPU one kernel that
    reads `x` and `f(x)` once and writes the new `x` and `h`.

    ```mlir
    %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64}
        : tensor<?x576xf32>, tensor<576xf32> -> tensor<?x576xf32>
    %h2, %x2 = kvc.rms_norm %x + %d, %w {epsilon = 1.0e-05 : f64}
        : tensor<?x576xf32> + tensor<?x576xf32>, tensor<576xf32>
        -> tensor<?x576xf32>, tensor<?x576xf32>
    ```
  }];
  let arguments = (ins
    KVC_FloatTensor:$input,
    Optional<KVC_FloatTensor>:$residual,
    KVC_FloatTensor:$weight,
    F64Attr:$epsilon);
  let results = (outs KVC_FloatTensor:$result, Optional<KVC_FloatTensor>:$sum);
  let assemblyFormat = [{
    $input (`+` $residual^)? `,` $weight attr-dict `:` type($input)
    (`+` type($residual)^)? `,` type($weight) `->` type(results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.argmax
//===----------------------------------------------------------------------===//

def KVC_ArgmaxOp : KVC_Op<"argmax", [Pure]> {
  let summary = "the greedy pick of every row: its maximum and where it is";
  let description = [{
    For every row `r` of `input` (`[rows, n]`), `index[r]` is the column of
    the row's largest value and `value[r]` that value. Equal maxima resolve to
    the lowest column, so the result is that of a sequential scan whatever
    order a parallel lowering visits the row in. A NaN counts as larger than
    every number, +inf included, so a row holding one reports it (the first
    NaN) instead of hiding it; `value` lets the caller refuse a NaN or +inf
    pick without reading the row back. A row of -inf reports column 0.

    This is greedy decoding's last step: on the GPU the runtime then copies 8
    bytes per sequence back instead of the vocabulary's logits.

    ```mlir
    %ids, %max = kvc.argmax %logits
        : tensor<?x49152xf32> -> tensor<?xi32>, tensor<?xf32>
    ```
  }];
  let arguments = (ins KVC_FloatTensor:$input);
  let results = (outs RankedTensorOf<[I32]>:$index, KVC_FloatTensor:$value);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($index) `,` type($value)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// kvc.gather
//===----------------------------------------------------------------------===//

def KVC_GatherOp : KVC_Op<"gather"> {
  let summary = "read one sequence's keys and values through its block table";
  let description = [{
    The paged read made explicit: returns the first `context_len` keys and
    values (`[context_len, kv_heads, head_dim]`) of the sequence whose pages
    are `block_table`. Used by the reference lowering, for debugging and to
    export a cache.

    ```mlir
    %k, %v = kvc.gather %cache[%table], %len
        : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32>
        -> tensor<?x8x128xf16>, tensor<?x8x128xf16>
    ```
  }];
  let arguments = (ins
    Arg<KVC_PagedCacheType, "the cache read", [MemRead<KVC_KVCacheResource>]>:$cache,
    KVC_IndexTensor:$block_table,
    Index:$context_len);
  let results = (outs KVC_FloatTensor:$key, KVC_FloatTensor:$value);
  let assemblyFormat = [{
    $cache `[` $block_table `]` `,` $context_len attr-dict `:` qualified(type($cache)) `,`
    type($block_table) `->` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

#endif // KVCC_DIALECT_KVC_IR_KVCOPS_TD
