/* RMSNorm (tensor/rms_norm.c) against its scalar twin: sizes around vector widths, large and
 * tiny magnitudes, Gemma's (1 + w) offset, and y aliasing x. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensor/rms_norm.h"

static void check(int n, float scale, float offset)
{
	float *x = calloc((size_t)n, sizeof(float)), *w = calloc((size_t)n, sizeof(float));
	float *y = malloc(sizeof(float) * (size_t)n), *r = malloc(sizeof(float) * (size_t)n);
	unsigned seed = (unsigned)n * 2654435761u;
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = scale * ((float)((seed >> 8) % 20001) / 10000.0f - 1.0f);
		w[i] = 1.0f + 0.1f * (float)(i % 7) - 0.3f;
	}
	rms_norm_f32(y, x, w, offset, n, 1e-6f);
	rms_norm_f32_ref(r, x, w, offset, n, 1e-6f);
	double worst = 0;
	for (int i = 0; i < n; i++)
		worst = fmax(worst, fabs(y[i] - r[i]) / (fabs(r[i]) + 1e-30));
	CHECKF(worst < 4e-7, "n=%d scale=%g offset=%g: relative error %g", n, scale, offset, worst);
	memcpy(y, x, sizeof(float) * (size_t)n);
	rms_norm_f32(y, y, w, offset, n, 1e-6f); /* in place */
	double worst_alias = 0;
	for (int i = 0; i < n; i++)
		worst_alias = fmax(worst_alias, fabs(y[i] - r[i]) / (fabs(r[i]) + 1e-30));
	CHECKF(worst_alias < 4e-7, "in place n=%d: %g", n, worst_alias);
	free(x);
	free(w);
	free(y);
	free(r);
}

static void test_rms_norm(void)
{
	static const int sizes[] = {1, 7, 8, 9, 64, 128, 1024, 1031};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		check(sizes[i], 1.0f, 0.0f);
		check(sizes[i], 300.0f, 0.0f); /* outlier-sized activations */
		check(sizes[i], 1e-3f, 1.0f);
	}
}

int main(void)
{
	RUN(test_rms_norm);
	return harness_summary();
}
