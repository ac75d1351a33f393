/* A transformer encoder as the task heads use it: sequences packed back to back in (only real
 * tokens), the last hidden states out in the same layout. Each architecture (BERT family,
 * NewModel, ...) implements it in its own file under arch/ and has one line in ENCODER_ARCHS;
 * the heads (dense pooling, ...) work with any of them.
 *
 * An encoder is used by one thread at a time (it owns its threads and scratch). */
#ifndef SY_MODEL_ENCODER_H
#define SY_MODEL_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/desc.h"
#include "model/formats/safetensors.h"
#include "tensor/linear.h"

/* A batch of at most this many tokens runs on the calling thread alone when the pool's workers
 * are asleep (sy_pool_asleep, sy_pool_run_solo): a 16-token MiniLM-shaped request takes ~2 ms
 * alone, while waking a sleeping worker on a VM costs up to ~10 ms and a worker another process
 * holds stalls every barrier of the forward (docs/PERFORMANCE.md section 9b). */
#define ENCODER_SOLO_MAX_ROWS 32

struct encoder_input {
	int n_seqs;
	const int *lens; /* [n_seqs] tokens per sequence, each in [0, max_tokens] */
	const int32_t *ids; /* [sum lens] token ids, sequences back to back */
	const int32_t *type_ids; /* [sum lens] token type ids, or NULL for all zeros */
	/* [n_seqs] keys each sequence attends to: its first n_valid[s] tokens (the others still
	 * get outputs, as padding positions with attention mask 0 do in Hugging Face; ColBERT's
	 * query expansion needs it), or NULL: every token of the sequence */
	const int *n_valid;
};

struct encoder_ops {
	/* *out: the last hidden state, packed [sum lens][hidden], owned by the encoder and valid
	 * until the next forward. */
	enum sy_status (*forward)(void *impl, const struct encoder_input *in, struct sy_error *err,
	                          const float **out);
	/* Sizes the scratch for batches of up to rows tokens in n_seqs sequences of at most
	 * max_t tokens, so that later forwards within those bounds allocate nothing. */
	enum sy_status (*reserve)(void *impl, int rows, int n_seqs, int max_t,
	                          struct sy_error *err);
	size_t (*weight_bytes)(const void *impl);
	size_t (*scratch_bytes)(const void *impl);
	void (*free)(void *impl);
};

struct encoder {
	const struct encoder_ops *ops;
	void *impl;
	const char *arch; /* "bert", "roberta", "new", ... */
	int hidden, vocab_size;
	int max_tokens; /* the longest sequence it takes (its positions) */
	bool uses_type_ids; /* it has a token type table */
	/* What the architecture's models put before queries and documents when their
	 * sentence-transformers files name no such prompts (NomicBERT's "search_query: "), or
	 * NULL. */
	const char *query_prefix, *document_prefix;
	int matryoshka; /* enum model_matryoshka: how it gives fewer dimensions, if trained to */
};

/* The architectures, in detection order: X(symbol prefix, what it reads). Each file defines
 * sym_encoder_detect(desc) (whether the description is its architecture) and
 * sym_encoder_open(desc, weights, n_threads, precision, err, out). */
#define ENCODER_ARCHS(X)                                                                       \
	X(new_model) /* arch/new_model.c: model_type "new" (Alibaba-NLP NewModel, GTE v1.5) */ \
	X(nomic_bert) /* arch/nomic_bert.c: nomic_bert (nomic-embed-text) */                   \
	X(decoder) /* arch/decoder.c: qwen3, qwen2, gemma3_text (decoders as encoders) */      \
	X(modernbert) /* arch/modernbert.c: modernbert */                                      \
	X(mpnet) /* arch/mpnet.c: mpnet */                                                     \
	X(jina_bert) /* arch/jina_bert.c: bert with ALiBi (JinaBERT v2) */                     \
	X(bert) /* arch/bert.c: bert, roberta, xlm-roberta, camembert, distilbert */

#define ENCODER_ARCH_DECLARE(sym)                                                    \
	bool sym##_encoder_detect(const struct model_desc *d);                       \
	enum sy_status sym##_encoder_open(                                           \
	    const struct model_desc *d, const struct safetensors *st, int n_threads, \
	    enum linear_precision prec, struct sy_error *err, struct encoder *out);
ENCODER_ARCHS(ENCODER_ARCH_DECLARE)

/* Opens the encoder of a model directory (its config.json, then its weights) with the first
 * architecture that recognises it. */
enum sy_status encoder_open(const struct model_desc *d, int n_threads, enum linear_precision prec,
                            struct sy_error *err, struct encoder *out);
void encoder_free(struct encoder *e);

/* For the architectures' forward: checks a packed batch against the encoder's limits (each
 * length in [0, max_tokens], every id below vocab, and with type_vocab > 0 every token type
 * below it) and gives its total tokens and longest sequence. Messages start with arch. */
enum sy_status encoder_input_check(const struct encoder_input *in, const char *arch, int max_tokens,
                                   int vocab, int type_vocab, struct sy_error *err, int *rows,
                                   int *max_t);
/* seq_start[n_seqs + 1]: each sequence's first row; pos_ids[rows]: positions from 0 in each. */
void encoder_input_positions(const struct encoder_input *in, int *seq_start, int *pos_ids);

static inline enum sy_status encoder_forward(struct encoder *e, const struct encoder_input *in,
                                             struct sy_error *err, const float **out)
{
	return e->ops->forward(e->impl, in, err, out);
}

static inline enum sy_status encoder_reserve(struct encoder *e, int rows, int n_seqs, int max_t,
                                             struct sy_error *err)
{
	return e->ops->reserve(e->impl, rows, n_seqs, max_t, err);
}

static inline size_t encoder_bytes(const struct encoder *e)
{
	return e->ops ? e->ops->weight_bytes(e->impl) + e->ops->scratch_bytes(e->impl) : 0;
}

#endif
