/* BERT-family encoder forward (BertModel / RobertaModel / XLMRobertaModel / DistilBertModel
 * without the pooler), fp32, on the CPU thread pool.
 *
 * Input is a batch of sequences packed back to back: only real tokens are stored and computed
 * (rows = sum of the lengths), so the GEMMs never see padding; attention runs per sequence over
 * its own slice. The output is the last hidden state in the same packed layout.
 *
 * Weights are converted to fp32 at load (from F32/F16/BF16 safetensors) and the linear layers
 * are packed for the GEMM; only the packed copies are kept. Scratch buffers are sized for the
 * largest batch seen so far and reused, so a steady stream of batches allocates nothing.
 *
 * A model is used by one thread at a time (it owns its pool and scratch). */
#ifndef SY_MODEL_BERT_H
#define SY_MODEL_BERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/arch/encoder.h"
#include "model/config.h"
#include "model/model.h"
#include "model/formats/safetensors.h"
#include "tensor/linear.h"

struct bert_model;

/* Loads dir/config.json and dir/model.safetensors. n_threads <= 0: one per core. */
enum sy_status bert_model_load(const char *dir, int n_threads, struct sy_error *err,
                               struct bert_model **out);
/* The same with the encoder's linear layers (QKV, attention output, FFN) in precision prec:
 * LINEAR_INT8 keeps only their int8 weights (embeddings, norms, attention stay fp32). */
enum sy_status bert_model_load_prec(const char *dir, int n_threads, enum linear_precision prec,
                                    struct sy_error *err, struct bert_model **out);
/* Loads from a parsed config and an open safetensors file (which may be closed afterwards). */
enum sy_status bert_model_load_st(const struct bert_config *cfg, const struct safetensors *st,
                                  int n_threads, struct sy_error *err, struct bert_model **out);
enum sy_status bert_model_load_st_prec(const struct bert_config *cfg, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct bert_model **out);
void bert_model_free(struct bert_model *m);

/* Tensor names of one layer, as printf patterns taking the layer index (under the checkpoint's
 * prefix): Q, K, V, attention output, its LayerNorm, FFN up and down, their LayerNorm. */
struct bert_layer_names {
	const char *q, *k, *v, *o, *ln1, *up, *down, *ln2;
};

/* What an architecture built on the BERT post-LN layer changes (arch/mpnet.c,
 * arch/jina_bert.c); all zero is BERT itself. */
struct bert_variant {
	const struct bert_layer_names *names; /* NULL: BERT's (DistilBERT's for distilbert) */
	bool
	    no_position_table; /* no embeddings.position_embeddings: positions come from rel_bias */
	/* Feed-forward as a GLU: `up` is one bias-free [2I][H] matrix whose output [g | u] becomes
	 * act(g) * u (hidden_act's function) before `down`. */
	bool glu_ffn;
	/* An additive attention bias that depends only on the key-query distance j - i, added to
	 * head h's scaled scores: rel_bias[h * (2 max_tokens - 1) + max_tokens - 1 + (j - i)]
	 * (malloc'd; the load takes it over, also when it fails), or NULL. */
	float *rel_bias;
};

/* bert_model_load_st_prec for a variant (NULL: plain BERT). */
enum sy_status bert_model_load_variant(const struct bert_config *cfg,
                                       const struct bert_variant *var, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct bert_model **out);

const struct bert_config *bert_model_config(const struct bert_model *m);
/* The tensor-name prefix found in the checkpoint ("", "bert.", "roberta.", ...). */
const char *bert_model_prefix(const struct bert_model *m);
enum linear_precision bert_model_precision(const struct bert_model *m);
/* Bytes of weights held (fp32 or int8, packed). */
size_t bert_model_weight_bytes(const struct bert_model *m);
/* Sizes the forward scratch for batches of up to rows tokens in n_seqs sequences of at most
 * max_t tokens, so that later forwards within those bounds allocate nothing. Callers that
 * know their batch limit (the task heads) reserve at load. */
enum sy_status bert_model_reserve(struct bert_model *m, int rows, int n_seqs, int max_t,
                                  struct sy_error *err);
/* The model's compute threads, for heads that run their own kernels after bert_forward (the
 * same one-thread-at-a-time rule applies). */
struct sy_pool *bert_model_pool(struct bert_model *m);
/* Bytes of forward scratch currently held (activations). */
size_t bert_model_scratch_bytes(const struct bert_model *m);
/* How many times the forward scratch has been (re)allocated since load. */
long bert_model_scratch_allocs(const struct bert_model *m);

/* Runs the encoder. *out points to the last hidden state, packed [sum lens][hidden], owned by
 * the model and valid until the next bert_forward or bert_model_free. Fails with
 * SY_ERR_INVALID_ARG on a length past max_tokens or an id outside the vocabulary. */
enum sy_status bert_forward(struct bert_model *m, const struct encoder_input *in,
                            struct sy_error *err, const float **out);

/* The encoder interface over a BERT-family model (arch/encoder.h); bert_encoder_open opens
 * one from a model description. */
bool bert_encoder_detect(const struct model_desc *d);
enum sy_status bert_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                 int n_threads, enum linear_precision prec, struct sy_error *err,
                                 struct encoder *out);
/* The encoder interface over m (which *out then owns), named arch. */
void bert_encoder_wrap(struct bert_model *m, const char *arch, struct encoder *out);
/* The BERT model behind an encoder bert_encoder_open made, or NULL for another architecture. */
struct bert_model *bert_of_encoder(const struct encoder *e);

/* Finds which prefix the checkpoint's tensor names carry: the one under which
 * "embeddings.word_embeddings.weight" exists. Returns NULL when none does. */
const char *bert_detect_prefix(const struct safetensors *st);

#endif
