func.func @decode(%q: tensor<?x32x128xf16>, %k: tensor<?x8x128xf16>, %v: tensor<?x8x128xf16>, %slots: tensor<?xi64>, %pos: tensor<?xi64>, %cache: !kvc.paged_cache<16, 8, 128, f16>, %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %qr = kvc.rope neox %q, %pos {rotary_dim = 128, theta = 5.0e+05 : f64} : tensor<?x32x128xf16>, tensor<?xi64> -> tensor<?x32x128xf16>
  %kr = kvc.rope neox %k, %pos {rotary_dim = 128, theta = 5.0e+05 : f64} : tensor<?x8x128xf16>, tensor<?xi64> -> tensor<?x8x128xf16>
  kvc.append %kr, %v into %cache[%slots] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  %o = kvc.paged_attention %qr, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal, num_splits = 4} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// The other kernels of a layer: a bare append (no rope to fuse with) and the
// RMSNorm with its residual add.
func.func @append_and_norm(%k: tensor<?x8x128xf16>, %v: tensor<?x8x128xf16>, %slots: tensor<?xi64>, %cache: !kvc.paged_cache<16, 8, 128, f16>, %x: tensor<?x4096xf16>, %d: tensor<?x4096xf16>, %w: tensor<4096xf16>) -> (tensor<?x4096xf16>, tensor<?x4096xf16>) {
  kvc.append %k, %v into %cache[%slots] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  %h, %s = kvc.rms_norm %x + %d, %w {epsilon = 1.0e-05 : f64} : tensor<?x4096xf16> + tensor<?x4096xf16>, tensor<4096xf16> -> tensor<?x4096xf16>, tensor<?x4096xf16>
  return %h, %s : tensor<?x4096xf16>, tensor<?x4096xf16>
}

// The greedy pick over a vocabulary of logits.
func.func @greedy(%logits: tensor<?x128256xf32>) -> (tensor<?xi32>, tensor<?xf32>) {
  %i, %v = kvc.argmax %logits : tensor<?x128256xf32> -> tensor<?xi32>, tensor<?xf32>
  return %i, %v : tensor<?xi32>, tensor<?xf32>
}
