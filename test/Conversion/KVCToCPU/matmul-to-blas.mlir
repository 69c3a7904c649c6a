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
