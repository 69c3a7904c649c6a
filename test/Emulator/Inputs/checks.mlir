// Small GPU-dialect programs for the emulator's own checks (errors.test).
module attributes {gpu.container_module} {
  func.func @oob(%out: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    gpu.launch_func @k::@oob blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%out : memref<16xf32>)
    return
  }
  func.func @divergent_shuffle(%out: memref<32xf32>) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    gpu.launch_func @k::@divergent_shuffle blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%out : memref<32xf32>)
    return
  }
  func.func @copy(%in: memref<64xf32>, %out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @k::@copy blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%in : memref<64xf32>, %out : memref<64xf32>)
    return
  }
  func.func @copy_no_wait(%in: memref<64xf32>, %out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @k::@copy_no_wait blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%in : memref<64xf32>, %out : memref<64xf32>)
    return
  }
  gpu.module @k {
    gpu.func @oob(%out: memref<16xf32>) kernel {
      %t = gpu.thread_id x
      %f = arith.constant 1.0 : f32
      memref.store %f, %out[%t] : memref<16xf32>
      gpu.return
    }
    gpu.func @divergent_shuffle(%out: memref<32xf32>) kernel {
      %t = gpu.thread_id x
      %c16 = arith.constant 16 : index
      %f = arith.constant 1.0 : f32
      %lt = arith.cmpi ult, %t, %c16 : index
      scf.if %lt {
        %one = arith.constant 1 : i32
        %w = arith.constant 32 : i32
        %s, %v = gpu.shuffle xor %f, %one, %w : f32
        memref.store %s, %out[%t] : memref<32xf32>
      }
      gpu.return
    }
    // Two warps: each thread stages one element through shared memory with
    // cp.async and reads its neighbour's (in the other warp) after a barrier.
    gpu.func @copy(%in: memref<64xf32>, %out: memref<64xf32>)
        workgroup(%sm : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %tok = nvgpu.device_async_copy %in[%t], %sm[%t], 1 : memref<64xf32> to memref<64xf32, #gpu.address_space<workgroup>>
      %g = nvgpu.device_async_create_group %tok
      nvgpu.device_async_wait %g {numGroups = 0 : i32}
      gpu.barrier
      %c63 = arith.constant 63 : index
      %o = arith.subi %c63, %t : index
      %v = memref.load %sm[%o] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %v, %out[%t] : memref<64xf32>
      gpu.return
    }
    gpu.func @copy_no_wait(%in: memref<64xf32>, %out: memref<64xf32>)
        workgroup(%sm : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %tok = nvgpu.device_async_copy %in[%t], %sm[%t], 1 : memref<64xf32> to memref<64xf32, #gpu.address_space<workgroup>>
      %g = nvgpu.device_async_create_group %tok
      gpu.barrier
      %c63 = arith.constant 63 : index
      %o = arith.subi %c63, %t : index
      %v = memref.load %sm[%o] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %v, %out[%t] : memref<64xf32>
      gpu.return
    }
  }
}
