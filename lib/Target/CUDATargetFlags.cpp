//===- CUDATargetFlags.cpp - The --gpu-* lowering flags -------------------===//
#include "kvcc/Target/CUDATargetFlags.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ManagedStatic.h"

using namespace llvm;

namespace {

/// Constructed by registerCUDALoweringFlags, so only the tools that call it
/// have the flags.
struct LoweringFlags {
  cl::opt<bool> swizzle{"gpu-swizzle-shared-memory",
                        cl::desc("XOR-swizzle the prefill kernel's shared-memory "
                                 "tiles (=false only to measure what it buys)"),
                        cl::init(true), cl::Hidden};
  cl::opt<std::string> prefillTile{
      "gpu-prefill-tile",
      cl::desc("the tensor-core prefill kernel's tile, ROWSxKEYS: query rows a CTA "
               "(64, or 128 = two MMA tiles a warp) by keys a K/V tile (16-128); 0: by "
               "head_dim; default 64x64 at head_dim 64, 128x32 at 128"),
      cl::init("")};
  cl::opt<bool> prefillLazyRescale{
      "gpu-prefill-lazy-rescale",
      cl::desc("rescale the prefill kernel's accumulators only when a row's max grew "
               "by more than 2^8 (an A/B option until measured)"),
      cl::init(false), cl::Hidden};
  cl::opt<bool> prefillWarpgroupMma{
      "gpu-prefill-wgmma",
      cl::desc("run the prefill kernel on Hopper's warpgroup MMA (wgmma; needs "
               "--gpu-arch=sm_90a; tiles of 64 or 128 rows by 64 or 128 keys, default "
               "128x128)"),
      cl::init(false), cl::Hidden};
  cl::opt<bool> prefillWarpgroupOverlap{
      "gpu-prefill-wgmma-overlap",
      cl::desc("with --gpu-prefill-wgmma: run each K/V tile's P·V beside the next "
               "tile's softmax (=false for A/B runs)"),
      cl::init(true), cl::Hidden};
  cl::opt<bool> decodeTensorCores{
      "gpu-decode-tensor-cores",
      cl::desc("decode GQA groups of 5 or more query heads on tensor cores, split or not "
               "(=false: the flash-decoding kernel, for A/B runs)"),
      cl::init(true), cl::Hidden};
  cl::opt<int64_t> maxSplits{
      "gpu-max-splits",
      cl::desc("the most KV splits (CTAs per sequence and KV head) a decode step may "
               "use: each step picks its own from its batch and the GPU's SM count "
               "(1: never split; at most 256)"),
      cl::init(32)};
};

ManagedStatic<LoweringFlags> flags;

} // namespace

void kvcc::registerCUDALoweringFlags() { *flags; }

std::string kvcc::applyCUDALoweringFlags(CUDATargetOptions &options) {
  if (!flags.isConstructed())
    return "the --gpu-* flags were not registered";
  if (std::string error = parsePrefillTile(flags->prefillTile, options); !error.empty())
    return error;
  if (flags->maxSplits < 1 || flags->maxSplits > 256)
    return "--gpu-max-splits must be in [1, 256], got " + std::to_string(flags->maxSplits);
  options.swizzleSharedMemory = flags->swizzle;
  options.prefillLazyRescale = flags->prefillLazyRescale;
  options.prefillWarpgroupMma = flags->prefillWarpgroupMma;
  options.prefillWarpgroupOverlap = flags->prefillWarpgroupOverlap;
  options.decodeTensorCores = flags->decodeTensorCores;
  options.maxDecodeSplits = flags->maxSplits;
  return "";
}
