//===- Passes.td - kvc conversion passes -------------------*- tablegen -*-===//
#ifndef KVCC_CONVERSION_PASSES_TD
#define KVCC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def KVCLowerToCPU : Pass<"kvc-lower-to-cpu", "mlir::ModuleOp"> {
  let summary = "lower kvc ops to the tiled online-softmax algorithm on loops and vectors";
  let description = [{
    The CPU mapping of kvcc's one attention algorithm. `!kvc.paged_cache`
    becomes a buffer of pages, `memref<pages x 2 x block_size x kv_heads x
    head_dim>` (token-major; `head_major` swaps the middle two dims), with keys
    at index 0 and values at index 1 of the second dim.

    `kvc.paged_attention` and `kvc.attention` become a call to one private
    function per attention shape (a model's layers share it): a parallel loop
    over (KV head, block of 8 query rows) of the ragged batch, where a row is
    a (token, query head of the GQA group) pair, as in the GPU prefill kernel.
    A block visits the keys between its rows' causal and sliding-window
    bounds in tiles of 16 (each key read through the block table, any page
    size), computes a tile's scores as one 8-lane vector per key (no
    reduction over head_dim; a block of at most G < 8 rows, a decode token's,
    takes dot products along head_dim instead, and its P·V updates only
    those rows), masks them per element, and keeps an online softmax in base
    2 per lane; O += P·V runs in register blocks. One split
    whatever `num_splits` says. Math is in f32 whatever the storage type.
    `kvc.append`, `kvc.gather` and `kvc.rope` become loops of vector loads and
    stores; `kvc.rms_norm` becomes linalg on tensors (residual add, sum of
    squares, scale).

    Tensor operands are read through `bufferization.to_buffer` and results are
    fresh buffers wrapped by `bufferization.to_tensor`, so one-shot
    bufferization finishes the job.
  }];
  let dependentDialects = [
    "mlir::linalg::LinalgDialect",
    "mlir::tensor::TensorDialect",
    "mlir::arith::ArithDialect",
    "mlir::bufferization::BufferizationDialect",
    "mlir::func::FuncDialect",
    "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect",
    "mlir::vector::VectorDialect"
  ];
}

def KVCResultsToOutParams : Pass<"kvc-results-to-out-params", "mlir::ModuleOp"> {
  let summary = "turn memref results of public functions into caller-owned out-parameters";
  let description = [{
    After bufferization, a public function that returns a memref hands the
    caller a buffer the callee allocated. kvcc's runtime owns every buffer
    (ModelABI.h), so each memref result becomes a trailing argument of the same
    type. A result that is a buffer allocated in the entry block (and returned
    once, from the only return) is replaced by that argument, so the function
    writes the caller's buffer directly; any other result is copied into it
    with `memref.copy` before the return. Unlike upstream's
    `buffer-results-to-out-params`, dynamic shapes are allowed: the caller knows
    the output sizes from the inputs (logits are [sequences, vocab]). Run it
    before buffer deallocation, which then frees the callee's buffer.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def KVCMatmulToBLAS : Pass<"kvc-matmul-to-blas", "mlir::ModuleOp"> {
  let summary = "call a BLAS GEMM for f32, f16 and bf16 linalg.matmul on buffers";
  let description = [{
    The projections of a model (QKV, O, MLP, LM head) are GEMMs (prefill) or
    GEMVs (decode) whose speed decides end-to-end throughput; an optimized BLAS
    beats naive loops by orders of magnitude. Every `linalg.matmul` on
    memrefs with the `C += A·B` or `C += A·Bᵀ` indexing maps becomes a call to
    `<prefix>_nn` / `<prefix>_nt` (C interface, fully dynamic strided
    memrefs). When C was just filled with zeros (a `linalg.fill` of the same
    buffer with only effect-free ops in between) the fill is dropped and the
    callee is `<prefix>_nn_beta0` / `<prefix>_nt_beta0`, `C = A·B`, which never
    reads C. Element types: f32 throughout (no suffix); f16 or bf16 A and B
    with a C of the same type (`_f16`, `_bf16`) or an f32 C (`_f16_out_f32`,
    `_bf16_out_f32`), accumulated in f32 either way. The CPU target links `kvcc_matmul_*` from its shim library over
    CBLAS; the CUDA target calls `kvcc_cuda_matmul_*`, which
    libkvcc_cuda_runtime.so implements over cuBLAS (opened with dlopen) on
    device buffers. Other matmuls are left to the loop lowering.
  }];
  let options = [
    Option<"calleePrefix", "callee-prefix", "std::string", "\"kvcc_matmul\"",
           "name prefix of the called functions (kvcc_matmul: CPU BLAS shim, "
           "kvcc_cuda_matmul: cuBLAS in the CUDA runtime)">
  ];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect"];
}

def KVCLowerToGPU : Pass<"kvc-lower-to-gpu", "mlir::ModuleOp"> {
  let summary = "lower kvc ops to GPU kernels (gpu dialect launches)";
  let description = [{
    The GPU mapping of kvcc's attention algorithm: the row tiles, masks and
    page-table walk of `kvc-lower-to-cpu`, with threads and tensor cores, and
    split-KV for decode.

    `kvc.paged_attention` becomes a flash-decoding kernel: one CTA of 4 warps
    per (split, KV head, sequence); the query heads of the GQA group share every
    K/V row the CTA reads; a key row of `head_dim` elements is read by
    `head_dim / 8` lanes with 16-byte loads (`vector.load` of 8 elements), the
    dot product finished with warp shuffles; each lane group keeps an online
    softmax state, merged across lanes by shuffles and across warps through
    shared memory. The grid's x is the call's split count: `num_splits`, or
    with `max_splits` a plan made by the host code of each call (the most
    splits up to `max_splits` that keep the call's CTAs within two per SM,
    the SM count from the runtime's `kvcc_cuda_multiprocessor_count`); a call
    with more query rows than sequences runs one split. With more than one
    the CTAs write partial (max, sum, accumulator) triples and a second
    kernel combines them by log-sum-exp.
    `kvc.append` and `kvc.rope` become one CTA per token; `kvc.rms_norm` one
    CTA per row (residual add, f32 sum of squares reduced by shuffles and
    shared memory, scale: one kernel).

    Buffers stay host-side `memref.alloc`s here; `kvc-host-buffers-to-gpu`
    turns them into device allocations after bufferization.

    The tensor-core prefill kernel's shared-memory tiles (views of the
    launch's dynamic shared memory) are XOR-swizzled in 16-byte chunks (chunk
    c of row r at c ^ (r mod 8)) so that ldmatrix and cp.async are free of
    bank conflicts; the ldmatrix addresses are byte offsets whose k-steps are
    one XOR with a constant. `swizzle-shared-memory=0` keeps the plain
    row-major tiles (for A/B benchmarks).

    `prefill-rows` and `prefill-keys` choose the prefill kernel's tile. 128
    rows give each warp two 16-row MMA tiles that share every K and V
    fragment it loads (half the shared-memory reads per MMA, twice the
    accumulator registers), and a tile above 48 KiB moves to dynamic shared
    memory, which the runtime opts the kernel into. The default (0, 0) is
    the fastest tile measured on an H100: 128 rows by 32 keys at head_dim
    128 (64 KiB), 64 by 64 at head_dim 64 (48 KiB).

    `prefill-lazy-rescale` keeps each row's running max (and skips the
    rescale of its O accumulators, half of head_dim multiplies a lane and
    row tile per K/V tile) until some row of the warp sees its max grow by
    more than 8 in log2 units (FlashAttention-4's rule); softmax weights are
    then at most 2^8, and the normalized output is the same. Off until it is
    measured.

    `prefill-wgmma` (off; sm_90a only) runs the prefill kernel on Hopper's
    warpgroup MMA: a warpgroup per 64 query rows, S = Q·Kᵀ with both
    operands read by shared-memory descriptor and P·V with P from registers
    (FlashAttention-3's SS and RS forms), the tiles in the 128-byte-swizzle
    layout wgmma reads. The default tile is 128 rows (two warpgroups, 256
    threads) by 128 keys; keys must be 64 or 128. With
    `prefill-wgmma-overlap` (on) each K/V tile's iteration issues S = Q·Kᵀ
    and then the previous tile's P·V, waits for S only, and computes the
    softmax while P·V runs (FlashAttention-3's intra-warpgroup pipelining;
    three V stages in shared memory and a word a thread, 194 KiB at the
    default tile).

    `decode-tensor-cores` (on) serves the one-token sequences of GQA groups
    of 5 or more query heads (f16/bf16 caches, head_dim 64 or 128) with a
    second instance of the tensor-core kernel, `kvc_decode_mma_attention`:
    64 rows a CTA, the group's heads as rows of one 16-row MMA tile, K/V
    tiles double-buffered by cp.async (FlashInfer's decode on tensor cores).
    The flash-decoding kernel keeps 16 registers a head in every lane, so
    such groups leave its 128-register budget. It splits the keys as the
    flash-decoding kernel does (a CTA per split, KV head and sequence, each
    a share of the keys in whole 64-key tiles; a call of several splits
    writes partials for the same combine kernel), so such groups have no
    flash-decoding kernel.
  }];
  let options = [
    Option<"swizzleSharedMemory", "swizzle-shared-memory", "bool", "true",
           "XOR-swizzle the prefill kernel's shared-memory tiles">,
    Option<"prefillRows", "prefill-rows", "int64_t", "0",
           "query rows per CTA of the prefill kernel: 64 or 128 (two 16-row "
           "MMA tiles a warp), or 0 (128 at head_dim 128, 64 at 64)">,
    Option<"prefillKeys", "prefill-keys", "int64_t", "0",
           "keys per K/V tile of the prefill kernel: 16, 32, 64, 128, or 0 "
           "(64 at head_dim 64, 32 at 128)">,
    Option<"prefillLazyRescale", "prefill-lazy-rescale", "bool", "false",
           "rescale the prefill kernel's O accumulators only when a row's max "
           "grew by more than 2^8 (a warp-uniform branch; an A/B option)">,
    Option<"prefillWarpgroupMma", "prefill-wgmma", "bool", "false",
           "run the prefill kernel on Hopper's warpgroup MMA (wgmma.mma_async; "
           "the module must be compiled for sm_90a)">,
    Option<"prefillWarpgroupOverlap", "prefill-wgmma-overlap", "bool", "true",
           "with prefill-wgmma: run each K/V tile's P·V beside the next tile's "
           "softmax (=false for A/B runs)">,
    Option<"decodeTensorCores", "decode-tensor-cores", "bool", "true",
           "decode the one-token sequences of GQA groups of 5 or more heads "
           "on tensor cores (split or not)">
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect",
    "mlir::bufferization::BufferizationDialect",
    "mlir::func::FuncDialect",
    "mlir::gpu::GPUDialect",
    "mlir::LLVM::LLVMDialect",
    "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect",
    "mlir::NVVM::NVVMDialect",
    "mlir::nvgpu::NVGPUDialect",
    "mlir::scf::SCFDialect",
    "mlir::vector::VectorDialect"
  ];
}

def KVCDedupGPUKernels : Pass<"kvc-dedup-gpu-kernels", "mlir::ModuleOp"> {
  let summary = "merge identical outlined GPU kernels";
  let description = [{
    Each layer of a model lowers to the same kernels, and outlining gives each
    launch its own copy. Kernels whose bodies and signatures print identically
    (names aside) are merged: launches are redirected to the first one and the
    copies (and `gpu.module`s left empty) are erased, so NVVM, ptxas and the
    fat binary see each kernel once. Run after `gpu-kernel-outlining`.
  }];
}

def KVCGPUKernelHints : Pass<"kvc-gpu-kernel-hints", "mlir::ModuleOp"> {
  let summary = "ptxas hints for the outlined kvc kernels";
  let description = [{
    Outlining gives every kernel launched with a constant block size a
    `.maxntid` bound, and with it ptxas aims at the occupancy that bound
    allows: for the flash-decoding attention (128 threads) it caps registers
    at 96 for f16 queries at head_dim 64 and spills on sm_90. Its
    `gpu.func`s (`kvc_paged_attention`, and the `_N` copies outlining names)
    get `nvvm.maxnreg = 128` (`.maxnreg 128`): 4 CTAs an SM, the occupancy
    the kernel has at head_dim 128 with ptxas's own choice (121-123
    registers), and room for the 106 the f16 head_dim-64 kernel needs without
    spilling (`.minnctapersm 1` would also stop the spill but let head_dim 128
    grow to 146 registers, 3 CTAs an SM). Kernels of GQA groups above 4
    heads (read from the `warps x group x D` merge buffer) get
    `nvvm.maxnreg = 255` instead: every lane keeps 16 values per head, and
    8 heads need 222-234 registers (under the cap they spilled and ran at a
    fifth of the bandwidth). Run after `gpu-kernel-outlining` (`gpu.launch`
    attributes do not survive it).
  }];
}

def KVCHostBuffersToGPU : Pass<"kvc-host-buffers-to-gpu", "mlir::ModuleOp"> {
  let summary = "device allocations, frees and copies for the host code of a GPU artifact";
  let description = [{
    On the CUDA target every buffer an entry point sees is device memory
    (ModelABI.h), so after bufferization the host code's `memref.alloc` and
    `memref.copy` become `gpu.alloc` and `gpu.memcpy` (async forms joined by
    `gpu.wait`, which is what `gpu-to-llvm` lowers), and every allocation is
    freed with `gpu.dealloc` at function exit (host code is straight-line and
    no buffer escapes after `kvc-results-to-out-params`; upstream's
    ownership-based deallocation cannot analyze `gpu.launch_func`). Ops inside
    kernels are untouched.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::gpu::GPUDialect",
                           "mlir::memref::MemRefDialect"];
}

#endif // KVCC_CONVERSION_PASSES_TD
