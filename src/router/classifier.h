/* Classifiers over local embeddings, for the learned and strong/weak routing policies and
 * `switchyard router train` / `switchyard eval intents|routellm`.
 *
 * A multinomial logistic regression: p = softmax(W x + b) over n_classes, trained by full-batch
 * gradient descent with momentum on the mean cross-entropy plus L2 (deterministic: no
 * randomness, so the same data gives the same model). Two classes make the strong/weak scorer
 * (class 1 = "the weak model's answer is good enough"). Saved as JSON:
 *   {"type":"logreg","encoder":"use-lite","labels":[...],"dims":d,"W":[[...]],"b":[...],
 *    "threshold":t}  (threshold: strong/weak only, -1 when unset) */
#ifndef SY_ROUTER_CLASSIFIER_H
#define SY_ROUTER_CLASSIFIER_H

#include <stddef.h>

#include "base/status.h"

struct classifier {
	int n_classes, dims;
	char **labels; /* [n_classes] */
	float *W; /* [n_classes][dims] */
	float *b; /* [n_classes] */
	char encoder[128];
	double threshold;
};

struct classifier_train_options {
	double l2; /* default 1e-5 */
	double
	    lr; /* default 32 (rows are unit vectors, so gradients are small; with momentum 0.9) */
	int epochs; /* default 400 */
};

struct classifier_train_options classifier_default_options(void);

/* X: [n][dims] (rows L2-normalised embeddings), y: [n] class ids < n_classes. */
enum sy_status classifier_train(const float *X, const int *y, int n, int dims,
                                const char *const *labels, int n_classes,
                                const struct classifier_train_options *o, struct sy_error *err,
                                struct classifier **out);
/* probs[n_classes] for x[dims]; returns the argmax. */
int classifier_predict(const struct classifier *c, const float *x, float *probs);
/* For two classes: P(class 1) in double precision (no float rounding to 0 or 1, so close
 * scores keep their order). */
double classifier_p1(const struct classifier *c, const float *x);
enum sy_status classifier_save(const struct classifier *c, const char *path, struct sy_error *err);
enum sy_status classifier_load(const char *path, struct sy_error *err, struct classifier **out);
void classifier_free(struct classifier *c);

#endif
