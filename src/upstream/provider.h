/* Chat providers' wire formats, translated to and from OpenAI's chat completions shape.
 *
 * The routing layer speaks OpenAI's shape only (request bodies, answers, SSE chunks); an upstream
 * of another kind is reached through this translation:
 *
 *   openai     POST {base_url}/chat/completions, Authorization: Bearer KEY (as is);
 *   anthropic  POST {base_url}/messages (base_url up to /v1), x-api-key: KEY and
 *              anthropic-version: 2023-06-01; system messages become `system`, max_tokens is
 *              required (4096 when the client gave none), stop -> stop_sequences, tools ->
 *              input_schema tools, tool calls and tool results as tool_use / tool_result blocks,
 *              images as image blocks (base64 or url source); response_format as a forced tool
 *              whose input comes back as the content; seed and n > 1 are refused;
 *              streams are Anthropic's events (message_start, content_block_*, message_delta,
 *              message_stop, error);
 *   gemini     POST {base_url}/models/MODEL:generateContent (base_url up to /v1beta), or
 *              :streamGenerateContent?alt=sse, x-goog-api-key: KEY; system -> systemInstruction,
 *              assistant -> role model, parameters -> generationConfig, tools ->
 *              functionDeclarations, images as inlineData / fileData parts, n -> candidateCount
 *              (candidates back as choices), seed, response_format -> responseMimeType and
 *              responseSchema (the schema's OpenAPI subset); a stream is one
 *              GenerateContentResponse per event, without a final sentinel.
 *
 * Answers become chat.completion objects (content, tool_calls, finish_reason, usage from
 * input/output tokens or usageMetadata), streams become chat.completion.chunk events ending with
 * a usage chunk and [DONE], and error bodies give their message (all three kinds put it at
 * error.message). */
#ifndef SY_UPSTREAM_PROVIDER_H
#define SY_UPSTREAM_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "upstream/upstream.h"

enum upstream_kind {
	UPSTREAM_KIND_OPENAI,
	UPSTREAM_KIND_ANTHROPIC,
	UPSTREAM_KIND_GEMINI,
};

/* "openai", "anthropic" or "gemini"; false for anything else. */
bool upstream_kind_parse(const char *s, enum upstream_kind *out);
const char *upstream_kind_name(enum upstream_kind k);

/* Where a chat request goes. The strings are borrowed for the call to provider_chat_start. */
struct provider {
	enum upstream_kind kind;
	const char *base_url; /* up to /v1 (openai, anthropic) or /v1beta (gemini) */
	const char *model; /* the provider's model id */
	const char *api_key; /* or NULL */
	int timeout_ms, ttfb_timeout_ms; /* as upstream_request's */
	size_t stream_window; /* as upstream_request's; used when stream */
};

/* Translates an OpenAI chat completions body (its model and stream fields are replaced by
 * p->model and stream) into the provider's request and starts it. SY_ERR_INVALID_ARG when the
 * body asks what the provider's API cannot say (err names the field: the client's fault, a
 * 400); other errors are the call's. */
enum sy_status provider_chat_start(struct upstream_client *c, const struct provider *p,
                                   const cJSON *openai_body, bool stream, struct sy_error *err,
                                   struct upstream_call **out);

/* The request provider_chat_start sends, without sending it: the URL (url[cap]), the body
 * (malloc'd, the caller frees) and up to two header lines (h1[cap], h2[cap], "" when unused). */
enum sy_status provider_chat_request(const struct provider *p, const cJSON *openai_body,
                                     bool stream, struct sy_error *err, char *url, size_t cap,
                                     char **body, char *h1, char *h2, size_t hcap);

/* A provider's 2xx chat answer as an OpenAI chat.completion object (the caller deletes it), or
 * NULL when the body is not an answer of that kind. */
cJSON *provider_chat_answer(enum upstream_kind kind, const char *body, size_t len);
/* The text of an OpenAI-shaped answer's first choice (choices[0].message.content), or NULL when
 * it has none (doc may be NULL). */
const char *provider_answer_text(const cJSON *doc);

/* The message of a provider's error body (error.message, with Gemini's error.status in front),
 * or "" when it has none. */
void provider_error_message(const char *body, size_t len, char *msg, size_t cap);

/* A provider's SSE stream turned into OpenAI's chunks as it arrives. */
struct provider_stream;

struct provider_stream *provider_stream_create(enum upstream_kind kind, const char *model);
void provider_stream_free(struct provider_stream *ps);
/* Takes the next raw bytes of the provider's stream and appends the OpenAI SSE events they
 * complete to out. */
void provider_stream_feed(struct provider_stream *ps, const char *data, size_t len,
                          struct sbuf *out);
/* The provider's stream ended: returns whether it ended properly (Anthropic: message_stop;
 * Gemini: a finishReason was seen) and then appends the last chunk, the usage chunk and
 * "data: [DONE]" to out. On false, *why says what went wrong (an error event's message, or
 * that it stopped early). Once only. */
bool provider_stream_end(struct provider_stream *ps, struct sbuf *out, char *why, size_t cap);
/* Tokens the stream reported so far (0 when none). */
void provider_stream_usage(const struct provider_stream *ps, long *in, long *out);

#endif
