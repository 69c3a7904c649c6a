// RUN: kvcc-opt %s --split-input-file --kvc-plan-split-kv | FileCheck %s
// RUN: kvcc-opt %s --split-input-file --kvc-plan-split-kv="num-sms=108 max-splits=8" | FileCheck %s --check-prefix=A100
// RUN: kvcc-opt %s --split-input-file --kvc-plan-split-kv="max-splits=1" | FileCheck %s --check-prefix=NOSPLIT
// RUN: not kvcc-opt %s --split-input-file --kvc-plan-split-kv="num-sms=0" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: kvc-plan-split-kv: num-sms and max-splits must be at least 1 and wave-tolerance in (0, 1], got num-sms=0

// 64 sequences x 8 KV heads = 512 CTAs already fill the GPU: no split.
// CHECK-LABEL: func @decode_b64
// CHECK: kvc.paged_attention {{.*}}num_splits = 1 : i64
// A100-LABEL: func @decode_b64
// A100: num_splits = 1 : i64
func.func @decode_b64(%q: tensor<64x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<64x256xi32>, %l: tensor<64xi32>, %s: tensor<65xi32>) -> tensor<64x32x128xf16> {
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.0883883461 : f32, causal} : tensor<64x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<64x256xi32>, tensor<64xi32>, tensor<65xi32> -> tensor<64x32x128xf16>
  return %o : tensor<64x32x128xf16>
}

// -----

// 1 sequence x 8 KV heads = 8 CTAs: 14 splits fill 112 of 132 SMs (85%),
// within the tolerance of the best (16 splits, 97%), with fewer combines.
// On 108 SMs with at most 8 splits the best is 8 (64 CTAs, 59%); 7 (52%) is
// within the tolerance and saves a combine.
// CHECK-LABEL: func @decode_b1
// CHECK: num_splits = 14 : i64
// A100-LABEL: func @decode_b1
// A100: num_splits = 7 : i64
func.func @decode_b1(%q: tensor<1x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<1x2048xi32>, %l: tensor<1xi32>, %s: tensor<2xi32>) -> tensor<1x32x128xf16> {
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.0883883461 : f32, causal} : tensor<1x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<1x2048xi32>, tensor<1xi32>, tensor<2xi32> -> tensor<1x32x128xf16>
  return %o : tensor<1x32x128xf16>
}

// -----

// 8 sequences x 3 KV heads (SmolLM2) = 24 CTAs: 5 splits use 120 of 132 SMs.
// CHECK-LABEL: func @decode_smollm2_b8
// CHECK: num_splits = 5 : i64
func.func @decode_smollm2_b8(%q: tensor<8x9x64xf32>, %c: !kvc.paged_cache<16, 3, 64, f32>, %b: tensor<8x64xi32>, %l: tensor<8xi32>, %s: tensor<9xi32>) -> tensor<8x9x64xf32> {
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.125 : f32, causal} : tensor<8x9x64xf32>, !kvc.paged_cache<16, 3, 64, f32>, tensor<8x64xi32>, tensor<8xi32>, tensor<9xi32> -> tensor<8x9x64xf32>
  return %o : tensor<8x9x64xf32>
}

// -----

// A dynamic batch (a model's step function) is planned per call, up to
// max-splits; a static prefill (tokens != batch) is not a decode step and is
// not annotated. With max-splits=1 nothing splits.
// CHECK-LABEL: func @dynamic_and_prefill
// CHECK: kvc.paged_attention {{.*}}max_splits = 32 : i64
// CHECK-NOT: splits
// CHECK: return
// A100-LABEL: func @dynamic_and_prefill
// A100: kvc.paged_attention {{.*}}max_splits = 8 : i64
// NOSPLIT-LABEL: func @dynamic_and_prefill
// NOSPLIT-NOT: splits
// NOSPLIT: return
func.func @dynamic_and_prefill(%q: tensor<?x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?xi32>,
                       %q2: tensor<100x32x128xf16>, %b2: tensor<2x64xi32>, %l2: tensor<2xi32>, %s2: tensor<3xi32>) -> (tensor<?x32x128xf16>, tensor<100x32x128xf16>) {
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.0883883461 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  %o2 = kvc.paged_attention %q2, %c[%b2] context_lens(%l2) query_start(%s2) {scale = 0.0883883461 : f32, causal} : tensor<100x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<2x64xi32>, tensor<2xi32>, tensor<3xi32> -> tensor<100x32x128xf16>
  return %o, %o2 : tensor<?x32x128xf16>, tensor<100x32x128xf16>
}

// -----

// A plan already made is kept.
// CHECK-LABEL: func @planned
// CHECK: num_splits = 3 : i64
// CHECK: max_splits = 4 : i64
func.func @planned(%q: tensor<1x32x128xf16>, %c: !kvc.paged_cache<16, 8, 128, f16>, %b: tensor<1x2048xi32>, %l: tensor<1xi32>, %s: tensor<2xi32>,
                   %q2: tensor<?x32x128xf16>, %b2: tensor<?x?xi32>, %l2: tensor<?xi32>, %s2: tensor<?xi32>) -> (tensor<1x32x128xf16>, tensor<?x32x128xf16>) {
  %o = kvc.paged_attention %q, %c[%b] context_lens(%l) query_start(%s) {scale = 0.0883883461 : f32, num_splits = 3} : tensor<1x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<1x2048xi32>, tensor<1xi32>, tensor<2xi32> -> tensor<1x32x128xf16>
  %o2 = kvc.paged_attention %q2, %c[%b2] context_lens(%l2) query_start(%s2) {scale = 0.0883883461 : f32, max_splits = 4} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o, %o2 : tensor<1x32x128xf16>, tensor<?x32x128xf16>
}
