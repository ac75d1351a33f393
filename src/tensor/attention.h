/* Scaled dot-product multi-head attention for one sequence (encoder, bidirectional).
 *
 * q, k, v: [t][n_heads * head_dim] with row stride ld (they may be slices of one fused QKV
 * buffer). Keys at positions >= n_valid are masked out (right padding); the output rows for all t
 * queries are written to out ([t][n_heads * head_dim], row stride ldo). With padding on the right
 * this equals Hugging Face's additive mask: masked probabilities underflow to exactly 0.
 *
 * The work is split over (head, query-row block) pairs by (ith, nth); every part writes disjoint
 * output rows/columns, and the result is the same bit for bit whatever nth. scratch must hold
 * attention_scratch_floats(t) floats per part (index it by ith); the size depends on t only
 * (about 192 t floats), whatever the head dimension. n_valid is clamped to [0, t]; with
 * n_valid = 0 the output is 0. Keys and values at positions >= n_valid are never read. The fast
 * version (attention.c) matches the scalar twin within about 1e-6 relative to max |v|. */
#ifndef SY_TENSOR_ATTENTION_H
#define SY_TENSOR_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>

size_t attention_scratch_floats(int t);

void attention_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                   int t, int n_valid, int n_heads, int head_dim, float scale, float *scratch,
                   int ith, int nth);

void attention_f32_ref(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int n_heads, int head_dim, float scale);

/* The same with an additive bias on the scaled scores that depends only on how far the key is
 * from the query: head h's score of query i on key j is
 *
 *     scale (q_i . k_j) + rel_bias[h * bias_ld + (j - i)]
 *
 * where rel_bias points at distance 0 of head 0, so each head's entries from -(t - 1) to t - 1
 * around it must exist. MPNet's relative position buckets and ALiBi (JinaBERT) are both of this
 * form, and the table is heads x (2 t - 1) floats however long the text (instead of heads x t x
 * t). rel_bias NULL: no bias (attention_f32). Same splitting, scratch and accuracy rules. */
void attention_rel_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int n_heads, int head_dim, float scale,
                       const float *rel_bias, int bias_ld, float *scratch, int ith, int nth);

void attention_rel_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                           int ldo, int t, int n_valid, int n_heads, int head_dim, float scale,
                           const float *rel_bias, int bias_ld);

/* Sliding-window attention (ModernBERT's local layers): query i attends to the keys j < n_valid
 * with |i - j| <= window; window < 0 means no window (attention_f32). A query whose window
 * holds no valid key gets 0. Same scratch, splitting and accuracy as attention_f32; the work
 * per query is about 2 window + 48 keys instead of n_valid. */
void attention_window_f32(const float *q, const float *k, const float *v, int ld, float *out,
                          int ldo, int t, int n_valid, int window, int n_heads, int head_dim,
                          float scale, float *scratch, int ith, int nth);

void attention_window_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                              int ldo, int t, int n_valid, int window, int n_heads, int head_dim,
                              float scale);

/* Both at once (a window and a distance bias; either may be off): what the three above call. */
void attention_ext_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int window, const float *rel_bias, int bias_ld,
                       int n_heads, int head_dim, float scale, float *scratch, int ith, int nth);

void attention_ext_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                           int ldo, int t, int n_valid, int window, const float *rel_bias,
                           int bias_ld, int n_heads, int head_dim, float scale);

/* attention_ext_f32 with its two products (Q K^T and E V) in bf16: Q, K, V and the softmax's
 * exponentials rounded to bf16 (nearest even) and multiplied with fp32 sums, the softmax itself
 * in fp32 (attention_avx512bf16.c). For models whose linear layers run in int8, where it is
 * within the error they already carry; about twice the multiply-adds per instruction. Runs on
 * AVX-512 BF16 CPUs only: elsewhere, and for heads wider than 128, it is attention_ext_f32.
 * Same arguments, scratch, splitting and determinism over nth. The scalar twin rounds as the
 * kernel does and computes in double; the kernel matches it within the fp32 kernel's accuracy
 * plus, where an exponential lies within float rounding of a bf16 halfway point, that
 * exponential's last bf16 bit. */
void attention_ext_bf16(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                        int t, int n_valid, int window, const float *rel_bias, int bias_ld,
                        int n_heads, int head_dim, float scale, float *scratch, int ith, int nth);

void attention_ext_bf16_ref(const float *q, const float *k, const float *v, int ld, float *out,
                            int ldo, int t, int n_valid, int window, const float *rel_bias,
                            int bias_ld, int n_heads, int head_dim, float scale);

/* Whether attention_ext_bf16 computes in bf16 on the kernel path in use (the CPU has AVX-512
 * BF16 and the path is avx512) and SWITCHYARD_ATTENTION_BF16 is not 0. Models that choose it
 * ask this once at load. */
bool attention_bf16_active(void);

/* attention_ext_f32's signature, and the kernel a model whose linear layers are int8 (or not)
 * runs: attention_ext_bf16 for int8 where attention_bf16_active(), attention_ext_f32 else. */
typedef void (*attention_ext_fn)(const float *q, const float *k, const float *v, int ld, float *out,
                                 int ldo, int t, int n_valid, int window, const float *rel_bias,
                                 int bias_ld, int n_heads, int head_dim, float scale,
                                 float *scratch, int ith, int nth);
attention_ext_fn attention_ext_for(bool int8_model);

#endif
