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
  // The host-side GEMMs of a model (kvc-matmul-to-blas): C = A·Bᵀ, then
  // C += A·B through a transposed view of the same B, and one whose operand
  // shapes disagree.
  func.func private @kvcc_cuda_matmul_nt_beta0(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
  func.func private @kvcc_cuda_matmul_nn(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
  func.func private @kvcc_cuda_matmul_nt_f16(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) attributes {llvm.emit_c_interface}
  func.func @gemm(%a: memref<2x3xf32>, %b: memref<4x3xf32>, %bt: memref<3x4xf32>, %c: memref<2x4xf32>) {
    %a0 = memref.cast %a : memref<2x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b0 = memref.cast %b : memref<4x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %bt0 = memref.cast %bt : memref<3x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %c0 = memref.cast %c : memref<2x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    call @kvcc_cuda_matmul_nt_beta0(%a0, %b0, %c0) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    call @kvcc_cuda_matmul_nn(%a0, %bt0, %c0) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    return
  }
  func.func @gemm_shapes(%a: memref<2x3xf32>, %b: memref<4x3xf32>, %c: memref<2x4xf32>) {
    %a0 = memref.cast %a : memref<2x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b0 = memref.cast %b : memref<4x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %c0 = memref.cast %c : memref<2x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    call @kvcc_cuda_matmul_nn(%a0, %b0, %c0) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    return
  }
  func.func @gemm_types(%a: memref<2x3xf32>, %b: memref<4x3xf32>, %c: memref<2x4xf32>) {
    %a0 = memref.cast %a : memref<2x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b0 = memref.cast %b : memref<4x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %c0 = memref.cast %c : memref<2x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    call @kvcc_cuda_matmul_nt_f16(%a0, %b0, %c0) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    return
  }
  // Affine maps on the host: floordiv, ceildiv and mod round as the affine
  // dialect says (toward -inf, toward +inf, never negative), for -7 and 2.
  func.func @affine(%out: memref<3xi64>, %x: index, %y: index) {
    %q = affine.apply affine_map<()[s0, s1] -> (s0 floordiv s1)>()[%x, %y]
    %r = affine.apply affine_map<()[s0, s1] -> (s0 ceildiv s1)>()[%x, %y]
    %m = affine.min affine_map<()[s0, s1] -> (s0 mod s1, 5)>()[%x, %y]
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %qi = arith.index_cast %q : index to i64
    %ri = arith.index_cast %r : index to i64
    %mi = arith.index_cast %m : index to i64
    memref.store %qi, %out[%c0] : memref<3xi64>
    memref.store %ri, %out[%c1] : memref<3xi64>
    memref.store %mi, %out[%c2] : memref<3xi64>
    return
  }
  // Conversions round once: f64 -> f16 and i64 -> f32 straight to the
  // nearest, not through f32 / f64 (which lands on a tie and rounds to even).
  func.func @convert(%h: memref<1xf16>, %f: memref<1xf32>, %x: f64, %n: i64) {
    %c0 = arith.constant 0 : index
    %xh = arith.truncf %x : f64 to f16
    %nf = arith.sitofp %n : i64 to f32
    memref.store %xh, %h[%c0] : memref<1xf16>
    memref.store %nf, %f[%c0] : memref<1xf32>
    return
  }
  // An i32 induction variable stepped past 2^31 - 1.
  func.func @for_overflow(%lb: i32) {
    %ub = arith.constant 2147483647 : i32
    %step = arith.constant 5 : i32
    scf.for %i = %lb to %ub step %step : i32 {
    }
    return
  }
  func.func @recurse(%n: i32) {
    call @recurse(%n) : (i32) -> ()
    return
  }
  func.func @vote(%out: memref<32xi32>, %split: i32) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    gpu.launch_func @k::@vote blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%out : memref<32xi32>, %split : i32)
    return
  }
  // A GEMM operand view of a hostile size (from an argument).
  func.func @gemm_hostile(%a: memref<2x3xf32>, %b: memref<4x3xf32>, %c: memref<2x4xf32>, %m: index) {
    %a0 = memref.reinterpret_cast %a to offset: [0], sizes: [%m, 3], strides: [3, 1] : memref<2x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b0 = memref.cast %b : memref<4x3xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %c0 = memref.reinterpret_cast %c to offset: [0], sizes: [%m, 4], strides: [4, 1] : memref<2x4xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    call @kvcc_cuda_matmul_nt_beta0(%a0, %b0, %c0) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>) -> ()
    return
  }
  // An unsigned i8 loop over 200..250 (past the signed range) counts its trips.
  func.func @for_unsigned(%out: memref<1xi32>) {
    %lb = arith.constant 200 : i8
    %ub = arith.constant 250 : i8
    %s = arith.constant 10 : i8
    %c0 = arith.constant 0 : index
    %zero = arith.constant 0 : i32
    %one = arith.constant 1 : i32
    %n = scf.for unsigned %i = %lb to %ub step %s iter_args(%acc = %zero) -> (i32) : i8 {
      %next = arith.addi %acc, %one : i32
      scf.yield %next : i32
    }
    memref.store %n, %out[%c0] : memref<1xi32>
    return
  }
  func.func @banks(%stride: index) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    gpu.launch_func @k::@banks blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%stride : index)
    return
  }
  func.func @banks_wide() {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    gpu.launch_func @k::@banks_wide blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
    return
  }
  gpu.module @k {
    // The bank model: lane l stores a word at l·STRIDE (4-byte phases of 32
    // lanes), then loads 8 bytes at 2·l (two phases of 16 lanes, contiguous).
    gpu.func @banks(%stride: index)
        workgroup(%sm : memref<1024xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %f = arith.constant 1.0 : f32
      %i = arith.muli %t, %stride : index
      memref.store %f, %sm[%i] : memref<1024xf32, #gpu.address_space<workgroup>>
      %c2 = arith.constant 2 : index
      %j = arith.muli %t, %c2 : index
      %v = vector.load %sm[%j] : memref<1024xf32, #gpu.address_space<workgroup>>, vector<2xf32>
      gpu.return
    }
    // 32 bytes a lane at 32·l: two 16-byte instructions, each of 4 phases
    // whose 8 lanes hit banks 0, 8, 16, 24 twice.
    gpu.func @banks_wide()
        workgroup(%sm : memref<1024xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c8 = arith.constant 8 : index
      %i = arith.muli %t, %c8 : index
      %v = vector.load %sm[%i] : memref<1024xf32, #gpu.address_space<workgroup>>, vector<8xf32>
      gpu.return
    }
    gpu.func @oob(%out: memref<16xf32>) kernel {
      %t = gpu.thread_id x
      %f = arith.constant 1.0 : f32
      memref.store %f, %out[%t] : memref<16xf32>
      gpu.return
    }
    // vote.sync.ballot of odd lanes; lanes below SPLIT name only the low half
    // as members (a disagreement unless SPLIT is 0).
    gpu.func @vote(%out: memref<32xi32>, %split: i32) kernel {
      %t = gpu.thread_id x
      %ti = arith.index_cast %t : index to i32
      %full = arith.constant -1 : i32
      %low = arith.constant 65535 : i32
      %one = arith.constant 1 : i32
      %below = arith.cmpi ult, %ti, %split : i32
      %mask = arith.select %below, %low, %full : i32
      %bit = arith.andi %ti, %one : i32
      %odd = arith.cmpi eq, %bit, %one : i32
      %b = nvvm.vote.sync ballot %mask, %odd -> i32
      memref.store %b, %out[%t] : memref<32xi32>
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
