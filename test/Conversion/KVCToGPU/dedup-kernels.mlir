// RUN: kvcc-opt %s --kvc-dedup-gpu-kernels --split-input-file | FileCheck %s

// Identical kernels (names aside) are merged, launches redirected, and the
// module left empty is erased; a different kernel stays.
// CHECK-LABEL: func.func @twice
// CHECK: gpu.launch_func @a::@k
// CHECK: gpu.launch_func @a::@k
// CHECK: gpu.launch_func @c::@k
// CHECK: gpu.module @a
// CHECK-NOT: gpu.module @b
// CHECK: gpu.module @c
module attributes {gpu.container_module} {
  func.func @twice(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @b::@k2 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @c::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @a {
    gpu.func @k(%arg0: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %arg0[%c0] : memref<4xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %arg0[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @b {
    gpu.func @k2(%arg0: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %arg0[%c0] : memref<4xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %arg0[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @c {
    gpu.func @k(%arg0: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %arg0[%c0] : memref<4xf32>
      %w = arith.mulf %v, %v : f32
      memref.store %w, %arg0[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Kernels reading weight slices at different static offsets become one
// kernel with a run-time offset; the launches cast.
// CHECK-LABEL: func.func @layers
// CHECK: %[[C0:.*]] = memref.cast %{{.*}} : memref<8xf32, strided<[1], offset: 16>> to memref<8xf32, strided<[1], offset: ?>>
// CHECK: gpu.launch_func @l0::@k {{.*}}args(%[[C0]] : memref<8xf32, strided<[1], offset: ?>>)
// CHECK: %[[C1:.*]] = memref.cast %{{.*}} : memref<8xf32, strided<[1], offset: 32>> to memref<8xf32, strided<[1], offset: ?>>
// CHECK: gpu.launch_func @l0::@k {{.*}}args(%[[C1]] : memref<8xf32, strided<[1], offset: ?>>)
// CHECK: gpu.func @k(%{{.*}}: memref<8xf32, strided<[1], offset: ?>>) kernel
// CHECK-NOT: gpu.module @l1
module attributes {gpu.container_module} {
  func.func @layers(%w: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %s0 = memref.subview %w[16] [8] [1] : memref<64xf32> to memref<8xf32, strided<[1], offset: 16>>
    %s1 = memref.subview %w[32] [8] [1] : memref<64xf32> to memref<8xf32, strided<[1], offset: 32>>
    gpu.launch_func @l0::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%s0 : memref<8xf32, strided<[1], offset: 16>>)
    gpu.launch_func @l1::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%s1 : memref<8xf32, strided<[1], offset: 32>>)
    return
  }
  gpu.module @l0 {
    gpu.func @k(%arg0: memref<8xf32, strided<[1], offset: 16>>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %arg0[%c0] : memref<8xf32, strided<[1], offset: 16>>
      memref.store %v, %arg0[%c0] : memref<8xf32, strided<[1], offset: 16>>
      gpu.return
    }
  }
  gpu.module @l1 {
    gpu.func @k(%arg0: memref<8xf32, strided<[1], offset: 32>>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %arg0[%c0] : memref<8xf32, strided<[1], offset: 32>>
      memref.store %v, %arg0[%c0] : memref<8xf32, strided<[1], offset: 32>>
      gpu.return
    }
  }
}
