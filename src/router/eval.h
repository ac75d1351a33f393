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

#endif
