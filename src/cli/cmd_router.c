/* `switchyard router train` and `switchyard eval intents|routellm` (docs/ROUTING.md): the
 * options, the steps in order, and what they print. The data formats and loaders are in
 * src/router/dataset.h, the training, predictions and metrics in src/router/classifier.h and
 * src/router/eval.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "model/registry.h"
#include "router/classifier.h"
#include "router/dataset.h"
#include "router/eval.h"

static struct model *open_encoder(const char *model, int threads)
{
	struct model_options opts = model_default_options();
	opts.n_threads = threads;
	struct model *emb = NULL;
	struct sy_error err = {0};
	if (model_open(model, &opts, &err, &emb) != SY_OK)
		fprintf(stderr, "switchyard: %s\n", err.msg);
	return emb;
}

/* eval_embed with its time on stderr; NULL (said on stderr) when it fails. */
static float *embed_all(struct model *emb, char **texts, int n, int *dims, const char *what)
{
	const uint64_t t0 = sy_now_ns();
	float *X = NULL;
	struct sy_error err = {0};
	if (eval_embed(emb, texts, n, &err, &X, dims) != SY_OK) {
		fprintf(stderr, "embedding %s: %s\n", what, err.msg);
		return NULL;
	}
	fprintf(stderr, "  embedded %d %s texts in %.1f s\n", n, what,
	        (double)(sy_now_ns() - t0) / 1e9);
	return X;
}

static void free_labels(char **labels, int n)
{
	for (int i = 0; i < n; i++)
		free(labels[i]);
	free(labels);
}

/* ---- switchyard router train ---- */

enum { TR_DATA, TR_OUT, TR_MODEL, TR_THREADS, TR_STRONG_WEAK, TR_STRONG_SHARE, TR_HEAD };

static const struct cli_opt train_opts[] = {
    {"data", CLI_VALUE, "FILE", "labelled prompts: CSV (text,label) or JSONL (required)",
     .id = TR_DATA},
    {"out", CLI_VALUE, "FILE", "where the classifier goes (required)", .id = TR_OUT},
    {"model", CLI_VALUE, "ID", "the embedding model (default use-lite)", .id = TR_MODEL},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = TR_THREADS},
    {"strong-weak", CLI_SWITCH, NULL, "train a strong_weak route's classifier",
     .id = TR_STRONG_WEAK},
    {"strong-share", CLI_VALUE, "X", "calibrate: this share (0 to 1) goes to the strong model",
     .id = TR_STRONG_SHARE},
    {"head", CLI_VALUE, "logreg|mlp",
     "the classifier: logistic regression (default) or an MLP (256 ReLU units)", .id = TR_HEAD},
};

static const struct cli_cmd train_cmd = {
    "router train",
    "usage: switchyard router train --data FILE --out FILE [options]\n",
    "Trains the classifier of a `learned` route (labels = candidate names) or, with\n"
    "--strong-weak, of a `strong_weak` route (label 1: the weak model's answer is good\n"
    "enough, 0: it is not), on --model embeddings (default use-lite). FILE: CSV with a\n"
    "header (text,label) or JSONL ({\"text\",\"label\"}). --strong-share calibrates the\n"
    "threshold so that this share of the training prompts goes to the strong model.\n"
    "--head mlp trains a small MLP head instead of the logistic regression; a learned route\n"
    "loads either.\n",
    train_opts,
    (int)(sizeof train_opts / sizeof *train_opts),
    0,
};

/* The training options of the MLP head (eval intents --head mlp uses the same): its hidden
 * units are of order 1 where the logistic regression's inputs are unit-length rows, so a smaller
 * step, and more epochs (measured on CLINC150 val, docs/ROUTING.md). */
static struct classifier_train_options mlp_options(int hidden)
{
	struct classifier_train_options to = classifier_default_options();
	to.hidden = hidden;
	to.lr = 2.0;
	to.l2 = 1e-4;
	to.epochs = 800;
	return to;
}

/* --head logreg|mlp into *mlp; -1 after a message for anything else. */
static int head_arg(const char *cmd, const struct cli_opt *o, const char *val, bool *mlp)
{
	if (strcmp(val, "mlp") && strcmp(val, "logreg")) {
		fprintf(stderr, "switchyard %s: --%s: expected logreg or mlp\n", cmd, o->name);
		return -1;
	}
	*mlp = !strcmp(val, "mlp");
	return 0;
}

struct train_args {
	const char *data, *out, *model;
	int threads;
	bool strong_weak, mlp;
	double share; /* -1: not calibrated */
};

static int train_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct train_args *a = ctx;
	switch (o->id) {
	case TR_DATA: a->data = val; return 0;
	case TR_OUT: a->out = val; return 0;
	case TR_MODEL: a->model = val; return 0;
	case TR_THREADS: return cli_int_arg("router train", o, val, 0, &a->threads);
	case TR_STRONG_WEAK: a->strong_weak = true; return 0;
	case TR_STRONG_SHARE: return cli_double_arg("router train", o, val, 0, 1, false, &a->share);
	case TR_HEAD: return head_arg("router train", o, val, &a->mlp);
	}
	return -1;
}

/* 0: parsed, 1: --help shown, 2: a usage error (said on stderr). */
static int train_parse_args(int argc, char **argv, struct train_args *a)
{
	*a = (struct train_args){.model = "use-lite", .share = -1};
	int first, rc = cli_opts_parse(&train_cmd, argc, argv, train_apply, a, &first);
	if (rc != 0)
		return rc;
	if (first < argc)
		return cli_usage_error(&train_cmd, "unexpected argument '%s'", argv[first]);
	if (!a->data || !a->out)
		return cli_usage_error(&train_cmd, "--data and --out are required");
	return 0;
}

/* Trains on the embedded examples X[n][dims] with classes y, calibrates, saves; 0 when done. */
static int train_save(const struct train_args *a, const float *X, const int *y, int n, int dims,
                      char **labels, int n_labels)
{
	struct classifier *c = NULL;
	struct sy_error err = {0};
	const struct classifier_train_options to =
	    a->mlp ? mlp_options(256) : classifier_default_options();
	if (classifier_train(X, y, n, dims, (const char *const *)labels, n_labels, &to, &err, &c) !=
	    SY_OK) {
		fprintf(stderr, "switchyard router train: %s\n", err.msg);
		return 1;
	}
	snprintf(c->encoder, sizeof c->encoder, "%s", a->model);
	const double accuracy = classifier_accuracy(c, X, y, n);
	if (a->strong_weak && a->share > 0) {
		c->threshold = classifier_share_threshold(c, X, n, a->share);
		printf("threshold %.9f sends %.1f%% of the training prompts to the strong model\n",
		       c->threshold, 100.0 * (int)(a->share * n) / n);
	}
	int rc = 1;
	if (classifier_save(c, a->out, &err) == SY_OK) {
		printf(
		    "trained on %d examples, %d classes, %d dims: training accuracy %.4f -> %s\n",
		    n, n_labels, dims, accuracy, a->out);
		rc = 0;
	} else {
		fprintf(stderr, "switchyard router train: %s\n", err.msg);
	}
	classifier_free(c);
	return rc;
}

static int cmd_router_train(int argc, char **argv)
{
	struct train_args a;
	const int parsed = train_parse_args(argc, argv, &a);
	if (parsed)
		return parsed == 1 ? 0 : 2;
	struct dataset e = {0};
	struct sy_error err = {0};
	char **labels = NULL;
	int n_labels = 0;
	if (dataset_read_labelled(a.data, &err, &e) != SY_OK ||
	    (a.strong_weak && dataset_strong_weak_labels(&e, a.data, &err) != SY_OK)) {
		fprintf(stderr, "%s\n", err.msg);
		dataset_free(&e);
		return 1;
	}
	if (a.strong_weak) { /* classes 0 (needs strong) and 1 (weak is good) */
		labels = calloc(2, sizeof *labels);
		if (labels) {
			labels[0] = strdup("strong");
			labels[1] = strdup("weak");
			n_labels = 2;
		}
	}
	int *y = dataset_label_ids(&e, &labels, &n_labels, !a.strong_weak);
	int rc = 1, dims = 0;
	struct model *emb = open_encoder(a.model, a.threads);
	float *X = emb ? embed_all(emb, e.text, e.n, &dims, "training") : NULL;
	if (X && y)
		rc = train_save(&a, X, y, e.n, dims, labels, n_labels);
	free(X);
	free(y);
	free_labels(labels, n_labels);
	model_close(emb);
	dataset_free(&e);
	return rc;
}

static const char router_usage[] = "usage: switchyard router train --data FILE --out FILE "
                                   "[options]\n"
                                   "Run `switchyard router train --help` for its options.\n";

int cmd_router(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "train"))
		return cmd_router_train(argc - 1, argv + 1);
	const int opt = argc >= 2 ? cli_group_option("router", argv[1], router_usage) : -1;
	if (opt >= 0)
		return opt;
	if (argc >= 2)
		fprintf(stderr, "switchyard router: unknown command '%s'\n", argv[1]);
	fputs(router_usage, stderr);
	return 2;
}

/* ---- switchyard eval intents ---- */

enum {
	IN_DATA,
	IN_TEST,
	IN_MODEL,
	IN_THREADS,
	IN_OOS_THRESHOLD,
	IN_JSON,
	IN_HEAD,
	IN_HIDDEN,
	IN_EPOCHS,
	IN_LR,
	IN_CACHE,
	IN_OOS_CLASS,
	IN_OOS_SCORE,
};

static const struct cli_opt intents_opts[] = {
    {"data", CLI_VALUE, "DIR|FILE", "CLINC150 folder or a labelled CSV/JSONL (required)",
     .id = IN_DATA},
    {"model", CLI_VALUE, "ID", "the embedding model (default use-lite)", .id = IN_MODEL},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = IN_THREADS},
    {"oos-threshold", CLI_VALUE, "X", "out of scope below this probability (default 0.5)",
     .id = IN_OOS_THRESHOLD},
    {"test", CLI_VALUE, "FILE", "held-out data instead of the default split", .id = IN_TEST},
    {"json", CLI_SWITCH, NULL, "one JSON object instead of text lines", .id = IN_JSON},
    {"head", CLI_VALUE, "logreg|mlp", "the classifier (default logreg)", .id = IN_HEAD},
    {"hidden", CLI_VALUE, "N", "the MLP head's hidden units (default 256)", .id = IN_HIDDEN},
    {"epochs", CLI_VALUE, "N", "training epochs (default: the head's)", .id = IN_EPOCHS},
    {"lr", CLI_VALUE, "X", "learning rate (default: the head's)", .id = IN_LR},
    {"cache", CLI_VALUE, "FILE", "keep the embeddings between runs in FILE", .id = IN_CACHE},
    {"oos-class", CLI_SWITCH, NULL, "train the out-of-scope examples as a class",
     .id = IN_OOS_CLASS},
    {"oos-score", CLI_VALUE, "maxprob|energy", "the in-scope score thresholded (default maxprob)",
     .id = IN_OOS_SCORE},
};

static const struct cli_cmd intents_cmd = {
    "eval intents",
    "usage: switchyard eval intents --data DIR|FILE [options]\n",
    "Trains a classifier router (multinomial logistic regression on --model embeddings,\n"
    "default use-lite) and a semantic nearest-example router, and reports accuracy,\n"
    "macro-F1, the worst classes and top confusions of each on held-out data:\n"
    "  CLINC150 (a folder with data_train_val.json): train (+oos_train) -> val "
    "(+oos_val),\n"
    "           or -> --test FILE: CLINC-format JSON (test + oos_test, as data_full.json)\n"
    "           or a labelled CSV/JSONL file;\n"
    "           out-of-scope = max probability below --oos-threshold (default 0.5);\n"
    "  a CSV/JSONL file (BANKING77 train.csv): every 5th example held out, or --test.\n"
    "With out-of-scope examples in the test rows it also reports the score's AUROC, the best\n"
    "threshold on the test rows, and a 2-fold threshold (each half's tuned on the other).\n",
    intents_opts,
    (int)(sizeof intents_opts / sizeof *intents_opts),
    0,
};

struct intents_args {
	const char *data, *model, *test_path, *cache;
	int threads;
	bool json;
	double oos_threshold;
	bool mlp, oos_class;
	int hidden, epochs;
	double lr; /* 0: the head's default */
	enum intent_oos_score oos_score;
};

static int intents_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct intents_args *a = ctx;
	switch (o->id) {
	case IN_DATA: a->data = val; return 0;
	case IN_TEST: a->test_path = val; return 0;
	case IN_MODEL: a->model = val; return 0;
	case IN_THREADS: return cli_int_arg("eval intents", o, val, 0, &a->threads);
	case IN_OOS_THRESHOLD:
		return cli_double_arg("eval intents", o, val, 0, 1, true, &a->oos_threshold);
	case IN_JSON: a->json = true; return 0;
	case IN_HEAD: return head_arg("eval intents", o, val, &a->mlp);
	case IN_HIDDEN: return cli_int_arg("eval intents", o, val, 1, &a->hidden);
	case IN_EPOCHS: return cli_int_arg("eval intents", o, val, 1, &a->epochs);
	case IN_LR: return cli_double_arg("eval intents", o, val, 0, 1e6, false, &a->lr);
	case IN_CACHE: a->cache = val; return 0;
	case IN_OOS_CLASS: a->oos_class = true; return 0;
	case IN_OOS_SCORE:
		if (strcmp(val, "maxprob") && strcmp(val, "energy")) {
			fprintf(
			    stderr,
			    "switchyard eval intents: --oos-score: expected maxprob or energy\n");
			return -1;
		}
		a->oos_score = !strcmp(val, "energy") ? INTENT_OOS_ENERGY : INTENT_OOS_MAXPROB;
		return 0;
	}
	return -1;
}

/* 0: parsed, 1: --help shown, 2: a usage error (said on stderr). */
static int intents_parse_args(int argc, char **argv, struct intents_args *a)
{
	*a = (struct intents_args){.model = "use-lite", .oos_threshold = 0.5, .hidden = 256};
	int first, rc = cli_opts_parse(&intents_cmd, argc, argv, intents_apply, a, &first);
	if (rc != 0)
		return rc;
	if (first < argc)
		return cli_usage_error(&intents_cmd, "unexpected argument '%s'", argv[first]);
	if (!a->data)
		return cli_usage_error(&intents_cmd, "--data is required");
	return 0;
}

static const char *oos_desc(const struct intents_args *a)
{
	static char buf[160];
	char head[48] = "logreg head";
	if (a->mlp)
		snprintf(head, sizeof head, "mlp head (%d units)", a->hidden);
	snprintf(buf, sizeof buf, "%s, %s score%s", head,
	         a->oos_score == INTENT_OOS_ENERGY ? "energy" : "maxprob",
	         a->oos_class ? ", out-of-scope trained as a class" : "");
	return buf;
}

static void oos_print(const struct intents_args *a, const struct intent_oos_eval *e)
{
	if (a->json) {
		printf(",\"oos\":{\"head\":\"%s\",\"hidden\":%d,\"score\":\"%s\",\"oos_class\":%s,"
		       "\"auroc\":%.6f,\"best\":{\"threshold\":%.6g,\"accuracy\":%.6f,"
		       "\"in_scope_accuracy\":%.6f,\"oos_recall\":%.6f,\"oos_precision\":%.6f},"
		       "\"cv2\":{\"accuracy\":%.6f,\"in_scope_accuracy\":%.6f,\"oos_recall\":%.6f,"
		       "\"oos_precision\":%.6f}}",
		       a->mlp ? "mlp" : "logreg", a->mlp ? a->hidden : 0,
		       a->oos_score == INTENT_OOS_ENERGY ? "energy" : "maxprob",
		       a->oos_class ? "true" : "false", e->auroc, e->best_t, e->best.accuracy,
		       e->best.in_scope_accuracy, e->best.oos_recall, e->best.oos_precision,
		       e->cv.accuracy, e->cv.in_scope_accuracy, e->cv.oos_recall,
		       e->cv.oos_precision);
		return;
	}
	printf("out-of-scope test (%s): AUROC %.4f\n", oos_desc(a), e->auroc);
	printf("  best threshold on these rows (%.4g): accuracy %.4f, in-scope %.4f, out-of-scope "
	       "recall %.3f, precision %.3f\n",
	       e->best_t, e->best.accuracy, e->best.in_scope_accuracy, e->best.oos_recall,
	       e->best.oos_precision);
	printf("  2-fold threshold (%.4g / %.4g, each half's from the other): accuracy %.4f, "
	       "in-scope %.4f, out-of-scope recall %.3f, precision %.3f\n",
	       e->cv_t[0], e->cv_t[1], e->cv.accuracy, e->cv.in_scope_accuracy, e->cv.oos_recall,
	       e->cv.oos_precision);
}

static void intents_print(const struct intents_args *a, const struct intent_data *d, int n_test,
                          const struct intent_report *r, const struct intent_report *rn,
                          double train_s, double us, const struct intent_oos_eval *oe)
{
	if (a->json) {
		printf(
		    "{\"data\":\"%s\",\"model\":\"%s\",\"train\":%d,\"test\":%d,\"classes\":%d,"
		    "\"learned\":{\"accuracy\":%.6f,\"macro_f1\":%.6f,\"in_scope_accuracy\":%.6f,"
		    "\"oos_recall\":%.6f,\"oos_precision\":%.6f,\"train_s\":%.2f,"
		    "\"predict_us\":%.2f},\"semantic\":{\"accuracy\":%.6f,\"macro_f1\":%.6f}",
		    a->data, a->model, d->in_train.n, n_test, d->n_in, r->accuracy, r->macro_f1,
		    r->in_scope_accuracy, r->oos_recall, r->oos_precision, train_s, us,
		    rn->accuracy, rn->macro_f1);
		if (oe)
			oos_print(a, oe);
		printf("}\n");
		return;
	}
	printf("%s: %d training examples, %d test examples, %d classes, %s embeddings\n", a->data,
	       d->in_train.n, n_test, d->n_in, a->model);
	printf("learned router (%s, trained in %.1f s, %.1f us per prediction):\n",
	       a->mlp ? "MLP head" : "logistic regression", train_s, us);
	intent_report_print(r, (const char *const *)d->labels, 5, 5);
	printf("semantic router (nearest training example):\n");
	intent_report_print(rn, (const char *const *)d->labels, 3, 3);
	if (oe)
		oos_print(a, oe);
}

/* Trains on X, predicts the test rows T with both routers and prints the reports; 0 when
 * done. */
static int intents_run(const struct intents_args *a, const struct intent_data *d, const float *X,
                       const float *T, int n_test, int dims, int n_oos_rows)
{
	struct classifier *c = NULL;
	struct sy_error err = {0};
	uint64_t t0 = sy_now_ns();
	struct classifier_train_options to =
	    a->mlp ? mlp_options(a->hidden) : classifier_default_options();
	if (a->epochs > 0)
		to.epochs = a->epochs;
	if (a->lr > 0)
		to.lr = a->lr;
	/* with --oos-class the last n_oos_rows rows are out-of-scope examples, class d->oos (the
	 * class after the n_in in-scope ones) */
	if (classifier_train(X, d->y, d->in_train.n, dims, (const char *const *)d->labels,
	                     n_oos_rows ? d->n_in + 1 : d->n_in, &to, &err, &c) != SY_OK) {
		fprintf(stderr, "switchyard eval intents: %s\n", err.msg);
		return 1;
	}
	const double train_s = (double)(sy_now_ns() - t0) / 1e9;
	int *pred = malloc((size_t)(n_test ? n_test : 1) * sizeof *pred),
	    *pred_nn = malloc((size_t)(n_test ? n_test : 1) * sizeof *pred_nn);
	if (!pred || !pred_nn) {
		free(pred);
		free(pred_nn);
		classifier_free(c);
		return 1;
	}
	t0 = sy_now_ns();
	intent_predict_classifier(c, T, n_test, d->oos, a->oos_threshold, pred);
	const double us = (double)(sy_now_ns() - t0) / 1e3 / (n_test ? n_test : 1);
	intent_predict_nearest(X, d->y, d->in_train.n - n_oos_rows, T, n_test, dims, pred_nn);
	struct intent_report r, rn;
	intent_report_compute(d->y_test, pred, n_test, d->n_labels, d->oos, &r);
	intent_report_compute(d->y_test, pred_nn, n_test, d->n_labels, d->oos, &rn);
	/* the out-of-scope test, when the test rows have out-of-scope examples */
	struct intent_oos_eval oe;
	bool with_oe = false;
	for (int i = 0; d->oos >= 0 && i < n_test && !with_oe; i++)
		with_oe = d->y_test[i] == d->oos;
	int *arg = with_oe ? malloc((size_t)n_test * sizeof *arg) : NULL;
	double *score = with_oe ? malloc((size_t)n_test * sizeof *score) : NULL;
	with_oe = arg && score;
	if (with_oe) {
		intent_oos_scores(c, T, n_test, d->n_in, a->oos_score, arg, score);
		intent_oos_evaluate(d->y_test, arg, score, n_test, d->n_labels, d->oos, &oe);
	}
	intents_print(a, d, n_test, &r, &rn, train_s, us, with_oe ? &oe : NULL);
	if (with_oe)
		intent_oos_eval_free(&oe);
	free(arg);
	free(score);
	intent_report_free(&r);
	intent_report_free(&rn);
	free(pred);
	free(pred_nn);
	classifier_free(c);
	return 0;
}

/* --cache FILE: the embeddings of the training and test rows, kept between runs that change
 * only the classifier (three ints n_train, n_test, dims, then the floats). A file for other
 * counts is ignored and rewritten. */
static bool cache_read(const char *path, int n_train, int n_test, int *dims, float **X, float **T)
{
	FILE *f = fopen(path, "rb");
	int h[3];
	if (!f)
		return false;
	bool ok = fread(h, sizeof h, 1, f) == 1 && h[0] == n_train && h[1] == n_test && h[2] > 0 &&
	          h[2] <= 65536;
	*X = ok ? malloc((size_t)n_train * h[2] * sizeof **X) : NULL;
	*T = ok ? malloc((size_t)n_test * h[2] * sizeof **T) : NULL;
	ok = ok && *X && *T &&
	     fread(*X, sizeof **X, (size_t)n_train * h[2], f) == (size_t)n_train * h[2] &&
	     fread(*T, sizeof **T, (size_t)n_test * h[2], f) == (size_t)n_test * h[2];
	fclose(f);
	if (!ok) {
		free(*X);
		free(*T);
		*X = *T = NULL;
		return false;
	}
	*dims = h[2];
	fprintf(stderr, "  embeddings read from %s\n", path);
	return true;
}

static void cache_write(const char *path, int n_train, int n_test, int dims, const float *X,
                        const float *T)
{
	FILE *f = fopen(path, "wb");
	const int h[3] = {n_train, n_test, dims};
	bool ok = f && fwrite(h, sizeof h, 1, f) == 1 &&
	          fwrite(X, sizeof *X, (size_t)n_train * dims, f) == (size_t)n_train * dims &&
	          fwrite(T, sizeof *T, (size_t)n_test * dims, f) == (size_t)n_test * dims;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "  could not write the embeddings to %s\n", path);
}

int cmd_eval_intents(int argc, char **argv)
{
	struct intents_args a;
	const int parsed = intents_parse_args(argc, argv, &a);
	if (parsed)
		return parsed == 1 ? 0 : 2;
	struct dataset train = {0}, test = {0};
	struct intent_data d = {0};
	struct sy_error err = {0};
	bool clinc = false;
	int rc = 1;
	if (dataset_read_intents(a.data, a.test_path, &err, &train, &test, &clinc) != SY_OK ||
	    intent_data_prepare(&train, &test, clinc, &err, &d) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	int n_oos_rows = 0;
	if (a.oos_class && clinc)
		n_oos_rows = intent_data_add_oos(&d, &train, &err);
	if (n_oos_rows < 0) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	int dims = 0, dt = 0;
	float *X = NULL, *T = NULL;
	if (!(a.cache && cache_read(a.cache, d.in_train.n, test.n, &dims, &X, &T))) {
		struct model *emb = open_encoder(a.model, a.threads);
		X = emb ? embed_all(emb, d.in_train.text, d.in_train.n, &dims, "training") : NULL;
		T = X ? embed_all(emb, test.text, test.n, &dt, "test") : NULL;
		model_close(emb);
		if (T && a.cache)
			cache_write(a.cache, d.in_train.n, test.n, dims, X, T);
	}
	if (T)
		rc = intents_run(&a, &d, X, T, test.n, dims, n_oos_rows);
	free(X);
	free(T);
out:
	intent_data_free(&d);
	dataset_free(&train);
	dataset_free(&test);
	return rc;
}

/* ---- switchyard eval routellm ---- */

enum { RL_DATA, RL_MODEL, RL_THREADS, RL_LIMIT, RL_STRONG_SHARE, RL_SVG, RL_JSON };

static const struct cli_opt routellm_opts[] = {
    {"data", CLI_VALUE, "DIR", "RouteLLM's correctness tables (required)", .id = RL_DATA},
    {"model", CLI_VALUE, "ID", "the embedding model (default use-lite)", .id = RL_MODEL},
    {"threads", CLI_VALUE, "N", "compute threads (default: one per core)", .id = RL_THREADS},
    {"strong-share", CLI_VALUE, "X", "calibration target, 0 to 1 (default 0.5)",
     .id = RL_STRONG_SHARE},
    {"svg", CLI_VALUE, "FILE", "write the quality-vs-cost curves", .id = RL_SVG},
    {"limit", CLI_VALUE, "N", "the first N prompts of each table only", .id = RL_LIMIT},
    {"json", CLI_SWITCH, NULL, "one JSON object instead of text lines", .id = RL_JSON},
};

static const struct cli_cmd routellm_cmd = {
    "eval routellm",
    "usage: switchyard eval routellm --data DIR [options]\n",
    "Strong/weak routing on RouteLLM's correctness tables (DIR/mmlu/*.csv and\n"
    "DIR/gsm8k/gsm8k_responses.csv: prompt, weak correct, strong correct). A strong/weak\n"
    "classifier on --model embeddings (default use-lite) is trained on 4/5 of the MMLU\n"
    "prompts and evaluated on the other fifth and on GSM8K: APGR, CPT(50%), CPT(80%),\n"
    "strong calls saved against the random router, and the share of strong calls and\n"
    "PGR at a threshold calibrated on the training prompts for --strong-share (default\n"
    "0.5). Random (mean of 20 seeds) and oracle routers are reported alongside. --svg\n"
    "writes the quality-vs-cost curves of the MMLU held-out fifth.\n",
    routellm_opts,
    (int)(sizeof routellm_opts / sizeof *routellm_opts),
    0,
};

static void print_split(const char *name, const struct routellm_split *r, bool json, bool last)
{
	if (json) {
		printf("\"%s\":{\"n\":%d,\"r_weak\":%.4f,\"r_strong\":%.4f,\"apgr\":%.4f,\"cpt50\":"
		       "%.4f,"
		       "\"cpt80\":%.4f,\"random\":{\"apgr\":%.4f,\"cpt50\":%.4f,\"cpt80\":%.4f},"
		       "\"oracle\":{\"apgr\":%.4f,\"cpt50\":%.4f},\"calibrated\":{\"strong_share\":"
		       "%.4f,"
		       "\"pgr\":%.4f}}%s",
		       name, r->n, r->r_weak, r->r_strong, r->apgr, r->cpt50, r->cpt80,
		       r->apgr_random, r->cpt50_random, r->cpt80_random, r->apgr_oracle,
		       r->cpt50_oracle, r->share_at_t, r->pgr_at_t, last ? "" : ",");
		return;
	}
	printf("%s: %d prompts, weak correct %.4f, strong correct %.4f\n", name, r->n, r->r_weak,
	       r->r_strong);
	printf("  router  APGR %.4f  CPT(50%%) %.2f%%  CPT(80%%) %.2f%%\n", r->apgr, 100 * r->cpt50,
	       100 * r->cpt80);
	printf("  random  APGR %.4f  CPT(50%%) %.2f%%  CPT(80%%) %.2f%%  (mean of 20 seeds)\n",
	       r->apgr_random, 100 * r->cpt50_random, 100 * r->cpt80_random);
	printf("  oracle  APGR %.4f  CPT(50%%) %.2f%%\n", r->apgr_oracle, 100 * r->cpt50_oracle);
	printf("  strong calls saved vs random: %.1f%% at 50%% PGR, %.1f%% at 80%% PGR\n",
	       100 * (1 - r->cpt50 / r->cpt50_random), 100 * (1 - r->cpt80 / r->cpt80_random));
	printf("  calibrated threshold: %.2f%% strong calls, PGR %.4f\n", 100 * r->share_at_t,
	       r->pgr_at_t);
}

struct routellm_args {
	const char *data, *model, *svg;
	int threads, limit;
	bool json;
	double share;
};

static int routellm_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct routellm_args *a = ctx;
	switch (o->id) {
	case RL_DATA: a->data = val; return 0;
	case RL_MODEL: a->model = val; return 0;
	case RL_THREADS: return cli_int_arg("eval routellm", o, val, 0, &a->threads);
	case RL_LIMIT: return cli_int_arg("eval routellm", o, val, 0, &a->limit);
	case RL_STRONG_SHARE:
		return cli_double_arg("eval routellm", o, val, 0, 1, false, &a->share);
	case RL_SVG: a->svg = val; return 0;
	case RL_JSON: a->json = true; return 0;
	}
	return -1;
}

/* 0: parsed, 1: --help shown, 2: a usage error (said on stderr). */
static int routellm_parse_args(int argc, char **argv, struct routellm_args *a)
{
	*a = (struct routellm_args){.model = "use-lite", .share = 0.5};
	int first, rc = cli_opts_parse(&routellm_cmd, argc, argv, routellm_apply, a, &first);
	if (rc != 0)
		return rc;
	if (first < argc)
		return cli_usage_error(&routellm_cmd, "unexpected argument '%s'", argv[first]);
	if (!a->data)
		return cli_usage_error(&routellm_cmd, "--data is required");
	return 0;
}

static void write_svg(const char *path, const struct routellm_curve *curves, bool quiet)
{
	struct sbuf b = {0};
	const char *names[] = {"router", "random", "oracle"};
	routellm_svg(&b, curves, names, 3, "RouteLLM MMLU held-out: quality vs cost");
	FILE *f = fopen(path, "w");
	if (f) {
		fwrite(b.data, 1, b.len, f);
		fclose(f);
		if (!quiet)
			printf("quality-vs-cost curves: %s\n", path);
	}
	sbuf_free(&b);
}

/* The four embedded sets of a RouteLLM run. */
struct routellm_sets {
	struct dataset mmlu, gsm, train, calibrate, test;
	float *X, *C, *T, *G; /* [n][dims] of train, calibrate, test, gsm */
	int dims;
};

/* Trains on the MMLU training rows, calibrates the threshold, evaluates both test sets and
 * prints them; 0 when done. */
static int routellm_run(const struct routellm_args *a, const struct routellm_sets *s)
{
	int *y = routellm_train_labels(&s->train);
	struct classifier *c = NULL;
	struct sy_error err = {0};
	const char *labels[] = {"strong", "weak"};
	const struct classifier_train_options to = routellm_train_options();
	if (!y || classifier_train(s->X, y, s->train.n, s->dims, labels, 2, &to, &err, &c) != SY_OK)
		fprintf(stderr, "switchyard eval routellm: %s\n", err.msg);
	free(y);
	if (!c)
		return 1;
	/* calibrated on the calibration prompts, not the training ones, where the classifier is
	 * overconfident */
	const double threshold = classifier_share_threshold(c, s->C, s->calibrate.n, a->share);
	struct routellm_split rm, rg;
	struct routellm_curve curves[3];
	routellm_split_eval(c, s->T, &s->test, threshold, &rm, &curves[0], &curves[1], &curves[2]);
	routellm_split_eval(c, s->G, &s->gsm, threshold, &rg, NULL, NULL, NULL);
	if (a->json) {
		printf("{\"model\":\"%s\",\"train\":%d,\"target_strong_share\":%.3f,"
		       "\"threshold\":%.6f,",
		       a->model, s->train.n, a->share, threshold);
		print_split("mmlu_heldout", &rm, true, false);
		print_split("gsm8k", &rg, true, true);
		printf("}\n");
	} else {
		printf("strong/weak router on %s embeddings, trained on %d MMLU prompts; threshold "
		       "%.4f calibrated for %.0f%% strong calls\n",
		       a->model, s->train.n, threshold, 100 * a->share);
		print_split("MMLU held-out fifth", &rm, false, false);
		print_split("GSM8K (another domain)", &rg, false, true);
	}
	if (a->svg)
		write_svg(a->svg, curves, a->json);
	for (int i = 0; i < 3; i++)
		routellm_curve_free(&curves[i]);
	classifier_free(c);
	return 0;
}

int cmd_eval_routellm(int argc, char **argv)
{
	struct routellm_args a;
	const int parsed = routellm_parse_args(argc, argv, &a);
	if (parsed)
		return parsed == 1 ? 0 : 2;
	struct routellm_sets s = {0};
	struct sy_error err = {0};
	int rc = 1;
	if (dataset_read_routellm(a.data, &err, &s.mmlu, &s.gsm) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	if (a.limit > 0) {
		dataset_truncate(&s.mmlu, a.limit);
		dataset_truncate(&s.gsm, a.limit / 4 + 1);
	}
	if (dataset_routellm_split(&s.mmlu, &err, &s.train, &s.calibrate, &s.test) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	int dc = 0, dt = 0, dg = 0;
	struct model *emb = open_encoder(a.model, a.threads);
	s.X = emb ? embed_all(emb, s.train.text, s.train.n, &s.dims, "MMLU training") : NULL;
	s.C = s.X ? embed_all(emb, s.calibrate.text, s.calibrate.n, &dc, "MMLU calibration") : NULL;
	s.T = s.C ? embed_all(emb, s.test.text, s.test.n, &dt, "MMLU held-out") : NULL;
	s.G = s.T ? embed_all(emb, s.gsm.text, s.gsm.n, &dg, "GSM8K") : NULL;
	model_close(emb);
	if (s.G)
		rc = routellm_run(&a, &s);
	free(s.X);
	free(s.C);
	free(s.T);
	free(s.G);
out:
	dataset_free(&s.mmlu);
	dataset_free(&s.gsm);
	dataset_free(&s.train);
	dataset_free(&s.calibrate);
	dataset_free(&s.test);
	return rc;
}
