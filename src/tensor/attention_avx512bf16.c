/* Multi-head attention with both products in bf16: AVX-512 BF16 (vdpbf16ps), compiled with the
 * AVX-512 flags plus -mavx512bf16 and reached through isa.c only where CPUID has AVX512_BF16.
 * Models whose linear layers run in int8 use it (attention.h, attention_ext_bf16): there the
 * activations already carry 8-bit quantisation error, and attention was the largest fp32 part
 * left (about a quarter of an int8 MiniLM forward, docs/PERFORMANCE.md section 15).
 *
 * The plan is the fp32 kernel's (attention_impl.h: items of (head, query block), S = Q K^T over
 * the keys in reach, exponentials in fp32, O = E V / row sums), with these differences:
 *   - Q, K, V and the exponentials E are rounded to bf16 (nearest even) just before their
 *     product; vdpbf16ps multiplies pairs of bf16 exactly and accumulates in fp32, so the only
 *     new error is that rounding (relative 2^-9 per factor);
 *   - the softmax stays in fp32, and the row sums are those of the fp32 exponentials;
 *   - one instruction does 32 multiply-adds where an fp32 FMA on 16 lanes does 16: measured on
 *     Zen 4, 114 against 54 multiply-adds per ns (one core).
 *
 * vdpbf16ps adds, in each fp32 lane, the products of the lane's two bf16 halves. The layouts
 * therefore hold 32-bit words, each a pair of bf16 with the lower index in the low half:
 *   kp  per 16-key panel, per pair of head dimensions (d, d + 1): 16 words, one per key, so a
 *       broadcast Q pair times one 64-byte load gives 16 keys' partial scores;
 *   vp  per 16-column panel, per pair of keys (j, j + 1): 16 words, one per column, so a
 *       broadcast E pair times one load gives 16 output columns;
 *   qa  the block's Q rows as pairs; E each score row's exponentials as pairs, written in
 *       place over the row's first half.
 * K and V are packed once per head into the fp32 kernel's key area (t16 * ATT_DC floats), which
 * holds both for heads up to ATT_DC wide; wider heads run the fp32 kernel. */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tensor/attention.h"
#include "tensor/attention_impl.h"
#include "tensor/kernels.h"
#include "tensor/vecmath512.h"

#define BF_MR 6 /* query rows per tile */
#define BF_NP 4 /* 16-wide panels per tile: 6 x 4 accumulators */
#define BF_HP_MAX (ATT_DC / 2) /* pairs in the widest head this kernel takes */

/* The plain rows' softmax in one pass (no window, no bias; mx the row's largest score): x[0..n)
 * becomes e^(scale x - scale mx) rounded to bf16 pairs over the row's first half, as
 * row_to_pairs would leave it, and 1 / (sum of the fp32 exponentials) is returned. */
static float exp_row_pairs(float *x, int n, float scale, float mx)
{
	const __m512 vs = _mm512_set1_ps(scale), vm = _mm512_set1_ps(scale * mx);
	uint16_t *d = (uint16_t *)x;
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	int i = 0;
	for (; i + 32 <= n; i += 32) {
		const __m512 e0 = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + i), vs, vm));
		const __m512 e1 = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + i + 16), vs, vm));
		acc0 = _mm512_add_ps(acc0, e0);
		acc1 = _mm512_add_ps(acc1, e1);
		_mm512_storeu_si512(d + i, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
	}
	const int n2 = (n + 1) & ~1;
	for (; i < n2; i += 16) {
		const __mmask16 m = lanes(n - i);
		const __m512 e = _mm512_maskz_mov_ps(
		    m, exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + i), vs, vm)));
		acc0 = _mm512_add_ps(acc0, e);
		_mm256_mask_storeu_epi16(d + i, lanes(n2 - i), (__m256i)_mm512_cvtneps_pbh(e));
	}
	return 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* x[0..n) rounded to bf16 into dst as ceil(n/2) pairs, an odd n's last high half 0. The stores
 * trail the loads, so dst may be x itself (the exponentials are converted in place). */
ALWAYS_INLINE void row_to_pairs(uint32_t *dst, const float *x, int n)
{
	uint16_t *d = (uint16_t *)dst;
	int e = 0;
	for (; e + 32 <= n; e += 32) {
		const __m512 lo = _mm512_loadu_ps(x + e), hi = _mm512_loadu_ps(x + e + 16);
		_mm512_storeu_si512(d + e, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
	}
	const int n2 = (n + 1) & ~1;
	for (; e < n2; e += 16) {
		const __m512 v = _mm512_maskz_loadu_ps(lanes(n - e), x + e);
		_mm256_mask_storeu_epi16(d + e, lanes(n2 - e), (__m256i)_mm512_cvtneps_pbh(v));
	}
}

/* r[0..16) as a 16 x 16 matrix of 32-bit words, transposed in registers: row i of the result
 * is column i of the input. */
ALWAYS_INLINE void transpose16(__m512i r[16])
{
	__m512i t[16];
#pragma GCC unroll 8
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
#pragma GCC unroll 4
	for (int i = 0; i < 16; i += 4) {
		r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
		r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
		r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
		r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
	}
	/* Each 128-bit lane L of r[4a + b] now holds rows 4a..4a+3, columns 4L + b (as 4
	 * words); gather the lanes across registers. */
#pragma GCC unroll 4
	for (int b = 0; b < 4; b++) {
		const __m512i a0 = _mm512_shuffle_i32x4(r[b], r[4 + b], 0x44);
		const __m512i a1 = _mm512_shuffle_i32x4(r[b], r[4 + b], 0xee);
		const __m512i a2 = _mm512_shuffle_i32x4(r[8 + b], r[12 + b], 0x44);
		const __m512i a3 = _mm512_shuffle_i32x4(r[8 + b], r[12 + b], 0xee);
		t[b] = _mm512_shuffle_i32x4(a0, a2, 0x88);
		t[4 + b] = _mm512_shuffle_i32x4(a0, a2, 0xdd);
		t[8 + b] = _mm512_shuffle_i32x4(a1, a3, 0x88);
		t[12 + b] = _mm512_shuffle_i32x4(a1, a3, 0xdd);
	}
#pragma GCC unroll 16
	for (int i = 0; i < 16; i++)
		r[i] = t[i];
}

/* The keys [0, nv) of one head (key j at k + j ld, hd wide) as kp; keys past nv in the last
 * panel are 0. Sixteen keys' rows of 16 pairs are rounded and transposed in registers. */
static void pack_keys(uint32_t *kp, const float *k, size_t ld, int nv, int hd)
{
	const int hp = (hd + 1) / 2;
	for (int j0 = 0; j0 < nv; j0 += 16) {
		const int nj = nv - j0 < 16 ? nv - j0 : 16;
		uint32_t *dst = kp + (size_t)(j0 / 16) * hp * 16;
		for (int c = 0; c < hd; c += 32) {
			const __mmask16 m0 = lanes(hd - c), m1 = lanes(hd - c - 16);
			__m512i r[16];
			for (int jj = 0; jj < 16; jj++) {
				if (jj >= nj) {
					r[jj] = _mm512_setzero_si512();
					continue;
				}
				const float *row = k + (size_t)(j0 + jj) * ld + c;
				r[jj] = (__m512i)_mm512_cvtne2ps_pbh(
				    _mm512_maskz_loadu_ps(m1, row + 16),
				    _mm512_maskz_loadu_ps(m0, row));
			}
			transpose16(r);
			const int np = hp - c / 2 < 16 ? hp - c / 2 : 16;
			for (int d = 0; d < np; d++)
				_mm512_storeu_si512(dst + (size_t)(c / 2 + d) * 16, r[d]);
		}
	}
}

/* The values [0, nv) of one head as vp: column panel c, key pair p at vp + (c np2 + p) 16 with
 * np2 = ceil(nv / 2); columns past hd and an odd last key's partner are 0. */
static void pack_values(uint32_t *vp, const float *v, size_t ld, int nv, int hd)
{
	const int np2 = (nv + 1) / 2;
	for (int c0 = 0; c0 < hd; c0 += 16) {
		const __mmask16 m = lanes(hd - c0);
		uint32_t *dst = vp + (size_t)(c0 / 16) * np2 * 16;
		for (int p = 0; p < np2; p++) {
			const float *r = v + (size_t)(2 * p) * ld + c0;
			const __m512i lo = _mm512_cvtepu16_epi32(
			    (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r)));
			__m512i hi = _mm512_setzero_si512();
			if (2 * p + 1 < nv)
				hi = _mm512_cvtepu16_epi32(
				    (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r + ld)));
			_mm512_storeu_si512(dst + (size_t)p * 16,
			                    _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
		}
	}
}

ALWAYS_INLINE __m512bh bcast_pair(const uint32_t *p)
{
	return (__m512bh)_mm512_broadcastd_epi32(_mm_loadu_si32(p));
}

/* s[i][16 p + c] (i < BF_MR, p < np) = the dot products of the pair rows a[i] (stride lda words,
 * n pairs) with the panels b + p bstride (n x 16 words each). Rows past the block's are
 * computed too: qa and E hold zeros or finite values there, and nothing of them is stored
 * outside the scratch. */
ALWAYS_INLINE void dot_tile(int n, const uint32_t *a, int lda, const uint32_t *b, size_t bstride,
                            int np, __m512 acc[BF_MR][BF_NP])
{
#pragma GCC unroll 6
	for (int i = 0; i < BF_MR; i++)
#pragma GCC unroll 4
		for (int p = 0; p < np; p++)
			acc[i][p] = _mm512_setzero_ps();
	for (int d = 0; d < n; d++) {
		__m512bh bv[BF_NP];
#pragma GCC unroll 4
		for (int p = 0; p < np; p++)
			bv[p] = (__m512bh)_mm512_loadu_si512(b + p * bstride + (size_t)d * 16);
#pragma GCC unroll 6
		for (int i = 0; i < BF_MR; i++) {
			const __m512bh av = bcast_pair(a + (size_t)i * lda + d);
#pragma GCC unroll 4
			for (int p = 0; p < np; p++)
				acc[i][p] = _mm512_dpbf16_ps(acc[i][p], av, bv[p]);
		}
	}
}

/* With rmax set, rmax[i] also becomes the larger of itself and row i's largest score of the
 * tile's first ncols columns (the rest are keys past n_valid, 0 from the zero padding). */
ALWAYS_INLINE void score_tile(int hp, const uint32_t *qa, const uint32_t *kp, size_t kstride,
                              float *s, int ld_s, int np, int ncols, float *rmax)
{
	__m512 acc[BF_MR][BF_NP];
	dot_tile(hp, qa, BF_HP_MAX, kp, kstride, np, acc);
#pragma GCC unroll 6
	for (int i = 0; i < BF_MR; i++) {
		__m512 mx = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 4
		for (int p = 0; p < np; p++) {
			_mm512_storeu_ps(s + (size_t)i * ld_s + p * 16, acc[i][p]);
			if (rmax)
				mx = _mm512_mask_max_ps(mx, lanes(ncols - p * 16), mx, acc[i][p]);
		}
		if (rmax) {
			const float m = _mm512_reduce_max_ps(mx);
			rmax[i] = m > rmax[i] ? m : rmax[i];
		}
	}
}

/* O rows i < mr, columns [0, ncols) from the tile's start: (E V)[i] * inv[i]. */
ALWAYS_INLINE void value_tile(int npairs, const uint32_t *e, int lde, const uint32_t *vp,
                              size_t vstride, float *o, size_t ldo, int mr, int ncols,
                              const float *inv, int np)
{
	__m512 acc[BF_MR][BF_NP];
	dot_tile(npairs, e, lde, vp, vstride, np, acc);
#pragma GCC unroll 6
	for (int i = 0; i < BF_MR; i++) {
		if (i >= mr)
			break;
		const __m512 sc = _mm512_set1_ps(inv[i]);
#pragma GCC unroll 4
		for (int p = 0; p < np; p++)
			_mm512_mask_storeu_ps(o + (size_t)i * ldo + p * 16, lanes(ncols - p * 16),
			                      _mm512_mul_ps(acc[i][p], sc));
	}
}

static void score_tiles(int hp, const uint32_t *qa, const uint32_t *kp, size_t kstride, float *s,
                        int ld_s, int np, int ncols, float *rmax)
{
	switch (np) {
	case 1: score_tile(hp, qa, kp, kstride, s, ld_s, 1, ncols, rmax); break;
	case 2: score_tile(hp, qa, kp, kstride, s, ld_s, 2, ncols, rmax); break;
	case 3: score_tile(hp, qa, kp, kstride, s, ld_s, 3, ncols, rmax); break;
	default: score_tile(hp, qa, kp, kstride, s, ld_s, 4, ncols, rmax); break;
	}
}

static void value_tiles(int npairs, const uint32_t *e, int lde, const uint32_t *vp, size_t vstride,
                        float *o, size_t ldo, int mr, int ncols, const float *inv, int np)
{
	switch (np) {
	case 1: value_tile(npairs, e, lde, vp, vstride, o, ldo, mr, ncols, inv, 1); break;
	case 2: value_tile(npairs, e, lde, vp, vstride, o, ldo, mr, ncols, inv, 2); break;
	case 3: value_tile(npairs, e, lde, vp, vstride, o, ldo, mr, ncols, inv, 3); break;
	default: value_tile(npairs, e, lde, vp, vstride, o, ldo, mr, ncols, inv, 4); break;
	}
}

void attention_ext_bf16_avx512bf16(const float *q, const float *k, const float *v, int ld,
                                   float *out, int ldo, int t, int n_valid, int window,
                                   const float *rel_bias, int bias_ld, int n_heads, int head_dim,
                                   float scale, float *scratch, int ith, int nth)
{
	if (head_dim > ATT_DC) {
		attention_ext_f32_avx512(q, k, v, ld, out, ldo, t, n_valid, window, rel_bias,
		                         bias_ld, n_heads, head_dim, scale, scratch, ith, nth);
		return;
	}
	if (t <= 0 || n_heads <= 0 || head_dim <= 0)
		return;
	const size_t t16 = ceil_to((size_t)t, 16);
	float *s = scratch;
	const int hp = (head_dim + 1) / 2;
	uint32_t *kp = (uint32_t *)(s + ATT_QB * t16);
	uint32_t *vp = kp + t16 * hp;
	uint32_t qa[ATT_QB][BF_HP_MAX];
	float inv_sum[ATT_QB];

	const struct att_plan pl = att_plan_make(t, n_valid, n_heads, BF_MR, ith, nth);
	const int qb = pl.qb, nqb = pl.nqb, nv = pl.nv, ld_s = pl.ld_s;
	const int np2 = (nv + 1) / 2;
	int packed_head = -1;
	for (int item = pl.b; item < pl.e; item++) {
		const int h = item / nqb, i0 = item % nqb * qb;
		const int mb = t - i0 < qb ? t - i0 : qb;
		const size_t col = (size_t)h * head_dim;
		int kb, ke;
		if (!att_key_range(i0, mb, nv, window, &kb, &ke, out + (size_t)i0 * ldo + col, ldo,
		                   head_dim))
			continue;
		if (packed_head != h) {
			pack_keys(kp, k + col, (size_t)ld, nv, head_dim);
			pack_values(vp, v + col, (size_t)ld, nv, head_dim);
			packed_head = h;
		}
		const int mbr = (int)ceil_to((size_t)mb, BF_MR);
		for (int i = 0; i < mbr; i++) {
			if (i < mb)
				row_to_pairs(qa[i], q + (size_t)(i0 + i) * ld + col, head_dim);
			else
				memset(qa[i], 0, sizeof(uint32_t) * hp);
		}

		/* S = Q K^T over the panels [jp0, jp1) that hold keys [kb, ke); plain rows (no
		 * window, no bias) get their maxima from the tiles on the way. */
		const bool plain = window < 0 && !rel_bias;
		float rmax[ATT_QB];
		for (int i = 0; i < mbr; i++)
			rmax[i] = -INFINITY;
		const int jp0 = kb / 16, jp1 = (ke + 15) / 16;
		for (int ir = 0; ir < mbr; ir += BF_MR)
			for (int jp = jp0; jp < jp1; jp += BF_NP)
				score_tiles(hp, qa[ir], kp + (size_t)jp * hp * 16, (size_t)hp * 16,
				            s + (size_t)ir * ld_s + (jp * 16 - kb), ld_s,
				            jp1 - jp < BF_NP ? jp1 - jp : BF_NP, ke - jp * 16,
				            plain ? rmax + ir : NULL);

		/* E = the exponentials as bf16 pairs in place, inv_sum = 1 / their fp32 sums. */
		const int nk = ke - kb, npk = (nk + 1) / 2;
		if (plain) {
			for (int i = 0; i < mb; i++)
				inv_sum[i] =
				    exp_row_pairs(s + (size_t)i * ld_s, nk, scale, rmax[i]);
		} else {
			att_exp_rows(s, ld_s, i0, mb, kb, ke, window, rel_bias, bias_ld, h, scale,
			             inv_sum, softmax_exp16);
			for (int i = 0; i < mb; i++)
				row_to_pairs((uint32_t *)(s + (size_t)i * ld_s),
				             s + (size_t)i * ld_s, nk);
		}

		/* O = E V / sums; E's pairs start at key kb (a multiple of 16, so of 2). */
		const int ncp = (head_dim + 15) / 16;
		for (int ir = 0; ir < mb; ir += BF_MR)
			for (int cp = 0; cp < ncp; cp += BF_NP)
				value_tiles(npk, (const uint32_t *)(s + (size_t)ir * ld_s), ld_s,
				            vp + ((size_t)cp * np2 + kb / 2) * 16, (size_t)np2 * 16,
				            out + (size_t)(i0 + ir) * ldo + col + cp * 16,
				            (size_t)ldo, mb - ir < BF_MR ? mb - ir : BF_MR,
				            head_dim - cp * 16, inv_sum + ir,
				            ncp - cp < BF_NP ? ncp - cp : BF_NP);
	}
}
