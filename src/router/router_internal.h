/* The routing layer's shared structures, for its files only (see router.h). */
#ifndef SY_ROUTER_ROUTER_INTERNAL_H
#define SY_ROUTER_ROUTER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "router/classifier.h"
#include "router/router.h"
#include "router/verifier.h"
#include "upstream/provider.h"

#define ROUTER_MAX_NAME 128

struct upstream_def {
	char name[ROUTER_MAX_NAME];
	enum upstream_kind kind; /* its wire format (kind: openai | anthropic | gemini) */
	char base_url[512]; /* up to /v1 */
	char api_key_env[128];
	char model[ROUTER_MAX_NAME]; /* the provider's model id */
	double price_input, price_output; /* USD per million tokens */
	int timeout_ms, ttft_timeout_ms, max_concurrency;
	int rpm, tpm; /* requests / tokens per minute to this upstream; 0: no limit */
};

enum policy_kind {
	POLICY_STATIC,
	POLICY_RULES,
	POLICY_SEMANTIC,
	POLICY_LEARNED,
	POLICY_STRONG_WEAK,
	POLICY_LLM_CLASSIFIER,
	POLICY_CASCADE,
};

/* Candidates a route may have: the chat stages order them in fixed arrays of this size. */
#define ROUTER_MAX_CANDIDATES 32

/* A budget tier: from `at` of the budget spent, candidates are replaced by cheaper ones. */
#define ROUTER_MAX_TIERS 8
struct budget_tier {
	double at; /* share of the limit spent, 0..1 */
	int from[ROUTER_MAX_CANDIDATES], to[ROUTER_MAX_CANDIDATES]; /* candidate indices */
	int n_map;
};

struct rule {
	char **keywords; /* lowercase; any matches */
	int n_keywords;
	pcre2_code *regex; /* JIT-compiled when the platform allows */
	char regex_src[256];
	bool regex_limit_skips; /* on_limit: skip; default (match) takes the rule when a regex
				   hits its work limit, so a prompt cannot steer around it */
	long min_length, max_length; /* characters of the conversation; -1: unset */
	int min_messages, max_messages; /* -1: unset */
	char **meta_keys, **meta_values; /* metadata key equals value */
	int n_meta;
	char **tags; /* metadata.tags contains every one */
	int n_tags;
	int then; /* candidate index */
};

struct semantic_target {
	int candidate;
	char **examples;
	int n_examples;
	float threshold; /* cosine; < 0: the route's */
	float *vectors; /* [n_examples][dims], normalised; embedded on first use */
};

struct route_def {
	char name[ROUTER_MAX_NAME];
	enum policy_kind policy;
	int *candidates; /* indices into router.upstreams, in order */
	int n_candidates;
	int default_candidate; /* index into candidates */
	int retries; /* extra attempts per candidate on retryable errors */
	bool fallback; /* try the next candidates after one fails (default true) */
	int max_retry_after_s; /* a Retry-After longer than this moves on (default 2) */
	int breaker_failures, breaker_cooldown_s; /* default 3 failures, 30 s */
	/* budget */
	char budget_window[16]; /* hourly, daily, monthly; "" none */
	double budget_limit_usd, budget_per_key_usd, budget_downgrade_at;
	struct budget_tier tiers[ROUTER_MAX_TIERS]; /* ascending by at; when any, they replace
						       downgrade_at's cheapest-first order */
	int n_tiers;
	/* racing */
	int race; /* 0/1: off; N: first N candidates at once */
	/* A/B split: the arm drawn by weight goes first (split_arms: candidate indices) */
	int split_arms[ROUTER_MAX_CANDIDATES];
	double split_weights[ROUTER_MAX_CANDIDATES]; /* as configured (any positive scale) */
	int n_split;
	bool split_random; /* by: random; default by request id (the same id, the same arm) */
	/* shadow: a copy of the request to this upstream, logged, never returned */
	int shadow; /* index into router.upstreams, -1 none */
	double shadow_share; /* share of requests shadowed (default 1) */
	/* verifier for cascade and racing */
	struct verifier verifier;
	bool has_verifier;
	/* LLM judge (judge:): an answer that passed the verifier is graded by this upstream, and
	 * one scored under judge_threshold escalates to the next candidate as a failed verifier
	 * does (chat_execute.c) */
	int judge; /* index into router.upstreams, -1 none */
	char *judge_rubric; /* owned; NULL: the default rubric */
	double judge_threshold, judge_scale; /* the score needed, out of judge_scale (default 10) */
	bool judge_escalate_on_error; /* on_error: escalate; default accept the answer */
	int judge_timeout_ms; /* default 10000 */
	/* rules */
	struct rule *rules;
	int n_rules;
	/* semantic */
	char encoder[ROUTER_MAX_NAME];
	float semantic_threshold;
	struct semantic_target *targets;
	int n_targets;
	int dims;
	pthread_mutex_t embed_mu;
	bool embedded;
	/* learned / strong_weak */
	struct classifier *classifier;
	char **class_candidates; /* learned: class label -> candidate name (default: same) */
	int strong, weak; /* candidate indices for strong_weak */
	float sw_threshold; /* P(weak good) >= threshold -> weak */
	/* llm classifier */
	int clf_upstream; /* index into router.upstreams */
	char **clf_labels, **clf_descriptions; /* label -> candidate name, description */
	int *clf_candidates;
	int n_clf;
	int clf_timeout_ms;
};

struct task_def {
	char name[ROUTER_MAX_NAME];
	char operation[16];
	char **models;
	double *weights;
	int n_models;
	char shadow[ROUTER_MAX_NAME];
};

struct router {
	struct router_deps deps;
	struct upstream_def *upstreams;
	int n_upstreams;
	struct route_def *routes;
	int n_routes;
	struct task_def *tasks;
	int n_tasks;
	char decision_log[512];
	char shared_nats[256], shared_bucket[64]; /* router.shared_state; "" none */
	bool shared_breakers, shared_rates; /* shared_state.breakers, .rate_limits */
};

/* Where upstream u's calls go (its kind, URL, model, the key from its api_key_env, timeouts);
 * the strings point into u and the environment (config.c). */
struct provider router_upstream_provider(const struct upstream_def *u);

/* ---- the task table (tasks.c) ---- */

struct yaml_doc;
struct yaml_value;

/* Reads the `tasks:` mapping of the config into r->tasks. */
enum sy_status router_tasks_read(const struct yaml_doc *d, const struct yaml_value *tasks,
                                 struct sy_error *err, struct router *r);
void router_tasks_free(struct router *r);

/* A YAML value as cJSON (config.c; for verifier schemas and evaluation suites): unquoted
 * numbers, true/false and null/~ take their JSON types, everything else is a string. NULL for
 * NULL; the caller deletes the result. */
struct cJSON *router_yaml_to_json(const struct yaml_value *n);

/* ---- shared state (state.c) ---- */

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/* Whether candidate `name` may be tried now (closed, or open past its cooldown: half-open
 * lets one probe through). */
bool state_breaker_allows(struct router_state *s, const char *name, int cooldown_s);
void state_breaker_record(struct router_state *s, const char *name, bool ok, int failures);
enum breaker_state state_breaker_get(struct router_state *s, const char *name, int cooldown_s);
/* Spend in the current window (hourly/daily/monthly) for key ("route:<r>" or "key:<k>"). */
double state_spend(struct router_state *s, const char *key, const char *window);
void state_spend_add(struct router_state *s, const char *key, const char *window, double usd);
/* In-flight calls per upstream, for max_concurrency. */
bool state_concurrency_take(struct router_state *s, const char *name, int max);
void state_concurrency_release(struct router_state *s, const char *name);
/* Rate limits per upstream over a sliding minute (one-second buckets): takes one request when
 * fewer than rpm were sent and fewer than tpm tokens were used in the last 60 s (0: no such
 * limit) and returns true; otherwise returns false with the seconds until the oldest request
 * or tokens counted leave the window in *retry_after_s (at least 1). */
bool state_rate_take(struct router_state *s, const char *name, int rpm, int tpm,
                     int *retry_after_s);
/* Counts tokens an upstream's answer used (its usage) against its tpm. */
void state_rate_tokens(struct router_state *s, const char *name, long tokens);
/* Shadow calls in flight: router_state_free waits until every begin had its end. */
void state_shadow_begin(struct router_state *s);
void state_shadow_end(struct router_state *s);
void state_count(struct router_state *s, const char *counter, const char *route, const char *label,
                 double add);
void state_metrics_write(struct router_state *s, struct sbuf *b);
void state_log_line(struct router_state *s, const char *path, const char *line);
/* The last STATE_DECISIONS_KEPT decisions by request id (a ring), for feedback. */
#define STATE_DECISIONS_KEPT 8192
void state_decision_remember(struct router_state *s, const char *request_id, const char *route,
                             const char *candidate);
/* Finds the newest decision of request_id: route and candidate ("" when none answered) into
 * route[cap] and candidate[cap]; false when it is not (or no longer) kept. */
bool state_decision_find(struct router_state *s, const char *request_id, char *route,
                         char *candidate, size_t cap);

/* ---- spend shared through NATS KV (state_shared.c) ---- */

struct state_shared;
enum sy_status state_shared_open(const char *url, const char *bucket, struct sy_error *err,
                                 struct state_shared **out);
void state_shared_close(struct state_shared *sh);
bool state_shared_same(const struct state_shared *sh, const char *url, const char *bucket);
/* The shared spend of key in window's current period; false when NATS could not answer. */
bool state_shared_spend(struct state_shared *sh, const char *key, const char *window, long period,
                        double *usd);
/* Adds to it (compare-and-set on the key's revision); false when NATS could not take it. */
bool state_shared_spend_add(struct state_shared *sh, const char *key, const char *window,
                            long period, double add);
/* Values of other kinds (kind "breaker" or "rate": one key per name, kind.<hash of name>) held
 * as text of at most STATE_SHARED_VALUE_MAX - 1 bytes. state_shared_read writes the value of
 * name into buf[cap] ("" when none yet); false when NATS could not answer. */
#define STATE_SHARED_VALUE_MAX 4096
bool state_shared_read(struct state_shared *sh, const char *kind, const char *name, char *buf,
                       size_t cap);
/* A compare-and-set update: calls update(ctx, old, out, cap) with the value read ("" when none);
 * it writes the new value into out and returns true, or returns false to write nothing. When
 * another process wrote in between, it is called again on the newer value (so it must compute
 * out from old and ctx alone). False when NATS could not take it. */
typedef bool (*state_shared_fn)(void *ctx, const char *old, char *out, size_t cap);
bool state_shared_update(struct state_shared *sh, const char *kind, const char *name,
                         state_shared_fn update, void *ctx);
/* Makes s keep budget spend in the NATS KV bucket at url (once: a later call with the same url
 * and bucket does nothing, with another one it is refused until a restart); breakers and
 * rate_limits say whether the circuit breakers and the rpm/tpm windows are kept there too
 * (each config load sets them). */
enum sy_status state_shared_configure(struct router_state *s, const char *url, const char *bucket,
                                      bool breakers, bool rate_limits, struct sy_error *err);

/* ---- policies (policy.c) ---- */

struct chat_features {
	const char *last_user; /* text of the last user message ("" when none) */
	long chars; /* characters over all messages */
	int n_messages;
	const void *metadata; /* cJSON object or NULL */
};

/* Orders the route's candidates for a request: writes order[n] (candidate indices, the chosen
 * one first, then the rest in the route's fallback order) and the reason and signals. */
int policy_order(struct router *r, struct route_def *rt, const struct chat_features *f, int *order,
                 char *reason, size_t reason_cap, char *signals, size_t signals_cap);
const char *policy_name(enum policy_kind k);

/* Embeds texts with a local model through the engine into out[n][dims] (normalised). */
enum sy_status router_embed(struct router *r, const char *model, const char *const *texts, int n,
                            struct sy_error *err, float **out, int *dims);

#endif
