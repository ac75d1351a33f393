/* Pre-tokenizers (see pretokenizer.h), following the pre_tokenizers module of Hugging Face `tokenizers`
 * and NormalizedString::split.
 *
 * Splitting works in two halves, as in the reference: a matcher reports the subject as a
 * sequence of ranges flagged match / no match (a character predicate makes every matching
 * character its own match; a regex reports its matches and the gaps between them), and a
 * `splitter` folds that sequence into pieces according to the split behaviour. The fold works
 * forwards for every behaviour (merged_with_next included: a match stays "open" until the next
 * range shows whether it is a gap to absorb), and empty pieces are dropped at the end of each
 * split. Pieces of cut-only pre-tokenizers are byte ranges of the same string, so they cost no
 * copy. */
#include "text/pretokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokcfg.h"
#include "text/unicode.h"

const char *const tok_gpt2_regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- Loading ---- */

void pretokenizer_free(struct tok_pretokenizer *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_seq; i++)
		pretokenizer_free(p->seq[i]);
	free(p->seq);
	pattern_free(&p->pattern);
	free(p);
}

static enum sy_status behavior_from_json(const cJSON *j, const char *path, bool required,
                                         struct sy_error *err, enum tok_split_behavior *out)
{
	const char *b;
	enum sy_status st = tokcfg_string(j, "behavior", path, NULL, err, &b);
	if (st != SY_OK)
		return st;
	if (!b) {
		if (required)
			return sy_error_set(err, SY_ERR_FORMAT, "%s.behavior: missing", path);
		*out = TOK_SPLIT_ISOLATED;
		return SY_OK;
	}
	static const struct {
		const char *name, *snake;
		enum tok_split_behavior v;
	} names[] = {
	    {"Removed", "removed", TOK_SPLIT_REMOVED},
	    {"Isolated", "isolated", TOK_SPLIT_ISOLATED},
	    {"MergedWithPrevious", "merged_with_previous", TOK_SPLIT_MERGED_WITH_PREVIOUS},
	    {"MergedWithNext", "merged_with_next", TOK_SPLIT_MERGED_WITH_NEXT},
	    {"Contiguous", "contiguous", TOK_SPLIT_CONTIGUOUS},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(b, names[i].name) == 0 || strcmp(b, names[i].snake) == 0) {
			*out = names[i].v;
			return SY_OK;
		}
	}
	return sy_error_set(err, SY_ERR_FORMAT, "%s.behavior: unknown split behavior \"%s\"", path,
	                    b);
}

/* Reads a one-character string field into *out. */
static enum sy_status char_from_json(const cJSON *j, const char *key, const char *path,
                                     const char *def, struct sy_error *err, uint32_t *out)
{
	const char *s;
	enum sy_status st = tokcfg_string(j, key, path, def, err, &s);
	if (st != SY_OK)
		return st;
	if (!s)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: missing", path, key);
	uint32_t k;
	if (!*s || (*out = utf8_decode(s, &k), s[k] != '\0'))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: expected a single character", path,
		                    key);
	return SY_OK;
}

static enum sy_status metaspace_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                          struct tok_pretokenizer *p)
{
	enum sy_status st = char_from_json(j, "replacement", path, "\xe2\x96\x81", err, &p->ch);
	if (st != SY_OK)
		return st;
	const char *scheme;
	if ((st = tokcfg_string(j, "prepend_scheme", path, NULL, err, &scheme)) != SY_OK)
		return st;
	p->prepend = TOK_PREPEND_ALWAYS;
	if (scheme) {
		if (strcmp(scheme, "always") == 0)
			p->prepend = TOK_PREPEND_ALWAYS;
		else if (strcmp(scheme, "first") == 0)
			p->prepend = TOK_PREPEND_FIRST;
		else if (strcmp(scheme, "never") == 0)
			p->prepend = TOK_PREPEND_NEVER;
		else
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s.prepend_scheme: unknown scheme \"%s\"", path,
			                    scheme);
	}
	/* Older files only have add_prefix_space; false means never. */
	const cJSON *aps = cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space");
	if (aps && !cJSON_IsNull(aps)) {
		if (!cJSON_IsBool(aps))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s.add_prefix_space: expected boolean", path);
		if (cJSON_IsFalse(aps))
			p->prepend = TOK_PREPEND_NEVER;
	}
	return json_read_bool(j, "split", path, true, err, &p->split);
}

enum sy_status pretokenizer_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                      struct tok_pretokenizer **out)
{
	*out = NULL;
	const char *type;
	enum sy_status st = tokcfg_type(j, path, err, &type);
	if (st != SY_OK)
		return st;
	struct tok_pretokenizer *p = calloc(1, sizeof *p);
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (strcmp(type, "BertPreTokenizer") == 0) {
		p->kind = TOK_PRE_BERT;
	} else if (strcmp(type, "Whitespace") == 0) {
		p->kind = TOK_PRE_WHITESPACE;
	} else if (strcmp(type, "WhitespaceSplit") == 0) {
		p->kind = TOK_PRE_WHITESPACE_SPLIT;
	} else if (strcmp(type, "Punctuation") == 0) {
		p->kind = TOK_PRE_PUNCTUATION;
		st = behavior_from_json(j, path, false, err, &p->behavior);
	} else if (strcmp(type, "Digits") == 0) {
		p->kind = TOK_PRE_DIGITS;
		st =
		    json_read_bool(j, "individual_digits", path, false, err, &p->individual_digits);
	} else if (strcmp(type, "Metaspace") == 0) {
		p->kind = TOK_PRE_METASPACE;
		st = metaspace_from_json(j, path, err, p);
	} else if (strcmp(type, "ByteLevel") == 0) {
		p->kind = TOK_PRE_BYTE_LEVEL;
		char field[TOKCFG_PATH_LEN + 16];
		snprintf(field, sizeof field, "%s (GPT-2 regex)", path);
		if ((st = json_read_bool(j, "add_prefix_space", path, true, err,
		                         &p->add_prefix_space)) == SY_OK &&
		    (st = json_read_bool(j, "use_regex", path, true, err, &p->use_regex)) ==
		        SY_OK &&
		    p->use_regex)
			st = pattern_init(&p->pattern, tok_gpt2_regex, true, field, err);
	} else if (strcmp(type, "Split") == 0) {
		p->kind = TOK_PRE_SPLIT;
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
		char field[TOKCFG_PATH_LEN + 16];
		if (cJSON_IsObject(pat) && cJSON_IsString(s) && s->valuestring) {
			snprintf(field, sizeof field, "%s.pattern.String", path);
			if (!tokcfg_utf8_valid(s->valuestring, strlen(s->valuestring)))
				st = sy_error_set(err, SY_ERR_FORMAT, "%s: invalid UTF-8", field);
			else
				st = pattern_init(&p->pattern, s->valuestring, false, field, err);
		} else if (cJSON_IsObject(pat) && cJSON_IsString(r) && r->valuestring) {
			snprintf(field, sizeof field, "%s.pattern.Regex", path);
			st = pattern_init(&p->pattern, r->valuestring, true, field, err);
		} else {
			st = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", path);
		}
		if (st == SY_OK &&
		    (st = behavior_from_json(j, path, true, err, &p->behavior)) == SY_OK)
			st = json_read_bool(j, "invert", path, false, err, &p->invert);
	} else if (strcmp(type, "CharDelimiterSplit") == 0) {
		p->kind = TOK_PRE_CHAR_DELIMITER;
		st = char_from_json(j, "delimiter", path, NULL, err, &p->ch);
	} else if (strcmp(type, "FixedLength") == 0) {
		p->kind = TOK_PRE_FIXED_LENGTH;
		st = json_read_int(j, "length", path, 0, 1L << 30, 5, err, &p->length);
	} else if (strcmp(type, "Sequence") == 0) {
		p->kind = TOK_PRE_SEQUENCE;
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
		if (!cJSON_IsArray(arr)) {
			st = sy_error_set(err, SY_ERR_FORMAT, "%s.pretokenizers: expected array",
			                  path);
		} else {
			int cnt = cJSON_GetArraySize(arr);
			p->seq = calloc(cnt ? (size_t)cnt : 1, sizeof *p->seq);
			if (!p->seq)
				st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			const cJSON *it;
			cJSON_ArrayForEach(it, arr)
			{
				if (st != SY_OK)
					break;
				char sub[TOKCFG_PATH_LEN];
				snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", path, p->n_seq);
				st = pretokenizer_from_json(it, sub, err, &p->seq[p->n_seq]);
				if (st == SY_OK)
					p->n_seq++;
			}
		}
	} else if (strcmp(type, "UnicodeScripts") == 0) {
		st = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                  "%s.type: unsupported pre-tokenizer \"%s\"", path, type);
	} else {
		st = sy_error_set(err, SY_ERR_UNSUPPORTED, "%s.type: unknown pre-tokenizer \"%s\"",
		                  path, type);
	}
	if (st != SY_OK) {
		pretokenizer_free(p);
		return st;
	}
	*out = p;
	return SY_OK;
}

/* ---- The splitter: folds match / no-match ranges into pieces ---- */

struct splitter {
	struct tok_split_list *out;
	int first; /* index in out of this split's first piece */
	enum tok_split_behavior behavior;
	bool prev_match; /* whether the previous range was a match */
	bool last_open; /* merged_with_next: the last piece is a match awaiting a gap */
};

static void splitter_begin(struct splitter *sp, struct tok_split_list *out,
                           enum tok_split_behavior b)
{
	sp->out = out;
	sp->first = out->n;
	sp->behavior = b;
	sp->prev_match = false;
	sp->last_open = false;
}

static enum sy_status splitter_push(struct splitter *sp, uint32_t start, uint32_t end)
{
	return splits_push(sp->out, (struct tok_split){.off = start, .len = end - start, .id = -1});
}

static void splitter_extend(struct splitter *sp, uint32_t end)
{
	struct tok_split *last = &sp->out->v[sp->out->n - 1];
	last->len = end - last->off;
}

/* Adds the range [start, end) (absolute offsets in the string). */
static enum sy_status splitter_add(struct splitter *sp, uint32_t start, uint32_t end, bool is_match)
{
	bool have = sp->out->n > sp->first;
	enum sy_status st = SY_OK;
	switch (sp->behavior) {
	case TOK_SPLIT_REMOVED:
		if (!is_match)
			st = splitter_push(sp, start, end);
		break;
	case TOK_SPLIT_ISOLATED: st = splitter_push(sp, start, end); break;
	case TOK_SPLIT_CONTIGUOUS:
		if (is_match == sp->prev_match && have)
			splitter_extend(sp, end);
		else
			st = splitter_push(sp, start, end);
		break;
	case TOK_SPLIT_MERGED_WITH_PREVIOUS:
		if (is_match && !sp->prev_match && have)
			splitter_extend(sp, end);
		else
			st = splitter_push(sp, start, end);
		break;
	case TOK_SPLIT_MERGED_WITH_NEXT:
		if (!is_match && sp->last_open && have) {
			splitter_extend(sp, end);
			sp->last_open = false;
		} else {
			st = splitter_push(sp, start, end);
			sp->last_open = is_match;
		}
		break;
	}
	sp->prev_match = is_match;
	return st;
}

/* Drops the empty pieces of the current split. */
static void splitter_end(struct splitter *sp)
{
	int k = sp->first;
	for (int i = sp->first; i < sp->out->n; i++)
		if (sp->out->v[i].len > 0)
			sp->out->v[k++] = sp->out->v[i];
	sp->out->n = k;
}

/* ---- Matchers ---- */

enum char_class { CC_DIGIT, CC_PUNCT, CC_WS, CC_DELIM };

static bool char_matches(const struct tok_pretokenizer *p, enum char_class cls, uint32_t c)
{
	switch (cls) {
	case CC_DIGIT: return uc_is_numeric(c);
	case CC_PUNCT: return uc_is_punct(c);
	case CC_WS: return uc_is_whitespace(c);
	case CC_DELIM: return c == p->ch;
	}
	return false;
}

/* A character predicate: every matching character is its own match. */
static enum sy_status match_chars(const struct tok_pretokenizer *p, enum char_class cls,
                                  const struct tok_nstr *b, uint32_t off, uint32_t len,
                                  struct splitter *sp)
{
	uint32_t gap = off, end = off + len;
	enum sy_status st;
	for (uint32_t i = off; i < end;) {
		uint32_t k, c = utf8_decode(b->s + i, &k);
		if (char_matches(p, cls, c)) {
			if (gap < i && (st = splitter_add(sp, gap, i, false)) != SY_OK)
				return st;
			if ((st = splitter_add(sp, i, i + k, true)) != SY_OK)
				return st;
			gap = i + k;
		}
		i += k;
	}
	if (gap < end)
		return splitter_add(sp, gap, end, false);
	return SY_OK;
}

/* BertPreTokenizer: whitespace removed, then punctuation isolated, done in one pass. */
static enum sy_status match_bert(const struct tok_nstr *b, uint32_t off, uint32_t len,
                                 struct tok_split_list *out)
{
	uint32_t run = UINT32_MAX, end = off + len;
	enum sy_status st;
	for (uint32_t i = off; i < end;) {
		unsigned char c0 = (unsigned char)b->s[i];
		uint32_t k = 1, c = c0;
		bool ws, punct;
		if (c0 < 0x80) {
			ws = c0 == ' ' || (c0 >= 0x09 && c0 <= 0x0D);
			punct = !ws && uc_is_punct(c0);
		} else {
			c = utf8_decode(b->s + i, &k);
			ws = uc_is_whitespace(c);
			punct = !ws && uc_is_punct(c);
		}
		if (ws || punct) {
			if (run != UINT32_MAX &&
			    (st = splits_push(out, (struct tok_split){run, i - run, -1, 0, 0})) !=
			        SY_OK)
				return st;
			run = UINT32_MAX;
			if (punct &&
			    (st = splits_push(out, (struct tok_split){i, k, -1, 0, 0})) != SY_OK)
				return st;
		} else if (run == UINT32_MAX) {
			run = i;
		}
		i += k;
	}
	if (run != UINT32_MAX)
		return splits_push(out, (struct tok_split){run, end - run, -1, 0, 0});
	return SY_OK;
}

/* Whitespace: the matches of \w+|[^\w\s]+ are kept, the rest removed. */
static enum sy_status match_whitespace(const struct tok_nstr *b, uint32_t off, uint32_t len,
                                       struct tok_split_list *out)
{
	uint32_t run = UINT32_MAX, end = off + len;
	int run_cls = 0; /* 1: word, 2: other */
	enum sy_status st;
	for (uint32_t i = off; i < end;) {
		uint32_t k, c = utf8_decode(b->s + i, &k);
		int cls = uc_is_word(c) ? 1 : uc_is_whitespace(c) ? 0 : 2;
		if (cls != run_cls || run == UINT32_MAX) {
			if (run != UINT32_MAX &&
			    (st = splits_push(out, (struct tok_split){run, i - run, -1, 0, 0})) !=
			        SY_OK)
				return st;
			run = cls ? i : UINT32_MAX;
			run_cls = cls;
		}
		i += k;
	}
	if (run != UINT32_MAX)
		return splits_push(out, (struct tok_split){run, end - run, -1, 0, 0});
	return SY_OK;
}

struct regex_ctx {
	struct splitter *sp;
	uint32_t base;
	bool invert;
};

static enum sy_status regex_cb(void *ctx, uint32_t start, uint32_t end, bool is_match)
{
	struct regex_ctx *rc = ctx;
	return splitter_add(rc->sp, rc->base + start, rc->base + end, is_match != rc->invert);
}

static enum sy_status match_fixed(const struct tok_pretokenizer *p, const struct tok_nstr *b,
                                  uint32_t off, uint32_t len, struct tok_split_list *out)
{
	uint32_t end = off + len, start = off;
	long cnt = 0;
	enum sy_status st;
	if (p->length <= 0)
		return SY_OK;
	for (uint32_t i = off; i < end;) {
		i += utf8_lead_len((unsigned char)b->s[i]);
		if (++cnt == p->length || i >= end) {
			if ((st = splits_push(
			         out, (struct tok_split){start, i - start, -1, 0, 0})) != SY_OK)
				return st;
			start = i;
			cnt = 0;
		}
	}
	return SY_OK;
}

/* Runs a cut-only pre-tokenizer over every text split. */
static enum sy_status run_cut(const struct tok_pretokenizer *p, struct tok_work *w,
                              struct sy_error *err)
{
	w->sp2.n = 0;
	enum sy_status st = SY_OK;
	for (int i = 0; i < w->sp.n && st == SY_OK; i++) {
		struct tok_split s = w->sp.v[i];
		if (s.id >= 0) {
			st = splits_push(&w->sp2, s);
			continue;
		}
		struct splitter sp;
		switch (p->kind) {
		case TOK_PRE_BERT: st = match_bert(&w->buf, s.off, s.len, &w->sp2); break;
		case TOK_PRE_WHITESPACE:
			st = match_whitespace(&w->buf, s.off, s.len, &w->sp2);
			break;
		case TOK_PRE_FIXED_LENGTH:
			st = match_fixed(p, &w->buf, s.off, s.len, &w->sp2);
			break;
		case TOK_PRE_WHITESPACE_SPLIT:
			splitter_begin(&sp, &w->sp2, TOK_SPLIT_REMOVED);
			st = match_chars(p, CC_WS, &w->buf, s.off, s.len, &sp);
			splitter_end(&sp);
			break;
		case TOK_PRE_CHAR_DELIMITER:
			splitter_begin(&sp, &w->sp2, TOK_SPLIT_REMOVED);
			st = match_chars(p, CC_DELIM, &w->buf, s.off, s.len, &sp);
			splitter_end(&sp);
			break;
		case TOK_PRE_PUNCTUATION:
			splitter_begin(&sp, &w->sp2, p->behavior);
			st = match_chars(p, CC_PUNCT, &w->buf, s.off, s.len, &sp);
			splitter_end(&sp);
			break;
		case TOK_PRE_DIGITS:
			splitter_begin(&sp, &w->sp2,
			               p->individual_digits ? TOK_SPLIT_ISOLATED
			                                    : TOK_SPLIT_CONTIGUOUS);
			st = match_chars(p, CC_DIGIT, &w->buf, s.off, s.len, &sp);
			splitter_end(&sp);
			break;
		case TOK_PRE_SPLIT: {
			splitter_begin(&sp, &w->sp2, p->behavior);
			struct regex_ctx rc = {&sp, s.off, p->invert};
			st = pattern_find(&p->pattern, w->buf.s + s.off, s.len, w->md, regex_cb,
			                  &rc, err);
			if (st == SY_OK)
				splitter_end(&sp);
			else if (st != SY_ERR_NOMEM)
				return st;
			break;
		}
		default: st = SY_ERR_INTERNAL; break;
		}
	}
	if (st != SY_OK)
		return sy_error_set(err, st,
		                    st == SY_ERR_NOMEM ? "out of memory" : "pre-tokenizer");
	splits_swap(&w->sp, &w->sp2);
	return SY_OK;
}

/* ---- Rewriting pre-tokenizers ---- */

/* Metaspace: spaces become the replacement, the replacement is prepended per the scheme, and
 * the result is split before each replacement (merged_with_next). */
static enum sy_status run_metaspace(const struct tok_pretokenizer *p, struct tok_work *w)
{
	struct tok_nstr *src = &w->buf, *dst = &w->buf2;
	char rep[4];
	uint32_t rep_len = utf8_encode(p->ch, rep);
	dst->len = 0;
	w->sp2.n = 0;
	enum sy_status st;
	for (int i = 0; i < w->sp.n; i++) {
		struct tok_split s = w->sp.v[i];
		if (s.id >= 0) {
			if ((st = splits_push(&w->sp2, s)) != SY_OK)
				return st;
			continue;
		}
		if (s.len == 0)
			continue;
		uint32_t start = (uint32_t)dst->len;
		bool starts_rep = src->s[s.off] == ' ' ||
		                  (s.len >= rep_len && memcmp(src->s + s.off, rep, rep_len) == 0);
		bool prepend =
		    !starts_rep && (p->prepend == TOK_PREPEND_ALWAYS ||
		                    (p->prepend == TOK_PREPEND_FIRST && src->o0[s.off] == 0));
		if (nstr_reserve(dst, (size_t)s.len * rep_len + rep_len) != SY_OK)
			return SY_ERR_NOMEM;
		if (prepend)
			nstr_put_cp(dst, p->ch, src->o0[s.off], src->o1[s.off]);
		for (uint32_t j = s.off; j < s.off + s.len; j++) {
			if (src->s[j] == ' ') {
				nstr_put_cp(dst, p->ch, src->o0[j], src->o1[j]);
			} else {
				dst->s[dst->len] = src->s[j];
				dst->o0[dst->len] = src->o0[j];
				dst->o1[dst->len] = src->o1[j];
				dst->len++;
			}
		}
		uint32_t end = (uint32_t)dst->len;
		if (!p->split) {
			if ((st = splits_push(&w->sp2, (struct tok_split){start, end - start, -1, 0,
			                                                  0})) != SY_OK)
				return st;
			continue;
		}
		struct splitter sp;
		splitter_begin(&sp, &w->sp2, TOK_SPLIT_MERGED_WITH_NEXT);
		uint32_t gap = start;
		for (uint32_t j = start; j < end;) {
			uint32_t k, c = utf8_decode(dst->s + j, &k);
			if (c == p->ch) {
				if (gap < j && (st = splitter_add(&sp, gap, j, false)) != SY_OK)
					return st;
				if ((st = splitter_add(&sp, j, j + k, true)) != SY_OK)
					return st;
				gap = j + k;
			}
			j += k;
		}
		if (gap < end && (st = splitter_add(&sp, gap, end, false)) != SY_OK)
			return st;
		splitter_end(&sp);
	}
	nstr_swap(&w->buf, &w->buf2);
	splits_swap(&w->sp, &w->sp2);
	return SY_OK;
}

struct bytelevel_ctx {
	struct tok_work *w;
	const struct tok_nstr *src; /* the split with its prefix space (w->n1) */
};

/* Maps src[start, end) to the byte-level alphabet at the end of w->buf2 as one new split. */
static enum sy_status bytelevel_piece(void *ctx, uint32_t start, uint32_t end, bool is_match)
{
	(void)is_match;
	struct bytelevel_ctx *bc = ctx;
	struct tok_nstr *dst = &bc->w->buf2;
	if (end <= start)
		return SY_OK;
	if (nstr_reserve(dst, (size_t)(end - start) * 2) != SY_OK)
		return SY_ERR_NOMEM;
	uint32_t at = (uint32_t)dst->len;
	for (uint32_t j = start; j < end; j++)
		nstr_put_cp(dst, uc_byte_level_char((unsigned char)bc->src->s[j]), bc->src->o0[j],
		            bc->src->o1[j]);
	return splits_push(&bc->w->sp2, (struct tok_split){at, (uint32_t)dst->len - at, -1, 0, 0});
}

static enum sy_status run_byte_level(const struct tok_pretokenizer *p, struct tok_work *w,
                                     struct sy_error *err)
{
	w->buf2.len = 0;
	w->sp2.n = 0;
	enum sy_status st;
	struct bytelevel_ctx bc = {w, &w->n1};
	for (int i = 0; i < w->sp.n; i++) {
		struct tok_split s = w->sp.v[i];
		if (s.id >= 0) {
			if ((st = splits_push(&w->sp2, s)) != SY_OK)
				return sy_error_set(err, st, "out of memory");
			continue;
		}
		if (s.len == 0)
			continue;
		struct tok_nstr *n1 = &w->n1;
		n1->len = 0;
		if (p->add_prefix_space && w->buf.s[s.off] != ' ' &&
		    nstr_push_cp(n1, ' ', w->buf.o0[s.off], w->buf.o1[s.off]) != SY_OK)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (nstr_append_range(n1, &w->buf, s.off, s.len) != SY_OK)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (p->use_regex)
			st = pattern_find(&p->pattern, n1->s, n1->len, w->md, bytelevel_piece, &bc,
			                  err);
		else
			st = bytelevel_piece(&bc, 0, (uint32_t)n1->len, false);
		if (st == SY_ERR_NOMEM)
			return sy_error_set(err, st, "out of memory");
		if (st != SY_OK)
			return st;
	}
	nstr_swap(&w->buf, &w->buf2);
	splits_swap(&w->sp, &w->sp2);
	return SY_OK;
}

enum sy_status pretokenizer_run(const struct tok_pretokenizer *p, struct tok_work *w,
                                struct sy_error *err)
{
	enum sy_status st;
	switch (p->kind) {
	case TOK_PRE_SEQUENCE:
		for (int i = 0; i < p->n_seq; i++)
			if ((st = pretokenizer_run(p->seq[i], w, err)) != SY_OK)
				return st;
		return SY_OK;
	case TOK_PRE_METASPACE:
		if ((st = run_metaspace(p, w)) != SY_OK)
			return sy_error_set(err, st, "out of memory");
		return SY_OK;
	case TOK_PRE_BYTE_LEVEL: return run_byte_level(p, w, err);
	default: return run_cut(p, w, err);
	}
}
