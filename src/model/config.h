/* config.json of the BERT family (Hugging Face transformers): BERT, RoBERTa, XLM-RoBERTa,
 * CamemBERT (RoBERTa code) and DistilBERT (its own field names: dim, hidden_dim, activation).
 *
 * Only what the encoder forward needs is kept. Anything that would change the maths but is not
 * implemented (relative position embeddings, an unknown activation) fails at parse time with a
 * message naming the field, rather than computing something different. */
#ifndef SY_MODEL_CONFIG_H
#define SY_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/status.h"

enum bert_arch {
	BERT_ARCH_BERT, /* bert */
	BERT_ARCH_ROBERTA, /* roberta, xlm-roberta, camembert: positions start after padding_idx */
	BERT_ARCH_DISTILBERT, /* distilbert: no token types, different tensor names */
};

enum bert_act {
	BERT_ACT_GELU_ERF, /* "gelu" */
	BERT_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh", "gelu_fast" */
	BERT_ACT_RELU, /* "relu" */
};

struct bert_config {
	enum bert_arch arch;
	char model_type[32]; /* as written in config.json */
	int vocab_size;
	int hidden; /* hidden_size (DistilBERT: dim) */
	int n_layers; /* num_hidden_layers (DistilBERT: n_layers) */
	int n_heads; /* num_attention_heads (DistilBERT: n_heads) */
	int intermediate; /* intermediate_size (DistilBERT: hidden_dim) */
	enum bert_act act; /* hidden_act (DistilBERT: activation) */
	float layer_norm_eps; /* DistilBERT: fixed 1e-12 */
	int max_positions; /* max_position_embeddings: rows of the position table */
	int type_vocab_size; /* rows of the token type table; 0 for DistilBERT */
	int pad_token_id; /* RoBERTa's padding_idx */
	int position_offset; /* first position id of a sequence: RoBERTa pad_token_id + 1, else 0 */
	int max_tokens; /* usable sequence length: max_positions - position_offset */
};

/* Parses config.json content (len bytes; name is used in messages). */
enum sy_status bert_config_parse(const char *json, size_t len, const char *name,
                                 struct sy_error *err, struct bert_config *out);
/* For architectures built on the BERT layer (arch/mpnet.c, arch/jina_bert.c): the BertConfig
 * fields of a parsed config.json (vocab_size, hidden_size, num_hidden_layers,
 * num_attention_heads, intermediate_size, hidden_act, layer_norm_eps, max_position_embeddings,
 * type_vocab_size, pad_token_id) over BertConfig's defaults (RobertaConfig's with roberta, whose
 * positions start after pad_token_id); position_embedding_type is left to the caller. The
 * caller may change fields, then calls bert_config_finish (head size, usable length). */

enum sy_status bert_config_fields(const cJSON *root, bool roberta, const char *name,
                                  struct sy_error *err, struct bert_config *out);
enum sy_status bert_config_finish(const char *name, struct sy_error *err, struct bert_config *out);
/* Parses the config.json of a model's description. */
struct model_desc;
enum sy_status bert_config_from_desc(const struct model_desc *d, struct sy_error *err,
                                     struct bert_config *out);
/* Reads and parses dir/config.json. */
enum sy_status bert_config_load(const char *dir, struct sy_error *err, struct bert_config *out);

const char *bert_arch_name(enum bert_arch a);

/* The first entry of dir/config.json's "architectures" that equals `name` (or, with
 * `substring`, contains it), copied into buf (cap bytes); false when none does or the file cannot
 * be read. Model heads detect themselves with it (SPLADE, NER, ColBERT, cross-encoders). */
bool config_find_architecture(const char *dir, const char *name, bool substring, char *buf,
                              size_t cap);
const char *bert_act_name(enum bert_act a);

#endif
