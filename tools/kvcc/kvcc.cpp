//===- kvcc.cpp - the kvcc compiler driver ---------------------------------===//
//
//   kvcc compile MODEL --target=cpu|cuda [--gpu-arch=sm_80|sm_90] -o DIR
//                [--block-size=N] [--dtype=f32|f16|bf16]
//                [--kv-cache-dtype=f32|f16|bf16]
//                [--emit=kvc|llvm|gpu|ptx]
//                [--dump-ir-dir=DIR] [--cpu=NAME]
//   kvcc build FILE.mlir --target=cpu|cuda [--gpu-arch=sm_80|sm_90] -o OUT.so
//              [--emit=llvm|gpu|ptx] [--dump-ir-dir=DIR]
//
// `build` compiles a module of kvc ops on tensors (a kernel test, a benchmark)
// with the same back end: every public function NAME becomes
// `void kvcc_NAME(void **args)` (ModelABI.h's calling convention, results as
// trailing out-parameters).
//
// MODEL is a GGUF file or a Hugging Face directory. DIR receives model.so and
// manifest.json (include/kvcc/Runtime/ModelABI.h); nothing is left behind on
// failure.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelIRBuilder.h"
#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/InitAll.h"
#include "kvcc/Runtime/ModelABI.h"
#include "kvcc/Support/Json.h"
#include "kvcc/Target/CPUTarget.h"
#include "kvcc/Target/CUDATarget.h"
#include "kvcc/Target/CUDATargetFlags.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/SourceMgr.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace llvm;

namespace {

cl::opt<std::string> command(cl::Positional,
                             cl::desc("<command: compile | build>"),
                             cl::Required);
cl::opt<std::string> modelPath(cl::Positional,
                               cl::desc("<model.gguf | hf-dir | file.mlir>"),
                               cl::Required);
cl::opt<std::string> outputDir("o",
                               cl::desc("artifact directory (compile) or "
                                        "shared library (build)"),
                               cl::value_desc("PATH"));
cl::opt<std::string> target("target", cl::desc("cpu or cuda"), cl::init("cpu"));
cl::opt<std::string> gpuArch("gpu-arch", cl::desc("CUDA target: sm_80, sm_90, ..."),
                             cl::init("sm_90"));
cl::opt<int64_t> blockSize("block-size", cl::desc("KV-cache page size (>= 1)"),
                           cl::init(16));
cl::opt<std::string> modelDType(
    "dtype",
    cl::desc("element type of the weights and activations: f32, f16 or bf16 "
             "(half the weight memory and traffic, GEMMs on tensor cores; "
             "norms, softmax and GEMM accumulation stay f32, logits are f32)"),
    cl::init("f32"));
cl::opt<std::string> kvCacheDType(
    "kv-cache-dtype",
    cl::desc("KV-cache element type: f32, f16 or bf16 (default: --dtype; "
             "keys and values of another type are rounded once when "
             "appended, attention computes in f32 either way)"),
    cl::init(""));
cl::opt<std::string> emit("emit",
                          cl::desc("print a stage instead of building: kvc "
                                   "(model IR), llvm (LLVM dialect), gpu (GPU "
                                   "dialect kernels), ptx"),
                          cl::init(""));
cl::opt<std::string> dumpIRDir("dump-ir-dir",
                               cl::desc("write the IR after every pass here"),
                               cl::init(""));
cl::opt<std::string> cpuName("cpu",
                             cl::desc("LLVM CPU of a cpu artifact (default "
                                      "x86-64-v3, portable; native: this host)"),
                             cl::init(""));

int fail(const Twine &message) {
  errs() << "kvcc: " << message << "\n";
  return 1;
}

/// The manifest of ModelABI.h.
std::string manifest(const kvcc::ModelSpec &spec,
                     const std::vector<kvcc::WeightSlot> &layout,
                     int64_t totalWeights, kvcc::abi::DType dtype,
                     kvcc::abi::DType cacheDType) {
  using kvcc::json::Value;
  std::vector<Value> weights;
  for (const kvcc::WeightSlot &w : layout) {
    std::vector<Value> shape;
    for (int64_t d : w.shape)
      shape.push_back(Value::number(double(d)));
    weights.push_back(Value::object({{"name", Value::string(w.name)},
                                     {"shape", Value::array(shape)},
                                     {"offset", Value::number(double(w.offset))}}));
  }
  Value cache = Value::object(
      {{"layers", Value::number(double(spec.numLayers))},
       {"block_size", Value::number(double(blockSize))},
       {"kv_heads", Value::number(double(spec.numKVHeads))},
       {"head_dim", Value::number(double(spec.headDim))},
       {"dtype", Value::string(kvcc::abi::dtypeName(cacheDType))},
       {"layout", Value::string("token_major")}});
  Value root = Value::object({{"format", Value::string("kvcc-artifact")},
                              {"version", Value::number(kvcc::abi::kManifestVersion)},
                              {"target", Value::string(target)},
                              // The CPU or GPU the code was compiled for.
                              {target == "cuda" ? "gpu_arch" : "cpu",
                               Value::string(target == "cuda" ? gpuArch.getValue()
                                             : cpuName.empty() ? "x86-64-v3"
                                                               : cpuName.getValue())},
                              {"entry", Value::string("kvcc_step")},
                              {"model", spec.toJsonValue()},
                              {"cache", cache},
                              {"weights", Value::array(weights)},
                              {"weights_size", Value::number(double(totalWeights))},
                              {"weights_dtype", Value::string(kvcc::abi::dtypeName(dtype))}});
  return kvcc::json::write(root, 2) + "\n";
}

/// The CUDA target's options from the command line, set and checked once by
/// main before anything is compiled.
kvcc::CUDATargetOptions cudaTarget;

const kvcc::CUDATargetOptions &cudaOptions() { return cudaTarget; }

/// Prints the --emit stage (validated by the caller): llvm (the CPU target's
/// LLVM dialect), gpu (the CUDA target's GPU dialect IR) or ptx (one PTX file
/// per kernel module into -o DIR, or all of them to stdout).
int printStage(mlir::ModuleOp module) {
  if (emit == "llvm") {
    mlir::PassManager pm(module.getContext());
    if (failed(kvcc::buildCPUPipeline(pm)) || failed(pm.run(module)))
      return fail("lowering failed");
    module->print(outs());
    return 0;
  }
  kvcc::CUDATargetOptions cuda = cudaOptions();
  if (emit == "gpu") {
    if (failed(kvcc::lowerToGPUDialect(module, cuda)))
      return fail("lowering to the GPU dialect failed");
    module->print(outs());
    return 0;
  }
  std::map<std::string, std::string> ptx;
  if (failed(kvcc::emitPTX(module, cuda, ptx)))
    return fail("PTX emission failed");
  for (auto &[name, text] : ptx) {
    if (outputDir.empty()) {
      outs() << "// kernel module @" << name << "\n" << text << "\n";
      continue;
    }
    if (auto ec = sys::fs::create_directories(outputDir))
      return fail("cannot create '" + outputDir + "': " + ec.message());
    SmallString<256> path(outputDir);
    sys::path::append(path, name + ".ptx");
    std::error_code ec;
    raw_fd_ostream os(path, ec);
    if (ec)
      return fail("cannot write '" + path + "': " + ec.message());
    os << text;
  }
  return 0;
}

/// `kvcc build FILE.mlir -o OUT.so`.
int buildModule() {
  mlir::MLIRContext context;
  kvcc::loadAllDialects(context);
  std::string error;
  auto file = mlir::openInputFile(modelPath, &error);
  if (!file)
    return fail(error);
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sources, &context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
  if (!module)
    return fail("cannot parse " + modelPath);
  if (target == "cuda") {
    if (emit == "gpu" || emit == "ptx")
      return printStage(*module);
    if (!emit.empty())
      return fail("kvcc build --target=cuda: --emit must be gpu or ptx, got '" +
                  emit + "'");
    if (outputDir.empty())
      return fail("missing -o OUT.so");
    if (failed(kvcc::compileToCUDASharedLibrary(*module, outputDir, cudaOptions())))
      return fail("compiling " + modelPath + " for " + gpuArch + " failed");
    return 0;
  }
  if (emit == "llvm")
    return printStage(*module);
  if (!emit.empty())
    return fail("kvcc build --target=cpu: --emit must be llvm, got '" + emit + "'");
  if (outputDir.empty())
    return fail("missing -o OUT.so");
  kvcc::CPUTargetOptions targetOptions;
  targetOptions.cpu = cpuName;
  targetOptions.irDumpDir = dumpIRDir;
  if (failed(kvcc::compileToSharedLibrary(*module, outputDir, targetOptions)))
    return fail("compiling " + modelPath + " failed");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  kvcc::registerCUDALoweringFlags();
  cl::ParseCommandLineOptions(argc, argv, "kvcc: an MLIR compiler for cached attention\n");
  if (command != "compile" && command != "build")
    return fail("unknown command '" + command + "' (expected: compile, build)");
  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  if (target == "cuda") {
    if (std::string error = kvcc::checkGPUArch(gpuArch); !error.empty())
      return fail(error);
    if (std::string error = kvcc::applyCUDALoweringFlags(cudaTarget); !error.empty())
      return fail(error);
    cudaTarget.gpuArch = gpuArch;
    cudaTarget.irDumpDir = dumpIRDir;
    if (cudaTarget.prefillWarpgroupMma && gpuArch != "sm_90a")
      return fail("--gpu-prefill-wgmma needs --gpu-arch=sm_90a (wgmma is Hopper's "
                  "architecture-specific feature set), got '" + gpuArch + "'");
  }
  if (command == "build")
    return buildModule();
  // The runtime's block manager accepts pages of up to 65536 tokens.
  if (blockSize < 1 || blockSize > 65536)
    return fail("--block-size must be in [1, 65536], got " + Twine(blockSize));
  kvcc::abi::DType dtype, cacheDType;
  if (!kvcc::abi::parseDType(modelDType.getValue(), dtype))
    return fail("--dtype must be f32, f16 or bf16, got '" + modelDType + "'");
  if (kvCacheDType.empty())
    cacheDType = dtype;
  else if (!kvcc::abi::parseDType(kvCacheDType.getValue(), cacheDType))
    return fail("--kv-cache-dtype must be f32, f16 or bf16, got '" + kvCacheDType + "'");
  if (emit.empty() && outputDir.empty())
    return fail("missing -o DIR (or --emit=kvc|llvm|gpu|ptx to print a stage)");
  if (!emit.empty() && emit != "kvc" &&
      emit != (target == "cuda" ? "gpu" : "llvm") &&
      !(target == "cuda" && emit == "ptx"))
    return fail("--emit must be " +
                Twine(target == "cuda" ? "kvc, gpu or ptx" : "kvc or llvm") +
                " for --target=" + target + ", got '" + emit + "'");

  auto source = kvcc::ModelSource::open(modelPath);
  if (!source)
    return fail(source.message());
  const kvcc::ModelSpec &spec = (*source)->spec();
  if (auto status = (*source)->checkWeights(); !status.ok())
    return fail(status.message());

  mlir::MLIRContext context;
  kvcc::loadAllDialects(context);
  kvcc::ModelIROptions options;
  options.blockSize = blockSize;
  options.dtype = dtype;
  options.cacheDType = cacheDType;
  auto module = kvcc::buildModelIR(context, spec, options);
  if (failed(mlir::verify(*module)))
    return fail("internal error: the model IR does not verify");
  if (emit == "kvc") {
    module->print(outs());
    return 0;
  }
  if (!emit.empty())
    return printStage(*module);

  if (auto ec = sys::fs::create_directories(outputDir))
    return fail("cannot create '" + outputDir + "': " + ec.message());
  if (!dumpIRDir.empty())
    if (auto ec = sys::fs::create_directories(dumpIRDir))
      return fail("cannot create '" + dumpIRDir + "': " + ec.message());
  SmallString<256> soPath(outputDir), manifestPath(outputDir);
  sys::path::append(soPath, "model.so");
  sys::path::append(manifestPath, "manifest.json");
  // A stale artifact must not survive a failed compile.
  sys::fs::remove(soPath);
  sys::fs::remove(manifestPath);

  kvcc::CPUTargetOptions targetOptions;
  targetOptions.cpu = cpuName;
  targetOptions.irDumpDir = dumpIRDir;
  if (failed(target == "cuda"
                 ? kvcc::compileToCUDASharedLibrary(*module, soPath.str().str(), cudaOptions())
                 : kvcc::compileToSharedLibrary(*module, soPath.str().str(),
                                                targetOptions))) {
    sys::fs::remove(soPath);
    return fail("compiling " + modelPath + " for " +
                (target == "cuda" ? gpuArch.getValue() : std::string("cpu")) +
                " failed");
  }

  int64_t total = 0;
  auto layout = kvcc::weightLayout(spec, total);
  std::string tmp = (manifestPath + ".tmp").str();
  {
    std::error_code ec;
    raw_fd_ostream os(tmp, ec);
    if (ec) {
      sys::fs::remove(soPath);
      return fail("cannot write '" + tmp + "': " + ec.message());
    }
    os << manifest(spec, layout, total, dtype, cacheDType);
  }
  if (auto ec = sys::fs::rename(tmp, manifestPath)) {
    sys::fs::remove(soPath);
    return fail("cannot write '" + manifestPath + "': " + ec.message());
  }
  outs() << "kvcc: wrote " << soPath << " and " << manifestPath << " ("
         << spec.arch << ", " << spec.numLayers << " layers, block size "
         << blockSize << ", " << (target == "cuda" ? gpuArch.getValue() : target.getValue())
         << ", " << kvcc::abi::dtypeName(dtype) << " weights, "
         << kvcc::abi::dtypeName(cacheDType) << " cache)\n";
  return 0;
}
