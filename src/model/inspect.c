/* Model directory summary. Only headers and metadata are read (the safetensors file is mapped
 * but its data pages are never touched), so inspecting a large model is instant. */
#include "model/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/desc.h"
#include "model/registry.h"
#include "model/formats/safetensors.h"
#include "model/formats/weights.h"
#include "model/st_meta.h"
#include "text/tokenizer.h"

static const char *epilogue_name(enum gemm_epilogue e)
{
	switch (e) {
	case GEMM_EPILOGUE_NONE: return "identity";
	case GEMM_EPILOGUE_GELU_ERF: return "gelu";
	case GEMM_EPILOGUE_GELU_TANH: return "gelu (tanh)";
	case GEMM_EPILOGUE_RELU: return "relu";
	case GEMM_EPILOGUE_TANH: return "tanh";
	}
	return "?";
}

static void print_weights(const char *dir, FILE *out)
{
	struct sy_error err = {0};
	struct safetensors *st;
	const char *file = NULL;
	if (model_weights_open(dir, &err, &st, &file) != SY_OK) {
		fprintf(out, "weights:       %s\n", err.msg);
		return;
	}
	size_t elems[ST_DTYPE_F8_E5M2 + 1] = {0}, bytes[ST_DTYPE_F8_E5M2 + 1] = {0};
	int count[ST_DTYPE_F8_E5M2 + 1] = {0};
	size_t params = 0;
	for (int i = 0; i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		elems[t->dtype] += t->n_elems;
		bytes[t->dtype] += t->n_bytes;
		count[t->dtype]++;
		if (t->dtype == ST_DTYPE_F32 || t->dtype == ST_DTYPE_F16 ||
		    t->dtype == ST_DTYPE_BF16 || t->dtype == ST_DTYPE_F64)
			params += t->n_elems;
	}
	const char *prefix = bert_detect_prefix(st);
	fprintf(out, "weights:       %s, %d tensors, %zu bytes, name prefix \"%s\"\n", file,
	        st->n_tensors, st->map.len, prefix ? prefix : "(none found)");
	fprintf(out, "parameters:    %zu (%.2f M)\n", params, (double)params / 1e6);
	for (int d = 0; d <= ST_DTYPE_F8_E5M2; d++)
		if (count[d])
			fprintf(out, "dtype %-8s %d tensors, %zu values, %zu bytes\n",
			        st_dtype_name((enum st_dtype)d), count[d], elems[d], bytes[d]);
	fprintf(out, "fp32 in memory: %zu bytes\n", params * sizeof(float));
	safetensors_close(st);
}

static void print_tokenizer(const char *dir, FILE *out)
{
	struct sy_error err = {0};
	struct tokenizer *tok;
	if (tokenizer_load(dir, &err, &tok) != SY_OK) {
		fprintf(out, "tokenizer:     error: %s\n", err.msg);
		return;
	}
	fprintf(out, "tokenizer:     %s, vocab %d", tokenizer_model_kind(tok),
	        tokenizer_vocab_size(tok));
	if (tokenizer_max_length(tok) > 0)
		fprintf(out, ", truncation %d", tokenizer_max_length(tok));
	fputc('\n', out);
	tokenizer_free(tok);
}

static void print_meta(const char *dir, FILE *out)
{
	struct sy_error err = {0};
	struct st_meta m;
	if (st_meta_load(dir, &err, &m) != SY_OK) {
		fprintf(out, "pooling:       error: %s\n", err.msg);
		return;
	}
	if (!m.has_modules)
		fprintf(out, "pooling:       cls (default: no modules.json), normalize no\n");
	else
		fprintf(out, "pooling:       %s%s, normalize %s\n",
		        m.pooling == POOLING_DEFAULT ? "cls" : pooling_mode_name(m.pooling),
		        m.pooling == POOLING_DEFAULT ? " (default: no Pooling module)" : "",
		        m.normalize ? "yes" : "no");
	for (int i = 0; i < m.n_dense; i++)
		fprintf(out, "dense:         %d -> %d, %s%s\n", m.dense[i].in_features,
		        m.dense[i].out_features, epilogue_name(m.dense[i].act),
		        m.dense[i].bias ? "" : ", no bias");
	if (m.max_seq_length)
		fprintf(out, "max_seq_length: %d\n", m.max_seq_length);
	for (int i = 0; i < m.n_prompts; i++) {
		fprintf(out, "prompt:        %s = \"", m.prompts[i].name);
		for (const char *c = m.prompts[i].text; *c; c++) /* one line per prompt */
			fputs(*c == '\n' ? "\\n" : *c == '"' ? "\\\"" : (char[]){*c, 0}, out);
		fprintf(out, "\"%s\n",
		        m.default_prompt_name && !strcmp(m.default_prompt_name, m.prompts[i].name)
		            ? " (default)"
		            : "");
	}
	if (m.similarity_fn)
		fprintf(out, "similarity:    %s\n", m.similarity_fn);
	st_meta_free(&m);
}

/* An architecture other than the BERT family's: the config.json keys every Hugging Face
 * encoder config shares, and the position scheme. */
static void print_config_keys(const struct model_desc *d, FILE *out)
{
	static const char *const keys[][2] = {
	    {"num_hidden_layers", "layers:       "},
	    {"hidden_size", "hidden:       "},
	    {"num_attention_heads", "heads:        "},
	    {"intermediate_size", "intermediate: "},
	    {"vocab_size", "vocab:        "},
	    {"max_position_embeddings", "max positions:"},
	    {"type_vocab_size", "token types:  "},
	    {"rope_theta", "rope theta:   "},
	    {"position_embedding_type", "positions:    "},
	    {"hidden_act", "activation:   "},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->config, keys[i][0]);
		if (cJSON_IsNumber(v))
			fprintf(out, "%s %.10g\n", keys[i][1], v->valuedouble);
		else if (cJSON_IsString(v))
			fprintf(out, "%s %s\n", keys[i][1], v->valuestring);
	}
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(d->config, "rope_scaling");
	if (cJSON_IsObject(rs)) {
		char *t = cJSON_PrintUnformatted(rs);
		fprintf(out, "rope scaling:  %s\n", t ? t : "?");
		free(t);
	}
}

enum sy_status model_inspect(const char *dir, FILE *out, struct sy_error *err)
{
	struct model_desc d;
	enum sy_status s = model_desc_read(dir, err, &d);
	if (s == SY_ERR_NOT_FOUND) /* no such directory: an I/O failure to the caller */
		return sy_error_set(err, SY_ERR_IO, "%s: not a directory", dir);
	if (s != SY_OK)
		return s;
	const char *family = model_family_of(dir);
	struct bert_config c;
	const bool bert = !strcmp(d.model_type, "bert") || !strcmp(d.model_type, "roberta") ||
	                  !strcmp(d.model_type, "xlm-roberta") ||
	                  !strcmp(d.model_type, "camembert") || !strcmp(d.model_type, "distilbert");
	if (bert || !d.config) {
		s = bert_config_load(dir, err, &c);
		if (s != SY_OK) {
			model_desc_free(&d);
			return s;
		}
	}
	fprintf(out, "directory:     %s\n", dir);
	fprintf(out, "family:        %s\n", family ? family : "(none recognises it)");
	if (bert) {
		fprintf(out, "architecture:  %s (model_type %s)\n", bert_arch_name(c.arch),
		        c.model_type);
		fprintf(out, "layers:        %d\n", c.n_layers);
		fprintf(out, "hidden:        %d\n", c.hidden);
		fprintf(out, "heads:         %d (head dim %d)\n", c.n_heads, c.hidden / c.n_heads);
		fprintf(out, "intermediate:  %d, %s\n", c.intermediate, bert_act_name(c.act));
		fprintf(out, "vocab:         %d\n", c.vocab_size);
		fprintf(out, "max positions: %d (%d usable tokens)\n", c.max_positions,
		        c.max_tokens);
		fprintf(out, "token types:   %d\n", c.type_vocab_size);
	} else {
		fprintf(out, "architecture:  %s (model_type %s)\n",
		        d.n_architectures ? d.architectures[0] : "?", d.model_type);
		print_config_keys(&d, out);
	}
	model_desc_free(&d);
	print_weights(dir, out);
	print_tokenizer(dir, out);
	print_meta(dir, out);
	return SY_OK;
}
