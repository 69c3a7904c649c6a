# Generated from MgpuHostVadd.mlir by mlir-opt | mlir-translate | llc (LLVM 22); see there.
	.file	"LLVMDialectModule"
	.text
	.globl	kvcc_test_vadd                  # -- Begin function kvcc_test_vadd
	.p2align	4
	.type	kvcc_test_vadd,@function
kvcc_test_vadd:                         # @kvcc_test_vadd
	.cfi_startproc
# %bb.0:
	pushq	%rbp
	.cfi_def_cfa_offset 16
	pushq	%r15
	.cfi_def_cfa_offset 24
	pushq	%r14
	.cfi_def_cfa_offset 32
	pushq	%r13
	.cfi_def_cfa_offset 40
	pushq	%r12
	.cfi_def_cfa_offset 48
	pushq	%rbx
	.cfi_def_cfa_offset 56
	subq	$280, %rsp                      # imm = 0x118
	.cfi_def_cfa_offset 336
	.cfi_offset %rbx, -56
	.cfi_offset %r12, -48
	.cfi_offset %r13, -40
	.cfi_offset %r14, -32
	.cfi_offset %r15, -24
	.cfi_offset %rbp, -16
	movq	%rcx, %r14
	movq	%rsi, (%rsp)                    # 8-byte Spill
	movq	352(%rsp), %r12
	callq	mgpuStreamCreate@PLT
	movq	%rax, %rbx
	leaq	(,%r14,4), %rbp
	movq	%rbp, %rdi
	movq	%rax, %rsi
	xorl	%edx, %edx
	callq	mgpuMemAlloc@PLT
	movq	%rax, %r13
	movq	%rbp, %rdi
	movq	%rbx, %rsi
	xorl	%edx, %edx
	callq	mgpuMemAlloc@PLT
	movq	%rax, %r15
	movq	%rbp, %rdi
	leaq	(,%r14,4), %rax
	movq	%rax, 8(%rsp)                   # 8-byte Spill
	movq	%rbx, %rsi
	xorl	%edx, %edx
	callq	mgpuMemAlloc@PLT
	movq	%rax, %rbp
	movq	%r13, %rdi
	movq	(%rsp), %rsi                    # 8-byte Reload
	leaq	(,%r14,4), %rdx
	movq	%rbx, %rcx
	callq	mgpuMemcpy@PLT
	shlq	$2, %r12
	movq	%r15, %rdi
	movq	336(%rsp), %rsi
	movq	%r12, %rdx
	movq	%rbx, %rcx
	callq	mgpuMemcpy@PLT
	movq	%rbp, %rdi
	movl	$2143289344, %esi               # imm = 0x7FC00000
	movq	%r14, %rdx
	movq	%rbx, %rcx
	callq	mgpuMemset32@PLT
	leaq	127(%r14), %r12
	shrq	$7, %r12
	movq	%r13, 16(%rsp)                  # 8-byte Spill
	movq	%r13, 24(%rsp)
	leaq	24(%rsp), %rax
	movq	%rax, 152(%rsp)
	leaq	32(%rsp), %rax
	movq	%r13, 32(%rsp)
	movq	%rax, 160(%rsp)
	leaq	40(%rsp), %rax
	movq	$0, 40(%rsp)
	movq	%rax, 168(%rsp)
	leaq	48(%rsp), %rax
	movq	%r14, 48(%rsp)
	movq	%rax, 176(%rsp)
	leaq	56(%rsp), %rax
	movq	$1, 56(%rsp)
	movq	%rax, 184(%rsp)
	leaq	64(%rsp), %rax
	movq	%r15, 64(%rsp)
	movq	%rax, 192(%rsp)
	leaq	72(%rsp), %rax
	movq	%r15, 72(%rsp)
	movq	%rax, 200(%rsp)
	leaq	80(%rsp), %rax
	movq	$0, 80(%rsp)
	movq	%rax, 208(%rsp)
	leaq	88(%rsp), %rax
	movq	%r14, 88(%rsp)
	movq	%rax, 216(%rsp)
	leaq	96(%rsp), %rax
	movq	$1, 96(%rsp)
	movq	%rax, 224(%rsp)
	leaq	104(%rsp), %rax
	movq	%rbp, 104(%rsp)
	movq	%rax, 232(%rsp)
	leaq	112(%rsp), %rax
	movq	%rbp, 112(%rsp)
	movq	%rax, 240(%rsp)
	leaq	120(%rsp), %rax
	movq	$0, 120(%rsp)
	movq	%rax, 248(%rsp)
	leaq	128(%rsp), %rax
	movq	%r14, 128(%rsp)
	movq	%rax, 256(%rsp)
	leaq	136(%rsp), %rax
	movq	$1, 136(%rsp)
	movq	%rax, 264(%rsp)
	leaq	144(%rsp), %rax
	movq	%r14, 144(%rsp)
	movq	%rax, 272(%rsp)
	movq	kvcc_test_kernels_module(%rip), %rdi
	leaq	.Lkvcc_test_kernels_vadd_memref_name(%rip), %rsi
	callq	mgpuModuleGetFunction@PLT
	leaq	152(%rsp), %r10
	movl	$1, %edx
	movl	$1, %ecx
	movl	$128, %r8d
	movl	$1, %r9d
	movq	%rax, %rdi
	movq	%r12, %rsi
	pushq	$16
	.cfi_adjust_cfa_offset 8
	pushq	$0
	.cfi_adjust_cfa_offset 8
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	$0
	.cfi_adjust_cfa_offset 8
	pushq	$1
	.cfi_adjust_cfa_offset 8
	callq	mgpuLaunchKernel@PLT
	addq	$48, %rsp
	.cfi_adjust_cfa_offset -48
	movq	376(%rsp), %rdi
	movq	%rbp, %rsi
	movq	8(%rsp), %rdx                   # 8-byte Reload
	movq	%rbx, %rcx
	callq	mgpuMemcpy@PLT
	movq	16(%rsp), %rdi                  # 8-byte Reload
	movq	%rbx, %rsi
	callq	mgpuMemFree@PLT
	movq	%r15, %rdi
	movq	%rbx, %rsi
	callq	mgpuMemFree@PLT
	movq	%rbp, %rdi
	movq	%rbx, %rsi
	callq	mgpuMemFree@PLT
	movq	%rbx, %rdi
	callq	mgpuStreamSynchronize@PLT
	movq	%rbx, %rdi
	callq	mgpuStreamDestroy@PLT
	addq	$280, %rsp                      # imm = 0x118
	.cfi_def_cfa_offset 56
	popq	%rbx
	.cfi_def_cfa_offset 48
	popq	%r12
	.cfi_def_cfa_offset 40
	popq	%r13
	.cfi_def_cfa_offset 32
	popq	%r14
	.cfi_def_cfa_offset 24
	popq	%r15
	.cfi_def_cfa_offset 16
	popq	%rbp
	.cfi_def_cfa_offset 8
	retq
.Lfunc_end0:
	.size	kvcc_test_vadd, .Lfunc_end0-kvcc_test_vadd
	.cfi_endproc
                                        # -- End function
	.globl	_mlir_ciface_kvcc_test_vadd     # -- Begin function _mlir_ciface_kvcc_test_vadd
	.p2align	4
	.type	_mlir_ciface_kvcc_test_vadd,@function
_mlir_ciface_kvcc_test_vadd:            # @_mlir_ciface_kvcc_test_vadd
	.cfi_startproc
# %bb.0:
	pushq	%rax
	.cfi_def_cfa_offset 16
	movq	%rdx, %r10
	movq	%rsi, %rax
	movq	32(%rdi), %r8
	movq	24(%rdi), %rcx
	movq	16(%rdi), %rdx
	movq	(%rdi), %r11
	movq	8(%rdi), %rsi
	movq	(%rax), %r9
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	movq	%r11, %rdi
	pushq	32(%r10)
	.cfi_adjust_cfa_offset 8
	pushq	24(%r10)
	.cfi_adjust_cfa_offset 8
	pushq	16(%r10)
	.cfi_adjust_cfa_offset 8
	pushq	8(%r10)
	.cfi_adjust_cfa_offset 8
	pushq	(%r10)
	.cfi_adjust_cfa_offset 8
	pushq	32(%rax)
	.cfi_adjust_cfa_offset 8
	pushq	24(%rax)
	.cfi_adjust_cfa_offset 8
	pushq	16(%rax)
	.cfi_adjust_cfa_offset 8
	pushq	8(%rax)
	.cfi_adjust_cfa_offset 8
	callq	kvcc_test_vadd@PLT
	addq	$80, %rsp
	.cfi_adjust_cfa_offset -80
	popq	%rax
	.cfi_def_cfa_offset 8
	retq
.Lfunc_end1:
	.size	_mlir_ciface_kvcc_test_vadd, .Lfunc_end1-_mlir_ciface_kvcc_test_vadd
	.cfi_endproc
                                        # -- End function
	.section	.text.startup,"ax",@progbits
	.p2align	4                               # -- Begin function kvcc_test_kernels_load
	.type	kvcc_test_kernels_load,@function
kvcc_test_kernels_load:                 # @kvcc_test_kernels_load
	.cfi_startproc
# %bb.0:                                # %entry
	pushq	%rax
	.cfi_def_cfa_offset 16
	leaq	kvcc_test_kernels_binary(%rip), %rdi
	movl	$2, %esi
	callq	mgpuModuleLoadJIT@PLT
	movq	%rax, kvcc_test_kernels_module(%rip)
	popq	%rax
	.cfi_def_cfa_offset 8
	retq
.Lfunc_end2:
	.size	kvcc_test_kernels_load, .Lfunc_end2-kvcc_test_kernels_load
	.cfi_endproc
                                        # -- End function
	.p2align	4                               # -- Begin function kvcc_test_kernels_unload
	.type	kvcc_test_kernels_unload,@function
kvcc_test_kernels_unload:               # @kvcc_test_kernels_unload
	.cfi_startproc
# %bb.0:                                # %entry
	pushq	%rax
	.cfi_def_cfa_offset 16
	movq	kvcc_test_kernels_module(%rip), %rdi
	callq	mgpuModuleUnload@PLT
	popq	%rax
	.cfi_def_cfa_offset 8
	retq
.Lfunc_end3:
	.size	kvcc_test_kernels_unload, .Lfunc_end3-kvcc_test_kernels_unload
	.cfi_endproc
                                        # -- End function
	.type	kvcc_test_kernels_binary,@object # @kvcc_test_kernels_binary
	.section	.rodata,"a",@progbits
	.p2align	3, 0x0
kvcc_test_kernels_binary:
	.asciz	"//\n// Generated by LLVM NVPTX Back-End\n//\n\n.version 7.0\n.target sm_80\n.address_size 64\n\n\t// .globl\tvadd_memref\n\n.visible .entry vadd_memref(\n\t.param .u64 .ptr .align 1 vadd_memref_param_0,\n\t.param .u64 .ptr .align 1 vadd_memref_param_1,\n\t.param .u64 vadd_memref_param_2,\n\t.param .u64 vadd_memref_param_3,\n\t.param .u64 vadd_memref_param_4,\n\t.param .u64 .ptr .align 1 vadd_memref_param_5,\n\t.param .u64 .ptr .align 1 vadd_memref_param_6,\n\t.param .u64 vadd_memref_param_7,\n\t.param .u64 vadd_memref_param_8,\n\t.param .u64 vadd_memref_param_9,\n\t.param .u64 .ptr .align 1 vadd_memref_param_10,\n\t.param .u64 .ptr .align 1 vadd_memref_param_11,\n\t.param .u64 vadd_memref_param_12,\n\t.param .u64 vadd_memref_param_13,\n\t.param .u64 vadd_memref_param_14,\n\t.param .u64 vadd_memref_param_15\n)\n{\n\t.reg .pred \t%p<2>;\n\t.reg .b32 \t%r<7>;\n\t.reg .b64 \t%rd<15>;\n\n\tld.param.b64 \t%rd4, [vadd_memref_param_11];\n\tcvta.to.global.u64 \t%rd5, %rd4;\n\tld.param.b64 \t%rd6, [vadd_memref_param_1];\n\tld.param.b64 \t%rd7, [vadd_memref_param_6];\n\tcvta.to.global.u64 \t%rd8, %rd7;\n\tcvta.to.global.u64 \t%rd9, %rd6;\n\tmov.u32 \t%r1, %ctaid.x;\n\tmov.u32 \t%r2, %ntid.x;\n\tmov.u32 \t%r3, %tid.x;\n\tcvt.u64.u32 \t%rd10, %r3;\n\tmul.wide.u32 \t%rd11, %r1, %r2;\n\tadd.s64 \t%rd12, %rd11, %rd10;\n\tld.param.b64 \t%rd13, [vadd_memref_param_15];\n\tsetp.ge.u64 \t%p1, %rd12, %rd13;\n\t@%p1 bra \t$L__BB0_2;\n\tshl.b64 \t%rd14, %rd12, 2;\n\tadd.s64 \t%rd1, %rd5, %rd14;\n\tadd.s64 \t%rd2, %rd8, %rd14;\n\tadd.s64 \t%rd3, %rd9, %rd14;\n\tld.global.b32 \t%r4, [%rd3];\n\tld.global.b32 \t%r5, [%rd2];\n\tadd.rn.f32 \t%r6, %r4, %r5;\n\tst.global.b32 \t[%rd1], %r6;\n$L__BB0_2:\n\tret;\n\n}\n"
	.size	kvcc_test_kernels_binary, 1583

	.type	kvcc_test_kernels_module,@object # @kvcc_test_kernels_module
	.local	kvcc_test_kernels_module
	.comm	kvcc_test_kernels_module,8,8
	.section	.init_array.123,"aw",@init_array
	.p2align	3, 0x0
	.quad	kvcc_test_kernels_load
	.section	.fini_array.123,"aw",@fini_array
	.p2align	3, 0x0
	.quad	kvcc_test_kernels_unload
	.type	.Lkvcc_test_kernels_vadd_memref_name,@object # @kvcc_test_kernels_vadd_memref_name
	.section	.rodata.str1.1,"aMS",@progbits,1
.Lkvcc_test_kernels_vadd_memref_name:
	.asciz	"vadd_memref"
	.size	.Lkvcc_test_kernels_vadd_memref_name, 12

	.section	".note.GNU-stack","",@progbits
