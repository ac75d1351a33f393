/* Chat providers' wire formats (see provider.h): requests out of OpenAI's shape into
 * Anthropic's Messages API and Gemini's generateContent, and answers, streams and errors back.
 * Only what the OpenAI shape can say travels: text (string or text parts), system prompts,
 * max_tokens, temperature, top_p, stop, tools and tool calls; other fields are dropped. */
#include "upstream/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- Anthropic Messages ---- */

static cJSON *anthropic_body(const cJSON *req, const char *model, bool stream)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "model", model);
	const cJSON *mt = max_tokens_of(req);
	cJSON_AddNumberToObject(
	    b, "max_tokens", cJSON_IsNumber(mt) ? mt->valuedouble : ANTHROPIC_DEFAULT_MAX_TOKENS);
	struct sbuf sys = {0};
	cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
	const cJSON *m;
	cJSON_ArrayForEach(m, get(req, "messages"))
	{
		const char *role = str_of(m, "role");
		if (!role)
			continue;
		if (!strcmp(role, "system") || !strcmp(role, "developer")) {
			if (sys.len)
				sbuf_puts(&sys, "\n\n");
			content_text(get(m, "content"), &sys);
			continue;
		}
		cJSON *out = cJSON_CreateObject();
		if (!strcmp(role, "tool")) { /* a tool's result goes back as the user's block */
			cJSON_AddStringToObject(out, "role", "user");
			cJSON *blocks = cJSON_AddArrayToObject(out, "content");
			cJSON *tr = cJSON_CreateObject();
			cJSON_AddStringToObject(tr, "type", "tool_result");
			const char *id = str_of(m, "tool_call_id");
			cJSON_AddStringToObject(tr, "tool_use_id", id ? id : "");
			cJSON_AddItemToObject(tr, "content", text_of(get(m, "content")));
			cJSON_AddItemToArray(blocks, tr);
			cJSON_AddItemToArray(msgs, out);
			continue;
		}
		const bool assistant = !strcmp(role, "assistant");
		cJSON_AddStringToObject(out, "role", assistant ? "assistant" : "user");
		const cJSON *calls = get(m, "tool_calls");
		if (assistant && cJSON_GetArraySize(calls) > 0) {
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
		cJSON_AddItemToArray(msgs, out);
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
	if (stream)
		cJSON_AddBoolToObject(b, "stream", true);
	return b;
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

static cJSON *gemini_body(const cJSON *req)
{
	cJSON *b = cJSON_CreateObject();
	struct sbuf sys = {0};
	cJSON *contents = cJSON_AddArrayToObject(b, "contents");
	const cJSON *messages = get(req, "messages"), *m;
	cJSON_ArrayForEach(m, messages)
	{
		const char *role = str_of(m, "role");
		if (!role)
			continue;
		if (!strcmp(role, "system") || !strcmp(role, "developer")) {
			if (sys.len)
				sbuf_puts(&sys, "\n\n");
			content_text(get(m, "content"), &sys);
			continue;
		}
		cJSON *out = cJSON_CreateObject();
		const bool assistant = !strcmp(role, "assistant");
		cJSON_AddStringToObject(out, "role", assistant ? "model" : "user");
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
		cJSON_AddItemToArray(contents, out);
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
	return b;
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
	cJSON *b;
	switch (p->kind) {
	case UPSTREAM_KIND_ANTHROPIC:
		snprintf(url, cap, "%s/messages", p->base_url);
		b = anthropic_body(openai_body, p->model, stream);
		if (key)
			snprintf(h1, hcap, "x-api-key: %s", key);
		snprintf(h2, hcap, "anthropic-version: %s", ANTHROPIC_VERSION);
		break;
	case UPSTREAM_KIND_GEMINI:
		snprintf(url, cap, "%s/models/%s:%s", p->base_url, p->model,
		         stream ? "streamGenerateContent?alt=sse" : "generateContent");
		b = gemini_body(openai_body);
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

static void choice_add(cJSON *o, const char *text, cJSON *tool_calls, const char *finish)
{
	cJSON *choices = cJSON_AddArrayToObject(o, "choices");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddNumberToObject(c, "index", 0);
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
	const cJSON *blk;
	cJSON_ArrayForEach(blk, content)
	{
		const char *bt = str_of(blk, "type");
		if (bt && !strcmp(bt, "text") && str_of(blk, "text"))
			sbuf_puts(&text, str_of(blk, "text"));
		else if (bt && !strcmp(bt, "tool_use")) {
			if (!calls)
				calls = cJSON_CreateArray();
			cJSON_AddItemToArray(
			    calls, tool_call_new(str_of(blk, "id") ? str_of(blk, "id") : "call_0",
			                         str_of(blk, "name"), get(blk, "input")));
		}
	}
	const char *id = str_of(doc, "id"), *model = str_of(doc, "model");
	cJSON *o = completion_new(id ? id : "msg", model ? model : "");
	choice_add(o, text.data ? text.data : "", calls,
	           anthropic_finish(str_of(doc, "stop_reason")));
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

/* The text, tool calls (numbered from *n_calls) and finish reason of a Gemini response's first
 * candidate. */
static void gemini_candidate(const cJSON *doc, struct sbuf *text, cJSON **calls, int *n_calls,
                             const char **finish)
{
	const cJSON *cand = cJSON_GetArrayItem(get(doc, "candidates"), 0);
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
	else if (!cand && get(get(doc, "promptFeedback"), "blockReason"))
		*finish = "SAFETY";
}

static cJSON *gemini_answer(const cJSON *doc)
{
	if (!cJSON_IsArray(get(doc, "candidates")) && !get(doc, "promptFeedback"))
		return NULL;
	struct sbuf text = {0};
	cJSON *calls = NULL;
	int n_calls = 0;
	const char *finish = NULL;
	gemini_candidate(doc, &text, &calls, &n_calls, &finish);
	const char *id = str_of(doc, "responseId"), *model = str_of(doc, "modelVersion");
	cJSON *o = completion_new(id ? id : "chatcmpl-gemini", model ? model : "");
	choice_add(o, text.data ? text.data : "", calls, gemini_finish(finish, calls != NULL));
	sbuf_free(&text);
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

struct provider_stream {
	enum upstream_kind kind;
	char model[128];
	char id[128];
	struct sbuf line; /* the incomplete line */
	long in, out; /* usage so far */
	bool started; /* the role chunk went out */
	bool finished; /* message_stop / a finishReason */
	bool ended; /* provider_stream_end ran */
	const char *finish; /* OpenAI finish_reason */
	int tool_index; /* OpenAI tool_calls index of the current tool_use block, -1 none */
	int n_tools;
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
	ps->finish = "stop";
	return ps;
}

void provider_stream_free(struct provider_stream *ps)
{
	if (!ps)
		return;
	sbuf_free(&ps->line);
	free(ps);
}

/* One chat.completion.chunk: delta (taken), finish reason (or NULL), usage when with_usage. */
static void chunk_write(struct provider_stream *ps, cJSON *delta, const char *finish,
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
		cJSON_AddNumberToObject(ch, "index", 0);
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

static void text_delta(struct provider_stream *ps, const char *text, struct sbuf *out)
{
	cJSON *d = cJSON_CreateObject();
	if (!ps->started)
		cJSON_AddStringToObject(d, "role", "assistant");
	ps->started = true;
	cJSON_AddStringToObject(d, "content", text);
	chunk_write(ps, d, NULL, false, out);
}

/* A tool call's delta: its start (id and name) or more of its arguments. */
static void tool_delta(struct provider_stream *ps, int index, const char *id, const char *name,
                       const char *args, struct sbuf *out)
{
	cJSON *d = cJSON_CreateObject();
	if (!ps->started)
		cJSON_AddStringToObject(d, "role", "assistant");
	ps->started = true;
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
	chunk_write(ps, d, NULL, false, out);
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
		ps->tool_index = -1;
		if (bt && !strcmp(bt, "tool_use")) {
			ps->tool_index = ps->n_tools++;
			tool_delta(ps, ps->tool_index, str_of(cb, "id") ? str_of(cb, "id") : "call",
			           str_of(cb, "name"), "", out);
		} else if (bt && !strcmp(bt, "text") && str_of(cb, "text") && str_of(cb, "text")[0])
			text_delta(ps, str_of(cb, "text"), out);
	} else if (!strcmp(type, "content_block_delta")) {
		const cJSON *d = get(ev, "delta");
		const char *dt = str_of(d, "type");
		if (dt && !strcmp(dt, "text_delta") && str_of(d, "text"))
			text_delta(ps, str_of(d, "text"), out);
		else if (dt && !strcmp(dt, "input_json_delta") && ps->tool_index >= 0)
			tool_delta(ps, ps->tool_index, NULL, NULL, str_of(d, "partial_json"), out);
	} else if (!strcmp(type, "message_delta")) {
		ps->finish = anthropic_finish(str_of(get(ev, "delta"), "stop_reason"));
		const cJSON *u = get(ev, "usage");
		if (get(u, "output_tokens"))
			ps->out = num_of(u, "output_tokens");
		if (get(u, "input_tokens")) /* newer API versions repeat it here */
			ps->in = num_of(u, "input_tokens") +
			         num_of(u, "cache_creation_input_tokens") +
			         num_of(u, "cache_read_input_tokens");
	} else if (!strcmp(type, "message_stop")) {
		ps->finished = true;
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
	struct sbuf text = {0};
	cJSON *calls = NULL;
	const char *finish = NULL;
	const int first_tool = ps->n_tools;
	gemini_candidate(ev, &text, &calls, &ps->n_tools, &finish);
	if (text.len)
		text_delta(ps, text.data, out);
	sbuf_free(&text);
	int k = first_tool;
	const cJSON *c;
	cJSON_ArrayForEach(c, calls)
	{
		const cJSON *fn = get(c, "function");
		tool_delta(ps, k++, str_of(c, "id"), str_of(fn, "name"), str_of(fn, "arguments"),
		           out);
	}
	cJSON_Delete(calls);
	const cJSON *u = get(ev, "usageMetadata");
	if (u) {
		ps->in = num_of(u, "promptTokenCount");
		ps->out = num_of(u, "candidatesTokenCount") + num_of(u, "thoughtsTokenCount");
	}
	if (finish) {
		ps->finish = gemini_finish(finish, ps->n_tools > 0);
		ps->finished = true;
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
	chunk_write(ps, cJSON_CreateObject(), ps->finish, false, out);
	chunk_write(ps, NULL, NULL, true, out);
	sbuf_puts(out, "data: [DONE]\n\n");
	return true;
}

void provider_stream_usage(const struct provider_stream *ps, long *in, long *out)
{
	*in = ps->in;
	*out = ps->out;
}
