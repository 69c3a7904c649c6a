// Host code for the mgpu ABI test: what MLIR 22 emits for a gpu.launch_func
// with async allocations, copies, a memset and a PTX (format=isa) binary.
// MgpuHostVadd.s is generated from this file (x86-64; regenerate after an
// MLIR upgrade and check that the mgpu* declarations did not change):
//
//   mlir-opt MgpuHostVadd.mlir --convert-scf-to-cf --convert-gpu-to-nvvm \
//     --nvvm-attach-target="chip=sm_80" --gpu-module-to-binary="format=isa" \
//     --gpu-to-llvm --reconcile-unrealized-casts \
//   | mlir-translate --mlir-to-llvmir | llc -O2 -relocation-model=pic -o MgpuHostVadd.s
//
// (tools from /usr/lib/llvm-22/bin). The module is loaded by a global
// constructor of the library (mgpuModuleLoadJIT) and unloaded by its
// destructor; _mlir_ciface_kvcc_test_vadd(a, b, c) computes c = a + b.
module attributes {gpu.container_module} {
  gpu.module @kvcc_test_kernels {
    gpu.func @vadd_memref(%a: memref<?xf32>, %b: memref<?xf32>, %c: memref<?xf32>, %n: index) kernel {
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %tid = gpu.thread_id x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %in = arith.cmpi ult, %i, %n : index
      scf.if %in {
        %x = memref.load %a[%i] : memref<?xf32>
        %y = memref.load %b[%i] : memref<?xf32>
        %z = arith.addf %x, %y : f32
        memref.store %z, %c[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
  func.func @kvcc_test_vadd(%ha: memref<?xf32>, %hb: memref<?xf32>, %hc: memref<?xf32>) attributes {llvm.emit_c_interface} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %c127 = arith.constant 127 : index
    %nan = arith.constant 0x7FC00000 : f32
    %n = memref.dim %ha, %c0 : memref<?xf32>
    %t0 = gpu.wait async
    %a, %t1 = gpu.alloc async [%t0] (%n) : memref<?xf32>
    %b, %t2 = gpu.alloc async [%t1] (%n) : memref<?xf32>
    %c, %t3 = gpu.alloc async [%t2] (%n) : memref<?xf32>
    %t4 = gpu.memcpy async [%t3] %a, %ha : memref<?xf32>, memref<?xf32>
    %t5 = gpu.memcpy async [%t4] %b, %hb : memref<?xf32>, memref<?xf32>
    %t6 = gpu.memset async [%t5] %c, %nan : memref<?xf32>, f32
    %np = arith.addi %n, %c127 : index
    %grid = arith.divui %np, %c128 : index
    %t7 = gpu.launch_func async [%t6] @kvcc_test_kernels::@vadd_memref blocks in (%grid, %c1, %c1) threads in (%c128, %c1, %c1) args(%a : memref<?xf32>, %b : memref<?xf32>, %c : memref<?xf32>, %n : index)
    %t8 = gpu.memcpy async [%t7] %hc, %c : memref<?xf32>, memref<?xf32>
    %t9 = gpu.dealloc async [%t8] %a : memref<?xf32>
    %t10 = gpu.dealloc async [%t9] %b : memref<?xf32>
    %t11 = gpu.dealloc async [%t10] %c : memref<?xf32>
    gpu.wait [%t11]
    return
  }
}
