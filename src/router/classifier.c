/* Multinomial logistic regression (see classifier.h). */
#include "router/classifier.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "tensor/gemm.h"

struct classifier_train_options classifier_default_options(void)
{
	return (struct classifier_train_options){.l2 = 1e-5, .lr = 32.0, .epochs = 400};
}

void classifier_free(struct classifier *c)
{
	if (!c)
		return;
	for (int i = 0; c->labels && i < c->n_classes; i++)
		free(c->labels[i]);
	free(c->labels);
	free(c->W);
	free(c->b);
	free(c);
}

static struct classifier *classifier_alloc(int n_classes, int dims)
{
	struct classifier *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->n_classes = n_classes;
	c->dims = dims;
	c->threshold = -1;
	c->labels = calloc((size_t)n_classes, sizeof *c->labels);
	c->W = calloc((size_t)n_classes * dims, sizeof *c->W);
	c->b = calloc((size_t)n_classes, sizeof *c->b);
	if (!c->labels || !c->W || !c->b) {
		classifier_free(c);
		return NULL;
	}
	return c;
}

static void softmax_row(const float *W, const float *b, const float *x, int K, int D, double *p)
{
	double mx = -INFINITY;
	for (int k = 0; k < K; k++) {
		double z = b[k];
		const float *w = W + (size_t)k * D;
		for (int d = 0; d < D; d++)
			z += (double)w[d] * x[d];
		p[k] = z;
		if (z > mx)
			mx = z;
	}
	double s = 0;
	for (int k = 0; k < K; k++) {
		p[k] = exp(p[k] - mx);
		s += p[k];
	}
	for (int k = 0; k < K; k++)
		p[k] /= s;
}

/* Full-batch gradient descent with momentum. Both products of an epoch are GEMMs: the logits
 * Z[n][K] = X W^T, and the weight gradient G^T X as (G^T)[K][n] times X^T packed as weights of
 * shape [D][n] (packed once). */
enum sy_status classifier_train(const float *X, const int *y, int n, int dims,
                                const char *const *labels, int n_classes,
                                const struct classifier_train_options *o, struct sy_error *err,
                                struct classifier **out)
{
	*out = NULL;
	if (n < 1 || dims < 1 || n_classes < 2)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "training needs examples of at least two classes (%d examples, "
		                    "%d classes)",
		                    n, n_classes);
	for (int i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= n_classes)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "example %d: class %d out of range", i, y[i]);
	struct classifier_train_options def = classifier_default_options();
	if (!o)
		o = &def;
	const int K = n_classes, D = dims;
	struct classifier *c = classifier_alloc(K, D);
	float *Z = malloc((size_t)n * K * sizeof *Z); /* logits, then gradients */
	float *Gt = malloc((size_t)K * n * sizeof *Gt); /* [K][n] */
	float *gW = malloc((size_t)K * D * sizeof *gW);
	float *Xt = malloc((size_t)D * n * sizeof *Xt);
	double *vW = calloc((size_t)K * D, sizeof *vW), *vb = calloc((size_t)K, sizeof *vb);
	struct gemm_weights xt = {0}, wp = {0};
	enum sy_status s = c && Z && Gt && gW && Xt && vW && vb ? SY_OK : SY_ERR_NOMEM;
	if (s == SY_OK) {
		for (int i = 0; i < n; i++)
			for (int d = 0; d < D; d++)
				Xt[(size_t)d * n + i] = X[(size_t)i * D + d];
		s = gemm_weights_pack(Xt, D, n, err, &xt);
	} else {
		sy_error_set(err, s, "out of memory");
	}
	for (int k = 0; s == SY_OK && k < K; k++)
		c->labels[k] = strdup(labels[k] ? labels[k] : "");
	const double mom = 0.9;
	for (int ep = 0; s == SY_OK && ep < o->epochs; ep++) {
		gemm_weights_free(&wp);
		s = gemm_weights_pack(c->W, K, D, err, &wp);
		if (s != SY_OK)
			break;
		gemm_linear(X, D, &wp, c->b, GEMM_EPILOGUE_NONE, Z, K, n, 0, 1);
		double gb[1024];
		double *gbp = K <= 1024 ? gb : calloc((size_t)K, sizeof *gbp);
		if (!gbp) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		memset(gbp, 0, (size_t)K * sizeof *gbp);
		for (int i = 0; i < n; i++) {
			float *z = Z + (size_t)i * K;
			float mx = z[0];
			for (int k = 1; k < K; k++)
				mx = z[k] > mx ? z[k] : mx;
			double sum = 0;
			for (int k = 0; k < K; k++)
				sum += exp((double)z[k] - mx);
			for (int k = 0; k < K; k++) {
				double g = exp((double)z[k] - mx) / sum - (y[i] == k);
				Gt[(size_t)k * n + i] = (float)g;
				gbp[k] += g;
			}
		}
		gemm_linear(Gt, n, &xt, NULL, GEMM_EPILOGUE_NONE, gW, D, K, 0, 1);
		for (int k = 0; k < K; k++) {
			for (int d = 0; d < D; d++) {
				size_t j = (size_t)k * D + d;
				double g = gW[j] / n + o->l2 * c->W[j];
				vW[j] = mom * vW[j] - o->lr * g;
				c->W[j] += (float)vW[j];
			}
			vb[k] = mom * vb[k] - o->lr * gbp[k] / n;
			c->b[k] += (float)vb[k];
		}
		if (gbp != gb)
			free(gbp);
	}
	gemm_weights_free(&wp);
	gemm_weights_free(&xt);
	free(Z), free(Gt), free(gW), free(Xt), free(vW), free(vb);
	if (s != SY_OK) {
		classifier_free(c);
		return s;
	}
	*out = c;
	return SY_OK;
}

int classifier_predict(const struct classifier *c, const float *x, float *probs)
{
	double p[512];
	double *pp = c->n_classes <= 512 ? p : malloc((size_t)c->n_classes * sizeof *pp);
	if (!pp)
		return 0;
	softmax_row(c->W, c->b, x, c->n_classes, c->dims, pp);
	int best = 0;
	for (int k = 0; k < c->n_classes; k++) {
		if (probs)
			probs[k] = (float)pp[k];
		if (pp[k] > pp[best])
			best = k;
	}
	if (pp != p)
		free(pp);
	return best;
}

double classifier_p1(const struct classifier *c, const float *x)
{
	double z = (double)c->b[1] - c->b[0];
	const float *w0 = c->W, *w1 = c->W + c->dims;
	for (int d = 0; d < c->dims; d++)
		z += ((double)w1[d] - w0[d]) * x[d];
	return 1 / (1 + exp(-z));
}

enum sy_status classifier_save(const struct classifier *c, const char *path, struct sy_error *err)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return sy_error_set(err, SY_ERR_IO, "cannot write %s", path);
	fprintf(
	    f,
	    "{\"type\":\"logreg\",\"encoder\":\"%s\",\"dims\":%d,\"threshold\":%.9g,\"labels\":[",
	    c->encoder, c->dims, c->threshold);
	for (int k = 0; k < c->n_classes; k++) {
		cJSON *s = cJSON_CreateString(c->labels[k]);
		char *t = cJSON_PrintUnformatted(s);
		fprintf(f, "%s%s", k ? "," : "", t ? t : "\"\"");
		cJSON_free(t);
		cJSON_Delete(s);
	}
	fputs("],\"b\":[", f);
	for (int k = 0; k < c->n_classes; k++)
		fprintf(f, "%s%.9g", k ? "," : "", c->b[k]);
	fputs("],\"W\":[", f);
	for (int k = 0; k < c->n_classes; k++) {
		fputs(k ? ",[" : "[", f);
		for (int d = 0; d < c->dims; d++)
			fprintf(f, "%s%.9g", d ? "," : "", c->W[(size_t)k * c->dims + d]);
		fputc(']', f);
	}
	fputs("]}\n", f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad)
		return sy_error_set(err, SY_ERR_IO, "cannot write %s", path);
	return SY_OK;
}

enum sy_status classifier_load(const char *path, struct sy_error *err, struct classifier **out)
{
	*out = NULL;
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(doc, "labels");
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(doc, "dims");
	const cJSON *W = cJSON_GetObjectItemCaseSensitive(doc, "W");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "b");
	const int K = cJSON_GetArraySize(labels);
	const int D = cJSON_IsNumber(dims) ? (int)dims->valuedouble : 0;
	if (!cJSON_IsObject(doc) || K < 2 || K > 100000 || D < 1 || D > 65536 ||
	    cJSON_GetArraySize(W) != K || cJSON_GetArraySize(b) != K) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: not a classifier (labels, dims, W [labels][dims], b)",
		                    path);
	}
	struct classifier *c = classifier_alloc(K, D);
	if (!c) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(doc, "encoder");
	if (cJSON_IsString(enc))
		snprintf(c->encoder, sizeof c->encoder, "%s", enc->valuestring);
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(doc, "threshold");
	c->threshold = cJSON_IsNumber(th) ? th->valuedouble : -1;
	int k = 0;
	const cJSON *l, *row;
	cJSON_ArrayForEach(l, labels) c->labels[k++] =
	    strdup(cJSON_IsString(l) ? l->valuestring : "");
	k = 0;
	cJSON_ArrayForEach(l, b) c->b[k++] = cJSON_IsNumber(l) ? (float)l->valuedouble : 0;
	k = 0;
	bool ok = true;
	cJSON_ArrayForEach(row, W)
	{
		if (cJSON_GetArraySize(row) != D) {
			ok = false;
			break;
		}
		int d = 0;
		cJSON_ArrayForEach(l, row)
		{
			if (!cJSON_IsNumber(l))
				ok = false;
			c->W[(size_t)k * D + d++] = (float)l->valuedouble;
		}
		k++;
	}
	cJSON_Delete(doc);
	if (!ok) {
		classifier_free(c);
		return sy_error_set(err, SY_ERR_FORMAT, "%s: a row of W is not %d numbers", path,
		                    D);
	}
	*out = c;
	return SY_OK;
}
