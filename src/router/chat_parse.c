/* The parse stage of a chat request (chat_internal.h): checks the OpenAI body field by field
 * (a 400 names the field), and reads the text signals the policies decide on: the last user
 * message, the characters over the conversation and the number of messages. The body itself
 * stays parsed: every other parameter goes to the upstream as the client sent it. */
#include <stdlib.h>
#include <string.h>

#include "router/chat_internal.h"

struct text_buf {
	char *data;
	size_t len, cap;
};

/* Appends the text of a message's content (a string, or the text parts of an array), one
 * newline between parts. */
static void content_text(const cJSON *content, struct text_buf *t)
{
	const char *parts[64];
	int n = 0;
	if (cJSON_IsString(content)) {
		parts[n++] = content->valuestring;
	} else if (cJSON_IsArray(content)) {
		const cJSON *p;
		cJSON_ArrayForEach(p, content)
		{
			const cJSON *txt = cJSON_GetObjectItemCaseSensitive(p, "text");
			if (cJSON_IsString(txt) && n < 64)
				parts[n++] = txt->valuestring;
		}
	}
	for (int i = 0; i < n; i++) {
		size_t m = strlen(parts[i]);
		if (t->len + m + 2 > t->cap) {
			size_t c = (t->cap ? t->cap : 256);
			while (c < t->len + m + 2)
				c *= 2;
			char *b = realloc(t->data, c);
			if (!b)
				return;
			t->data = b;
			t->cap = c;
		}
		if (t->len)
			t->data[t->len++] = '\n';
		memcpy(t->data + t->len, parts[i], m);
		t->len += m;
		t->data[t->len] = '\0';
	}
}

static long utf8_chars(const char *s)
{
	long c = 0;
	for (; *s; s++)
		c += ((unsigned char)*s & 0xC0) != 0x80;
	return c;
}

/* The messages: each {role, content}; fills the text signals. */
static bool parse_messages(struct chat_request *req, struct chat_outcome *o)
{
	struct text_buf last = {0}, all = {0};
	int i = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, req->messages)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
			chat_error_set(o, 400, "INVALID_INPUT",
			               "messages[%d]: expected {role, content}", i);
			goto fail;
		}
		if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) &&
		    !cJSON_IsNull(content)) {
			chat_error_set(o, 400, "INVALID_INPUT",
			               "messages[%d].content: expected string or array of parts",
			               i);
			goto fail;
		}
		content_text(content, &all);
		if (!strcmp(role->valuestring, "user")) {
			last.len = 0;
			if (last.data)
				last.data[0] = '\0';
			content_text(content, &last);
		}
		i++;
	}
	req->last_user = last.data;
	req->chars = all.data ? utf8_chars(all.data) : 0;
	req->n_messages = i;
	free(all.data);
	return true;
fail:
	free(last.data);
	free(all.data);
	return false;
}

bool chat_parse(const char *body, size_t len, struct chat_request *req, struct chat_outcome *o)
{
	req->doc = cJSON_ParseWithLength(body, len);
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(req->doc, "model");
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req->doc, "messages");
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req->doc, "stream");
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(req->doc, "metadata");
	if (!cJSON_IsObject(req->doc)) {
		chat_error_set(o, 400, "INVALID_INPUT", "body: expected a JSON object");
		return false;
	}
	if (!cJSON_IsString(model) || !model->valuestring[0]) {
		chat_error_set(o, 400, "INVALID_INPUT",
		               "model: required string (a route or an upstream)");
		return false;
	}
	if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
		chat_error_set(o, 400, "INVALID_INPUT", "messages: required non-empty array");
		return false;
	}
	if (stream && !cJSON_IsBool(stream)) {
		chat_error_set(o, 400, "INVALID_INPUT", "stream: expected boolean");
		return false;
	}
	if (metadata && !cJSON_IsNull(metadata) && !cJSON_IsObject(metadata)) {
		chat_error_set(o, 400, "INVALID_INPUT", "metadata: expected object");
		return false;
	}
	req->model = model->valuestring;
	req->messages = messages;
	req->metadata = cJSON_IsObject(metadata) ? metadata : NULL;
	req->stream = cJSON_IsTrue(stream);
	return parse_messages(req, o);
}

void chat_request_free(struct chat_request *req)
{
	cJSON_Delete(req->doc);
	free(req->last_user);
	req->doc = NULL;
	req->last_user = NULL;
}
