//===- kvcc-emulate.cpp - Run a GPU-dialect module on the CPU -------------===//
//
//   kvcc-emulate layer.mlir --entry=decode --out-dir=OUT a0.npy a1.npy 7 ...
//
// The input is a kvc module, lowered here exactly as `kvcc build
// --target=cuda` lowers it (the same --gpu-* options), or a module already at
// the GPU-dialect stage (a gpu.container_module).
//
// Each argument of the entry function is a .npy file (memrefs: the dtype must
// match the element type; bf16 as raw 16-bit integers) or a number (scalars).
// After the run every memref argument, outputs and caches included, is
// written to OUT/argN.npy (--out-args=I,J,... names the ones worth writing:
// a model's weights are read-only and large). See include/kvcc/Emulator/GPUEmulator.h for what
// the emulator checks.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Emulator/GPUEmulator.h"
#include "kvcc/InitAll.h"
#include "kvcc/Support/Npy.h"
#include "kvcc/Target/CUDATargetFlags.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"


using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<GPU-dialect module>"), cl::Required);
cl::list<std::string> argumentTexts(cl::Positional, cl::desc("<argument>..."));
cl::opt<std::string> entryName("entry", cl::desc("the host function to run"), cl::Required);
cl::opt<std::string> outDir("out-dir",
                            cl::desc("where every memref argument is written after the run "
                                     "(argN.npy)"));
cl::list<unsigned> outArgs("out-args", cl::CommaSeparated,
                          cl::desc("only these memref arguments (indices) are written to "
                                   "--out-dir (default: all)"));
cl::opt<bool> bankReport("bank-report",
                         cl::desc("print each kernel's shared-memory requests, phases and "
                                  "wavefronts by access kind (the bank-conflict model)"));
cl::opt<int> smCount("sm-count",
                     cl::desc("what kvcc_cuda_multiprocessor_count answers (default 132)"),
                     cl::init(132));

/// The .npy dtypes a memref element type accepts (bf16: raw bits).
std::vector<std::string> dtypesFor(Type t) {
  if (t.isF16())
    return {"<f2"};
  if (t.isBF16())
    return {"<u2", "<i2"};
  if (t.isF32())
    return {"<f4"};
  if (t.isF64())
    return {"<f8"};
  if (t.isIndex() || t.isInteger(64))
    return {"<i8", "<u8"};
  if (t.isInteger(32))
    return {"<i4", "<u4"};
  if (t.isInteger(16))
    return {"<i2", "<u2"};
  if (t.isInteger(8))
    return {"|i1", "|u1"};
  if (t.isInteger(1))
    return {"|b1", "|u1"};
  return {};
}

int fail(const std::string &message) {
  llvm::errs() << "kvcc-emulate: " << message << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  kvcc::registerCUDALoweringFlags();
  cl::ParseCommandLineOptions(argc, argv, "kvcc GPU emulator: runs GPU-dialect kernels on the CPU\n");
  if (smCount < 1)
    return fail("--sm-count must be >= 1, got " + std::to_string(smCount));

  DialectRegistry registry;
  kvcc::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sources;
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputPath);
  if (!buffer)
    return fail(inputPath + ": cannot read: " + buffer.getError().message());
  sources.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sources, &context);
  if (!module)
    return fail(inputPath + ": not a valid MLIR module");

  if (!(*module)->hasAttr("gpu.container_module")) {
    kvcc::CUDATargetOptions cuda;
    if (std::string problem = kvcc::applyCUDALoweringFlags(cuda); !problem.empty())
      return fail(problem);
    if (failed(kvcc::lowerToGPUDialect(*module, cuda)))
      return fail(inputPath + ": lowering to the GPU dialect failed");
  }

  auto entry = module->lookupSymbol<func::FuncOp>(entryName);
  if (!entry || entry.isExternal())
    return fail(inputPath + ": no function @" + entryName + " with a body");
  FunctionType type = entry.getFunctionType();
  if (argumentTexts.size() != type.getNumInputs())
    return fail("@" + entryName + " takes " + std::to_string(type.getNumInputs()) +
                " arguments, " + std::to_string(argumentTexts.size()) + " given");

  std::vector<kvcc::NpyArray> arrays(argumentTexts.size());
  std::vector<kvcc::emu::HostArgument> arguments(argumentTexts.size());
  for (size_t i = 0; i < argumentTexts.size(); ++i) {
    const std::string &text = argumentTexts[i];
    Type t = type.getInput(i);
    std::string what = "argument " + std::to_string(i) + " (" + text + ")";
    if (auto mt = dyn_cast<MemRefType>(t)) {
      kvcc::Expected<kvcc::NpyArray> array = kvcc::readNpy(text);
      if (!array)
        return fail(array.message());
      std::vector<std::string> accepted = dtypesFor(mt.getElementType());
      if (std::find(accepted.begin(), accepted.end(), array->dtype) == accepted.end()) {
        std::string element;
        llvm::raw_string_ostream os(element);
        os << mt.getElementType();
        return fail(what + ": dtype '" + array->dtype + "' does not match element type " + element);
      }
      arrays[i] = array.take();
      arguments[i].isMemRef = true;
      arguments[i].data = arrays[i].data.data();
      arguments[i].bytes = arrays[i].data.size();
      arguments[i].shape = arrays[i].shape;
      continue;
    }
    llvm::StringRef s(text);
    if (t.isIntOrIndex()) {
      long long v;
      if (s.getAsInteger(10, v))
        return fail(what + ": expected an integer");
      arguments[i].intValue = v;
    } else if (isa<FloatType>(t)) {
      double v;
      if (s.getAsDouble(v))
        return fail(what + ": expected a number");
      arguments[i].floatValue = v;
    } else {
      return fail(what + ": argument type not supported");
    }
  }

  for (unsigned i : outArgs)
    if (i >= argumentTexts.size())
      return fail("--out-args: there is no argument " + std::to_string(i));

  kvcc::emu::EmulatorOptions options;
  options.multiprocessorCount = smCount;
  options.countSharedAccesses = bankReport;
  kvcc::emu::EmulationStats stats;
  if (kvcc::Status s = kvcc::emu::runEntry(*module, entryName, arguments, options, &stats);
      !s.ok())
    return fail(s.message());

  if (!outDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
      return fail("cannot create '" + outDir + "': " + ec.message());
    for (size_t i = 0; i < arrays.size(); ++i) {
      if (!arguments[i].isMemRef ||
          (!outArgs.empty() && llvm::find(outArgs, i) == outArgs.end()))
        continue;
      std::string path = outDir + "/arg" + std::to_string(i) + ".npy";
      if (kvcc::Status s = kvcc::writeNpy(path, arrays[i]); !s.ok())
        return fail(s.message());
    }
  }
  llvm::outs() << "emulated @" << entryName << ": " << stats.launches << " launches, "
               << stats.blocks << " CTAs\n";
  if (bankReport)
    for (const auto &[kernel, kinds] : stats.sharedAccesses)
      for (const auto &[kind, a] : kinds)
        llvm::outs() << "shared memory @" << kernel << " " << kind << ": " << a.requests
                     << " requests, " << a.phases << " phases, " << a.wavefronts
                     << " wavefronts ("
                     << llvm::format("%.2f", a.phases ? double(a.wavefronts) / a.phases : 0.0)
                     << " a phase)\n";
  return 0;
}
