/* Reading the routing sections of the YAML config (docs/ROUTING.md has the full format):
 *
 *   upstreams:  name -> {base_url, api_key_env, model, price_input, price_output, timeout_ms,
 *                        ttft_timeout_ms, max_concurrency, rpm, tpm}
 *   routes:     name -> {policy, candidates, default, retries, fallback, max_retry_after_s,
 *                        breaker: {failures, cooldown_s},
 *                        budget: {window, limit_usd, per_key_usd, downgrade_at},
 *                        race, verifier: {json, schema, regex, min_length, max_length,
 *                        min_confidence}, rules: [{if: {...}, then}], semantic: {...},
 *                        learned: {...}, strong_weak: {...}, llm_classifier: {...}}
 *   tasks:      name -> {operation, model, splits: [{model, weight}], shadow} (tasks.c)
 *   router:     {decision_log}
 * Every error names the file, the line and the key. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "base/yaml.h"
#include "router/router_internal.h"

struct y {
	const struct yaml_doc *d;
	struct sy_error *err;
};

static int line_of(const struct yaml_value *n)
{
	return n ? n->line : 0;
}

static enum sy_status bad(struct y *y, const struct yaml_value *n, const char *fmt,
                          const char *what)
{
	return yaml_error(y->d, n, y->err, "%s %s", what, fmt);
}

/* Iterates a mapping: calls fn(key, value) for each pair. */
typedef enum sy_status (*pair_fn)(struct y *y, const char *key, const struct yaml_value *v,
                                  void *ctx);

static enum sy_status each_pair(struct y *y, const struct yaml_value *m, const char *what,
                                pair_fn fn, void *ctx)
{
	if (!yaml_is_mapping(m))
		return bad(y, m, "must be a mapping", what);
	for (int i = 0; i < yaml_count(m); i++) {
		enum sy_status s =
		    fn(y, yaml_scalar(yaml_map_key(m, i)), yaml_map_value(m, i), ctx);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

static enum sy_status get_str(struct y *y, const struct yaml_value *v, const char *key, char *out,
                              size_t cap)
{
	return yaml_get_strbuf(y->d, v, key, cap, y->err, out);
}

static enum sy_status get_num(struct y *y, const struct yaml_value *v, const char *key, double lo,
                              double hi, double *out)
{
	return yaml_get_num(y->d, v, key, lo, hi, y->err, out);
}

static enum sy_status get_int(struct y *y, const struct yaml_value *v, const char *key, long lo,
                              long hi, int *out)
{
	return yaml_get_int(y->d, v, key, lo, hi, y->err, out);
}

/* A list of strings into a malloc'd array (lowercased when lower). */
static enum sy_status get_strings(struct y *y, const struct yaml_value *v, const char *key,
                                  bool lower, char ***out, int *n)
{
	enum sy_status s = yaml_get_strings(y->d, v, key, y->err, out, n);
	for (int i = 0; s == SY_OK && lower && i < *n; i++)
		for (char *c = (*out)[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	return s;
}

/* A YAML value as cJSON (for verifier schemas): unquoted numbers, true/false and null/~ take
 * their JSON types, everything else is a string. */
cJSON *router_yaml_to_json(const struct yaml_value *n)
{
	if (!n)
		return NULL;
	if (n->kind == YAML_KIND_SCALAR) {
		const char *s = n->str;
		char *end;
		double d = strtod(s, &end);
		if (!n->quoted && *s && !*end)
			return cJSON_CreateNumber(d);
		if (!n->quoted && (!strcmp(s, "true") || !strcmp(s, "false")))
			return cJSON_CreateBool(!strcmp(s, "true"));
		if (!n->quoted && (!strcmp(s, "null") || !strcmp(s, "~")))
			return cJSON_CreateNull();
		return cJSON_CreateString(s);
	}
	if (n->kind == YAML_KIND_SEQUENCE) {
		cJSON *a = cJSON_CreateArray();
		for (int i = 0; i < yaml_count(n); i++)
			cJSON_AddItemToArray(a, router_yaml_to_json(yaml_seq_item(n, i)));
		return a;
	}
	cJSON *o = cJSON_CreateObject();
	for (int i = 0; i < yaml_count(n); i++)
		cJSON_AddItemToObject(o, yaml_scalar(yaml_map_key(n, i)),
		                      router_yaml_to_json(yaml_map_value(n, i)));
	return o;
}

/* The keys each section takes; a message for any other key lists them. */
static const char *const upstream_keys[] = {
    "base_url",        "api_key_env",     "model", "price_input", "price_output", "timeout_ms",
    "ttft_timeout_ms", "max_concurrency", "rpm",   "tpm",         "kind",         NULL};
static const char *const breaker_keys[] = {"failures", "cooldown_s", NULL};
static const char *const budget_keys[] = {"window",       "limit_usd", "per_key_usd",
                                          "downgrade_at", "tiers",     NULL};
static const char *const tier_keys[] = {"at", "map", NULL};
static const char *const verifier_keys[] = {"json",       "schema",         "regex", "min_length",
                                            "max_length", "min_confidence", NULL};
static const char *const rule_keys[] = {
    "keywords",     "regex",        "on_limit", "min_length", "max_length",
    "min_messages", "max_messages", "metadata", "tags",       NULL};
static const char *const semantic_keys[] = {"encoder", "threshold", "examples", NULL};
static const char *const learned_keys[] = {"model_file", "encoder",   "strong",
                                           "weak",       "threshold", NULL};
static const char *const route_keys[] = {
    "policy",  "candidates",  "default",        "retries",  "fallback", "max_retry_after_s",
    "race",    "breaker",     "budget",         "verifier", "rules",    "semantic",
    "learned", "strong_weak", "llm_classifier", "split",    "shadow",   "shadow_share",
    "judge",   NULL};
static const char *const judge_keys[] = {"upstream", "rubric",     "threshold", "scale",
                                         "on_error", "timeout_ms", NULL};
static const char *const split_keys[] = {"by", "arms", NULL};
static const char *const llm_classifier_keys[] = {"upstream", "labels", "timeout_ms", NULL};
static const char *const router_keys[] = {"decision_log", "shared_state", NULL};
static const char *const shared_keys[] = {"nats", "bucket", "breakers", "rate_limits", NULL};

static enum sy_status shared_field(struct y *y, const char *k, const struct yaml_value *v,
                                   void *ctx)
{
	struct router *r = ctx;
	if (!strcmp(k, "nats"))
		return get_str(y, v, k, r->shared_nats, sizeof r->shared_nats);
	if (!strcmp(k, "bucket")) {
		enum sy_status s = get_str(y, v, k, r->shared_bucket, sizeof r->shared_bucket);
		for (const char *p = r->shared_bucket; s == SY_OK && *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
				s = bad(y, v, "may hold only letters, digits, _ and -", k);
		return s;
	}
	if (!strcmp(k, "breakers"))
		return yaml_get_bool(y->d, v, k, y->err, &r->shared_breakers);
	if (!strcmp(k, "rate_limits"))
		return yaml_get_bool(y->d, v, k, y->err, &r->shared_rates);
	return yaml_unknown_key(y->d, v, k, "a shared_state setting", shared_keys, y->err);
}

/* ---- upstreams ---- */

static enum sy_status upstream_field(struct y *y, const char *k, const struct yaml_value *v,
                                     void *ctx)
{
	struct upstream_def *u = ctx;
	double d;
	enum sy_status s;
	if (!strcmp(k, "base_url"))
		return get_str(y, v, k, u->base_url, sizeof u->base_url);
	if (!strcmp(k, "api_key_env"))
		return get_str(y, v, k, u->api_key_env, sizeof u->api_key_env);
	if (!strcmp(k, "kind")) {
		char kind[32];
		s = get_str(y, v, k, kind, sizeof kind);
		if (s == SY_OK && !upstream_kind_parse(kind, &u->kind))
			s = bad(y, v, "must be openai, anthropic or gemini", k);
		return s;
	}
	if (!strcmp(k, "model"))
		return get_str(y, v, k, u->model, sizeof u->model);
	if (!strcmp(k, "price_input") || !strcmp(k, "price_output")) {
		s = get_num(y, v, k, 0, 1e6, &d);
		if (s == SY_OK)
			*(k[6] == 'i' ? &u->price_input : &u->price_output) = d;
		return s;
	}
	if (!strcmp(k, "timeout_ms"))
		return get_int(y, v, k, 1, 3600000, &u->timeout_ms);
	if (!strcmp(k, "ttft_timeout_ms"))
		return get_int(y, v, k, 1, 3600000, &u->ttft_timeout_ms);
	if (!strcmp(k, "max_concurrency"))
		return get_int(y, v, k, 1, 1000000, &u->max_concurrency);
	if (!strcmp(k, "rpm"))
		return get_int(y, v, k, 1, 1000000000, &u->rpm);
	if (!strcmp(k, "tpm"))
		return get_int(y, v, k, 1, 2000000000, &u->tpm);
	return yaml_unknown_key(y->d, v, k, "an upstream setting", upstream_keys, y->err);
}

static enum sy_status upstream_entry(struct y *y, const char *name, const struct yaml_value *v,
                                     void *ctx)
{
	struct router *r = ctx;
	struct upstream_def *a =
	    realloc(r->upstreams, (size_t)(r->n_upstreams + 1) * sizeof *r->upstreams);
	if (!a)
		return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	r->upstreams = a;
	struct upstream_def *u = &r->upstreams[r->n_upstreams];
	memset(u, 0, sizeof *u);
	if (strlen(name) >= sizeof u->name)
		return bad(y, v, "is too long", "upstream name");
	snprintf(u->name, sizeof u->name, "%s", name);
	u->timeout_ms = 60000;
	enum sy_status s = each_pair(y, v, name, upstream_field, u);
	if (s == SY_OK && !u->base_url[0])
		s = bad(y, v, "needs a base_url", name);
	if (s == SY_OK && !u->model[0])
		snprintf(u->model, sizeof u->model, "%s", name);
	if (s == SY_OK)
		r->n_upstreams++;
	return s;
}

struct provider router_upstream_provider(const struct upstream_def *u)
{
	return (struct provider){.kind = u->kind,
	                         .base_url = u->base_url,
	                         .model = u->model,
	                         .api_key = u->api_key_env[0] ? getenv(u->api_key_env) : NULL,
	                         .timeout_ms = u->timeout_ms,
	                         .ttfb_timeout_ms = u->ttft_timeout_ms};
}

static int upstream_index(const struct router *r, const char *name)
{
	for (int i = 0; i < r->n_upstreams; i++)
		if (!strcmp(r->upstreams[i].name, name))
			return i;
	return -1;
}

/* ---- routes ---- */

struct route_ctx {
	struct router *r;
	struct route_def *rt;
};

static int candidate_of(const struct route_def *rt, const struct router *r, const char *name)
{
	int u = upstream_index(r, name);
	for (int i = 0; i < rt->n_candidates; i++)
		if (rt->candidates[i] == u)
			return i;
	return -1;
}

static enum sy_status need_candidate(struct y *y, const struct yaml_value *v, struct route_ctx *c,
                                     const char *name, int *out)
{
	*out = candidate_of(c->rt, c->r, name);
	if (*out < 0)
		return sy_error_set(y->err, SY_ERR_FORMAT,
		                    "%s: line %d: route %s: \"%s\" is not one of its candidates",
		                    y->d->name, line_of(v), c->rt->name, name);
	return SY_OK;
}

static enum sy_status breaker_field(struct y *y, const char *k, const struct yaml_value *v,
                                    void *ctx)
{
	struct route_def *rt = ctx;
	if (!strcmp(k, "failures"))
		return get_int(y, v, k, 1, 1000, &rt->breaker_failures);
	if (!strcmp(k, "cooldown_s"))
		return get_int(y, v, k, 0, 86400, &rt->breaker_cooldown_s);
	return yaml_unknown_key(y->d, v, k, "a breaker setting", breaker_keys, y->err);
}

/* One entry of a tier's map: candidate -> cheaper candidate. */
static enum sy_status tier_map_pair(struct y *y, const char *from, const struct yaml_value *v,
                                    void *ctx)
{
	struct route_ctx *c = ctx;
	struct budget_tier *t = &c->rt->tiers[c->rt->n_tiers - 1];
	if (!yaml_scalar(v))
		return bad(y, v, "must name a candidate", from);
	enum sy_status s = need_candidate(y, v, c, from, &t->from[t->n_map]);
	if (s == SY_OK)
		s = need_candidate(y, v, c, yaml_scalar(v), &t->to[t->n_map]);
	if (s == SY_OK && t->n_map + 1 >= ROUTER_MAX_CANDIDATES)
		s = bad(y, v, "has too many entries", "map");
	if (s == SY_OK)
		t->n_map++;
	return s;
}

/* tiers: [{at: 0.5, map: {large: mini}}, {at: 0.8, map: {large: local, mini: local}}] */
static enum sy_status tiers_list(struct y *y, const struct yaml_value *v, struct route_ctx *c)
{
	struct route_def *rt = c->rt;
	if (!yaml_is_sequence(v) || yaml_count(v) < 1)
		return bad(y, v, "must be a list of {at: share, map: {candidate: cheaper}}",
		           "tiers");
	if (yaml_count(v) > ROUTER_MAX_TIERS)
		return bad(y, v, "may have at most 8 entries", "tiers");
	for (int i = 0; i < yaml_count(v); i++) {
		const struct yaml_value *m = yaml_seq_item(v, i);
		if (!yaml_is_mapping(m))
			return bad(y, m, "must be {at: share, map: {candidate: cheaper}}", "tier");
		struct budget_tier *t = &rt->tiers[rt->n_tiers++];
		memset(t, 0, sizeof *t);
		t->at = -1;
		for (int j = 0; j < yaml_count(m); j++) {
			const char *k = yaml_scalar(yaml_map_key(m, j));
			const struct yaml_value *val = yaml_map_value(m, j);
			enum sy_status s;
			if (k && !strcmp(k, "at"))
				s = get_num(y, val, "at", 0, 1, &t->at);
			else if (k && !strcmp(k, "map"))
				s = each_pair(y, val, "map", tier_map_pair, c);
			else
				s = yaml_unknown_key(y->d, val, k ? k : "?", "a tier setting",
				                     tier_keys, y->err);
			if (s != SY_OK)
				return s;
		}
		if (t->at < 0 || t->n_map == 0)
			return bad(y, m, "needs at and map", "tier");
		if (rt->n_tiers > 1 && t->at <= rt->tiers[rt->n_tiers - 2].at)
			return bad(y, m, "must come after a lower one (ascending at)", "tier");
	}
	return SY_OK;
}

static enum sy_status budget_field(struct y *y, const char *k, const struct yaml_value *v,
                                   void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	if (!strcmp(k, "tiers"))
		return tiers_list(y, v, c);
	if (!strcmp(k, "window")) {
		enum sy_status s = get_str(y, v, k, rt->budget_window, sizeof rt->budget_window);
		if (s == SY_OK && strcmp(rt->budget_window, "hourly") &&
		    strcmp(rt->budget_window, "daily") && strcmp(rt->budget_window, "monthly"))
			s = bad(y, v, "must be hourly, daily or monthly", k);
		return s;
	}
	if (!strcmp(k, "limit_usd"))
		return get_num(y, v, k, 0, 1e12, &rt->budget_limit_usd);
	if (!strcmp(k, "per_key_usd"))
		return get_num(y, v, k, 0, 1e12, &rt->budget_per_key_usd);
	if (!strcmp(k, "downgrade_at"))
		return get_num(y, v, k, 0, 1, &rt->budget_downgrade_at);
	return yaml_unknown_key(y->d, v, k, "a budget setting", budget_keys, y->err);
}

static enum sy_status verifier_field(struct y *y, const char *k, const struct yaml_value *v,
                                     void *ctx)
{
	struct verifier *vf = ctx;
	double d;
	enum sy_status s = SY_OK;
	if (!strcmp(k, "json"))
		return yaml_get_bool(y->d, v, k, y->err, &vf->json);
	if (!strcmp(k, "schema")) {
		cJSON_Delete(vf->schema);
		vf->schema = router_yaml_to_json(v);
		return SY_OK;
	}
	if (!strcmp(k, "regex")) {
		const char *p = yaml_scalar(v);
		if (!p)
			return bad(y, v, "must be a string", k);
		return verifier_set_regex(vf, p, y->err);
	}
	if (!strcmp(k, "min_length") || !strcmp(k, "max_length")) {
		s = get_num(y, v, k, 0, 1e9, &d);
		if (s == SY_OK)
			*(k[1] == 'i' ? &vf->min_length : &vf->max_length) = (long)d;
		return s;
	}
	if (!strcmp(k, "min_confidence"))
		return get_num(y, v, k, 0, 1, &vf->min_confidence);
	return yaml_unknown_key(y->d, v, k, "a verifier check", verifier_keys, y->err);
}

static enum sy_status judge_field(struct y *y, const char *k, const struct yaml_value *v, void *ctx)
{
	const struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	if (!strcmp(k, "upstream")) {
		char name[ROUTER_MAX_NAME];
		enum sy_status s = get_str(y, v, k, name, sizeof name);
		if (s == SY_OK && (rt->judge = upstream_index(c->r, name)) < 0)
			s = bad(y, v, "must name an upstream", k);
		return s;
	}
	if (!strcmp(k, "rubric")) {
		const char *p = yaml_scalar(v);
		if (!p || !p[0])
			return bad(y, v, "must be a non-empty string", k);
		free(rt->judge_rubric);
		rt->judge_rubric = strdup(p);
		return rt->judge_rubric ? SY_OK
		                        : sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	}
	if (!strcmp(k, "threshold"))
		return get_num(y, v, k, 0, 1e6, &rt->judge_threshold);
	if (!strcmp(k, "scale"))
		return get_num(y, v, k, 1e-6, 1e6, &rt->judge_scale);
	if (!strcmp(k, "timeout_ms"))
		return get_int(y, v, k, 1, 600000, &rt->judge_timeout_ms);
	if (!strcmp(k, "on_error")) {
		const char *p = yaml_scalar(v);
		if (p && !strcmp(p, "accept"))
			rt->judge_escalate_on_error = false;
		else if (p && !strcmp(p, "escalate"))
			rt->judge_escalate_on_error = true;
		else
			return bad(y, v, "must be accept or escalate", k);
		return SY_OK;
	}
	return yaml_unknown_key(y->d, v, k, "a judge setting", judge_keys, y->err);
}

static enum sy_status rule_if_field(struct y *y, const char *k, const struct yaml_value *v,
                                    void *ctx)
{
	struct rule *ru = ctx;
	double d;
	enum sy_status s;
	if (!strcmp(k, "keywords"))
		return get_strings(y, v, k, true, &ru->keywords, &ru->n_keywords);
	if (!strcmp(k, "tags"))
		return get_strings(y, v, k, false, &ru->tags, &ru->n_tags);
	if (!strcmp(k, "regex")) {
		const char *p = yaml_scalar(v);
		if (!p)
			return bad(y, v, "must be a string", k);
		int code;
		PCRE2_SIZE off;
		ru->regex = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
		                          &off, NULL);
		if (!ru->regex)
			return bad(y, v, "is not a valid PCRE2 pattern", k);
		/* The JIT makes matching far cheaper; where it is unavailable the interpreter runs,
		 * bounded by the match limits in policy.c either way. */
		pcre2_jit_compile(ru->regex, PCRE2_JIT_COMPLETE);
		snprintf(ru->regex_src, sizeof ru->regex_src, "%s", p);
		return SY_OK;
	}
	if (!strcmp(k, "on_limit")) {
		const char *p = yaml_scalar(v);
		if (!p || (strcmp(p, "match") && strcmp(p, "skip")))
			return bad(y, v, "must be match or skip", k);
		ru->regex_limit_skips = !strcmp(p, "skip");
		return SY_OK;
	}
	if (!strcmp(k, "min_length") || !strcmp(k, "max_length")) {
		s = get_num(y, v, k, 0, 1e12, &d);
		if (s == SY_OK)
			*(k[1] == 'i' ? &ru->min_length : &ru->max_length) = (long)d;
		return s;
	}
	if (!strcmp(k, "min_messages"))
		return get_int(y, v, k, 0, 1000000, &ru->min_messages);
	if (!strcmp(k, "max_messages"))
		return get_int(y, v, k, 0, 1000000, &ru->max_messages);
	if (!strcmp(k, "metadata")) {
		if (!yaml_is_mapping(v))
			return bad(y, v, "must be a mapping of key: value", k);
		int n = yaml_count(v);
		ru->meta_keys = calloc((size_t)n + 1, sizeof *ru->meta_keys);
		ru->meta_values = calloc((size_t)n + 1, sizeof *ru->meta_values);
		if (!ru->meta_keys || !ru->meta_values)
			return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
		for (int i = 0; i < n; i++) {
			const char *mk = yaml_scalar(yaml_map_key(v, i)),
			           *mv = yaml_scalar(yaml_map_value(v, i));
			if (!mk || !mv)
				return bad(y, v, "must map strings to strings", k);
			ru->meta_keys[ru->n_meta] = strdup(mk);
			ru->meta_values[ru->n_meta++] = strdup(mv);
		}
		return SY_OK;
	}
	return yaml_unknown_key(y->d, v, k, "a rule condition", rule_keys, y->err);
}

static enum sy_status rules_list(struct y *y, const struct yaml_value *v, struct route_ctx *c)
{
	struct route_def *rt = c->rt;
	if (!yaml_is_sequence(v))
		return bad(y, v, "must be a list of {if: {...}, then: candidate}", "rules");
	int n = yaml_count(v);
	rt->rules = calloc((size_t)(n ? n : 1), sizeof *rt->rules);
	if (!rt->rules)
		return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const struct yaml_value *m = yaml_seq_item(v, i);
		struct rule *ru = &rt->rules[rt->n_rules++];
		ru->min_length = ru->max_length = -1;
		ru->min_messages = ru->max_messages = -1;
		ru->then = -1;
		if (!yaml_is_mapping(m))
			return bad(y, m, "must be {if: {...}, then: candidate}", "rule");
		for (int j = 0; j < yaml_count(m); j++) {
			const char *k = yaml_scalar(yaml_map_key(m, j));
			const struct yaml_value *val = yaml_map_value(m, j);
			enum sy_status s;
			if (k && !strcmp(k, "if"))
				s = each_pair(y, val, "if", rule_if_field, ru);
			else if (k && !strcmp(k, "then") && yaml_scalar(val))
				s = need_candidate(y, val, c, yaml_scalar(val), &ru->then);
			else
				s = bad(y, val, "is not part of a rule (if, then)", k ? k : "?");
			if (s != SY_OK)
				return s;
		}
		if (ru->then < 0)
			return bad(y, m, "needs then: candidate", "rule");
	}
	return SY_OK;
}

static enum sy_status semantic_field(struct y *y, const char *k, const struct yaml_value *v,
                                     void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	double d;
	if (!strcmp(k, "encoder"))
		return get_str(y, v, k, rt->encoder, sizeof rt->encoder);
	if (!strcmp(k, "threshold")) {
		enum sy_status s = get_num(y, v, k, -1, 1, &d);
		rt->semantic_threshold = (float)d;
		return s;
	}
	if (!strcmp(k, "examples")) {
		if (!yaml_is_mapping(v))
			return bad(y, v, "must map candidates to lists of example utterances", k);
		int n = yaml_count(v);
		rt->targets = calloc((size_t)(n ? n : 1), sizeof *rt->targets);
		if (!rt->targets)
			return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
		for (int i = 0; i < n; i++) {
			struct semantic_target *t = &rt->targets[rt->n_targets++];
			t->threshold = -1;
			const struct yaml_value *kv = yaml_map_key(v, i),
			                        *ex = yaml_map_value(v, i);
			const char *cand = yaml_scalar(kv);
			enum sy_status s = need_candidate(y, kv, c, cand, &t->candidate);
			if (s == SY_OK)
				s = get_strings(y, ex, "examples", false, &t->examples,
				                &t->n_examples);
			if (s == SY_OK && t->n_examples == 0)
				s = bad(y, ex, "needs at least one example", cand);
			if (s != SY_OK)
				return s;
		}
		return SY_OK;
	}
	return yaml_unknown_key(y->d, v, k, "a semantic setting", semantic_keys, y->err);
}

static enum sy_status learned_field(struct y *y, const char *k, const struct yaml_value *v,
                                    void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	if (!strcmp(k, "model_file")) {
		const char *p = yaml_scalar(v);
		if (!p)
			return bad(y, v, "must be a path", k);
		/* Relative to the config file's folder. */
		char path[1024];
		const char *slash = strrchr(y->d->name, '/');
		if (p[0] != '/' && slash)
			snprintf(path, sizeof path, "%.*s/%s", (int)(slash - y->d->name),
			         y->d->name, p);
		else
			snprintf(path, sizeof path, "%s", p);
		classifier_free(rt->classifier);
		rt->classifier = NULL;
		enum sy_status s = classifier_load(path, y->err, &rt->classifier);
		if (s != SY_OK)
			sy_error_prefix(y->err, "%s: line %d: route %s: ", y->d->name, line_of(v),
			                rt->name);
		if (s == SY_OK && !rt->encoder[0])
			snprintf(rt->encoder, sizeof rt->encoder, "%s", rt->classifier->encoder);
		return s;
	}
	if (!strcmp(k, "encoder"))
		return get_str(y, v, k, rt->encoder, sizeof rt->encoder);
	if (!strcmp(k, "strong") || !strcmp(k, "weak")) {
		const char *n = yaml_scalar(v);
		return n ? need_candidate(y, v, c, n, k[0] == 's' ? &rt->strong : &rt->weak)
		         : bad(y, v, "must be a candidate", k);
	}
	if (!strcmp(k, "threshold")) {
		double d;
		enum sy_status s = get_num(y, v, k, 0, 1, &d);
		rt->sw_threshold = (float)d;
		return s;
	}
	return yaml_unknown_key(y->d, v, k, "a learned/strong_weak setting", learned_keys, y->err);
}

static enum sy_status llm_clf_field(struct y *y, const char *k, const struct yaml_value *v,
                                    void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	if (!strcmp(k, "upstream")) {
		const char *n = yaml_scalar(v);
		rt->clf_upstream = n ? upstream_index(c->r, n) : -1;
		return rt->clf_upstream >= 0 ? SY_OK : bad(y, v, "must name an upstream", k);
	}
	if (!strcmp(k, "timeout_ms"))
		return get_int(y, v, k, 1, 600000, &rt->clf_timeout_ms);
	if (!strcmp(k, "labels")) {
		if (!yaml_is_mapping(v))
			return bad(y, v, "must map candidates to descriptions", k);
		int n = yaml_count(v);
		rt->clf_labels = calloc((size_t)n + 1, sizeof *rt->clf_labels);
		rt->clf_descriptions = calloc((size_t)n + 1, sizeof *rt->clf_descriptions);
		rt->clf_candidates = calloc((size_t)n + 1, sizeof *rt->clf_candidates);
		if (!rt->clf_labels || !rt->clf_descriptions || !rt->clf_candidates)
			return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
		for (int i = 0; i < n; i++) {
			const char *cand = yaml_scalar(yaml_map_key(v, i)),
			           *desc = yaml_scalar(yaml_map_value(v, i));
			if (!cand || !desc)
				return bad(y, v, "must map candidate names to descriptions", k);
			enum sy_status s =
			    need_candidate(y, v, c, cand, &rt->clf_candidates[rt->n_clf]);
			if (s != SY_OK)
				return s;
			rt->clf_labels[rt->n_clf] = strdup(cand);
			rt->clf_descriptions[rt->n_clf++] = strdup(desc);
		}
		return SY_OK;
	}
	return yaml_unknown_key(y->d, v, k, "an llm_classifier setting", llm_classifier_keys,
	                        y->err);
}

/* split: {by: request_id | random, arms: {candidate: weight, ...}} */
static enum sy_status split_arm(struct y *y, const char *name, const struct yaml_value *v,
                                void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	const int cand = candidate_of(rt, c->r, name);
	if (cand < 0)
		return bad(y, v, "is not a candidate of the route", name);
	double w;
	enum sy_status s = get_num(y, v, name, 0, 1e9, &w);
	if (s != SY_OK)
		return s;
	for (int i = 0; i < rt->n_split; i++)
		if (rt->split_arms[i] == cand)
			return bad(y, v, "is an arm twice", name);
	rt->split_arms[rt->n_split] = cand;
	rt->split_weights[rt->n_split++] = w;
	return SY_OK;
}

static enum sy_status split_field(struct y *y, const char *k, const struct yaml_value *v, void *ctx)
{
	struct route_ctx *c = ctx;
	if (!strcmp(k, "by")) {
		char by[32];
		enum sy_status s = get_str(y, v, k, by, sizeof by);
		if (s == SY_OK && strcmp(by, "request_id") && strcmp(by, "random"))
			s = bad(y, v, "must be request_id or random", k);
		c->rt->split_random = s == SY_OK && !strcmp(by, "random");
		return s;
	}
	if (!strcmp(k, "arms")) {
		enum sy_status s = each_pair(y, v, k, split_arm, c);
		double sum = 0;
		for (int i = 0; i < c->rt->n_split; i++)
			sum += c->rt->split_weights[i];
		if (s == SY_OK && (c->rt->n_split < 1 || !(sum > 0)))
			s = bad(y, v, "need at least one arm with a weight above 0", k);
		return s;
	}
	return yaml_unknown_key(y->d, v, k, "a split setting", split_keys, y->err);
}

static enum sy_status route_field(struct y *y, const char *k, const struct yaml_value *v, void *ctx)
{
	struct route_ctx *c = ctx;
	struct route_def *rt = c->rt;
	if (!strcmp(k, "policy")) {
		static const char *const names[] = {"static",  "rules",       "semantic",
		                                    "learned", "strong_weak", "llm_classifier",
		                                    "cascade"};
		const char *p = yaml_scalar(v);
		for (int i = 0; p && i < 7; i++)
			if (!strcmp(p, names[i])) {
				rt->policy = (enum policy_kind)i;
				return SY_OK;
			}
		return bad(y, v,
		           "must be static, rules, semantic, learned, strong_weak, llm_classifier "
		           "or cascade",
		           k);
	}
	if (!strcmp(k, "candidates"))
		return SY_OK; /* read first, by route_entry */
	if (!strcmp(k, "default")) {
		const char *n = yaml_scalar(v);
		return n ? need_candidate(y, v, c, n, &rt->default_candidate)
		         : bad(y, v, "must be a candidate", k);
	}
	if (!strcmp(k, "retries"))
		return get_int(y, v, k, 0, 10, &rt->retries);
	if (!strcmp(k, "fallback"))
		return yaml_get_bool(y->d, v, k, y->err, &rt->fallback);
	if (!strcmp(k, "max_retry_after_s"))
		return get_int(y, v, k, 0, 3600, &rt->max_retry_after_s);
	if (!strcmp(k, "race"))
		return get_int(y, v, k, 0, 16, &rt->race);
	if (!strcmp(k, "breaker"))
		return each_pair(y, v, k, breaker_field, rt);
	if (!strcmp(k, "split"))
		return each_pair(y, v, k, split_field, c);
	if (!strcmp(k, "shadow")) {
		char name[ROUTER_MAX_NAME];
		enum sy_status s = get_str(y, v, k, name, sizeof name);
		if (s == SY_OK && (rt->shadow = upstream_index(c->r, name)) < 0)
			s = bad(y, v, "must name an upstream", k);
		return s;
	}
	if (!strcmp(k, "shadow_share"))
		return get_num(y, v, k, 0, 1, &rt->shadow_share);
	if (!strcmp(k, "budget"))
		return each_pair(y, v, k, budget_field, c);
	if (!strcmp(k, "verifier")) {
		rt->has_verifier = true;
		return each_pair(y, v, k, verifier_field, &rt->verifier);
	}
	if (!strcmp(k, "rules"))
		return rules_list(y, v, c);
	if (!strcmp(k, "semantic"))
		return each_pair(y, v, k, semantic_field, c);
	if (!strcmp(k, "learned") || !strcmp(k, "strong_weak"))
		return each_pair(y, v, k, learned_field, c);
	if (!strcmp(k, "llm_classifier"))
		return each_pair(y, v, k, llm_clf_field, c);
	if (!strcmp(k, "judge")) {
		enum sy_status s = each_pair(y, v, k, judge_field, c);
		if (s == SY_OK && rt->judge < 0)
			s = bad(y, v, "needs upstream: NAME", k);
		if (s == SY_OK && !(rt->judge_threshold > 0))
			s = bad(y, v, "needs threshold: a score above 0", k);
		if (s == SY_OK && rt->judge_threshold > rt->judge_scale)
			s = bad(y, v, "threshold must not exceed scale", k);
		return s;
	}
	return yaml_unknown_key(y->d, v, k, "a route setting", route_keys, y->err);
}

static enum sy_status route_entry(struct y *y, const char *name, const struct yaml_value *v,
                                  void *ctx)
{
	struct router *r = ctx;
	struct route_def *a = realloc(r->routes, (size_t)(r->n_routes + 1) * sizeof *r->routes);
	if (!a)
		return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	r->routes = a;
	struct route_def *rt = &r->routes[r->n_routes];
	memset(rt, 0, sizeof *rt);
	r->n_routes++; /* counted now so router_free releases what is parsed */
	if (strlen(name) >= sizeof rt->name)
		return bad(y, v, "is too long", "route name");
	snprintf(rt->name, sizeof rt->name, "%s", name);
	rt->fallback = true;
	rt->max_retry_after_s = 2;
	rt->breaker_failures = 3;
	rt->breaker_cooldown_s = 30;
	rt->budget_downgrade_at = 0.8;
	rt->semantic_threshold = 0.5f;
	rt->sw_threshold = 0.5f;
	rt->clf_upstream = -1;
	rt->clf_timeout_ms = 3000;
	rt->shadow = -1;
	rt->shadow_share = 1;
	rt->judge = -1;
	rt->judge_scale = 10;
	rt->judge_timeout_ms = 10000;
	rt->verifier.min_length = rt->verifier.max_length = -1;
	rt->verifier.min_confidence = -1;
	pthread_mutex_init(&rt->embed_mu, NULL);
	if (!yaml_is_mapping(v))
		return bad(y, v, "must be a mapping", name);
	/* candidates first: the other settings name them */
	const struct yaml_value *cands = yaml_lookup(v, "candidates");
	char **names = NULL;
	int n = 0;
	enum sy_status s = cands ? get_strings(y, cands, "candidates", false, &names, &n)
	                         : bad(y, v, "needs candidates: [upstream, ...]", name);
	if (s == SY_OK && n == 0)
		s = bad(y, cands, "must name at least one upstream", "candidates");
	if (s == SY_OK && n > ROUTER_MAX_CANDIDATES)
		s = bad(y, cands, "may name at most 32 upstreams", "candidates");
	if (s == SY_OK && !(rt->candidates = calloc((size_t)n, sizeof *rt->candidates)))
		s = sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < n; i++) {
		int u = upstream_index(r, names[i]);
		if (u < 0)
			s = sy_error_set(
			    y->err, SY_ERR_FORMAT,
			    "%s: line %d: route %s: candidate \"%s\" is not an upstream",
			    y->d->name, line_of(cands), name, names[i]);
		rt->candidates[rt->n_candidates++] = u;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct route_ctx c = {r, rt};
	if (s == SY_OK)
		s = each_pair(y, v, name, route_field, &c);
	if (s == SY_OK && (rt->policy == POLICY_LEARNED || rt->policy == POLICY_STRONG_WEAK) &&
	    !rt->classifier)
		s = bad(y, v, "needs a model_file (switchyard router train)", name);
	if (s == SY_OK && rt->judge >= 0 && rt->race >= 2)
		s = bad(y, v, "cannot race with a judge (the judge grades one answer at a time)",
		        name);
	if (s == SY_OK && rt->policy == POLICY_STRONG_WEAK && rt->classifier &&
	    rt->classifier->n_classes != 2)
		s = bad(y, v, "needs a two-class (strong/weak) model_file", name);
	if (s == SY_OK && rt->policy == POLICY_SEMANTIC && (!rt->n_targets || !rt->encoder[0]))
		s = bad(y, v, "needs semantic: {encoder, examples}", name);
	if (s == SY_OK && rt->policy == POLICY_LLM_CLASSIFIER &&
	    (rt->clf_upstream < 0 || !rt->n_clf))
		s = bad(y, v, "needs llm_classifier: {upstream, labels}", name);
	if (s == SY_OK && rt->policy == POLICY_STRONG_WEAK && rt->strong == rt->weak)
		s = bad(y, v, "needs strong and weak candidates that differ", name);
	if (s == SY_OK && rt->budget_window[0] && rt->budget_limit_usd <= 0 &&
	    rt->budget_per_key_usd <= 0)
		s = bad(y, v, "needs limit_usd or per_key_usd", "budget");
	return s;
}

static enum sy_status router_section(struct y *y, const char *k, const struct yaml_value *v,
                                     void *ctx)
{
	struct router *r = ctx;
	if (!strcmp(k, "decision_log"))
		return get_str(y, v, k, r->decision_log, sizeof r->decision_log);
	if (!strcmp(k, "shared_state")) {
		enum sy_status s = each_pair(y, v, k, shared_field, r);
		if (s == SY_OK && !r->shared_nats[0])
			s = bad(y, v, "needs nats: URL", k);
		return s;
	}
	return yaml_unknown_key(y->d, v, k, "a router setting", router_keys, y->err);
}

static enum sy_status top_entry(struct y *y, const char *k, const struct yaml_value *v, void *ctx)
{
	struct router *r = ctx;
	if (!strcmp(k, "upstreams"))
		return each_pair(y, v, k, upstream_entry, r);
	if (!strcmp(k, "tasks"))
		return router_tasks_read(y->d, v, y->err, r);
	if (!strcmp(k, "router"))
		return each_pair(y, v, k, router_section, r);
	return SY_OK; /* routes are read after the upstreams; the rest belongs to serve */
}

static enum sy_status routes_entry(struct y *y, const char *k, const struct yaml_value *v,
                                   void *ctx)
{
	if (!strcmp(k, "routes"))
		return each_pair(y, v, k, route_entry, ctx);
	return SY_OK;
}

enum sy_status router_load_text(const char *name, const char *text, size_t len,
                                const struct router_deps *deps, struct sy_error *err,
                                struct router **out)
{
	*out = NULL;
	struct router *r = calloc(1, sizeof *r);
	if (!r)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	r->deps = *deps;
	if (len == 0) {
		*out = r;
		return SY_OK;
	}
	struct yaml_doc *d;
	enum sy_status s = yaml_doc_load_text(name, text, len, err, &d);
	if (s != SY_OK) {
		free(r);
		return s;
	}
	struct y y = {d, err};
	if (d->root) {
		s = each_pair(&y, d->root, "the config", top_entry, r);
		if (s == SY_OK)
			s = each_pair(&y, d->root, "the config", routes_entry, r);
	}
	yaml_doc_free(d);
	/* budgets kept in NATS KV: connected here, so a config naming an unreachable NATS fails
	 * to load (with no state, as in the fuzzer, nothing connects) */
	if (s == SY_OK && r->shared_nats[0] && deps->state)
		s = state_shared_configure(deps->state, r->shared_nats,
		                           r->shared_bucket[0] ? r->shared_bucket : "SY_ROUTER",
		                           r->shared_breakers, r->shared_rates, err);
	if (s != SY_OK) {
		router_free(r);
		return s;
	}
	*out = r;
	return SY_OK;
}

enum sy_status router_load_file(const char *path, const struct router_deps *deps,
                                struct sy_error *err, struct router **out)
{
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	s = router_load_text(path, text, len, deps, err, out);
	free(text);
	return s;
}

static void free_strings(char **a, int n)
{
	for (int i = 0; a && i < n; i++)
		free(a[i]);
	free(a);
}

int router_unset_keys(const struct router *r,
                      void (*each)(const char *upstream, const char *env, void *ctx), void *ctx)
{
	int n = 0;
	for (int i = 0; r && i < r->n_upstreams; i++) {
		const struct upstream_def *u = &r->upstreams[i];
		if (!u->api_key_env[0] || getenv(u->api_key_env))
			continue;
		n++;
		if (each)
			each(u->name, u->api_key_env, ctx);
	}
	return n;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_routes; i++) {
		struct route_def *rt = &r->routes[i];
		free(rt->candidates);
		verifier_free(&rt->verifier);
		free(rt->judge_rubric);
		for (int k = 0; k < rt->n_rules; k++) {
			struct rule *ru = &rt->rules[k];
			free_strings(ru->keywords, ru->n_keywords);
			free_strings(ru->tags, ru->n_tags);
			free_strings(ru->meta_keys, ru->n_meta);
			free_strings(ru->meta_values, ru->n_meta);
			if (ru->regex)
				pcre2_code_free(ru->regex);
		}
		free(rt->rules);
		for (int k = 0; k < rt->n_targets; k++) {
			free_strings(rt->targets[k].examples, rt->targets[k].n_examples);
			free(rt->targets[k].vectors);
		}
		free(rt->targets);
		classifier_free(rt->classifier);
		free_strings(rt->clf_labels, rt->n_clf);
		free_strings(rt->clf_descriptions, rt->n_clf);
		free(rt->clf_candidates);
		pthread_mutex_destroy(&rt->embed_mu);
	}
	free(r->routes);
	router_tasks_free(r);
	free(r->upstreams);
	free(r);
}

int router_n_routes(const struct router *r)
{
	return r ? r->n_routes : 0;
}
