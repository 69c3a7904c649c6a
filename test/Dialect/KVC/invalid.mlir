// Every verifier error path of the kvc dialect, one case per split.
// RUN: kvcc-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{paged_cache block size must be at least 1, got 0}}
func.func @f(%c: !kvc.paged_cache<0, 8, 128, f16>) {
  return
}

// -----

// expected-error @+1 {{paged_cache kv_heads must be at least 1, got 0}}
func.func @f(%c: !kvc.paged_cache<16, 0, 128, f16>) {
  return
}

// -----

// expected-error @+1 {{paged_cache head_dim must be at least 1, got -1}}
func.func @f(%c: !kvc.paged_cache<16, 8, -1, f16>) {
  return
}

// -----

// expected-error @+1 {{paged_cache element type must be f16, bf16 or f32, got 'i8'}}
func.func @f(%c: !kvc.paged_cache<16, 8, 128, i8>) {
  return
}

// -----

// expected-error @+2 {{expected ::kvcc::kvc::CacheLayout to be one of: token_major, head_major}}
// expected-error @+1 {{failed to parse KVC_PagedCacheType parameter 'layout'}}
func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16, diagonal>) {
  return
}

// -----

func.func @f(%k: tensor<8x128xf16>, %v: tensor<?x8x128xf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op key must have rank 3, got 'tensor<8x128xf16>'}}
  kvc.append %k, %v into %c[%s] : tensor<8x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x128xf64>, %v: tensor<?x8x128xf64>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op key element type 'f64' is not f16, bf16 or f32 (the types a cache converts from)}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x128xf64>, tensor<?x8x128xf64>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x64xf16>, %v: tensor<?x8x128xf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op key has head_dim 64, but the cache head_dim is 128}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x64xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x4x128xf16>, %v: tensor<?x8x128xf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op key has kv_heads 4, but the cache kv_heads is 8}}
  kvc.append %k, %v into %c[%s] : tensor<?x4x128xf16>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x128xf16>, %v: tensor<?x8x128xbf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op value type 'tensor<?x8x128xbf16>' does not match key type 'tensor<?x8x128xf16>'}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x128xf16>, tensor<?x8x128xbf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<4x8x128xf16>, %v: tensor<5x8x128xf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op value type 'tensor<5x8x128xf16>' does not match key type 'tensor<4x8x128xf16>'}}
  kvc.append %k, %v into %c[%s] : tensor<4x8x128xf16>, tensor<5x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x128xf16>, %v: tensor<?x8x128xf16>, %s: tensor<?x1xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op slots must have rank 1, got 'tensor<?x1xi64>'}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?x1xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<4x8x128xf16>, %v: tensor<4x8x128xf16>, %s: tensor<3xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op slots has length 3, but the key token count is 4}}
  kvc.append %k, %v into %c[%s] : tensor<4x8x128xf16>, tensor<4x8x128xf16>, tensor<3xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x128xf16>, %v: tensor<?x8x128xf16>, %s: tensor<?xi16>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op operand #3 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?xi16>'}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x128xf16>, tensor<?x8x128xf16>, tensor<?xi16> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%k: tensor<?x8x128xi8>, %v: tensor<?x8x128xf16>, %s: tensor<?xi64>, %c: !kvc.paged_cache<16, 8, 128, f16>) {
  // expected-error @+1 {{'kvc.append' op operand #0 must be ranked tensor of floating-point values, but got 'tensor<?x8x128xi8>'}}
  kvc.append %k, %v into %c[%s] : tensor<?x8x128xi8>, tensor<?x8x128xf16>, tensor<?xi64> into !kvc.paged_cache<16, 8, 128, f16>
  return
}

// -----

func.func @f(%q: tensor<32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query must have rank 3, got 'tensor<32x128xf16>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf8E4M3FN>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query element type 'f8E4M3FN' is not f16, bf16 or f32 (the types a cache converts from)}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf8E4M3FN>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf8E4M3FN>
  return
}

// -----

func.func @f(%q: tensor<?x32x64xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query has head_dim 64, but the cache head_dim is 128}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x64xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x64xf16>
  return
}

// -----

func.func @f(%q: tensor<?x?x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query and KV head counts must be static, got query heads ? and kv_heads 8}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x?x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x?x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x30x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query has 30 heads, which is not a multiple of the 8 KV heads}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x30x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x30x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op result type 'tensor<?x32x128xf32>' does not match query type 'tensor<?x32x128xf16>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf32>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op block_tables must have rank 2, got 'tensor<?xi32>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?x1xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op context_lens must have rank 1, got 'tensor<?x1xi32>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?x1xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?x?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query_start must have rank 1, got 'tensor<?x?xi32>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<3x?xi32>, %l: tensor<4xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op block_tables has rows 3, but the context_lens length is 4}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<3x?xi32>, tensor<4xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<4xi32>, %s: tensor<4xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op query_start must have one entry per sequence plus one (5), got 4}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<4xi32>, tensor<4xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op num_splits must be in [1, 256], got 0}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, num_splits = 0} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op scale must be positive and finite, got 0}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.0 : f32} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op sliding_window must be at least 1, got 0}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, sliding_window = 0} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op softcap must be positive and finite, got -1}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, softcap = -1.0 : f32} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op requires attribute 'scale'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op query must have rank 3, got 'tensor<4x64xf32>'}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<2x64xf32>, %v: tensor<2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op key must have rank 3, got 'tensor<2x64xf32>'}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x4x64xf32>, tensor<2x64xf32>, tensor<2x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<5x2x64xf32>, %v: tensor<6x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op value type 'tensor<6x2x64xf32>' does not match key type 'tensor<5x2x64xf32>'}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x4x64xf32>, tensor<5x2x64xf32>, tensor<6x2x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op result type 'tensor<?x4x32xf32>' does not match query type 'tensor<?x4x64xf32>'}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf16>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op query element type 'f16' differs from the key element type 'f32'}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x4x64xf16>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x64xf16>
  return
}

// -----

func.func @f(%q: tensor<?x4x32xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op query has head_dim 32, but the key head_dim is 64}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x4x32xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x3x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op query has 3 heads, which is not a multiple of the 2 KV heads}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32} : tensor<?x3x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x3x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op scale must be positive and finite, got INF}}
  %o = kvc.attention %q, %k, %v {scale = 0x7F800000 : f32} : tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op sliding_window must be at least 1, got -3}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32, sliding_window = -3} : tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op softcap must be positive and finite, got 0}}
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32, softcap = 0.0 : f32} : tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op input must have rank 3, got 'tensor<4x64xf32>'}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = 10000.0 : f64} : tensor<4x64xf32>, tensor<?xi64> -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?x1xi64>) {
  // expected-error @+1 {{'kvc.rope' op positions must have rank 1, got 'tensor<?x1xi64>'}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = 10000.0 : f64} : tensor<?x4x64xf32>, tensor<?x1xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op result type 'tensor<?x4x64xf16>' does not match input type 'tensor<?x4x64xf32>'}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = 10000.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf16>
  return
}

// -----

func.func @f(%x: tensor<5x4x64xf32>, %p: tensor<6xi64>) {
  // expected-error @+1 {{'kvc.rope' op positions has length 6, but the input token count is 5}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = 10000.0 : f64} : tensor<5x4x64xf32>, tensor<6xi64> -> tensor<5x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op rotary_dim must be a positive even number, got 63}}
  %o = kvc.rope neox %x, %p {rotary_dim = 63, theta = 10000.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op rotary_dim must be a positive even number, got 0}}
  %o = kvc.rope neox %x, %p {rotary_dim = 0, theta = 10000.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op rotary_dim 128 exceeds the input head_dim 64}}
  %o = kvc.rope neox %x, %p {rotary_dim = 128, theta = 10000.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op theta must be positive and finite, got -1}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = -1.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'kvc.rope' op scaling_factor must be positive and finite, got 0}}
  %o = kvc.rope neox %x, %p {rotary_dim = 64, theta = 10000.0 : f64, scaling_factor = 0.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %p: tensor<?xi64>) {
  // expected-error @+2 {{expected ::kvcc::kvc::RopeStyle to be one of: neox, gptj}}
  // expected-error @+1 {{failed to parse KVC_RopeStyleAttr parameter 'value' which is to be a `::kvcc::kvc::RopeStyle`}}
  %o = kvc.rope llama %x, %p {rotary_dim = 64, theta = 1.0 : f64} : tensor<?x4x64xf32>, tensor<?xi64> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?x?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op block_table must have rank 1, got 'tensor<?x?xi32>'}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32> -> tensor<?x8x128xf16>, tensor<?x8x128xf16>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op key result element type 'f32' differs from the cache element type 'f16'}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32> -> tensor<?x8x128xf32>, tensor<?x8x128xf16>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op key result has head_dim 64, but the cache head_dim is 128}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32> -> tensor<?x8x64xf16>, tensor<?x8x128xf16>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op key result has kv_heads 2, but the cache kv_heads is 8}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32> -> tensor<?x2x128xf16>, tensor<?x8x128xf16>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op value result type 'tensor<?x8x128xbf16>' does not match key result type 'tensor<?x8x128xf16>'}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32> -> tensor<?x8x128xf16>, tensor<?x8x128xbf16>
  return
}

// -----

func.func @f(%c: !kvc.paged_cache<16, 8, 128, f16>, %t: tensor<?xi32>, %n: index) {
  // expected-error @+1 {{'kvc.gather' op key result must have rank 3, got 'tensor<?x8xf16>'}}
  %k, %v = kvc.gather %c[%t], %n : !kvc.paged_cache<16, 8, 128, f16>, tensor<?xi32> -> tensor<?x8xf16>, tensor<?x8x128xf16>
  return
}

// -----

// expected-error @+1 {{paged_cache element type must be f16, bf16 or f32, got 'f64'}}
func.func @f(%c: !kvc.paged_cache<16, 8, 128, f64>) {
  return
}

// -----

func.func @f(%q: tensor<?x4x64xf32>, %k: tensor<?x0x64xf32>) {
  // expected-error @+1 {{'kvc.attention' op kv_heads must be at least 1, got 0}}
  %o = kvc.attention %q, %k, %k {scale = 0.125 : f32} : tensor<?x4x64xf32>, tensor<?x0x64xf32>, tensor<?x0x64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op num_splits must be in [1, 256], got 1000}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, num_splits = 1000} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op max_splits must be in [1, 256], got 0}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, max_splits = 0} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op num_splits (a fixed plan) and max_splits (a plan per call) are exclusive}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, num_splits = 2, max_splits = 8} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%q: tensor<4x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>) {
  // expected-error @+1 {{'kvc.paged_attention' op result type 'tensor<?x32x128xf16>' does not match query type 'tensor<4x32x128xf16>'}}
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32} : tensor<4x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return
}

// -----

func.func @f(%x: tensor<?x4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op input must have rank 2, got 'tensor<?x4x64xf32>'}}
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x4x64xf32>, tensor<64xf32> -> tensor<?x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op weight has length 32, but the input hidden size is 64}}
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<32xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf16>) {
  // expected-error @+1 {{'kvc.rms_norm' op weight element type 'f16' differs from the input's 'f32'}}
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op residual type 'tensor<4x64xf32>' does not match input type 'tensor<?x64xf32>'}}
  %h, %s = kvc.rms_norm %x + %r, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32> + tensor<4x64xf32>, tensor<64xf32> -> tensor<?x64xf32>, tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op a residual needs the sum result}}
  %h = kvc.rms_norm %x + %r, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32> + tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op the sum result needs a residual}}
  %h, %s = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>, tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'kvc.rms_norm' op epsilon must be non-negative and finite, got -1}}
  %h = kvc.rms_norm %x, %w {epsilon = -1.0 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x128xf16>, %k: tensor<?x4x128xf16>, %v: tensor<?x4x128xf16>, %s: tensor<?xi64>, %p: tensor<?xi64>, %c: !kvc.paged_cache<16, 4, 128, f16>) {
  // expected-error @+1 {{'kvc.rope_append' op query has 6 heads, which is not a multiple of the 4 KV heads}}
  %qr = kvc.rope_append neox %q, %k, %v into %c[%s] positions(%p) {rotary_dim = 128, theta = 1.0e+04 : f64} : tensor<?x6x128xf16>, tensor<?x4x128xf16>, tensor<?x4x128xf16>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 4, 128, f16> -> tensor<?x6x128xf16>
  return
}

// -----

func.func @f(%q: tensor<3x8x128xf16>, %k: tensor<4x4x128xf16>, %v: tensor<4x4x128xf16>, %s: tensor<4xi64>, %p: tensor<4xi64>, %c: !kvc.paged_cache<16, 4, 128, f16>) {
  // expected-error @+1 {{'kvc.rope_append' op query has token count 3, but the key token count is 4}}
  %qr = kvc.rope_append neox %q, %k, %v into %c[%s] positions(%p) {rotary_dim = 128, theta = 1.0e+04 : f64} : tensor<3x8x128xf16>, tensor<4x4x128xf16>, tensor<4x4x128xf16>, tensor<4xi64>, tensor<4xi64> into !kvc.paged_cache<16, 4, 128, f16> -> tensor<3x8x128xf16>
  return
}

// -----

func.func @f(%q: tensor<?x8x128xf16>, %k: tensor<?x4x128xf16>, %v: tensor<?x4x128xf16>, %s: tensor<?xi64>, %p: tensor<?xi64>, %c: !kvc.paged_cache<16, 4, 128, f16>) {
  // expected-error @+1 {{'kvc.rope_append' op rotary_dim 256 exceeds the input head_dim 128}}
  %qr = kvc.rope_append gptj %q, %k, %v into %c[%s] positions(%p) {rotary_dim = 256, theta = 1.0e+04 : f64} : tensor<?x8x128xf16>, tensor<?x4x128xf16>, tensor<?x4x128xf16>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 4, 128, f16> -> tensor<?x8x128xf16>
  return
}

// -----

func.func @f(%x: tensor<?xf32>) {
  // expected-error @+1 {{'kvc.argmax' op input must have rank 2, got 'tensor<?xf32>'}}
  %i, %v = kvc.argmax %x : tensor<?xf32> -> tensor<?xi32>, tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{'kvc.argmax' op index result has length 3, but the input's rows is 4}}
  %i, %v = kvc.argmax %x : tensor<4x10xf32> -> tensor<3xi32>, tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{'kvc.argmax' op value result element type 'f16' differs from the input's 'f32'}}
  %i, %v = kvc.argmax %x : tensor<?x10xf32> -> tensor<?xi32>, tensor<?xf16>
  return
}

// -----

func.func @f(%x: tensor<?x0xf32>) {
  // expected-error @+1 {{'kvc.argmax' op needs rows of 1 .. 2^31-1 columns (i32 indices), got 0}}
  %i, %v = kvc.argmax %x : tensor<?x0xf32> -> tensor<?xi32>, tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{'kvc.argmax' op result #0 must be ranked tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %i, %v = kvc.argmax %x : tensor<?x10xf32> -> tensor<?xi64>, tensor<?xf32>
  return
}
