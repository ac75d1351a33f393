/* Chat providers' wire formats (see provider.h): requests out of OpenAI's shape into
 * Anthropic's Messages API and Gemini's generateContent, and answers, streams and errors back.
 * What travels: text (string or text parts), images (base64 data URLs inline, http(s) URLs by
 * reference), system prompts, max_tokens, temperature, top_p, stop, tools and tool calls, n,
 * seed and response_format. What a provider cannot take (Anthropic's seed and n > 1, a schema
 * keyword outside Gemini's subset, a malformed data URL) is refused with SY_ERR_INVALID_ARG
 * and a message naming the field, never dropped; parameters without any equivalent
 * (logprobs, penalties, ...) are dropped. */
#include "upstream/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/json_write.h"

#define ANTHROPIC_VERSION "2023-06-01"
#define ANTHROPIC_DEFAULT_MAX_TOKENS 4096

bool upstream_kind_parse(const char *s, enum upstream_kind *out)
{
	static const char *const names[] = {"openai", "anthropic", "gemini"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum upstream_kind)i;
			return true;
		}
	return false;
}

const char *upstream_kind_name(enum upstream_kind k)
{
	return k == UPSTREAM_KIND_ANTHROPIC ? "anthropic"
	       : k == UPSTREAM_KIND_GEMINI  ? "gemini"
	                                    : "openai";
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An OpenAI tool's function as both providers declare it: {name, description?}; each adds its
 * own schema key. NULL for a function without a name (skipped). */
static cJSON *tool_decl(const cJSON *fn)
{
	if (!str_of(fn, "name"))
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", str_of(fn, "name"));
	if (str_of(fn, "description"))
		cJSON_AddStringToObject(o, "description", str_of(fn, "description"));
	return o;
}

/* The text of an OpenAI message content: a string, or the text of its text parts. */
static void content_text(const cJSON *content, struct sbuf *b)
{
	if (cJSON_IsString(content)) {
		sbuf_puts(b, content->valuestring);
		return;
	}
	const cJSON *part;
	cJSON_ArrayForEach(part, content)
	{
		const char *t = str_of(part, "text");
		if (t)
			sbuf_puts(b, t);
	}
}

static cJSON *text_of(const cJSON *content)
{
	struct sbuf b = {0};
	content_text(content, &b);
	cJSON *s = cJSON_CreateString(b.data ? b.data : "");
	sbuf_free(&b);
	return s;
}

/* A JSON text (tool call arguments) parsed, or an empty object when it is not JSON. */
static cJSON *parse_args(const char *s)
{
	cJSON *v = s ? cJSON_Parse(s) : NULL;
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		v = cJSON_CreateObject();
	}
	return v;
}

static void copy_num(cJSON *to, const char *to_key, const cJSON *from, const char *from_key)
{
	const cJSON *v = get(from, from_key);
	if (cJSON_IsNumber(v))
		cJSON_AddNumberToObject(to, to_key, v->valuedouble);
}

/* stop: a string or an array of strings -> an array (NULL when absent). */
static cJSON *stop_list(const cJSON *req)
{
	const cJSON *stop = get(req, "stop");
	if (cJSON_IsString(stop)) {
		cJSON *a = cJSON_CreateArray();
		cJSON_AddItemToArray(a, cJSON_CreateString(stop->valuestring));
		return a;
	}
	return cJSON_IsArray(stop) ? cJSON_Duplicate(stop, true) : NULL;
}

static const cJSON *max_tokens_of(const cJSON *req)
{
	const cJSON *m = get(req, "max_completion_tokens");
	return cJSON_IsNumber(m) ? m : get(req, "max_tokens");
}

/* ---- what both kinds check: images, n, seed, response_format ---- */

/* The forced tool that carries an Anthropic answer in JSON (response_format): a tool_use block
 * of this name comes back as the message's content, so the name is reserved. */
#define ANTHROPIC_JSON_TOOL "switchyard_json"
/* n (Gemini's candidateCount) at most; the stream translation keeps this many choices. */
#define PROVIDER_MAX_CHOICES 8

#define refuse(err, ...) sy_error_set(err, SY_ERR_INVALID_ARG, __VA_ARGS__)

static bool absent(const cJSON *v)
{
	return !v || cJSON_IsNull(v);
}

/* n: 1 when absent, else a whole number from 1 to PROVIDER_MAX_CHOICES. */
static enum sy_status n_of(const cJSON *req, int *n, struct sy_error *err)
{
	const cJSON *v = get(req, "n");
	*n = 1;
	if (absent(v))
		return SY_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > PROVIDER_MAX_CHOICES ||
	    v->valuedouble != (double)(int)v->valuedouble)
		return refuse(err, "n: expected a whole number from 1 to %d", PROVIDER_MAX_CHOICES);
	*n = (int)v->valuedouble;
	return SY_OK;
}

static bool prefix_ci(const char *s, const char *prefix)
{
	return !strncasecmp(s, prefix, strlen(prefix));
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* "data:TYPE/SUBTYPE[;param...];base64,DATA" with DATA padded base64 (RFC 2397, RFC 4648 4):
 * the media type, lower-cased, in mime[cap] and *data where DATA starts; false when url is not
 * such a URL. */
static bool data_url_parse(const char *url, char *mime, size_t cap, const char **data)
{
	if (!prefix_ci(url, "data:"))
		return false;
	const char *head = url + 5, *comma = strchr(head, ',');
	if (!comma)
		return false;
	const char *semi = memchr(head, ';', (size_t)(comma - head));
	const size_t mlen = semi ? (size_t)(semi - head) : 0;
	if (!semi || mlen == 0 || mlen >= cap || comma - head < 8 ||
	    strncasecmp(comma - 7, ";base64", 7))
		return false;
	const char *slash = memchr(head, '/', mlen);
	if (!slash || slash == head || slash == head + mlen - 1)
		return false;
	for (size_t i = 0; i < mlen; i++) {
		const char c = head[i];
		if (!b64_char(c) && c != '-' && c != '.')
			return false; /* letters, digits, + / - . only */
		mime[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	mime[mlen] = '\0';
	const char *d = comma + 1;
	const size_t n = strlen(d);
	if (n == 0 || n % 4)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!b64_char(d[i]) &&
		    !(d[i] == '=' && i >= n - 2 && (i == n - 1 || d[n - 1] == '=')))
			return false;
	*data = d;
	return true;
}

/* An image URL's media type from its file extension (for Gemini's fileData), or NULL. */
static const char *image_type_of_url(const char *url)
{
	static const char *const ext[][2] = {
	    {"png", "image/png"},   {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},   {"webp", "image/webp"}, {"heic", "image/heic"},
	    {"heif", "image/heif"},
	};
	const size_t end = strcspn(url, "?#");
	const char *dot = NULL;
	for (const char *p = url; p < url + end; p++)
		if (*p == '.')
			dot = p;
		else if (*p == '/')
			dot = NULL;
	if (!dot)
		return NULL;
	const size_t n = (size_t)(url + end - dot - 1);
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
		if (strlen(ext[i][0]) == n && !strncasecmp(dot + 1, ext[i][0], n))
			return ext[i][1];
	return NULL;
}

/* An OpenAI image_url part (messages[mi].content[pj]) as an Anthropic image block or a Gemini
 * part: base64 data URLs inline, http(s) URLs by reference. */
static enum sy_status image_part(enum upstream_kind kind, const cJSON *part, int mi, int pj,
                                 struct sy_error *err, cJSON **out)
{
	*out = NULL;
	const cJSON *iu = get(part, "image_url");
	const char *url = cJSON_IsString(iu) ? iu->valuestring : str_of(iu, "url");
	if (!url || !url[0])
		return refuse(err, "messages[%d].content[%d]: image_url.url is required", mi, pj);
	char mime[64];
	const char *data = NULL;
	const bool anthropic = kind == UPSTREAM_KIND_ANTHROPIC;
	cJSON *o = cJSON_CreateObject();
	if (prefix_ci(url, "data:")) {
		if (!data_url_parse(url, mime, sizeof mime, &data)) {
			cJSON_Delete(o);
			return refuse(
			    err,
			    "messages[%d].content[%d]: image_url.url is not a base64 data URL "
			    "(data:MEDIA_TYPE;base64,DATA)",
			    mi, pj);
		}
		if (anthropic && strcmp(mime, "image/jpeg") && strcmp(mime, "image/png") &&
		    strcmp(mime, "image/gif") && strcmp(mime, "image/webp")) {
			cJSON_Delete(o);
			return refuse(
			    err,
			    "messages[%d].content[%d]: anthropic upstreams take image/jpeg, "
			    "image/png, image/gif or image/webp, not %s",
			    mi, pj, mime);
		}
		if (anthropic) {
			cJSON_AddStringToObject(o, "type", "image");
			cJSON *src = cJSON_AddObjectToObject(o, "source");
			cJSON_AddStringToObject(src, "type", "base64");
			cJSON_AddStringToObject(src, "media_type", mime);
			cJSON_AddStringToObject(src, "data", data);
		} else {
			cJSON *in = cJSON_AddObjectToObject(o, "inlineData");
			cJSON_AddStringToObject(in, "mimeType", mime);
			cJSON_AddStringToObject(in, "data", data);
		}
	} else if (prefix_ci(url, "https://") || prefix_ci(url, "http://")) {
		if (anthropic) {
			cJSON_AddStringToObject(o, "type", "image");
			cJSON *src = cJSON_AddObjectToObject(o, "source");
			cJSON_AddStringToObject(src, "type", "url");
			cJSON_AddStringToObject(src, "url", url);
		} else {
			cJSON *fd = cJSON_AddObjectToObject(o, "fileData");
			if (image_type_of_url(url))
				cJSON_AddStringToObject(fd, "mimeType", image_type_of_url(url));
			cJSON_AddStringToObject(fd, "fileUri", url);
		}
	} else {
		cJSON_Delete(o);
		return refuse(err,
		              "messages[%d].content[%d]: image_url.url must be a data: URL or an "
		              "http(s) URL",
		              mi, pj);
	}
	*out = o;
	return SY_OK;
}

/* Checks the parts of messages[mi]'s content: text (and refusal) parts anywhere, image_url
 * parts in user messages; *has_image says whether there is one. */
static enum sy_status content_check(enum upstream_kind kind, const cJSON *content, int mi,
                                    bool user, struct sy_error *err, bool *has_image)
{
	*has_image = false;
	if (!cJSON_IsArray(content))
		return SY_OK;
	int pj = 0;
	const cJSON *part;
	cJSON_ArrayForEach(part, content)
	{
		const char *t = str_of(part, "type");
		if (t && !strcmp(t, "image_url")) {
			if (!user)
				return refuse(
				    err,
				    "messages[%d].content[%d]: image_url parts are taken in "
				    "user messages only",
				    mi, pj);
			*has_image = true;
		} else if (t && strcmp(t, "text") && strcmp(t, "refusal")) {
			return refuse(err,
			              "messages[%d].content[%d]: %s parts are not supported by %s "
			              "upstreams (text and image_url are)",
			              mi, pj, t, upstream_kind_name(kind));
		}
		pj++;
	}
	return SY_OK;
}

/* What both translations do first with messages[mi]: its role (*role NULL: nothing more to
 * do with it, as for a message without one), its content checked for the provider, and the text
 * of a system or developer message gathered into sys (which then needs nothing more either). */
static enum sy_status message_begin(enum upstream_kind kind, const cJSON *m, int mi,
                                    struct sbuf *sys, struct sy_error *err, const char **role,
                                    bool *has_image)
{
	*role = str_of(m, "role");
	*has_image = false;
	if (!*role)
		return SY_OK;
	enum sy_status st =
	    content_check(kind, get(m, "content"), mi, !strcmp(*role, "user"), err, has_image);
	if (st == SY_OK && (!strcmp(*role, "system") || !strcmp(*role, "developer"))) {
		if (sys->len)
			sbuf_puts(sys, "\n\n");
		content_text(get(m, "content"), sys);
		*role = NULL;
	}
	return st;
}

/* A user message's parts, images among them, as Anthropic content blocks or Gemini parts, in
 * their order (empty text parts left out). */
static enum sy_status parts_of(enum upstream_kind kind, const cJSON *content, int mi,
                               struct sy_error *err, cJSON **out)
{
	cJSON *a = cJSON_CreateArray();
	int pj = 0;
	const cJSON *part;
	cJSON_ArrayForEach(part, content)
	{
		const char *t = str_of(part, "type");
		cJSON *o = NULL;
		if (t && !strcmp(t, "image_url")) {
			enum sy_status s = image_part(kind, part, mi, pj, err, &o);
			if (s != SY_OK) {
				cJSON_Delete(a);
				*out = NULL;
				return s;
			}
		} else if (str_of(part, "text") && str_of(part, "text")[0]) {
			o = cJSON_CreateObject();
			if (kind == UPSTREAM_KIND_ANTHROPIC)
				cJSON_AddStringToObject(o, "type", "text");
			cJSON_AddStringToObject(o, "text", str_of(part, "text"));
		}
		if (o)
			cJSON_AddItemToArray(a, o);
		pj++;
	}
	*out = a;
	return SY_OK;
}

enum response_format { RF_TEXT, RF_JSON_OBJECT, RF_JSON_SCHEMA };

/* response_format: text (or absent), json_object, or json_schema with its json_schema object
 * in *js and its schema (or NULL) in *schema. */
static enum sy_status response_format_of(const cJSON *req, enum response_format *rf,
                                         const cJSON **js, const cJSON **schema,
                                         struct sy_error *err)
{
	const cJSON *v = get(req, "response_format");
	*rf = RF_TEXT;
	*js = *schema = NULL;
	if (absent(v))
		return SY_OK;
	const char *t = str_of(v, "type");
	if (t && !strcmp(t, "text"))
		return SY_OK;
	if (t && !strcmp(t, "json_object")) {
		*rf = RF_JSON_OBJECT;
		return SY_OK;
	}
	if (!t || strcmp(t, "json_schema"))
		return refuse(err,
		              "response_format.type: expected text, json_object or json_schema");
	*js = get(v, "json_schema");
	if (!cJSON_IsObject(*js))
		return refuse(err, "response_format.json_schema: required object");
	*schema = get(*js, "schema");
	if (absent(*schema))
		*schema = NULL;
	else if (!cJSON_IsObject(*schema))
		return refuse(err, "response_format.json_schema.schema: expected an object");
	*rf = RF_JSON_SCHEMA;
	return SY_OK;
}

/* ---- Anthropic Messages ---- */

/* response_format as a forced tool (the Messages API has no JSON mode): its input_schema is the
 * schema (any object for json_object) and its input comes back as the answer's content. */
static enum sy_status anthropic_json(const cJSON *req, cJSON *b, struct sy_error *err)
{
	enum response_format rf;
	const cJSON *js, *schema;
	enum sy_status s = response_format_of(req, &rf, &js, &schema, err);
	if (s != SY_OK || rf == RF_TEXT)
		return s;
	if (cJSON_GetArraySize(get(req, "tools")) > 0)
		return refuse(err, "response_format: anthropic upstreams answer in JSON through a "
		                   "forced tool call, which cannot be combined with tools");
	const cJSON *type = get(schema, "type");
	if (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "object")))
		return refuse(err, "response_format.json_schema.schema.type: anthropic upstreams "
		                   "take an object at the top (a tool's input_schema)");
	cJSON *tools = cJSON_AddArrayToObject(b, "tools");
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "name", ANTHROPIC_JSON_TOOL);
	struct sbuf d = {0};
	sbuf_puts(&d, "Give your whole answer as this tool's input: a JSON object");
	if (str_of(js, "name"))
		sbuf_printf(&d, " (%s)", str_of(js, "name"));
	sbuf_puts(&d, schema ? " matching its schema." : ".");
	if (str_of(js, "description"))
		sbuf_printf(&d, " %s", str_of(js, "description"));
	cJSON_AddStringToObject(t, "description", d.data);
	sbuf_free(&d);
	cJSON *is = schema ? cJSON_Duplicate(schema, true) : cJSON_CreateObject();
	if (!type)
		cJSON_AddStringToObject(is, "type", "object");
	cJSON_AddItemToObject(t, "input_schema", is);
	cJSON_AddItemToArray(tools, t);
	cJSON *choice = cJSON_AddObjectToObject(b, "tool_choice");
	cJSON_AddStringToObject(choice, "type", "tool");
	cJSON_AddStringToObject(choice, "name", ANTHROPIC_JSON_TOOL);
	return SY_OK;
}

static enum sy_status anthropic_body(const cJSON *req, const char *model, bool stream,
                                     struct sy_error *err, cJSON **out_body)
{
	*out_body = NULL;
	int n;
	enum sy_status st = n_of(req, &n, err);
	if (st != SY_OK)
		return st;
	if (n > 1)
		return refuse(err,
		              "n: anthropic upstreams give one choice per request; n must be 1");
	if (!absent(get(req, "seed")))
		return refuse(err,
		              "seed: anthropic upstreams take no seed (the Messages API has none)");
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "model", model);
	const cJSON *mt = max_tokens_of(req);
	cJSON_AddNumberToObject(
	    b, "max_tokens", cJSON_IsNumber(mt) ? mt->valuedouble : ANTHROPIC_DEFAULT_MAX_TOKENS);
	struct sbuf sys = {0};
	cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
	const cJSON *m;
	int mi = -1;
	cJSON_ArrayForEach(m, get(req, "messages"))
	{
		mi++;
		const char *role;
		bool has_image;
		st = message_begin(UPSTREAM_KIND_ANTHROPIC, m, mi, &sys, err, &role, &has_image);
		if (st != SY_OK)
			break;
		if (!role)
			continue;
		cJSON *out = cJSON_CreateObject();
		cJSON_AddItemToArray(msgs, out);
		if (!strcmp(role, "tool")) { /* a tool's result goes back as the user's block */
			cJSON_AddStringToObject(out, "role", "user");
			cJSON *blocks = cJSON_AddArrayToObject(out, "content");
			cJSON *tr = cJSON_CreateObject();
			cJSON_AddStringToObject(tr, "type", "tool_result");
			const char *id = str_of(m, "tool_call_id");
			cJSON_AddStringToObject(tr, "tool_use_id", id ? id : "");
			cJSON_AddItemToObject(tr, "content", text_of(get(m, "content")));
			cJSON_AddItemToArray(blocks, tr);
			continue;
		}
		const bool assistant = !strcmp(role, "assistant");
		cJSON_AddStringToObject(out, "role", assistant ? "assistant" : "user");
		const cJSON *calls = get(m, "tool_calls");
		if (has_image) {
			cJSON *blocks = NULL;
			st = parts_of(UPSTREAM_KIND_ANTHROPIC, get(m, "content"), mi, err, &blocks);
			if (st != SY_OK)
				break;
			cJSON_AddItemToObject(out, "content", blocks);
		} else if (assistant && cJSON_GetArraySize(calls) > 0) {
			cJSON *blocks = cJSON_AddArrayToObject(out, "content");
			cJSON *t = text_of(get(m, "content"));
			if (t->valuestring[0]) {
				cJSON *tb = cJSON_CreateObject();
				cJSON_AddStringToObject(tb, "type", "text");
				cJSON_AddItemToObject(tb, "text", t);
				cJSON_AddItemToArray(blocks, tb);
			} else {
				cJSON_Delete(t);
			}
			const cJSON *c;
			cJSON_ArrayForEach(c, calls)
			{
				const cJSON *fn = get(c, "function");
				cJSON *tu = cJSON_CreateObject();
				cJSON_AddStringToObject(tu, "type", "tool_use");
				cJSON_AddStringToObject(tu, "id",
				                        str_of(c, "id") ? str_of(c, "id") : "");
				cJSON_AddStringToObject(
				    tu, "name", str_of(fn, "name") ? str_of(fn, "name") : "");
				cJSON_AddItemToObject(tu, "input",
				                      parse_args(str_of(fn, "arguments")));
				cJSON_AddItemToArray(blocks, tu);
			}
		} else {
			cJSON_AddItemToObject(out, "content", text_of(get(m, "content")));
		}
	}
	if (st != SY_OK) {
		sbuf_free(&sys);
		cJSON_Delete(b);
		return st;
	}
	if (sys.len)
		cJSON_AddStringToObject(b, "system", sys.data);
	sbuf_free(&sys);
	copy_num(b, "temperature", req, "temperature");
	copy_num(b, "top_p", req, "top_p");
	cJSON *stop = stop_list(req);
	if (stop)
		cJSON_AddItemToObject(b, "stop_sequences", stop);
	const cJSON *tools = get(req, "tools");
	if (cJSON_GetArraySize(tools) > 0) {
		cJSON *out = cJSON_AddArrayToObject(b, "tools");
		const cJSON *t;
		cJSON_ArrayForEach(t, tools)
		{
			const cJSON *fn = get(t, "function");
			cJSON *o = tool_decl(fn);
			if (!o)
				continue;
			const cJSON *params = get(fn, "parameters");
			cJSON *schema = cJSON_IsObject(params) ? cJSON_Duplicate(params, true)
			                                       : cJSON_CreateObject();
			if (!get(schema, "type"))
				cJSON_AddStringToObject(schema, "type", "object");
			cJSON_AddItemToObject(o, "input_schema", schema);
			cJSON_AddItemToArray(out, o);
		}
		const cJSON *tc = get(req, "tool_choice");
		cJSON *choice = NULL;
		if (cJSON_IsString(tc)) {
			const char *v = tc->valuestring;
			choice = cJSON_CreateObject();
			cJSON_AddStringToObject(choice, "type",
			                        !strcmp(v, "required") ? "any"
			                        : !strcmp(v, "none")   ? "none"
			                                               : "auto");
		} else if (str_of(get(tc, "function"), "name")) {
			choice = cJSON_CreateObject();
			cJSON_AddStringToObject(choice, "type", "tool");
			cJSON_AddStringToObject(choice, "name",
			                        str_of(get(tc, "function"), "name"));
		}
		if (choice)
			cJSON_AddItemToObject(b, "tool_choice", choice);
	}
	st = anthropic_json(req, b, err);
	if (st != SY_OK) {
		cJSON_Delete(b);
		return st;
	}
	if (stream)
		cJSON_AddBoolToObject(b, "stream", true);
	*out_body = b;
	return SY_OK;
}

static const char *anthropic_finish(const char *stop_reason)
{
	if (!stop_reason)
		return "stop";
	if (!strcmp(stop_reason, "max_tokens"))
		return "length";
	if (!strcmp(stop_reason, "tool_use"))
		return "tool_calls";
	if (!strcmp(stop_reason, "refusal"))
		return "content_filter";
	return "stop"; /* end_turn, stop_sequence, pause_turn */
}

/* ---- Gemini generateContent ---- */

/* The name of the tool call `id` among the assistant messages before a tool result. */
static const char *tool_name_of(const cJSON *messages, const char *id)
{
	const cJSON *m, *c;
	cJSON_ArrayForEach(m, messages)
	{
		cJSON_ArrayForEach(c, get(m, "tool_calls"))
		{
			const char *cid = str_of(c, "id");
			if (id && cid && !strcmp(cid, id))
				return str_of(get(c, "function"), "name");
		}
	}
	return NULL;
}

static cJSON *text_part(const cJSON *content)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddItemToObject(p, "text", text_of(content));
	return p;
}

/* A JSON Schema (OpenAI's response_format.json_schema.schema) as Gemini's responseSchema, the
 * OpenAPI 3.0 subset of its Schema object: types upper-cased, ["T", "null"] -> T with nullable,
 * additionalProperties: false dropped (Gemini produces the declared properties only), the
 * keywords Gemini has copied; any other keyword is refused, naming where it is (path). */
static enum sy_status gemini_schema(const cJSON *s, const char *path, struct sy_error *err,
                                    cJSON **out)
{
	static const char *const copied[] = {
	    "title",     "description",      "format",        "pattern",       "nullable",
	    "minimum",   "maximum",          "minItems",      "maxItems",      "minLength",
	    "maxLength", "required",         "minProperties", "maxProperties", "default",
	    "example",   "propertyOrdering",
	};
	*out = NULL;
	if (!cJSON_IsObject(s))
		return refuse(err, "%s: expected a schema object", path);
	cJSON *o = cJSON_CreateObject();
	enum sy_status st = SY_OK;
	char sub[300];
	const cJSON *k;
	cJSON_ArrayForEach(k, s)
	{
		const char *key = k->string;
		bool copy = false;
		for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
			copy = copy || !strcmp(key, copied[i]);
		if (copy) {
			cJSON_AddItemToObject(o, key, cJSON_Duplicate(k, true));
		} else if (!strcmp(key, "type")) {
			const char *t = NULL;
			bool nullable = false;
			if (cJSON_IsString(k))
				t = k->valuestring;
			const cJSON *e, *list = cJSON_IsArray(k) ? k : NULL;
			cJSON_ArrayForEach(e, list)
			{
				if (cJSON_IsString(e) && !strcmp(e->valuestring, "null"))
					nullable = true;
				else if (!t && cJSON_IsString(e))
					t = e->valuestring;
				else
					t = "";
			}
			static const char *const types[][2] = {
			    {"string", "STRING"},   {"number", "NUMBER"}, {"integer", "INTEGER"},
			    {"boolean", "BOOLEAN"}, {"array", "ARRAY"},   {"object", "OBJECT"},
			};
			const char *gt = NULL;
			for (size_t i = 0; t && i < sizeof types / sizeof types[0]; i++)
				if (!strcmp(t, types[i][0]))
					gt = types[i][1];
			if (!gt) {
				st = refuse(err,
				            "%s.type: gemini upstreams take one of string, number, "
				            "integer, "
				            "boolean, array, object (or it with \"null\")",
				            path);
				break;
			}
			cJSON_AddStringToObject(o, "type", gt);
			if (nullable)
				cJSON_AddBoolToObject(o, "nullable", true);
		} else if (!strcmp(key, "enum")) {
			const cJSON *e;
			cJSON_ArrayForEach(e, k)
			{
				if (!cJSON_IsString(e))
					st = refuse(
					    err,
					    "%s.enum: gemini upstreams take string values only",
					    path);
			}
			if (st != SY_OK || !cJSON_IsArray(k)) {
				st = st != SY_OK ? st
				                 : refuse(err, "%s.enum: expected an array", path);
				break;
			}
			cJSON_AddItemToObject(o, "enum", cJSON_Duplicate(k, true));
		} else if (!strcmp(key, "properties")) {
			cJSON *props = cJSON_AddObjectToObject(o, "properties");
			const cJSON *p;
			cJSON_ArrayForEach(p, k)
			{
				snprintf(sub, sizeof sub, "%s.properties.%s", path, p->string);
				cJSON *ps = NULL;
				st = gemini_schema(p, sub, err, &ps);
				if (st != SY_OK)
					break;
				cJSON_AddItemToObject(props, p->string, ps);
			}
		} else if (!strcmp(key, "items")) {
			snprintf(sub, sizeof sub, "%s.items", path);
			cJSON *is = NULL;
			st = gemini_schema(k, sub, err, &is);
			if (st == SY_OK)
				cJSON_AddItemToObject(o, "items", is);
		} else if (!strcmp(key, "anyOf")) {
			cJSON *any = cJSON_AddArrayToObject(o, "anyOf");
			int i = 0;
			const cJSON *a;
			cJSON_ArrayForEach(a, k)
			{
				snprintf(sub, sizeof sub, "%s.anyOf[%d]", path, i++);
				cJSON *as = NULL;
				st = gemini_schema(a, sub, err, &as);
				if (st != SY_OK)
					break;
				cJSON_AddItemToArray(any, as);
			}
		} else if (!strcmp(key, "additionalProperties") && cJSON_IsFalse(k)) {
			/* Gemini produces the declared properties only */
		} else if (!strcmp(key, "$schema") || !strcmp(key, "$comment")) {
			/* annotations */
		} else {
			st = refuse(
			    err,
			    "%s: keyword %s is not supported by gemini upstreams' responseSchema",
			    path, key);
		}
		if (st != SY_OK)
			break;
	}
	if (st != SY_OK) {
		cJSON_Delete(o);
		return st;
	}
	*out = o;
	return SY_OK;
}

static enum sy_status gemini_body(const cJSON *req, struct sy_error *err, cJSON **out_body)
{
	*out_body = NULL;
	int n;
	enum sy_status st = n_of(req, &n, err);
	if (st != SY_OK)
		return st;
	const cJSON *seed = get(req, "seed");
	if (!absent(seed) && (!cJSON_IsNumber(seed) || seed->valuedouble < -2147483648.0 ||
	                      seed->valuedouble > 2147483647.0 ||
	                      seed->valuedouble != (double)(long long)seed->valuedouble))
		return refuse(err, "seed: expected a whole number (gemini takes a 32-bit seed)");
	enum response_format rf;
	const cJSON *js, *schema;
	st = response_format_of(req, &rf, &js, &schema, err);
	if (st != SY_OK)
		return st;
	cJSON *rschema = NULL;
	if (schema) {
		st = gemini_schema(schema, "response_format.json_schema.schema", err, &rschema);
		if (st != SY_OK)
			return st;
	}
	cJSON *b = cJSON_CreateObject();
	struct sbuf sys = {0};
	cJSON *contents = cJSON_AddArrayToObject(b, "contents");
	const cJSON *messages = get(req, "messages"), *m;
	int mi = -1;
	cJSON_ArrayForEach(m, messages)
	{
		mi++;
		const char *role;
		bool has_image;
		st = message_begin(UPSTREAM_KIND_GEMINI, m, mi, &sys, err, &role, &has_image);
		if (st != SY_OK)
			break;
		if (!role)
			continue;
		cJSON *out = cJSON_CreateObject();
		cJSON_AddItemToArray(contents, out);
		const bool assistant = !strcmp(role, "assistant");
		cJSON_AddStringToObject(out, "role", assistant ? "model" : "user");
		if (has_image) {
			cJSON *parts = NULL;
			st = parts_of(UPSTREAM_KIND_GEMINI, get(m, "content"), mi, err, &parts);
			if (st != SY_OK)
				break;
			cJSON_AddItemToObject(out, "parts", parts);
			continue;
		}
		cJSON *parts = cJSON_AddArrayToObject(out, "parts");
		if (!strcmp(role, "tool")) {
			cJSON *fr = cJSON_CreateObject();
			const char *name = tool_name_of(messages, str_of(m, "tool_call_id"));
			cJSON_AddStringToObject(fr, "name", name ? name : "tool");
			cJSON *resp = cJSON_AddObjectToObject(fr, "response");
			cJSON_AddItemToObject(resp, "content", text_of(get(m, "content")));
			cJSON *p = cJSON_CreateObject();
			cJSON_AddItemToObject(p, "functionResponse", fr);
			cJSON_AddItemToArray(parts, p);
		} else {
			const cJSON *calls = get(m, "tool_calls");
			cJSON *t = text_part(get(m, "content"));
			if (!cJSON_GetArraySize(calls) || str_of(t, "text")[0])
				cJSON_AddItemToArray(parts, t);
			else
				cJSON_Delete(t);
			const cJSON *c;
			cJSON_ArrayForEach(c, calls)
			{
				const cJSON *fn = get(c, "function");
				cJSON *fc = cJSON_CreateObject();
				cJSON_AddStringToObject(
				    fc, "name", str_of(fn, "name") ? str_of(fn, "name") : "");
				cJSON_AddItemToObject(fc, "args",
				                      parse_args(str_of(fn, "arguments")));
				cJSON *p = cJSON_CreateObject();
				cJSON_AddItemToObject(p, "functionCall", fc);
				cJSON_AddItemToArray(parts, p);
			}
		}
	}
	if (st != SY_OK) {
		sbuf_free(&sys);
		cJSON_Delete(rschema);
		cJSON_Delete(b);
		return st;
	}
	if (sys.len) {
		cJSON *si = cJSON_AddObjectToObject(b, "systemInstruction");
		cJSON *parts = cJSON_AddArrayToObject(si, "parts");
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "text", sys.data);
		cJSON_AddItemToArray(parts, p);
	}
	sbuf_free(&sys);
	cJSON *gc = cJSON_CreateObject();
	copy_num(gc, "temperature", req, "temperature");
	copy_num(gc, "topP", req, "top_p");
	const cJSON *mt = max_tokens_of(req);
	if (cJSON_IsNumber(mt))
		cJSON_AddNumberToObject(gc, "maxOutputTokens", mt->valuedouble);
	cJSON *stop = stop_list(req);
	if (stop)
		cJSON_AddItemToObject(gc, "stopSequences", stop);
	if (n > 1)
		cJSON_AddNumberToObject(gc, "candidateCount", n);
	if (!absent(seed))
		cJSON_AddNumberToObject(gc, "seed", seed->valuedouble);
	if (rf != RF_TEXT)
		cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
	if (rschema)
		cJSON_AddItemToObject(gc, "responseSchema", rschema);
	if (cJSON_GetArraySize(gc) > 0)
		cJSON_AddItemToObject(b, "generationConfig", gc);
	else
		cJSON_Delete(gc);
	const cJSON *tools = get(req, "tools");
	if (cJSON_GetArraySize(tools) > 0) {
		cJSON *tl = cJSON_AddArrayToObject(b, "tools");
		cJSON *wrap = cJSON_CreateObject();
		cJSON *decls = cJSON_AddArrayToObject(wrap, "functionDeclarations");
		cJSON_AddItemToArray(tl, wrap);
		const cJSON *t;
		cJSON_ArrayForEach(t, tools)
		{
			const cJSON *fn = get(t, "function");
			cJSON *o = tool_decl(fn);
			if (!o)
				continue;
			if (cJSON_IsObject(get(fn, "parameters")))
				cJSON_AddItemToObject(o, "parameters",
				                      cJSON_Duplicate(get(fn, "parameters"), true));
			cJSON_AddItemToArray(decls, o);
		}
		const cJSON *tc = get(req, "tool_choice");
		const char *mode = NULL, *only = str_of(get(tc, "function"), "name");
		if (cJSON_IsString(tc))
			mode = !strcmp(tc->valuestring, "required") ? "ANY"
			       : !strcmp(tc->valuestring, "none")   ? "NONE"
			                                            : "AUTO";
		else if (only)
			mode = "ANY";
		if (mode) {
			cJSON *cfg = cJSON_AddObjectToObject(b, "toolConfig");
			cJSON *fcc = cJSON_AddObjectToObject(cfg, "functionCallingConfig");
			cJSON_AddStringToObject(fcc, "mode", mode);
			if (only) {
				cJSON *names = cJSON_AddArrayToObject(fcc, "allowedFunctionNames");
				cJSON_AddItemToArray(names, cJSON_CreateString(only));
			}
		}
	}
	*out_body = b;
	return SY_OK;
}

static const char *gemini_finish(const char *reason, bool tool_calls)
{
	if (tool_calls)
		return "tool_calls";
	if (!reason || !strcmp(reason, "STOP"))
		return "stop";
	if (!strcmp(reason, "MAX_TOKENS"))
		return "length";
	return "content_filter"; /* SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, ... */
}

/* ---- requests ---- */

enum sy_status provider_chat_request(const struct provider *p, const cJSON *openai_body,
                                     bool stream, struct sy_error *err, char *url, size_t cap,
                                     char **body, char *h1, char *h2, size_t hcap)
{
	*body = NULL;
	h1[0] = h2[0] = '\0';
	const char *key = p->api_key && p->api_key[0] ? p->api_key : NULL;
	cJSON *b = NULL;
	enum sy_status s = SY_OK;
	switch (p->kind) {
	case UPSTREAM_KIND_ANTHROPIC:
		snprintf(url, cap, "%s/messages", p->base_url);
		s = anthropic_body(openai_body, p->model, stream, err, &b);
		if (key)
			snprintf(h1, hcap, "x-api-key: %s", key);
		snprintf(h2, hcap, "anthropic-version: %s", ANTHROPIC_VERSION);
		break;
	case UPSTREAM_KIND_GEMINI:
		snprintf(url, cap, "%s/models/%s:%s", p->base_url, p->model,
		         stream ? "streamGenerateContent?alt=sse" : "generateContent");
		s = gemini_body(openai_body, err, &b);
		if (key)
			snprintf(h1, hcap, "x-goog-api-key: %s", key);
		break;
	default:
		snprintf(url, cap, "%s/chat/completions", p->base_url);
		b = cJSON_Duplicate(openai_body, true);
		if (b) {
			cJSON_DeleteItemFromObjectCaseSensitive(b, "model");
			cJSON_AddStringToObject(b, "model", p->model);
			cJSON_DeleteItemFromObjectCaseSensitive(b, "stream");
			cJSON_DeleteItemFromObjectCaseSensitive(b, "stream_options");
			cJSON_AddBoolToObject(b, "stream", stream);
			if (stream) {
				cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
				cJSON_AddBoolToObject(so, "include_usage", true);
			}
		}
		break;
	}
	if (s != SY_OK)
		return s; /* the request cannot be said in the provider's terms (err says why) */
	*body = b ? cJSON_PrintUnformatted(b) : NULL;
	cJSON_Delete(b);
	if (!*body)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return SY_OK;
}

enum sy_status provider_chat_start(struct upstream_client *c, const struct provider *p,
                                   const cJSON *openai_body, bool stream, struct sy_error *err,
                                   struct upstream_call **out)
{
	*out = NULL;
	char url[1200], h1[1100], h2[1100];
	char *body = NULL;
	enum sy_status s = provider_chat_request(p, openai_body, stream, err, url, sizeof url,
	                                         &body, h1, h2, sizeof h1);
	if (s != SY_OK)
		return s;
	struct upstream_request ur = {
	    .url = url,
	    .api_key = p->kind == UPSTREAM_KIND_OPENAI ? p->api_key : NULL,
	    .headers = {h1, h2},
	    .body = body,
	    .body_len = strlen(body),
	    .timeout_ms = p->timeout_ms,
	    .ttfb_timeout_ms = p->ttfb_timeout_ms,
	    .stream_window = stream ? p->stream_window : 0,
	};
	s = upstream_call_start(c, &ur, err, out);
	free(body);
	return s;
}

/* ---- answers ---- */

static cJSON *completion_new(const char *id, const char *model)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", "chat.completion");
	cJSON_AddNumberToObject(o, "created", (double)time(NULL));
	cJSON_AddStringToObject(o, "model", model);
	return o;
}

static void usage_add(cJSON *o, long in, long out)
{
	cJSON *u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "prompt_tokens", (double)in);
	cJSON_AddNumberToObject(u, "completion_tokens", (double)out);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(in + out));
}

static long num_of(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e9
	           ? (long)v->valuedouble
	           : 0;
}

static cJSON *tool_call_new(const char *id, const char *name, const cJSON *args)
{
	cJSON *tc = cJSON_CreateObject();
	cJSON_AddStringToObject(tc, "id", id);
	cJSON_AddStringToObject(tc, "type", "function");
	cJSON *fn = cJSON_AddObjectToObject(tc, "function");
	cJSON_AddStringToObject(fn, "name", name ? name : "");
	char *a = args ? cJSON_PrintUnformatted(args) : NULL;
	cJSON_AddStringToObject(fn, "arguments", a ? a : "{}");
	cJSON_free(a);
	return tc;
}

static void choice_add(cJSON *choices, int index, const char *text, cJSON *tool_calls,
                       const char *finish)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddNumberToObject(c, "index", index);
	cJSON *msg = cJSON_AddObjectToObject(c, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	/* a string even beside tool calls: the routing layer's verifiers read it */
	cJSON_AddStringToObject(msg, "content", text);
	if (tool_calls)
		cJSON_AddItemToObject(msg, "tool_calls", tool_calls);
	cJSON_AddStringToObject(c, "finish_reason", finish);
	cJSON_AddItemToArray(choices, c);
}

static cJSON *anthropic_answer(const cJSON *doc)
{
	const char *type = str_of(doc, "type");
	const cJSON *content = get(doc, "content");
	if (!type || strcmp(type, "message") || !cJSON_IsArray(content))
		return NULL;
	struct sbuf text = {0};
	cJSON *calls = NULL;
	bool json = false;
	const cJSON *blk;
	cJSON_ArrayForEach(blk, content)
	{
		const char *bt = str_of(blk, "type");
		const char *name = str_of(blk, "name");
		if (bt && !strcmp(bt, "text") && str_of(blk, "text"))
			sbuf_puts(&text, str_of(blk, "text"));
		else if (bt && !strcmp(bt, "tool_use") && name &&
		         !strcmp(name, ANTHROPIC_JSON_TOOL)) {
			/* response_format's forced tool: its input is the answer */
			char *j = cJSON_PrintUnformatted(get(blk, "input"));
			text.len = 0;
			sbuf_puts(&text, j ? j : "{}");
			cJSON_free(j);
			json = true;
		} else if (bt && !strcmp(bt, "tool_use")) {
			if (!calls)
				calls = cJSON_CreateArray();
			cJSON_AddItemToArray(
			    calls, tool_call_new(str_of(blk, "id") ? str_of(blk, "id") : "call_0",
			                         str_of(blk, "name"), get(blk, "input")));
		}
	}
	const char *id = str_of(doc, "id"), *model = str_of(doc, "model");
	cJSON *o = completion_new(id ? id : "msg", model ? model : "");
	const char *finish = anthropic_finish(str_of(doc, "stop_reason"));
	choice_add(cJSON_AddArrayToObject(o, "choices"), 0, text.data ? text.data : "", calls,
	           json && !strcmp(finish, "tool_calls") ? "stop" : finish);
	sbuf_free(&text);
	const cJSON *u = get(doc, "usage");
	/* cache reads and writes are input too (priced differently by Anthropic; here at the
	 * upstream's one input price) */
	usage_add(o,
	          num_of(u, "input_tokens") + num_of(u, "cache_creation_input_tokens") +
	              num_of(u, "cache_read_input_tokens"),
	          num_of(u, "output_tokens"));
	return o;
}

/* The text, tool calls (numbered from *n_calls) and finish reason of a Gemini candidate. */
static void gemini_candidate(const cJSON *cand, struct sbuf *text, cJSON **calls, int *n_calls,
                             const char **finish)
{
	const cJSON *part;
	cJSON_ArrayForEach(part, get(get(cand, "content"), "parts"))
	{
		const char *t = str_of(part, "text");
		const cJSON *fc = get(part, "functionCall");
		if (t && !cJSON_IsTrue(get(part, "thought")))
			sbuf_puts(text, t);
		else if (fc) {
			if (!*calls)
				*calls = cJSON_CreateArray();
			char id[32];
			snprintf(id, sizeof id, "call_%d", (*n_calls)++);
			cJSON_AddItemToArray(
			    *calls, tool_call_new(id, str_of(fc, "name"), get(fc, "args")));
		}
	}
	if (str_of(cand, "finishReason"))
		*finish = str_of(cand, "finishReason");
}

/* A candidate's choice index: its "index" (0 when absent), or -1 when out of range. */
static int gemini_index(const cJSON *cand)
{
	const cJSON *v = get(cand, "index");
	if (!v)
		return 0;
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < PROVIDER_MAX_CHOICES
	           ? (int)v->valuedouble
	           : -1;
}

static cJSON *gemini_answer(const cJSON *doc)
{
	if (!cJSON_IsArray(get(doc, "candidates")) && !get(doc, "promptFeedback"))
		return NULL;
	const char *id = str_of(doc, "responseId"), *model = str_of(doc, "modelVersion");
	cJSON *o = completion_new(id ? id : "chatcmpl-gemini", model ? model : "");
	cJSON *choices = cJSON_AddArrayToObject(o, "choices");
	const cJSON *cands = get(doc, "candidates"), *cand;
	int k = 0;
	cJSON_ArrayForEach(cand, cands)
	{
		struct sbuf text = {0};
		cJSON *calls = NULL;
		int n_calls = 0;
		const char *finish = NULL;
		gemini_candidate(cand, &text, &calls, &n_calls, &finish);
		const int index = get(cand, "index") ? gemini_index(cand) : k;
		choice_add(choices, index < 0 ? k : index, text.data ? text.data : "", calls,
		           gemini_finish(finish, calls != NULL));
		sbuf_free(&text);
		k++;
	}
	if (k == 0) /* the prompt was blocked (promptFeedback.blockReason): no candidate */
		choice_add(
		    choices, 0, "", NULL,
		    gemini_finish(get(get(doc, "promptFeedback"), "blockReason") ? "SAFETY" : NULL,
		                  false));
	const cJSON *u = get(doc, "usageMetadata");
	usage_add(o, num_of(u, "promptTokenCount"),
	          num_of(u, "candidatesTokenCount") + num_of(u, "thoughtsTokenCount"));
	return o;
}

cJSON *provider_chat_answer(enum upstream_kind kind, const char *body, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	if (!doc || kind == UPSTREAM_KIND_OPENAI)
		return doc;
	cJSON *o = kind == UPSTREAM_KIND_ANTHROPIC ? anthropic_answer(doc) : gemini_answer(doc);
	cJSON_Delete(doc);
	return o;
}

void provider_error_message(const char *body, size_t len, char *msg, size_t cap)
{
	msg[0] = '\0';
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const cJSON *e = get(doc, "error");
	const char *m = str_of(e, "message");
	const char *status = str_of(e, "status"); /* Gemini */
	const char *type = str_of(e, "type"); /* Anthropic */
	if (m)
		snprintf(msg, cap, "%s%s%s",
		         status ? status
		         : type ? type
		                : "",
		         status || type ? ": " : "", m);
	cJSON_Delete(doc);
}

/* ---- streams ---- */

/* One choice of a stream (Anthropic: one; Gemini: one per candidate, n of them). */
struct stream_choice {
	bool seen; /* a delta or a finish reason came for it */
	bool started; /* its role chunk went out */
	bool finished; /* its finish reason came */
	const char *finish; /* OpenAI finish_reason */
	int n_tools; /* tool calls so far */
};

struct provider_stream {
	enum upstream_kind kind;
	char model[128];
	char id[128];
	struct sbuf line; /* the incomplete line */
	long in, out; /* usage so far */
	struct stream_choice choice[PROVIDER_MAX_CHOICES];
	int n_choices; /* 1 + the highest index seen */
	bool finished; /* message_stop / every candidate's finishReason */
	bool ended; /* provider_stream_end ran */
	int tool_index; /* OpenAI tool_calls index of the current tool_use block, -1 none */
	bool json_block; /* the current block is response_format's forced tool (Anthropic) */
	bool json; /* such a block came: its tool_use stop is a plain stop */
	char error[256]; /* an error event's message */
};

struct provider_stream *provider_stream_create(enum upstream_kind kind, const char *model)
{
	struct provider_stream *ps = calloc(1, sizeof *ps);
	if (!ps)
		return NULL;
	ps->kind = kind;
	snprintf(ps->model, sizeof ps->model, "%s", model ? model : "");
	snprintf(ps->id, sizeof ps->id, "chatcmpl-%s", upstream_kind_name(kind));
	ps->tool_index = -1;
	ps->n_choices = 1;
	for (int i = 0; i < PROVIDER_MAX_CHOICES; i++)
		ps->choice[i].finish = "stop";
	return ps;
}

void provider_stream_free(struct provider_stream *ps)
{
	if (!ps)
		return;
	sbuf_free(&ps->line);
	free(ps);
}

/* One chat.completion.chunk: choice index's delta (taken), finish reason (or NULL), usage when
 * with_usage. */
static void chunk_write(struct provider_stream *ps, int index, cJSON *delta, const char *finish,
                        bool with_usage, struct sbuf *out)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", ps->id);
	cJSON_AddStringToObject(c, "object", "chat.completion.chunk");
	cJSON_AddNumberToObject(c, "created", (double)time(NULL));
	cJSON_AddStringToObject(c, "model", ps->model);
	cJSON *choices = cJSON_AddArrayToObject(c, "choices");
	if (delta) {
		cJSON *ch = cJSON_CreateObject();
		cJSON_AddNumberToObject(ch, "index", index);
		cJSON_AddItemToObject(ch, "delta", delta);
		if (finish)
			cJSON_AddStringToObject(ch, "finish_reason", finish);
		else
			cJSON_AddNullToObject(ch, "finish_reason");
		cJSON_AddItemToArray(choices, ch);
	}
	if (with_usage)
		usage_add(c, ps->in, ps->out);
	char *s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	if (s) {
		sbuf_puts(out, "data: ");
		sbuf_puts(out, s);
		sbuf_puts(out, "\n\n");
	}
	cJSON_free(s);
}

/* A delta for choice k, with the role when it is the choice's first. */
static cJSON *delta_new(struct provider_stream *ps, int k)
{
	cJSON *d = cJSON_CreateObject();
	if (!ps->choice[k].started)
		cJSON_AddStringToObject(d, "role", "assistant");
	ps->choice[k].started = ps->choice[k].seen = true;
	return d;
}

static void text_delta(struct provider_stream *ps, int k, const char *text, struct sbuf *out)
{
	cJSON *d = delta_new(ps, k);
	cJSON_AddStringToObject(d, "content", text);
	chunk_write(ps, k, d, NULL, false, out);
}

/* A tool call's delta: its start (id and name) or more of its arguments. */
static void tool_delta(struct provider_stream *ps, int k, int index, const char *id,
                       const char *name, const char *args, struct sbuf *out)
{
	cJSON *d = delta_new(ps, k);
	cJSON *calls = cJSON_AddArrayToObject(d, "tool_calls");
	cJSON *tc = cJSON_CreateObject();
	cJSON_AddNumberToObject(tc, "index", index);
	if (id) {
		cJSON_AddStringToObject(tc, "id", id);
		cJSON_AddStringToObject(tc, "type", "function");
	}
	cJSON *fn = cJSON_AddObjectToObject(tc, "function");
	if (name)
		cJSON_AddStringToObject(fn, "name", name);
	cJSON_AddStringToObject(fn, "arguments", args ? args : "");
	cJSON_AddItemToArray(calls, tc);
	chunk_write(ps, k, d, NULL, false, out);
}

static void anthropic_event(struct provider_stream *ps, const cJSON *ev, struct sbuf *out)
{
	const char *type = str_of(ev, "type");
	if (!type)
		return;
	if (!strcmp(type, "message_start")) {
		const cJSON *msg = get(ev, "message");
		if (str_of(msg, "id"))
			snprintf(ps->id, sizeof ps->id, "%s", str_of(msg, "id"));
		if (str_of(msg, "model"))
			snprintf(ps->model, sizeof ps->model, "%s", str_of(msg, "model"));
		const cJSON *u = get(msg, "usage");
		ps->in = num_of(u, "input_tokens") + num_of(u, "cache_creation_input_tokens") +
		         num_of(u, "cache_read_input_tokens");
		ps->out = num_of(u, "output_tokens");
	} else if (!strcmp(type, "content_block_start")) {
		const cJSON *cb = get(ev, "content_block");
		const char *bt = str_of(cb, "type");
		const char *name = str_of(cb, "name");
		ps->tool_index = -1;
		ps->json_block =
		    bt && !strcmp(bt, "tool_use") && name && !strcmp(name, ANTHROPIC_JSON_TOOL);
		ps->json = ps->json || ps->json_block;
		if (ps->json_block) {
			/* response_format's forced tool: its input streams as the content */
		} else if (bt && !strcmp(bt, "tool_use")) {
			ps->tool_index = ps->choice[0].n_tools++;
			tool_delta(ps, 0, ps->tool_index,
			           str_of(cb, "id") ? str_of(cb, "id") : "call", name, "", out);
		} else if (bt && !strcmp(bt, "text") && str_of(cb, "text") && str_of(cb, "text")[0])
			text_delta(ps, 0, str_of(cb, "text"), out);
	} else if (!strcmp(type, "content_block_delta")) {
		const cJSON *d = get(ev, "delta");
		const char *dt = str_of(d, "type");
		const char *pj = str_of(d, "partial_json");
		if (dt && !strcmp(dt, "text_delta") && str_of(d, "text"))
			text_delta(ps, 0, str_of(d, "text"), out);
		else if (dt && !strcmp(dt, "input_json_delta") && ps->json_block && pj && pj[0])
			text_delta(ps, 0, pj, out);
		else if (dt && !strcmp(dt, "input_json_delta") && ps->tool_index >= 0)
			tool_delta(ps, 0, ps->tool_index, NULL, NULL, pj, out);
	} else if (!strcmp(type, "message_delta")) {
		const char *f = anthropic_finish(str_of(get(ev, "delta"), "stop_reason"));
		ps->choice[0].finish = ps->json && !strcmp(f, "tool_calls") ? "stop" : f;
		const cJSON *u = get(ev, "usage");
		if (get(u, "output_tokens"))
			ps->out = num_of(u, "output_tokens");
		if (get(u, "input_tokens")) /* newer API versions repeat it here */
			ps->in = num_of(u, "input_tokens") +
			         num_of(u, "cache_creation_input_tokens") +
			         num_of(u, "cache_read_input_tokens");
	} else if (!strcmp(type, "message_stop")) {
		ps->finished = ps->choice[0].finished = true;
	} else if (!strcmp(type, "error")) {
		const cJSON *e = get(ev, "error");
		snprintf(ps->error, sizeof ps->error, "%s: %s",
		         str_of(e, "type") ? str_of(e, "type") : "error",
		         str_of(e, "message") ? str_of(e, "message") : "");
	}
}

static void gemini_event(struct provider_stream *ps, const cJSON *ev, struct sbuf *out)
{
	if (get(ev, "error")) {
		char msg[200];
		char *s = cJSON_PrintUnformatted(ev);
		provider_error_message(s ? s : "", s ? strlen(s) : 0, msg, sizeof msg);
		cJSON_free(s);
		snprintf(ps->error, sizeof ps->error, "%s", msg);
		return;
	}
	if (str_of(ev, "responseId"))
		snprintf(ps->id, sizeof ps->id, "%s", str_of(ev, "responseId"));
	if (str_of(ev, "modelVersion"))
		snprintf(ps->model, sizeof ps->model, "%s", str_of(ev, "modelVersion"));
	const cJSON *cand;
	cJSON_ArrayForEach(cand, get(ev, "candidates"))
	{
		const int k = gemini_index(cand); /* index 0 goes without the field */
		if (k < 0)
			continue;
		struct stream_choice *ch = &ps->choice[k];
		if (k >= ps->n_choices)
			ps->n_choices = k + 1;
		struct sbuf text = {0};
		cJSON *calls = NULL;
		const char *finish = NULL;
		const int first_tool = ch->n_tools;
		gemini_candidate(cand, &text, &calls, &ch->n_tools, &finish);
		if (text.len)
			text_delta(ps, k, text.data, out);
		sbuf_free(&text);
		int t = first_tool;
		const cJSON *c;
		cJSON_ArrayForEach(c, calls)
		{
			const cJSON *fn = get(c, "function");
			tool_delta(ps, k, t++, str_of(c, "id"), str_of(fn, "name"),
			           str_of(fn, "arguments"), out);
		}
		cJSON_Delete(calls);
		if (finish) {
			ch->finish = gemini_finish(finish, ch->n_tools > 0);
			ch->finished = ch->seen = true;
		}
	}
	/* complete when every choice that came has its finish reason */
	ps->finished = false;
	for (int k = 0; k < ps->n_choices; k++) {
		if (ps->choice[k].seen && !ps->choice[k].finished) {
			ps->finished = false;
			break;
		}
		ps->finished = ps->finished || ps->choice[k].finished;
	}
	const cJSON *u = get(ev, "usageMetadata");
	if (u) {
		ps->in = num_of(u, "promptTokenCount");
		ps->out = num_of(u, "candidatesTokenCount") + num_of(u, "thoughtsTokenCount");
	}
}

static void stream_line(struct provider_stream *ps, const char *line, size_t n, struct sbuf *out)
{
	if (n < 5 || memcmp(line, "data:", 5))
		return; /* "event:" lines repeat the data's type; comments; blank lines */
	line += 5, n -= 5;
	while (n && *line == ' ')
		line++, n--;
	cJSON *ev = cJSON_ParseWithLength(line, n);
	if (!ev)
		return;
	if (ps->kind == UPSTREAM_KIND_ANTHROPIC)
		anthropic_event(ps, ev, out);
	else
		gemini_event(ps, ev, out);
	cJSON_Delete(ev);
}

void provider_stream_feed(struct provider_stream *ps, const char *data, size_t len,
                          struct sbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			sbuf_putc(&ps->line, data[i]);
			continue;
		}
		size_t n = ps->line.len;
		if (n && ps->line.data[n - 1] == '\r')
			n--;
		if (n)
			stream_line(ps, ps->line.data, n, out);
		ps->line.len = 0;
	}
}

bool provider_stream_end(struct provider_stream *ps, struct sbuf *out, char *why, size_t cap)
{
	if (ps->ended)
		return ps->finished && !ps->error[0];
	ps->ended = true;
	if (ps->line.len) { /* a last line without its newline */
		stream_line(ps, ps->line.data, ps->line.len, out);
		ps->line.len = 0;
	}
	if (!ps->finished || ps->error[0]) {
		snprintf(why, cap, "%s",
		         ps->error[0] ? ps->error : "it ended before its last event");
		return false;
	}
	for (int k = 0; k < ps->n_choices; k++)
		if (ps->choice[k].seen || k == 0)
			chunk_write(ps, k, cJSON_CreateObject(), ps->choice[k].finish, false, out);
	chunk_write(ps, 0, NULL, NULL, true, out);
	sbuf_puts(out, "data: [DONE]\n\n");
	return true;
}

void provider_stream_usage(const struct provider_stream *ps, long *in, long *out)
{
	*in = ps->in;
	*out = ps->out;
}

const char *provider_answer_text(const cJSON *doc)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "choices"), 0), "message"),
	    "content");
	return cJSON_IsString(c) ? c->valuestring : NULL;
}
