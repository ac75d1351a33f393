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

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "tensor/linear.h"

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
	int normalize; /* -1: the model's default; 0: off; 1: L2-normalise */
	int max_length; /* tokens incl. special tokens; 0: the model's default */
	int n_threads; /* 0: one per core */
	enum linear_precision precision; /* the encoder's linear layers: fp32 (default) or int8
	                                   (dynamic quantisation, tensor/qgemm.h) */
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

/* One call with per-item options, as the engine batches items of several requests. Arrays that
 * are NULL mean "the default for every item". */
struct embed_call {
	int n;
	const char *const *texts; /* [n] UTF-8 */
	const size_t *lens; /* [n] bytes */
	const char *const *prefixes; /* [n] text put before each text (a prompt or an
					    instruction; an entry may be NULL), or NULL */
	const size_t *prefix_lens; /* [n] bytes of each prefix */
	const signed char *normalize; /* [n] -1 the model's default, 0 off, 1 L2-normalise */
};

/* Optional operations beyond embedder_vt. Kept in a second table so that implementations that
 * initialise embedder_vt positionally keep compiling; an embedder without it (ext == NULL), or
 * with a NULL member, gets the fallbacks described at the embedder_* wrappers below. */
struct embedder_ext {
	/* Encodes call->n texts into out[n][dims] and writes the tokens each text was fed
	 * (special tokens included, after truncation) to n_tokens[n] when non-NULL. */
	enum sy_status (*encode_ex)(void *impl, const struct embed_call *call, struct sy_error *err,
	                            float *out, int *n_tokens);
	/* Tokens prefix + text would take before truncation, special tokens included. Must be
	 * safe to call while another thread runs encode_ex (tokenizers are read-only). */
	enum sy_status (*count_tokens)(const void *impl, const char *prefix, size_t prefix_len,
	                               const char *text, size_t len, struct sy_error *err,
	                               int *out);
	/* Resident bytes: weights plus the scratch a full batch needs. */
	size_t (*bytes)(const void *impl);
	/* The prompt called name (sentence-transformers prompts), or NULL. */
	const char *(*prompt)(const void *impl, const char *name);
	/* The sequence limit in tokens (texts are truncated to it), or 0 when unknown. */
	int (*max_tokens)(const void *impl);
	/* True for pair models (cross-encoders): encode_ex then reads each item as the pair
	 * (prefixes[i], texts[i]) = (query, document) and writes one relevance score (dims 1). */
	bool (*pairs)(const void *impl);
	/* True for sparse models (SPLADE): the dims floats of an item are term weights over the
	 * vocabulary, almost all zero; token(id) names a term. */
	bool (*sparse)(const void *impl);
	const char *(*token)(const void *impl, int id);
};

struct embedder {
	const struct embedder_vt *vt;
	void *impl;
	const struct embedder_ext *ext; /* optional; NULL when the implementation has none */
};

enum sy_status embedder_open(const char *path, const struct embed_options *opts,
                             struct sy_error *err, struct embedder **out);
int embedder_dims(const struct embedder *e);
const char *embedder_arch(const struct embedder *e);
enum sy_status embedder_encode(struct embedder *e, const char *const *texts, const size_t *lens,
                               int n, float *out, struct sy_error *err);
void embedder_close(struct embedder *e);

/* Per-item options. Without encode_ex, falls back to encode on the prefixed texts: the
 * normalize options are ignored (the model's own behaviour stands) and n_tokens come from
 * embedder_count_tokens (0 where it is unsupported). */
enum sy_status embedder_encode_ex(struct embedder *e, const struct embed_call *call,
                                  struct sy_error *err, float *out, int *n_tokens);
/* Embedders without count_tokens fail with SY_ERR_UNSUPPORTED. Thread-safe (see embedder_ext). */
enum sy_status embedder_count_tokens(const struct embedder *e, const char *prefix,
                                     size_t prefix_len, const char *text, size_t len,
                                     struct sy_error *err, int *out);
size_t embedder_bytes(const struct embedder *e); /* 0 when unknown */
const char *embedder_prompt(const struct embedder *e, const char *name); /* NULL: none */
int embedder_max_tokens(const struct embedder *e); /* 0 when unknown */
bool embedder_is_pair_model(const struct embedder *e); /* a cross-encoder (see embedder_ext) */
bool embedder_is_sparse_model(const struct embedder *e); /* SPLADE (see embedder_ext) */
const char *embedder_token(const struct embedder *e, int id); /* NULL when unknown */

/* Implementations (one per architecture file). Each fills *out with a vt and impl. */
enum sy_status bert_embedder_open(const char *dir, const struct embed_options *opts,
                                  struct sy_error *err, struct embedder *out);
enum sy_status use_lite_embedder_open(const char *dir, const struct embed_options *opts,
                                      struct sy_error *err, struct embedder *out);
/* SPLADE (src/model/splade.c): a config.json naming BertForMaskedLM. */
bool splade_detect(const char *dir);
enum sy_status splade_embedder_open(const char *dir, const struct embed_options *opts,
                                    struct sy_error *err, struct embedder *out);
enum sy_status cross_encoder_embedder_open(const char *dir, const struct embed_options *opts,
                                           struct sy_error *err, struct embedder *out);

#endif
