//===- GPUEmulator.h - Run GPU-dialect kernels on the CPU -------*- C++ -*-===//
//
// Runs a host function of the GPU-dialect stage (`kvcc build --target=cuda
// --emit=gpu`: the IR that becomes PTX, kernels and host code) on the CPU, so
// the tensor-core kernels can be checked against the float64 references on a
// machine without a GPU. It interprets the IR:
//
//  - a warp is 32 lanes in lockstep with an active mask (scf.if / scf.for /
//    scf.while diverge and reconverge per lane); the warps of a CTA run as
//    threads that meet at gpu.barrier / nvvm.barrier (popc/and/or reductions);
//  - nvgpu.mma.sync, nvvm.mma.sync, nvgpu.ldmatrix and gpu.shuffle exchange
//    data across the warp's lanes with the fragment layouts of the PTX ISA;
//  - nvgpu.device_async_copy completes only at the device_async_wait that
//    retires its group (the latest time PTX allows), so a missing wait reads
//    stale shared memory;
//  - the host code's calls into the CUDA runtime are modelled: the SM count
//    the split planner asks for (EmulatorOptions) and the cuBLAS GEMMs
//    (a float64-summed reference with the runtime's operand checks), so a
//    whole model's step runs, not only its attention kernels;
//  - shared-memory accesses are counted in the bank model of the hardware
//    (SharedAccessStats), so a swizzle that leaves conflicts shows without a
//    profiler;
//  - every access is bounds-checked against its allocation, ldmatrix and
//    cp.async addresses are checked for alignment, and fresh gpu.alloc and
//    shared memory hold all-ones bytes (NaN in every float type) so a read of
//    unwritten data shows.
//
// It is a correctness tool, not a performance model: nothing here is timed.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_EMULATOR_GPUEMULATOR_H
#define KVCC_EMULATOR_GPUEMULATOR_H

#include "kvcc/Support/Error.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kvcc::emu {

struct EmulatorOptions {
  /// What kvcc_cuda_multiprocessor_count answers (the split planner's input):
  /// 132, an H100 SXM.
  int32_t multiprocessorCount = 132;
  /// Count shared-memory traffic in the bank model (EmulationStats::
  /// sharedAccesses); off, the accesses cost no bookkeeping.
  bool countSharedAccesses = false;
};

/// One argument of the entry function: a memref's dense row-major data (owned
/// by the caller and updated in place: outputs and caches are written back),
/// or a scalar.
struct HostArgument {
  bool isMemRef = false;
  char *data = nullptr;
  size_t bytes = 0;
  std::vector<int64_t> shape;
  int64_t intValue = 0;   ///< integer and index scalars
  double floatValue = 0;  ///< float scalars
};

/// The shared-memory traffic of one kind of access (ldmatrix, cp.async,
/// load, store) in one kernel, in the bank model of NVIDIA's GPUs: 32 banks
/// of 4-byte words; a warp's request is served in phases of 128 bytes of
/// lanes (32 lanes of 4-byte accesses, 16 of 8-byte, 8 of 16-byte; an
/// ldmatrix matrix's 8 row addresses), and a phase takes as many wavefronts
/// as the most distinct words any one bank holds among its addresses (the
/// same word is broadcast). wavefronts / phases is the conflict degree: 1
/// when conflict-free, 8 for 8 rows of 16 bytes in one bank group.
struct SharedAccessStats {
  uint64_t requests = 0;   ///< warp instructions
  uint64_t phases = 0;     ///< the wavefronts a conflict-free request takes
  uint64_t wavefronts = 0; ///< the wavefronts it took
};

struct EmulationStats {
  uint64_t launches = 0; ///< gpu.launch_func executed
  uint64_t blocks = 0;   ///< CTAs run
  /// Kernel name -> access kind -> traffic.
  std::map<std::string, std::map<std::string, SharedAccessStats>> sharedAccesses;
};

/// Runs func.func ENTRY of MODULE. Errors name the kernel, the CTA, the warp
/// and lane, and the operation at fault.
Status runEntry(mlir::ModuleOp module, llvm::StringRef entry,
                std::vector<HostArgument> &arguments, const EmulatorOptions &options,
                EmulationStats *stats = nullptr);

/// Bytes of one element of a memref of TYPE (i1 is a byte), 0 if unsupported.
unsigned elementBytes(mlir::Type type);

} // namespace kvcc::emu

#endif // KVCC_EMULATOR_GPUEMULATOR_H
