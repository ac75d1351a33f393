/* Multi-head attention for one sequence (the ISA-neutral entry points; the kernel itself,
 * attention_impl.h, is built once per path: attention_avx2.c, attention_portable.c), as two small GEMMs per (head, query block) on the same
 * 6 x 16 micro-kernel as the linear layers, with a vectorised softmax in between:
 *
 *   S = Q_blk K^T           over the n_valid unmasked keys only (K packed once per head as a
 *                           transposed B; Q rows are read in place),
 *   E = exp(scale (S - max)) row by row, with the row sums kept aside,
 *   O_blk = (E V) / sums    (E rows and V rows are read in place; dividing the 16-wide output
 *                           instead of normalising E saves a pass over the longer rows).
 *
 * Work items are (head, block of up to ATT_QB query rows), numbered head-major and split in
 * contiguous ranges by (ith, nth), so a part usually handles whole heads and packs each head's
 * keys once. The query block is chosen so that there are at least nth items when possible.
 * Head dimensions above ATT_DC are processed in chunks of ATT_DC (S accumulates over chunks), so
 * the scratch size depends on t only. */
#include <stddef.h>

#include "tensor/attention.h"
#include "tensor/attention_impl.h"
#include "tensor/gemm_micro.h"

/* Scratch layout of one part, in floats (t16 = t rounded up to 16):
 *   s     [ATT_QB][t16]      scores, then exponentials, of one query block
 *   kp    t16 * ATT_DC       keys of one head (one d chunk) packed as B
 *   vedge t * 16             the last, narrower-than-16 column panel of V, zero-padded */
size_t attention_scratch_floats(int t)
{
	size_t tt = t > 0 ? (size_t)t : 1, t16 = ceil_to(tt, GEMM_NR);
	return ATT_QB * t16 + t16 * ATT_DC + tt * GEMM_NR;
}

void attention_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                   int t, int n_valid, int n_heads, int head_dim, float scale, float *scratch,
                   int ith, int nth)
{
	attention_ext_f32(q, k, v, ld, out, ldo, t, n_valid, -1, NULL, 0, n_heads, head_dim, scale,
	                  scratch, ith, nth);
}

void attention_rel_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int n_heads, int head_dim, float scale,
                       const float *rel_bias, int bias_ld, float *scratch, int ith, int nth)
{
	attention_ext_f32(q, k, v, ld, out, ldo, t, n_valid, -1, rel_bias, bias_ld, n_heads,
	                  head_dim, scale, scratch, ith, nth);
}

void attention_window_f32(const float *q, const float *k, const float *v, int ld, float *out,
                          int ldo, int t, int n_valid, int window, int n_heads, int head_dim,
                          float scale, float *scratch, int ith, int nth)
{
	attention_ext_f32(q, k, v, ld, out, ldo, t, n_valid, window, NULL, 0, n_heads, head_dim,
	                  scale, scratch, ith, nth);
}

attention_ext_fn attention_ext_for(bool int8_model)
{
	return int8_model && attention_bf16_active() ? attention_ext_bf16 : attention_ext_f32;
}
