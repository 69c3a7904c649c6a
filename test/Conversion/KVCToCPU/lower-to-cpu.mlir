// RUN: kvcc-opt %s --split-input-file --kvc-lower-to-cpu | FileCheck %s
// The whole CPU pipeline reaches the LLVM dialect:
// RUN: kvcc-opt %s --split-input-file --pass-pipeline='builtin.module(kvc-lower-to-cpu,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},kvc-results-to-out-params,buffer-deallocation-pipeline,canonicalize,cse,convert-scf-to-openmp,convert-vector-to-scf,lower-affine,expand-strided-metadata,finalize-memref-to-llvm,convert-scf-to-cf,convert-vector-to-llvm,convert-math-to-llvm,finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,convert-openmp-to-llvm,reconcile-unrealized-casts)' | FileCheck %s --check-prefix=LLVM

// The cache becomes a buffer of pages [pages, 2, block, kv_heads, head_dim];
// attention is a parallel loop over (KV head, block of 8 query rows) of the
// ragged batch (a binary search finds a block's sequence) with per-iteration
// stack scratch: the block's queries transposed, a half cache's K tile
// widened to f32 (decode blocks prefetch the next tile first), scores as one
// vector over the 8 rows (broadcast + FMA, no reduction) or, for a block of at
// most G rows (a decode token), as dot products along head_dim (the rows' Q
// row-major, one horizontal sum per key and row), a base-2 softmax (exp2 by
// polynomial), then O += P·V with V rows read 8 columns at a time (only the G
// rows for a decode block).
// The kernel is a private function of its shape, which every layer's op of
// that shape calls.
// CHECK-LABEL: func.func @paged_gqa
// CHECK: call @[[KERNEL:kvc_cpu_paged_attention_g4_d64_[A-Za-z0-9_]+_page16]](
// CHECK: bufferization.to_tensor
// CHECK: func.func private @[[KERNEL]](
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: memref<?x2x16x2x64xf16>
// CHECK: memref.alloca(%{{.*}}) : memref<?xindex>
// CHECK: scf.parallel
// CHECK: memref.alloca_scope
// CHECK: scf.while
// CHECK: memref.alloca() : memref<64x8xf32>
// CHECK: memref.alloca() : memref<4x64xf32>
// CHECK: memref.alloca() : memref<8x64xf32>
// CHECK: memref.alloca() : memref<16x8xf32>
// CHECK: memref.alloca() : memref<16x64xf32>
// CHECK: %[[DOT:.*]] = memref.alloca() : memref<16x8xf32>
// CHECK: scf.for {{.*}} step %c16{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xi32>
// CHECK: scf.if
// CHECK: memref.prefetch %[[CACHE]]
// The decode form: two keys a group (4 rows x 2 keys accumulators).
// CHECK: scf.if %{{.*}} -> (vector<8xf32>
// CHECK: scf.for {{.*}} step %c2
// CHECK: scf.for {{.*}} step %c8{{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[CACHE]][%{{.*}}, %c0{{[_0-9]*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<?x2x16x2x64xf16>, vector<8xf16>
// CHECK: vector.fma {{.*}} : vector<8xf32>
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<8xf32> into f32
// CHECK: vector.store %{{.*}}, %[[DOT]]
// CHECK: vector.load %[[DOT]]
// CHECK: } else {
// CHECK: vector.load %[[CACHE]][%{{.*}}, %c0{{[_0-9]*}}, %{{.*}}, %{{.*}}, %c0{{.*}}] : memref<?x2x16x2x64xf16>, vector<64xf16>
// CHECK: arith.extf {{.*}} : vector<64xf16> to vector<64xf32>
// CHECK: vector.broadcast {{.*}} : f32 to vector<8xf32>
// CHECK: vector.fma {{.*}} : vector<8xf32>
// The soft-cap multiplies by 1/cap: no division per score.
// CHECK-NOT: arith.divf
// CHECK: %[[CAPPED:.*]] = arith.mulf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK-NEXT: math.tanh %[[CAPPED]] : vector<8xf32>
// CHECK: math.roundeven {{.*}} : vector<8xf32>
// CHECK: vector.load %[[CACHE]][%{{.*}}, %c1{{[_0-9]*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<?x2x16x2x64xf16>, vector<8xf16>
// CHECK: vector.fma {{.*}} : vector<8xf32>
// CHECK: arith.truncf {{.*}} : vector<64xf32> to vector<64xf16>
// LLVM-LABEL: llvm.func @paged_gqa
// LLVM-NOT: kvc.
func.func @paged_gqa(%q: tensor<?x8x64xf16>, %cache: !kvc.paged_cache<16, 2, 64, f16>, %bt: tensor<?x?xi32>,
                     %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal, softcap = 30.0 : f32, num_splits = 3} : tensor<?x8x64xf16>, !kvc.paged_cache<16, 2, 64, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xf16>
  return %o : tensor<?x8x64xf16>
}

// -----

// Two ops of one shape (a model's layers) call one kernel; another scale
// gets its own.
// CHECK-LABEL: func.func @two_layers
// CHECK: call @[[K1:kvc_cpu_paged_attention_g2_d32_[A-Za-z0-9_]+]](
// CHECK: call @[[K1]](
// CHECK: call @[[K2:kvc_cpu_paged_attention_g2_d32_[A-Za-z0-9_]+]](
// CHECK: func.func private @[[K1]](
// CHECK-NOT: func.func private @[[K1]](
// CHECK: func.func private @[[K2]](
// LLVM-LABEL: llvm.func @two_layers
func.func @two_layers(%q: tensor<?x4x32xf32>, %cache: !kvc.paged_cache<8, 2, 32, f32>, %bt: tensor<?x?xi32>,
                      %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x4x32xf32> {
  %a = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x4x32xf32>, !kvc.paged_cache<8, 2, 32, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4x32xf32>
  %b = kvc.paged_attention %a, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x4x32xf32>, !kvc.paged_cache<8, 2, 32, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4x32xf32>
  %c = kvc.paged_attention %b, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.25 : f32, causal} : tensor<?x4x32xf32>, !kvc.paged_cache<8, 2, 32, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4x32xf32>
  return %c : tensor<?x4x32xf32>
}

// -----

// Head-major pages swap the block and head dims; a negative slot is skipped.
// CHECK-LABEL: func.func @append_head_major
// CHECK-SAME: memref<?x2x4x5x32xf32>
// CHECK: arith.cmpi sge
// CHECK: scf.if
// CHECK: arith.divui
// CHECK: arith.remui
// CHECK: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %c0{{[_0-9]*}}, %{{.*}}, %{{.*}}, %c0{{.*}}] : memref<?x2x4x5x32xf32>, vector<32xf32>
// CHECK: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %c1{{[_0-9]*}}, %{{.*}}, %{{.*}}, %c0{{.*}}] : memref<?x2x4x5x32xf32>, vector<32xf32>
// LLVM-LABEL: llvm.func @append_head_major
func.func @append_head_major(%k: tensor<?x4x32xf32>, %v: tensor<?x4x32xf32>, %slots: tensor<?xi64>,
                             %cache: !kvc.paged_cache<5, 4, 32, f32, head_major>) {
  kvc.append %k, %v into %cache[%slots] : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?xi64> into !kvc.paged_cache<5, 4, 32, f32, head_major>
  return
}

// -----

// GPT-J rope pairs adjacent lanes, rotates the first 16 of 32 and passes the
// rest through; angles are computed in f64.
// CHECK-LABEL: func.func @rope_gptj_partial
// CHECK: arith.constant dense<{{.*}}> : vector<8xf64>
// CHECK: math.cos {{.*}} : vector<8xf64>
// CHECK: math.sin {{.*}} : vector<8xf64>
// CHECK: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14]
// CHECK: vector.shuffle {{.*}} [1, 3, 5, 7, 9, 11, 13, 15]
// CHECK: vector.shuffle {{.*}} [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15]
// CHECK: vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 32, 33
// LLVM-LABEL: llvm.func @rope_gptj_partial
func.func @rope_gptj_partial(%x: tensor<?x2x32xf32>, %p: tensor<?xi32>) -> tensor<?x2x32xf32> {
  %r = kvc.rope gptj %x, %p {rotary_dim = 16, theta = 1.0e+04 : f64} : tensor<?x2x32xf32>, tensor<?xi32> -> tensor<?x2x32xf32>
  return %r : tensor<?x2x32xf32>
}

// -----

// rope_append on the CPU is its parts: the query and key ropes, then the
// append of the rotated keys.
// CHECK-LABEL: func.func @rope_append
// CHECK-NOT: kvc.
// CHECK: math.cos {{.*}} : vector<16xf64>
// CHECK: math.cos {{.*}} : vector<16xf64>
// CHECK: scf.if
// CHECK: vector.store
// LLVM-LABEL: llvm.func @rope_append
func.func @rope_append(%q: tensor<?x4x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x2x32xf32>, %s: tensor<?xi64>, %p: tensor<?xi64>,
                       %cache: !kvc.paged_cache<4, 2, 32, f32>) -> tensor<?x4x32xf32> {
  %qr = kvc.rope_append neox %q, %k, %v into %cache[%s] positions(%p) {rotary_dim = 32, theta = 1.0e+04 : f64} : tensor<?x4x32xf32>, tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<4, 2, 32, f32> -> tensor<?x4x32xf32>
  return %qr : tensor<?x4x32xf32>
}

// -----

// CHECK-LABEL: func.func @gather_and_dense
// CHECK: memref.alloc(%{{.*}}) : memref<?x2x64xbf16>
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<?x2x3x2x64xbf16>, vector<64xbf16>
// CHECK: scf.parallel
// CHECK: memref.alloca() : memref<64x8xf32>
// LLVM-LABEL: llvm.func @gather_and_dense
func.func @gather_and_dense(%cache: !kvc.paged_cache<3, 2, 64, bf16>, %t: tensor<?xi32>, %n: index,
                            %q: tensor<?x4x64xbf16>) -> tensor<?x4x64xbf16> {
  %k, %v = kvc.gather %cache[%t], %n : !kvc.paged_cache<3, 2, 64, bf16>, tensor<?xi32> -> tensor<?x2x64xbf16>, tensor<?x2x64xbf16>
  %o = kvc.attention %q, %k, %v {scale = 0.125 : f32, causal, sliding_window = 16} : tensor<?x4x64xbf16>, tensor<?x2x64xbf16>, tensor<?x2x64xbf16> -> tensor<?x4x64xbf16>
  return %o : tensor<?x4x64xbf16>
}
