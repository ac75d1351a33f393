/* Multi-head attention in fp32, AVX-512 path (compiled with the AVX-512 flags): the shared
 * kernel of attention_impl.h with the 16-lane softmax of vecmath512.h (vscalefps for 2^n, the
 * scale folded into one fmsub), which is what the AVX2 build spends a third of its attention time
 * on. The score and value products stay on the AVX2 micro-kernel: on Zen 4 a zmm FMA costs two
 * ymm ones, so a zmm tile measured no faster (docs/PERFORMANCE.md section 9). */
#include <immintrin.h>

#include "tensor/kernels.h"
#include "tensor/vecmath512.h"

static void att_scale_row(float *o, int n, float s)
{
	const __m512 vs = _mm512_set1_ps(s);
	for (int e = 0; e < n; e += 16) {
		const __mmask16 m = lanes(n - e);
		_mm512_mask_storeu_ps(o + e, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + e), vs));
	}
}

/* attention_impl.h calls SY_ISA_FN(x) for these: this path's are the AVX2 ones, except the
 * softmax. */
#define gemm_pack_bt_avx512 gemm_pack_bt_avx2
#define gemm_micro_tile_rows_avx512 gemm_micro_tile_rows_avx2
#define softmax_exp_f32_avx512 softmax_exp16

#define SY_ISA_FN(name) name##_avx512
#include "tensor/attention_impl.h"
