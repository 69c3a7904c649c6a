// RUN: kvcc-opt %s --split-input-file --kvc-results-to-out-params | FileCheck %s

// A result allocated in the entry block becomes the caller's buffer: the
// function writes the out-parameter directly, no alloc, no copy.
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:.*]]: memref<?x8xf32>, %[[OUT:.*]]: memref<?x8xf32>)
// CHECK-NOT: memref.alloc
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : memref<?x8xf32>)
// CHECK-NOT: memref.copy
// CHECK: return
func.func @step(%x: memref<?x8xf32>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%n) : memref<?x8xf32>
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%a : memref<?x8xf32>)
  return %a : memref<?x8xf32>
}

// -----

// An argument, a view, and a buffer returned twice are copied.
// CHECK-LABEL: func.func @copied(
// CHECK-SAME: %[[X:[^:]*]]: memref<4xf32>, %[[O0:[^:]*]]: memref<4xf32>, %[[O1:[^:]*]]: memref<2xf32, strided<[1], offset: 1>>, %[[O2:[^:]*]]: memref<4xf32>, %[[O3:[^:]*]]: memref<4xf32>)
// CHECK: %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[V:.*]] = memref.subview %[[X]]
// CHECK: memref.copy %[[X]], %[[O0]]
// CHECK: memref.copy %[[V]], %[[O1]]
// CHECK: memref.copy %[[A]], %[[O2]]
// CHECK: memref.copy %[[A]], %[[O3]]
// CHECK: return
func.func @copied(%x: memref<4xf32>) -> (memref<4xf32>, memref<2xf32, strided<[1], offset: 1>>, memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  %v = memref.subview %x[1] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 1>>
  return %x, %v, %a, %a : memref<4xf32>, memref<2xf32, strided<[1], offset: 1>>, memref<4xf32>, memref<4xf32>
}
