/* RMSNorm (see rms_norm.h). */
#include "tensor/rms_norm.h"

#include <math.h>

void rms_norm_f32(float *y, const float *x, const float *w, float offset, int n, float eps)
{
	double ss = 0;
	for (int i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	const float inv = (float)(1.0 / sqrt(ss / (n > 0 ? n : 1) + eps));
	for (int i = 0; i < n; i++)
		y[i] = x[i] * inv * (w[i] + offset);
}

void rms_norm_f32_ref(float *y, const float *x, const float *w, float offset, int n, float eps)
{
	double ss = 0;
	for (int i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	const double inv = 1.0 / sqrt(ss / (n > 0 ? n : 1) + eps);
	for (int i = 0; i < n; i++)
		y[i] = (float)(x[i] * inv * ((double)w[i] + offset));
}
