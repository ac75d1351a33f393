/* sentence-transformers metadata of a model directory: modules.json lists the pipeline
 * (Transformer -> Pooling -> Dense* -> Normalize?), each module's folder holds its config
 * (1_Pooling/config.json, 2_Dense/config.json + model.safetensors), sentence_bert_config.json
 * gives max_seq_length, and config_sentence_transformers.json the prompts.
 *
 * This file only reads the metadata; pooling.c loads the Dense weights and runs the head. A
 * directory without modules.json is not an error: has_modules is false and everything keeps
 * its default (no pooling given, no Dense, no normalisation). */
#ifndef SY_MODEL_ST_META_H
#define SY_MODEL_ST_META_H

#include <stdbool.h>

#include "base/status.h"
#include "model/model.h"
#include "tensor/gemm.h"

#define ST_META_MAX_DENSE 4

struct st_dense_meta {
	char *dir; /* module folder (model dir joined with its path) */
	int in_features, out_features;
	bool bias;
	enum gemm_epilogue act; /* NONE (Identity), TANH, RELU or GELU_ERF */
};

struct st_prompt {
	char *name; /* e.g. "query" */
	char *text; /* e.g. "query: " */
};

struct st_meta {
	bool has_modules; /* modules.json was found */
	enum pooling_mode pooling; /* POOLING_DEFAULT when there is no Pooling module */
	bool include_prompt; /* Pooling include_prompt (true when absent) */
	int pooling_dim; /* Pooling word_embedding_dimension; 0 when absent */
	int n_dense;
	struct st_dense_meta dense[ST_META_MAX_DENSE]; /* applied in order after pooling */
	bool normalize; /* a Normalize module ends the pipeline */
	int max_seq_length; /* sentence_bert_config.json; 0 when absent */
	int do_lower_case; /* sentence_bert_config.json; -1 when absent */
	int n_prompts;
	struct st_prompt *prompts;
	char *default_prompt_name; /* NULL when absent or null */
	char *similarity_fn; /* similarity_fn_name; NULL when absent */
};

/* Reads the metadata of the model directory dir into out (zeroed first). Fails on malformed or
 * unsupported metadata (another module type, pytorch_model.bin-only Dense, several pooling
 * modes at once) with a message naming the file and field. Free with st_meta_free. */
enum sy_status st_meta_load(const char *dir, struct sy_error *err, struct st_meta *out);
void st_meta_free(struct st_meta *m);

/* Swaps the last Dense module for its sibling of dims outputs: modules.json names one head of a
 * set (stella: 2_Dense_1024 of 2_Dense_256 ... 2_Dense_8192), and the folder whose name ends in
 * _<dims> instead of _1024 is read. dims <= 0 keeps modules.json's choice. Fails naming the
 * option when the model has no such set or no such head. */
enum sy_status st_meta_choose_dense(const char *dir, int dims, struct sy_error *err,
                                    struct st_meta *m);

/* The prompt called name, or NULL. */
const char *st_meta_prompt(const struct st_meta *m, const char *name);

#endif
