// RUN: kvcc-opt %s --split-input-file --kvc-matmul-to-blas | FileCheck %s
// RUN: kvcc-opt %s --split-input-file --kvc-matmul-to-blas=callee-prefix=kvcc_cuda_matmul | FileCheck %s --check-prefix=CUDA

// A projection into a fresh zeroed buffer: the fill goes, the call overwrites.
// CHECK-LABEL: func.func @projection(
// CHECK-SAME: %[[X:.*]]: memref<?x8xf32>, %[[W:.*]]: memref<16x8xf32>
// CHECK: %[[Y:.*]] = memref.alloc
// CHECK-NOT: linalg.fill
// CHECK: %[[XC:.*]] = memref.cast %[[X]]
// CHECK: %[[WC:.*]] = memref.cast %[[W]]
// CHECK: %[[YC:.*]] = memref.cast %[[Y]]
// CHECK: call @kvcc_matmul_nt_beta0(%[[XC]], %[[WC]], %[[YC]])
// CUDA: call @kvcc_cuda_matmul_nt_beta0(
func.func @projection(%x: memref<?x8xf32>, %w: memref<16x8xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %y = memref.alloc(%n) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x16xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x8xf32>, memref<16x8xf32>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

// C += A·B stays an accumulation: the fill is not zero, or something that
// touches memory sits between the fill and the matmul, or there is no fill.
// CHECK-LABEL: func.func @accumulations(
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[A:.*]] : memref<4x4xf32>)
// CHECK: call @kvcc_matmul_nn(
// CHECK: linalg.fill
// CHECK: memref.store
// CHECK: call @kvcc_matmul_nn(
// CHECK: call @kvcc_matmul_nn(
// CHECK-NOT: beta0
// CHECK: return
func.func @accumulations(%a: memref<4x4xf32>, %b: memref<4x4xf32>, %c: memref<4x4xf32>) {
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  %i = arith.constant 0 : index
  linalg.fill ins(%one : f32) outs(%c : memref<4x4xf32>)
  linalg.matmul ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>)
  linalg.fill ins(%zero : f32) outs(%c : memref<4x4xf32>)
  memref.store %one, %c[%i, %i] : memref<4x4xf32>
  linalg.matmul ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>)
  linalg.matmul ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>)
  return
}

// -----

// A --dtype=f16|bf16 model: 16-bit activations and weights, accumulated in
// f32 by the callee; a 16-bit C (the projections) or an f32 C (the LM head's
// logits). Each type combination is its own callee, declared with its memref
// element types. Mixed A/B types have no callee and stay linalg.
// CHECK-LABEL: func.func @half_precision(
// CHECK: call @kvcc_matmul_nt_beta0_f16({{.*}}) : (memref<?x?xf16, strided<[?, ?], offset: ?>>, memref<?x?xf16, strided<[?, ?], offset: ?>>, memref<?x?xf16, strided<[?, ?], offset: ?>>) -> ()
// CHECK: call @kvcc_matmul_nt_beta0_f16_out_f32({{.*}}) : ({{.*}}xf16{{.*}}, {{.*}}xf16{{.*}}, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
// CHECK: call @kvcc_matmul_nn_bf16(
// CHECK: call @kvcc_matmul_nt_bf16_out_f32(
// CHECK: linalg.matmul
// CHECK-SAME: memref<4x8xf16>, memref<16x8xf32>
// CUDA-LABEL: func.func @half_precision(
// CUDA: call @kvcc_cuda_matmul_nt_beta0_f16(
// CUDA: call @kvcc_cuda_matmul_nt_beta0_f16_out_f32(
// CUDA: call @kvcc_cuda_matmul_nn_bf16(
// CUDA: call @kvcc_cuda_matmul_nt_bf16_out_f32(
func.func @half_precision(%x: memref<4x8xf16>, %w: memref<16x8xf16>, %y: memref<4x16xf16>, %logits: memref<4x16xf32>,
                          %xb: memref<4x8xbf16>, %wb: memref<8x16xbf16>, %yb: memref<4x16xbf16>, %wbt: memref<16x8xbf16>,
                          %wf: memref<16x8xf32>) {
  %zero = arith.constant 0.0 : f16
  %zero32 = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f16) outs(%y : memref<4x16xf16>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x8xf16>, memref<16x8xf16>) outs(%y : memref<4x16xf16>)
  linalg.fill ins(%zero32 : f32) outs(%logits : memref<4x16xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x8xf16>, memref<16x8xf16>) outs(%logits : memref<4x16xf32>)
  linalg.matmul ins(%xb, %wb : memref<4x8xbf16>, memref<8x16xbf16>) outs(%yb : memref<4x16xbf16>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%xb, %wbt : memref<4x8xbf16>, memref<16x8xbf16>) outs(%logits : memref<4x16xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %wf : memref<4x8xf16>, memref<16x8xf32>) outs(%logits : memref<4x16xf32>)
  return
}
