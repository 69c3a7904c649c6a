// Flash-decoding with a GQA group of 8 (32 query heads over 4 KV heads,
// head_dim 128, f16 pages of 16): the register budget of large groups, and
// their decode on tensor cores.
func.func @gqa8_decode(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 4, 128, f16>, %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 8.838834765e-02 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 4, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}
