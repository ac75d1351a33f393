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

/* Extraction (NER, GLiNER): how token predictions become entity spans. The strategies are those
 * of Hugging Face's token-classification pipeline: simple groups tokens; first, average and max
 * first make words (a word's label from its first token, the mean of its tokens' scores, or its
 * most confident token) and never split a word between entities. */
enum ner_aggregation {
	NER_AGG_FIRST = 0, /* default */
	NER_AGG_SIMPLE,
	NER_AGG_AVERAGE,
	NER_AGG_MAX,
};
/* Parses "simple", "first", "average", "max"; returns -1 for anything else. */
int ner_aggregation_parse(const char *s);
const char *ner_aggregation_name(enum ner_aggregation a);

struct extract_params {
	const char *const *labels; /* [n_labels] entity types to look for (zero-shot models);
				      NULL: the model's own */
	int n_labels;
	float threshold; /* entities scoring below are dropped; < 0: the model's default (0 for
			    NER, which keeps what the pipeline keeps) */
	enum ner_aggregation aggregation;
};

/* One entity: a span of the item's text, [start, end) in bytes. */
struct embed_entity {
	char label[64];
	size_t start, end;
	float score;
};

/* The result of one item when its size depends on the text: a multi-vector (ColBERT: one
 * vector per kept token) or entities. The arrays are malloc'd; embed_item_result_free. */
struct embed_item_result {
	float *vectors; /* [n_vectors][dims] */
	int n_vectors, dims;
	struct embed_entity *entities; /* [n_entities] in text order */
	int n_entities;
};
void embed_item_result_free(struct embed_item_result *r);

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
	const bool *is_query; /* [n] the text is a search query (ColBERT encodes queries and
				 documents differently), or NULL: documents */
	const struct extract_params *const *extract; /* [n] extraction options, or NULL (an
							entry may be NULL): defaults */
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
	/* True for multi-vector models (ColBERT): encode_items gives each item one vector per
	 * token it keeps. */
	bool (*multivector)(const void *impl);
	/* True for extractors (NER, GLiNER): encode_items gives each item its entities. */
	bool (*extractor)(const void *impl);
	/* Extractors with a fixed label set (NER): its entity types, [n]; NULL for zero-shot
	 * models, which take labels per call. */
	const char *const *(*labels)(const void *impl, int *n);
	/* Variable-size results (multi-vector or entities): fills out[call->n] (zeroed by the
	 * caller; on failure the caller frees what was filled) and n_tokens like encode_ex. */
	enum sy_status (*encode_items)(void *impl, const struct embed_call *call,
	                               struct sy_error *err, struct embed_item_result *out,
	                               int *n_tokens);
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
bool embedder_is_multivector_model(const struct embedder *e); /* ColBERT */
bool embedder_is_extractor(const struct embedder *e); /* NER, GLiNER */
/* The fixed entity types of an extractor ([*n]), or NULL (zero-shot, or not an extractor). */
const char *const *embedder_labels(const struct embedder *e, int *n);
/* Models without encode_items fail with SY_ERR_UNSUPPORTED. */
enum sy_status embedder_encode_items(struct embedder *e, const struct embed_call *call,
                                     struct sy_error *err, struct embed_item_result *out,
                                     int *n_tokens);

/* Implementations (one per architecture file). Each fills *out with a vt and impl. */
enum sy_status bert_embedder_open(const char *dir, const struct embed_options *opts,
                                  struct sy_error *err, struct embedder *out);
enum sy_status use_lite_embedder_open(const char *dir, const struct embed_options *opts,
                                      struct sy_error *err, struct embedder *out);
/* SPLADE (src/model/heads/splade.c): a config.json naming BertForMaskedLM. */
bool splade_detect(const char *dir);
enum sy_status splade_embedder_open(const char *dir, const struct embed_options *opts,
                                    struct sy_error *err, struct embedder *out);
/* Token classification (src/model/heads/token_classifier.c): *ForTokenClassification (NER). */
bool token_classifier_detect(const char *dir);
enum sy_status token_classifier_embedder_open(const char *dir, const struct embed_options *opts,
                                              struct sy_error *err, struct embedder *out);
/* GLiNER (src/model/heads/gliner.c): zero-shot span extraction over a DeBERTa-v2 encoder, a directory
 * with gliner_config.json. */
bool gliner_detect(const char *dir);
enum sy_status gliner_embedder_open(const char *dir, const struct embed_options *opts,
                                    struct sy_error *err, struct embedder *out);
/* ColBERT (src/model/heads/colbert.c): a BERT encoder with a per-token linear projection. */
bool colbert_detect(const char *dir);
enum sy_status colbert_embedder_open(const char *dir, const struct embed_options *opts,
                                     struct sy_error *err, struct embedder *out);
enum sy_status cross_encoder_embedder_open(const char *dir, const struct embed_options *opts,
                                           struct sy_error *err, struct embedder *out);

#endif
