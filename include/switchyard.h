/* Switchyard: the embeddable C library.
 *
 * An engine holds a catalogue of models (Hugging Face directories, Hub ids, the built-in
 * "use-lite"), loads each on first use within a memory budget (least recently used evicted),
 * and batches the calls of every thread together. The CLI's encode, score and extract are
 * built on this API.
 *
 *     sy_engine_params ep = sy_engine_default_params();
 *     sy_engine *e;
 *     if (sy_engine_open(&ep, &e) < 0) ...
 *     sy_model_add(e, "minilm", "/models/all-MiniLM-L6-v2");
 *     sy_result *r;
 *     const char *texts[] = {"hello", "world"};
 *     int rc = sy_encode(e, "minilm", texts, 2, NULL, &r);
 *     if (rc < 0) fprintf(stderr, "%s: %s\n", sy_strerror(rc), sy_last_error(e));
 *     size_t dims;
 *     const float *v = sy_result_dense(r, 0, &dims);
 *     sy_result_free(r);
 *     sy_engine_close(e);
 *
 * Status: functions that can fail return 0 or a negative SY_E* code; sy_strerror names it and
 * sy_last_error gives the calling thread's message for its last failed call on that engine.
 *
 * Lifetimes: a sy_engine lives from sy_engine_open to sy_engine_close; a sy_result is owned by
 * the caller until sy_result_free and does not depend on the engine; pointers a result hands
 * out live as long as the result. Strings passed in are copied or used only during the call.
 *
 * Threads: every function taking a sy_engine may be called from many threads at once (calls
 * on the same model are batched together), except sy_engine_close, which must be the last.
 * A sy_result may be read from any thread, freed once. */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(SY_BUILD_SHARED)
#define SY_API __declspec(dllexport)
#elif defined(__GNUC__)
#define SY_API __attribute__((visibility("default")))
#else
#define SY_API
#endif

#define SY_VERSION_MAJOR 0
#define SY_VERSION_MINOR 4
#define SY_VERSION_PATCH 0
#define SY_VERSION_STRING "0.4.0"

/* "0.4.0": the library's version (may differ from the header's SY_VERSION_STRING when linked
 * against another build). */
SY_API const char *sy_version(void);

/* Status codes (0 is success). */
enum {
	SY_EINVAL = -1, /* an argument is unusable (NULL, empty, out of range) */
	SY_EIO = -2, /* a file could not be read */
	SY_EFORMAT = -3, /* a model file or message is malformed */
	SY_EUNSUPPORTED = -4, /* the model cannot do this (task, output, option) */
	SY_ENOTFOUND = -5, /* no such model (not added, or not a model directory) */
	SY_ENOMEM = -6, /* out of memory */
	SY_ELIMIT = -7, /* a text longer than the model takes (truncate off), too many items */
	SY_EBUSY = -8, /* the model's queue is full; retry */
	SY_EUNAVAILABLE = -9, /* still loading, or the engine is closing */
	SY_ELOAD = -10, /* the model failed to load */
	SY_EINTERNAL = -11, /* a bug */
};

/* The name of a status ("ok", "invalid argument", ...). */
SY_API const char *sy_strerror(int status);

typedef struct sy_engine sy_engine;
typedef struct sy_result sy_result;

typedef struct sy_engine_params {
	size_t memory_budget; /* bytes for loaded models; 0: half the machine's memory */
	int n_threads; /* compute threads; 0: one per core */
	int quantize_int8; /* 1: linear layers in int8 (dynamic quantisation); 0: fp32 */
	int builtin_models; /* 1: add "use-lite" when its files are found (default) */
} sy_engine_params;

SY_API sy_engine_params sy_engine_default_params(void);
SY_API int sy_engine_open(const sy_engine_params *p, sy_engine **out);
SY_API void sy_engine_close(sy_engine *e);
/* The calling thread's message for its last failed call on e ("" when none). */
SY_API const char *sy_last_error(sy_engine *e);

/* Adds a model under id: a model directory or a Hugging Face Hub id (loaded on first use). */
SY_API int sy_model_add(sy_engine *e, const char *id, const char *path_or_hub_id);

typedef struct sy_model_params {
	const char *pooling; /* NULL (the model's own), "cls", "mean", "max", "last" */
	int max_length; /* tokens per text; 0: the model's own limit */
	int dense_dims; /* of a model with several N-named Dense heads (stella's 2_Dense_N), the one
	                   giving this many dimensions; 0: the one modules.json names */
	int quantize; /* 0: the engine's (sy_engine_params.quantize_int8); 1: int8 for this model,
	                 which a model without an int8 path (GLiNER) refuses at load; -1: fp32 */
} sy_model_params;

SY_API sy_model_params sy_model_default_params(void);
/* sy_model_add with load options. */
SY_API int sy_model_add_with(sy_engine *e, const char *id, const char *path_or_hub_id,
                             const sy_model_params *p);

enum { SY_TASK_ENCODE = 1, SY_TASK_SCORE = 2, SY_TASK_EXTRACT = 4 };

/* What model offers, loading it if needed: *tasks the SY_TASK_* bits, *output its encode output
 * (SY_OUTPUT_*, 0 when it does not encode). Either pointer may be NULL. */
SY_API int sy_model_tasks(sy_engine *e, const char *model, int *tasks, int *output);

typedef struct sy_encode_params {
	int normalize; /* -1 the model's default, 0 off, 1 L2-normalise */
	int is_query; /* 1: the texts are queries (the model's query prompt, ColBERT's [Q]) */
	const char *instruction; /* put before every text, or NULL */
	int truncate; /* 1 (default): cut texts to the model's limit; 0: refuse longer ones */
	int output; /* SY_OUTPUT_DENSE (default), SY_OUTPUT_SPARSE or SY_OUTPUT_MULTIVECTOR */
} sy_encode_params;

enum { SY_OUTPUT_DENSE = 1, SY_OUTPUT_SPARSE = 2, SY_OUTPUT_MULTIVECTOR = 4 };

SY_API sy_encode_params sy_encode_default_params(void);

/* n NUL-terminated texts -> one result item each. p may be NULL (defaults). */
SY_API int sy_encode(sy_engine *e, const char *model, const char *const *texts, size_t n,
                     const sy_encode_params *p, sy_result **out);
/* n encoded images (JPEG, PNG or WebP bytes: images[i] of lens[i] bytes, read during the call
 * only) -> one result item each, in the same space as the model's texts (CLIP, SigLIP). A
 * corrupt, truncated or unsupported image fails the call with SY_EINVAL naming it. p may be NULL
 * (defaults). */
SY_API int sy_encode_images(sy_engine *e, const char *model, const void *const *images,
                            const size_t *lens, size_t n, const sy_encode_params *p,
                            sy_result **out);
/* The relevance of each of n documents to query (cross-encoders; ColBERT by MaxSim). */
SY_API int sy_score(sy_engine *e, const char *model, const char *query, const char *const *docs,
                    size_t n, sy_result **out);
typedef struct sy_score_params {
	const char *instruction; /* the task for models that read one (LLM rerankers: it replaces
	                            the default instruction; ColBERT), or NULL */
	int truncate; /* 1 (default): cut pairs to the model's limit; 0: refuse longer ones */
} sy_score_params;

SY_API sy_score_params sy_score_default_params(void);
/* sy_score with an instruction and truncation. p may be NULL (defaults). */
SY_API int sy_score_with(sy_engine *e, const char *model, const char *query,
                         const char *const *docs, size_t n, const sy_score_params *p,
                         sy_result **out);
/* Entities in each of n texts. labels (n_labels) name the types to find for zero-shot models
 * (GLiNER); NULL for models with fixed labels (NER). */
SY_API int sy_extract(sy_engine *e, const char *model, const char *const *texts, size_t n,
                      const char *const *labels, size_t n_labels, sy_result **out);

typedef struct sy_extract_params {
	const char *const *labels; /* [n_labels] types to find (zero-shot models), or NULL */
	size_t n_labels;
	float threshold; /* drop entities scoring below; < 0: the model's default */
	const char *aggregation; /* NER word grouping: "first" (default), "simple", "average",
				    "max" */
} sy_extract_params;

SY_API sy_extract_params sy_extract_default_params(void);
/* sy_extract with a threshold and an aggregation. p may be NULL (defaults). */
SY_API int sy_extract_with(sy_engine *e, const char *model, const char *const *texts, size_t n,
                           const sy_extract_params *p, sy_result **out);

/* Results. i < sy_result_count(r); accessors of another kind return NULL / 0. */
SY_API size_t sy_result_count(const sy_result *r);
/* Dense (or sparse: vocabulary-sized, mostly zeros) vector of item i; *dims its length. */
SY_API const float *sy_result_dense(const sy_result *r, size_t i, size_t *dims);
/* Relevance score of document i (sy_score). */
SY_API float sy_result_score(const sy_result *r, size_t i);
/* Multi-vector of item i: *n_vectors rows of *dims floats. */
SY_API const float *sy_result_multivector(const sy_result *r, size_t i, size_t *n_vectors,
                                          size_t *dims);
/* Entities of item i (sy_extract). */
SY_API size_t sy_result_entity_count(const sy_result *r, size_t i);
/* Entity k of item i: its label, score and [start, end) byte offsets into the text. */
SY_API const char *sy_result_entity(const sy_result *r, size_t i, size_t k, float *score,
                                    size_t *start, size_t *end);
/* Tokens item i took, special tokens included. */
SY_API size_t sy_result_tokens(const sy_result *r, size_t i);
SY_API void sy_result_free(sy_result *r);

#ifdef __cplusplus
}
#endif

#endif
