//===- KVCAttrs.td - kvc enums and attributes --------------*- tablegen -*-===//
#ifndef KVCC_DIALECT_KVC_IR_KVCATTRS_TD
#define KVCC_DIALECT_KVC_IR_KVCATTRS_TD

include "kvcc/Dialect/KVC/IR/KVCDialect.td"
include "mlir/IR/EnumAttr.td"

// How the tokens of one page are laid out. Token-major keeps a token's heads
// together (what the append writes); head-major keeps a head's tokens together
// (what a decode kernel streams). The lowering may choose either.
def KVC_CacheLayout : I32EnumAttr<"CacheLayout", "page layout of a paged KV cache", [
    I32EnumAttrCase<"TokenMajor", 0, "token_major">,
    I32EnumAttrCase<"HeadMajor", 1, "head_major">]> {
  let cppNamespace = "::kvcc::kvc";
  let genSpecializedAttr = 0;
}
def KVC_CacheLayoutAttr : EnumAttr<KVC_Dialect, KVC_CacheLayout, "layout">;

// Rotary embedding pairing: Neox rotates the two halves of the rotary slice
// (x[i], x[i + d/2]); GPT-J rotates adjacent pairs (x[2i], x[2i + 1]).
def KVC_RopeStyle : I32EnumAttr<"RopeStyle", "rotary embedding pairing", [
    I32EnumAttrCase<"Neox", 0, "neox">,
    I32EnumAttrCase<"GptJ", 1, "gptj">]> {
  let cppNamespace = "::kvcc::kvc";
  let genSpecializedAttr = 0;
}
def KVC_RopeStyleAttr : EnumAttr<KVC_Dialect, KVC_RopeStyle, "rope_style">;

#endif // KVCC_DIALECT_KVC_IR_KVCATTRS_TD
