/* Runtime kernel dispatch: one binary for every x86-64 CPU.
 *
 * The kernels that use SIMD intrinsics exist once per path, in their own translation units:
 *   *_avx2.c      AVX2 + FMA + F16C; built with -mavx2 -mfma -mf16c (Makefile);
 *   *_neon.c      ARM64 NEON (baseline there): the fp32 GEMM micro-kernel;
 *   *_neondot.c   ARMv8.2 dot product (+dotprod): the int8 GEMM; the ARM64 tables take the
 *                 portable kernels for the rest;
 *   *_avx512.c    AVX-512 F/BW/VL/VNNI on top of those: the int8 GEMM (vpdpbusd) and fp32
 *                 attention with a 16-lane softmax; the AVX-512 table takes the AVX2 kernels for
 *                 everything else;
 *   *_avx512bf16.c  AVX-512 BF16 on top of that: int8 models' attention (vdpbf16ps), in the
 *                 AVX-512 table only where CPUID has AVX512_BF16 (attention_bf16_active);
 *   *_portable.c  plain C (GCC vector extensions for the GEMM micro-kernel), baseline x86-64.
 * The rest of the tree, this file included, is built for the baseline, so nothing outside those
 * units can execute an instruction the CPU lacks. Each path fills a `struct sy_kernels`
 * (kernels.h); the public kernel names (ops.h, gemm.h, gemm_micro.h, qgemm.h, attention.h) are
 * the wrappers at the end of this file, one indirect call each. Kernels are called per row or
 * per block of rows, never per element, so the indirection costs nothing measurable; inside a
 * path (GEMM driver -> micro-kernel, attention -> softmax) the calls are direct.
 *
 * The table is chosen once, by a constructor that runs before main and so before any thread:
 * SWITCHYARD_ISA=avx512|avx2|portable forces a path, unset/empty/auto takes the best the CPU supports
 * (CPUID through __builtin_cpu_supports, which also checks that the OS saves the ymm state).
 * A forced path the CPU lacks, or an unknown name, leaves the best path in place and records the
 * error; sy_isa_init() returns it, and the engine and the CLI refuse to start with it. The
 * current table is one pointer, read with relaxed atomic loads (tables are constant data);
 * sy_isa_set() switches it for tests and benchmarks.
 *
 * Adding a path (AVX-512, NEON): new *_<isa>.c units with SY_KERNELS_DECLARE(<isa>), a table
 * below, an enum value in isa.h, a CPU check in isa_cpu_has, and the Makefile flags. */
#include "tensor/isa.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SY_ISA_X86 1
#else
#define SY_ISA_X86 0
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#define SY_ISA_ARM64 1
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#else
#define SY_ISA_ARM64 0
#endif

#include "tensor/attention.h"
#include "tensor/gemm_micro.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

#define SY_KERNELS_TABLE(sfx)                                                                   \
	{                                                                                       \
		.name = #sfx, .layer_norm_f32 = layer_norm_f32_##sfx,                           \
		.softmax_f32 = softmax_f32_##sfx, .softmax_exp_f32 = softmax_exp_f32_##sfx,     \
		.gelu_erf_f32 = gelu_erf_f32_##sfx, .gelu_tanh_f32 = gelu_tanh_f32_##sfx,       \
		.silu_f32 = silu_f32_##sfx, .relu_f32 = relu_f32_##sfx,                         \
		.tanh_f32 = tanh_f32_##sfx, .exp_f32 = exp_f32_##sfx, .add_f32 = add_f32_##sfx, \
		.l2_normalize_f32 = l2_normalize_f32_##sfx, .f16_to_f32 = f16_to_f32_##sfx,     \
		.bf16_to_f32 = bf16_to_f32_##sfx, .gemm_pack_a = gemm_pack_a_##sfx,             \
		.gemm_pack_bt = gemm_pack_bt_##sfx, .gemm_micro_tile = gemm_micro_tile_##sfx,   \
		.gemm_micro_tile_rows = gemm_micro_tile_rows_##sfx,                             \
		.gemm_linear = gemm_linear_##sfx, .qgemm_linear = qgemm_linear_##sfx,           \
		.attention_ext_f32 = attention_ext_f32_##sfx,                                   \
	}

static const struct sy_kernels kernels_portable = SY_KERNELS_TABLE(portable);
#if SY_ISA_X86
static const struct sy_kernels kernels_avx2 = SY_KERNELS_TABLE(avx2);

/* The AVX2 table with the kernels AVX-512 does better. */
static struct sy_kernels kernels_avx512_make(void)
{
	struct sy_kernels k = SY_KERNELS_TABLE(avx2);
	k.name = "avx512";
	k.qgemm_linear = qgemm_linear_avx512;
	k.attention_ext_f32 = attention_ext_f32_avx512;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512bf16"))
		k.attention_ext_bf16 = attention_ext_bf16_avx512bf16;
	return k;
}
static struct sy_kernels kernels_avx512;
#endif

#if SY_ISA_ARM64
/* The portable table with the NEON GEMM, and that with the dot-product int8 GEMM too. */
static struct sy_kernels kernels_arm64_make(bool dot)
{
	struct sy_kernels k = SY_KERNELS_TABLE(portable);
	k.name = dot ? "neondot" : "neon";
	k.gemm_micro_tile = gemm_micro_tile_neon;
	k.gemm_micro_tile_rows = gemm_micro_tile_rows_neon;
	k.gemm_linear = gemm_linear_neon;
	if (dot)
		k.qgemm_linear = qgemm_linear_neondot;
	return k;
}
static struct sy_kernels kernels_neon, kernels_neondot;
#endif

static const struct sy_kernels *const tables[SY_ISA_COUNT] = {
    [SY_ISA_PORTABLE] = &kernels_portable,
#if SY_ISA_X86
    [SY_ISA_AVX2] = &kernels_avx2,         [SY_ISA_AVX512] = &kernels_avx512,
#endif
#if SY_ISA_ARM64
    [SY_ISA_NEON] = &kernels_neon,         [SY_ISA_NEONDOT] = &kernels_neondot,
#endif
};

static const char *const names[SY_ISA_COUNT] = {
    [SY_ISA_PORTABLE] = "portable", [SY_ISA_AVX2] = "avx2",       [SY_ISA_AVX512] = "avx512",
    [SY_ISA_NEON] = "neon",         [SY_ISA_NEONDOT] = "neondot",
};

/* Starts on the portable table so that a kernel called before the constructor (another
 * constructor) is still correct. */
static const struct sy_kernels *current = &kernels_portable;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char init_error[200];

static inline const struct sy_kernels *K(void)
{
	return __atomic_load_n(&current, __ATOMIC_RELAXED);
}

static bool isa_cpu_has(enum sy_isa isa)
{
	switch (isa) {
	case SY_ISA_PORTABLE: return true;
	case SY_ISA_AVX2:
#if SY_ISA_X86
	{
		__builtin_cpu_init();
		unsigned a, b, c, d;
		/* F16C: CPUID.1:ECX bit 29 (not every compiler knows it as a cpu_supports name). */
		const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
	}
#else
		return false;
#endif
	case SY_ISA_AVX512:
#if SY_ISA_X86
		/* libgcc's checks include the OS saving the zmm and mask state (XCR0). */
		return isa_cpu_has(SY_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512vnni");
#else
		return false;
#endif
	case SY_ISA_NEON: return SY_ISA_ARM64; /* NEON is part of ARMv8-A */
	case SY_ISA_NEONDOT:
#if SY_ISA_ARM64
		return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
		return false;
#endif
	case SY_ISA_COUNT: break;
	}
	return false;
}

bool sy_isa_supported(enum sy_isa isa)
{
	return isa >= 0 && isa < SY_ISA_COUNT && tables[isa] && isa_cpu_has(isa);
}

const char *sy_isa_name(enum sy_isa isa)
{
	return isa >= 0 && isa < SY_ISA_COUNT ? names[isa] : "?";
}

enum sy_isa sy_isa_current(void)
{
	const struct sy_kernels *k = K();
	for (int i = 0; i < SY_ISA_COUNT; i++)
		if (tables[i] == k)
			return (enum sy_isa)i;
	return SY_ISA_PORTABLE;
}

bool sy_isa_set(enum sy_isa isa)
{
	if (!sy_isa_supported(isa))
		return false;
	__atomic_store_n(&current, tables[isa], __ATOMIC_RELAXED);
	return true;
}

/* SWITCHYARD_ATTENTION_BF16=0 keeps int8 models' attention in fp32 (attention_bf16_active). */
static bool attention_bf16_off;

static void isa_select(void)
{
#if SY_ISA_X86
	kernels_avx512 = kernels_avx512_make();
#endif
#if SY_ISA_ARM64
	kernels_neon = kernels_arm64_make(false);
	kernels_neondot = kernels_arm64_make(true);
#endif
	enum sy_isa best = SY_ISA_PORTABLE;
	for (int i = SY_ISA_COUNT - 1; i >= 0; i--)
		if (sy_isa_supported((enum sy_isa)i)) {
			best = (enum sy_isa)i;
			break;
		}
	enum sy_isa pick = best;
	const char *want = getenv("SWITCHYARD_ISA");
	if (want && *want && strcmp(want, "auto")) {
		int found = -1;
		for (int i = 0; i < SY_ISA_COUNT; i++)
			if (!strcmp(want, names[i]))
				found = i;
		if (found < 0)
			snprintf(init_error, sizeof init_error,
			         "SWITCHYARD_ISA=%.40s: unknown kernel path (known: auto, avx512, "
			         "avx2, neondot, neon, portable)",
			         want);
		else if (!sy_isa_supported((enum sy_isa)found))
			snprintf(init_error, sizeof init_error,
			         "SWITCHYARD_ISA=%s: this CPU (or this build) cannot run the %s "
			         "kernels%s; the best it runs is %s",
			         names[found], names[found],
			         found == SY_ISA_AVX2 ? " (they need AVX2, FMA and F16C)"
			         : found == SY_ISA_AVX512
			             ? " (they need AVX2, FMA, F16C and AVX-512 "
			               "F/BW/VL/VNNI)"
			             : "",
			         names[best]);
		else
			pick = (enum sy_isa)found;
	}
	const char *bf16 = getenv("SWITCHYARD_ATTENTION_BF16");
	if (bf16 && *bf16 && strcmp(bf16, "1") && strcmp(bf16, "auto")) {
		if (!strcmp(bf16, "0"))
			attention_bf16_off = true;
		else if (!init_error[0])
			snprintf(
			    init_error, sizeof init_error,
			    "SWITCHYARD_ATTENTION_BF16=%.40s: expected 0 (fp32 attention) or 1 "
			    "(bf16 where the CPU has it, the default)",
			    bf16);
	}
	__atomic_store_n(&current, tables[pick], __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void isa_constructor(void)
{
	pthread_once(&once, isa_select);
}

enum sy_status sy_isa_init(struct sy_error *err)
{
	pthread_once(&once, isa_select);
	if (init_error[0])
		return sy_error_set(err, SY_ERR_INVALID_ARG, "%s", init_error);
	return SY_OK;
}

/* ---- The public kernel names: one indirect call each. ------------------------------------ */

void layer_norm_f32(float *y, const float *x, const float *gamma, const float *beta, int n,
                    float eps)
{
	K()->layer_norm_f32(y, x, gamma, beta, n, eps);
}

void softmax_f32(float *x, int n)
{
	K()->softmax_f32(x, n);
}

float softmax_exp_f32(float *x, int n, float scale)
{
	return K()->softmax_exp_f32(x, n, scale);
}

void gelu_erf_f32(float *x, int n)
{
	K()->gelu_erf_f32(x, n);
}

void gelu_tanh_f32(float *x, int n)
{
	K()->gelu_tanh_f32(x, n);
}

void silu_f32(float *x, int n)
{
	K()->silu_f32(x, n);
}

void relu_f32(float *x, int n)
{
	K()->relu_f32(x, n);
}

void tanh_f32(float *x, int n)
{
	K()->tanh_f32(x, n);
}

void exp_f32(float *x, int n)
{
	K()->exp_f32(x, n);
}

void add_f32(float *y, const float *x, int n)
{
	K()->add_f32(y, x, n);
}

void l2_normalize_f32(float *x, int n)
{
	K()->l2_normalize_f32(x, n);
}

void f16_to_f32(float *dst, const unsigned short *src, size_t n)
{
	K()->f16_to_f32(dst, src, n);
}

void bf16_to_f32(float *dst, const unsigned short *src, size_t n)
{
	K()->bf16_to_f32(dst, src, n);
}

void gemm_pack_a(float *restrict dst, const float *a, size_t lda, int m, int k)
{
	K()->gemm_pack_a(dst, a, lda, m, k);
}

void gemm_pack_bt(float *restrict dst, const float *w, size_t ldw, int n, int k)
{
	K()->gemm_pack_bt(dst, w, ldw, n, k);
}

void gemm_micro_tile(int kc, const float *restrict a, const float *restrict b, size_t ldb, float *c,
                     size_t ldc, int mr, int nr, int mode, const float *bias)
{
	K()->gemm_micro_tile(kc, a, b, ldb, c, ldc, mr, nr, mode, bias);
}

void gemm_micro_tile_rows(int kc, const float *a, size_t lda, const float *restrict b, size_t ldb,
                          float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	K()->gemm_micro_tile_rows(kc, a, lda, b, ldb, c, ldc, mr, nr, mode, bias);
}

void gemm_linear(const float *x, int ldx, const struct gemm_weights *w, const float *bias,
                 enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth)
{
	K()->gemm_linear(x, ldx, w, bias, epi, y, ldy, m, ith, nth);
}

void qgemm_linear(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                  enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth)
{
	K()->qgemm_linear(x, ldx, w, bias, epi, y, ldy, m, ith, nth);
}

void attention_ext_bf16(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                        int t, int n_valid, int window, const float *rel_bias, int bias_ld,
                        int n_heads, int head_dim, float scale, float *scratch, int ith, int nth)
{
	const struct sy_kernels *kt = K();
	(kt->attention_ext_bf16 ? kt->attention_ext_bf16 : kt->attention_ext_f32)(
	    q, k, v, ld, out, ldo, t, n_valid, window, rel_bias, bias_ld, n_heads, head_dim, scale,
	    scratch, ith, nth);
}

bool attention_bf16_active(void)
{
	pthread_once(&once, isa_select);
	return K()->attention_ext_bf16 != NULL && !attention_bf16_off;
}

void attention_ext_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int window, const float *rel_bias, int bias_ld,
                       int n_heads, int head_dim, float scale, float *scratch, int ith, int nth)
{
	K()->attention_ext_f32(q, k, v, ld, out, ldo, t, n_valid, window, rel_bias, bias_ld,
	                       n_heads, head_dim, scale, scratch, ith, nth);
}
