/* Loading an encoder's tensors (see weight_loader.h). */
#include "model/arch/weight_loader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void full_name(const struct weight_loader *l, char *buf, size_t cap, const char *fmt,
                      va_list ap)
{
	int k = snprintf(buf, cap, "%s", l->prefix ? l->prefix : "");
	if (k < 0 || (size_t)k >= cap)
		k = 0;
	vsnprintf(buf + k, cap - (size_t)k, fmt, ap);
}

bool weight_exists(const struct weight_loader *l, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	full_name(l, name, sizeof name, fmt, ap);
	va_end(ap);
	return safetensors_find(l->st, name) != NULL;
}

static enum sy_status read_named(struct weight_loader *l, const char *name, float **out, int nd,
                                 const int64_t *shape)
{
	*out = NULL;
	const struct st_tensor *t;
	enum sy_status s = safetensors_get(l->st, name, nd, shape, l->err, &t);
	if (s != SY_OK)
		return s;
	*out = malloc((size_t)t->n_elems * sizeof(float) + 1);
	if (!*out)
		return sy_error_set(l->err, SY_ERR_NOMEM, "out of memory loading %s", name);
	l->bytes += (size_t)t->n_elems * sizeof(float);
	s = safetensors_tensor_read_f32(t, l->err, *out);
	if (s != SY_OK) {
		free(*out);
		*out = NULL;
	}
	return s;
}

enum sy_status weight_tensor(struct weight_loader *l, float **out, int nd, const int64_t *shape,
                             const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	full_name(l, name, sizeof name, fmt, ap);
	va_end(ap);
	return read_named(l, name, out, nd, shape);
}

enum sy_status weight_linear(struct weight_loader *l, struct linear *w, float **bias, int n, int k,
                             const char *fmt, ...)
{
	char base[224], name[256];
	va_list ap;
	va_start(ap, fmt);
	full_name(l, base, sizeof base, fmt, ap);
	va_end(ap);
	if (bias)
		*bias = NULL;
	float *tmp;
	snprintf(name, sizeof name, "%s.weight", base);
	enum sy_status s = read_named(l, name, &tmp, 2, (int64_t[]){n, k});
	if (s != SY_OK)
		return s;
	s = linear_pack(tmp, n, k, l->prec, l->err, w);
	free(tmp);
	if (s != SY_OK)
		return s;
	/* What is held is the packed copy, not the fp32 read. */
	l->bytes = l->bytes - (size_t)n * k * sizeof(float) + linear_bytes(w);
	if (!bias)
		return SY_OK;
	snprintf(name, sizeof name, "%s.bias", base);
	return read_named(l, name, bias, 1, (int64_t[]){n});
}

enum sy_status weight_norm(struct weight_loader *l, float **gamma, float **beta, int n,
                           const char *fmt, ...)
{
	char base[224], name[256];
	va_list ap;
	va_start(ap, fmt);
	full_name(l, base, sizeof base, fmt, ap);
	va_end(ap);
	if (beta)
		*beta = NULL;
	snprintf(name, sizeof name, "%s.weight", base);
	enum sy_status s = read_named(l, name, gamma, 1, (int64_t[]){n});
	if (s != SY_OK || !beta)
		return s;
	snprintf(name, sizeof name, "%s.bias", base);
	return read_named(l, name, beta, 1, (int64_t[]){n});
}
