// RUN: kvcc-opt %s --split-input-file --kvc-lower-to-gpu --verify-diagnostics | FileCheck %s
// RUN: not kvcc-opt %s --kvc-lower-to-gpu="prefill-rows=32" 2>&1 | FileCheck %s --check-prefix=BAD-ROWS
// BAD-ROWS: error: kvc-lower-to-gpu: prefill tile rows must be 64 or 128 (one or two 16-row MMA tiles a warp; 0: by head_dim), got 32
// RUN: not kvcc-opt %s --kvc-lower-to-gpu="prefill-keys=24" 2>&1 | FileCheck %s --check-prefix=BAD-KEYS
// BAD-KEYS: error: kvc-lower-to-gpu: prefill tile keys must be 16, 32, 64 or 128 (0: by head_dim), got 24

// Flash-decoding: a CTA of 128 threads per (split, KV head, sequence) with
// per-warp state in shared memory; 16-byte loads of K/V rows read through the
// block table; dot products finished by butterfly shuffles over the 16 lanes of
// a 128-element row; a split-KV combine kernel after the main one. The grid's
// x is the call's split count: num_splits for a call of decode rows only (no
// more rows than sequences), else one, with no workspace rows and no combine.
// No init kernel: every split CTA writes its partials.
// CHECK-LABEL: func.func @decode
// CHECK-NOT: kvc_attention_init
// CHECK: %[[DECODE:.*]] = arith.cmpi ule, %[[ROWS:[a-z0-9_]+]], %[[SEQS:[a-z0-9_]+]] : index
// CHECK: %[[SPLITS:.*]] = arith.select %[[DECODE]], %c4{{[_0-9]*}}, %c1{{[_0-9]*}} : index
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[SPLITS]], %c1{{[_0-9]*}} : index
// CHECK: %[[WSROWS:.*]] = arith.select %[[SEVERAL]], %[[ROWS]], %c0{{[_0-9]*}} : index
// CHECK: memref.alloc(%[[SPLITS]], %[[WSROWS]]) : memref<?x?x32x128xf32>
// CHECK: memref.alloc(%[[SPLITS]], %[[WSROWS]]) : memref<?x?x32x2xf32>
// CHECK: gpu.launch blocks(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in (%[[GRIDX:[a-z0-9]+]] = %[[SPLITS]], %{{[a-z0-9]+}} = %c8{{[_0-9]*}}, %{{[a-z0-9]+}} = %[[SEQS]]) threads(%{{[^)]*}}) in (%{{.*}} = %c128{{[_0-9]*}},
// CHECK-SAME: module(@kvc_paged_attention) function(@kvc_paged_attention)
// CHECK-SAME: workgroup(%{{.*}} : memref<4x4x2xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<4x4x128xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xi32>
// Two keys a lane a trip, both loaded before any math; the lane's dot product
// is an FMA chain; softmax weights in base 2 through ex2.approx.ftz.
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x2x16x8x128xf16>, vector<8xf16>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x2x16x8x128xf16>, vector<8xf16>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x2x16x8x128xf16>, vector<8xf16>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x2x16x8x128xf16>, vector<8xf16>
// CHECK: math.fma
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c8_i32
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: gpu.barrier
// One split writes the output, several their partials.
// CHECK: %[[ALONE:.*]] = arith.cmpi eq, %[[GRIDX]], %c1{{[_0-9]*}} : index
// CHECK: scf.if %[[ALONE]] {
// CHECK: memref.store %{{.*}} : memref<?x32x128xf16>
// CHECK: } else {
// CHECK: memref.store %{{.*}} : memref<?x?x32x128xf32>
// The combine runs only when the call split (the workspace's own test).
// CHECK: scf.if %[[SEVERAL]] {
// CHECK: gpu.launch
// CHECK-SAME: module(@kvc_split_kv_combine) function(@kvc_split_kv_combine)
// CHECK: memref.dim %{{.*}}, %c0{{[_0-9]*}} : memref<?x?x32x2xf32>
// CHECK: scf.for
// Multi-token chunks: the tensor-core kernel, by default at d128 128 (token,
// head) rows per CTA and K/V tiles of 32 keys double-buffered: 64 KiB, views
// of dynamic shared memory. The grid: x the 8 KV heads (fastest), y and z
// the slots, floor(tokens * G / rows) + sequences = tokens * 4 / 128 + B of
// them, y < 2^16; a CTA finds its sequence, the last s with
// floor(query_start[s] * 4 / 128) + s <= slot, by counting with bar.red.popc.
// CHECK: %[[TG:.*]] = arith.muli %[[TOKENS:[a-z0-9_]+]], %c4{{[_0-9]*}} : index
// CHECK: %[[TGR:.*]] = arith.divui %[[TG]], %c128{{[_0-9]*}} : index
// CHECK: %[[SLOTS:.*]] = arith.addi %[[TGR]], %[[B:[a-z0-9_]+]] : index
// CHECK: %[[GY:.*]] = arith.minui %[[SLOTS]], %c65535{{[_0-9]*}} : index
// CHECK: %[[GZ:.*]] = arith.ceildivui %[[SLOTS]], %c65535{{[_0-9]*}} : index
// CHECK: gpu.launch blocks(%{{[a-z0-9]+}}, %[[BY:[a-z0-9]+]], %[[BZ:[a-z0-9]+]]) in (%{{[a-z0-9]+}} = %c8{{[_0-9]*}}, %{{[a-z0-9]+}} = %[[GY]], %{{[a-z0-9]+}} = %[[GZ]]) threads(%[[TID:[a-z0-9]+]],
// CHECK-SAME: dynamic_shared_memory_size %c65536_i32 module(@kvc_prefill_attention) function(@kvc_prefill_attention)
// CHECK: memref.view {{.*}} to memref<128x128xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x32x128xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x32x128xf16, #gpu.address_space<workgroup>>
// CHECK: %[[ZY:.*]] = arith.muli %[[BZ]], %c65535{{[_0-9]*}} : index
// CHECK: %[[SLOT:.*]] = arith.addi %[[BY]], %[[ZY]] : index
// CHECK: scf.for %[[BASE:.*]] = %c0{{[_0-9]*}} to %[[B]] step %c128{{[_0-9]*}} iter_args(%[[N:.*]] = %c0_i32) -> (i32) {
// CHECK: %[[S:.*]] = arith.addi %[[BASE]], %[[TID]] : index
// CHECK: memref.load %{{.*}}[%{{.*}}] : memref<?xi32>
// CHECK: %[[F:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: arith.cmpi ule, %[[F]], %[[SLOT]] : index
// CHECK: %[[COUNT:.*]] = nvvm.barrier #nvvm.reduction<popc> %{{.*}} -> i32
// CHECK: arith.addi %[[N]], %[[COUNT]] : i32
// K/V rows come from the cache viewed as [pages, page elements], the offset
// in a page 32-bit.
// CHECK: memref.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3, 4]] : memref<?x2x16x8x128xf16> into memref<?x32768xf16>
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// One barrier a K/V tile: the block-table reads of tile j + 1, the wait for
// tile j, the barrier, the copies of tile j + 1 into the other stage; then
// S = Q Kᵀ (K fragments of two 8-key tiles by one ldmatrix.x4), softmax and
// P V (V by ldmatrix.x4.trans), and no barrier at the end of the tile.
// CHECK: scf.for
// CHECK: memref.load {{.*}} : memref<?x?xi32>
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvgpu.mma.sync
// CHECK-SAME: mmaShape = [16, 8, 16]
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK-NOT: gpu.barrier
// CHECK: scf.yield
func.func @decode(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 8, 128, f16>, %bt: tensor<?x?xi32>,
                  %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal, num_splits = 4} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// -----

// max_splits: each call plans its splits, the most up to 16 that keep its
// sequences x 8 KV heads CTAs within two per SM, the SM count from the
// runtime; one for a call with a prefill chunk.
// CHECK: func.func private @kvcc_cuda_multiprocessor_count() -> i32
// CHECK-LABEL: func.func @decode_planned
// CHECK: %[[SMS:.*]] = call @kvcc_cuda_multiprocessor_count() : () -> i32
// CHECK: %[[SMSX:.*]] = arith.index_cast %[[SMS]] : i32 to index
// CHECK: %[[CTAS:.*]] = arith.muli %{{.*}}, %c8{{[_0-9]*}} : index
// CHECK: %[[CTAS1:.*]] = arith.maxsi %[[CTAS]], %c1{{[_0-9]*}} : index
// CHECK: %[[TARGET:.*]] = arith.muli %[[SMSX]], %c2{{[_0-9]*}} : index
// CHECK: %[[FIT:.*]] = arith.divsi %[[TARGET]], %[[CTAS1]] : index
// CHECK: %[[FIT1:.*]] = arith.maxsi %[[FIT]], %c1{{[_0-9]*}} : index
// CHECK: %[[PLAN:.*]] = arith.minsi %[[FIT1]], %c16{{[_0-9]*}} : index
// CHECK: %[[DECODE:.*]] = arith.cmpi ule
// CHECK: %[[SPLITS:.*]] = arith.select %[[DECODE]], %[[PLAN]], %c1{{[_0-9]*}} : index
// CHECK: gpu.launch blocks(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %[[SPLITS]],
// CHECK-SAME: module(@kvc_paged_attention)
// CHECK: module(@kvc_split_kv_combine)
func.func @decode_planned(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 8, 128, f16>, %bt: tensor<?x?xi32>,
                          %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal, max_splits = 16} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// -----

// bf16: the same tensor-core kernel. nvgpu.mma.sync cannot lower bf16 in
// MLIR 22, so each MMA is an nvvm.mma.sync on the fragments' bf16 pairs
// bitcast to i32 (4 for A, 2 for B), the f32 accumulators unpacked from and
// repacked into the struct it returns; no nvgpu.mma.sync is left.
// CHECK-LABEL: func.func @prefill_bf16
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c40960_i32 module(@kvc_prefill_attention) function(@kvc_prefill_attention)
// CHECK: memref.view {{.*}} to memref<64x64xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x64x64xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: nvgpu.mma.sync
// CHECK: nvgpu.ldmatrix {{.*}} : memref<8xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: vector.bitcast {{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK: nvvm.mma.sync A[{{.*}}, {{.*}}, {{.*}}, {{.*}}] B[{{.*}}, {{.*}}] C[{{.*}}, {{.*}}, {{.*}}, {{.*}}]
// CHECK-SAME: multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>
// CHECK-SAME: shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-SAME: (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: llvm.extractvalue
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK-NOT: nvgpu.mma.sync
// CHECK: return
func.func @prefill_bf16(%q: tensor<?x8x64xbf16>, %cache: !kvc.paged_cache<3, 4, 64, bf16>, %bt: tensor<?x?xi32>,
                        %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xbf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x8x64xbf16>, !kvc.paged_cache<3, 4, 64, bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xbf16>
  return %o : tensor<?x8x64xbf16>
}

// -----

// One split (a model's decode step): the decode and prefill kernels write
// every row themselves, so there is no init launch and no combine.
// CHECK-LABEL: func.func @one_split
// CHECK-NOT: @kvc_attention_init
// CHECK: gpu.launch
// CHECK-SAME: module(@kvc_paged_attention) function(@kvc_paged_attention)
// CHECK-NOT: @kvc_attention_init
// CHECK-NOT: @kvc_split_kv_combine
// CHECK: return
func.func @one_split(%q: tensor<?x8x64xf32>, %cache: !kvc.paged_cache<16, 2, 64, f32>, %bt: tensor<?x?xi32>,
                     %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x8x64xf32> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x8x64xf32>, !kvc.paged_cache<16, 2, 64, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x8x64xf32>
  return %o : tensor<?x8x64xf32>
}

// -----

// Append: one CTA per token, 16-byte chunks; rope: one thread per (head, pair).
// CHECK-LABEL: func.func @append_rope
// CHECK: gpu.launch
// CHECK-SAME: module(@kvc_rope) function(@kvc_rope)
// CHECK: math.exp2
// CHECK: math.cos
// CHECK: gpu.launch
// CHECK-SAME: module(@kvc_append) function(@kvc_append)
// CHECK: vector.store {{.*}} {alignment = 16 : i64} : memref<?x2x3x2x64xbf16>, vector<8xbf16>
func.func @append_rope(%k: tensor<?x2x64xbf16>, %v: tensor<?x2x64xbf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>,
                       %cache: !kvc.paged_cache<3, 2, 64, bf16>) {
  %kr = kvc.rope gptj %k, %pos {rotary_dim = 32, theta = 1.0e+04 : f64} : tensor<?x2x64xbf16>, tensor<?xi32> -> tensor<?x2x64xbf16>
  kvc.append %kr, %v into %cache[%slots] : tensor<?x2x64xbf16>, tensor<?x2x64xbf16>, tensor<?xi32> into !kvc.paged_cache<3, 2, 64, bf16>
  return
}

// -----

// rope_append: one CTA per token rotates the query into its buffer, and, for
// a real slot, the key straight into the cache and the value in 16-byte chunks.
// CHECK-LABEL: func.func @rope_append
// CHECK: gpu.launch
// CHECK-SAME: module(@kvc_rope_append) function(@kvc_rope_append)
// CHECK: math.cos
// CHECK: memref.store {{.*}} : memref<?x8x64xf16>
// CHECK: scf.if
// CHECK: math.cos
// CHECK: memref.store {{.*}} : memref<?x2x16x2x64xf16>
// CHECK: vector.load {{.*}} {alignment = 16 : i64} : memref<?x2x64xf16, strided<[?, ?, 1], offset: ?>>, vector<8xf16>
// CHECK: vector.store {{.*}} {alignment = 16 : i64} : memref<?x2x16x2x64xf16>, vector<8xf16>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @rope_append(%q: tensor<?x8x64xf16>, %k: tensor<?x2x64xf16>, %v: tensor<?x2x64xf16>, %slots: tensor<?xi64>, %pos: tensor<?xi64>,
                       %cache: !kvc.paged_cache<16, 2, 64, f16>) -> tensor<?x8x64xf16> {
  %qr = kvc.rope_append neox %q, %k, %v into %cache[%slots] positions(%pos) {rotary_dim = 64, theta = 1.0e+04 : f64} : tensor<?x8x64xf16>, tensor<?x2x64xf16>, tensor<?x2x64xf16>, tensor<?xi64>, tensor<?xi64> into !kvc.paged_cache<16, 2, 64, f16> -> tensor<?x8x64xf16>
  return %qr : tensor<?x8x64xf16>
}

// -----

// RMSNorm with the residual fused in: one CTA per row writes the sum and the
// normed row. A row of 64 takes 128 threads (the fewest), one element each:
// threads 64..127 load the row's last element, count 0 and store nothing. All
// loads (row, residual, weight: a slice of the flat weight argument read in
// place through a strided view) come before the first use; the sum is rounded
// to bf16, stored, and normalized (as on the CPU); the squares are summed by
// 5 shuffle rounds and one exchange of 4 warp partials in shared memory.
// CHECK-LABEL: func.func @rms_norm
// CHECK: gpu.launch
// CHECK-SAME: threads(%{{[^)]*}}) in (%{{.*}} = %c128{{[_0-9]*}},
// CHECK-SAME: module(@kvc_rms_norm) function(@kvc_rms_norm)
// CHECK-SAME: workgroup(%[[PARTIALS:.*]] : memref<4xf32, #gpu.address_space<workgroup>>)
// CHECK-NOT: scf.for
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c64{{[_0-9]*}} : index
// CHECK: %[[COL:.*]] = arith.select %[[IN]], %{{.*}}, %c63{{[_0-9]*}} : index
// CHECK: memref.load %{{.*}}[%{{.*}}, %[[COL]]] : memref<?x64xbf16>
// CHECK: memref.load %{{.*}}[%{{.*}}, %[[COL]]] : memref<?x64xbf16>
// CHECK: arith.addf
// CHECK: memref.load %{{.*}}[%[[COL]]] : memref<64xbf16, strided<[1], offset: ?>>
// CHECK: arith.truncf
// CHECK: scf.if %[[IN]] {
// CHECK-NEXT: memref.store {{.*}} : memref<?x64xbf16>
// CHECK: arith.select %[[IN]]
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: memref.store {{.*}}, %[[PARTIALS]]
// CHECK: gpu.barrier
// CHECK: math.rsqrt
// CHECK: scf.if %[[IN]] {
// CHECK-NEXT: memref.store {{.*}} : memref<?x64xbf16>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @rms_norm(%x: tensor<?x64xbf16>, %d: tensor<?x64xbf16>, %w: tensor<64xbf16>) -> (tensor<?x64xbf16>, tensor<?x64xbf16>) {
  %h, %s = kvc.rms_norm %x + %d, %w {epsilon = 1.0e-06 : f64} : tensor<?x64xbf16> + tensor<?x64xbf16>, tensor<64xbf16> -> tensor<?x64xbf16>, tensor<?x64xbf16>
  return %h, %s : tensor<?x64xbf16>, tensor<?x64xbf16>
}

// -----

// A row of 4096 takes 512 threads (16 warp partials), 8 elements each, all in
// registers; a row of 20000 (20 elements a thread at 1024 threads) loops over
// the row twice, reading back the sum it stored.
// CHECK-LABEL: func.func @rms_norm_rows
// CHECK: gpu.launch
// CHECK-SAME: threads(%{{[^)]*}}) in (%{{.*}} = %c512{{[_0-9]*}},
// CHECK-SAME: workgroup(%{{.*}} : memref<16xf32, #gpu.address_space<workgroup>>)
// CHECK-NOT: scf.for
// CHECK-COUNT-8: memref.load %{{.*}} : memref<?x4096xf16>
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK-SAME: threads(%{{[^)]*}}) in (%{{.*}} = %c1024{{[_0-9]*}},
// CHECK-SAME: workgroup(%{{.*}} : memref<32xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: gpu.terminator
func.func @rms_norm_rows(%x: tensor<?x4096xf16>, %w: tensor<4096xf16>, %y: tensor<?x20000xf32>, %d: tensor<?x20000xf32>, %v: tensor<20000xf32>) -> (tensor<?x4096xf16>, tensor<?x20000xf32>, tensor<?x20000xf32>) {
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x4096xf16>, tensor<4096xf16> -> tensor<?x4096xf16>
  %h2, %s2 = kvc.rms_norm %y + %d, %v {epsilon = 1.0e-06 : f64} : tensor<?x20000xf32> + tensor<?x20000xf32>, tensor<20000xf32> -> tensor<?x20000xf32>, tensor<?x20000xf32>
  return %h, %h2, %s2 : tensor<?x4096xf16>, tensor<?x20000xf32>, tensor<?x20000xf32>
}

// -----

func.func @rms_norm_dynamic_hidden(%x: tensor<?x?xf32>, %w: tensor<?xf32>) -> tensor<?x?xf32> {
  // expected-error @+2 {{the GPU rms_norm needs a static hidden size}}
  // expected-error @+1 {{failed to legalize operation 'kvc.rms_norm' that was explicitly marked illegal}}
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x?xf32>, tensor<?xf32> -> tensor<?x?xf32>
  return %h : tensor<?x?xf32>
}

// -----

func.func @unsupported_head_dim(%q: tensor<?x4x96xf16>, %cache: !kvc.paged_cache<16, 4, 96, f16>, %bt: tensor<?x?xi32>,
                                %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x4x96xf16> {
  // expected-error @+2 {{the GPU kernel needs head_dim in {8, 16, 32, 64, 128, 256}, got 96}}
  // expected-error @+1 {{failed to legalize operation 'kvc.paged_attention' that was explicitly marked illegal}}
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.1 : f32, causal} : tensor<?x4x96xf16>, !kvc.paged_cache<16, 4, 96, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4x96xf16>
  return %o : tensor<?x4x96xf16>
}

// -----

// kvc.argmax: a CTA of 1024 threads per row; 16-byte loads when chunks tile
// the row, each thread's best (value, column) in registers, five shuffle
// rounds of both, the 32 warp winners in shared memory, thread 0 writes.
// CHECK-LABEL: func.func @argmax
// CHECK: %[[ROWS:.*]] = memref.dim
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ROWS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c1024
// CHECK-SAME: module(@kvc_argmax) function(@kvc_argmax)
// CHECK-SAME: workgroup(%[[WV:.*]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[WI:.*]] : memref<32xi32, #gpu.address_space<workgroup>>)
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, i32)
// CHECK: vector.load {{.*}} {alignment = 16 : i64} : memref<?x49152xf32>, vector<4xf32>
// CHECK: scf.yield
// CHECK-COUNT-10: gpu.shuffle xor
// CHECK: memref.store {{.*}}, %[[WV]]
// CHECK: memref.store {{.*}}, %[[WI]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: memref.store {{.*}} : memref<?xf32>
// CHECK: memref.store {{.*}} : memref<?xi32>
// CHECK: gpu.terminator
func.func @argmax(%l: tensor<?x49152xf32>) -> (tensor<?xi32>, tensor<?xf32>) {
  %i, %v = kvc.argmax %l : tensor<?x49152xf32> -> tensor<?xi32>, tensor<?xf32>
  return %i, %v : tensor<?xi32>, tensor<?xf32>
}

// -----

// A row that 16-byte chunks do not tile is read element by element; bf16 is
// compared in f32 and written back as bf16.
// CHECK-LABEL: func.func @argmax_odd
// CHECK: gpu.launch
// CHECK-NOT: vector.load
// CHECK: memref.load {{.*}} : memref<?x1001xbf16>
// CHECK: arith.extf
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}} : memref<?xbf16>
func.func @argmax_odd(%l: tensor<?x1001xbf16>) -> (tensor<?xi32>, tensor<?xbf16>) {
  %i, %v = kvc.argmax %l : tensor<?x1001xbf16> -> tensor<?xi32>, tensor<?xbf16>
  return %i, %v : tensor<?xi32>, tensor<?xbf16>
}
