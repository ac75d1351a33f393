/* Reading a model directory's description (see desc.h). */
#include "model/desc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

static const char *const file_names[MODEL_FILE_COUNT] = {
    [MODEL_FILE_CONFIG] = "config.json",
    [MODEL_FILE_TFJS] = "model.json",
    [MODEL_FILE_GLINER] = "gliner_config.json",
    [MODEL_FILE_COLBERT_META] = "artifact.metadata",
    [MODEL_FILE_ST_MODULES] = "modules.json",
    [MODEL_FILE_TOKENIZER_JSON] = "tokenizer.json",
    [MODEL_FILE_VOCAB_TXT] = "vocab.txt",
    [MODEL_FILE_SAFETENSORS] = "model.safetensors",
    [MODEL_FILE_TORCH] = "pytorch_model.bin",
    [MODEL_FILE_COLBERT_LINEAR] = "colbert_linear.pt",
    [MODEL_FILE_SPARSE_LINEAR] = "sparse_linear.pt",
};

/* Reads config.json; a file that is there but cannot be read (a FIFO, a device, no permission)
 * fails the description, so the load says why instead of blocking or guessing. */
static enum sy_status read_config(struct model_desc *d, struct sy_error *err)
{
	size_t len = 0;
	char *text = NULL;
	enum sy_status s = sy_file_read(d->config_name, err, &text, &len);
	if (s != SY_OK)
		return s;
	d->config_text = text;
	d->config_len = len;
	d->config = cJSON_ParseWithLength(text, len);
	if (!d->config)
		return SY_OK; /* the family's parser says what is wrong with it */
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(d->config, "model_type");
	if (cJSON_IsString(mt))
		snprintf(d->model_type, sizeof d->model_type, "%s", mt->valuestring);
	const cJSON *archs = cJSON_GetObjectItemCaseSensitive(d->config, "architectures");
	const cJSON *a;
	cJSON_ArrayForEach(a, archs)
	{
		if (d->n_architectures == MODEL_DESC_MAX_ARCHS)
			break;
		if (cJSON_IsString(a))
			snprintf(d->architectures[d->n_architectures++], sizeof d->architectures[0],
			         "%s", a->valuestring);
	}
	return SY_OK;
}

enum sy_status model_desc_read(const char *dir, struct sy_error *err, struct model_desc *out)
{
	memset(out, 0, sizeof *out);
	if (!sy_path_is_dir(dir))
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not a directory", dir);
	out->path = strdup(dir);
	out->config_name = sy_path_join(dir, "config.json");
	if (!out->path || !out->config_name) {
		model_desc_free(out);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int f = 0; f < MODEL_FILE_COUNT; f++) {
		char *p = sy_path_join(dir, file_names[f]);
		out->has[f] = p && sy_path_exists(p);
		free(p);
	}
	enum sy_status s = out->has[MODEL_FILE_CONFIG] ? read_config(out, err) : SY_OK;
	if (s != SY_OK)
		model_desc_free(out);
	return s;
}

void model_desc_free(struct model_desc *d)
{
	if (!d)
		return;
	cJSON_Delete(d->config);
	free(d->config_text);
	free(d->path);
	free(d->config_name);
	memset(d, 0, sizeof *d);
}

const char *model_desc_architecture(const struct model_desc *d, const char *name, bool substring)
{
	for (int i = 0; i < d->n_architectures; i++)
		if (substring ? strstr(d->architectures[i], name) != NULL
		              : !strcmp(d->architectures[i], name))
			return d->architectures[i];
	return NULL;
}
