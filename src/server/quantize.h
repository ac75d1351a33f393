/* Output dtypes of /v1/encode (params.output_dtype), quantised exactly as SIE's
 * QuantizePostprocessor does (sie_server core/postprocessor.py), one row at a time:
 *
 * - int8: symmetric, round(x / max|x| * 127) (an all-zero row stays zero);
 * - uint8: min-max, round((x - min) / (max - min) * 255) (a constant row is all 0);
 * - binary, ubinary: numpy.packbits(x > 0), most significant bit first, ceil(n / 8) bytes;
 * - float16: round to nearest even.
 *
 * The arithmetic is float32 as numpy's is, and rounding is half to even (numpy.round, rintf in
 * the default rounding mode), so values equal SIE's bit for bit. Sparse vectors stay float
 * (float16 when asked), as in SIE. */
#ifndef SY_SERVER_QUANTIZE_H
#define SY_SERVER_QUANTIZE_H

#include <stdint.h>

enum output_dtype {
	OUTPUT_DTYPE_FLOAT32,
	OUTPUT_DTYPE_FLOAT16,
	OUTPUT_DTYPE_INT8,
	OUTPUT_DTYPE_UINT8,
	OUTPUT_DTYPE_BINARY,
	OUTPUT_DTYPE_UBINARY,
};

/* "float32", ... -> the dtype; -1 for anything else. */
int output_dtype_parse(const char *s);
const char *output_dtype_name(enum output_dtype d);

void quantize_int8(const float *x, int n, int8_t *out);
void quantize_uint8(const float *x, int n, uint8_t *out);
/* out: (n + 7) / 8 bytes. */
void quantize_packbits(const float *x, int n, uint8_t *out);

#endif
