//===- KVCDialect.td - The kvc dialect ---------------------*- tablegen -*-===//
//
// kvc models cached attention: the paged KV cache is state (a pool of pages
// addressed through per-sequence block tables), attention and rotary embedding
// are values. Cache ops declare read/write effects on one KV-cache resource so
// that generic passes order and fuse them correctly.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_DIALECT_KVC_IR_KVCDIALECT_TD
#define KVCC_DIALECT_KVC_IR_KVCDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def KVC_Dialect : Dialect {
  let name = "kvc";
  let cppNamespace = "::kvcc::kvc";
  let summary = "Cached attention: paged KV caches, grouped-query attention, rotary embedding";
  let description = [{
    The `kvc` dialect is the middle of the kvcc compiler. A model's prefill and
    decode steps are written with these ops plus upstream `tensor`, `linalg`,
    `arith` and `math`; kvc passes fuse, plan and decompose them into the tiled
    online-softmax algorithm, which the GPU and CPU conversions then map to
    hardware.

    Grouped-query attention is implied by shapes: a query tensor with
    `q_heads` heads against a cache with `kv_heads` heads serves
    `q_heads / kv_heads` query heads per KV head (1: multi-head attention,
    `q_heads`: multi-query attention).
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

class KVC_Op<string mnemonic, list<Trait> traits = []>
    : Op<KVC_Dialect, mnemonic, traits>;

#endif // KVCC_DIALECT_KVC_IR_KVCDIALECT_TD
