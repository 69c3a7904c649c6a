// Round trip of every kvc op, type and attribute: parse, print, parse again,
// in the custom and in the generic form.
// RUN: kvcc-opt %s | kvcc-opt | FileCheck %s
// RUN: kvcc-opt %s --mlir-print-op-generic | kvcc-opt | FileCheck %s

// CHECK-LABEL: func @cache_types
// CHECK-SAME: !kvc.paged_cache<16, 8, 128, f16>
// CHECK-SAME: !kvc.paged_cache<1, 1, 64, bf16, head_major>
// CHECK-SAME: !kvc.paged_cache<3, 4, 96, f32>
// CHECK-SAME: !kvc.paged_cache<256, 2, 64, f16>
func.func @cache_types(%a: !kvc.paged_cache<16, 8, 128, f16>,
                       %b: !kvc.paged_cache<1, 1, 64, bf16, head_major>,
                       %c: !kvc.paged_cache<3, 4, 96, f32, token_major>,
                       %d: !kvc.paged_cache<256, 2, 64, f16>) {
  return
}

// CHECK-LABEL: func @append
// CHECK: kvc.append %{{.*}}, %{{.*}} into %{{.*}}[%{{.*}}] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
// CHECK: kvc.append %{{.*}}, %{{.*}} into %{{.*}}[%{{.*}}] : tensor<5x1x64xbf16>, tensor<5x1x64xbf16>, tensor<5xi32> into !kvc.paged_cache<1, 1, 64, bf16, head_major>
func.func @append(%k: tensor<?x8x128xf16>, %v: tensor<?x8x128xf16>, %slots: tensor<?xi64>,
                  %cache: !kvc.paged_cache<16, 8, 128, f16>,
                  %k1: tensor<5x1x64xbf16>, %v1: tensor<5x1x64xbf16>, %s1: tensor<5xi32>,
                  %cache1: !kvc.paged_cache<1, 1, 64, bf16, head_major>) {
  kvc.append %k, %v into %cache[%slots] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  kvc.append %k1, %v1 into %cache1[%s1] : tensor<5x1x64xbf16>, tensor<5x1x64xbf16>, tensor<5xi32> into !kvc.paged_cache<1, 1, 64, bf16, head_major>
  return
}

// CHECK-LABEL: func @paged_attention_gqa
// CHECK: kvc.paged_attention %{{.*}}, %{{.*}}[%{{.*}}] context_lens(%{{.*}}) query_start(%{{.*}}) {causal, scale = 0.0883883461 : f32} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
func.func @paged_attention_gqa(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 8, 128, f16>,
                               %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// MQA (8 query heads on one KV head), sliding window, soft-cap and a planned split.
// CHECK-LABEL: func @paged_attention_mqa_window
// CHECK: kvc.paged_attention
// CHECK-SAME: {num_splits = 4 : i64, scale = 1.250000e-01 : f32, sliding_window = 4096 : i64, softcap = 5.000000e+01 : f32}
// CHECK-SAME: tensor<4x8x64xf32>, !kvc.paged_cache<3, 1, 64, f32>, tensor<4x10xi64>, tensor<4xi64>, tensor<5xi64> -> tensor<4x8x64xf32>
func.func @paged_attention_mqa_window(%q: tensor<4x8x64xf32>, %cache: !kvc.paged_cache<3, 1, 64, f32>,
                                      %bt: tensor<4x10xi64>, %lens: tensor<4xi64>, %starts: tensor<5xi64>) -> tensor<4x8x64xf32> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, sliding_window = 4096, softcap = 50.0 : f32, num_splits = 4} : tensor<4x8x64xf32>, !kvc.paged_cache<3, 1, 64, f32>, tensor<4x10xi64>, tensor<4xi64>, tensor<5xi64> -> tensor<4x8x64xf32>
  return %o : tensor<4x8x64xf32>
}

// CHECK-LABEL: func @dense_attention
// CHECK: kvc.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 1.250000e-01 : f32, sliding_window = 16 : i64, softcap = 3.000000e+01 : f32} : tensor<?x4x64xbf16>, tensor<?x2x64xbf16>, tensor<?x2x64xbf16> -> tensor<?x4x64xbf16>
// CHECK: kvc.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32} : tensor<3x2x4xf32>, tensor<7x2x4xf32>, tensor<7x2x4xf32> -> tensor<3x2x4xf32>
func.func @dense_attention(%q: tensor<?x4x64xbf16>, %k: tensor<?x2x64xbf16>, %v: tensor<?x2x64xbf16>,
                           %q1: tensor<3x2x4xf32>, %k1: tensor<7x2x4xf32>, %v1: tensor<7x2x4xf32>) -> (tensor<?x4x64xbf16>, tensor<3x2x4xf32>) {
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32, causal, sliding_window = 16, softcap = 30.0 : f32} : tensor<?x4x64xbf16>, tensor<?x2x64xbf16>, tensor<?x2x64xbf16> -> tensor<?x4x64xbf16>
  %o1 = kvc.attention %q1, %k1, %v1 {scale = 0.5 : f32} : tensor<3x2x4xf32>, tensor<7x2x4xf32>, tensor<7x2x4xf32> -> tensor<3x2x4xf32>
  return %o, %o1 : tensor<?x4x64xbf16>, tensor<3x2x4xf32>
}

// CHECK-LABEL: func @rope
// CHECK: kvc.rope neox %{{.*}}, %{{.*}} {rotary_dim = 128 : i64, theta = 5.000000e+05 : f64} : tensor<?x32x128xf16>, tensor<?xi64> -> tensor<?x32x128xf16>
// CHECK: kvc.rope gptj %{{.*}}, %{{.*}} {rotary_dim = 32 : i64, scaling_factor = 4.000000e+00 : f64, theta = 1.000000e+04 : f64} : tensor<7x2x64xf32>, tensor<7xi32> -> tensor<7x2x64xf32>
func.func @rope(%x: tensor<?x32x128xf16>, %pos: tensor<?xi64>, %y: tensor<7x2x64xf32>, %p: tensor<7xi32>) -> (tensor<?x32x128xf16>, tensor<7x2x64xf32>) {
  %a = kvc.rope neox %x, %pos {rotary_dim = 128, theta = 5.0e+05 : f64} : tensor<?x32x128xf16>, tensor<?xi64> -> tensor<?x32x128xf16>
  %b = kvc.rope gptj %y, %p {rotary_dim = 32, theta = 1.0e+04 : f64, scaling_factor = 4.0 : f64} : tensor<7x2x64xf32>, tensor<7xi32> -> tensor<7x2x64xf32>
  return %a, %b : tensor<?x32x128xf16>, tensor<7x2x64xf32>
}

// CHECK-LABEL: func @gather
// CHECK: %{{.*}}, %{{.*}} = kvc.gather %{{.*}}[%{{.*}}], %{{.*}} : !kvc.paged_cache<3, 2, 64, bf16, head_major>, tensor<?xi32> -> tensor<?x2x64xbf16>, tensor<?x2x64xbf16>
func.func @gather(%cache: !kvc.paged_cache<3, 2, 64, bf16, head_major>, %t: tensor<?xi32>, %n: index) -> (tensor<?x2x64xbf16>, tensor<?x2x64xbf16>) {
  %k, %v = kvc.gather %cache[%t], %n : !kvc.paged_cache<3, 2, 64, bf16, head_major>, tensor<?xi32> -> tensor<?x2x64xbf16>, tensor<?x2x64xbf16>
  return %k, %v : tensor<?x2x64xbf16>, tensor<?x2x64xbf16>
}

// CHECK-LABEL: func @rms_norm
// CHECK: kvc.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64} : tensor<?x576xf32>, tensor<576xf32> -> tensor<?x576xf32>
// CHECK: %{{.*}}, %{{.*}} = kvc.rms_norm %{{.*}} + %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64} : tensor<3x64xbf16> + tensor<3x64xbf16>, tensor<64xbf16> -> tensor<3x64xbf16>, tensor<3x64xbf16>
func.func @rms_norm(%x: tensor<?x576xf32>, %w: tensor<576xf32>, %y: tensor<3x64xbf16>, %d: tensor<3x64xbf16>, %v: tensor<64xbf16>) -> (tensor<?x576xf32>, tensor<3x64xbf16>, tensor<3x64xbf16>) {
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x576xf32>, tensor<576xf32> -> tensor<?x576xf32>
  %h2, %s = kvc.rms_norm %y + %d, %v {epsilon = 1.0e-06 : f64} : tensor<3x64xbf16> + tensor<3x64xbf16>, tensor<64xbf16> -> tensor<3x64xbf16>, tensor<3x64xbf16>
  return %h, %h2, %s : tensor<?x576xf32>, tensor<3x64xbf16>, tensor<3x64xbf16>
}

// CHECK-LABEL: func @argmax
// CHECK: %{{.*}}, %{{.*}} = kvc.argmax %{{.*}} : tensor<?x49152xf32> -> tensor<?xi32>, tensor<?xf32>
// CHECK: kvc.argmax %{{.*}} : tensor<2x10xbf16> -> tensor<2xi32>, tensor<2xbf16>
func.func @argmax(%l: tensor<?x49152xf32>, %m: tensor<2x10xbf16>) -> (tensor<?xi32>, tensor<?xf32>, tensor<2xi32>, tensor<2xbf16>) {
  %i, %v = kvc.argmax %l : tensor<?x49152xf32> -> tensor<?xi32>, tensor<?xf32>
  %j, %w = kvc.argmax %m : tensor<2x10xbf16> -> tensor<2xi32>, tensor<2xbf16>
  return %i, %v, %j, %w : tensor<?xi32>, tensor<?xf32>, tensor<2xi32>, tensor<2xbf16>
}

// CHECK-LABEL: func @rope_append
// CHECK: %{{.*}} = kvc.rope_append neox %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}}[%{{.*}}] positions(%{{.*}}) {rotary_dim = 64 : i64, theta = 1.000000e+04 : f64} : tensor<?x8x128xf16>, tensor<?x2x128xf16>, tensor<?x2x128xf16>, tensor<?xi64>, tensor<?xi32> into !kvc.paged_cache<16, 2, 128, f16> -> tensor<?x8x128xf16>
func.func @rope_append(%q: tensor<?x8x128xf16>, %k: tensor<?x2x128xf16>, %v: tensor<?x2x128xf16>, %slots: tensor<?xi64>, %pos: tensor<?xi32>, %cache: !kvc.paged_cache<16, 2, 128, f16>) -> tensor<?x8x128xf16> {
  %qr = kvc.rope_append neox %q, %k, %v into %cache[%slots] positions(%pos) {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x128xf16>, tensor<?x2x128xf16>, tensor<?x2x128xf16>, tensor<?xi64>, tensor<?xi32> into !kvc.paged_cache<16, 2, 128, f16> -> tensor<?x8x128xf16>
  return %qr : tensor<?x8x128xf16>
}

// An f32 model over an f16 cache: keys and values are rounded when stored,
// the query and the result keep the model's type.
// CHECK-LABEL: func @mixed_precision
// CHECK: kvc.append %{{.*}}, %{{.*}} into %{{.*}}[%{{.*}}] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16>
// CHECK: kvc.rope_append neox {{.*}} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, bf16> -> tensor<?x8x64xf32>
// CHECK: kvc.paged_attention {{.*}} : tensor<?x8x64xf32>, !kvc.paged_cache<16, 2, 64, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xf32>
func.func @mixed_precision(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>,
                           %slots: tensor<?xi64>, %pos: tensor<?xi64>,
                           %c16: !kvc.paged_cache<16, 2, 64, f16>, %cbf: !kvc.paged_cache<16, 2, 64, bf16>,
                           %bt: tensor<?x?xi32>, %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xf32> {
  kvc.append %k, %v into %c16[%slots] : tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16>
  %qr = kvc.rope_append neox %q, %k, %v into %cbf[%slots] positions(%pos) {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, bf16> -> tensor<?x8x64xf32>
  %o = kvc.paged_attention %qr, %c16[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x8x64xf32>, !kvc.paged_cache<16, 2, 64, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xf32>
  return %o : tensor<?x8x64xf32>
}
