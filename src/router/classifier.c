/* Multinomial logistic regression, or a one-hidden-layer MLP head (see classifier.h). */
#include "router/classifier.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "tensor/gemm.h"

struct classifier_train_options classifier_default_options(void)
{
	return (struct classifier_train_options){
	    .l2 = 1e-5, .lr = 32.0, .epochs = 400, .hidden = 0};
}

void classifier_free(struct classifier *c)
{
	if (!c)
		return;
	for (int i = 0; c->labels && i < c->n_classes; i++)
		free(c->labels[i]);
	free(c->labels);
	free(c->W1);
	free(c->b1);
	free(c->W);
	free(c->b);
	free(c);
}

static struct classifier *classifier_alloc(int n_classes, int dims, int hidden)
{
	struct classifier *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->n_classes = n_classes;
	c->dims = dims;
	c->hidden = hidden;
	c->threshold = -1;
	const int F = hidden > 0 ? hidden : dims;
	c->labels = calloc((size_t)n_classes, sizeof *c->labels);
	c->W = calloc((size_t)n_classes * F, sizeof *c->W);
	c->b = calloc((size_t)n_classes, sizeof *c->b);
	if (hidden > 0) {
		c->W1 = calloc((size_t)hidden * dims, sizeof *c->W1);
		c->b1 = calloc((size_t)hidden, sizeof *c->b1);
	}
	if (!c->labels || !c->W || !c->b || (hidden > 0 && (!c->W1 || !c->b1))) {
		classifier_free(c);
		return NULL;
	}
	return c;
}

/* z[K] = W f + b over the features f[F] (double precision). */
static int logits_of(const float *W, const float *b, const double *f, const float *xf, int K, int F,
                     double *z)
{
	int best = 0;
	for (int k = 0; k < K; k++) {
		double v = b[k];
		const float *w = W + (size_t)k * F;
		if (f)
			for (int d = 0; d < F; d++)
				v += (double)w[d] * f[d];
		else
			for (int d = 0; d < F; d++)
				v += (double)w[d] * xf[d];
		z[k] = v;
		if (v > z[best])
			best = k;
	}
	return best;
}

int classifier_logits(const struct classifier *c, const float *x, double *z)
{
	if (c->hidden <= 0)
		return logits_of(c->W, c->b, NULL, x, c->n_classes, c->dims, z);
	double hs[1024];
	double *h = c->hidden <= 1024 ? hs : malloc((size_t)c->hidden * sizeof *h);
	if (!h)
		return 0;
	for (int j = 0; j < c->hidden; j++) {
		double v = c->b1[j];
		const float *w = c->W1 + (size_t)j * c->dims;
		for (int d = 0; d < c->dims; d++)
			v += (double)w[d] * x[d];
		h[j] = v > 0 ? v : 0;
	}
	const int best = logits_of(c->W, c->b, h, NULL, c->n_classes, c->hidden, z);
	if (h != hs)
		free(h);
	return best;
}

/* Softmax of z[K] in place. */
static void softmax_inplace(double *z, int K)
{
	double mx = -INFINITY;
	for (int k = 0; k < K; k++)
		mx = z[k] > mx ? z[k] : mx;
	double s = 0;
	for (int k = 0; k < K; k++) {
		z[k] = exp(z[k] - mx);
		s += z[k];
	}
	for (int k = 0; k < K; k++)
		z[k] /= s;
}

/* The cross-entropy gradient of logits Z[n][K] (softmax minus one-hot) into Gt[K][n] (the
 * transpose, for the weight gradient's GEMM) and its column sums into gb[K]. */
static void ce_grad(const float *Z, const int *y, int n, int K, float *Gt, double *gb)
{
	memset(gb, 0, (size_t)K * sizeof *gb);
	for (int i = 0; i < n; i++) {
		const float *z = Z + (size_t)i * K;
		float mx = z[0];
		for (int k = 1; k < K; k++)
			mx = z[k] > mx ? z[k] : mx;
		double sum = 0;
		for (int k = 0; k < K; k++)
			sum += exp((double)z[k] - mx);
		for (int k = 0; k < K; k++) {
			double g = exp((double)z[k] - mx) / sum - (y[i] == k);
			Gt[(size_t)k * n + i] = (float)g;
			gb[k] += g;
		}
	}
}

/* A momentum step on w[m] with gradient g[m]/n + l2 w. */
static void momentum_step(float *w, double *v, const float *g, int m, double n, double l2,
                          double lr)
{
	for (int j = 0; j < m; j++) {
		const double gj = g[j] / n + l2 * w[j];
		v[j] = 0.9 * v[j] - lr * gj;
		w[j] += (float)v[j];
	}
}

/* The MLP head: the same full-batch gradient descent with momentum through one ReLU layer.
 * Per epoch, five GEMMs: H = relu(X W1^T + b1), Z = H W^T + b, gW = G^T H, gH = G W (masked by
 * H > 0), gW1 = gH^T X. W1 starts from a fixed-seed He initialisation (uniform, for rows of
 * unit length), so training is deterministic. */
static enum sy_status mlp_train(struct classifier *c, const float *X, const int *y, int n,
                                const struct classifier_train_options *o, struct sy_error *err)
{
	const int K = c->n_classes, D = c->dims, H = c->hidden;
	uint32_t seed = 12345u;
	/* He initialisation for rows of unit length (not unit variance per feature): variance
	 * 2 / |x|^2 = 2, so the hidden units start with a variance near 1 */
	const double a = sqrt(6.0);
	for (size_t j = 0; j < (size_t)H * D; j++) {
		seed = seed * 1664525u + 1013904223u;
		c->W1[j] = (float)(a * (2.0 * (seed >> 8) / 16777216.0 - 1.0));
	}
	float *Hm = malloc((size_t)n * H * sizeof *Hm); /* [n][H] */
	float *Ht = malloc((size_t)H * n * sizeof *Ht); /* [H][n] */
	float *Z = malloc((size_t)n * K * sizeof *Z);
	float *Gt = malloc((size_t)K * n * sizeof *Gt); /* [K][n] */
	float *G = malloc((size_t)n * K * sizeof *G); /* [n][K] */
	float *gH = malloc((size_t)n * H * sizeof *gH); /* [n][H] */
	float *gHt = malloc((size_t)H * n * sizeof *gHt); /* [H][n] */
	float *Wt = malloc((size_t)H * K * sizeof *Wt); /* [H][K] */
	float *Xt = malloc((size_t)D * n * sizeof *Xt);
	float *gW = malloc((size_t)K * H * sizeof *gW), *gW1 = malloc((size_t)H * D * sizeof *gW1);
	float *gb1 = malloc((size_t)H * sizeof *gb1), *gbf = malloc((size_t)K * sizeof *gbf);
	double *vW = calloc((size_t)K * H, sizeof *vW), *vb = calloc((size_t)K, sizeof *vb);
	double *vW1 = calloc((size_t)H * D, sizeof *vW1), *vb1 = calloc((size_t)H, sizeof *vb1);
	double *gb = malloc((size_t)K * sizeof *gb);
	struct gemm_weights xt = {0}, w1p = {0}, wp = {0}, htp = {0}, wtp = {0};
	enum sy_status s = Hm && Ht && Z && Gt && G && gH && gHt && Wt && Xt && gW && gW1 && gb1 &&
	                           gbf && vW && vb && vW1 && vb1 && gb
	                       ? SY_OK
	                       : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (s == SY_OK) {
		for (int i = 0; i < n; i++)
			for (int d = 0; d < D; d++)
				Xt[(size_t)d * n + i] = X[(size_t)i * D + d];
		s = gemm_weights_pack(Xt, D, n, err, &xt);
	}
	for (int ep = 0; s == SY_OK && ep < o->epochs; ep++) {
		gemm_weights_free(&w1p);
		gemm_weights_free(&wp);
		gemm_weights_free(&htp);
		gemm_weights_free(&wtp);
		s = gemm_weights_pack(c->W1, H, D, err, &w1p);
		if (s == SY_OK)
			s = gemm_weights_pack(c->W, K, H, err, &wp);
		if (s != SY_OK)
			break;
		gemm_linear(X, D, &w1p, c->b1, GEMM_EPILOGUE_RELU, Hm, H, n, 0, 1);
		gemm_linear(Hm, H, &wp, c->b, GEMM_EPILOGUE_NONE, Z, K, n, 0, 1);
		ce_grad(Z, y, n, K, Gt, gb);
		/* gW = G^T H: (G^T)[K][n] times H^T packed as weights [H][n] */
		for (int i = 0; i < n; i++)
			for (int j = 0; j < H; j++)
				Ht[(size_t)j * n + i] = Hm[(size_t)i * H + j];
		s = gemm_weights_pack(Ht, H, n, err, &htp);
		if (s != SY_OK)
			break;
		gemm_linear(Gt, n, &htp, NULL, GEMM_EPILOGUE_NONE, gW, H, K, 0, 1);
		/* gH = G W: G[n][K] times W^T packed as weights [H][K], then the ReLU's mask */
		for (int k = 0; k < K; k++)
			for (int j = 0; j < H; j++)
				Wt[(size_t)j * K + k] = c->W[(size_t)k * H + j];
		for (int i = 0; i < n; i++)
			for (int k = 0; k < K; k++)
				G[(size_t)i * K + k] = Gt[(size_t)k * n + i];
		s = gemm_weights_pack(Wt, H, K, err, &wtp);
		if (s != SY_OK)
			break;
		gemm_linear(G, K, &wtp, NULL, GEMM_EPILOGUE_NONE, gH, H, n, 0, 1);
		memset(gb1, 0, (size_t)H * sizeof *gb1);
		for (int i = 0; i < n; i++)
			for (int j = 0; j < H; j++) {
				float g = Hm[(size_t)i * H + j] > 0 ? gH[(size_t)i * H + j] : 0;
				gHt[(size_t)j * n + i] = g;
				gb1[j] += g;
			}
		/* gW1 = gH^T X: (gH^T)[H][n] times X^T packed as weights [D][n] */
		gemm_linear(gHt, n, &xt, NULL, GEMM_EPILOGUE_NONE, gW1, D, H, 0, 1);
		for (int k = 0; k < K; k++)
			gbf[k] = (float)gb[k];
		momentum_step(c->W, vW, gW, K * H, n, o->l2, o->lr);
		momentum_step(c->b, vb, gbf, K, n, 0, o->lr);
		momentum_step(c->W1, vW1, gW1, H * D, n, o->l2, o->lr);
		momentum_step(c->b1, vb1, gb1, H, n, 0, o->lr);
	}
	gemm_weights_free(&xt);
	gemm_weights_free(&w1p);
	gemm_weights_free(&wp);
	gemm_weights_free(&htp);
	gemm_weights_free(&wtp);
	free(Hm), free(Ht), free(Z), free(Gt), free(G), free(gH), free(gHt), free(Wt), free(Xt);
	free(gW), free(gW1), free(gb1), free(gbf), free(vW), free(vb), free(vW1), free(vb1);
	free(gb);
	return s;
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
	if (o->hidden > 0) {
		struct classifier *m = classifier_alloc(K, D, o->hidden);
		if (!m)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		for (int k = 0; k < K; k++)
			m->labels[k] = strdup(labels[k] ? labels[k] : "");
		enum sy_status ms = mlp_train(m, X, y, n, o, err);
		if (ms != SY_OK) {
			classifier_free(m);
			return ms;
		}
		*out = m;
		return SY_OK;
	}
	struct classifier *c = classifier_alloc(K, D, 0);
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
		ce_grad(Z, y, n, K, Gt, gbp);
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
	const int best = classifier_logits(c, x, pp);
	softmax_inplace(pp, c->n_classes);
	for (int k = 0; probs && k < c->n_classes; k++)
		probs[k] = (float)pp[k];
	if (pp != p)
		free(pp);
	return best;
}

double classifier_p1(const struct classifier *c, const float *x)
{
	if (c->hidden > 0) {
		double z[2];
		classifier_logits(c, x, z);
		return 1 / (1 + exp(-(z[1] - z[0])));
	}
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
	fprintf(f, "{\"type\":\"%s\",\"encoder\":\"%s\",\"dims\":%d,",
	        c->hidden > 0 ? "mlp" : "logreg", c->encoder, c->dims);
	if (c->hidden > 0) {
		fprintf(f, "\"hidden\":%d,\"b1\":[", c->hidden);
		for (int j = 0; j < c->hidden; j++)
			fprintf(f, "%s%.9g", j ? "," : "", c->b1[j]);
		fputs("],\"W1\":[", f);
		for (int j = 0; j < c->hidden; j++) {
			fputs(j ? ",[" : "[", f);
			for (int d = 0; d < c->dims; d++)
				fprintf(f, "%s%.9g", d ? "," : "", c->W1[(size_t)j * c->dims + d]);
			fputc(']', f);
		}
		fputs("],", f);
	}
	fprintf(f, "\"threshold\":%.9g,\"labels\":[", c->threshold);
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
	const int F = c->hidden > 0 ? c->hidden : c->dims;
	for (int k = 0; k < c->n_classes; k++) {
		fputs(k ? ",[" : "[", f);
		for (int d = 0; d < F; d++)
			fprintf(f, "%s%.9g", d ? "," : "", c->W[(size_t)k * F + d]);
		fputc(']', f);
	}
	fputs("]}\n", f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad)
		return sy_error_set(err, SY_ERR_IO, "cannot write %s", path);
	return SY_OK;
}

/* The rows of a JSON matrix, each of `width` numbers, into out; false when one is not. */
static bool read_rows(const cJSON *m, int width, float *out)
{
	int k = 0;
	const cJSON *row, *l;
	cJSON_ArrayForEach(row, m)
	{
		if (cJSON_GetArraySize(row) != width)
			return false;
		int d = 0;
		cJSON_ArrayForEach(l, row)
		{
			if (!cJSON_IsNumber(l))
				return false;
			out[(size_t)k * width + d++] = (float)l->valuedouble;
		}
		k++;
	}
	return true;
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
	const cJSON *hid = cJSON_GetObjectItemCaseSensitive(doc, "hidden");
	const cJSON *W1 = cJSON_GetObjectItemCaseSensitive(doc, "W1");
	const cJSON *b1 = cJSON_GetObjectItemCaseSensitive(doc, "b1");
	const int K = cJSON_GetArraySize(labels);
	const int D = cJSON_IsNumber(dims) ? (int)dims->valuedouble : 0;
	const int Hn = cJSON_IsNumber(hid) && hid->valuedouble >= 1 && hid->valuedouble <= 65536
	                   ? (int)hid->valuedouble
	                   : 0;
	if (!cJSON_IsObject(doc) || K < 2 || K > 100000 || D < 1 || D > 65536 ||
	    cJSON_GetArraySize(W) != K || cJSON_GetArraySize(b) != K ||
	    (hid && (!Hn || cJSON_GetArraySize(W1) != Hn || cJSON_GetArraySize(b1) != Hn))) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: not a classifier (labels, dims, W [labels][dims], b; an "
		                    "MLP adds hidden, W1 [hidden][dims], b1)",
		                    path);
	}
	struct classifier *c = classifier_alloc(K, D, Hn);
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
	const cJSON *l;
	cJSON_ArrayForEach(l, labels) c->labels[k++] =
	    strdup(cJSON_IsString(l) ? l->valuestring : "");
	k = 0;
	cJSON_ArrayForEach(l, b) c->b[k++] = cJSON_IsNumber(l) ? (float)l->valuedouble : 0;
	const int F = Hn > 0 ? Hn : D;
	bool ok = read_rows(W, F, c->W);
	if (Hn > 0) {
		ok = ok && read_rows(W1, D, c->W1);
		k = 0;
		cJSON_ArrayForEach(l, b1) c->b1[k++] =
		    cJSON_IsNumber(l) ? (float)l->valuedouble : 0;
	}
	cJSON_Delete(doc);
	if (!ok) {
		classifier_free(c);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: a row of W is not %d numbers (or of W1 not %d)", path, F,
		                    D);
	}
	*out = c;
	return SY_OK;
}
