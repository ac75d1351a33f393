/* A model directory, read once: config.json (text and parsed), its model_type and
 * architectures, and which of the files the families look for are present. The registry's
 * detectors decide from it alone; a family's open parses its own config from config_text
 * rather than reading config.json again. */
#ifndef SY_MODEL_DESC_H
#define SY_MODEL_DESC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

#define MODEL_DESC_MAX_ARCHS 8

enum model_file {
	MODEL_FILE_CONFIG, /* config.json */
	MODEL_FILE_TFJS, /* model.json (TF.js) */
	MODEL_FILE_GLINER, /* gliner_config.json */
	MODEL_FILE_COLBERT_META, /* artifact.metadata (ColBERT) */
	MODEL_FILE_ST_MODULES, /* modules.json (sentence-transformers) */
	MODEL_FILE_TOKENIZER_JSON, /* tokenizer.json */
	MODEL_FILE_VOCAB_TXT, /* vocab.txt */
	MODEL_FILE_SAFETENSORS, /* model.safetensors */
	MODEL_FILE_TORCH, /* pytorch_model.bin */
	MODEL_FILE_COLBERT_LINEAR, /* colbert_linear.pt (BGE-M3) */
	MODEL_FILE_SPARSE_LINEAR, /* sparse_linear.pt (BGE-M3) */
	MODEL_FILE_COUNT
};

struct model_desc {
	char *path; /* the directory */
	char *config_name; /* path/config.json, for messages */
	bool has[MODEL_FILE_COUNT];
	char *config_text; /* config.json as read (NUL-terminated), or NULL */
	size_t config_len;
	cJSON *config; /* parsed, or NULL (absent or not JSON; the family's parse says why) */
	char model_type[64]; /* config.json model_type, or "" */
	char architectures[MODEL_DESC_MAX_ARCHS][96]; /* config.json architectures */
	int n_architectures;
};

/* Reads dir's description. Fails only when dir is not a directory or on allocation failure. */
enum sy_status model_desc_read(const char *dir, struct sy_error *err, struct model_desc *out);
void model_desc_free(struct model_desc *d);

/* The first architecture equal to name (or, with substring, containing it), or NULL. */
const char *model_desc_architecture(const struct model_desc *d, const char *name, bool substring);

#endif
