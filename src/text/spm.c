/* SentencePiece model files (spiece.model, spm.model, tokenizer.model): the ModelProto protobuf
 * read into the tokenizer.json form the rest of src/text already runs, the way Hugging Face's
 * SpmConverter describes it (convert_slow_tokenizer.py), checked against the ids of the
 * sentencepiece library itself (tools/reference/make_spm.py):
 *
 *   normalizer     Precompiled (the model's precompiled_charsmap, e.g. nmt_nfkc), then with
 *                  remove_extra_whitespaces: Strip both sides and Replace(" {2,}", " ")
 *   pre_tokenizer  Metaspace("▁", prepend "always" when add_dummy_prefix else "never", split)
 *   model          Unigram([piece, score]..., unk_id, byte_fallback), or BPE(vocab, merges,
 *                  fuse_unk) whose merges are every split of a piece into two pieces, ranked
 *                  by the merged piece's score (SentencePieceExtractor)
 *   added_tokens   the CONTROL and UNKNOWN pieces (special); USER_DEFINED pieces stay in the
 *                  vocabulary, where their score of 0 makes the model keep them whole
 *   post_processor bos / eos as the caller asks (tokenizer_config.json or the tokenizer class)
 *
 * With spm_options.fairseq (XLM-R's sentencepiece.bpe.model) the pieces are first renumbered
 * into fairseq's dictionary as XLMRobertaTokenizer uses it (fairseq_remap), checked against
 * tools/reference/make_xlmr_spm.py.
 *
 * Protobuf wire format: tag = field << 3 | wire type; varints little-endian base 128; type 2
 * is length-delimited, 5 is 4 bytes, 1 is 8 bytes. Every length is checked against the
 * buffer, so a corrupt file fails with SY_ERR_FORMAT. */
#include "text/spm.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_write.h"
#include "base/sbuf.h"
#include "base/strmap.h"
#include "text/tokcfg.h"
#include "text/unicode.h"

enum {
	SPM_NORMAL = 1,
	SPM_UNKNOWN = 2,
	SPM_CONTROL = 3,
	SPM_USER = 4,
	SPM_UNUSED = 5,
	SPM_BYTE = 6
};

struct spm_piece {
	const char *s; /* into the file's bytes, len long (not NUL-terminated) */
	size_t len;
	float score;
	int type;
};

struct spm_model {
	struct spm_piece *pieces;
	int n, cap;
	int model_type; /* 1 Unigram, 2 BPE */
	long unk_id, bos_id, eos_id;
	bool byte_fallback;
	const unsigned char *charsmap;
	size_t charsmap_len;
	bool add_dummy_prefix, remove_extra_ws;
	long
	    lstrip_id; /* an added token that takes the spaces before it (fairseq's <mask>), or -1 */
};

struct pb {
	const unsigned char *p, *end;
};

static bool pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		const unsigned char c = *b->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* One field: its number, wire type, and for type 2 its bytes in *sub, else its value. */
static bool pb_field(struct pb *b, uint32_t *field, int *wt, uint64_t *val, struct pb *sub)
{
	uint64_t tag;
	if (!pb_varint(b, &tag))
		return false;
	*field = (uint32_t)(tag >> 3);
	*wt = (int)(tag & 7);
	switch (*wt) {
	case 0: return pb_varint(b, val);
	case 1:
		if (b->end - b->p < 8)
			return false;
		memcpy(val, b->p, 8);
		b->p += 8;
		return true;
	case 5: {
		if (b->end - b->p < 4)
			return false;
		uint32_t u = (uint32_t)b->p[0] | (uint32_t)b->p[1] << 8 | (uint32_t)b->p[2] << 16 |
		             (uint32_t)b->p[3] << 24;
		*val = u;
		b->p += 4;
		return true;
	}
	case 2: {
		uint64_t len;
		if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
			return false;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return true;
	}
	default: return false;
	}
}

static bool parse_piece(struct pb b, struct spm_piece *out)
{
	*out = (struct spm_piece){.type = SPM_NORMAL};
	uint32_t f;
	int wt;
	uint64_t v;
	struct pb sub;
	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return false;
		if (f == 1 && wt == 2) {
			out->s = (const char *)sub.p;
			out->len = (size_t)(sub.end - sub.p);
		} else if (f == 2 && wt == 5) {
			uint32_t u = (uint32_t)v;
			memcpy(&out->score, &u, 4);
		} else if (f == 3 && wt == 0) {
			out->type = (int)v;
		}
	}
	return out->s != NULL;
}

static bool parse_trainer(struct pb b, struct spm_model *m)
{
	uint32_t f;
	int wt;
	uint64_t v;
	struct pb sub;
	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return false;
		if (wt != 0)
			continue;
		switch (f) {
		case 3: m->model_type = (int)v; break;
		case 35: m->byte_fallback = v != 0; break;
		case 40: m->unk_id = (long)(int32_t)v; break;
		case 41: m->bos_id = (long)(int32_t)v; break;
		case 42: m->eos_id = (long)(int32_t)v; break;
		default: break;
		}
	}
	return true;
}

static bool parse_normalizer(struct pb b, struct spm_model *m)
{
	uint32_t f;
	int wt;
	uint64_t v;
	struct pb sub;
	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return false;
		if (f == 2 && wt == 2) {
			m->charsmap = sub.p;
			m->charsmap_len = (size_t)(sub.end - sub.p);
		} else if (f == 3 && wt == 0) {
			m->add_dummy_prefix = v != 0;
		} else if (f == 4 && wt == 0) {
			m->remove_extra_ws = v != 0;
		}
	}
	return true;
}

static enum sy_status parse_model(const unsigned char *data, size_t len, const char *name,
                                  struct sy_error *err, struct spm_model *m)
{
	*m = (struct spm_model){.model_type = 1,
	                        .unk_id = 0,
	                        .bos_id = 1,
	                        .eos_id = 2,
	                        .add_dummy_prefix = true,
	                        .remove_extra_ws = true,
	                        .lstrip_id = -1};
	struct pb b = {data, data + len};
	uint32_t f;
	int wt;
	uint64_t v;
	struct pb sub;
	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: not a SentencePiece model (bad "
			                    "protobuf)",
			                    name);
		bool ok = true;
		if (f == 1 && wt == 2) {
			if (m->n == m->cap) {
				int cap = m->cap ? 2 * m->cap : 1024;
				struct spm_piece *p = realloc(m->pieces, (size_t)cap * sizeof *p);
				if (!p)
					return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				m->pieces = p;
				m->cap = cap;
			}
			ok = parse_piece(sub, &m->pieces[m->n++]);
		} else if (f == 2 && wt == 2) {
			ok = parse_trainer(sub, m);
		} else if (f == 3 && wt == 2) {
			ok = parse_normalizer(sub, m);
		}
		if (!ok)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: malformed SentencePiece model",
			                    name);
	}
	if (m->n == 0)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: no pieces", name);
	if (m->model_type != 1 && m->model_type != 2)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s: SentencePiece model type %d (Unigram and BPE are supported)", name,
		    m->model_type);
	if (m->unk_id < 0 || m->unk_id >= m->n)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: unk_id %ld outside the vocabulary",
		                    name, m->unk_id);
	for (int i = 0; i < m->n; i++)
		if (!tokcfg_utf8_valid(m->pieces[i].s, m->pieces[i].len))
			return sy_error_set(err, SY_ERR_FORMAT, "%s: piece %d is not valid UTF-8",
			                    name, i);
	return SY_OK;
}

/* fairseq's dictionary (spm_options.fairseq): the pieces renumbered as XLMRobertaTokenizer
 * numbers them. Its four specials come first; spm's <unk>, <s>, </s> (ids 0-2) give way to
 * them and every other piece moves up by one; <mask> is appended. The pieces keep pointing
 * into the file (or at the literals here). */
static enum sy_status fairseq_remap(struct spm_model *m, const char *name, struct sy_error *err)
{
	if (m->n < 3 || m->unk_id != 0 || m->pieces[0].type != SPM_UNKNOWN ||
	    m->pieces[1].type != SPM_CONTROL || m->pieces[2].type != SPM_CONTROL)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: a fairseq sentencepiece.bpe.model must start with "
		                    "<unk>, <s>, </s> (SentencePiece's ids 0, 1, 2)",
		                    name);
	const int n = m->n + 2;
	struct spm_piece *p = malloc((size_t)n * sizeof *p);
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	static const char *const specials[4] = {"<s>", "<pad>", "</s>", "<unk>"};
	for (int i = 0; i < 4; i++)
		p[i] = (struct spm_piece){specials[i], strlen(specials[i]), 0.0f,
		                          i == 3 ? SPM_UNKNOWN : SPM_CONTROL};
	for (int i = 3; i < m->n; i++)
		p[i + 1] = m->pieces[i];
	p[n - 1] = (struct spm_piece){"<mask>", 6, 0.0f, SPM_CONTROL};
	free(m->pieces);
	m->pieces = p;
	m->n = m->cap = n;
	m->unk_id = 3;
	m->bos_id = 0;
	m->eos_id = 2;
	m->lstrip_id = n - 1;
	return SY_OK;
}

static bool ispunct_ascii(uint32_t c)
{
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
	       (c >= '{' && c <= '~');
}

static cJSON *str_n(const char *s, size_t n)
{
	char *t = malloc(n + 1);
	if (!t)
		return NULL;
	memcpy(t, s, n);
	t[n] = '\0';
	cJSON *j = cJSON_CreateString(t);
	free(t);
	return j;
}

struct merge {
	int l, r; /* piece ids */
	int piece; /* the merged piece's id (its score ranks the merge) */
};

static int merge_cmp(const void *a, const void *b, void *ctx)
{
	const struct merge *x = a, *y = b;
	const struct spm_model *m = ctx;
	const float sx = m->pieces[x->piece].score, sy = m->pieces[y->piece].score;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	if (x->piece != y->piece)
		return x->piece - y->piece;
	if (x->l != y->l)
		return x->l - y->l;
	return x->r - y->r;
}

/* BPE: merges from every split of a piece into two pieces (sentencepiece merges the pair whose
 * result scores highest first). */
static cJSON *bpe_merges(const struct spm_model *m, const struct sy_strmap *ids)
{
	struct merge *v = NULL;
	size_t n = 0, cap = 0;
	for (int i = 0; i < m->n; i++) {
		const struct spm_piece *p = &m->pieces[i];
		if (p->type != SPM_NORMAL && p->type != SPM_USER)
			continue;
		for (size_t k = 1; k < p->len; k++) {
			if (((unsigned char)p->s[k] & 0xC0) == 0x80)
				continue; /* split between code points only */
			const int32_t l = sy_strmap_get(ids, p->s, k);
			const int32_t r = sy_strmap_get(ids, p->s + k, p->len - k);
			if (l < 0 || r < 0)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				struct merge *nv = realloc(v, cap * sizeof *nv);
				if (!nv) {
					free(v);
					return NULL;
				}
				v = nv;
			}
			v[n++] = (struct merge){l, r, i};
		}
	}
	if (n > 1) /* qsort_r takes no NULL array, even for 0 elements */
		qsort_r(v, n, sizeof *v, merge_cmp, (void *)m);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < n; i++) {
		const struct spm_piece *l = &m->pieces[v[i].l], *r = &m->pieces[v[i].r];
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, str_n(l->s, l->len));
		cJSON_AddItemToArray(pair, str_n(r->s, r->len));
		cJSON_AddItemToArray(arr, pair);
	}
	free(v);
	return arr;
}

static cJSON *special_template(const struct spm_model *m, bool bos, bool eos, bool fairseq)
{
	cJSON *single = cJSON_CreateArray(), *specials = cJSON_CreateObject();
	cJSON *tp = cJSON_CreateObject();
	const long ids[2] = {bos ? m->bos_id : -1, eos ? m->eos_id : -1};
	for (int k = 0; k < 3; k++) {
		if (k == 1) {
			cJSON *seq = cJSON_CreateObject(), *a = cJSON_CreateObject();
			cJSON_AddStringToObject(a, "id", "A");
			cJSON_AddNumberToObject(a, "type_id", 0);
			cJSON_AddItemToObject(seq, "Sequence", a);
			cJSON_AddItemToArray(single, seq);
			continue;
		}
		const long id = ids[k ? 1 : 0];
		if (id < 0 || id >= m->n)
			continue;
		const struct spm_piece *p = &m->pieces[id];
		cJSON *tok = str_n(p->s, p->len);
		cJSON *st = cJSON_CreateObject(), *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(tok, 1));
		cJSON_AddNumberToObject(o, "type_id", 0);
		cJSON_AddItemToObject(st, "SpecialToken", o);
		cJSON_AddItemToArray(single, st);
		cJSON *sp = cJSON_CreateObject(), *idv = cJSON_CreateArray(),
		      *tv = cJSON_CreateArray();
		cJSON_AddItemToObject(sp, "id", cJSON_Duplicate(tok, 1));
		cJSON_AddItemToArray(idv, cJSON_CreateNumber((double)id));
		cJSON_AddItemToArray(tv, cJSON_Duplicate(tok, 1));
		cJSON_AddItemToObject(sp, "ids", idv);
		cJSON_AddItemToObject(sp, "tokens", tv);
		cJSON_AddItemToObject(specials, tok->valuestring, sp);
		cJSON_Delete(tok);
	}
	cJSON_AddStringToObject(tp, "type", "TemplateProcessing");
	cJSON_AddItemToObject(tp, "single", single);
	/* a pair: the single template, then B and (with eos) eos again (T5's "$A </s> $B </s>");
	 * fairseq's puts a second </s> before B (RoBERTa's "<s> $A </s> </s> $B </s>") */
	cJSON *pair = cJSON_Duplicate(single, 1), *seq = cJSON_CreateObject(),
	      *bb = cJSON_CreateObject();
	const cJSON *last_special = eos && cJSON_GetArraySize(single) > 0
	                                ? cJSON_GetArrayItem(single, cJSON_GetArraySize(single) - 1)
	                                : NULL;
	if (last_special && !cJSON_GetObjectItem(last_special, "SpecialToken"))
		last_special = NULL;
	if (fairseq && last_special)
		cJSON_AddItemToArray(pair, cJSON_Duplicate(last_special, 1));
	cJSON_AddStringToObject(bb, "id", "B");
	cJSON_AddNumberToObject(bb, "type_id", 0);
	cJSON_AddItemToObject(seq, "Sequence", bb);
	cJSON_AddItemToArray(pair, seq);
	if (last_special)
		cJSON_AddItemToArray(pair, cJSON_Duplicate(last_special, 1));
	cJSON_AddItemToObject(tp, "pair", pair);
	cJSON_AddItemToObject(tp, "special_tokens", specials);
	return tp;
}

/* The tokenizer.json document of m. */
static cJSON *to_json(const struct spm_model *m, const struct spm_options *o)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
	for (int i = 0; i < m->n; i++) {
		const struct spm_piece *p = &m->pieces[i];
		if (p->type != SPM_CONTROL && p->type != SPM_UNKNOWN)
			continue;
		cJSON *a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", i);
		cJSON_AddItemToObject(a, "content", str_n(p->s, p->len));
		cJSON_AddBoolToObject(a, "single_word", false);
		cJSON_AddBoolToObject(a, "lstrip", i == m->lstrip_id);
		cJSON_AddBoolToObject(a, "rstrip", false);
		cJSON_AddBoolToObject(a, "normalized", false);
		cJSON_AddBoolToObject(a, "special", true);
		cJSON_AddItemToArray(added, a);
	}
	cJSON *norms = cJSON_CreateArray();
	if (m->charsmap_len) {
		struct sbuf b = {0};
		json_write_base64(&b, m->charsmap, m->charsmap_len);
		cJSON *pc = cJSON_CreateObject();
		cJSON_AddStringToObject(pc, "type", "Precompiled");
		cJSON_AddStringToObject(pc, "precompiled_charsmap", b.data ? b.data : "");
		sbuf_free(&b);
		cJSON_AddItemToArray(norms, pc);
	}
	if (m->remove_extra_ws) {
		cJSON *st = cJSON_CreateObject(), *rp = cJSON_CreateObject(), *pat;
		cJSON_AddStringToObject(st, "type", "Strip");
		cJSON_AddBoolToObject(st, "strip_left", true);
		cJSON_AddBoolToObject(st, "strip_right", true);
		cJSON_AddItemToArray(norms, st);
		cJSON_AddStringToObject(rp, "type", "Replace");
		pat = cJSON_AddObjectToObject(rp, "pattern");
		cJSON_AddStringToObject(pat, "Regex", " {2,}");
		cJSON_AddStringToObject(rp, "content", " ");
		cJSON_AddItemToArray(norms, rp);
	}
	cJSON *nz = cJSON_AddObjectToObject(root, "normalizer");
	cJSON_AddStringToObject(nz, "type", "Sequence");
	cJSON_AddItemToObject(nz, "normalizers", norms);
	cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
	cJSON_AddStringToObject(pre, "type", "Metaspace");
	cJSON_AddStringToObject(pre, "replacement", "\xe2\x96\x81");
	cJSON_AddStringToObject(pre, "prepend_scheme", m->add_dummy_prefix ? "always" : "never");
	cJSON_AddBoolToObject(pre, "split", true);
	if (o && (o->add_bos || o->add_eos))
		cJSON_AddItemToObject(root, "post_processor",
		                      special_template(m, o->add_bos, o->add_eos, o->fairseq));
	cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
	cJSON_AddStringToObject(dec, "type", "Metaspace");
	cJSON_AddStringToObject(dec, "replacement", "\xe2\x96\x81");
	cJSON_AddStringToObject(dec, "prepend_scheme", m->add_dummy_prefix ? "always" : "never");
	cJSON_AddBoolToObject(dec, "split", true);
	cJSON *model = cJSON_AddObjectToObject(root, "model");
	if (m->model_type == 1) {
		cJSON_AddStringToObject(model, "type", "Unigram");
		cJSON_AddNumberToObject(model, "unk_id", (double)m->unk_id);
		cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
		cJSON *vocab = cJSON_AddArrayToObject(model, "vocab");
		for (int i = 0; i < m->n; i++) {
			const struct spm_piece *p = &m->pieces[i];
			cJSON *e = cJSON_CreateArray();
			cJSON_AddItemToArray(e, str_n(p->s, p->len));
			/* sentencepiece never emits unused pieces; control pieces are added tokens */
			cJSON_AddItemToArray(
			    e, cJSON_CreateNumber(p->type == SPM_UNUSED ? -1e9 : p->score));
			cJSON_AddItemToArray(vocab, e);
		}
		return root;
	}
	cJSON_AddStringToObject(model, "type", "BPE");
	const struct spm_piece *unk = &m->pieces[m->unk_id];
	cJSON_AddItemToObject(model, "unk_token", str_n(unk->s, unk->len));
	cJSON_AddBoolToObject(model, "fuse_unk", true);
	cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
	cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
	struct sy_strmap ids;
	sy_strmap_init(&ids);
	for (int i = 0; i < m->n; i++) {
		const struct spm_piece *p = &m->pieces[i];
		char *k = malloc(p->len + 1);
		if (k) {
			memcpy(k, p->s, p->len);
			k[p->len] = '\0';
			cJSON_AddNumberToObject(vocab, k, i);
			free(k);
		}
		if (p->type == SPM_NORMAL || p->type == SPM_USER || p->type == SPM_BYTE)
			sy_strmap_put(&ids, p->s, p->len, i);
	}
	cJSON *merges = bpe_merges(m, &ids);
	sy_strmap_free(&ids);
	if (merges)
		cJSON_AddItemToObject(model, "merges", merges);
	return root;
}

enum sy_status spm_to_tokenizer_json(const void *data, size_t len, const char *name,
                                     const struct spm_options *o, struct sy_error *err, char **out)
{
	*out = NULL;
	struct spm_model m;
	enum sy_status s = parse_model(data, len, name, err, &m);
	if (s == SY_OK && o && o->fairseq)
		s = fairseq_remap(&m, name, err);
	cJSON *doc = s == SY_OK ? to_json(&m, o) : NULL;
	if (s == SY_OK && !(*out = doc ? cJSON_PrintUnformatted(doc) : NULL))
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	cJSON_Delete(doc);
	free(m.pieces);
	return s;
}

char *spm_siglip_canonicalize(const char *text, size_t len, size_t *out_len)
{
	/* lowercasing can lengthen a character (U+0130 gives two), at most threefold in bytes */
	char *out = malloc(3 * len + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	bool space = false;
	for (size_t i = 0; i < len;) {
		uint32_t k;
		const uint32_t c = utf8_decode(text + i, &k);
		i += k;
		if (c < 0x80 && c != ' ' && ispunct_ascii(c))
			continue;
		if (uc_is_whitespace(c)) {
			space = n > 0;
			continue;
		}
		if (space) {
			out[n++] = ' ';
			space = false;
		}
		uint32_t low[2];
		const int m = uc_to_lower(c, low);
		for (int j = 0; j < m; j++)
			n += utf8_encode(low[j], out + n);
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}
