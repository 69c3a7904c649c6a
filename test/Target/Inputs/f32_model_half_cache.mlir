// An f32 model over an f16 cache (kvcc compile --kv-cache-dtype=f16): the
// fused rope + append rounds the rotated keys and the values into the cache,
// the attention reads f32 queries (the tensor-core prefill kernel converts
// them while staging) and writes f32 rows.
func.func @layer(%q: tensor<?x12x64xf32>, %k: tensor<?x3x64xf32>, %v: tensor<?x3x64xf32>, %slots: tensor<?xi64>, %pos: tensor<?xi64>, %cache: !kvc.paged_cache<16, 3, 64, f16>, %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x12x64xf32> {
  %qr = kvc.rope_append neox %q, %k, %v into %cache[%slots] positions(%pos) {rotary_dim = 64, theta = 1.0e+05 : f64} : tensor<?x12x64xf32>, tensor<?x3x64xf32>, tensor<?x3x64xf32>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 3, 64, f16> -> tensor<?x12x64xf32>
  %o = kvc.paged_attention %qr, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 1.250000000e-01 : f32, causal} : tensor<?x12x64xf32>, !kvc.paged_cache<16, 3, 64, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x12x64xf32>
  return %o : tensor<?x12x64xf32>
}

// A bare append into a bf16 cache.
func.func @append_bf16(%k: tensor<?x3x64xf32>, %v: tensor<?x3x64xf32>, %slots: tensor<?xi64>, %cache: !kvc.paged_cache<16, 3, 64, bf16>) {
  kvc.append %k, %v into %cache[%slots] : tensor<?x3x64xf32>, tensor<?x3x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 3, 64, bf16>
  return
}
