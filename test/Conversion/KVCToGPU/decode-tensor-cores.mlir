// RUN: kvcc-opt %s --split-input-file --kvc-lower-to-gpu | FileCheck %s
// RUN: not kvcc-opt %s --split-input-file --kvc-lower-to-gpu=decode-tensor-cores=0 2>&1 | FileCheck %s --check-prefix=OFF
// RUN: kvcc-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(kvc-plan-split-kv{max-splits=32}),kvc-lower-to-gpu)" 2>&1 | FileCheck %s --check-prefix=PLANNED

// GQA 8 (32 query heads, 4 KV heads), f16 cache, d128, per-call split plan:
// one-token sequences decode on the decode instance of the tensor-core kernel
// (64 rows: the group's 8 heads in the first warp's MMA tile, K/V tiles of 64
// keys: 80 KiB of dynamic shared memory), a CTA per (split, KV head,
// sequence); a split takes its share of the keys in whole tiles, and a call
// of several splits leaves partials in the flash-decoding workspaces for the
// same combine kernel. No flash-decoding kernel. Chunks: the prefill instance.
// CHECK-LABEL: func.func @gqa8_planned
// CHECK-NOT: kvc_paged_attention
// CHECK: %[[SPLITS:.*]] = arith.select
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[SPLITS]], %c1{{[_0-9]*}} : index
// CHECK: %[[ACC:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x128xf32>
// CHECK: %[[STATS:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x2xf32>
// CHECK: gpu.launch blocks(%[[SPLIT:[a-z0-9]+]], {{.*}}) in (%[[GRIDX:[a-z0-9]+]] = %[[SPLITS]], {{.*}} = %c4{{[_0-9]*}},
// CHECK-SAME: dynamic_shared_memory_size %c81920_i32 module(@kvc_decode_mma_attention)
// CHECK: memref.view {{.*}} to memref<64x128xf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x64x128xf16, #gpu.address_space<workgroup>>
// Only one-token sequences.
// CHECK: arith.cmpi eq, %{{.*}}, %c1{{[_0-9]*}} : index
// The split's share: ceil(ceil(keys / splits) / 64) * 64 keys from lo + split * share.
// CHECK: %[[NSPLITS:.*]] = arith.index_castui %[[GRIDX]] : index to i32
// CHECK: arith.ceildivui %{{.*}}, %[[NSPLITS]] : i32
// CHECK: %[[SHARE:.*]] = arith.muli %{{.*}}, %c64{{[_0-9]*}} : index
// CHECK: arith.muli %[[SPLIT]], %[[SHARE]] : index
// CHECK: nvgpu.mma.sync
// Several splits: unnormalized rows and (max, sum) into the workspaces; one:
// the normalized row.
// CHECK: %[[MANY:.*]] = arith.cmpi ugt, %[[GRIDX]], %c1{{[_0-9]*}} : index
// CHECK: scf.if %[[MANY]] {
// CHECK: vector.store %{{.*}}, %[[ACC]][%[[SPLIT]], %{{.*}}, %{{.*}}, %{{.*}}] : memref<?x?x32x128xf32>, vector<2xf32>
// CHECK: memref.store %{{.*}}, %[[STATS]][%[[SPLIT]], %{{.*}}, %{{.*}}, %c0{{[_0-9]*}}] : memref<?x?x32x2xf32>
// CHECK: memref.store %{{.*}}, %[[STATS]][%[[SPLIT]], %{{.*}}, %{{.*}}, %c1{{[_0-9]*}}] : memref<?x?x32x2xf32>
// CHECK: } else {
// CHECK: memref.store %{{.*}} : memref<?x32x128xf16>
// CHECK: scf.if %[[SEVERAL]] {
// CHECK: module(@kvc_split_kv_combine)
// CHECK: %[[CHUNK:.*]] = arith.cmpi ugt
// CHECK: scf.if %[[CHUNK]] {
// CHECK: module(@kvc_prefill_attention)
// CHECK-NOT: kvc_paged_attention
// CHECK: return
// Off: every one-token sequence on the flash-decoding kernel.
// OFF-LABEL: func.func @gqa8_planned
// OFF-NOT: kvc_decode_mma_attention
// OFF: module(@kvc_paged_attention)
// OFF-NOT: kvc_decode_mma_attention
// OFF: return
func.func @gqa8_planned(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 4, 128, f16>, %bt: tensor<?x?xi32>,
                        %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal, max_splits = 16} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 4, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// -----

// A module that never splits (no split attribute): no flash-decoding kernel
// at all for a bf16 GQA 16 group at d64, the decode instance always
// (64-key tiles: 40 KiB of shared memory).
// CHECK-LABEL: func.func @gqa16_one_split
// CHECK-NOT: kvc_paged_attention
// CHECK: dynamic_shared_memory_size %c40960_i32 module(@kvc_decode_mma_attention)
// CHECK: memref.view {{.*}} to memref<64x64xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.view {{.*}} to memref<2x64x64xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: kvc_paged_attention
// CHECK: module(@kvc_prefill_attention)
// CHECK-NOT: kvc_paged_attention
// CHECK: return
// OFF-LABEL: func.func @gqa16_one_split
// OFF: module(@kvc_paged_attention)
// OFF-NOT: kvc_decode_mma_attention
// OFF: return
func.func @gqa16_one_split(%q: tensor<?x32x64xbf16>, %cache: !kvc.paged_cache<16, 2, 64, bf16>, %bt: tensor<?x?xi32>,
                           %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x64xbf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x32x64xbf16>, !kvc.paged_cache<16, 2, 64, bf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x64xbf16>
  return %o : tensor<?x32x64xbf16>
}

// -----

// GQA 4 stays on the flash-decoding kernel (0.89 of the copy bandwidth on an
// H100 at the benchmark shape), and an f32 cache has no tensor-core kernel.
// CHECK-LABEL: func.func @gqa4
// CHECK-NOT: kvc_decode_mma_attention
// CHECK: return
// CHECK-LABEL: func.func @gqa8_f32
// CHECK-NOT: kvc_decode_mma_attention
// CHECK-NOT: kvc_prefill_attention
// CHECK: return
func.func @gqa4(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 8, 128, f16>, %bt: tensor<?x?xi32>,
                %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 8, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}
func.func @gqa8_f32(%q: tensor<?x32x64xf32>, %cache: !kvc.paged_cache<16, 4, 64, f32>, %bt: tensor<?x?xi32>,
                    %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x64xf32> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.125 : f32, causal} : tensor<?x32x64xf32>, !kvc.paged_cache<16, 4, 64, f32>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x64xf32>
  return %o : tensor<?x32x64xf32>
}

// -----

// MQA with 32 query heads at d128: the flash-decoding kernel would need
// 66 KiB of shared memory to merge its warps, but large groups decode on
// tensor cores, whose 64 rows hold the 32 heads (warps 0 and 1), with or
// without a split plan. Without the tensor-core decode the error says so.
// CHECK-LABEL: func.func @mqa32_one_split
// CHECK-NOT: kvc_paged_attention
// CHECK: module(@kvc_decode_mma_attention)
// CHECK: return
// OFF: error: 'kvc.paged_attention' op the GPU kernel keeps 32 heads x 128 per warp in shared memory (66560 bytes), above 48 KiB; the tensor-core decode (kvcc --gpu-decode-tensor-cores, on by default) serves this group{{$}}
// PLANNED-LABEL: func.func @mqa32_one_split
// PLANNED-NOT: kvc_paged_attention
// PLANNED: module(@kvc_decode_mma_attention)
// PLANNED: module(@kvc_split_kv_combine)
// PLANNED: return
func.func @mqa32_one_split(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 1, 128, f16>, %bt: tensor<?x?xi32>,
                           %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 1, 128, f16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}

// -----

// A head-major cache ([page, kv, head, offset, d]): the K/V copies read the
// pool as [pages, 2 * 4 * 16 * 128 elements], at 32-bit offsets in the page:
// offset * 128 (d) + KV head * 2048 (16 * 128) + column, + 8192 for V.
// CHECK-LABEL: func.func @gqa8_head_major
// CHECK: module(@kvc_decode_mma_attention)
// CHECK: memref.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3, 4]] : memref<?x2x4x16x128xf16> into memref<?x16384xf16>
// CHECK: %[[HEAD:.*]] = arith.muli %{{.*}}, %c2048_i32{{[_0-9]*}} : i32
// CHECK: arith.addi %[[HEAD]], %{{.*}} : i32
// CHECK: scf.for
// CHECK: %[[ROW:.*]] = arith.remui %{{.*}}, %c16_i32{{[_0-9]*}} : i32
// CHECK: arith.muli %[[ROW]], %c128_i32{{[_0-9]*}} : i32
// CHECK: %[[V:.*]] = arith.addi %{{.*}}, %c8192_i32{{[_0-9]*}} : i32
// CHECK: %[[VIDX:.*]] = arith.index_castui %[[V]] : i32 to index
// CHECK: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %[[VIDX]]], %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}], 8
func.func @gqa8_head_major(%q: tensor<?x32x128xf16>, %cache: !kvc.paged_cache<16, 4, 128, f16, head_major>, %bt: tensor<?x?xi32>,
                           %lens: tensor<?xi32>, %starts: tensor<?xi32>) -> tensor<?x32x128xf16> {
  %o = kvc.paged_attention %q, %cache[%bt] context_lens(%lens) query_start(%starts) {scale = 0.0883883461 : f32, causal} : tensor<?x32x128xf16>, !kvc.paged_cache<16, 4, 128, f16, head_major>, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x32x128xf16>
  return %o : tensor<?x32x128xf16>
}
