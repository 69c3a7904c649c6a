// bf16 GQA attention with a 3-token page: prefill chunks on the tensor-core
// kernel (bf16 mma.sync), decode tokens on the flash-decoding kernel.
func.func @c_gqa2_d64_b3(%q: tensor<?x8x64xbf16>, %k: tensor<?x4x64xbf16>, %v: tensor<?x4x64xbf16>, %slots: tensor<?xi64>, %cache: !kvc.paged_cache<3, 4, 64, bf16>, %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xbf16> {
  kvc.append %k, %v into %cache[%slots] : tensor<?x4x64xbf16>, tensor<?x4x64xbf16>, tensor<?xi64> into !kvc.paged_cache<3, 4, 64, bf16>
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 1.250000000e-01 : f32, causal} : tensor<?x8x64xbf16>, !kvc.paged_cache<3, 4, 64, bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xbf16>
  return %o : tensor<?x8x64xbf16>
}
