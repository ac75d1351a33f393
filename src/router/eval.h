/* Offline evaluation of routers (`switchyard eval intents|routellm`, docs/ROUTING.md):
 *
 * Classifier routers on labelled intents: accuracy, macro-F1 (the unweighted mean of the
 * per-class F1 over the classes present in the gold labels, out-of-scope excluded), the
 * per-class report, the most frequent confusions, and out-of-scope handling (a prediction whose
 * probability is below a threshold counts as out-of-scope; recall and precision of that).
 *
 * Strong/weak routers, as RouteLLM (arXiv 2406.18665) defines the metrics: prompts are sent to
 * the strong model in decreasing order of the router's score; at a share c of strong calls the
 * quality r(c) is the mean correctness of the answers then given, and the performance gap
 * recovered is PGR(c) = (r(c) - r_weak) / (r_strong - r_weak). APGR is the area under PGR over
 * c in [0, 1] (trapezoids over every prompt count); CPT(x) is the smallest share of strong
 * calls whose PGR reaches x. A random router has PGR(c) = c in expectation (APGR 0.5). */
#ifndef SY_ROUTER_EVAL_H
#define SY_ROUTER_EVAL_H

#include <stdbool.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "router/classifier.h"
#include "router/dataset.h"

struct model;

struct intent_report {
	int n, n_classes;
	double accuracy, macro_f1;
	/* out-of-scope: gold class oos_class, predicted when max probability < threshold */
	int oos_class; /* -1 when there is none */
	double oos_recall, oos_precision, in_scope_accuracy;
	double *precision, *recall, *f1; /* [n_classes] */
	int *support; /* [n_classes] */
	int *confusion; /* [n_classes][n_classes] gold x predicted */
};

/* gold[n], pred[n] class ids < n_classes. oos_class (or -1) is excluded from macro-F1. */
void intent_report_compute(const int *gold, const int *pred, int n, int n_classes, int oos_class,
                           struct intent_report *out);
void intent_report_free(struct intent_report *r);
/* Text: the summary, the worst classes by F1 and the top confusions. */
void intent_report_print(const struct intent_report *r, const char *const *labels, int worst,
                         int pairs);

struct routellm_curve {
	int n;
	double r_weak, r_strong; /* mean correctness of all-weak and all-strong */
	double *share, *pgr, *quality; /* [n + 1]: after k strong calls */
	double apgr;
};

/* strong_score[n]: higher sends to the strong model first; weak_ok / strong_ok: correctness. */
void routellm_curve_compute(const double *strong_score, const bool *weak_ok, const bool *strong_ok,
                            int n, struct routellm_curve *out);
/* The smallest share of strong calls with PGR >= x (1 when never reached). */
double routellm_cpt(const struct routellm_curve *c, double x);
void routellm_curve_free(struct routellm_curve *c);
/* An SVG plot of quality against the share of strong calls for several curves. */
void routellm_svg(struct sbuf *b, const struct routellm_curve *curves, const char *const *names,
                  int n_curves, const char *title);

/* ---- running the evaluations (eval_run.c) ---- */

/* Embeds texts[n] with emb, 64 a batch, into *out ([n][*dims], caller frees), every row scaled
 * to unit length whatever the model's own normalisation. */
enum sy_status eval_embed(struct model *emb, char *const *texts, int n, struct sy_error *err,
                          float **out, int *dims);

/* Fraction of the rows X[n][c->dims] the classifier labels as y[n]. */
double classifier_accuracy(const struct classifier *c, const float *X, const int *y, int n);
/* The threshold on P(class 1 = the weak model will do) that sends `share` of the rows
 * X[n][c->dims] to the strong model (those below it): the share-quantile of their P(weak). */
double classifier_share_threshold(const struct classifier *c, const float *X, int n, double share);

/* An intent evaluation's classes: the training examples without out-of-scope ones, their class
 * ids in first-seen order, and the test's ids; with_oos adds the class "oos" last. */
struct intent_data {
	struct dataset in_train; /* the training examples labelled other than "oos" */
	int *y; /* [in_train.n] */
	int *y_test; /* [test->n] */
	char **labels; /* [n_labels] */
	int n_labels; /* n_in, + 1 with the out-of-scope class */
	int n_in; /* classes to train */
	int oos; /* the out-of-scope class id, or -1 */
};
/* Fails when a test label is not a training one. */
enum sy_status intent_data_prepare(const struct dataset *train, const struct dataset *test,
                                   bool with_oos, struct sy_error *err, struct intent_data *out);
/* Appends train's out-of-scope examples to d->in_train with class d->oos (after
 * intent_data_prepare with with_oos), so a classifier of d->n_in + 1 classes learns it; returns
 * how many. */
int intent_data_add_oos(struct intent_data *d, const struct dataset *train, struct sy_error *err);
void intent_data_free(struct intent_data *d);

/* pred[n_test] for the test rows T[n_test][c->dims]: the classifier's argmax, or oos_class
 * (when >= 0) where the top probability is below oos_threshold. */
void intent_predict_classifier(const struct classifier *c, const float *T, int n_test,
                               int oos_class, double oos_threshold, int *pred);
/* ---- a stronger out-of-scope test (eval intents --head, --oos-score, --oos-class) ---- */

enum intent_oos_score {
	INTENT_OOS_MAXPROB, /* the top in-scope softmax probability */
	INTENT_OOS_ENERGY, /* logsumexp of the in-scope logits (Liu et al. 2020) */
};

/* For each test row of T[n][c->dims]: arg[i] the classifier's argmax (which may be the
 * out-of-scope class when it was trained as one) and score[i] the in-scope score (higher: more
 * likely in scope) over the first n_in classes. */
void intent_oos_scores(const struct classifier *c, const float *T, int n, int n_in,
                       enum intent_oos_score kind, int *arg, double *score);

struct intent_oos_eval {
	double auroc; /* of score separating in-scope (positive) from out-of-scope rows */
	double best_t; /* the threshold with the best accuracy on all rows (tuned on the test) */
	struct intent_report best; /* there */
	struct intent_report cv; /* each half's threshold tuned on the other half (2-fold, by
				    index parity): no threshold sees the rows it is scored on */
	double cv_t[2];
};

/* Scores the out-of-scope test: a row is out of scope when arg is oos or score < t. */
void intent_oos_evaluate(const int *gold, const int *arg, const double *score, int n, int n_classes,
                         int oos, struct intent_oos_eval *out);
void intent_oos_eval_free(struct intent_oos_eval *e);

/* The semantic router: pred[n_test] is the class y of the nearest training row of
 * X[n_train][dims] (cosine; rows are unit vectors) to each test row of T[n_test][dims]. */
void intent_predict_nearest(const float *X, const int *y, int n_train, const float *T, int n_test,
                            int dims, int *pred);

/* The training options of the RouteLLM strong/weak classifier. */
struct classifier_train_options routellm_train_options(void);
/* Strong/weak training classes: 0 where only the strong model answered right, else 1 (the weak
 * one will do). Returns y[d->n] (caller frees) or NULL. */
int *routellm_train_labels(const struct dataset *d);

/* A strong/weak router on one test split, against a random router (the mean of 20 seeds) and
 * the oracle, and at a calibrated threshold. */
struct routellm_split {
	int n;
	double r_weak, r_strong;
	double apgr, cpt50, cpt80;
	double share_at_t, pgr_at_t; /* strong calls and PGR at the threshold */
	double apgr_random, cpt50_random, cpt80_random, apgr_oracle, cpt50_oracle;
};
/* Scores the rows X[d->n][c->dims] of d with the classifier (strong when P(weak will do) <
 * threshold). The curves of the router, the first random seed and the oracle go to `router`,
 * `random` and `oracle` when not NULL (free them with routellm_curve_free). */
void routellm_split_eval(const struct classifier *c, const float *X, const struct dataset *d,
                         double threshold, struct routellm_split *out,
                         struct routellm_curve *router, struct routellm_curve *random,
                         struct routellm_curve *oracle);

#endif
