/* Budget spend, and optionally circuit breakers and rate-limit windows, shared by several
 * gateways through NATS JetStream's key-value store (router_internal.h, docs/ROUTING.md "Shared
 * state"): with `router: {shared_state: {nats: URL}}` every process that routes with the same
 * bucket reads and adds to one spend per budget window, so two gateways enforce one budget;
 * with `breakers: true` and `rate_limits: true` as well they see one breaker and one rpm/tpm
 * window per upstream (state.c decides what a value means; this file only stores it).
 *
 * A spend is one KV key per (window, period, budget key): spend.<window>.<period>.<hash>, the
 * hash (FNV-1a, 64 bits, hex) standing for the budget key, which may be an API key and must not
 * be written out in clear nor break the key syntax. Its value is the USD spent as text. Adding
 * is a compare-and-set loop on the key's revision (kvStore_Update with the last revision, or
 * kvStore_Create for the first spend), so concurrent adds from several processes are never
 * lost. The bucket keeps one revision per key and drops keys after 40 days, past the longest
 * (monthly) window. A KV call that fails (NATS unreachable) falls back to this process's own
 * count and logs a warning, so routing goes on with per-process budgets until NATS is back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "base/log.h"
#include "router/router_internal.h"

#define SHARED_TIMEOUT_MS 2000
#define SHARED_CAS_TRIES 16

struct state_shared {
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	char url[256], bucket[64];
};

enum sy_status state_shared_open(const char *url, const char *bucket, struct sy_error *err,
                                 struct state_shared **out)
{
	*out = NULL;
	struct state_shared *sh = calloc(1, sizeof *sh);
	if (!sh)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	snprintf(sh->url, sizeof sh->url, "%s", url);
	snprintf(sh->bucket, sizeof sh->bucket, "%s", bucket);
	natsOptions *opts = NULL;
	natsStatus st = natsOptions_Create(&opts);
	if (st == NATS_OK)
		st = natsOptions_SetURL(opts, url);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(opts, SHARED_TIMEOUT_MS);
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(opts, -1); /* ride out a NATS restart */
	if (st == NATS_OK)
		st = natsOptions_SetName(opts, "switchyard-router-state");
	if (st == NATS_OK)
		st = natsConnection_Connect(&sh->nc, opts);
	natsOptions_Destroy(opts);
	if (st != NATS_OK) {
		free(sh);
		return sy_error_set(err, SY_ERR_UNAVAILABLE,
		                    "router shared_state: cannot connect to NATS at %s: %s", url,
		                    natsStatus_GetText(st));
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = SHARED_TIMEOUT_MS;
	st = natsConnection_JetStream(&sh->js, sh->nc, &jo);
	if (st == NATS_OK && js_KeyValue(&sh->kv, sh->js, bucket) != NATS_OK) {
		kvConfig cfg;
		kvConfig_Init(&cfg);
		cfg.Bucket = bucket;
		cfg.History = 1;
		cfg.TTL = (int64_t)40 * 86400 * 1000000000;
		st = js_CreateKeyValue(&sh->kv, sh->js, &cfg);
		if (st != NATS_OK) /* another process created it meanwhile */
			st = js_KeyValue(&sh->kv, sh->js, bucket);
	}
	if (st != NATS_OK) {
		state_shared_close(sh);
		return sy_error_set(
		    err, SY_ERR_UNAVAILABLE,
		    "router shared_state: no JetStream key-value bucket %s at %s: %s", bucket, url,
		    natsStatus_GetText(st));
	}
	sy_log(SY_LOG_INFO, "router: state shared through NATS %s (bucket %s)", url, bucket);
	*out = sh;
	return SY_OK;
}

void state_shared_close(struct state_shared *sh)
{
	if (!sh)
		return;
	kvStore_Destroy(sh->kv);
	jsCtx_Destroy(sh->js);
	natsConnection_Destroy(sh->nc);
	free(sh);
}

bool state_shared_same(const struct state_shared *sh, const char *url, const char *bucket)
{
	return sh && !strcmp(sh->url, url) && !strcmp(sh->bucket, bucket);
}

static uint64_t fnv1a(const char *key)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static void kv_key(char *out, size_t cap, const char *key, const char *window, long period)
{
	snprintf(out, cap, "spend.%s.%ld.%016llx", window, period, (unsigned long long)fnv1a(key));
}

/* The shared value of a key and its revision (0 when it has none yet); false when NATS failed. */
static bool kv_read(struct state_shared *sh, const char *k, double *usd, uint64_t *rev)
{
	kvEntry *e = NULL;
	natsStatus st = kvStore_Get(&e, sh->kv, k);
	*usd = 0;
	*rev = 0;
	if (st == NATS_NOT_FOUND)
		return true;
	if (st != NATS_OK)
		return false;
	char buf[64];
	int n = kvEntry_ValueLen(e);
	if (n > 0 && n < (int)sizeof buf) {
		memcpy(buf, kvEntry_Value(e), (size_t)n);
		buf[n] = '\0';
		*usd = strtod(buf, NULL);
	}
	*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	return true;
}

bool state_shared_spend(struct state_shared *sh, const char *key, const char *window, long period,
                        double *usd)
{
	char k[192];
	kv_key(k, sizeof k, key, window, period);
	uint64_t rev;
	if (kv_read(sh, k, usd, &rev))
		return true;
	sy_log(SY_LOG_WARN, "router: shared spend unreadable from NATS; using this process's own");
	return false;
}

bool state_shared_spend_add(struct state_shared *sh, const char *key, const char *window,
                            long period, double add)
{
	char k[192];
	kv_key(k, sizeof k, key, window, period);
	for (int t = 0; t < SHARED_CAS_TRIES; t++) {
		double usd;
		uint64_t rev, out_rev = 0;
		if (!kv_read(sh, k, &usd, &rev))
			break;
		char v[64];
		int n = snprintf(v, sizeof v, "%.12g", usd + add);
		natsStatus st = rev ? kvStore_Update(&out_rev, sh->kv, k, v, n, rev)
		                    : kvStore_Create(&out_rev, sh->kv, k, v, n);
		if (st == NATS_OK)
			return true;
		/* another process wrote first: read again and retry */
	}
	sy_log(SY_LOG_WARN, "router: shared spend not added in NATS (USD %.6f); counted locally",
	       add);
	return false;
}

/* ---- values kept as text: breakers and rate windows (state.c) ---- */

/* The value of key k as text into buf[cap] ("" when it has none yet) and its revision; false
 * when NATS failed. A value too long for buf reads as "". */
static bool kv_read_text(struct state_shared *sh, const char *k, char *buf, size_t cap,
                         uint64_t *rev)
{
	kvEntry *e = NULL;
	natsStatus st = kvStore_Get(&e, sh->kv, k);
	buf[0] = '\0';
	*rev = 0;
	if (st == NATS_NOT_FOUND)
		return true;
	if (st != NATS_OK)
		return false;
	int n = kvEntry_ValueLen(e);
	if (n > 0 && (size_t)n < cap) {
		memcpy(buf, kvEntry_Value(e), (size_t)n);
		buf[n] = '\0';
	}
	*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	return true;
}

bool state_shared_read(struct state_shared *sh, const char *kind, const char *name, char *buf,
                       size_t cap)
{
	char k[96];
	snprintf(k, sizeof k, "%s.%016llx", kind, (unsigned long long)fnv1a(name));
	uint64_t rev;
	if (kv_read_text(sh, k, buf, cap, &rev))
		return true;
	sy_log(SY_LOG_WARN,
	       "router: shared %s state unreadable from NATS; using this process's own", kind);
	return false;
}

bool state_shared_update(struct state_shared *sh, const char *kind, const char *name,
                         state_shared_fn update, void *ctx)
{
	char k[96];
	snprintf(k, sizeof k, "%s.%016llx", kind, (unsigned long long)fnv1a(name));
	char old[STATE_SHARED_VALUE_MAX], nv[STATE_SHARED_VALUE_MAX];
	for (int t = 0; t < SHARED_CAS_TRIES; t++) {
		uint64_t rev, out_rev = 0;
		if (!kv_read_text(sh, k, old, sizeof old, &rev))
			break;
		nv[0] = '\0';
		if (!update(ctx, old, nv, sizeof nv))
			return true; /* nothing to write */
		const int n = (int)strlen(nv);
		natsStatus st = rev ? kvStore_Update(&out_rev, sh->kv, k, nv, n, rev)
		                    : kvStore_Create(&out_rev, sh->kv, k, nv, n);
		if (st == NATS_OK)
			return true;
		/* another process wrote first: read again and retry */
	}
	sy_log(SY_LOG_WARN, "router: shared %s state not written in NATS; counted locally", kind);
	return false;
}
