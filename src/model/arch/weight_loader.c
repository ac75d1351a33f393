/* Loading an encoder's tensors (see weight_loader.h). */
#include "model/arch/weight_loader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The tensor called name (checked against shape). A LayerNorm parameter falls back to the old
 * TensorFlow names gamma / beta, which transformers also renames on load. */
static enum sy_status find(struct weight_loader *l, const char *name, int nd, const int64_t *shape,
                           const struct st_tensor **t)
{
	enum sy_status s = safetensors_get(l->st, name, nd, shape, l->err, t);
	if (s != SY_ERR_NOT_FOUND)
		return s;
	const size_t n = strlen(name);
	const char *alt = n > 16 && !strcmp(name + n - 16, "LayerNorm.weight") ? "gamma"
	                  : n > 14 && !strcmp(name + n - 14, "LayerNorm.bias") ? "beta"
	                                                                       : NULL;
	if (!alt)
		return s;
	char alt_name[256];
	snprintf(alt_name, sizeof alt_name, "%.*s%s", (int)(strrchr(name, '.') - name + 1), name,
	         alt);
	return safetensors_find(l->st, alt_name)
	           ? safetensors_get(l->st, alt_name, nd, shape, l->err, t)
	           : s;
}

/* Reads name as fp32 into dst (its size given by shape) and counts it. */
static enum sy_status read_into(struct weight_loader *l, const char *name, int nd,
                                const int64_t *shape, float *dst)
{
	const struct st_tensor *t;
	enum sy_status s = find(l, name, nd, shape, &t);
	if (s != SY_OK)
		return s;
	l->bytes += (size_t)t->n_elems * sizeof(float);
	s = safetensors_tensor_read_f32(t, l->err, dst);
	/* the fp32 copy is what stays: the file's pages need not stay resident beside it */
	safetensors_release(l->st, t);
	return s;
}

static enum sy_status read_named(struct weight_loader *l, const char *name, float **out, int nd,
                                 const int64_t *shape)
{
	size_t n = 1;
	for (int i = 0; i < nd; i++)
		n *= (size_t)(shape[i] > 0 ? shape[i] : 0);
	*out = malloc(n * sizeof(float) + 1);
	if (!*out)
		return sy_error_set(l->err, SY_ERR_NOMEM, "out of memory loading %s", name);
	enum sy_status s = read_into(l, name, nd, shape, *out);
	if (s != SY_OK) {
		free(*out);
		*out = NULL;
	}
	return s;
}

/* Packs w [n][k] (already counted as fp32) and counts the packed copy instead. */
static enum sy_status pack(struct weight_loader *l, const float *w, int n, int k,
                           struct linear *out)
{
	enum sy_status s = linear_pack(w, n, k, l->prec, l->err, out);
	if (s == SY_OK)
		l->bytes = l->bytes - (size_t)n * k * sizeof(float) + linear_bytes(out);
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
	if (s == SY_OK)
		s = pack(l, tmp, n, k, w);
	free(tmp);
	if (s != SY_OK || !bias)
		return s;
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

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
enum sy_status weight_stacked(struct weight_loader *l, struct linear *w, float **bias,
                              const char *const *patterns, const int *rows, int n_parts, int k,
                              int layer)
{
	int total = 0;
	for (int i = 0; i < n_parts; i++)
		total += rows[i];
	float *all = malloc((size_t)total * k * sizeof *all + 1);
	if (bias)
		*bias = malloc((size_t)total * sizeof **bias + 1);
	enum sy_status s =
	    all && (!bias || *bias) ? SY_OK : sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	char base[224], name[256];
	for (int i = 0, at = 0; s == SY_OK && i < n_parts; at += rows[i], i++) {
		int p = snprintf(base, sizeof base, "%s", l->prefix ? l->prefix : "");
		snprintf(base + p, sizeof base - (size_t)p, patterns[i], layer);
		snprintf(name, sizeof name, "%s.weight", base);
		s = read_into(l, name, 2, (int64_t[]){rows[i], k}, all + (size_t)at * k);
		snprintf(name, sizeof name, "%s.bias", base);
		if (s == SY_OK && bias)
			s = read_into(l, name, 1, (int64_t[]){rows[i]}, *bias + at);
	}
	if (s == SY_OK)
		s = pack(l, all, total, k, w);
	free(all);
	return s;
}

enum sy_status weight_stacked_norm(struct weight_loader *l, float **gamma, float **beta,
                                   const char *pattern, int n, int layer)
{
	char base[192];
	snprintf(base, sizeof base, pattern, layer);
	return weight_norm(l, gamma, beta, n, "%s", base);
}
#pragma GCC diagnostic pop
