//===- SharedLibrary.cpp - LLVM dialect to an optimized model.so -----------===//
#include "kvcc/Target/CPUTarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

namespace {

std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const std::string &cpuName, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  // An artifact must run on other machines of the same ISA (DESIGN.md §1):
  // the default is x86-64-v3 (AVX2, FMA), "native" opts into the host's CPU.
  bool native = cpuName == "native";
  std::string cpu = native ? llvm::sys::getHostCPUName().str()
                           : (cpuName.empty() ? std::string("x86-64-v3") : cpuName);
  std::string features;
  if (native) {
    llvm::SubtargetFeatures subtarget;
    for (auto &feature : llvm::sys::getHostCPUFeatures())
      subtarget.AddFeature(feature.first(), feature.second);
    features = subtarget.getString();
  }
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, cpu, features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
}

/// -O3 with LLVM's new pass manager (vectorizers, unrolling, inlining).
void optimize(llvm::Module &module, llvm::TargetMachine &machine) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(module, mam);
}

LogicalResult fail(ModuleOp module, const llvm::Twine &message) {
  return emitError(module.getLoc()) << message;
}

} // namespace

LogicalResult kvcc::runLoweringPipeline(
    ModuleOp module, const std::function<LogicalResult(OpPassManager &)> &build,
    const std::string &irDumpDir) {
  MLIRContext *context = module.getContext();
  // Every public function is an entry point with a C interface.
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn.isPublic() && !fn.isExternal())
      fn->setAttr("llvm.emit_c_interface", UnitAttr::get(context));

  PassManager pm(context);
  if (failed(build(pm)))
    return fail(module, "kvcc: the pass pipeline failed to parse");
  if (!irDumpDir.empty()) {
    // One file per pass, in order: IR printing needs a single-threaded context.
    context->disableMultithreading();
    pm.enableIRPrintingToFileTree([](Pass *, Operation *) { return false; },
                                  [](Pass *, Operation *) { return true; },
                                  /*printModuleScope=*/true,
                                  /*printAfterOnlyOnChange=*/false,
                                  /*printAfterOnlyOnFailure=*/false, irDumpDir);
  }
  return pm.run(module);
}

LogicalResult kvcc::compileToSharedLibrary(ModuleOp module,
                                           const std::string &outputPath,
                                           const CPUTargetOptions &options) {
  if (failed(runLoweringPipeline(module, buildCPUPipeline, options.irDumpDir)))
    return failure();
  LinkOptions link;
  link.cpu = options.cpu;
  link.inputs = options.linkInputs;
  if (link.inputs.empty())
    link.inputs.push_back(KVCC_CPU_SHIMS_LIBRARY);
  link.libraries = options.libraries;
  // OpenMP runs the attention's parallel loops; the LLVM 22 runtime, found
  // at run time through the rpath.
  link.inputs.push_back(KVCC_OPENMP_LIBRARY);
  link.flags.push_back(std::string("-Wl,-rpath,") +
                       llvm::sys::path::parent_path(KVCC_OPENMP_LIBRARY).str());
  return linkSharedLibrary(module, outputPath, link);
}

LogicalResult kvcc::linkSharedLibrary(ModuleOp module,
                                      const std::string &outputPath,
                                      const LinkOptions &options) {
  MLIRContext *context = module.getContext();
  if (failed(addPackedEntryPoints(module)))
    return failure();

  // Builtin, LLVM, and the GPU translations that embed kernel binaries and
  // emit the mgpu* launch calls of gpu.launch_func.
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  context->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "kvcc_model");
  if (!llvmModule)
    return fail(module, "kvcc: translation to LLVM IR failed");

  std::string error;
  auto machine = createTargetMachine(options.cpu, error);
  if (!machine)
    return fail(module, "kvcc: no LLVM target for this host: " + error);
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  optimize(*llvmModule, *machine);

  // Object file next to the output, then link; rename only on success.
  std::string objectPath = outputPath + ".o.tmp";
  std::string tmpLibrary = outputPath + ".tmp";
  auto cleanup = [&] {
    llvm::sys::fs::remove(objectPath);
    llvm::sys::fs::remove(tmpLibrary);
  };
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec)
      return fail(module, "kvcc: cannot write '" + objectPath + "': " + ec.message());
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, out, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      cleanup();
      return fail(module, "kvcc: the target cannot emit object files");
    }
    codegen.run(*llvmModule);
  }

  auto linker = llvm::sys::findProgramByName("cc");
  if (!linker) {
    cleanup();
    return fail(module, "kvcc: no C compiler driver 'cc' on PATH to link " + outputPath);
  }
  // -Bsymbolic: calls inside model.so bind to its own functions, never to a
  // same-named symbol of the process (glibc exports `step`, for one).
  SmallVector<std::string> args = {*linker, "-shared", "-Wl,-Bsymbolic", "-o",
                                   tmpLibrary, objectPath};
  for (const std::string &input : options.inputs)
    args.push_back(input);
  for (const std::string &flag : options.flags)
    args.push_back(flag);
  for (const std::string &lib : options.libraries)
    args.push_back("-l" + lib);
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*linker, argRefs, std::nullopt, {}, 0, 0,
                                     &linkError);
  if (rc != 0) {
    cleanup();
    return fail(module, "kvcc: linking " + outputPath + " failed (exit " +
                            llvm::Twine(rc) + ") " + linkError);
  }
  if (auto ec = llvm::sys::fs::rename(tmpLibrary, outputPath)) {
    cleanup();
    return fail(module, "kvcc: cannot write '" + outputPath + "': " + ec.message());
  }
  llvm::sys::fs::remove(objectPath);
  return success();
}
