/* The tokenizer of the TensorFlow.js Universal Sentence Encoder (tfjs-models
 * universal-sentence-encoder/src/tokenizer, reused unchanged by @energetic-ai/embeddings), so that
 * Switchyard feeds the USE-lite graph exactly the ids the reference implementation does.
 *
 * The vocabulary is vocab.json: an array of [piece, score] pairs, the id of a piece being its
 * index. The first 6 entries are reserved (id 0 is the unknown token) and never matched.
 *
 * Encoding, step by step as the reference does it:
 *   1. NFKC-normalise the text; if it is not empty, put U+2581 (the SentencePiece separator)
 *      in front and replace every U+0020 space by U+2581 (tabs, newlines and other spaces stay).
 *   2. Split into code points and build a lattice: at each position every vocabulary piece that
 *      starts there is an edge with the piece's score; where no piece starts at all, a single
 *      code point edge with id 0 (unknown) and score 0.
 *   3. Best path, scanning end positions left to right and, per end, start positions in
 *      increasing order: best[end] takes the candidate best[start] + score whenever best[end] is
 *      still exactly 0 (its initial value) or the candidate is >= it, so later ties win. Scores
 *      are doubles, as in JavaScript, and a null score counts as 0 (JavaScript's null + x).
 *   4. Walk back from the end, stepping by the chosen piece's length in UTF-16 code units (the
 *      reference uses JavaScript's string length), and collapse runs of unknown ids into one.
 * These quirks (the "still 0" test, ties, UTF-16 steps) are kept on purpose: they decide the ids
 * for unknown characters, emoji and pieces with score 0, and parity needs the same ids.
 *
 * Input bytes that are not valid UTF-8 become U+FFFD first (one per maximal invalid
 * subsequence), which is what a JavaScript caller decoding the same bytes would pass. A loaded
 * tokenizer is read-only and may be used from several threads at once. */
#ifndef SY_TEXT_USE_TOKENIZER_H
#define SY_TEXT_USE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define USE_TOKENIZER_RESERVED 6 /* leading vocabulary entries that are never matched */
#define USE_TOKENIZER_UNK 0 /* id of unknown characters */

struct use_tokenizer;

/* Loads vocab.json. */
enum sy_status use_tokenizer_load(const char *vocab_path, struct sy_error *err,
                                  struct use_tokenizer **out);

/* Same from the JSON text itself; `what` names it in messages. */
enum sy_status use_tokenizer_load_json(const char *json, size_t len, const char *what,
                                       struct sy_error *err, struct use_tokenizer **out);

void use_tokenizer_free(struct use_tokenizer *t);

int use_tokenizer_vocab_size(const struct use_tokenizer *t);

/* The piece of id (NUL-terminated UTF-8), or NULL when id is out of range. */
const char *use_tokenizer_piece(const struct use_tokenizer *t, int id);

/* Tokenises text[0, len). On success *ids is a malloc'd array of *n_ids ids (NULL when there
 * are none) that the caller frees. */
enum sy_status use_tokenizer_encode(const struct use_tokenizer *t, const char *text, size_t len,
                                    struct sy_error *err, int32_t **ids, int *n_ids);

#endif
