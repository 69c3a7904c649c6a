// RUN: kvcc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(kvc-fuse-rope-append))' | FileCheck %s

// An attention layer's front: fused, the query's users see the fused result.
// CHECK-LABEL: func.func @layer(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<?x8x64xf32>, %[[K:[^:]*]]: tensor<?x2x64xf32>, %[[V:[^:]*]]: tensor<?x2x64xf32>, %[[S:[^:]*]]: tensor<?xi64>, %[[P:[^:]*]]: tensor<?xi64>, %[[C:[^:]*]]: !kvc.paged_cache
// CHECK-NOT: kvc.rope
// CHECK-NOT: kvc.append
// CHECK: %[[QR:.*]] = kvc.rope_append gptj %[[Q]], %[[K]], %[[V]] into %[[C]][%[[S]]] positions(%[[P]]) {rotary_dim = 32 : i64, scaling_factor = 2.000000e+00 : f64, theta = 1.000000e+04 : f64}
// CHECK: kvc.paged_attention %[[QR]], %[[C]]
func.func @layer(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %slots: tensor<?xi64>, %pos: tensor<?xi64>,
                 %cache: !kvc.paged_cache<16, 2, 64, f32>, %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xf32> {
  %qr = kvc.rope gptj %q, %pos {rotary_dim = 32, theta = 1.0e+04 : f64, scaling_factor = 2.0 : f64} : tensor<?x8x64xf32>, tensor<?xi64> -> tensor<?x8x64xf32>
  %kr = kvc.rope gptj %k, %pos {rotary_dim = 32, theta = 1.0e+04 : f64, scaling_factor = 2.0 : f64} : tensor<?x2x64xf32>, tensor<?xi64> -> tensor<?x2x64xf32>
  kvc.append %kr, %v into %cache[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f32>
  %o = kvc.paged_attention %qr, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x8x64xf32>, !kvc.paged_cache<16, 2, 64, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xf32>
  return %o : tensor<?x8x64xf32>
}

// -----

// Left alone: the rotated keys are used besides the append; the query rope
// has another theta; the query rope is used before the append.
// CHECK-LABEL: func.func @not_fused(
// CHECK-NOT: kvc.rope_append
// CHECK: kvc.rope neox
// CHECK: kvc.rope neox
// CHECK: kvc.append
// CHECK: kvc.rope neox
// CHECK: kvc.rope neox
// CHECK: kvc.append
// CHECK: kvc.rope neox
// CHECK: kvc.rope neox
// CHECK: kvc.attention
// CHECK: kvc.append
// CHECK-NOT: kvc.rope_append
func.func @not_fused(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %slots: tensor<?xi64>, %pos: tensor<?xi64>,
                     %cache: !kvc.paged_cache<16, 2, 64, f32>) -> (tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>) {
  %q1 = kvc.rope neox %q, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x64xf32>, tensor<?xi64> -> tensor<?x8x64xf32>
  %k1 = kvc.rope neox %k, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x2x64xf32>, tensor<?xi64> -> tensor<?x2x64xf32>
  kvc.append %k1, %v into %cache[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f32>
  %q2 = kvc.rope neox %q, %pos {rotary_dim = 64, theta = 5.0e+05 : f64} : tensor<?x8x64xf32>, tensor<?xi64> -> tensor<?x8x64xf32>
  %k2 = kvc.rope neox %k, %pos {rotary_dim = 32, theta = 1.0e+04 : f64} : tensor<?x2x64xf32>, tensor<?xi64> -> tensor<?x2x64xf32>
  kvc.append %k2, %v into %cache[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f32>
  %q3 = kvc.rope neox %q, %pos {rotary_dim = 16, theta = 1.0e+04 : f64} : tensor<?x8x64xf32>, tensor<?xi64> -> tensor<?x8x64xf32>
  %k3 = kvc.rope neox %k, %pos {rotary_dim = 16, theta = 1.0e+04 : f64} : tensor<?x2x64xf32>, tensor<?xi64> -> tensor<?x2x64xf32>
  %early = kvc.attention %q3, %k, %v {scale = 0.125 : f32} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>
  kvc.append %k3, %v into %cache[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f32>
  return %q1, %k1, %q2, %q3, %early : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>
}

// -----

// An f32 model over an f16 cache fuses (the rotation is f32 either way and
// the key is rounded once, into the cache); a bf16 key into an f16 cache does
// not: the pair rounds the rotated key to bf16 first, the fused op would not.
// CHECK-LABEL: func.func @mixed_precision(
// CHECK: kvc.rope_append neox {{.*}} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16> -> tensor<?x8x64xf32>
// CHECK: kvc.rope neox
// CHECK: kvc.rope neox
// CHECK: kvc.append
// CHECK-NOT: kvc.rope_append
func.func @mixed_precision(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>, %slots: tensor<?xi64>, %pos: tensor<?xi64>,
                           %cache: !kvc.paged_cache<16, 2, 64, f16>,
                           %qb: tensor<?x8x64xbf16>, %kb: tensor<?x2x64xbf16>, %vb: tensor<?x2x64xbf16>) -> (tensor<?x8x64xf32>, tensor<?x8x64xbf16>) {
  %q1 = kvc.rope neox %q, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x64xf32>, tensor<?xi64> -> tensor<?x8x64xf32>
  %k1 = kvc.rope neox %k, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x2x64xf32>, tensor<?xi64> -> tensor<?x2x64xf32>
  kvc.append %k1, %v into %cache[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16>
  %q2 = kvc.rope neox %qb, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x64xbf16>, tensor<?xi64> -> tensor<?x8x64xbf16>
  %k2 = kvc.rope neox %kb, %pos {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x2x64xbf16>, tensor<?xi64> -> tensor<?x2x64xbf16>
  kvc.append %k2, %vb into %cache[%slots] : tensor<?x2x64xbf16>, tensor<?x2x64xbf16>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16>
  return %q1, %q2 : tensor<?x8x64xf32>, tensor<?x8x64xbf16>
}
