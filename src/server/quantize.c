/* SIE's output quantisation (see quantize.h). */
#include "server/quantize.h"

#include <math.h>
#include <string.h>

static const char *const dtype_names[] = {"float32", "float16", "int8",
                                          "uint8",   "binary",  "ubinary"};

int output_dtype_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof dtype_names / sizeof *dtype_names); i++)
		if (!strcmp(s, dtype_names[i]))
			return i;
	return -1;
}

const char *output_dtype_name(enum output_dtype d)
{
	return dtype_names[d];
}

void quantize_int8(const float *x, int n, int8_t *out)
{
	float scale = 0;
	for (int i = 0; i < n; i++)
		scale = fmaxf(scale, fabsf(x[i]));
	if (scale == 0)
		scale = 1; /* numpy: where(scale == 0, 1, scale) */
	for (int i = 0; i < n; i++) {
		const float q = x[i] / scale * 127.0f;
		out[i] = (int8_t)rintf(q);
	}
}

void quantize_uint8(const float *x, int n, uint8_t *out)
{
	if (n <= 0)
		return;
	float lo = x[0], hi = x[0];
	for (int i = 1; i < n; i++) {
		lo = fminf(lo, x[i]);
		hi = fmaxf(hi, x[i]);
	}
	float range = hi - lo;
	if (range == 0)
		range = 1;
	for (int i = 0; i < n; i++) {
		const float q = (x[i] - lo) / range * 255.0f;
		out[i] = (uint8_t)rintf(q);
	}
}

void quantize_packbits(const float *x, int n, uint8_t *out)
{
	memset(out, 0, (size_t)(n + 7) / 8);
	for (int i = 0; i < n; i++)
		if (x[i] > 0)
			out[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}
