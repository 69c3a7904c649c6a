// A decode step of one Llama-3-8B-shaped attention layer for a batch bucket of
// 4 sequences: 32 query heads share 8 KV heads (GQA, groups of 4), head_dim
// 128, pages of 16 tokens. Rotary embedding, cache append, paged attention.
func.func @decode_layer(%q: tensor<4x32x128xf16>, %k: tensor<4x8x128xf16>, %v: tensor<4x8x128xf16>,
                        %positions: tensor<4xi64>, %slots: tensor<4xi64>,
                        %cache: !kvc.paged_cache<16, 8, 128, f16>,
                        %block_tables: tensor<4x512xi32>, %context_lens: tensor<4xi32>,
                        %query_start: tensor<5xi32>) -> tensor<4x32x128xf16> {
  %q_rot = kvc.rope neox %q, %positions {rotary_dim = 128, theta = 5.0e+05 : f64}
      : tensor<4x32x128xf16>, tensor<4xi64> -> tensor<4x32x128xf16>
  %k_rot = kvc.rope neox %k, %positions {rotary_dim = 128, theta = 5.0e+05 : f64}
      : tensor<4x8x128xf16>, tensor<4xi64> -> tensor<4x8x128xf16>
  // Unused: canonicalization removes it (rope is pure).
  %dead = kvc.rope neox %q, %positions {rotary_dim = 128, theta = 5.0e+05 : f64}
      : tensor<4x32x128xf16>, tensor<4xi64> -> tensor<4x32x128xf16>
  kvc.append %k_rot, %v into %cache[%slots]
      : tensor<4x8x128xf16>, tensor<4x8x128xf16>, tensor<4xi64> into !kvc.paged_cache<16, 8, 128, f16>
  %out = kvc.paged_attention %q_rot, %cache[%block_tables] context_lens(%context_lens)
      query_start(%query_start) {scale = 0.0883883461 : f32, causal}
      : tensor<4x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<4x512xi32>,
        tensor<4xi32>, tensor<5xi32> -> tensor<4x32x128xf16>
  return %out : tensor<4x32x128xf16>
}
