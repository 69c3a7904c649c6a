//===- CUDATarget.cpp - kvc IR to kernels and a CUDA host library ----------===//
#include "kvcc/Target/CUDATarget.h"

#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Support/CacheDir.h"
#include "kvcc/Target/CPUTarget.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cstdlib>
#include <string>
#include <vector>

using namespace mlir;

namespace {

bool isCompleteToolkit(const std::string &root) {
  return llvm::sys::fs::can_execute(root + "/bin/ptxas") &&
         llvm::sys::fs::can_execute(root + "/bin/fatbinary") &&
         llvm::sys::fs::exists(root + "/nvvm/libdevice/libdevice.10.bc");
}

/// MLIR's NVVM target links libdevice (expf, exp2f, ...) from the toolkit that
/// CUDA_ROOT / CUDA_HOME / CUDA_PATH names (without one, kernels would
/// reference unresolved __nv_* functions), but runs the first ptxas and
/// fatbinary on PATH. One toolkit serves all three: the first variable set,
/// which must be complete; else the first complete one among the ptxas on
/// PATH's, /usr/local/cuda and the one scripts/fetch-cuda-tools.sh unpacks
/// from NVIDIA's PyPI wheels (that script searches in the same order). It
/// becomes CUDA_ROOT and its bin/ goes first on PATH, so an older ptxas
/// elsewhere on PATH cannot judge PTX it does not know.
LogicalResult locateCUDAToolkit(ModuleOp module) {
  // Not module.emitError(): its note would print the whole module.
  auto error = [&]() { return emitError(module.getLoc()) << "kvcc: "; };
  std::string root;
  for (const char *var : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"}) {
    const char *value = std::getenv(var);
    if (!value || !*value)
      continue;
    if (!isCompleteToolkit(value))
      return error() << var << "=" << value
                     << " is not a complete CUDA toolkit (bin/ptxas, "
                        "bin/fatbinary, nvvm/libdevice/libdevice.10.bc); fix "
                        "or unset it";
    root = value;
    break;
  }
  const std::string fetched = kvcc::fetchedCudaToolkit();
  if (root.empty()) {
    std::vector<std::string> candidates;
    if (auto ptxas = llvm::sys::findProgramByName("ptxas")) {
      llvm::SmallString<256> real;
      if (!llvm::sys::fs::real_path(*ptxas, real))
        candidates.push_back(
            llvm::sys::path::parent_path(llvm::sys::path::parent_path(real)).str());
    }
    candidates.push_back("/usr/local/cuda");
    candidates.push_back(fetched);
    for (const std::string &candidate : candidates)
      if (!candidate.empty() && isCompleteToolkit(candidate)) {
        root = candidate;
        break;
      }
  }
  if (root.empty())
    return error() << "no CUDA toolkit found (bin/ptxas, bin/fatbinary and "
                      "nvvm/libdevice/libdevice.10.bc) beside a ptxas on PATH, "
                      "in /usr/local/cuda or in "
                   << fetched
                   << "; run scripts/fetch-cuda-tools.sh (NVIDIA's PyPI "
                      "wheels) or set CUDA_HOME";
  setenv("CUDA_ROOT", root.c_str(), 1); // the variable MLIR reads first
  const char *path = std::getenv("PATH");
  std::string bin = root + "/bin";
  if (!path || !llvm::StringRef(path).starts_with(bin + ":"))
    setenv("PATH", (bin + ":" + (path ? path : "")).c_str(), 1);
  return success();
}

/// Shared-memory addresses are 32 bits in hardware, but the NVPTX backend
/// keeps pointers to the shared (and local, const) address spaces in 64-bit
/// registers unless told otherwise, as clang's -fcuda-short-ptr and Triton
/// do. The 64-bit swizzled ldmatrix and cp.async addresses cost the prefill
/// kernel its last free registers (8 bytes of spills at 128x32 once the K/V
/// copies were unrolled). The option is the backend's own (cl::opt), read
/// when the NVPTX target machine is created.
void useShortSharedPointers() {
  auto &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("nvptx-short-ptr");
  if (it == options.end())
    return; // an LLVM without the option: 64-bit pointers, correct but wider
  static_cast<llvm::cl::opt<bool> *>(it->second)->setValue(true);
}

LogicalResult buildPipeline(OpPassManager &pm, const kvcc::CUDATargetOptions &o,
                            const std::string &format) {
  useShortSharedPointers();
  return kvcc::parseModulePipeline(kvcc::cudaPipelineText(o, format), pm);
}

} // namespace

std::string kvcc::checkGPUArch(const std::string &gpuArch) {
  StringRef arch = gpuArch;
  unsigned version = 0;
  if (!arch.consume_front("sm_") || arch.consumeInteger(10, version) ||
      (!arch.empty() && arch != "a") || version < 80)
    return "--gpu-arch must be sm_80 or newer (sm_80, sm_86, sm_89, sm_90, "
           "sm_90a), got '" +
           gpuArch + "'";
  return "";
}

std::string kvcc::parsePrefillTile(const std::string &text, CUDATargetOptions &options) {
  if (text.empty())
    return "";
  StringRef rest = text;
  PrefillTile tile;
  unsigned long long rows = 0, keys = 0;
  if (rest.consumeInteger(10, rows) || !rest.consume_front("x") ||
      rest.consumeInteger(10, keys) || !rest.empty())
    return "--gpu-prefill-tile must be ROWSxKEYS (e.g. 64x32, 128x64; 0: by head_dim), got '" +
           text + "'";
  tile.rows = static_cast<int64_t>(rows);
  tile.keys = static_cast<int64_t>(keys);
  if (std::string problem = tile.check(); !problem.empty())
    return "--gpu-prefill-tile " + text + ": " + problem;
  options.prefillRows = tile.rows;
  options.prefillKeys = tile.keys;
  return "";
}

std::string kvcc::cudaGPUDialectPipelineText(const CUDATargetOptions &o) {
  // kvc kernels are outlined before bufferization: ownership-based
  // deallocation cannot see through gpu.launch, and host buffers are freed at
  // function exit by kvc-host-buffers-to-gpu instead. The rest of a model
  // (embedding, norms, residuals, SwiGLU: linalg ops on buffers) becomes
  // parallel loops tiled 1 x 128 and mapped to CTAs (a row, or 128 columns of
  // it, per CTA); GEMMs call cuBLAS through the CUDA runtime. The query and
  // key ropes and the cache append become one kernel first, and attention of
  // a dynamic batch plans its KV splits per call (from the batch and the
  // device's SM count).
  return "builtin.module("
         "func.func(kvc-fuse-rope-append,kvc-plan-split-kv{max-splits=" +
         std::to_string(o.maxDecodeSplits) + "}),"
         "kvc-lower-to-gpu{swizzle-shared-memory=" + std::to_string(int(o.swizzleSharedMemory)) +
         " prefill-rows=" + std::to_string(o.prefillRows) +
         " prefill-keys=" + std::to_string(o.prefillKeys) +
         " prefill-lazy-rescale=" + std::to_string(int(o.prefillLazyRescale)) +
         " prefill-wgmma=" + std::to_string(int(o.prefillWarpgroupMma)) +
         " prefill-wgmma-overlap=" + std::to_string(int(o.prefillWarpgroupOverlap)) +
         " decode-tensor-cores=" + std::to_string(int(o.decodeTensorCores)) + "},"
         "gpu-kernel-outlining,"
         "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map},"
         "kvc-results-to-out-params,"
         "kvc-matmul-to-blas{callee-prefix=kvcc_cuda_matmul},"
         "canonicalize,cse,"
         "convert-linalg-to-parallel-loops,"
         "func.func(scf-parallel-loop-tiling{parallel-loop-tile-sizes=1,128 "
         "no-min-max-bounds=true},"
         "gpu-map-parallel-loops,convert-parallel-loops-to-gpu),"
         "gpu-kernel-outlining,"
         "kvc-dedup-gpu-kernels,"
         "kvc-gpu-kernel-hints,"
         "canonicalize,cse,"
         "kvc-host-buffers-to-gpu)";
}

std::string kvcc::cudaPipelineText(const CUDATargetOptions &o,
                                   const std::string &format) {
  // PTX 8.0 is the oldest ISA that covers sm_90; drivers JIT it for newer
  // chips.
  std::string gpuDialect = cudaGPUDialectPipelineText(o);
  gpuDialect.pop_back(); // the closing parenthesis of builtin.module(
  return gpuDialect +
         ",gpu-lower-to-nvvm-pipeline{cubin-chip=" + o.gpuArch +
         " cubin-features=+ptx80 cubin-format=" + format + " opt-level=3})";
}

LogicalResult kvcc::lowerToGPUDialect(ModuleOp module,
                                      const CUDATargetOptions &options) {
  return runLoweringPipeline(
      module,
      [&](OpPassManager &pm) {
        return parseModulePipeline(cudaGPUDialectPipelineText(options), pm);
      },
      options.irDumpDir);
}

LogicalResult kvcc::emitPTX(ModuleOp module, const CUDATargetOptions &options,
                            std::map<std::string, std::string> &ptx) {
  if (failed(locateCUDAToolkit(module)) ||
      failed(runLoweringPipeline(
          module,
          [&](OpPassManager &pm) { return buildPipeline(pm, options, "isa"); },
          options.irDumpDir)))
    return failure();
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects())
      ptx[binary.getName().str()] =
          cast<gpu::ObjectAttr>(attr).getObject().getValue().str();
  return success();
}

LogicalResult kvcc::compileToCUDASharedLibrary(ModuleOp module,
                                               const std::string &outputPath,
                                               const CUDATargetOptions &options) {
  if (failed(locateCUDAToolkit(module)) ||
      failed(runLoweringPipeline(
          module,
          [&](OpPassManager &pm) { return buildPipeline(pm, options, "fatbin"); },
          options.irDumpDir)))
    return failure();
  // The mgpu* symbols stay undefined: libkvcc_cuda_runtime.so, loaded by the
  // runtime before the artifact, provides them.
  LinkOptions link;
  link.libraries = {"m"};
  return linkSharedLibrary(module, outputPath, link);
}
