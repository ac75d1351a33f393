/* Running router evaluations (see eval.h): embedding a dataset, the classes of an intent set,
 * the predictions of the learned and semantic routers, and the RouteLLM strong/weak split with
 * its random and oracle baselines. The metrics themselves are in eval.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "router/eval.h"

enum sy_status eval_embed(struct model *emb, char *const *texts, int n, struct sy_error *err,
                          float **out, int *dims)
{
	const int D = model_dims(emb), B = 64;
	float *X = malloc((size_t)(n > 0 ? n : 1) * D * sizeof *X);
	size_t *lens = malloc((size_t)B * sizeof *lens);
	if (!X || !lens) {
		free(X);
		free(lens);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i += B) {
		const int m = n - i < B ? n - i : B;
		for (int k = 0; k < m; k++)
			lens[k] = strlen(texts[i + k]);
		enum sy_status s = model_encode_texts(emb, (const char *const *)texts + i, lens, m,
		                                      NULL, err, X + (size_t)i * D, NULL, NULL);
		if (s != SY_OK) {
			free(X);
			free(lens);
			return s;
		}
		for (int k = 0; k < m; k++) { /* unit vectors, whatever the model's default */
			float *v = X + (size_t)(i + k) * D;
			double ss = 0;
			for (int d = 0; d < D; d++)
				ss += (double)v[d] * v[d];
			const float inv = (float)(1 / fmax(sqrt(ss), 1e-12));
			for (int d = 0; d < D; d++)
				v[d] *= inv;
		}
	}
	free(lens);
	*out = X;
	*dims = D;
	return SY_OK;
}

double classifier_accuracy(const struct classifier *c, const float *X, const int *y, int n)
{
	int right = 0;
	for (int i = 0; i < n; i++)
		right += classifier_predict(c, X + (size_t)i * c->dims, NULL) == y[i];
	return n ? (double)right / n : 0;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double classifier_share_threshold(const struct classifier *c, const float *X, int n, double share)
{
	double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
	if (!p)
		return 1.0;
	for (int i = 0; i < n; i++)
		p[i] = classifier_p1(c, X + (size_t)i * c->dims);
	qsort(p, (size_t)n, sizeof *p, cmp_double);
	const int k = (int)floor(share * n);
	const double t = k < n ? p[k] : 1.0;
	free(p);
	return t;
}

/* ---- intents ---- */

enum sy_status intent_data_prepare(const struct dataset *train, const struct dataset *test,
                                   bool with_oos, struct sy_error *err, struct intent_data *out)
{
	memset(out, 0, sizeof *out);
	out->oos = -1;
	/* out-of-scope examples are not a class to train on: their id is added last */
	for (int i = 0; i < train->n; i++)
		if (strcmp(train->label[i], "oos") != 0 &&
		    dataset_push(&out->in_train, train->text[i], strlen(train->text[i]),
		                 train->label[i], false, false) != SY_OK)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	out->y = dataset_label_ids(&out->in_train, &out->labels, &out->n_labels, true);
	out->n_in = out->n_labels;
	if (with_oos) {
		char **l = realloc(out->labels, (size_t)(out->n_labels + 1) * sizeof *l);
		if (l) {
			out->labels = l;
			l[out->n_labels] = strdup("oos");
			if (l[out->n_labels])
				out->oos = out->n_labels++;
		}
	}
	out->y_test = dataset_label_ids(test, &out->labels, &out->n_labels, false);
	if (!out->y || !out->y_test)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < test->n; i++)
		if (out->y_test[i] < 0)
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "test example %d: label \"%s\" is not in the training data", i + 1,
			    test->label[i]);
	return SY_OK;
}

int intent_data_add_oos(struct intent_data *d, const struct dataset *train, struct sy_error *err)
{
	if (d->oos < 0)
		return 0;
	int added = 0;
	for (int i = 0; i < train->n; i++) {
		if (strcmp(train->label[i], "oos") != 0)
			continue;
		int *y = realloc(d->y, (size_t)(d->in_train.n + 1) * sizeof *y);
		if (!y || dataset_push(&d->in_train, train->text[i], strlen(train->text[i]), "oos",
		                       false, false) != SY_OK) {
			if (y)
				d->y = y;
			sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			return -1;
		}
		d->y = y;
		d->y[d->in_train.n - 1] = d->oos;
		added++;
	}
	return added;
}

void intent_data_free(struct intent_data *d)
{
	dataset_free(&d->in_train);
	free(d->y);
	free(d->y_test);
	for (int i = 0; i < d->n_labels; i++)
		free(d->labels[i]);
	free(d->labels);
	memset(d, 0, sizeof *d);
}

void intent_predict_classifier(const struct classifier *c, const float *T, int n_test,
                               int oos_class, double oos_threshold, int *pred)
{
	float *p = malloc((size_t)c->n_classes * sizeof *p);
	for (int i = 0; i < n_test; i++) {
		const int k = classifier_predict(c, T + (size_t)i * c->dims, p);
		pred[i] = p && oos_class >= 0 && p[k] < oos_threshold ? oos_class : k;
	}
	free(p);
}

void intent_oos_scores(const struct classifier *c, const float *T, int n, int n_in,
                       enum intent_oos_score kind, int *arg, double *score)
{
	double *z = malloc((size_t)c->n_classes * sizeof *z);
	for (int i = 0; z && i < n; i++) {
		arg[i] = classifier_logits(c, T + (size_t)i * c->dims, z);
		double mx = -INFINITY, all = -INFINITY;
		for (int k = 0; k < c->n_classes; k++)
			all = z[k] > all ? z[k] : all;
		for (int k = 0; k < n_in && k < c->n_classes; k++)
			mx = z[k] > mx ? z[k] : mx;
		double s_in = 0, s_all = 0;
		for (int k = 0; k < c->n_classes; k++) {
			s_all += exp(z[k] - all);
			if (k < n_in)
				s_in += exp(z[k] - mx);
		}
		/* maxprob: the top in-scope class's share of the whole softmax; energy: the
		 * in-scope logits' logsumexp */
		score[i] = kind == INTENT_OOS_ENERGY ? mx + log(s_in) : exp(mx - all) / s_all;
	}
	free(z);
}

struct scored {
	double s;
	int i;
};

static int cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s ? 1 : x->i - y->i;
}

/* The threshold t (out of scope when score < t) with the best accuracy over the rows i with
 * i % 2 == parity (all rows when parity < 0). Sweeping t upwards past a row flips it to out of
 * scope: +1 when it is out of scope and was not called so, -1 when it was right in scope. */
static double oos_best_threshold(const int *gold, const int *arg, const double *score, int n,
                                 int oos, int parity)
{
	struct scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	int m = 0;
	for (int i = 0; v && i < n; i++)
		if (parity < 0 || i % 2 == parity)
			v[m++] = (struct scored){score[i], i};
	if (!v || m == 0) {
		free(v);
		return -INFINITY;
	}
	qsort(v, (size_t)m, sizeof *v, cmp_scored);
	long acc = 0, best = 0;
	double best_t = v[0].s - 1;
	for (int j = 0; j < m; j++) {
		const int i = v[j].i;
		if (arg[i] != oos)
			acc += gold[i] == oos ? 1 : gold[i] == arg[i] ? -1 : 0;
		if ((j + 1 == m || v[j + 1].s > v[j].s) && acc > best) {
			best = acc;
			best_t = j + 1 < m ? (v[j].s + v[j + 1].s) / 2 : v[j].s + 1e-9;
		}
	}
	free(v);
	return best_t;
}

void intent_oos_evaluate(const int *gold, const int *arg, const double *score, int n, int n_classes,
                         int oos, struct intent_oos_eval *out)
{
	memset(out, 0, sizeof *out);
	/* AUROC by ranks (Mann-Whitney U), ties counted half */
	struct scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	int *pred = malloc((size_t)(n > 0 ? n : 1) * sizeof *pred);
	if (!v || !pred) {
		free(v);
		free(pred);
		return;
	}
	for (int i = 0; i < n; i++)
		v[i] = (struct scored){score[i], i};
	qsort(v, (size_t)n, sizeof *v, cmp_scored);
	double rank_sum = 0;
	long n_pos = 0, n_neg = 0;
	for (int j = 0; j < n;) {
		int e = j;
		while (e < n && v[e].s == v[j].s)
			e++;
		const double r = (j + 1 + e) / 2.0; /* mean rank of the tie group, 1-based */
		for (int k = j; k < e; k++)
			if (gold[v[k].i] != oos) {
				rank_sum += r;
				n_pos++;
			}
		j = e;
	}
	n_neg = n - n_pos;
	out->auroc = n_pos && n_neg
	                 ? (rank_sum - (double)n_pos * (n_pos + 1) / 2) / ((double)n_pos * n_neg)
	                 : NAN;
	out->best_t = oos_best_threshold(gold, arg, score, n, oos, -1);
	for (int i = 0; i < n; i++)
		pred[i] = arg[i] == oos || score[i] < out->best_t ? oos : arg[i];
	intent_report_compute(gold, pred, n, n_classes, oos, &out->best);
	out->cv_t[0] = oos_best_threshold(gold, arg, score, n, oos, 1); /* for the even rows */
	out->cv_t[1] = oos_best_threshold(gold, arg, score, n, oos, 0);
	for (int i = 0; i < n; i++)
		pred[i] = arg[i] == oos || score[i] < out->cv_t[i % 2] ? oos : arg[i];
	intent_report_compute(gold, pred, n, n_classes, oos, &out->cv);
	free(v);
	free(pred);
}

void intent_oos_eval_free(struct intent_oos_eval *e)
{
	intent_report_free(&e->best);
	intent_report_free(&e->cv);
}

void intent_predict_nearest(const float *X, const int *y, int n_train, const float *T, int n_test,
                            int dims, int *pred)
{
	for (int i = 0; i < n_test; i++) {
		const float *q = T + (size_t)i * dims;
		double best = -2;
		int bk = 0;
		for (int j = 0; j < n_train; j++) {
			const float *x = X + (size_t)j * dims;
			double dot = 0;
			for (int d = 0; d < dims; d++)
				dot += (double)q[d] * x[d];
			if (dot > best) {
				best = dot;
				bk = y[j];
			}
		}
		pred[i] = bk;
	}
}

/* ---- RouteLLM ---- */

struct classifier_train_options routellm_train_options(void)
{
	/* Stronger regularisation than for intents: the signal in a prompt's embedding about which
	 * model will answer it right is weak, and a sharper fit ranks held-out prompts worse. */
	struct classifier_train_options to = classifier_default_options();
	to.l2 = 1e-3;
	to.lr = 8;
	to.epochs = 200;
	return to;
}

int *routellm_train_labels(const struct dataset *d)
{
	int *y = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *y);
	for (int i = 0; y && i < d->n; i++)
		y[i] = !(d->strong_ok[i] && !d->weak_ok[i]);
	return y;
}

/* Deterministic pseudo-random scores for the random baseline. */
static void random_scores(double *s, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		s[i] = (double)(seed >> 8) / 16777216.0;
	}
}

/* The mean of 20 random routers; the first one's curve to `keep` when not NULL. */
static void random_baseline(double *score, const bool *w, const bool *s, int n,
                            struct routellm_split *out, struct routellm_curve *keep)
{
	double a = 0, c5 = 0, c8 = 0;
	for (int seed = 1; seed <= 20; seed++) {
		struct routellm_curve rc = {0};
		random_scores(score, n, (unsigned)seed * 7919u);
		routellm_curve_compute(score, w, s, n, &rc);
		a += rc.apgr;
		c5 += routellm_cpt(&rc, 0.5);
		c8 += routellm_cpt(&rc, 0.8);
		if (seed == 1 && keep)
			*keep = rc;
		else
			routellm_curve_free(&rc);
	}
	out->apgr_random = a / 20;
	out->cpt50_random = c5 / 20;
	out->cpt80_random = c8 / 20;
}

void routellm_split_eval(const struct classifier *cl, const float *X, const struct dataset *d,
                         double threshold, struct routellm_split *out,
                         struct routellm_curve *router, struct routellm_curve *random,
                         struct routellm_curve *oracle)
{
	const int n = d->n;
	const bool *w = d->weak_ok, *s = d->strong_ok;
	double *p_weak = calloc((size_t)(n > 0 ? n : 1), sizeof *p_weak);
	double *score = calloc((size_t)(n > 0 ? n : 1), sizeof *score);
	memset(out, 0, sizeof *out);
	if (!p_weak || !score) {
		free(p_weak);
		free(score);
		return;
	}
	for (int i = 0; i < n; i++) {
		p_weak[i] = classifier_p1(cl, X + (size_t)i * cl->dims);
		score[i] = 1 - p_weak[i];
	}
	struct routellm_curve c = {0}, oc = {0};
	routellm_curve_compute(score, w, s, n, &c);
	out->n = n;
	out->apgr = c.apgr;
	out->cpt50 = routellm_cpt(&c, 0.5);
	out->cpt80 = routellm_cpt(&c, 0.8);
	out->r_weak = c.r_weak;
	out->r_strong = c.r_strong;
	/* at the calibrated threshold: strong when P(weak ok) < threshold */
	int k = 0;
	long correct = 0;
	for (int i = 0; i < n; i++) {
		const bool strong = p_weak[i] < threshold;
		k += strong;
		correct += strong ? s[i] : w[i];
	}
	out->share_at_t = (double)k / n;
	out->pgr_at_t =
	    c.r_strong != c.r_weak ? ((double)correct / n - c.r_weak) / (c.r_strong - c.r_weak) : 0;
	random_baseline(score, w, s, n, out, random);
	for (int i = 0; i < n; i++)
		score[i] = (double)s[i] - (double)w[i];
	routellm_curve_compute(score, w, s, n, &oc);
	out->apgr_oracle = oc.apgr;
	out->cpt50_oracle = routellm_cpt(&oc, 0.5);
	if (router)
		*router = c;
	else
		routellm_curve_free(&c);
	if (oracle)
		*oracle = oc;
	else
		routellm_curve_free(&oc);
	free(p_weak);
	free(score);
}
