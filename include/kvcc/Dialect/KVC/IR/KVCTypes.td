//===- KVCTypes.td - kvc types -----------------------------*- tablegen -*-===//
#ifndef KVCC_DIALECT_KVC_IR_KVCTYPES_TD
#define KVCC_DIALECT_KVC_IR_KVCTYPES_TD

include "kvcc/Dialect/KVC/IR/KVCAttrs.td"

def KVC_CacheLayoutParameter : EnumParameter<KVC_CacheLayout> {
  let defaultValue = "::kvcc::kvc::CacheLayout::TokenMajor";
}

def KVC_PagedCacheType : TypeDef<KVC_Dialect, "PagedCache"> {
  let mnemonic = "paged_cache";
  let summary = "a pool of KV-cache pages of one layer";
  let description = [{
    A pool of pages, each holding the keys and the values of `block_size`
    tokens for `kv_heads` heads of `head_dim` elements, for one layer. The
    number of pages is a run-time property of the pool. A token at position
    `p` of a sequence lives at slot
    `block_table[p / block_size] * block_size + p % block_size`.
    Any block size of at least 1 is valid (peers restrict it to a few powers
    of two).

    ```mlir
    !kvc.paged_cache<16, 8, 128, f16>
    !kvc.paged_cache<1, 1, 64, bf16, head_major>
    ```
  }];
  let parameters = (ins
    "int64_t":$blockSize,
    "int64_t":$numKVHeads,
    "int64_t":$headDim,
    "::mlir::Type":$elementType,
    KVC_CacheLayoutParameter:$layout
  );
  let assemblyFormat = [{
    `<` $blockSize `,` $numKVHeads `,` $headDim `,` $elementType (`,` $layout^)? `>`
  }];
  let genVerifyDecl = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins "int64_t":$blockSize, "int64_t":$numKVHeads,
        "int64_t":$headDim, "::mlir::Type":$elementType,
        CArg<"CacheLayout", "CacheLayout::TokenMajor">:$layout), [{
      return $_get(elementType.getContext(), blockSize, numKVHeads, headDim,
                   elementType, layout);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Bytes one token occupies in this layer's cache (keys and values).
    int64_t getBytesPerToken() const;
  }];
}

#endif // KVCC_DIALECT_KVC_IR_KVCTYPES_TD
