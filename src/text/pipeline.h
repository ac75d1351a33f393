/* Per-call scratch of the tokenizer pipeline. One `struct tok_work` serves one encode call at a
 * time; tokenizer.c keeps one per thread so that steady-state encoding allocates nothing but the
 * result. Stages read the current string and split list and write the next ones, then swap. */
#ifndef SY_TEXT_PIPELINE_H
#define SY_TEXT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/normalized.h"
#include "text/pattern.h"
#include "text/text_model.h"

/* The tokens of one input sequence before post-processing. */
struct tok_seq {
	int32_t *ids; /* [n] */
	uint32_t *o0, *o1; /* [n] original byte range */
	uint8_t *added; /* [n] 1 for an added token matched in the text */
	int n, cap;
};

struct tok_work {
	struct tok_nstr buf, buf2; /* current normalized string, and the next one */
	struct tok_nstr n1, n2; /* normalizer scratch (one split at a time) */
	struct tok_split_list sp, sp2; /* current splits of buf, and the next ones */
	struct tok_piece_buf pieces; /* model output for one split */
	pcre2_match_data *md; /* for every regex of this tokenizer */
	uint32_t *cp, *ca, *cb; /* [cp_cap] code points with original ranges (NFC/NFD) */
	size_t cp_cap;
	struct tok_seq seq[2]; /* text and pair tokens */
};

/* Makes room for n code points in w->cp/ca/cb. */
enum sy_status work_cp_reserve(struct tok_work *w, size_t n);
enum sy_status tok_seq_push(struct tok_seq *s, int32_t id, uint32_t o0, uint32_t o1, bool added);

#endif
