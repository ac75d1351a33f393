/* SentencePiece model files (spiece.model and the like) read into a tokenizer (spm.c). */
#ifndef SY_TEXT_SPM_H
#define SY_TEXT_SPM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

struct tokenizer;

struct spm_options {
	bool add_bos, add_eos; /* put the model's bos / eos piece around each text */
};

/* Reads the ModelProto at path (Unigram or BPE) into *out (tokenizer_free). */
enum sy_status tokenizer_load_spm(const char *path, const struct spm_options *o,
                                  struct sy_error *err, struct tokenizer **out);

/* The same from the file's bytes (name for messages). */
enum sy_status tokenizer_load_spm_mem(const void *data, size_t len, const char *name,
                                      const struct spm_options *o, struct sy_error *err,
                                      struct tokenizer **out);

#endif
