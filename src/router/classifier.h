/* Classifiers over local embeddings, for the learned and strong/weak routing policies and
 * `switchyard router train` / `switchyard eval intents|routellm`.
 *
 * A multinomial logistic regression: p = softmax(W x + b) over n_classes, trained by full-batch
 * gradient descent with momentum on the mean cross-entropy plus L2 (deterministic: no
 * randomness, so the same data gives the same model). Two classes make the strong/weak scorer
 * (class 1 = "the weak model's answer is good enough"). Saved as JSON:
 *   {"type":"logreg","encoder":"use-lite","labels":[...],"dims":d,"W":[[...]],"b":[...],
 *    "threshold":t}  (threshold: strong/weak only, -1 when unset)
 *
 * With hidden > 0 it is a small MLP head instead: h = relu(W1 x + b1) with `hidden` units, then
 * the same softmax layer over h, trained the same way (full batch, momentum, L2, deterministic:
 * W1 starts from a fixed-seed He initialisation). Saved with "type":"mlp", "hidden", "W1"
 * [hidden][dims] and "b1"; W is then [n_classes][hidden]. A stronger out-of-scope test for
 * intents (eval_run.c) reads its logits: the energy score logsumexp(z) of Liu et al. 2020,
 * "Energy-based Out-of-distribution Detection". */
#ifndef SY_ROUTER_CLASSIFIER_H
#define SY_ROUTER_CLASSIFIER_H

#include <stddef.h>

#include "base/status.h"

struct classifier {
	int n_classes, dims;
	int hidden; /* 0: logistic regression on x; > 0: units of the MLP's ReLU layer */
	char **labels; /* [n_classes] */
	float *W1; /* [hidden][dims], MLP only */
	float *b1; /* [hidden], MLP only */
	float *W; /* [n_classes][hidden > 0 ? hidden : dims] */
	float *b; /* [n_classes] */
	char encoder[128];
	double threshold;
};

struct classifier_train_options {
	double l2; /* default 1e-5 */
	double
	    lr; /* default 32 (rows are unit vectors, so gradients are small; with momentum 0.9) */
	int epochs; /* default 400 */
	int hidden; /* 0 (default): logistic regression; > 0: an MLP head with this many units */
};

struct classifier_train_options classifier_default_options(void);

/* X: [n][dims] (rows L2-normalised embeddings), y: [n] class ids < n_classes. */
enum sy_status classifier_train(const float *X, const int *y, int n, int dims,
                                const char *const *labels, int n_classes,
                                const struct classifier_train_options *o, struct sy_error *err,
                                struct classifier **out);
/* The logits z[n_classes] for x[dims] (double precision); returns the argmax. */
int classifier_logits(const struct classifier *c, const float *x, double *z);
/* probs[n_classes] for x[dims]; returns the argmax. */
int classifier_predict(const struct classifier *c, const float *x, float *probs);
/* For two classes: P(class 1) in double precision (no float rounding to 0 or 1, so close
 * scores keep their order). */
double classifier_p1(const struct classifier *c, const float *x);
enum sy_status classifier_save(const struct classifier *c, const char *path, struct sy_error *err);
enum sy_status classifier_load(const char *path, struct sy_error *err, struct classifier **out);
void classifier_free(struct classifier *c);

#endif
