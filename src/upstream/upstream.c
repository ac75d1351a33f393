/* The upstream client (see upstream.h): one thread owns the curl multi handle; callers hand it
 * calls through a queue and wait on the call's condition variable. */
#include "upstream/upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"

struct upstream_call {
	struct upstream_client *client;
	CURL *easy;
	struct curl_slist *headers;
	char *url, *body;
	size_t body_len;
	int timeout_ms, ttfb_timeout_ms;
	size_t max_len; /* response bytes past which the transfer is cut off */
	size_t window; /* stream_window: 0 none */
	/* guarded by client->mu */
	enum upstream_state state;
	char *data; /* response body */
	size_t len, cap;
	size_t taken; /* bytes the reader has taken (wait_data's have, at most len) */
	bool paused; /* the write callback paused the transfer: the reader is behind */
	bool resume; /* the reader caught up: the client thread unpauses the transfer */
	int http_status, retry_after_s;
	char error[256];
	uint64_t t0, t_first, t_end;
	atomic_bool cancel_requested;
	bool in_multi;
	pthread_cond_t cv;
	struct upstream_call *next_new, *next_active;
};

struct upstream_client {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;
	struct upstream_call *incoming; /* started, not yet added */
	struct upstream_call *active; /* in the multi handle */
	bool stop;
	atomic_long n_started, n_cancelled;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct upstream_call *call = ud;
	size_t n = size * nmemb;
	pthread_mutex_lock(&call->client->mu);
	if (call->cancel_requested) {
		pthread_mutex_unlock(&call->client->mu);
		return 0; /* aborts the transfer */
	}
	if (call->window && call->len - call->taken > call->window) {
		call->paused = true; /* curl keeps this data and hands it over again later */
		pthread_mutex_unlock(&call->client->mu);
		return CURL_WRITEFUNC_PAUSE;
	}
	if (call->len + n > call->max_len) {
		snprintf(call->error, sizeof call->error,
		         "the response passed %zu bytes (the limit per call): cut off",
		         call->max_len);
		pthread_mutex_unlock(&call->client->mu);
		return 0; /* aborts the transfer; finish keeps the error above */
	}
	if (call->len + n + 1 > call->cap) {
		size_t cap = call->cap ? call->cap : 4096;
		while (cap < call->len + n + 1)
			cap *= 2;
		char *d = realloc(call->data, cap);
		if (!d) {
			pthread_mutex_unlock(&call->client->mu);
			return 0;
		}
		call->data = d;
		call->cap = cap;
	}
	memcpy(call->data + call->len, ptr, n);
	call->len += n;
	call->data[call->len] = '\0';
	if (!call->t_first)
		call->t_first = sy_now_ns();
	pthread_cond_broadcast(&call->cv);
	pthread_mutex_unlock(&call->client->mu);
	return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct upstream_call *call = ud;
	size_t n = size * nitems;
	if (n > 12 && !strncmp(buf, "HTTP/", 5)) {
		/* the status line: known before the body, which a stream needs */
		const char *sp = memchr(buf, ' ', n);
		if (sp) {
			pthread_mutex_lock(&call->client->mu);
			call->http_status = atoi(sp + 1);
			pthread_mutex_unlock(&call->client->mu);
		}
	}
	if (n > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
		char *end;
		long v = strtol(buf + 12, &end, 10);
		if (end != buf + 12 && v >= 0 && v < 86400) {
			pthread_mutex_lock(&call->client->mu);
			call->retry_after_s = (int)v;
			pthread_mutex_unlock(&call->client->mu);
		}
	}
	return n;
}

/* Time-to-first-byte limit, checked by libcurl as it progresses. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal, (void)ultotal, (void)ulnow;
	struct upstream_call *call = ud;
	if (call->cancel_requested)
		return 1;
	if (call->ttfb_timeout_ms > 0 && dlnow == 0 && !call->t_first &&
	    sy_now_ns() - call->t0 > (uint64_t)call->ttfb_timeout_ms * 1000000ull) {
		snprintf(call->error, sizeof call->error,
		         "no first byte within the time-to-first-token timeout (%d ms)",
		         call->ttfb_timeout_ms);
		return 1;
	}
	return 0;
}

static void finish(struct upstream_client *c, struct upstream_call *call, CURLcode rc)
{
	/* c->mu held */
	long status = 0;
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	call->http_status = (int)status;
	call->t_end = sy_now_ns();
	if (rc == CURLE_OK) {
		call->state = UPSTREAM_DONE;
	} else {
		call->state = UPSTREAM_FAILED;
		if (call->cancel_requested)
			snprintf(call->error, sizeof call->error, "cancelled");
		else if (!call->error[0])
			snprintf(call->error, sizeof call->error, "%s", curl_easy_strerror(rc));
	}
	curl_multi_remove_handle(c->multi, call->easy);
	call->in_multi = false;
	for (struct upstream_call **pp = &c->active; *pp; pp = &(*pp)->next_active)
		if (*pp == call) {
			*pp = call->next_active;
			break;
		}
	pthread_cond_broadcast(&call->cv);
}

static void *client_main(void *arg)
{
	struct upstream_client *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->mu);
		if (c->stop && !c->active && !c->incoming) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		while (c->incoming) {
			struct upstream_call *call = c->incoming;
			c->incoming = call->next_new;
			if (call->cancel_requested) {
				call->state = UPSTREAM_FAILED;
				snprintf(call->error, sizeof call->error, "cancelled");
				pthread_cond_broadcast(&call->cv);
				continue;
			}
			curl_multi_add_handle(c->multi, call->easy);
			call->in_multi = true;
			call->next_active = c->active;
			c->active = call;
		}
		/* Cancelled transfers are removed here, from the thread that owns the multi. */
		for (struct upstream_call *call = c->active, *next; call; call = next) {
			next = call->next_active;
			if (call->cancel_requested || c->stop)
				finish(c, call, CURLE_ABORTED_BY_CALLBACK);
		}
		/* Paused transfers whose reader caught up. Unpausing may call the write callback at
		 * once, which takes the lock, so it happens after the lock is released; a call stays
		 * RUNNING (so alive) until this thread finishes it. */
		struct upstream_call *resume[16];
		int n_resume = 0;
		for (struct upstream_call *call = c->active; call && n_resume < 16;
		     call = call->next_active)
			if (call->resume) {
				call->resume = call->paused = false;
				resume[n_resume++] = call;
			}
		pthread_mutex_unlock(&c->mu);
		for (int i = 0; i < n_resume; i++)
			curl_easy_pause(resume[i]->easy, CURLPAUSE_CONT);
		int running = 0;
		curl_multi_perform(c->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(c->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct upstream_call *call = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
			CURLcode rc = m->data.result;
			pthread_mutex_lock(&c->mu);
			if (call && call->in_multi)
				finish(c, call, rc);
			pthread_mutex_unlock(&c->mu);
		}
		curl_multi_poll(c->multi, NULL, 0, 50, NULL);
	}
	return NULL;
}

enum sy_status upstream_client_create(struct sy_error *err, struct upstream_client **out)
{
	*out = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct upstream_client *c = calloc(1, sizeof *c);
	if (!c)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	c->multi = curl_multi_init();
	pthread_mutex_init(&c->mu, NULL);
	if (!c->multi || pthread_create(&c->thread, NULL, client_main, c) != 0) {
		if (c->multi)
			curl_multi_cleanup(c->multi);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return sy_error_set(err, SY_ERR_INTERNAL, "cannot start the upstream client");
	}
	*out = c;
	return SY_OK;
}

void upstream_client_destroy(struct upstream_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
	pthread_join(c->thread, NULL);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

enum sy_status upstream_call_start(struct upstream_client *c, const struct upstream_request *r,
                                   struct sy_error *err, struct upstream_call **out)
{
	*out = NULL;
	struct upstream_call *call = calloc(1, sizeof *call);
	if (!call)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	call->client = c;
	call->url = strdup(r->url);
	call->body = malloc(r->body_len + 1);
	call->easy = curl_easy_init();
	call->retry_after_s = -1;
	call->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : 60000;
	call->ttfb_timeout_ms = r->ttfb_timeout_ms;
	call->max_len = r->max_response_bytes ? r->max_response_bytes : (size_t)8 << 20;
	call->window = r->stream_window;
	pthread_cond_init(&call->cv, NULL);
	if (!call->url || !call->body || !call->easy) {
		upstream_call_free(call);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	memcpy(call->body, r->body, r->body_len);
	call->body[r->body_len] = '\0';
	call->body_len = r->body_len;
	call->headers = curl_slist_append(NULL, "Content-Type: application/json");
	call->headers =
	    curl_slist_append(call->headers, "Accept: application/json, text/event-stream");
	if (r->api_key && r->api_key[0]) {
		char h[1024];
		snprintf(h, sizeof h, "Authorization: Bearer %s", r->api_key);
		call->headers = curl_slist_append(call->headers, h);
	}
	for (int i = 0; i < 2; i++)
		if (r->headers[i] && r->headers[i][0])
			call->headers = curl_slist_append(call->headers, r->headers[i]);
	CURL *e = call->easy;
	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)call->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, call);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)call->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(call->timeout_ms < 10000 ? call->timeout_ms : 10000));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "switchyard/0.1");
	call->t0 = sy_now_ns();
	call->state = UPSTREAM_RUNNING;
	pthread_mutex_lock(&c->mu);
	call->next_new = c->incoming;
	c->incoming = call;
	pthread_mutex_unlock(&c->mu);
	atomic_fetch_add(&c->n_started, 1);
	curl_multi_wakeup(c->multi);
	*out = call;
	return SY_OK;
}

static void deadline_ts(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	uint64_t t = (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec +
	             (uint64_t)timeout_ms * 1000000ull;
	ts->tv_sec = (time_t)(t / 1000000000ull);
	ts->tv_nsec = (long)(t % 1000000000ull);
}

enum upstream_state upstream_call_wait(struct upstream_call *call, int timeout_ms)
{
	struct upstream_client *c = call->client;
	struct timespec ts;
	if (timeout_ms >= 0)
		deadline_ts(&ts, timeout_ms);
	pthread_mutex_lock(&c->mu);
	while (call->state == UPSTREAM_RUNNING) {
		if (timeout_ms < 0)
			pthread_cond_wait(&call->cv, &c->mu);
		else if (pthread_cond_timedwait(&call->cv, &c->mu, &ts) != 0)
			break;
	}
	enum upstream_state s = call->state;
	pthread_mutex_unlock(&c->mu);
	return s;
}

enum upstream_state upstream_call_wait_data(struct upstream_call *call, size_t have, int timeout_ms,
                                            const char **data, size_t *len)
{
	struct upstream_client *c = call->client;
	struct timespec ts;
	if (timeout_ms >= 0)
		deadline_ts(&ts, timeout_ms);
	pthread_mutex_lock(&c->mu);
	const size_t took = have < call->len ? have : call->len;
	if (took > call->taken)
		call->taken = took;
	bool wake = false;
	if (call->paused && !call->resume && call->len - call->taken <= call->window / 2)
		wake = call->resume = true;
	if (wake) {
		pthread_mutex_unlock(&c->mu);
		curl_multi_wakeup(c->multi);
		pthread_mutex_lock(&c->mu);
	}
	while (call->state == UPSTREAM_RUNNING && call->len <= have) {
		if (timeout_ms < 0)
			pthread_cond_wait(&call->cv, &c->mu);
		else if (pthread_cond_timedwait(&call->cv, &c->mu, &ts) != 0)
			break;
	}
	*data = call->data ? call->data : "";
	*len = call->len;
	enum upstream_state s = call->state;
	pthread_mutex_unlock(&c->mu);
	return s;
}

void upstream_call_result(struct upstream_call *call, struct upstream_result *out)
{
	struct upstream_client *c = call->client;
	pthread_mutex_lock(&c->mu);
	memset(out, 0, sizeof *out);
	out->http_status = call->http_status;
	out->body = call->data ? call->data : "";
	out->body_len = call->len;
	out->retry_after_s = call->retry_after_s;
	snprintf(out->error, sizeof out->error, "%s", call->error);
	out->ttfb_ms = call->t_first ? (double)(call->t_first - call->t0) / 1e6 : -1;
	out->total_ms = call->t_end ? (double)(call->t_end - call->t0) / 1e6 : -1;
	pthread_mutex_unlock(&c->mu);
}

void upstream_call_cancel(struct upstream_call *call)
{
	struct upstream_client *c = call->client;
	pthread_mutex_lock(&c->mu);
	bool running = call->state == UPSTREAM_RUNNING && !atomic_load(&call->cancel_requested);
	if (running)
		atomic_store(&call->cancel_requested, true);
	pthread_mutex_unlock(&c->mu);
	if (running) {
		atomic_fetch_add(&c->n_cancelled, 1);
		curl_multi_wakeup(c->multi);
	}
}

void upstream_call_free(struct upstream_call *call)
{
	if (!call)
		return;
	if (call->client && call->state == UPSTREAM_RUNNING && call->easy) {
		upstream_call_cancel(call);
		upstream_call_wait(call, -1);
	}
	if (call->easy)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	pthread_cond_destroy(&call->cv);
	free(call->url);
	free(call->body);
	free(call->data);
	free(call);
}

long upstream_client_started(const struct upstream_client *c)
{
	return atomic_load(&c->n_started);
}

long upstream_client_cancelled(const struct upstream_client *c)
{
	return atomic_load(&c->n_cancelled);
}
