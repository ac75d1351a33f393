/* A model as the engine sees it: an opened architecture with its head, offering typed tasks.
 *
 * A model directory is read once into a description (model/desc.h); the registry
 * (model/registry.c, one line per family) finds the family that recognises it and opens it.
 * An open model offers up to three tasks, each a table of entry points or NULL when the model
 * cannot do it:
 *   encode   texts -> dense vectors, sparse term weights (SPLADE) or multi-vectors (ColBERT)
 *   score    (query, document) pairs -> relevance (cross-encoders; ColBERT by MaxSim)
 *   extract  texts -> entity spans (NER with fixed labels, GLiNER with labels per call)
 *
 * Every task runs in two stages, so that the engine can plan before it computes:
 *   prepare  one item -> its tokens (struct model_prepared). Runs on the request's thread before
 *            the item queues: the batcher then closes batches on exact token counts, an
 *            over-long text is refused (truncate off) before any model work, and nothing is
 *            tokenised twice. Must be safe to call while another thread runs the model
 *            (tokenizers are read-only).
 *   run      a batch of prepared items (of several requests) -> results. One thread at a time:
 *            the model owns its scratch and thread pool.
 *
 * Errors are codes with neutral messages (base/status.h); the layers above word them for
 * their users. */
#ifndef SY_MODEL_MODEL_H
#define SY_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "tensor/linear.h"
#include "text/tokenizer.h"

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

/* Load options. */
struct model_options {
	enum pooling_mode pooling;
	int normalize; /* -1: the model's default; 0: off; 1: L2-normalise */
	int max_length; /* tokens incl. special tokens; 0: the model's default */
	int n_threads; /* 0: one per core */
	enum linear_precision precision; /* the encoder's linear layers: fp32 (default) or int8
	                                   (dynamic quantisation, tensor/qgemm.h) */
	int dense_dims; /* > 0: of a model that ships several N-named Dense heads (stella's
	                   2_Dense_256 ... 2_Dense_8192), the one giving this many dimensions instead
	                   of the one modules.json names; 0: modules.json's */
};

struct model_options model_default_options(void);

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
struct model_entity {
	char label[64];
	size_t start, end;
	float score;
};

/* The result of one item when its size depends on the text: a multi-vector (ColBERT: one
 * vector per kept token) or entities; or, from an encode task that gives several outputs
 * (model_encode_task.outputs), whichever of dense, sparse and multivector the item asked for.
 * The arrays are malloc'd; model_item_result_free. */
struct model_item_result {
	float *vectors; /* [n_vectors][dims] */
	int n_vectors, dims;
	struct model_entity *entities; /* [n_entities] in text order */
	int n_entities;
	float *dense; /* [dense_dims], or NULL */
	int dense_dims;
	int32_t *sparse_ids; /* [n_sparse] vocabulary ids in increasing order, or NULL */
	float *sparse_weights; /* [n_sparse] their weights (> 0) */
	int n_sparse;
};
void model_item_result_free(struct model_item_result *r);

/* Outputs of the encode task. */
enum model_output {
	MODEL_OUTPUT_DENSE = 1,
	MODEL_OUTPUT_SPARSE = 2, /* dims = vocabulary size, mostly zeros; token() names a term */
	MODEL_OUTPUT_MULTIVECTOR = 4, /* per-item struct model_item_result vectors */
};
#define MODEL_OUTPUTS_ALL 7u
/* "dense", "sparse", "multivector" (one bit), or "" */
const char *model_output_name(unsigned bit);

/* Score options of the models that score in several ways (BGE-M3: dense, sparse, ColBERT
 * MaxSim or a weighted mix of the three). */
enum model_score_mode {
	MODEL_SCORE_DEFAULT = 0, /* the model's own (BGE-M3: dense) */
	MODEL_SCORE_DENSE,
	MODEL_SCORE_SPARSE,
	MODEL_SCORE_COLBERT,
	MODEL_SCORE_HYBRID,
};
/* Parses "dense", "sparse", "colbert", "hybrid"; returns -1 for anything else. */
int model_score_mode_parse(const char *s);
const char *model_score_mode_name(enum model_score_mode m);
struct score_params {
	enum model_score_mode mode;
	bool has_weights; /* false: the model's default weights */
	float weights[3]; /* hybrid: dense, sparse, colbert */
};

/* An image item: encoded bytes (JPEG, PNG or WebP), read by prepare only (decoded and
 * preprocessed there, on the request's thread), so they need to live until prepare returns. */
struct model_image {
	const unsigned char *data;
	size_t len;
	int format; /* enum image_format (image/image.h): 0 any (sniffed), jpeg, png, webp */
};

/* One item as a task's prepare receives it. */
struct model_input {
	const char *text; /* UTF-8, len bytes */
	size_t len;
	/* encode, score: an image instead of text (text is then ""), or NULL. Only the tasks with
	 * `images` set take one; the engine refuses image items for the others. */
	const struct model_image *image;
	const char *prefix; /* encode: a prompt or instruction put before the text, or NULL */
	size_t prefix_len;
	const char *query; /* score: the pair's query (the document is text) */
	size_t query_len;
	const struct model_image *query_image; /* score: an image as the query instead, or NULL */
	bool is_query; /* encode: the text is a search query (ColBERT, inference-free SPLADE) */
	bool truncate; /* false: a text past the model's limit fails with SY_ERR_LIMIT */
	/* encode, for tasks with item_limits: a limit below the model's (tokens, special ones
	 * included; 0: the model's), and cutting from the start instead of the end */
	int max_length;
	bool truncate_left;
	signed char pooling; /* encode, for tasks with pooling: enum pooling_mode, 0 the model's */
	signed char normalize; /* encode: -1 the model's default, 0 off, 1 L2-normalise */
	const struct extract_params *extract; /* extract: NULL for the defaults */
	unsigned outputs; /* encode with a task that gives several outputs: the MODEL_OUTPUT_* bits
			     wanted; 0: the task's output */
	const struct score_params *score; /* score: NULL for the defaults */
};

/* An item after prepare: its tokens, and whatever else the model keeps for run. */
struct model_prepared {
	int n_tokens; /* tokens the model computes for it (special tokens included, after
			 truncation): what batches are measured in and usage reports */
	struct tok_encoding enc; /* token ids (with types and offsets where the model needs them) */
	void *extra; /* the model's own (GLiNER: words and prompt), freed by ops->free_extra */
};

/* An item in a batch: what prepare was given and what it made. */
struct model_item {
	const struct model_input *in;
	struct model_prepared *prep;
};

struct model_encode_task {
	enum model_output output; /* the one output this model gives (its default when outputs) */
	bool images; /* prepare takes image items (model_input.image) as well as texts */
	bool item_limits; /* prepare honours model_input.max_length and truncate_left */
	bool pooling; /* run honours model_input.pooling */
	/* 0: output alone. Else the MODEL_OUTPUT_* bits one run can give together (BGE-M3's dense,
	 * sparse and multivector from one forward): run then ignores out and fills res[i] with the
	 * outputs items[i].in->outputs asks for (0: output), dense in dense, sparse in sparse_ids
	 * and sparse_weights, multivector in vectors; dims is the dense dims and output_dims tells
	 * each output's. */
	unsigned outputs;
	int (*output_dims)(const void *impl, enum model_output o);
	int (*dims)(const void *impl); /* floats per item (dense, sparse), or per vector */
	enum sy_status (*prepare)(const void *impl, const struct model_input *in,
	                          struct sy_error *err, struct model_prepared *out);
	/* Dense and sparse: out[n][dims]. Multi-vector: res[n] (zeroed by the caller; on failure
	 * it frees what was filled). */
	enum sy_status (*run)(void *impl, const struct model_item *items, int n,
	                      struct sy_error *err, float *out, struct model_item_result *res);
	const char *(*token)(const void *impl, int id); /* sparse: the term of id, or NULL */
};

struct model_score_task {
	bool modes; /* it takes struct score_params (model_input.score); else they are refused */
	bool images; /* prepare takes image items (a text query against images: zero-shot) */
	/* run gives logits that the engine turns into a softmax over each request's items (CLIP's
	 * zero-shot classification); false: run's scores are final */
	bool softmax;
	enum sy_status (*prepare)(const void *impl, const struct model_input *in,
	                          struct sy_error *err, struct model_prepared *out);
	enum sy_status (*run)(void *impl, const struct model_item *items, int n,
	                      struct sy_error *err, float *scores);
};

struct model_extract_task {
	/* The fixed entity types ([*n]) of a model that has them, or NULL: zero-shot, labels per
	 * call. */
	const char *const *(*labels)(const void *impl, int *n);
	enum sy_status (*prepare)(const void *impl, const struct model_input *in,
	                          struct sy_error *err, struct model_prepared *out);
	enum sy_status (*run)(void *impl, const struct model_item *items, int n,
	                      struct sy_error *err, struct model_item_result *res);
};

/* How a model gives fewer dimensions than it has (Matryoshka representation learning), for the
 * models trained for it: the first N dimensions, renormalised; nomic-embed-text-v1.5's recipe
 * first applies a layer norm (no affine) over the full vector. NONE: not trained for it. */
enum model_matryoshka { MODEL_MRL_NONE = 0, MODEL_MRL_TRUNCATE, MODEL_MRL_LAYER_NORM };

struct model_ops {
	void (*close)(void *impl);
	size_t (*bytes)(const void *impl); /* resident: weights plus the scratch of a full batch */
	int (*max_tokens)(const void *impl); /* the sequence limit, or 0 when unknown */
	const char *(*prompt)(const void *impl, const char *name); /* sentence-transformers */
	void (*free_extra)(void *extra); /* NULL: prepare never sets extra */
	enum model_matryoshka (*matryoshka)(const void *impl); /* NULL: MODEL_MRL_NONE */
	/* The model's Hugging Face tokenizer (read-only, lives as long as the model), or NULL
	 * when it has none (USE-lite's own tokenizer); for tokenize and decode. */
	const struct tokenizer *(*tokenizer)(const void *impl);
};

struct model {
	const char *arch; /* "bert", "roberta", "use-lite", "cross-encoder", ... */
	const struct model_ops *ops;
	const struct model_encode_task *encode; /* NULL: the model does not encode */
	const struct model_score_task *score; /* NULL: it does not score */
	const struct model_extract_task *extract; /* NULL: it does not extract */
	/* Its linear layers run in fp32 whatever model_options.precision says (no int8 path):
	 * the engine refuses int8 asked for it by name and reports fp32 for it. */
	bool fp32_only;
	void *impl;
};

/* Opening is the registry's (model/registry.h); closing is the model's own. */
void model_close(struct model *m);

size_t model_bytes(const struct model *m); /* 0 when unknown */
int model_max_tokens(const struct model *m); /* 0 when unknown */
const char *model_prompt(const struct model *m, const char *name); /* NULL: none */
enum model_matryoshka model_matryoshka(const struct model *m);
/* Reduces n dense vectors of dims floats (rows of v, in place) to their first keep dimensions
 * as kind says, each L2-normalised: the result is [n][keep] at v. */
void model_matryoshka_apply(enum model_matryoshka kind, float *v, int n, int dims, int keep);
int model_dims(const struct model *m); /* the encode task's dims; 0 without one */
/* The MODEL_OUTPUT_* bits the encode task gives (one or several); 0 without one. */
unsigned model_outputs(const struct model *m);
/* Floats per item of output o (per vector for multivector); 0 when the model lacks it. */
int model_output_dims(const struct model *m, enum model_output o);
/* The fixed labels of an extractor, or NULL (zero-shot, or no extract task). */
const char *const *model_labels(const struct model *m, int *n);
/* The model's tokenizer (model_ops.tokenizer), or NULL. */
const struct tokenizer *model_tokenizer(const struct model *m);
/* The term of a sparse model's dimension id, or NULL. */
const char *model_token(const struct model *m, int id);

void model_prepared_free(const struct model *m, struct model_prepared *p);

enum model_task { MODEL_TASK_ENCODE = 1, MODEL_TASK_SCORE = 2, MODEL_TASK_EXTRACT = 4 };

typedef enum sy_status (*model_prepare_fn)(const void *impl, const struct model_input *in,
                                           struct sy_error *err, struct model_prepared *out);
/* The prepare entry point of a task, or NULL when the model does not offer it. */
model_prepare_fn model_task_prepare(const struct model *m, enum model_task task);
/* A way to stop a run early: asked between layers, stop(ctx) true gives the run up with
 * SY_ERR_UNAVAILABLE. The engine stops a batch whose callers have all gone away. */
struct model_stop {
	bool (*stop)(void *ctx);
	void *ctx;
};

/* Runs prepared items of one task the model offers: out holds fixed-size results (encode's
 * [n][dims], score's [n]), res[n] the per-item ones (zeroed here, and freed again when the run
 * fails). stop may be NULL. */
enum sy_status model_task_run(struct model *m, enum model_task task, const struct model_item *items,
                              int n, const struct model_stop *stop, struct sy_error *err,
                              float *out, struct model_item_result *res);

/* For the architectures: the stop of the run in progress on this thread (model_task_run sets
 * it for the run's duration, so the tasks' signatures need not carry it), and whether it asks
 * to stop now. An architecture that runs its layers on a thread pool takes it before handing
 * out the work and decides on one thread, so all threads leave at the same layer. */
const struct model_stop *model_stop_current(void);
bool model_stop_requested(const struct model_stop *stop);
enum sy_status model_stopped_error(struct sy_error *err);

/* One call, prepare and run together (tests, tools), the inputs free to differ per item: out is
 * encode's [n][dims] (dense, sparse) or score's [n]; res is multivector or extract results;
 * n_tokens[n] may be NULL. */
enum sy_status model_run_inputs(struct model *m, enum model_task task,
                                const struct model_input *ins, int n, struct sy_error *err,
                                float *out, struct model_item_result *res, int *n_tokens);

/* The same with one frame for every item: n items with the options of tmpl (its
 * text is replaced by texts[i]); n_tokens[n] may be NULL. */
enum sy_status model_encode_texts(struct model *m, const char *const *texts, const size_t *lens,
                                  int n, const struct model_input *tmpl, struct sy_error *err,
                                  float *out, struct model_item_result *res, int *n_tokens);
enum sy_status model_score_pairs(struct model *m, const char *query, size_t query_len,
                                 const char *const *docs, const size_t *lens, int n,
                                 struct sy_error *err, float *scores, int *n_tokens);
enum sy_status model_extract_texts(struct model *m, const char *const *texts, const size_t *lens,
                                   int n, const struct extract_params *xp, struct sy_error *err,
                                   struct model_item_result *res, int *n_tokens);

/* Helpers for prepare implementations. */
/* prefix + text of in: *text and *len point at in->text itself when there is no prefix, else
 * at the malloc'd join in *joined (the caller frees it; NULL when nothing was joined). */
enum sy_status model_join_prefix(const struct model_input *in, struct sy_error *err,
                                 const char **text, size_t *len, char **joined);
/* Tokenises prefix + text (joined, as sentence-transformers prompts are) into out.
 * max_length > 0 (or in->max_length when lower) truncates to it, from the start when
 * in->truncate_left, unless in->truncate is false, in which case a longer text fails with
 * SY_ERR_LIMIT naming both counts. */
enum sy_status model_tokenize(const struct tokenizer *tok, const struct model_input *in,
                              int max_length, struct sy_error *err, struct tok_encoding *out);
/* Loads dir's tokenizer for a model whose embedding table has rows rows: a tokenizer that gives
 * ids past them is refused here, at load, not at the first text that reaches a missing row
 * (which would blame the request). */
enum sy_status model_tokenizer_load(const char *dir, int rows, struct sy_error *err,
                                    struct tokenizer **out);
/* The SY_ERR_LIMIT error for an item of n tokens past a limit (truncate off). */
enum sy_status model_too_long(struct sy_error *err, int n, int limit);

#endif
