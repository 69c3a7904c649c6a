// wgmma in the GPU emulator (wgmma.test): D = A·B (both by shared-memory
// descriptor, K-major, 128-byte swizzle), then D += A2·V (A2 in registers, V
// N-major by descriptor), chained without a wait, for one warpgroup; the
// operand images and A2's fragments come from wgmma_check.py. Written by
// wgmma_gen.py (do not edit by hand); the variants break one rule each.
module attributes {gpu.container_module} {
  func.func @wgmma(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@wgmma blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @no_fence(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@no_fence blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @race(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@race blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @early(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@early blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @late_a(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@late_a blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @no_proxy_fence(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@no_proxy_fence blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @copy_race(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@copy_race blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  func.func @unpublished_copy(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %smem = arith.constant 15360 : i32
    gpu.launch_func @k::@unpublished_copy blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args(%img : memref<14336xi8>, %afrag : memref<128x4xi32>, %out : memref<128x16xf32>)
    return
  }
  gpu.module @k {
    gpu.func @wgmma(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @no_fence(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @race(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      %one = arith.constant 1 : i8
      %cB = arith.constant 8192 : index
      %hit = arith.addi %pad, %cB : index
      %old = memref.load %buf[%hit] : memref<?xi8, #gpu.address_space<workgroup>>
      %new = arith.addi %old, %one : i8
      memref.store %new, %buf[%hit] : memref<?xi8, #gpu.address_space<workgroup>>
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @early(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.wait.group.sync.aligned 0
      %ci0 = arith.constant 0 : index
      memref.store %x0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %x1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %x2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %x3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %x4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %x5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %x6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %x7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %x8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %x9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %x10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %x11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %x12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %x13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %x14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %x15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @late_a(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @no_proxy_fence(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @copy_race(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      %c16 = arith.constant 16 : index
      %cB = arith.constant 8192 : index
      %lo = arith.muli %tid, %c16 : index
      %src = arith.addi %lo, %cB : index
      %dst = arith.addi %src, %pad : index
      %cp = nvgpu.device_async_copy %img[%src], %buf[%dst], 16 : memref<14336xi8> to memref<?xi8, #gpu.address_space<workgroup>>
      %cpg = nvgpu.device_async_create_group %cp
      nvvm.wgmma.wait.group.sync.aligned 0
      nvgpu.device_async_wait %cpg {numGroups = 0 : i32}
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
    gpu.func @unpublished_copy(%img: memref<14336xi8>, %afrag: memref<128x4xi32>, %out: memref<128x16xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c128 = arith.constant 128 : index
      %c1024 = arith.constant 1024 : index
      %cimg = arith.constant 14336 : index
      %tid = gpu.thread_id x
      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index
      %rem = arith.remui %p, %c1024 : index
      %pad1 = arith.subi %c1024, %rem : index
      %pad = arith.remui %pad1, %c1024 : index
      scf.for %i = %tid to %cimg step %c128 {
        %v = memref.load %img[%i] : memref<14336xi8>
        %j = arith.addi %i, %pad : index
        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>
      }
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      gpu.barrier
      %c16 = arith.constant 16 : index
      %cB = arith.constant 8192 : index
      %lo = arith.muli %tid, %c16 : index
      %src = arith.addi %lo, %cB : index
      %dst = arith.addi %src, %pad : index
      %cp = nvgpu.device_async_copy %img[%src], %buf[%dst], 16 : memref<14336xi8> to memref<?xi8, #gpu.address_space<workgroup>>
      %cpg = nvgpu.device_async_create_group %cp
      nvgpu.device_async_wait %cpg {numGroups = 0 : i32}
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      %base = arith.addi %p, %pad : index
      %base64 = arith.index_cast %base : index to i64
      %c4 = arith.constant 4 : i64
      %enc = arith.shrui %base64, %c4 : i64
      %kbits = arith.constant 4611686293305360384 : i64
      %vbits = arith.constant 4611686293313683456 : i64
      %oB = arith.constant 512 : i64
      %oV = arith.constant 768 : i64
      %descA = arith.addi %enc, %kbits : i64
      %eB = arith.addi %enc, %oB : i64
      %descB = arith.addi %eB, %kbits : i64
      %eV = arith.addi %enc, %oV : i64
      %descV = arith.addi %eV, %vbits : i64
      %ck0 = arith.constant 0 : index
      %a0 = memref.load %afrag[%tid, %ck0] : memref<128x4xi32>
      %ck1 = arith.constant 1 : index
      %a1 = memref.load %afrag[%tid, %ck1] : memref<128x4xi32>
      %ck2 = arith.constant 2 : index
      %a2 = memref.load %afrag[%tid, %ck2] : memref<128x4xi32>
      %ck3 = arith.constant 3 : index
      %a3 = memref.load %afrag[%tid, %ck3] : memref<128x4xi32>
      %u = llvm.mlir.undef : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %d = nvvm.wgmma.mma_async %descA, %descB, %u, <m = 64, n = 32, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d4 = llvm.extractvalue %d[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d5 = llvm.extractvalue %d[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d6 = llvm.extractvalue %d[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d7 = llvm.extractvalue %d[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d8 = llvm.extractvalue %d[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d9 = llvm.extractvalue %d[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d10 = llvm.extractvalue %d[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d11 = llvm.extractvalue %d[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d12 = llvm.extractvalue %d[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d13 = llvm.extractvalue %d[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d14 = llvm.extractvalue %d[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d15 = llvm.extractvalue %d[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %r = llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15}, {$16, $17, $18, $19}, $20, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,r,r,r,r,l,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %a0, %a1, %a2, %a3, %descV, %d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7, %d8, %d9, %d10, %d11, %d12, %d13, %d14, %d15 : (i32, i32, i32, i32, i64, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %x0 = llvm.extractvalue %r[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x1 = llvm.extractvalue %r[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x2 = llvm.extractvalue %r[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x3 = llvm.extractvalue %r[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x4 = llvm.extractvalue %r[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x5 = llvm.extractvalue %r[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x6 = llvm.extractvalue %r[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x7 = llvm.extractvalue %r[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x8 = llvm.extractvalue %r[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x9 = llvm.extractvalue %r[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x10 = llvm.extractvalue %r[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x11 = llvm.extractvalue %r[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x12 = llvm.extractvalue %r[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x13 = llvm.extractvalue %r[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x14 = llvm.extractvalue %r[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %x15 = llvm.extractvalue %r[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %f = llvm.inline_asm has_side_effects "// wgmma accumulators settled", "=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15" %x0, %x1, %x2, %x3, %x4, %x5, %x6, %x7, %x8, %x9, %x10, %x11, %x12, %x13, %x14, %x15 : (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y0 = llvm.extractvalue %f[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y1 = llvm.extractvalue %f[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y2 = llvm.extractvalue %f[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y3 = llvm.extractvalue %f[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y4 = llvm.extractvalue %f[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y5 = llvm.extractvalue %f[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y6 = llvm.extractvalue %f[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y7 = llvm.extractvalue %f[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y8 = llvm.extractvalue %f[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y9 = llvm.extractvalue %f[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y10 = llvm.extractvalue %f[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y11 = llvm.extractvalue %f[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y12 = llvm.extractvalue %f[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y13 = llvm.extractvalue %f[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y14 = llvm.extractvalue %f[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %y15 = llvm.extractvalue %f[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %ci0 = arith.constant 0 : index
      memref.store %y0, %out[%tid, %ci0] : memref<128x16xf32>
      %ci1 = arith.constant 1 : index
      memref.store %y1, %out[%tid, %ci1] : memref<128x16xf32>
      %ci2 = arith.constant 2 : index
      memref.store %y2, %out[%tid, %ci2] : memref<128x16xf32>
      %ci3 = arith.constant 3 : index
      memref.store %y3, %out[%tid, %ci3] : memref<128x16xf32>
      %ci4 = arith.constant 4 : index
      memref.store %y4, %out[%tid, %ci4] : memref<128x16xf32>
      %ci5 = arith.constant 5 : index
      memref.store %y5, %out[%tid, %ci5] : memref<128x16xf32>
      %ci6 = arith.constant 6 : index
      memref.store %y6, %out[%tid, %ci6] : memref<128x16xf32>
      %ci7 = arith.constant 7 : index
      memref.store %y7, %out[%tid, %ci7] : memref<128x16xf32>
      %ci8 = arith.constant 8 : index
      memref.store %y8, %out[%tid, %ci8] : memref<128x16xf32>
      %ci9 = arith.constant 9 : index
      memref.store %y9, %out[%tid, %ci9] : memref<128x16xf32>
      %ci10 = arith.constant 10 : index
      memref.store %y10, %out[%tid, %ci10] : memref<128x16xf32>
      %ci11 = arith.constant 11 : index
      memref.store %y11, %out[%tid, %ci11] : memref<128x16xf32>
      %ci12 = arith.constant 12 : index
      memref.store %y12, %out[%tid, %ci12] : memref<128x16xf32>
      %ci13 = arith.constant 13 : index
      memref.store %y13, %out[%tid, %ci13] : memref<128x16xf32>
      %ci14 = arith.constant 14 : index
      memref.store %y14, %out[%tid, %ci14] : memref<128x16xf32>
      %ci15 = arith.constant 15 : index
      memref.store %y15, %out[%tid, %ci15] : memref<128x16xf32>
      gpu.return
    }
  }
}
