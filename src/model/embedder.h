/* An embedder maps texts to dense vectors: tokenizer + encoder + pooling head, whatever the
 * architecture. `embedder_open` looks at a model directory and picks the implementation:
 *   - config.json (Hugging Face layout)          -> BERT family (bert.c, pooling per
 *                                                    sentence-transformers metadata)
 *   - model.json with a TF.js weightsManifest   -> Universal Sentence Encoder lite (use_lite.c)
 * The built-in id "use-lite" resolves to a directory (see use_lite.h).
 *
 * An open embedder is used by one thread at a time (it owns its scratch and thread pool). */
#ifndef SY_MODEL_EMBEDDER_H
#define SY_MODEL_EMBEDDER_H

#include <stddef.h>

#include "base/status.h"

enum pooling_mode {
	POOLING_DEFAULT = 0, /* what the model's metadata says (sentence-transformers), else cls */
	POOLING_CLS,
	POOLING_MEAN,
	POOLING_MAX,
	POOLING_LAST,
};

/* Parses "cls", "mean", "max", "last"; returns POOLING_DEFAULT for anything else. */
enum pooling_mode pooling_mode_parse(const char *s);
const char *pooling_mode_name(enum pooling_mode m);

struct embed_options {
	enum pooling_mode pooling;
	int normalize;  /* -1: the model's default; 0: off; 1: L2-normalise */
	int max_length; /* tokens incl. special tokens; 0: the model's default */
	int n_threads;  /* 0: one per core */
};

struct embed_options embed_default_options(void);

struct embedder_vt {
	const char *arch; /* "bert", "roberta", "distilbert", "use-lite", ... */
	int (*dims)(const void *impl);
	/* Encodes n texts (lens[i] bytes each) into out[n][dims]. */
	enum sy_status (*encode)(void *impl, const char *const *texts, const size_t *lens, int n,
				 float *out, struct sy_error *err);
	void (*close)(void *impl);
};

struct embedder {
	const struct embedder_vt *vt;
	void *impl;
};

enum sy_status embedder_open(const char *path, const struct embed_options *opts,
			     struct sy_error *err, struct embedder **out);
int embedder_dims(const struct embedder *e);
const char *embedder_arch(const struct embedder *e);
enum sy_status embedder_encode(struct embedder *e, const char *const *texts, const size_t *lens,
			       int n, float *out, struct sy_error *err);
void embedder_close(struct embedder *e);

/* Implementations (one per architecture file). Each fills *out with a vt and impl. */
enum sy_status bert_embedder_open(const char *dir, const struct embed_options *opts,
				  struct sy_error *err, struct embedder *out);
enum sy_status use_lite_embedder_open(const char *dir, const struct embed_options *opts,
				      struct sy_error *err, struct embedder *out);

#endif
