/* Post-processors (see postprocessor.h), following the processors module of Hugging Face `tokenizers`
 * and pre_tokenizers/byte_level.rs (process_offsets). */
#include "text/postprocessor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokcfg.h"
#include "text/unicode.h"

/* ---- Templates ---- */

static void tpl_free(struct tok_tpl_piece *t, int n)
{
	if (!t)
		return;
	for (int i = 0; i < n; i++)
		free(t[i].ids);
	free(t);
}

void postprocessor_free(struct tok_postprocessor *p)
{
	if (!p)
		return;
	tpl_free(p->single, p->n_single);
	tpl_free(p->pair, p->n_pair);
	free(p);
}

static int tpl_added(const struct tok_tpl_piece *t, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		if (t[i].seq < 0)
			k += t[i].n_ids;
	return k;
}

/* Appends a piece; ids (may be NULL) are copied. */
static enum sy_status tpl_push(struct tok_tpl_piece **t, int *n, int seq, uint32_t type_id,
                               const int32_t *ids, int n_ids)
{
	struct tok_tpl_piece *v = realloc(*t, (size_t)(*n + 1) * sizeof *v);
	if (!v)
		return SY_ERR_NOMEM;
	*t = v;
	struct tok_tpl_piece *pc = &v[*n];
	memset(pc, 0, sizeof *pc);
	pc->seq = seq;
	pc->type_id = type_id;
	if (n_ids) {
		pc->ids = malloc((size_t)n_ids * sizeof *pc->ids);
		if (!pc->ids)
			return SY_ERR_NOMEM;
		memcpy(pc->ids, ids, (size_t)n_ids * sizeof *pc->ids);
		pc->n_ids = n_ids;
	}
	(*n)++;
	return SY_OK;
}

static struct tok_postprocessor *pp_new(void)
{
	return calloc(1, sizeof(struct tok_postprocessor));
}

/* The template of a processor that adds [cls] A [sep] (B [sep]). */
static enum sy_status pp_set_cls_sep(struct tok_postprocessor *p, int32_t cls, int32_t sep,
                                     bool roberta)
{
	enum sy_status st = SY_OK;
	uint32_t tb = roberta ? 0 : 1;
	if ((st = tpl_push(&p->single, &p->n_single, -1, 0, &cls, 1)) ||
	    (st = tpl_push(&p->single, &p->n_single, 0, 0, NULL, 0)) ||
	    (st = tpl_push(&p->single, &p->n_single, -1, 0, &sep, 1)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, -1, 0, &cls, 1)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, 0, 0, NULL, 0)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, -1, 0, &sep, 1)))
		return st;
	if (roberta && (st = tpl_push(&p->pair, &p->n_pair, -1, 0, &sep, 1)))
		return st;
	if ((st = tpl_push(&p->pair, &p->n_pair, 1, tb, NULL, 0)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, -1, tb, &sep, 1)))
		return st;
	return SY_OK;
}

static enum sy_status pp_set_default(struct tok_postprocessor *p)
{
	enum sy_status st;
	if ((st = tpl_push(&p->single, &p->n_single, 0, 0, NULL, 0)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, 0, 0, NULL, 0)) ||
	    (st = tpl_push(&p->pair, &p->n_pair, 1, 1, NULL, 0)))
		return st;
	return SY_OK;
}

static void pp_finish(struct tok_postprocessor *p)
{
	p->added_single = tpl_added(p->single, p->n_single);
	p->added_pair = tpl_added(p->pair, p->n_pair);
}

enum sy_status postprocessor_bert(int32_t cls, int32_t sep, struct tok_postprocessor **out)
{
	struct tok_postprocessor *p = pp_new();
	if (!p || pp_set_cls_sep(p, cls, sep, false) != SY_OK) {
		postprocessor_free(p);
		return SY_ERR_NOMEM;
	}
	pp_finish(p);
	*out = p;
	return SY_OK;
}

/* ["[SEP]", 102] */
static enum sy_status token_pair(const cJSON *j, const char *key, const char *path,
                                 struct sy_error *err, int32_t *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	const cJSON *s = cJSON_GetArrayItem(v, 0), *n = cJSON_GetArrayItem(v, 1);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(s) ||
	    !cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > INT32_MAX)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: expected [token, id]", path, key);
	*id = (int32_t)n->valuedouble;
	return SY_OK;
}

/* Finds the special token named `name` in special_tokens and returns its ids. */
static enum sy_status special_ids(const cJSON *specials, const char *name, const char *path,
                                  struct sy_error *err, int32_t **ids, int *n_ids)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(specials, name);
	if (!cJSON_IsObject(e))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.special_tokens: missing \"%.60s\"",
		                    path, name);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(e, "ids");
	if (!cJSON_IsArray(arr))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s.special_tokens[\"%.60s\"].ids: expected array", path, name);
	int n = cJSON_GetArraySize(arr), k = 0;
	int32_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
	if (!v)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > INT32_MAX) {
			free(v);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s.special_tokens[\"%.60s\"].ids[%d]: expected id",
			                    path, name, k);
		}
		v[k++] = (int32_t)it->valuedouble;
	}
	*ids = v;
	*n_ids = n;
	return SY_OK;
}

/* One template piece in string form: "$A", "$B:1", "$1", "[SEP]", "[SEP]:1". */
static enum sy_status piece_from_string(const char *s, const char *field, const cJSON *specials,
                                        const char *path, struct sy_error *err,
                                        struct tok_tpl_piece **t, int *n)
{
	char name[256];
	const char *colon = strrchr(s, ':');
	size_t nl = colon && colon != s ? (size_t)(colon - s) : strlen(s);
	unsigned long type_id = 0;
	if (colon && colon != s) {
		char *end;
		type_id = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || type_id > UINT32_MAX)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: bad template piece \"%.60s\"",
			                    field, s);
	}
	if (nl >= sizeof name)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: template piece too long", field);
	memcpy(name, s, nl);
	name[nl] = '\0';
	if (name[0] == '$') {
		const char *r = name + 1;
		int seq;
		if (!*r || strcmp(r, "A") == 0 || strcmp(r, "a") == 0) {
			seq = 0;
		} else if (strcmp(r, "B") == 0 || strcmp(r, "b") == 0) {
			seq = 1;
		} else {
			/* "$1" means sequence A with type id 1. */
			char *end;
			unsigned long v = strtoul(r, &end, 10);
			if (*end || v > UINT32_MAX)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: bad template piece \"%.60s\"", field, s);
			seq = 0;
			if (!(colon && colon != s))
				type_id = v;
		}
		return tpl_push(t, n, seq, (uint32_t)type_id, NULL, 0) == SY_OK
		           ? SY_OK
		           : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	int32_t *ids;
	int n_ids;
	enum sy_status st = special_ids(specials, name, path, err, &ids, &n_ids);
	if (st != SY_OK)
		return st;
	st = tpl_push(t, n, -1, (uint32_t)type_id, ids, n_ids);
	free(ids);
	return st == SY_OK ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
}

static enum sy_status template_from_json(const cJSON *v, const char *key, const cJSON *specials,
                                         const char *path, struct sy_error *err,
                                         struct tok_tpl_piece **t, int *n)
{
	char field[TOKCFG_PATH_LEN + 32];
	snprintf(field, sizeof field, "%s.%s", path, key);
	enum sy_status st;
	if (cJSON_IsString(v)) {
		/* "[CLS] $A [SEP]": pieces separated by spaces. */
		const char *s = v->valuestring;
		while (*s) {
			while (*s == ' ')
				s++;
			if (!*s)
				break;
			const char *e = strchr(s, ' ');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			char buf[256];
			if (len >= sizeof buf)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: template piece too long", field);
			memcpy(buf, s, len);
			buf[len] = '\0';
			if ((st = piece_from_string(buf, field, specials, path, err, t, n)) !=
			    SY_OK)
				return st;
			s += len;
		}
		return SY_OK;
	}
	if (!cJSON_IsArray(v))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: expected array", field);
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		char item[TOKCFG_PATH_LEN + 48];
		snprintf(item, sizeof item, "%s[%d]", field, i++);
		if (cJSON_IsString(it)) {
			if ((st = piece_from_string(it->valuestring, item, specials, path, err, t,
			                            n)) != SY_OK)
				return st;
			continue;
		}
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
		const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
		const cJSON *body = sp ? sp : sq;
		if (!cJSON_IsObject(it) || !cJSON_IsObject(body))
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: expected {\"SpecialToken\": ...} or {\"Sequence\": ...}", item);
		const char *id;
		long type_id;
		if ((st = tokcfg_string(body, "id", item, NULL, err, &id)) != SY_OK ||
		    (st = json_read_int(body, "type_id", item, 0, UINT32_MAX, 0, err, &type_id)) !=
		        SY_OK)
			return st;
		if (!id)
			return sy_error_set(err, SY_ERR_FORMAT, "%s.id: missing", item);
		if (sq) {
			int seq = strcmp(id, "A") == 0 ? 0 : strcmp(id, "B") == 0 ? 1 : -1;
			if (seq < 0)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s.id: expected \"A\" or \"B\", got \"%.60s\"",
				                    item, id);
			if (tpl_push(t, n, seq, (uint32_t)type_id, NULL, 0) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		} else {
			int32_t *ids;
			int n_ids;
			if ((st = special_ids(specials, id, path, err, &ids, &n_ids)) != SY_OK)
				return st;
			st = tpl_push(t, n, -1, (uint32_t)type_id, ids, n_ids);
			free(ids);
			if (st != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	}
	return SY_OK;
}

static enum sy_status template_processing(const cJSON *j, const char *path, struct sy_error *err,
                                          struct tok_postprocessor *p)
{
	const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
	if (specials && !cJSON_IsNull(specials) && !cJSON_IsObject(specials))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.special_tokens: expected object", path);
	const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
	const cJSON *pair = cJSON_GetObjectItemCaseSensitive(j, "pair");
	if (!single)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.single: missing", path);
	enum sy_status st =
	    template_from_json(single, "single", specials, path, err, &p->single, &p->n_single);
	if (st != SY_OK)
		return st;
	if (pair && !cJSON_IsNull(pair)) {
		st = template_from_json(pair, "pair", specials, path, err, &p->pair, &p->n_pair);
		if (st != SY_OK)
			return st;
		bool has_a = false, has_b = false;
		for (int i = 0; i < p->n_pair; i++) {
			has_a |= p->pair[i].seq == 0;
			has_b |= p->pair[i].seq == 1;
		}
		if (!has_a || !has_b)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s.pair: must contain both $A and $B", path);
	} else {
		/* No pair template: the single one followed by $B with type id 1. */
		for (int i = 0; i < p->n_single; i++)
			if (tpl_push(&p->pair, &p->n_pair, p->single[i].seq, p->single[i].type_id,
			             p->single[i].ids, p->single[i].n_ids) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (tpl_push(&p->pair, &p->n_pair, 1, 1, NULL, 0) != SY_OK)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	return SY_OK;
}

/* Parses one processor into p; *has_tpl tells whether p already has a template. */
static enum sy_status parse_one(const cJSON *j, const char *path, struct sy_error *err,
                                struct tok_postprocessor *p, bool *has_tpl)
{
	const char *type;
	enum sy_status st = tokcfg_type(j, path, err, &type);
	if (st != SY_OK)
		return st;
	bool trim, aps;
	if (strcmp(type, "Sequence") == 0) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
		if (!cJSON_IsArray(arr))
			return sy_error_set(err, SY_ERR_FORMAT, "%s.processors: expected array",
			                    path);
		int i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			char sub[TOKCFG_PATH_LEN];
			snprintf(sub, sizeof sub, "%s.processors[%d]", path, i++);
			if ((st = parse_one(it, sub, err, p, has_tpl)) != SY_OK)
				return st;
		}
		return SY_OK;
	}
	if (strcmp(type, "ByteLevel") == 0) {
		if ((st = json_read_bool(j, "trim_offsets", path, true, err, &trim)) != SY_OK ||
		    (st = json_read_bool(j, "add_prefix_space", path, true, err, &aps)) != SY_OK)
			return st;
		if (trim) {
			p->trim_offsets = true;
			p->trim_prefix_space = aps;
		}
		return SY_OK;
	}
	bool roberta = strcmp(type, "RobertaProcessing") == 0;
	bool bert = strcmp(type, "BertProcessing") == 0;
	bool tpl = strcmp(type, "TemplateProcessing") == 0;
	if (!roberta && !bert && !tpl)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s.type: unknown post-processor \"%s\"", path, type);
	if (*has_tpl)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: more than one processor adding special tokens", path);
	*has_tpl = true;
	if (tpl)
		return template_processing(j, path, err, p);
	int32_t cls, sep;
	if ((st = token_pair(j, "cls", path, err, &cls)) != SY_OK ||
	    (st = token_pair(j, "sep", path, err, &sep)) != SY_OK)
		return st;
	if (roberta) {
		if ((st = json_read_bool(j, "trim_offsets", path, true, err, &trim)) != SY_OK ||
		    (st = json_read_bool(j, "add_prefix_space", path, true, err, &aps)) != SY_OK)
			return st;
		if (trim) {
			p->trim_offsets = true;
			p->trim_prefix_space = aps;
		}
	}
	if (pp_set_cls_sep(p, cls, sep, roberta) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return SY_OK;
}

enum sy_status postprocessor_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                       struct tok_postprocessor **out)
{
	*out = NULL;
	struct tok_postprocessor *p = pp_new();
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	bool has_tpl = false;
	enum sy_status st = SY_OK;
	if (j && !cJSON_IsNull(j))
		st = parse_one(j, path, err, p, &has_tpl);
	if (st == SY_OK && !has_tpl && pp_set_default(p) != SY_OK)
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (st != SY_OK) {
		postprocessor_free(p);
		return st;
	}
	pp_finish(p);
	*out = p;
	return SY_OK;
}

int postprocessor_added(const struct tok_postprocessor *p, bool pair)
{
	return pair ? p->added_pair : p->added_single;
}

/* ---- Offsets trimming ---- */

static bool is_space_char(uint32_t c)
{
	return c == 0x120 || uc_is_whitespace(c);
}

/* Leading (dir > 0) or trailing (dir < 0) characters of tok[0, len) that are 'Ġ' (the byte-level
 * space) or whitespace. The string may be raw input, so it is decoded defensively. */
static uint32_t count_spaces(const char *tok, size_t len, int dir)
{
	const unsigned char *u = (const unsigned char *)tok;
	uint32_t n = 0, cp;
	if (dir > 0) {
		for (size_t i = 0; i < len;) {
			uint32_t k = utf8_sanitize_step(u + i, len - i, &cp);
			if (!is_space_char(cp))
				break;
			n++;
			i += k;
		}
		return n;
	}
	size_t e = len;
	while (e > 0) {
		size_t s = e - 1;
		while (s > 0 && e - s < 4 && (u[s] & 0xC0) == 0x80)
			s--;
		uint32_t k = utf8_sanitize_step(u + s, e - s, &cp);
		if (s + k != e || !is_space_char(cp))
			break;
		n++;
		e = s;
	}
	return n;
}

void postprocessor_trim(const struct tok_postprocessor *p, struct tok_seq *s, tok_string_fn str,
                        const void *ctx)
{
	if (!p->trim_offsets)
		return;
	for (int i = 0; i < s->n; i++) {
		size_t len = 0;
		const char *tok = str(ctx, s, i, &len);
		if (!tok)
			continue;
		uint32_t lead = count_spaces(tok, len, 1), trail = count_spaces(tok, len, -1);
		if (lead) {
			bool first = i == 0 || s->o0[i] == 0;
			if (first && p->trim_prefix_space && lead == 1)
				lead = 0; /* the space the pre-tokenizer added itself */
			s->o0[i] = s->o0[i] + lead < s->o1[i] ? s->o0[i] + lead : s->o1[i];
		}
		if (trail && s->o1[i] >= trail)
			s->o1[i] = s->o1[i] - trail > s->o0[i] ? s->o1[i] - trail : s->o0[i];
	}
}

/* ---- Assembly ---- */

enum sy_status postprocessor_apply(const struct tok_postprocessor *p, const struct tok_seq *a,
                                   const struct tok_seq *b, bool add_special_tokens,
                                   struct sy_error *err, struct tok_encoding *out)
{
	const struct tok_tpl_piece *t = b ? p->pair : p->single;
	int nt = b ? p->n_pair : p->n_single;
	const struct tok_seq *seqs[2] = {a, b};
	size_t n = 0;
	for (int i = 0; i < nt; i++) {
		if (t[i].seq >= 0)
			n += seqs[t[i].seq] ? (size_t)seqs[t[i].seq]->n : 0;
		else if (add_special_tokens)
			n += (size_t)t[i].n_ids;
	}
	if (n > INT32_MAX / 32)
		return sy_error_set(err, SY_ERR_LIMIT, "encoding of %zu tokens is too long", n);
	/* One block: ids, type_ids, offsets (4-byte elements) then special and seq (bytes). */
	char *blk = malloc(n * 18 + 1);
	if (!blk)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	out->n = (int)n;
	out->ids = (int32_t *)blk;
	out->type_ids = (int32_t *)(blk + n * 4);
	out->offsets = (uint32_t *)(blk + n * 8);
	out->special = (uint8_t *)(blk + n * 16);
	out->seq = (int8_t *)(blk + n * 17);
	size_t k = 0;
	for (int i = 0; i < nt; i++) {
		if (t[i].seq >= 0) {
			const struct tok_seq *s = seqs[t[i].seq];
			for (int j = 0; s && j < s->n; j++, k++) {
				out->ids[k] = s->ids[j];
				out->type_ids[k] = (int32_t)t[i].type_id;
				out->offsets[2 * k] = s->o0[j];
				out->offsets[2 * k + 1] = s->o1[j];
				out->special[k] = 0;
				out->seq[k] = (int8_t)t[i].seq;
			}
		} else if (add_special_tokens) {
			for (int j = 0; j < t[i].n_ids; j++, k++) {
				out->ids[k] = t[i].ids[j];
				out->type_ids[k] = (int32_t)t[i].type_id;
				out->offsets[2 * k] = 0;
				out->offsets[2 * k + 1] = 0;
				out->special[k] = 1;
				out->seq[k] = -1;
			}
		}
	}
	return SY_OK;
}
