/* The WordLevel model (Hugging Face `tokenizers` models::wordlevel): each pre-tokenized piece is
 * one token if the vocabulary has it, else the unk token. It is the simplest model, so this file
 * also holds the helpers the BPE and Unigram models share (models_internal.h): the {"token": id}
 * vocabulary with its reverse mapping, the byte-fallback table and small JSON field readers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/models_internal.h"
#include "text/text_model.h"

/* ---- shared helpers ---- */

static int vocab_entry_cmp(const void *a, const void *b)
{
	const struct tok_vocab_entry *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

enum sy_status tok_vocab_from_json(const cJSON *obj, const char *field, struct sy_error *err,
                                   struct tok_vocab *out)
{
	memset(out, 0, sizeof *out);
	sy_strmap_init(&out->map);
	if (!obj)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: missing", field);
	if (!cJSON_IsObject(obj))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: expected an object {token: id}",
		                    field);
	int n = 0;
	for (const cJSON *it = obj->child; it; it = it->next) {
		double d = it->valuedouble;
		/* cJSON keeps a key with an embedded NUL ("\u0000") cut short; such keys cannot
		 * be told apart from their prefix, so they are looked up under the prefix. */
		if (!it->string || !cJSON_IsNumber(it) || !(d >= 0) || d > INT32_MAX ||
		    d != floor(d)) {
			tok_vocab_free(out);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s[\"%.60s\"]: expected a non-negative integer id",
			                    field, it->string ? it->string : "");
		}
		if (n == INT32_MAX) {
			tok_vocab_free(out);
			return sy_error_set(err, SY_ERR_LIMIT, "%s: too many entries", field);
		}
		if (sy_strmap_put(&out->map, it->string, strlen(it->string), (int32_t)d) != 0) {
			tok_vocab_free(out);
			return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", field);
		}
		n++;
	}
	out->n = n;

	/* The reverse mapping is built from the map's slots (whose keys live in the map's stable
	 * storage), sorted by id; an id held by several tokens keeps one of them. */
	out->by_id = malloc((out->map.n ? out->map.n : 1) * sizeof *out->by_id);
	if (!out->by_id) {
		tok_vocab_free(out);
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", field);
	}
	int k = 0;
	for (size_t i = 0; i < out->map.cap; i++) {
		const struct sy_strmap_slot *s = &out->map.slots[i];
		if (s->key)
			out->by_id[k++] = (struct tok_vocab_entry){s->value, s->key};
	}
	qsort(out->by_id, (size_t)k, sizeof *out->by_id, vocab_entry_cmp);
	int m = 0;
	for (int i = 0; i < k; i++)
		if (m == 0 || out->by_id[m - 1].id != out->by_id[i].id)
			out->by_id[m++] = out->by_id[i];
	out->n_by_id = m;
	return SY_OK;
}

const char *tok_vocab_token(const struct tok_vocab *v, int32_t id)
{
	if (id < 0)
		return NULL;
	/* Vocabularies are almost always dense (ids 0..n-1), so try the direct slot first. */
	if (id < v->n_by_id && v->by_id[id].id == id)
		return v->by_id[id].token;
	int lo = 0, hi = v->n_by_id;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (v->by_id[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n_by_id && v->by_id[lo].id == id ? v->by_id[lo].token : NULL;
}

void tok_vocab_free(struct tok_vocab *v)
{
	sy_strmap_free(&v->map);
	free(v->by_id);
	v->by_id = NULL;
	v->n_by_id = 0;
	v->n = 0;
}

void tok_byte_ids_fill(const struct sy_strmap *map, int32_t ids[256])
{
	char name[8];
	for (int b = 0; b < 256; b++) {
		snprintf(name, sizeof name, "<0x%02X>", b);
		ids[b] = sy_strmap_get(map, name, 6);
	}
}

enum sy_status tok_json_opt_bool(const cJSON *model, const char *name, struct sy_error *err,
                                 int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, name);
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsBool(v))
		return sy_error_set(err, SY_ERR_FORMAT, "model.%s: expected a boolean", name);
	*out = cJSON_IsTrue(v);
	return SY_OK;
}

enum sy_status tok_json_opt_string(const cJSON *model, const char *name, struct sy_error *err,
                                   const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, name);
	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsString(v) || !v->valuestring)
		return sy_error_set(err, SY_ERR_FORMAT, "model.%s: expected a string or null",
		                    name);
	*out = v->valuestring;
	return SY_OK;
}

enum sy_status tok_json_check_type(const cJSON *model, const char *kind, struct sy_error *err)
{
	if (!cJSON_IsObject(model))
		return sy_error_set(err, SY_ERR_FORMAT, "model: expected an object");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(model, "type");
	if (t && !(cJSON_IsString(t) && t->valuestring && strcmp(t->valuestring, kind) == 0))
		return sy_error_set(err, SY_ERR_FORMAT, "model.type: expected \"%s\"", kind);
	return SY_OK;
}

/* ---- WordLevel ---- */

struct wordlevel {
	struct tok_vocab vocab;
	char *unk_token; /* NUL-terminated copy of model.unk_token */
	int32_t unk_id; /* id of unk_token, -1 when the vocabulary lacks it */
};

static enum sy_status wordlevel_tokenize(const void *impl, const char *piece, size_t len,
                                         struct tok_piece_buf *out, struct sy_error *err)
{
	const struct wordlevel *wl = impl;
	/* The pipeline drops empty splits before the model (as Hugging Face does), so an empty
	 * piece yields no token rather than an unk. */
	if (len == 0)
		return SY_OK;
	if (len > UINT32_MAX)
		return sy_error_set(err, SY_ERR_LIMIT, "WordLevel: piece of %zu bytes is too long",
		                    len);
	int32_t id = sy_strmap_get(&wl->vocab.map, piece, len);
	if (id < 0)
		id = wl->unk_id;
	if (id < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "WordLevel: \"%.*s\" is not in the vocabulary and unk_token "
		                    "\"%.60s\" is not either",
		                    len > 60 ? 60 : (int)len, piece, wl->unk_token);
	if (tok_piece_push(out, id, 0, (uint32_t)len) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "WordLevel: out of memory");
	return SY_OK;
}

static int32_t wordlevel_token_to_id(const void *impl, const char *tok, size_t len)
{
	const struct wordlevel *wl = impl;
	return sy_strmap_get(&wl->vocab.map, tok, len);
}

static const char *wordlevel_id_to_token(const void *impl, int32_t id)
{
	const struct wordlevel *wl = impl;
	return tok_vocab_token(&wl->vocab, id);
}

static int wordlevel_vocab_size(const void *impl)
{
	const struct wordlevel *wl = impl;
	return wl->vocab.n;
}

static void wordlevel_free(void *impl)
{
	struct wordlevel *wl = impl;
	if (!wl)
		return;
	tok_vocab_free(&wl->vocab);
	free(wl->unk_token);
	free(wl);
}

size_t tok_vocab_bytes(const struct tok_vocab *v)
{
	return sy_strmap_bytes(&v->map) + (size_t)v->n_by_id * sizeof *v->by_id;
}

static size_t wordlevel_bytes(const void *impl)
{
	return sizeof(struct wordlevel) + tok_vocab_bytes(&((const struct wordlevel *)impl)->vocab);
}

static const struct text_model_vt wordlevel_vt = {
    .kind = "WordLevel",
    .tokenize = wordlevel_tokenize,
    .token_to_id = wordlevel_token_to_id,
    .id_to_token = wordlevel_id_to_token,
    .vocab_size = wordlevel_vocab_size,
    .bytes = wordlevel_bytes,
    .free = wordlevel_free,
};

enum sy_status wordlevel_from_json(const cJSON *model, struct sy_error *err, struct text_model *out)
{
	enum sy_status st = tok_json_check_type(model, "WordLevel", err);
	if (st != SY_OK)
		return st;
	/* Hugging Face requires both fields (unk_token has no default when read from JSON). */
	const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
	if (!unk)
		return sy_error_set(err, SY_ERR_FORMAT, "model.unk_token: missing");
	if (!cJSON_IsString(unk) || !unk->valuestring)
		return sy_error_set(err, SY_ERR_FORMAT, "model.unk_token: expected a string");
	struct wordlevel *wl = calloc(1, sizeof *wl);
	if (!wl)
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	st = tok_vocab_from_json(cJSON_GetObjectItemCaseSensitive(model, "vocab"), "model.vocab",
	                         err, &wl->vocab);
	if (st != SY_OK) {
		free(wl);
		return st;
	}
	wl->unk_token = strdup(unk->valuestring);
	if (!wl->unk_token) {
		wordlevel_free(wl);
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	}
	wl->unk_id = sy_strmap_get(&wl->vocab.map, wl->unk_token, strlen(wl->unk_token));
	out->vt = &wordlevel_vt;
	out->impl = wl;
	return SY_OK;
}
