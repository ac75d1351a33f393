/* `switchyard models inspect DIR`: a human-readable summary of a model directory, read from its
 * metadata and safetensors header without loading the weights: architecture and sizes from
 * config.json, parameter count and on-disk dtypes from model.safetensors, the tokenizer kind,
 * and the sentence-transformers pooling / Dense / Normalize / prompts. */
#ifndef SY_MODEL_INSPECT_H
#define SY_MODEL_INSPECT_H

#include <stdio.h>

#include "base/status.h"

/* Prints the summary of the model in dir to out. Fails when config.json cannot be read or
 * describes an unsupported architecture; problems with the other files are printed inline. */
enum sy_status model_inspect(const char *dir, FILE *out, struct sy_error *err);

#endif
