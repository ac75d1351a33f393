/* The upstream client (src/upstream) against a tiny HTTP server on a loopback socket in this
 * process: an answer with its status and Retry-After, a streamed answer read as it arrives, the
 * time-to-first-byte timeout, cancellation of a call that hangs (the server sees the connection
 * close), eight calls at once, and a refused connection. Also run under ThreadSanitizer
 * (`make test-tsan`): the client's own thread and the callers share every call. The providers'
 * wire formats (provider.c): requests translated, answers and errors back, and streams fed one
 * byte at a time so that every event is split across feeds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "upstream/provider.h"
#include "upstream/upstream.h"

static int listen_fd, port;
static atomic_int closed_early; /* connections the client closed before the answer */

/* Answers by path: /ok, /ratelimited, /stream (three pieces 50 ms apart), /flood (64 MB),
 * /hang (nothing for 3 s, watching for the client to go away). */
static void *serve_one(void *arg)
{
	int fd = (int)(long)arg;
	char req[4096];
	ssize_t n = recv(fd, req, sizeof req - 1, 0);
	req[n > 0 ? n : 0] = '\0';
	const char *body = "{\"ok\":true}";
	char out[512];
	if (strstr(req, "POST /ok")) {
		snprintf(out, sizeof out,
		         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		         strlen(body), body);
		send(fd, out, strlen(out), MSG_NOSIGNAL);
	} else if (strstr(req, "POST /ratelimited")) {
		snprintf(out, sizeof out,
		         "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n"
		         "Connection: close\r\n\r\n{}");
		send(fd, out, strlen(out), MSG_NOSIGNAL);
	} else if (strstr(req, "POST /stream")) {
		snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		send(fd, out, strlen(out), MSG_NOSIGNAL);
		for (int i = 0; i < 3; i++) {
			usleep(50000);
			snprintf(out, sizeof out, "data: %d\n\n", i);
			send(fd, out, strlen(out), MSG_NOSIGNAL);
		}
	} else if (strstr(req, "POST /flood")) { /* 64 MB of body, or until the client leaves */
		snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		send(fd, out, strlen(out), MSG_NOSIGNAL);
		static char chunk[65536];
		memset(chunk, 'x', sizeof chunk);
		for (int i = 0; i < 1024; i++)
			if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL) < 0) {
				atomic_fetch_add(&closed_early, 1);
				break;
			}
	} else if (strstr(req, "POST /hang")) {
		for (int i = 0; i < 60; i++) {
			usleep(50000);
			char c;
			if (recv(fd, &c, 1, MSG_DONTWAIT) == 0) {
				atomic_fetch_add(&closed_early, 1);
				break;
			}
		}
	}
	close(fd);
	return NULL;
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		pthread_t t;
		pthread_create(&t, NULL, serve_one, (void *)(long)fd);
		pthread_detach(t);
	}
	return NULL;
}

static void start_server(void)
{
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(listen_fd, (struct sockaddr *)&a, sizeof a);
	socklen_t l = sizeof a;
	getsockname(listen_fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	listen(listen_fd, 64);
	pthread_t t;
	pthread_create(&t, NULL, server_main, NULL);
	pthread_detach(t);
}

static struct upstream_call *start(struct upstream_client *c, const char *path, int timeout,
                                   int ttfb)
{
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	struct upstream_request r = {.url = url,
	                             .api_key = "k",
	                             .body = "{}",
	                             .body_len = 2,
	                             .timeout_ms = timeout,
	                             .ttfb_timeout_ms = ttfb};
	struct upstream_call *call = NULL;
	struct sy_error err = {0};
	CHECKF(upstream_call_start(c, &r, &err, &call) == SY_OK, "%s", err.msg);
	return call;
}

static void test_calls(void)
{
	struct upstream_client *c = NULL;
	struct sy_error err = {0};
	CHECK(upstream_client_create(&err, &c) == SY_OK);
	struct upstream_result res;
	/* a plain answer */
	struct upstream_call *call = start(c, "/ok", 5000, 0);
	CHECK(upstream_call_wait(call, -1) == UPSTREAM_DONE);
	upstream_call_result(call, &res);
	CHECK_EQ_INT(res.http_status, 200);
	CHECK(res.body_len == 11 && !memcmp(res.body, "{\"ok\":true}", 11));
	upstream_call_free(call);
	/* an upstream sending without end is cut off at the per-call limit (issue 23.10): the
	 * call fails saying so, holding no more than the limit */
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/flood", port);
	struct upstream_request fr = {
	    .url = url, .body = "{}", .body_len = 2, .max_response_bytes = 1 << 20};
	CHECK(upstream_call_start(c, &fr, &err, &call) == SY_OK);
	CHECK(upstream_call_wait(call, -1) == UPSTREAM_FAILED);
	upstream_call_result(call, &res);
	CHECKF(strstr(res.error, "1048576 bytes") != NULL, "%s", res.error);
	CHECK(res.body_len <= 1 << 20);
	upstream_call_free(call);
	/* a reader that falls behind pauses the transfer (a stream window of 64 KB): the bytes held
	 * stay near the window, then reading on takes all 64 MB (issue 23.10) */
	struct upstream_request wr = {.url = url,
	                              .body = "{}",
	                              .body_len = 2,
	                              .max_response_bytes = (size_t)128 << 20,
	                              .stream_window = 64 << 10};
	CHECK(upstream_call_start(c, &wr, &err, &call) == SY_OK);
	usleep(400 * 1000);
	const char *d;
	size_t got = 0, taken = 0;
	upstream_call_wait_data(call, 0, 0, &d, &got);
	CHECKF(got <= (192u << 10), "held %zu bytes while the reader slept", got);
	enum upstream_state ws;
	do {
		ws = upstream_call_wait_data(call, taken, 2000, &d, &got);
		taken = got;
	} while (ws == UPSTREAM_RUNNING);
	CHECKF(ws == UPSTREAM_DONE && got == (size_t)64 << 20, "state %d, %zu bytes", (int)ws, got);
	upstream_call_free(call);
	/* status and Retry-After */
	call = start(c, "/ratelimited", 5000, 0);
	CHECK(upstream_call_wait(call, -1) == UPSTREAM_DONE);
	upstream_call_result(call, &res);
	CHECK_EQ_INT(res.http_status, 429);
	CHECK_EQ_INT(res.retry_after_s, 7);
	upstream_call_free(call);
	/* a stream, read as it comes: the status is known before the body ends */
	call = start(c, "/stream", 5000, 0);
	const char *data;
	size_t len, have = 0;
	int pieces = 0;
	enum upstream_state st;
	while ((st = upstream_call_wait_data(call, have, 2000, &data, &len)) == UPSTREAM_RUNNING ||
	       len > have) {
		if (len > have) {
			pieces++;
			have = len;
			upstream_call_result(call, &res);
			CHECK_EQ_INT(res.http_status, 200);
		}
		if (st != UPSTREAM_RUNNING)
			break;
	}
	CHECK(pieces >= 2);
	CHECK(have == strlen("data: 0\n\ndata: 1\n\ndata: 2\n\n"));
	upstream_call_free(call);
	/* the time-to-first-byte limit */
	call = start(c, "/hang", 10000, 200);
	CHECK(upstream_call_wait(call, -1) == UPSTREAM_FAILED);
	upstream_call_result(call, &res);
	CHECKF(strstr(res.error, "time-to-first-token") != NULL, "%s", res.error);
	CHECK(res.total_ms < 2000);
	upstream_call_free(call);
	/* cancelling a call that hangs closes its connection */
	int before = atomic_load(&closed_early);
	call = start(c, "/hang", 10000, 0);
	usleep(100000);
	upstream_call_cancel(call);
	CHECK(upstream_call_wait(call, 2000) == UPSTREAM_FAILED);
	upstream_call_result(call, &res);
	CHECK_STREQ(res.error, "cancelled");
	upstream_call_free(call);
	for (int i = 0; i < 40 && atomic_load(&closed_early) == before; i++)
		usleep(50000);
	CHECK(atomic_load(&closed_early) > before);
	CHECK(upstream_client_cancelled(c) >= 1);
	/* eight at once */
	struct upstream_call *many[8];
	for (int i = 0; i < 8; i++)
		many[i] = start(c, i % 2 ? "/ok" : "/stream", 5000, 0);
	for (int i = 0; i < 8; i++) {
		CHECK(upstream_call_wait(many[i], -1) == UPSTREAM_DONE);
		upstream_call_result(many[i], &res);
		CHECK_EQ_INT(res.http_status, 200);
		upstream_call_free(many[i]);
	}
	/* nobody listening */
	struct upstream_request r = {
	    .url = "http://127.0.0.1:1/x", .body = "{}", .body_len = 2, .timeout_ms = 2000};
	CHECK(upstream_call_start(c, &r, &err, &call) == SY_OK);
	CHECK(upstream_call_wait(call, -1) == UPSTREAM_FAILED);
	upstream_call_result(call, &res);
	CHECK(res.http_status == 0 && res.error[0]);
	upstream_call_free(call);
	/* a call still running when the client goes away */
	call = start(c, "/hang", 10000, 0);
	upstream_call_free(call);
	upstream_client_destroy(c);
}

static cJSON *request_of(const struct provider *p, const char *openai, bool stream, char *url,
                         char *h1, char *h2)
{
	cJSON *in = cJSON_Parse(openai);
	char *body = NULL;
	struct sy_error err = {0};
	CHECK(provider_chat_request(p, in, stream, &err, url, 512, &body, h1, h2, 256) == SY_OK);
	cJSON *out = cJSON_Parse(body);
	free(body);
	cJSON_Delete(in);
	return out;
}

static void test_provider_requests(void)
{
	const char *req = "{\"model\":\"route\",\"messages\":[{\"role\":\"system\",\"content\":"
	                  "\"S\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	                  "\"U\"}]},{\"role\":\"assistant\",\"content\":\"A\"}],\"max_tokens\":9,"
	                  "\"stop\":[\"x\"],\"temperature\":0.5,\"metadata\":{\"k\":1}}";
	char url[512], h1[256], h2[256];
	struct provider a = {UPSTREAM_KIND_ANTHROPIC, "http://h/v1", "claude-x", "KEY", 0, 0, 0};
	cJSON *b = request_of(&a, req, true, url, h1, h2);
	char *s = cJSON_PrintUnformatted(b);
	CHECK_STREQ(url, "http://h/v1/messages");
	CHECK_STREQ(h1, "x-api-key: KEY");
	CHECK_STREQ(h2, "anthropic-version: 2023-06-01");
	CHECK_STREQ(s, "{\"model\":\"claude-x\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
	               "\"content\":\"U\"},{\"role\":\"assistant\",\"content\":\"A\"}],\"system\":"
	               "\"S\",\"temperature\":0.5,\"stop_sequences\":[\"x\"],\"stream\":true}");
	cJSON_free(s);
	cJSON_Delete(b);
	struct provider g = {UPSTREAM_KIND_GEMINI, "http://h/v1beta", "gem-x", "KEY", 0, 0, 0};
	b = request_of(&g, req, true, url, h1, h2);
	s = cJSON_PrintUnformatted(b);
	CHECK_STREQ(url, "http://h/v1beta/models/gem-x:streamGenerateContent?alt=sse");
	CHECK_STREQ(h1, "x-goog-api-key: KEY");
	CHECK_STREQ(h2, "");
	CHECK_STREQ(s, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"U\"}]},{\"role\":"
	               "\"model\",\"parts\":[{\"text\":\"A\"}]}],\"systemInstruction\":{\"parts\":"
	               "[{\"text\":\"S\"}]},\"generationConfig\":{\"temperature\":0.5,"
	               "\"maxOutputTokens\":9,\"stopSequences\":[\"x\"]}}");
	cJSON_free(s);
	cJSON_Delete(b);
	/* no key: no key header */
	g.api_key = NULL;
	b = request_of(&g, req, false, url, h1, h2);
	CHECK_STREQ(url, "http://h/v1beta/models/gem-x:generateContent");
	CHECK_STREQ(h1, "");
	cJSON_Delete(b);
}

static void test_provider_answers(void)
{
	const char *ant =
	    "{\"id\":\"m1\",\"type\":\"message\",\"model\":\"c\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"hi\"}],\"stop_reason\":\"max_tokens\",\"usage\":{"
	    "\"input_tokens\":5,\"output_tokens\":2,\"cache_read_input_tokens\":1}}";
	cJSON *o = provider_chat_answer(UPSTREAM_KIND_ANTHROPIC, ant, strlen(ant));
	CHECK(o != NULL);
	const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
	CHECK_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring,
	            "hi");
	CHECK_STREQ(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "length");
	CHECK_EQ_INT(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "prompt_tokens")->valueint, 6);
	cJSON_Delete(o);
	const char *gem = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"text\":"
	                  "\"b\"}]},\"finishReason\":\"SAFETY\"}],\"usageMetadata\":{"
	                  "\"promptTokenCount\":3,\"candidatesTokenCount\":4}}";
	o = provider_chat_answer(UPSTREAM_KIND_GEMINI, gem, strlen(gem));
	ch = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
	CHECK_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring,
	            "ab");
	CHECK_STREQ(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "content_filter");
	CHECK_EQ_INT(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "completion_tokens")->valueint, 4);
	cJSON_Delete(o);
	/* not an answer of that kind */
	CHECK(provider_chat_answer(UPSTREAM_KIND_ANTHROPIC, gem, strlen(gem)) == NULL);
	CHECK(provider_chat_answer(UPSTREAM_KIND_GEMINI, "<html>", 6) == NULL);
	char msg[128];
	const char *e = "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":"
	                "\"RESOURCE_EXHAUSTED\"}}";
	provider_error_message(e, strlen(e), msg, sizeof msg);
	CHECK_STREQ(msg, "RESOURCE_EXHAUSTED: quota");
	provider_error_message("nope", 4, msg, sizeof msg);
	CHECK_STREQ(msg, "");
}

/* Feeds a stream one byte at a time; returns the translated text's content and the end. */
static bool feed_bytewise(enum upstream_kind k, const char *raw, struct sbuf *content, long *in,
                          long *out_tokens, char *why)
{
	struct provider_stream *ps = provider_stream_create(k, "m");
	struct sbuf out = {0};
	for (size_t i = 0; raw[i]; i++)
		provider_stream_feed(ps, raw + i, 1, &out);
	bool ok = provider_stream_end(ps, &out, why, 128);
	provider_stream_usage(ps, in, out_tokens);
	/* collect the content deltas */
	for (const char *p = out.data; p && (p = strstr(p, "data: ")); p += 6) {
		const char *nl = strchr(p, '\n');
		cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(nl - p - 6));
		const cJSON *d = cJSON_GetObjectItem(
		    cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "choices"), 0), "delta");
		const cJSON *c = cJSON_GetObjectItem(d, "content");
		if (cJSON_IsString(c))
			sbuf_puts(content, c->valuestring);
		cJSON_Delete(ev);
	}
	if (ok)
		CHECK(out.len > 14 && !strcmp(out.data + out.len - 14, "data: [DONE]\n\n"));
	sbuf_free(&out);
	provider_stream_free(ps);
	return ok;
}

static void test_provider_streams(void)
{
	const char *ant =
	    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
	    "\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\r\n\r\n"
	    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"text\",\"text\":\"\"}}\n\n"
	    "data: "
	    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	    "\"text\":\"Hel\"}}\n\n"
	    "data: "
	    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
	    "\"text\":\"lo\"}}\n\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{"
	    "\"output_tokens\":3}}\n\n";
	struct sbuf content = {0};
	long in = 0, out = 0;
	char why[128] = "";
	/* without message_stop it did not end properly */
	CHECK(!feed_bytewise(UPSTREAM_KIND_ANTHROPIC, ant, &content, &in, &out, why));
	CHECK_STREQ(why, "it ended before its last event");
	content.len = 0;
	char full[2048];
	snprintf(full, sizeof full, "%sdata: {\"type\":\"message_stop\"}\n\n", ant);
	CHECK(feed_bytewise(UPSTREAM_KIND_ANTHROPIC, full, &content, &in, &out, why));
	CHECK_STREQ(content.data, "Hello");
	CHECK(in == 7 && out == 3);
	const char *gem =
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Go\"}]}}]}\r\n\r\n"
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"od\"}]},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,"
	    "\"candidatesTokenCount\":2}}";
	content.len = 0;
	CHECK(feed_bytewise(UPSTREAM_KIND_GEMINI, gem, &content, &in, &out, why));
	CHECK_STREQ(content.data, "Good");
	CHECK(in == 4 && out == 2);
	sbuf_free(&content);
}

/* The request's body as the provider gets it (compact JSON, malloc'd), or NULL with err set. */
static char *body_of(const struct provider *p, const char *openai, struct sy_error *err)
{
	cJSON *in = cJSON_Parse(openai);
	CHECK(in != NULL);
	char url[512], h1[256], h2[256], *body = NULL;
	enum sy_status s = provider_chat_request(p, in, false, err, url, 512, &body, h1, h2, 256);
	cJSON_Delete(in);
	if (s != SY_OK) {
		CHECK(body == NULL && s == SY_ERR_INVALID_ARG);
		return NULL;
	}
	cJSON *b = cJSON_Parse(body);
	free(body);
	char *out = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return out;
}

static void check_body(const struct provider *p, const char *openai, const char *want)
{
	struct sy_error err = {0};
	char *got = body_of(p, openai, &err);
	if (!got)
		fprintf(stderr, "refused: %s\n", err.msg);
	CHECK(got != NULL);
	if (got)
		CHECK_STREQ(got, want);
	cJSON_free(got);
}

/* The request is refused and the message contains `want`. */
static void check_refused(const struct provider *p, const char *openai, const char *want)
{
	struct sy_error err = {0};
	char *got = body_of(p, openai, &err);
	CHECK(got == NULL);
	cJSON_free(got);
	if (!strstr(err.msg, want))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, want);
	CHECK(strstr(err.msg, want) != NULL);
}

static void test_provider_images_and_params(void)
{
	struct provider a = {UPSTREAM_KIND_ANTHROPIC, "http://h/v1", "c", NULL, 0, 0, 0};
	struct provider g = {UPSTREAM_KIND_GEMINI, "http://h/v1beta", "g", NULL, 0, 0, 0};
	const char *img =
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"what?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:Image/PNG;base64,iVBORw0KGgo=\"}},{\"type\":\"image_url\","
	    "\"image_url\":{\"url\":\"https://x.test/a.JPG?s=1\",\"detail\":\"low\"}}]}],"
	    "\"max_tokens\":5}";
	check_body(
	    &a, img,
	    "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"what?\"},{\"type\":\"image\",\"source\":{\"type\":"
	    "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},{\"type\":"
	    "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.test/a.JPG?s=1\"}}]}]}");
	check_body(
	    &g, img,
	    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"what?\"},{\"inlineData\":"
	    "{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},{\"fileData\":{\"mimeType\":"
	    "\"image/jpeg\",\"fileUri\":\"https://x.test/a.JPG?s=1\"}}]}],\"generationConfig\":"
	    "{\"maxOutputTokens\":5}}");
	/* malformed data URLs name the message and part */
	static const char *const bad[] = {
	    "data:image/png;base64,iVBORw0KGgo",
	    "data:image/png,iVBORw0KGgo=",
	    "data:;base64,iVBORw0KGgo=",
	    "data:image/png;base64,iVBO*w0KGgo=",
	    "data:image/png;base64,",
	    "data:image/png;base64,iV=ORw0KGgo=",
	    "data:png;base64,iVBORw0KGgo=",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char req[512];
		snprintf(
		    req, sizeof req,
		    "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image_url\","
		    "\"image_url\":{\"url\":\"%s\"}}]}]}",
		    bad[i]);
		check_refused(&a, req,
		              "messages[1].content[1]: image_url.url is not a base64 data URL");
		check_refused(&g, req,
		              "messages[1].content[1]: image_url.url is not a base64 data URL");
	}
	const char *bmp = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	                  "\"image_url\":{\"url\":\"data:image/bmp;base64,Qk0=\"}}]}]}";
	check_refused(&a, bmp, "messages[0].content[0]: anthropic upstreams take image/jpeg");
	check_body(&g, bmp,
	           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"inlineData\":{\"mimeType\":"
	           "\"image/bmp\",\"data\":\"Qk0=\"}}]}]}");
	check_refused(
	    &g,
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	    "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}",
	    "messages[0].content[0]: image_url.url must be a data: URL or an http(s) URL");
	check_refused(&a,
	              "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
	              "\"input_audio\":{}}]}]}",
	              "messages[0].content[0]: input_audio parts are not supported by anthropic");
	check_refused(&g,
	              "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
	              "\"image_url\":{\"url\":\"https://x/a.png\"}}]}]}",
	              "messages[0].content[0]: image_url parts are taken in user messages only");
	/* seed and n */
	const char *sn =
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],\"seed\":7,\"n\":3}";
	check_body(&g, sn,
	           "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"u\"}]}],"
	           "\"generationConfig\":{\"candidateCount\":3,\"seed\":7}}");
	check_refused(&a, sn, "n: anthropic upstreams give one choice per request");
	check_refused(&a, "{\"messages\":[],\"seed\":7,\"n\":1}",
	              "seed: anthropic upstreams take no seed");
	check_body(&a, "{\"messages\":[],\"seed\":null,\"n\":1,\"max_tokens\":1}",
	           "{\"model\":\"c\",\"max_tokens\":1,\"messages\":[]}");
	check_refused(&g, "{\"messages\":[],\"n\":0}", "n: expected a whole number from 1 to 8");
	check_refused(&g, "{\"messages\":[],\"n\":9}", "n: expected a whole number from 1 to 8");
	check_refused(&g, "{\"messages\":[],\"seed\":1.5}", "seed: expected a whole number");
	/* response_format */
	const char *jo = "{\"messages\":[],\"max_tokens\":1,\"response_format\":{\"type\":"
	                 "\"json_object\"}}";
	check_body(&g, jo,
	           "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":1,"
	           "\"responseMimeType\":\"application/json\"}}");
	check_body(&a, jo,
	           "{\"model\":\"c\",\"max_tokens\":1,\"messages\":[],\"tools\":[{\"name\":"
	           "\"switchyard_json\",\"description\":\"Give your whole answer as this tool's "
	           "input: a JSON object.\",\"input_schema\":{\"type\":\"object\"}}],"
	           "\"tool_choice\":{\"type\":\"tool\",\"name\":\"switchyard_json\"}}");
	const char *js =
	    "{\"messages\":[],\"max_tokens\":1,\"response_format\":{\"type\":\"json_schema\","
	    "\"json_schema\":{\"name\":\"city\",\"strict\":true,\"schema\":{\"type\":\"object\","
	    "\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"d\"},\"pop\":{"
	    "\"type\":"
	    "[\"integer\",\"null\"]},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
	    "\"enum\":[\"a\",\"b\"]}}},\"required\":[\"name\",\"pop\",\"tags\"],"
	    "\"additionalProperties\":false}}}}";
	check_body(
	    &g, js,
	    "{\"contents\":[],\"generationConfig\":{\"maxOutputTokens\":1,"
	    "\"responseMimeType\":\"application/json\",\"responseSchema\":{\"type\":\"OBJECT\","
	    "\"properties\":{\"name\":{\"type\":\"STRING\",\"description\":\"d\"},\"pop\":{"
	    "\"type\":\"INTEGER\",\"nullable\":true},\"tags\":{\"type\":\"ARRAY\",\"items\":{"
	    "\"type\":\"STRING\",\"enum\":[\"a\",\"b\"]}}},\"required\":[\"name\",\"pop\","
	    "\"tags\"]}}}");
	check_body(
	    &a, js,
	    "{\"model\":\"c\",\"max_tokens\":1,\"messages\":[],\"tools\":[{\"name\":"
	    "\"switchyard_json\",\"description\":\"Give your whole answer as this tool's "
	    "input: a JSON object (city) matching its schema.\",\"input_schema\":{\"type\":"
	    "\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"d\"},"
	    "\"pop\":{\"type\":[\"integer\",\"null\"]},\"tags\":{\"type\":\"array\",\"items\":{"
	    "\"type\":\"string\",\"enum\":[\"a\",\"b\"]}}},\"required\":[\"name\",\"pop\","
	    "\"tags\"],\"additionalProperties\":false}}],\"tool_choice\":{\"type\":\"tool\","
	    "\"name\":\"switchyard_json\"}}");
	check_refused(
	    &g,
	    "{\"messages\":[],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	    "{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":"
	    "\"#/$defs/A\"}}}}}}",
	    "response_format.json_schema.schema.properties.a: keyword $ref is not supported "
	    "by gemini upstreams' responseSchema");
	check_refused(
	    &g,
	    "{\"messages\":[],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	    "{\"name\":\"x\",\"schema\":{\"type\":[\"string\",\"integer\"]}}}}",
	    "response_format.json_schema.schema.type: gemini upstreams take one of");
	check_refused(
	    &a,
	    "{\"messages\":[],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	    "{\"name\":\"x\",\"schema\":{\"type\":\"array\"}}}}",
	    "response_format.json_schema.schema.type: anthropic upstreams take an object");
	check_refused(
	    &a,
	    "{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
	    "\"response_format\":{\"type\":\"json_object\"}}",
	    "response_format: anthropic upstreams answer in JSON through a forced tool call");
	check_refused(&g, "{\"messages\":[],\"response_format\":{\"type\":\"xml\"}}",
	              "response_format.type: expected text, json_object or json_schema");
	check_body(&g, "{\"messages\":[],\"response_format\":{\"type\":\"text\"}}",
	           "{\"contents\":[]}");
}

static void test_provider_json_and_choices(void)
{
	/* Anthropic: response_format's forced tool comes back as the content */
	const char *ant =
	    "{\"id\":\"m\",\"type\":\"message\",\"model\":\"c\",\"content\":[{\"type\":"
	    "\"tool_use\",\"id\":\"t\",\"name\":\"switchyard_json\",\"input\":{\"a\":1}}],"
	    "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":1}}";
	cJSON *o = provider_chat_answer(UPSTREAM_KIND_ANTHROPIC, ant, strlen(ant));
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "choices"));
	CHECK_STREQ(
	    s, "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"{\\\"a\\\":1}\"},"
	       "\"finish_reason\":\"stop\"}]");
	cJSON_free(s);
	cJSON_Delete(o);
	/* Gemini: candidates become choices */
	const char *gem =
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
	    "\"STOP\"},{\"content\":{\"parts\":[{\"text\":\"y\"}]},\"finishReason\":"
	    "\"MAX_TOKENS\",\"index\":1}]}";
	o = provider_chat_answer(UPSTREAM_KIND_GEMINI, gem, strlen(gem));
	s = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "choices"));
	CHECK_STREQ(s,
	            "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"x\"},"
	            "\"finish_reason\":\"stop\"},{\"index\":1,\"message\":{\"role\":\"assistant\","
	            "\"content\":\"y\"},\"finish_reason\":\"length\"}]");
	cJSON_free(s);
	cJSON_Delete(o);
	/* streams: the forced tool's input as content; Gemini's candidates as choices */
	const char *as =
	    "data: "
	    "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":"
	    "1}}}\n\ndata: "
	    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"tool_use\",\"id\":\"t\",\"name\":\"switchyard_json\",\"input\":{}}}\n\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"{\\\"a\\\": \"}}\n\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{"
	    "\"output_tokens\":2}}\n\ndata: {\"type\":\"message_stop\"}\n\n";
	struct provider_stream *ps = provider_stream_create(UPSTREAM_KIND_ANTHROPIC, "m");
	struct sbuf out = {0};
	char why[128];
	provider_stream_feed(ps, as, strlen(as), &out);
	CHECK(provider_stream_end(ps, &out, why, sizeof why));
	CHECK(strstr(out.data, "\"content\":\"{\\\"a\\\": \"") != NULL);
	CHECK(strstr(out.data, "\"finish_reason\":\"stop\"") != NULL);
	CHECK(strstr(out.data, "tool_calls") == NULL);
	provider_stream_free(ps);
	out.len = 0;
	const char *gs =
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}},{\"content\":{"
	    "\"parts\":[{\"text\":\"y\"}]},\"index\":1}]}\n\n"
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}]},\"finishReason\":"
	    "\"STOP\"}]}\n\n";
	ps = provider_stream_create(UPSTREAM_KIND_GEMINI, "m");
	provider_stream_feed(ps, gs, strlen(gs), &out);
	CHECK(!provider_stream_end(ps, &out, why, sizeof why)); /* choice 1 never finished */
	provider_stream_free(ps);
	out.len = 0;
	const char *gs2 = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"y\"}]},"
	                  "\"finishReason\":\"STOP\",\"index\":1}]}\n\n";
	ps = provider_stream_create(UPSTREAM_KIND_GEMINI, "m");
	provider_stream_feed(ps, gs, strlen(gs), &out);
	provider_stream_feed(ps, gs2, strlen(gs2), &out);
	CHECK(provider_stream_end(ps, &out, why, sizeof why));
	CHECK(strstr(out.data,
	             "{\"index\":1,\"delta\":{\"role\":\"assistant\",\"content\":\"y\"}") != NULL);
	CHECK(strstr(out.data, "{\"index\":1,\"delta\":{},\"finish_reason\":\"stop\"}") != NULL);
	CHECK(strstr(out.data, "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}") != NULL);
	provider_stream_free(ps);
	sbuf_free(&out);
}

int main(void)
{
	start_server();
	RUN(test_calls);
	RUN(test_provider_requests);
	RUN(test_provider_answers);
	RUN(test_provider_streams);
	RUN(test_provider_images_and_params);
	RUN(test_provider_json_and_choices);
	return harness_summary();
}
