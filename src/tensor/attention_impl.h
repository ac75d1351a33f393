/* Multi-head attention kernel (see attention.c for the algorithm), written once and built per
 * kernel path: attention_<isa>.c defines SY_ISA_FN(name) (e.g. name##_avx2) and includes this
 * file, which then defines attention_ext_f32_<isa> calling that path's gemm_pack_bt,
 * gemm_micro_tile_rows and softmax_exp_f32 directly, and the includer's
 *   static void att_scale_row(float *o, int n, float s)   o[0..n) *= s
 * Without SY_ISA_FN only the constants are defined (attention.c sizes the scratch with them). */
#ifndef SY_TENSOR_ATTENTION_IMPL_H
#define SY_TENSOR_ATTENTION_IMPL_H

#include <stddef.h>

#define ATT_QB 48 /* most query rows per work item (a multiple of GEMM_MR) */
#define ATT_DC 128 /* head-dimension chunk for Q K^T */

#include <stdbool.h>
#include <string.h>

#include "base/threads.h"

static inline size_t ceil_to(size_t v, size_t m)
{
	return (v + m - 1) / m * m;
}

/* How part ith of nth splits the work: items (head, query block) numbered head-major, this
 * part's [b, e); qb rows a block (a multiple of mr_mult, at most ATT_QB, and enough blocks that
 * every part gets an item when possible), nqb blocks a head; nv valid keys (n_valid clamped to
 * [0, t]) and ld_s, the score rows' stride (nv rounded up to 16). */
struct att_plan {
	int qb, nqb, b, e, nv, ld_s;
};

static inline struct att_plan att_plan_make(int t, int n_valid, int n_heads, int mr_mult, int ith,
                                            int nth)
{
	struct att_plan p;
	int n = (t + ATT_QB - 1) / ATT_QB;
	int want = (nth + n_heads - 1) / n_heads;
	if (want > n)
		n = want < t ? want : t;
	p.qb = (int)ceil_to((size_t)((t + n - 1) / n), (size_t)mr_mult);
	if (p.qb > ATT_QB)
		p.qb = ATT_QB;
	p.nqb = (t + p.qb - 1) / p.qb;
	sy_split(n_heads * p.nqb, ith, nth, &p.b, &p.e);
	p.nv = n_valid < 0 ? 0 : n_valid > t ? t : n_valid;
	p.ld_s = (int)ceil_to((size_t)(p.nv > 0 ? p.nv : 1), 16);
	return p;
}

/* The keys a query block [i0, i0 + mb) reads: [*kb, *ke), *kb on a 16-key panel boundary. With a
 * window only those within reach of some row of the block; without, all nv valid keys. False
 * when there is none: the block's output rows are then 0 (the reference's empty sum), which
 * this writes (mb rows of hd floats from out, stride ldo). */
static inline bool att_key_range(int i0, int mb, int nv, int window, int *kb, int *ke, float *out,
                                 int ldo, int hd)
{
	*kb = 0;
	*ke = nv;
	if (window >= 0 && nv > 0) {
		*kb = i0 - window > 0 ? (i0 - window) / 16 * 16 : 0;
		*ke = i0 + mb + window < nv ? i0 + mb + window : nv;
	}
	if (*ke > *kb)
		return true;
	for (int i = 0; i < mb; i++)
		memset(out + (size_t)i * ldo, 0, sizeof(float) * hd);
	return false;
}

/* Turns the block's scores s (row i at s + i ld_s, keys [kb, ke) from column 0) into
 * exponentials exp(score - row max) in place, each row over its own window, the rest of its row
 * zeroed; 1 / (row sum) goes to inv_sum[i] (0 for a row with no key in reach). The score is
 * scale (q . k), plus the distance bias of head h when rel_bias is set. sexp is the path's
 * softmax_exp_f32. */
static inline void att_exp_rows(float *s, int ld_s, int i0, int mb, int kb, int ke, int window,
                                const float *rel_bias, int bias_ld, int h, float scale,
                                float *inv_sum, float (*sexp)(float *, int, float))
{
	const int nk = ke - kb;
	for (int i = 0; i < mb; i++) {
		float *row = s + (size_t)i * ld_s;
		int lo = kb, hi = ke;
		if (window >= 0) {
			const int qi = i0 + i;
			lo = qi - window > kb ? qi - window : kb;
			hi = qi + window + 1 < ke ? qi + window + 1 : ke;
		}
		if (hi <= lo) {
			memset(row, 0, sizeof(float) * nk);
			inv_sum[i] = 0;
			continue;
		}
		if (rel_bias) {
			/* scale s + the bias of key j at distance j - qi, then exp with scale 1 */
			const float *bq = rel_bias + (ptrdiff_t)h * bias_ld - (i0 + i);
			float *r = row + (lo - kb);
			for (int j = lo; j < hi; j++, r++)
				*r = *r * scale + bq[j];
			inv_sum[i] = sexp(row + (lo - kb), hi - lo, 1.0f);
		} else {
			inv_sum[i] = sexp(row + (lo - kb), hi - lo, scale);
		}
		memset(row, 0, sizeof(float) * (lo - kb));
		memset(row + (hi - kb), 0, sizeof(float) * (ke - hi));
	}
}

#endif

#ifdef SY_ISA_FN
#include "tensor/attention.h"
#include "tensor/gemm_micro.h"
#include "tensor/kernels.h"

/* With a window, a query block [i0, i0 + mb) needs the keys [i0 - window, i0 + mb + window)
 * only: S is computed over that range (from the 16-key panel it starts in), each row's
 * exponentials over its own window, the rest of its row zeroed, and E V over the range. Without
 * one the range is all n_valid keys and every row's window too, the plain computation. */
void SY_ISA_FN(attention_ext_f32)(const float *q, const float *k, const float *v, int ld,
                                  float *out, int ldo, int t, int n_valid, int window,
                                  const float *rel_bias, int bias_ld, int n_heads, int head_dim,
                                  float scale, float *scratch, int ith, int nth)
{
	if (t <= 0 || n_heads <= 0 || head_dim <= 0)
		return;
	const size_t tt = (size_t)t, t16 = ceil_to(tt, GEMM_NR);
	float *s = scratch;
	float *kp = s + ATT_QB * t16;
	float *vedge = kp + t16 * ATT_DC;
	float inv_sum[ATT_QB];

	const struct att_plan pl = att_plan_make(t, n_valid, n_heads, GEMM_MR, ith, nth);
	const int qb = pl.qb, nqb = pl.nqb, nv = pl.nv, ld_s = pl.ld_s;
	const int n_dc = (head_dim + ATT_DC - 1) / ATT_DC;
	int packed_head = -1;
	for (int item = pl.b; item < pl.e; item++) {
		const int h = item / nqb, i0 = item % nqb * qb;
		const int mb = t - i0 < qb ? t - i0 : qb;
		const size_t col = (size_t)h * head_dim;
		int kb, ke;
		if (!att_key_range(i0, mb, nv, window, &kb, &ke, out + (size_t)i0 * ldo + col, ldo,
		                   head_dim))
			continue;
		const int nk = ke - kb;
		/* S = Q K^T, one head-dimension chunk at a time. */
		for (int dc = 0; dc < n_dc; dc++) {
			const int d0 = dc * ATT_DC;
			const int kc = head_dim - d0 < ATT_DC ? head_dim - d0 : ATT_DC;
			if (n_dc > 1 || packed_head != h) {
				SY_ISA_FN(gemm_pack_bt)(kp, k + col + d0, (size_t)ld, nv, kc);
				packed_head = h;
			}
			const float *qb0 = q + (size_t)i0 * ld + col + d0;
			for (int jp = kb / GEMM_NR; jp * GEMM_NR < ke; jp++) {
				const int nr =
				    ke - jp * GEMM_NR < GEMM_NR ? ke - jp * GEMM_NR : GEMM_NR;
				for (int ir = 0; ir < mb; ir += GEMM_MR) {
					const int mr = mb - ir < GEMM_MR ? mb - ir : GEMM_MR;
					SY_ISA_FN(gemm_micro_tile_rows)
					(kc, qb0 + (size_t)ir * ld, (size_t)ld,
					 kp + (size_t)jp * GEMM_NR * kc, GEMM_NR,
					 s + (size_t)ir * ld_s + (jp * GEMM_NR - kb), (size_t)ld_s,
					 mr, nr, dc > 0 ? GEMM_TILE_ACCUM : 0, NULL);
				}
			}
		}
		att_exp_rows(s, ld_s, i0, mb, kb, ke, window, rel_bias, bias_ld, h, scale, inv_sum,
		             SY_ISA_FN(softmax_exp_f32));

		/* O = E V, 16 output columns at a time; a last panel narrower than 16 is copied
		 * into a zero-padded buffer so that no load reaches past the head's columns. */
		for (int c0 = 0; c0 < head_dim; c0 += GEMM_NR) {
			const int nr = head_dim - c0 < GEMM_NR ? head_dim - c0 : GEMM_NR;
			const float *bv = v + (size_t)kb * ld + col + c0;
			size_t ldb = (size_t)ld;
			if (nr < GEMM_NR) {
				for (int j = 0; j < nk; j++) {
					float *dst = vedge + (size_t)j * GEMM_NR;
					memcpy(dst, bv + (size_t)j * ld, sizeof(float) * nr);
					memset(dst + nr, 0, sizeof(float) * (GEMM_NR - nr));
				}
				bv = vedge;
				ldb = GEMM_NR;
			}
			for (int ir = 0; ir < mb; ir += GEMM_MR) {
				const int mr = mb - ir < GEMM_MR ? mb - ir : GEMM_MR;
				SY_ISA_FN(gemm_micro_tile_rows)
				(nk, s + (size_t)ir * ld_s, (size_t)ld_s, bv, ldb,
				 out + (size_t)(i0 + ir) * ldo + col + c0, (size_t)ldo, mr, nr, 0,
				 NULL);
			}
		}
		for (int i = 0; i < mb; i++) {
			float *o = out + (size_t)(i0 + i) * ldo + col;
			att_scale_row(o, head_dim, inv_sum[i]);
		}
	}
}
#endif
