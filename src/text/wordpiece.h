/* WordPiece construction from a plain BERT vocab.txt (the tokenizer.json builder,
 * wordpiece_from_json, is declared in text_model.h). */
#ifndef SY_TEXT_WORDPIECE_H
#define SY_TEXT_WORDPIECE_H

#include <stddef.h>

#include "base/status.h"
#include "text/text_model.h"

/* One token per line (id = line number, "\n" or "\r\n" endings); unk "[UNK]", prefix "##",
 * at most 100 characters per word, as BertTokenizer does. `name` is used in error messages. */
enum sy_status wordpiece_from_vocab_txt(const char *data, size_t len, const char *name,
                                        struct sy_error *err, struct text_model *out);

#endif
