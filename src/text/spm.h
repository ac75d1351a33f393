/* SentencePiece model files (spiece.model and the like) turned into tokenizer.json (spm.c). */
#ifndef SY_TEXT_SPM_H
#define SY_TEXT_SPM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

struct spm_options {
	bool add_bos, add_eos; /* put the model's bos / eos piece around each text */
	/* fairseq's dictionary over the pieces (XLM-RoBERTa's sentencepiece.bpe.model, as
	 * transformers' XLMRobertaTokenizer maps it): <s>=0 <pad>=1 </s>=2 <unk>=3, then each
	 * piece at its SentencePiece id + 1 (spm's own <unk> is 3), <mask> last (it takes the
	 * spaces before it); a pair is <s> A </s> </s> B </s>. The model's first three pieces
	 * must be <unk>, <s>, </s> (SentencePiece's default), as fairseq's are. */
	bool fairseq;
};

/* The tokenizer.json text (malloc'd, *out) of the ModelProto data[len] (Unigram or BPE; name
 * for messages). tokenizer_load_spm (text/tokenizer.h) loads it. */
enum sy_status spm_to_tokenizer_json(const void *data, size_t len, const char *name,
                                     const struct spm_options *o, struct sy_error *err, char **out);

/* What transformers' SiglipTokenizer does to a text before its spiece.model (do_lower_case,
 * then canonicalize_text): lowercase, ASCII punctuation (Python's string.punctuation) removed,
 * whitespace runs made one space, both ends stripped. text[len] is valid UTF-8; the result is
 * malloc'd and NUL-terminated (NULL when out of memory), *out_len its length. */
char *spm_siglip_canonicalize(const char *text, size_t len, size_t *out_len);

#endif
