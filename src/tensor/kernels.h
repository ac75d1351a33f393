/* The per-ISA kernel sets behind the dispatch table (isa.c). Private to the tensor layer.
 *
 * Every kernel that has an ISA-specific implementation exists once per path with a suffix:
 * foo_avx2 (the *_avx2.c units, the only ones compiled with -mavx2 -mfma -mf16c) and
 * foo_portable (the *_portable.c units, plain C for baseline x86-64 or any other target). The
 * public names in ops.h, gemm.h, gemm_micro.h, qgemm.h and attention.h are thin wrappers in
 * isa.c that call through the table chosen at start. Both paths use the same packed layouts
 * (gemm_micro.h, qgemm.h), so weights packed under one path run under the other. */
#ifndef SY_TENSOR_KERNELS_H
#define SY_TENSOR_KERNELS_H

#include <stddef.h>

#include "tensor/gemm.h"
#include "tensor/qgemm.h"

struct sy_kernels {
	const char *name;
	void (*layer_norm_f32)(float *y, const float *x, const float *gamma, const float *beta,
	                       int n, float eps);
	void (*softmax_f32)(float *x, int n);
	float (*softmax_exp_f32)(float *x, int n, float scale);
	void (*gelu_erf_f32)(float *x, int n);
	void (*gelu_tanh_f32)(float *x, int n);
	void (*silu_f32)(float *x, int n);
	void (*relu_f32)(float *x, int n);
	void (*tanh_f32)(float *x, int n);
	void (*exp_f32)(float *x, int n);
	void (*add_f32)(float *y, const float *x, int n);
	void (*l2_normalize_f32)(float *x, int n);
	void (*f16_to_f32)(float *dst, const unsigned short *src, size_t n);
	void (*bf16_to_f32)(float *dst, const unsigned short *src, size_t n);
	void (*gemm_pack_a)(float *restrict dst, const float *a, size_t lda, int m, int k);
	void (*gemm_pack_bt)(float *restrict dst, const float *w, size_t ldw, int n, int k);
	void (*gemm_micro_tile)(int kc, const float *restrict a, const float *restrict b,
	                        size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
	                        const float *bias);
	void (*gemm_micro_tile_rows)(int kc, const float *a, size_t lda, const float *restrict b,
	                             size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
	                             const float *bias);
	void (*gemm_linear)(const float *x, int ldx, const struct gemm_weights *w,
	                    const float *bias, enum gemm_epilogue epi, float *y, int ldy, int m,
	                    int ith, int nth);
	void (*qgemm_linear)(const float *x, int ldx, const struct qgemm_weights *w,
	                     const float *bias, enum gemm_epilogue epi, float *y, int ldy, int m,
	                     int ith, int nth);
	void (*attention_ext_f32)(const float *q, const float *k, const float *v, int ld,
	                          float *out, int ldo, int t, int n_valid, int window,
	                          const float *rel_bias, int bias_ld, int n_heads, int head_dim,
	                          float scale, float *scratch, int ith, int nth);
	/* NULL on paths without bf16 products (attention_ext_bf16 then runs attention_ext_f32) */
	void (*attention_ext_bf16)(const float *q, const float *k, const float *v, int ld,
	                           float *out, int ldo, int t, int n_valid, int window,
	                           const float *rel_bias, int bias_ld, int n_heads, int head_dim,
	                           float scale, float *scratch, int ith, int nth);
};

/* Declares the kernels of one path (sfx: avx2, portable). */
#define SY_KERNELS_DECLARE(sfx)                                                                    \
	void layer_norm_f32_##sfx(float *y, const float *x, const float *gamma, const float *beta, \
	                          int n, float eps);                                               \
	void softmax_f32_##sfx(float *x, int n);                                                   \
	float softmax_exp_f32_##sfx(float *x, int n, float scale);                                 \
	void gelu_erf_f32_##sfx(float *x, int n);                                                  \
	void gelu_tanh_f32_##sfx(float *x, int n);                                                 \
	void silu_f32_##sfx(float *x, int n);                                                      \
	void relu_f32_##sfx(float *x, int n);                                                      \
	void tanh_f32_##sfx(float *x, int n);                                                      \
	void exp_f32_##sfx(float *x, int n);                                                       \
	void add_f32_##sfx(float *y, const float *x, int n);                                       \
	void l2_normalize_f32_##sfx(float *x, int n);                                              \
	void f16_to_f32_##sfx(float *dst, const unsigned short *src, size_t n);                    \
	void bf16_to_f32_##sfx(float *dst, const unsigned short *src, size_t n);                   \
	void gemm_pack_a_##sfx(float *restrict dst, const float *a, size_t lda, int m, int k);     \
	void gemm_pack_bt_##sfx(float *restrict dst, const float *w, size_t ldw, int n, int k);    \
	void gemm_micro_tile_##sfx(int kc, const float *restrict a, const float *restrict b,       \
	                           size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,     \
	                           const float *bias);                                             \
	void gemm_micro_tile_rows_##sfx(int kc, const float *a, size_t lda,                        \
	                                const float *restrict b, size_t ldb, float *c, size_t ldc, \
	                                int mr, int nr, int mode, const float *bias);              \
	void gemm_linear_##sfx(const float *x, int ldx, const struct gemm_weights *w,              \
	                       const float *bias, enum gemm_epilogue epi, float *y, int ldy,       \
	                       int m, int ith, int nth);                                           \
	void qgemm_linear_##sfx(const float *x, int ldx, const struct qgemm_weights *w,            \
	                        const float *bias, enum gemm_epilogue epi, float *y, int ldy,      \
	                        int m, int ith, int nth);                                          \
	void attention_ext_f32_##sfx(const float *q, const float *k, const float *v, int ld,       \
	                             float *out, int ldo, int t, int n_valid, int window,          \
	                             const float *rel_bias, int bias_ld, int n_heads,              \
	                             int head_dim, float scale, float *scratch, int ith, int nth);

SY_KERNELS_DECLARE(avx2)
SY_KERNELS_DECLARE(portable)

/* Applies a linear layer's activation (the GEMM epilogue) to one row of n outputs with the
 * kernels of path sfx (a macro naming it expands first), while the row is still in L1: what every
 * GEMM path's store ends with. */
#define SY_EPILOGUE_ROW(sfx, row, n, epi) SY_EPILOGUE_ROW_(sfx, row, n, epi)
#define SY_EPILOGUE_ROW_(sfx, row, n, epi)                                            \
	do {                                                                          \
		switch (epi) {                                                        \
		case GEMM_EPILOGUE_NONE: break;                                       \
		case GEMM_EPILOGUE_GELU_ERF: gelu_erf_f32_##sfx((row), (n)); break;   \
		case GEMM_EPILOGUE_GELU_TANH: gelu_tanh_f32_##sfx((row), (n)); break; \
		case GEMM_EPILOGUE_RELU: relu_f32_##sfx((row), (n)); break;           \
		case GEMM_EPILOGUE_TANH: tanh_f32_##sfx((row), (n)); break;           \
		}                                                                     \
	} while (0)

/* The AVX-512 path (VNNI) replaces only the kernels where it pays; its table takes the AVX2
 * kernels for the rest (isa.c). */
void qgemm_linear_avx512(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                         enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);

/* The AVX-512 fp32 attention (attention_avx512.c: the shared kernel with a 16-lane softmax). */
void attention_ext_f32_avx512(const float *q, const float *k, const float *v, int ld, float *out,
                              int ldo, int t, int n_valid, int window, const float *rel_bias,
                              int bias_ld, int n_heads, int head_dim, float scale, float *scratch,
                              int ith, int nth);

/* The AVX-512 BF16 attention (attention_avx512bf16.c), in the avx512 table where CPUID has
 * AVX512_BF16. */
void attention_ext_bf16_avx512bf16(const float *q, const float *k, const float *v, int ld,
                                   float *out, int ldo, int t, int n_valid, int window,
                                   const float *rel_bias, int bias_ld, int n_heads, int head_dim,
                                   float scale, float *scratch, int ith, int nth);

/* The ARM64 paths: the NEON fp32 GEMM, and the dot-product int8 GEMM; their tables take the
 * portable kernels for the rest (isa.c). */
void gemm_micro_tile_neon(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                          float *c, size_t ldc, int mr, int nr, int mode, const float *bias);
void gemm_micro_tile_rows_neon(int kc, const float *a, size_t lda, const float *restrict b,
                               size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
                               const float *bias);
void gemm_linear_neon(const float *x, int ldx, const struct gemm_weights *w, const float *bias,
                      enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);
void qgemm_linear_neondot(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                          enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);

#endif
