/* Byte counts with K/M/G/T suffixes (see size.h). */
#include "base/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

enum sy_status sy_size_parse(const char *s, struct sy_error *err, size_t *out)
{
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': expected a byte count such as 512M or 2G", s);
	/* Digits with an optional fraction; strtod alone would also take exponents and hex. */
	const char *q = p;
	while (isdigit((unsigned char)*q))
		q++;
	if (*q == '.' && isdigit((unsigned char)q[1]))
		for (q++; isdigit((unsigned char)*q); q++)
			;
	if (*q == 'e' || *q == 'E' || *q == 'x' || *q == 'X')
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': expected a byte count such as 512M or 2G", s);
	errno = 0;
	char *end;
	double v = strtod(p, &end);
	if (errno || v < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': not a valid size", s);
	double mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1024.0, end++; break;
	case 'M': mul = 1024.0 * 1024, end++; break;
	case 'G': mul = 1024.0 * 1024 * 1024, end++; break;
	case 'T': mul = 1024.0 * 1024 * 1024 * 1024, end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': unknown unit; use K, M, G or T (powers of 1024)", s);
	double bytes = v * mul;
	if (bytes > 9.0e18)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': too large", s);
	if (mul == 1 && v != (double)(size_t)v)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': a byte count must be whole", s);
	*out = (size_t)bytes;
	return SY_OK;
}
