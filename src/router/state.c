/* State that outlives router reloads: circuit breakers, spend per budget window, in-flight
 * calls per upstream, counters, and the decision-log file (see router_internal.h). One mutex;
 * every entry is small and looked up by name.
 *
 * With shared_state (state_shared.c) spend lives in NATS KV; with its breakers and rate_limits
 * switches the breakers and the rpm/tpm windows do too, as text values this file writes and
 * reads: a breaker is "FAILURES OPEN OPENED_MS" (OPENED_MS wall-clock milliseconds since the
 * epoch, so every process measures the cooldown from the same instant) and a rate window is
 * "SEC:CALLS:TOKENS ..." for the wall-clock seconds of the last minute that counted something.
 * Each check reads the shared value and mirrors it into the local entry (the metrics and
 * /v1/routes show it; NATS going away leaves the local entry in charge, with a warning); each
 * change is a compare-and-set that applies the same rule as the local entry. The half-open
 * probe is one per process: after the cooldown each gateway may let one probe through. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "router/router_internal.h"

struct breaker {
	char name[ROUTER_MAX_NAME];
	int consecutive_failures;
	bool open;
	uint64_t opened_ns;
	bool probing; /* half-open: one call let through */
};

struct spend {
	char key[2 * ROUTER_MAX_NAME];
	char window[16];
	long period; /* which hour/day/month the sum belongs to */
	double usd;
};

struct inflight {
	char name[ROUTER_MAX_NAME];
	int n;
};

/* One upstream's requests and tokens per second over the last minute (rpm, tpm). */
#define RATE_SECONDS 60
struct ratewin {
	char name[ROUTER_MAX_NAME];
	long sec[RATE_SECONDS]; /* the monotonic second bucket i counts */
	long calls[RATE_SECONDS], tokens[RATE_SECONDS];
};

struct decision {
	char request_id[136];
	char route[ROUTER_MAX_NAME], candidate[ROUTER_MAX_NAME];
};

struct counter {
	char name[48], route[ROUTER_MAX_NAME], label[ROUTER_MAX_NAME];
	double value;
};

struct router_state {
	pthread_mutex_t mu;
	struct breaker *breakers;
	int n_breakers, cap_breakers;
	struct spend *spends;
	int n_spends, cap_spends;
	struct inflight *inflight;
	int n_inflight, cap_inflight;
	struct counter *counters;
	int n_counters, cap_counters;
	struct ratewin *rates;
	int n_rates, cap_rates;
	struct decision *decisions; /* [STATE_DECISIONS_KEPT] ring, allocated on first use */
	long n_decisions; /* remembered so far; the next goes to n % STATE_DECISIONS_KEPT */
	FILE *log;
	char log_path[512];
	int n_shadows; /* shadow calls in flight (chat_shadow.c) */
	struct state_shared *shared; /* spend kept in NATS KV, or NULL (set once) */
	bool share_breakers, share_rates; /* breakers, rate windows kept there too */
	pthread_cond_t shadows_done;
};

#define GROW(arr, n, cap)                                                     \
	do {                                                                  \
		if ((n) == (cap)) {                                           \
			int nc = (cap) ? 2 * (cap) : 16;                      \
			void *p = realloc((arr), (size_t)nc * sizeof *(arr)); \
			if (!p)                                               \
				break;                                        \
			(arr) = p;                                            \
			(cap) = nc;                                           \
		}                                                             \
	} while (0)

enum sy_status router_state_create(struct sy_error *err, struct router_state **out)
{
	struct router_state *s = calloc(1, sizeof *s);
	if (!s)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->shadows_done, NULL);
	*out = s;
	return SY_OK;
}

void router_state_free(struct router_state *s)
{
	if (!s)
		return;
	/* shadow threads still write here; their calls end by their timeouts (or at once when the
	 * upstream client was destroyed first, as the server does) */
	pthread_mutex_lock(&s->mu);
	while (s->n_shadows > 0)
		pthread_cond_wait(&s->shadows_done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->shadows_done);
	state_shared_close(s->shared);
	if (s->log)
		fclose(s->log);
	free(s->breakers);
	free(s->spends);
	free(s->inflight);
	free(s->counters);
	free(s->rates);
	free(s->decisions);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct breaker *breaker_find(struct router_state *s, const char *name, bool create)
{
	for (int i = 0; i < s->n_breakers; i++)
		if (!strcmp(s->breakers[i].name, name))
			return &s->breakers[i];
	if (!create)
		return NULL;
	GROW(s->breakers, s->n_breakers, s->cap_breakers);
	if (s->n_breakers == s->cap_breakers)
		return NULL;
	struct breaker *b = &s->breakers[s->n_breakers++];
	memset(b, 0, sizeof *b);
	snprintf(b->name, sizeof b->name, "%s", name);
	return b;
}

static enum breaker_state breaker_state_of(const struct breaker *b, int cooldown_s)
{
	if (!b || !b->open)
		return BREAKER_CLOSED;
	if (sy_now_ns() - b->opened_ns >= (uint64_t)cooldown_s * 1000000000ull)
		return BREAKER_HALF_OPEN;
	return BREAKER_OPEN;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The shared store when its switch `which` is on (its value read under the lock). */
static struct state_shared *shared_if(struct router_state *s, const bool *which)
{
	pthread_mutex_lock(&s->mu);
	struct state_shared *sh = *which ? s->shared : NULL;
	pthread_mutex_unlock(&s->mu);
	return sh;
}

struct shared_breaker {
	int failures; /* consecutive */
	int open;
	long long opened_ms; /* wall clock */
};

static void shared_breaker_parse(const char *text, struct shared_breaker *b)
{
	*b = (struct shared_breaker){0};
	if (sscanf(text, "%d %d %lld", &b->failures, &b->open, &b->opened_ms) != 3)
		*b = (struct shared_breaker){0};
}

/* Mirrors name's shared breaker into the local one (when breakers are shared and NATS answers;
 * the caller does not hold the lock). */
static void breaker_pull(struct router_state *s, const char *name)
{
	struct state_shared *sh = shared_if(s, &s->share_breakers);
	char text[128];
	if (!sh || !state_shared_read(sh, "breaker", name, text, sizeof text))
		return;
	struct shared_breaker sb;
	shared_breaker_parse(text, &sb);
	const uint64_t now = sy_now_ns();
	long long ago_ms = wall_ms() - sb.opened_ms;
	if (ago_ms < 0)
		ago_ms = 0;
	pthread_mutex_lock(&s->mu);
	struct breaker *b = breaker_find(s, name, sb.open || sb.failures);
	if (b) {
		b->consecutive_failures = sb.failures;
		if (!sb.open) {
			b->open = false;
			b->probing = false;
		} else {
			const uint64_t ago_ns = (uint64_t)ago_ms * 1000000ull;
			/* a newer opening (another process's failed probe) ends our probe */
			const uint64_t opened = ago_ns < now ? now - ago_ns : 0;
			if (!b->open || opened > b->opened_ns + 50000000ull)
				b->probing = false;
			b->open = true;
			b->opened_ns = opened;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

struct breaker_change {
	bool ok;
	int failures; /* the route's threshold */
	long long now_ms;
};

/* The same transition as state_breaker_record's, on the shared value. */
static bool breaker_update(void *ctx, const char *old, char *out, size_t cap)
{
	const struct breaker_change *c = ctx;
	struct shared_breaker b;
	shared_breaker_parse(old, &b);
	if (c->ok) {
		if (!b.open && b.failures == 0 && old[0])
			return false; /* already closed: nothing to write */
		b = (struct shared_breaker){0};
	} else if (++b.failures >= c->failures || b.open) {
		b.open = 1;
		b.opened_ms = c->now_ms;
	}
	snprintf(out, cap, "%d %d %lld", b.failures, b.open, b.opened_ms);
	return true;
}

bool state_breaker_allows(struct router_state *s, const char *name, int cooldown_s)
{
	breaker_pull(s, name);
	pthread_mutex_lock(&s->mu);
	struct breaker *b = breaker_find(s, name, false);
	enum breaker_state st = breaker_state_of(b, cooldown_s);
	bool ok = st == BREAKER_CLOSED;
	if (st == BREAKER_HALF_OPEN && !b->probing) {
		b->probing = true; /* one probe at a time */
		ok = true;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void state_breaker_record(struct router_state *s, const char *name, bool ok, int failures)
{
	pthread_mutex_lock(&s->mu);
	struct breaker *b = breaker_find(s, name, true);
	if (b) {
		b->probing = false;
		if (ok) {
			b->consecutive_failures = 0;
			b->open = false;
		} else if (++b->consecutive_failures >= failures || b->open) {
			b->open = true; /* a failed probe re-opens for a full cooldown */
			b->opened_ns = sy_now_ns();
		}
	}
	struct state_shared *sh = s->share_breakers ? s->shared : NULL;
	pthread_mutex_unlock(&s->mu);
	if (sh) {
		struct breaker_change c = {ok, failures, wall_ms()};
		state_shared_update(sh, "breaker", name, breaker_update, &c);
	}
}

enum breaker_state state_breaker_get(struct router_state *s, const char *name, int cooldown_s)
{
	breaker_pull(s, name);
	pthread_mutex_lock(&s->mu);
	enum breaker_state st = breaker_state_of(breaker_find(s, name, false), cooldown_s);
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* The period number of now for a window: hours, days or months since the epoch (UTC). */
static long period_of(const char *window)
{
	time_t t = time(NULL);
	if (!strcmp(window, "hourly"))
		return (long)(t / 3600);
	if (!strcmp(window, "monthly")) {
		struct tm tm;
		gmtime_r(&t, &tm);
		return (long)tm.tm_year * 12 + tm.tm_mon;
	}
	return (long)(t / 86400);
}

/* The spend table is bounded: keys come from requests. Past the bound, unknown keys share one
 * entry per window ("(overflow)"), so a flood of new keys meets a per-key budget together
 * rather than each getting a fresh one or none being counted. */
#define SPEND_MAX 4096
#define SPEND_OVERFLOW "(overflow)"

static struct spend *spend_find(struct router_state *s, const char *key, const char *window,
                                bool create)
{
	long period = period_of(window);
	if (s->n_spends >= SPEND_MAX && strcmp(key, SPEND_OVERFLOW) != 0) {
		bool known = false;
		for (int i = 0; i < s->n_spends && !known; i++)
			known =
			    !strcmp(s->spends[i].key, key) && !strcmp(s->spends[i].window, window);
		if (!known)
			key = SPEND_OVERFLOW;
	}
	for (int i = 0; i < s->n_spends; i++) {
		struct spend *sp = &s->spends[i];
		if (!strcmp(sp->key, key) && !strcmp(sp->window, window)) {
			if (sp->period != period) { /* a new window began */
				sp->period = period;
				sp->usd = 0;
			}
			return sp;
		}
	}
	if (!create)
		return NULL;
	if (s->n_spends >= SPEND_MAX + 8) /* the overflow entries' room is full too */
		return NULL;
	GROW(s->spends, s->n_spends, s->cap_spends);
	if (s->n_spends == s->cap_spends)
		return NULL;
	struct spend *sp = &s->spends[s->n_spends++];
	memset(sp, 0, sizeof *sp);
	snprintf(sp->key, sizeof sp->key, "%s", key);
	snprintf(sp->window, sizeof sp->window, "%s", window);
	sp->period = period;
	return sp;
}

static struct state_shared *shared_of(struct router_state *s)
{
	pthread_mutex_lock(&s->mu);
	struct state_shared *sh = s->shared;
	pthread_mutex_unlock(&s->mu);
	return sh;
}

enum sy_status state_shared_configure(struct router_state *s, const char *url, const char *bucket,
                                      bool breakers, bool rate_limits, struct sy_error *err)
{
	struct state_shared *cur = shared_of(s);
	struct state_shared *sh = NULL;
	if (cur && !state_shared_same(cur, url, bucket))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "router shared_state: already shared through another NATS "
		                    "or bucket; restart to change it");
	if (!cur) {
		enum sy_status st = state_shared_open(url, bucket, err, &sh);
		if (st != SY_OK)
			return st;
	}
	pthread_mutex_lock(&s->mu);
	if (!s->shared) {
		s->shared = sh;
		sh = NULL;
	}
	s->share_breakers = breakers;
	s->share_rates = rate_limits;
	pthread_mutex_unlock(&s->mu);
	state_shared_close(sh); /* another thread configured it first */
	return SY_OK;
}

double state_spend(struct router_state *s, const char *key, const char *window)
{
	struct state_shared *sh = shared_of(s);
	double v = 0;
	if (sh && state_shared_spend(sh, key, window, period_of(window), &v))
		return v;
	pthread_mutex_lock(&s->mu);
	struct spend *sp = spend_find(s, key, window, false);
	v = sp ? sp->usd : 0;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void state_spend_add(struct router_state *s, const char *key, const char *window, double usd)
{
	if (!(usd > 0 && isfinite(usd))) /* spend only grows */
		return;
	pthread_mutex_lock(&s->mu);
	struct spend *sp = spend_find(s, key, window, true);
	if (sp)
		sp->usd += usd;
	struct state_shared *sh = s->shared;
	pthread_mutex_unlock(&s->mu);
	if (sh)
		state_shared_spend_add(sh, key, window, period_of(window), usd);
}

bool state_concurrency_take(struct router_state *s, const char *name, int max)
{
	pthread_mutex_lock(&s->mu);
	struct inflight *f = NULL;
	for (int i = 0; i < s->n_inflight && !f; i++)
		if (!strcmp(s->inflight[i].name, name))
			f = &s->inflight[i];
	if (!f) {
		GROW(s->inflight, s->n_inflight, s->cap_inflight);
		if (s->n_inflight < s->cap_inflight) {
			f = &s->inflight[s->n_inflight++];
			memset(f, 0, sizeof *f);
			snprintf(f->name, sizeof f->name, "%s", name);
		}
	}
	bool ok = f && (max <= 0 || f->n < max);
	if (ok)
		f->n++;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void state_concurrency_release(struct router_state *s, const char *name)
{
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n_inflight; i++)
		if (!strcmp(s->inflight[i].name, name) && s->inflight[i].n > 0)
			s->inflight[i].n--;
	pthread_mutex_unlock(&s->mu);
}

static struct ratewin *rate_find(struct router_state *s, const char *name)
{
	for (int i = 0; i < s->n_rates; i++)
		if (!strcmp(s->rates[i].name, name))
			return &s->rates[i];
	GROW(s->rates, s->n_rates, s->cap_rates);
	if (s->n_rates == s->cap_rates)
		return NULL;
	struct ratewin *w = &s->rates[s->n_rates++];
	memset(w, 0, sizeof *w);
	for (int i = 0; i < RATE_SECONDS; i++)
		w->sec[i] = -RATE_SECONDS;
	snprintf(w->name, sizeof w->name, "%s", name);
	return w;
}

/* The bucket of second now, emptied when it last counted an older second. */
static int rate_bucket(struct ratewin *w, long now)
{
	int i = (int)(now % RATE_SECONDS);
	if (w->sec[i] != now) {
		w->sec[i] = now;
		w->calls[i] = w->tokens[i] = 0;
	}
	return i;
}

/* Takes one request from window w at second now when within rpm and tpm (true); otherwise the
 * seconds until the oldest request or tokens counted leave it go to *retry_after_s. */
static bool rate_check(struct ratewin *w, long now, int rpm, int tpm, int *retry_after_s)
{
	long calls = 0, tokens = 0, oldest_call = now, oldest_token = now;
	for (int i = 0; i < RATE_SECONDS; i++) {
		if (w->sec[i] <= now - RATE_SECONDS || w->sec[i] > now)
			continue;
		calls += w->calls[i];
		tokens += w->tokens[i];
		if (w->calls[i] && w->sec[i] < oldest_call)
			oldest_call = w->sec[i];
		if (w->tokens[i] && w->sec[i] < oldest_token)
			oldest_token = w->sec[i];
	}
	long wait = 0;
	bool ok = true;
	if (rpm > 0 && calls >= rpm) {
		wait = oldest_call + RATE_SECONDS - now;
		ok = false;
	}
	if (tpm > 0 && tokens >= tpm) {
		if (oldest_token + RATE_SECONDS - now > wait)
			wait = oldest_token + RATE_SECONDS - now;
		ok = false;
	}
	if (ok)
		w->calls[rate_bucket(w, now)]++;
	else
		*retry_after_s = wait > 0 ? (int)wait : 1;
	return ok;
}

/* A shared window's text ("SEC:CALLS:TOKENS ...") into w, and back (the seconds of the last
 * minute before now only). */
static void rate_parse(const char *text, struct ratewin *w)
{
	memset(w, 0, sizeof *w);
	for (int i = 0; i < RATE_SECONDS; i++)
		w->sec[i] = -RATE_SECONDS;
	const char *p = text;
	long sec, calls, tokens;
	int n;
	while (sscanf(p, " %ld:%ld:%ld%n", &sec, &calls, &tokens, &n) == 3) {
		p += n;
		if (sec < 0)
			continue;
		const int i = (int)(sec % RATE_SECONDS);
		if (w->sec[i] > sec)
			continue;
		w->sec[i] = sec;
		w->calls[i] = calls;
		w->tokens[i] = tokens;
	}
}

static void rate_format(const struct ratewin *w, long now, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < RATE_SECONDS && n < cap; i++)
		if (w->sec[i] > now - RATE_SECONDS && w->sec[i] <= now &&
		    (w->calls[i] || w->tokens[i]))
			n += (size_t)snprintf(out + n, cap - n, "%s%ld:%ld:%ld", n ? " " : "",
			                      w->sec[i], w->calls[i], w->tokens[i]);
}

struct rate_change {
	int rpm, tpm; /* take one request within these (both 0: add tokens only) */
	long tokens; /* tokens to add */
	long now; /* wall-clock second */
	bool ok;
	int retry_after_s;
};

static bool rate_update(void *ctx, const char *old, char *out, size_t cap)
{
	struct rate_change *c = ctx;
	struct ratewin w;
	rate_parse(old, &w);
	c->ok = true;
	c->retry_after_s = 0;
	if (c->rpm > 0 || c->tpm > 0)
		c->ok = rate_check(&w, c->now, c->rpm, c->tpm, &c->retry_after_s);
	if (!c->ok)
		return false;
	if (c->tokens > 0)
		w.tokens[rate_bucket(&w, c->now)] += c->tokens;
	rate_format(&w, c->now, out, cap);
	return true;
}

bool state_rate_take(struct router_state *s, const char *name, int rpm, int tpm, int *retry_after_s)
{
	*retry_after_s = 0;
	if (rpm <= 0 && tpm <= 0)
		return true;
	const long now = (long)(sy_now_ns() / 1000000000ull);
	struct state_shared *sh = shared_if(s, &s->share_rates);
	struct rate_change c = {rpm, tpm, 0, (long)time(NULL), true, 0};
	const bool shared = sh && state_shared_update(sh, "rate", name, rate_update, &c);
	pthread_mutex_lock(&s->mu);
	struct ratewin *w = rate_find(s, name);
	bool ok = true;
	if (shared) { /* the shared window decided; the local one counts this process's calls */
		ok = c.ok;
		*retry_after_s = c.retry_after_s;
		if (ok && w)
			w->calls[rate_bucket(w, now)]++;
	} else if (w) {
		ok = rate_check(w, now, rpm, tpm, retry_after_s);
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void state_rate_tokens(struct router_state *s, const char *name, long tokens)
{
	if (tokens <= 0)
		return;
	const long now = (long)(sy_now_ns() / 1000000000ull);
	pthread_mutex_lock(&s->mu);
	struct ratewin *w = rate_find(s, name);
	if (w)
		w->tokens[rate_bucket(w, now)] += tokens;
	struct state_shared *sh = s->share_rates ? s->shared : NULL;
	pthread_mutex_unlock(&s->mu);
	if (sh) {
		struct rate_change c = {0, 0, tokens, (long)time(NULL), true, 0};
		state_shared_update(sh, "rate", name, rate_update, &c);
	}
}

void state_decision_remember(struct router_state *s, const char *request_id, const char *route,
                             const char *candidate)
{
	pthread_mutex_lock(&s->mu);
	if (!s->decisions)
		s->decisions = calloc(STATE_DECISIONS_KEPT, sizeof *s->decisions);
	if (s->decisions) {
		struct decision *d = &s->decisions[s->n_decisions++ % STATE_DECISIONS_KEPT];
		snprintf(d->request_id, sizeof d->request_id, "%s", request_id);
		snprintf(d->route, sizeof d->route, "%s", route);
		snprintf(d->candidate, sizeof d->candidate, "%s", candidate);
	}
	pthread_mutex_unlock(&s->mu);
}

bool state_decision_find(struct router_state *s, const char *request_id, char *route,
                         char *candidate, size_t cap)
{
	bool found = false;
	pthread_mutex_lock(&s->mu);
	const long n =
	    s->n_decisions < STATE_DECISIONS_KEPT ? s->n_decisions : STATE_DECISIONS_KEPT;
	for (long k = 0; s->decisions && k < n && !found; k++) { /* newest first */
		const struct decision *d =
		    &s->decisions[(s->n_decisions - 1 - k) % STATE_DECISIONS_KEPT];
		if (!strcmp(d->request_id, request_id)) {
			snprintf(route, cap, "%s", d->route);
			snprintf(candidate, cap, "%s", d->candidate);
			found = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

void state_shadow_begin(struct router_state *s)
{
	pthread_mutex_lock(&s->mu);
	s->n_shadows++;
	pthread_mutex_unlock(&s->mu);
}

void state_shadow_end(struct router_state *s)
{
	pthread_mutex_lock(&s->mu);
	if (--s->n_shadows == 0)
		pthread_cond_broadcast(&s->shadows_done);
	pthread_mutex_unlock(&s->mu);
}

void state_count(struct router_state *s, const char *counter, const char *route, const char *label,
                 double add)
{
	pthread_mutex_lock(&s->mu);
	struct counter *c = NULL;
	for (int i = 0; i < s->n_counters && !c; i++)
		if (!strcmp(s->counters[i].name, counter) && !strcmp(s->counters[i].route, route) &&
		    !strcmp(s->counters[i].label, label))
			c = &s->counters[i];
	if (!c) {
		GROW(s->counters, s->n_counters, s->cap_counters);
		if (s->n_counters < s->cap_counters) {
			c = &s->counters[s->n_counters++];
			memset(c, 0, sizeof *c);
			snprintf(c->name, sizeof c->name, "%s", counter);
			snprintf(c->route, sizeof c->route, "%s", route);
			snprintf(c->label, sizeof c->label, "%s", label);
		}
	}
	if (c)
		c->value += add;
	pthread_mutex_unlock(&s->mu);
}

void state_metrics_write(struct router_state *s, struct sbuf *b)
{
	/* name, help, the second label's name */
	static const char *const names[][3] = {
	    {"decisions", "routing decisions, by route and chosen candidate", "candidate"},
	    {"escalations", "cascade escalations (a verifier failed), by route and candidate",
	     "candidate"},
	    {"fallbacks", "moves to the next candidate after a failure, by route and candidate",
	     "candidate"},
	    {"spend_usd", "spend in USD from token usage, by route and candidate", "candidate"},
	    {"refusals", "requests refused (budget exhausted, no candidate), by route and code",
	     "code"},
	    {"regex_limits", "rule regexes that hit their work limit, by route and rule", "rule"},
	    {"rate_limited", "candidates skipped at their rpm/tpm limit, by route and candidate",
	     "candidate"},
	    {"feedback", "feedback received (POST /v1/feedback), by route and candidate",
	     "candidate"},
	    {"feedback_success", "feedback counted as a success, by route and candidate",
	     "candidate"},
	    {"misroutes", "feedback labelled misroute, by route and candidate", "candidate"},
	    {"arms", "requests a route's A/B split sent to each arm, by route and candidate",
	     "candidate"},
	    {"shadows", "shadow calls made, by route and shadow candidate", "candidate"},
	    {"shadow_errors", "shadow calls that got no answer, by route and shadow candidate",
	     "candidate"},
	    {"shadow_spend_usd", "spend of shadow calls in USD, by route and shadow candidate",
	     "candidate"},
	    {"judge_calls", "calls to a route's LLM judge, by route and judge", "candidate"},
	    {"judge_spend_usd", "spend of a route's LLM judge in USD, by route and judge",
	     "candidate"},
	};
	pthread_mutex_lock(&s->mu);
	for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
		sbuf_printf(b,
		            "# HELP switchyard_router_%s_total %s\n# TYPE "
		            "switchyard_router_%s_total counter\n",
		            names[n][0], names[n][1], names[n][0]);
		for (int i = 0; i < s->n_counters; i++) {
			const struct counter *c = &s->counters[i];
			if (strcmp(c->name, names[n][0]) != 0)
				continue;
			sbuf_printf(b, "switchyard_router_%s_total{route=\"%s\",%s=\"%s\"} %.9g\n",
			            c->name, c->route, names[n][2], c->label, c->value);
		}
	}
	sbuf_puts(b,
	          "# HELP switchyard_router_breaker_open 1 when a candidate's circuit breaker is "
	          "open\n# TYPE switchyard_router_breaker_open gauge\n");
	for (int i = 0; i < s->n_breakers; i++)
		sbuf_printf(b, "switchyard_router_breaker_open{candidate=\"%s\"} %d\n",
		            s->breakers[i].name, s->breakers[i].open ? 1 : 0);
	pthread_mutex_unlock(&s->mu);
}

void state_log_line(struct router_state *s, const char *path, const char *line)
{
	if (!path || !path[0])
		return;
	pthread_mutex_lock(&s->mu);
	if (s->log && strcmp(s->log_path, path) != 0) {
		fclose(s->log);
		s->log = NULL;
	}
	if (!s->log) {
		s->log = fopen(path, "a");
		snprintf(s->log_path, sizeof s->log_path, "%s", path);
	}
	if (s->log) {
		fputs(line, s->log);
		fputc('\n', s->log);
		fflush(s->log);
	}
	pthread_mutex_unlock(&s->mu);
}
