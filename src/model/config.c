/* config.json parsing for the BERT family. Defaults follow the transformers configuration
 * classes (BertConfig, RobertaConfig, DistilBertConfig) so that a minimal config.json means
 * the same thing here as in Python. */
#include "model/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "base/json_read.h"
#include "model/desc.h"

const char *bert_arch_name(enum bert_arch a)
{
	switch (a) {
	case BERT_ARCH_BERT: return "bert";
	case BERT_ARCH_ROBERTA: return "roberta";
	case BERT_ARCH_DISTILBERT: return "distilbert";
	}
	return "?";
}

const char *bert_act_name(enum bert_act a)
{
	switch (a) {
	case BERT_ACT_GELU_ERF: return "gelu (erf)";
	case BERT_ACT_GELU_TANH: return "gelu (tanh)";
	case BERT_ACT_RELU: return "relu";
	}
	return "?";
}

/* Reads an integer field (first of up to two alternative names) into *out; absent or null keeps
 * the default. Fails unless it is an integer in [lo, hi]. */
static enum sy_status get_int(const cJSON *root, const char *name, const char *alt, int lo, int hi,
                              const char *file, struct sy_error *err, int *out)
{
	if (alt && !cJSON_GetObjectItemCaseSensitive(root, name))
		name = alt;
	long v;
	enum sy_status s = json_read_int(root, name, NULL, lo, hi, *out, err, &v);
	if (s != SY_OK) {
		sy_error_prefix(err, "%s", file);
		return s;
	}
	*out = (int)v;
	return SY_OK;
}

/* An optional string field (absent or null: *out stays NULL). */
static enum sy_status get_str(const cJSON *root, const char *name, const char *file,
                              struct sy_error *err, const char **out)
{
	enum sy_status s = json_read_string(root, name, NULL, NULL, err, out);
	if (s != SY_OK)
		sy_error_prefix(err, "%s", file);
	return s;
}

static enum sy_status parse_act(const char *s, const char *field, const char *file,
                                struct sy_error *err, enum bert_act *out)
{
	if (!strcmp(s, "gelu"))
		*out = BERT_ACT_GELU_ERF;
	else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") ||
	         !strcmp(s, "gelu_fast"))
		*out = BERT_ACT_GELU_TANH;
	else if (!strcmp(s, "relu"))
		*out = BERT_ACT_RELU;
	else
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: %s \"%.40s\" is not supported (gelu, gelu_new, "
		                    "gelu_pytorch_tanh, relu)",
		                    file, field, s);
	return SY_OK;
}

#define PASS(x)                          \
	do {                             \
		enum sy_status _s = (x); \
		if (_s != SY_OK)         \
			return _s;       \
	} while (0)

enum sy_status bert_config_fields(const cJSON *root, bool roberta, const char *name,
                                  struct sy_error *err, struct bert_config *out)
{
	const int big = 1 << 24;
	out->arch = roberta ? BERT_ARCH_ROBERTA : BERT_ARCH_BERT;
	/* BertConfig / RobertaConfig defaults. */
	out->vocab_size = roberta ? 50265 : 30522;
	out->hidden = 768;
	out->n_layers = 12;
	out->n_heads = 12;
	out->intermediate = 3072;
	out->act = BERT_ACT_GELU_ERF;
	out->layer_norm_eps = 1e-12f;
	out->max_positions = 512;
	out->type_vocab_size = 2;
	out->pad_token_id = roberta ? 1 : 0;
	PASS(get_int(root, "vocab_size", NULL, 1, 1 << 30, name, err, &out->vocab_size));
	PASS(get_int(root, "hidden_size", NULL, 1, big, name, err, &out->hidden));
	PASS(get_int(root, "num_hidden_layers", NULL, 0, 4096, name, err, &out->n_layers));
	PASS(get_int(root, "num_attention_heads", NULL, 1, big, name, err, &out->n_heads));
	PASS(get_int(root, "intermediate_size", NULL, 1, big, name, err, &out->intermediate));
	PASS(
	    get_int(root, "max_position_embeddings", NULL, 1, big, name, err, &out->max_positions));
	PASS(get_int(root, "type_vocab_size", NULL, 0, big, name, err, &out->type_vocab_size));
	PASS(get_int(root, "pad_token_id", NULL, -1, 1 << 30, name, err, &out->pad_token_id));
	const char *act = NULL;
	PASS(get_str(root, "hidden_act", name, err, &act));
	if (act)
		PASS(parse_act(act, "hidden_act", name, err, &out->act));
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
	if (eps) {
		if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0) || eps->valuedouble > 1) {
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: layer_norm_eps: expected a number in (0, 1]",
			                    name);
		}
		out->layer_norm_eps = (float)eps->valuedouble;
	}
	if (roberta) {
		/* RobertaEmbeddings numbers valid tokens from padding_idx + 1 on. */
		if (out->pad_token_id < 0) {
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: pad_token_id: RoBERTa needs a padding index "
			                    ">= 0",
			                    name);
		}
		out->position_offset = out->pad_token_id + 1;
	}
	return SY_OK;
}

/* BertConfig / RobertaConfig fields over their defaults. */
static enum sy_status bert_fields(const cJSON *root, const char *type, const char *name,
                                  struct sy_error *err, struct bert_config *out)
{
	PASS(bert_config_fields(root, strcmp(type, "bert") != 0, name, err, out));
	const cJSON *pet = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
	if (pet && !cJSON_IsNull(pet) &&
	    (!cJSON_IsString(pet) || strcmp(pet->valuestring, "absolute") != 0)) {
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: position_embedding_type \"%.40s\" is not supported (only "
		                    "\"absolute\")",
		                    name, cJSON_IsString(pet) ? pet->valuestring : "?");
	}
	return SY_OK;
}

/* DistilBertConfig fields over their defaults. */
static enum sy_status distil_fields(const cJSON *root, const char *name, struct sy_error *err,
                                    struct bert_config *out)
{
	const int big = 1 << 24;
	/* DistilBertConfig defaults; it also accepts the BERT names through attribute_map. */
	out->arch = BERT_ARCH_DISTILBERT;
	out->vocab_size = 30522;
	out->hidden = 768;
	out->n_layers = 6;
	out->n_heads = 12;
	out->intermediate = 3072;
	out->act = BERT_ACT_GELU_ERF;
	out->layer_norm_eps = 1e-12f; /* hard-coded in modeling_distilbert.py */
	out->max_positions = 512;
	out->type_vocab_size = 0;
	out->pad_token_id = 0;
	PASS(get_int(root, "vocab_size", NULL, 1, 1 << 30, name, err, &out->vocab_size));
	PASS(get_int(root, "dim", "hidden_size", 1, big, name, err, &out->hidden));
	PASS(get_int(root, "n_layers", "num_hidden_layers", 0, 4096, name, err, &out->n_layers));
	PASS(get_int(root, "n_heads", "num_attention_heads", 1, big, name, err, &out->n_heads));
	PASS(get_int(root, "hidden_dim", "intermediate_size", 1, big, name, err,
	             &out->intermediate));
	PASS(
	    get_int(root, "max_position_embeddings", NULL, 1, big, name, err, &out->max_positions));
	PASS(get_int(root, "pad_token_id", NULL, -1, 1 << 30, name, err, &out->pad_token_id));
	const char *act = NULL;
	PASS(get_str(root, "activation", name, err, &act));
	if (act)
		PASS(parse_act(act, "activation", name, err, &out->act));
	return SY_OK;
}

enum sy_status bert_config_parse(const char *json, size_t len, const char *name,
                                 struct sy_error *err, struct bert_config *out)
{
	memset(out, 0, sizeof *out);
	if (!name)
		name = "config.json";
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", name);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return sy_error_set(err, SY_ERR_FORMAT, "%s: expected a JSON object", name);
	}
	const char *type = NULL;
	enum sy_status st = json_read_string_required(root, "model_type", NULL, err, &type);
	if (st != SY_OK) {
		cJSON_Delete(root);
		sy_error_prefix(err, "%s", name);
		return st;
	}
	snprintf(out->model_type, sizeof out->model_type, "%s", type);
	if (!strcmp(type, "bert") || !strcmp(type, "roberta") || !strcmp(type, "xlm-roberta") ||
	    !strcmp(type, "camembert"))
		st = bert_fields(root, type, name, err, out);
	else if (!strcmp(type, "distilbert"))
		st = distil_fields(root, name, err, out);
	else
		st = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                  "%s: model_type \"%.40s\" is not supported (bert, roberta, "
		                  "xlm-roberta, camembert, distilbert)",
		                  name, type);
	cJSON_Delete(root);
	if (st != SY_OK)
		return st;
	return bert_config_finish(name, err, out);
}

enum sy_status bert_config_finish(const char *name, struct sy_error *err, struct bert_config *out)
{
	if (out->hidden % out->n_heads != 0)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: hidden size %d is not a multiple of the %d attention heads", name,
		    out->hidden, out->n_heads);
	out->max_tokens = out->max_positions - out->position_offset;
	if (out->max_tokens < 1)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: max_position_embeddings %d leaves no usable position after "
		    "padding_idx %d",
		    name, out->max_positions, out->pad_token_id);
	return SY_OK;
}

enum sy_status bert_config_load(const char *dir, struct sy_error *err, struct bert_config *out)
{
	char *path = sy_path_join(dir, "config.json");
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	char *buf;
	size_t len;
	enum sy_status s = sy_file_read(path, err, &buf, &len);
	if (s == SY_OK) {
		s = bert_config_parse(buf, len, path, err, out);
		free(buf);
	}
	free(path);
	return s;
}

enum sy_status bert_config_from_desc(const struct model_desc *d, struct sy_error *err,
                                     struct bert_config *out)
{
	if (!d->config_text)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "model %s: no config.json", d->path);
	return bert_config_parse(d->config_text, d->config_len, d->config_name, err, out);
}

bool config_find_architecture(const char *dir, const char *name, bool substring, char *buf,
                              size_t cap)
{
	char *path = sy_path_join(dir, "config.json");
	char *text = NULL;
	size_t len = 0;
	struct sy_error err;
	bool yes = false;
	if (path && sy_file_read(path, &err, &text, &len) == SY_OK) {
		cJSON *doc = cJSON_ParseWithLength(text, len);
		const cJSON *a;
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc, "architectures"))
		{
			if (!yes && cJSON_IsString(a) &&
			    (substring ? strstr(a->valuestring, name) != NULL
			               : !strcmp(a->valuestring, name))) {
				yes = true;
				if (buf && cap)
					snprintf(buf, cap, "%s", a->valuestring);
			}
		}
		cJSON_Delete(doc);
	}
	free(text);
	free(path);
	return yes;
}
