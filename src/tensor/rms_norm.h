/* RMSNorm (T5LayerNorm, as Llama, Qwen and Gemma use it): y = x / sqrt(mean(x^2) + eps) * w.
 * Gemma's variant scales by (1 + w) instead: pass offset 1. Portable C (the sum of squares in
 * double, the scaling in float, which the compiler vectorises); y may alias x. */
#ifndef SY_TENSOR_RMS_NORM_H
#define SY_TENSOR_RMS_NORM_H

void rms_norm_f32(float *y, const float *x, const float *w, float offset, int n, float eps);
/* The scalar twin, all in double. */
void rms_norm_f32_ref(float *y, const float *x, const float *w, float offset, int n, float eps);

#endif
