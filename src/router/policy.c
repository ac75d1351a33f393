/* Routing policies: each orders a route's candidates for one request and says why
 * (router_internal.h, docs/ROUTING.md). The chosen candidate comes first; the others follow in
 * the route's own order, so a failure falls back along the configured chain. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "base/json_write.h"
#include "router/candidates.h"
#include "router/router_internal.h"

const char *policy_name(enum policy_kind k)
{
	static const char *const names[] = {"static",      "rules",          "semantic", "learned",
	                                    "strong_weak", "llm_classifier", "cascade"};
	return (unsigned)k < 7 ? names[k] : "?";
}

/* order = [first, the other candidates in route order] */
/* Signals go into the decision log as a JSON object; names and labels in them may come from a
 * model's answer, so they are written escaped. The object is kept only when it fits whole (a cut
 * one would break the log's line); else "{}". Frees b. */
static void signals_set(char *signals, size_t scap, struct sbuf *b)
{
	if (!b->oom && b->data && b->len < scap)
		memcpy(signals, b->data, b->len + 1);
	else
		snprintf(signals, scap, "{}");
	sbuf_free(b);
}

static int order_from(const struct route_def *rt, int first, int *order)
{
	int n = 0;
	order[n++] = first;
	for (int i = 0; i < rt->n_candidates; i++)
		if (i != first)
			order[n++] = i;
	return n;
}

static const char *cand_name(const struct router *r, const struct route_def *rt, int i)
{
	return r->upstreams[rt->candidates[i]].name;
}

enum sy_status router_embed(struct router *r, const char *model, const char *const *texts, int n,
                            struct sy_error *err, float **out, int *dims)
{
	*out = NULL;
	size_t *lens = malloc((size_t)n * sizeof *lens);
	if (!lens)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	struct engine_encode_request req = {
	    .items = {model, n, texts, lens, true}, .outputs = ENGINE_OUTPUT_DENSE, .normalize = 1};
	struct engine_result res;
	enum sy_status s = r->deps.engine ? engine_encode(r->deps.engine, &req, err, &res)
	                                  : sy_error_set(err, SY_ERR_UNAVAILABLE, "no engine");
	free(lens);
	if (s != SY_OK)
		return s;
	/* Normalise here too: USE-lite and others already do, a model configured otherwise may
	 * not. */
	for (int i = 0; i < n; i++) {
		float *v = res.dense + (size_t)i * res.dims;
		double ss = 0;
		for (int d = 0; d < res.dims; d++)
			ss += (double)v[d] * v[d];
		float inv = (float)(1 / fmax(sqrt(ss), 1e-12));
		for (int d = 0; d < res.dims; d++)
			v[d] *= inv;
	}
	*out = res.dense;
	*dims = res.dims;
	res.dense = NULL;
	engine_result_free(&res);
	return SY_OK;
}

/* ---- rules ---- */

static bool contains_word_ci(const char *text, const char *kw)
{
	return kw[0] && strcasestr(text, kw) != NULL;
}

static const char *meta_str(const cJSON *meta, const char *k, char *buf, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, k);
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(buf, cap, "%g", v->valuedouble);
		return buf;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	return NULL;
}

/* Work bounds for a rule's regex on a prompt: a pattern such as ^(\w+\s?)*$ backtracks
 * exponentially. A hit is an error (logged, counted) that by default takes the rule rather than
 * silently skipping it, so an expensive prompt cannot route around it. */
#define RULE_MATCH_LIMIT 100000
#define RULE_DEPTH_LIMIT 10000

static int regex_match(struct router *r, const struct route_def *rt, const struct rule *ru,
                       const char *text)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(ru->regex, NULL);
	int rc = -1;
	if (mc && md) {
		pcre2_set_match_limit(mc, RULE_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, RULE_DEPTH_LIMIT);
		rc = pcre2_match(ru->regex, (PCRE2_SPTR)text, strlen(text), 0, 0, md, mc);
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT) {
		sy_log(SY_LOG_WARN, "router: route %s: regex /%.60s/ hit its work limit (%s)",
		       rt->name, ru->regex_src,
		       ru->regex_limit_skips ? "rule skipped" : "rule taken");
		char label[32]; /* the rule's number: patterns hold quotes and backslashes */
		snprintf(label, sizeof label, "rule %d", (int)(ru - rt->rules) + 1);
		state_count(r->deps.state, "regex_limits", rt->name, label, 1);
		return ru->regex_limit_skips ? 0 : 1;
	}
	return rc >= 0;
}

static bool rule_matches(struct router *r, const struct route_def *rt, const struct rule *ru,
                         const struct chat_features *f, char *why, size_t cap)
{
	const cJSON *meta = f->metadata;
	if (ru->n_keywords) {
		int hit = -1;
		for (int i = 0; i < ru->n_keywords && hit < 0; i++)
			if (contains_word_ci(f->last_user, ru->keywords[i]))
				hit = i;
		if (hit < 0)
			return false;
		snprintf(why, cap, "keyword \"%s\"", ru->keywords[hit]);
	}
	if (ru->regex) {
		if (!regex_match(r, rt, ru, f->last_user))
			return false;
		snprintf(why, cap, "regex /%.100s/", ru->regex_src);
	}
	if (ru->min_length >= 0 && f->chars < ru->min_length)
		return false;
	if (ru->max_length >= 0 && f->chars > ru->max_length)
		return false;
	if (ru->min_length >= 0 || ru->max_length >= 0)
		snprintf(why, cap, "length %ld", f->chars);
	if (ru->min_messages >= 0 && f->n_messages < ru->min_messages)
		return false;
	if (ru->max_messages >= 0 && f->n_messages > ru->max_messages)
		return false;
	if (ru->min_messages >= 0 || ru->max_messages >= 0)
		snprintf(why, cap, "%d messages", f->n_messages);
	for (int i = 0; i < ru->n_meta; i++) {
		char buf[64];
		const char *v = meta ? meta_str(meta, ru->meta_keys[i], buf, sizeof buf) : NULL;
		if (!v || strcmp(v, ru->meta_values[i]) != 0)
			return false;
		snprintf(why, cap, "metadata %s=%s", ru->meta_keys[i], ru->meta_values[i]);
	}
	if (ru->n_tags) {
		const cJSON *tags = meta ? cJSON_GetObjectItemCaseSensitive(meta, "tags") : NULL;
		for (int i = 0; i < ru->n_tags; i++) {
			bool found = false;
			const cJSON *t;
			cJSON_ArrayForEach(t, tags) found |=
			    cJSON_IsString(t) && !strcmp(t->valuestring, ru->tags[i]);
			if (!found)
				return false;
		}
		snprintf(why, cap, "tag \"%s\"", ru->tags[0]);
	}
	return true;
}

/* ---- semantic ---- */

static enum sy_status semantic_embed_examples(struct router *r, struct route_def *rt,
                                              struct sy_error *err)
{
	pthread_mutex_lock(&rt->embed_mu);
	enum sy_status s = SY_OK;
	for (int t = 0; !rt->embedded && s == SY_OK && t < rt->n_targets; t++) {
		struct semantic_target *tg = &rt->targets[t];
		if (tg->vectors)
			continue;
		s = router_embed(r, rt->encoder, (const char *const *)tg->examples, tg->n_examples,
		                 err, &tg->vectors, &rt->dims);
	}
	if (s == SY_OK)
		rt->embedded = true;
	pthread_mutex_unlock(&rt->embed_mu);
	return s;
}

static int policy_semantic(struct router *r, struct route_def *rt, const struct chat_features *f,
                           char *reason, size_t rcap, char *signals, size_t scap)
{
	struct sy_error err = {0};
	float *q = NULL;
	int dims = 0;
	const char *text = f->last_user[0] ? f->last_user : " ";
	if (semantic_embed_examples(r, rt, &err) != SY_OK ||
	    router_embed(r, rt->encoder, &text, 1, &err, &q, &dims) != SY_OK || dims != rt->dims) {
		snprintf(reason, rcap, "semantic: encoder %s failed (%s): default %s", rt->encoder,
		         err.msg, cand_name(r, rt, rt->default_candidate));
		free(q);
		return rt->default_candidate;
	}
	int best = -1;
	float best_sim = -2;
	struct sbuf sig = {0};
	sbuf_putc(&sig, '{');
	for (int t = 0; t < rt->n_targets; t++) {
		const struct semantic_target *tg = &rt->targets[t];
		float top = -2;
		for (int e = 0; e < tg->n_examples; e++) {
			double dot = 0;
			const float *v = tg->vectors + (size_t)e * dims;
			for (int d = 0; d < dims; d++)
				dot += (double)q[d] * v[d];
			if (dot > top)
				top = (float)dot;
		}
		if (t)
			sbuf_putc(&sig, ',');
		json_write_str(&sig, cand_name(r, rt, tg->candidate), -1);
		sbuf_printf(&sig, ":%.4f", top);
		const float th = tg->threshold >= 0 ? tg->threshold : rt->semantic_threshold;
		if (top >= th && top > best_sim) {
			best_sim = top;
			best = t;
		}
	}
	sbuf_putc(&sig, '}');
	signals_set(signals, scap, &sig);
	free(q);
	if (best < 0) {
		snprintf(reason, rcap, "semantic: no route above its threshold: default %s",
		         cand_name(r, rt, rt->default_candidate));
		return rt->default_candidate;
	}
	snprintf(reason, rcap, "semantic: nearest %s (cosine %.3f)",
	         cand_name(r, rt, rt->targets[best].candidate), best_sim);
	return rt->targets[best].candidate;
}

/* ---- learned and strong/weak ---- */

static int policy_learned(struct router *r, struct route_def *rt, const struct chat_features *f,
                          char *reason, size_t rcap, char *signals, size_t scap)
{
	struct sy_error err = {0};
	float *q = NULL;
	int dims = 0;
	const char *text = f->last_user[0] ? f->last_user : " ";
	const struct classifier *c = rt->classifier;
	if (router_embed(r, rt->encoder, &text, 1, &err, &q, &dims) != SY_OK || dims != c->dims) {
		snprintf(reason, rcap, "%s: encoder %s failed (%s): default %s",
		         policy_name(rt->policy), rt->encoder,
		         err.msg[0] ? err.msg : "dimension mismatch",
		         cand_name(r, rt, rt->default_candidate));
		free(q);
		return rt->default_candidate;
	}
	float probs[256];
	float *p = c->n_classes <= 256 ? probs : malloc((size_t)c->n_classes * sizeof *p);
	if (!p) {
		free(q);
		return rt->default_candidate;
	}
	int k = classifier_predict(c, q, p);
	int choice;
	if (rt->policy == POLICY_STRONG_WEAK) {
		/* class 1: the weak model will do */
		const double th = c->threshold >= 0 ? c->threshold : rt->sw_threshold;
		const double pw = classifier_p1(c, q);
		choice = pw >= th ? rt->weak : rt->strong;
		snprintf(signals, scap, "{\"p_weak_ok\":%.6f,\"threshold\":%.6f}", pw, th);
		snprintf(reason, rcap, "strong_weak: P(weak is good enough) %.3f %s %.3f: %s", pw,
		         pw >= th ? ">=" : "<", th, cand_name(r, rt, choice));
	} else {
		choice = -1;
		for (int i = 0; i < rt->n_candidates && choice < 0; i++)
			if (!strcmp(cand_name(r, rt, i), c->labels[k]))
				choice = i;
		struct sbuf sig = {0};
		sbuf_puts(&sig, "{\"label\":");
		json_write_str(&sig, c->labels[k], -1);
		sbuf_printf(&sig, ",\"p\":%.4f}", p[k]);
		signals_set(signals, scap, &sig);
		if (choice < 0) {
			snprintf(reason, rcap,
			         "learned: class \"%s\" (p %.3f) names no candidate: default %s",
			         c->labels[k], p[k], cand_name(r, rt, rt->default_candidate));
			choice = rt->default_candidate;
		} else {
			snprintf(reason, rcap, "learned: class %s (p %.3f)", c->labels[k], p[k]);
		}
	}
	free(q);
	if (p != probs)
		free(p);
	return choice;
}

/* ---- LLM classifier ---- */

static int policy_llm_classifier(struct router *r, struct route_def *rt,
                                 const struct chat_features *f, char *reason, size_t rcap,
                                 char *signals, size_t scap)
{
	const struct upstream_def *u = &r->upstreams[rt->clf_upstream];
	char *sys = NULL;
	size_t sys_len = 0;
	FILE *m = open_memstream(&sys, &sys_len);
	fprintf(m, "Classify the user's request. Answer with exactly one label and nothing else.\n"
	           "Labels:\n");
	for (int i = 0; i < rt->n_clf; i++)
		fprintf(m, "- %s: %s\n", rt->clf_labels[i], rt->clf_descriptions[i]);
	fclose(m);
	cJSON *req = cand_chat_body(u->model, sys, f->last_user, 8);
	free(sys);
	struct provider p = router_upstream_provider(u);
	p.timeout_ms = rt->clf_timeout_ms;
	p.ttfb_timeout_ms = 0;
	struct upstream_call *call = NULL;
	struct sy_error err = {0};
	int choice = -1;
	char label[128] = "";
	if (provider_chat_start(r->deps.upstream, &p, req, false, &err, &call) == SY_OK &&
	    upstream_call_wait(call, rt->clf_timeout_ms + 100) == UPSTREAM_DONE) {
		struct upstream_result res;
		upstream_call_result(call, &res);
		cJSON *doc = res.http_status / 100 == 2
		                 ? provider_chat_answer(u->kind, res.body, res.body_len)
		                 : NULL;
		const char *content = provider_answer_text(doc);
		if (content) {
			snprintf(label, sizeof label, "%s", content);
			/* trim spaces, quotes and a final period */
			char *a = label;
			while (*a && (isspace((unsigned char)*a) || *a == '"' || *a == '\''))
				a++;
			memmove(label, a, strlen(a) + 1);
			size_t n = strlen(label);
			while (n && (isspace((unsigned char)label[n - 1]) || label[n - 1] == '"' ||
			             label[n - 1] == '\'' || label[n - 1] == '.'))
				label[--n] = '\0';
			for (int i = 0; i < rt->n_clf && choice < 0; i++)
				if (!strcasecmp(label, rt->clf_labels[i]))
					choice = rt->clf_candidates[i];
		}
		cJSON_Delete(doc);
	} else if (!err.msg[0]) {
		snprintf(err.msg, sizeof err.msg, "no answer within %d ms", rt->clf_timeout_ms);
	}
	upstream_call_free(call);
	cJSON_Delete(req);
	struct sbuf sig = {0};
	sbuf_puts(&sig, "{\"classifier\":");
	json_write_str(&sig, u->name, -1);
	sbuf_puts(&sig, ",\"label\":");
	json_write_str(&sig, label, (long)strnlen(label, 60));
	sbuf_putc(&sig, '}');
	signals_set(signals, scap, &sig);
	if (choice < 0) {
		snprintf(reason, rcap, "llm_classifier: %s (%s): default %s",
		         label[0] ? "unknown label" : "no label", label[0] ? label : err.msg,
		         cand_name(r, rt, rt->default_candidate));
		return rt->default_candidate;
	}
	snprintf(reason, rcap, "llm_classifier: %s said %s", u->name, label);
	return choice;
}

int policy_order(struct router *r, struct route_def *rt, const struct chat_features *f, int *order,
                 char *reason, size_t reason_cap, char *signals, size_t signals_cap)
{
	snprintf(signals, signals_cap, "{}");
	int first = rt->default_candidate;
	switch (rt->policy) {
	case POLICY_STATIC:
		snprintf(reason, reason_cap, "static: %s", cand_name(r, rt, first));
		break;
	case POLICY_CASCADE:
		first = 0;
		snprintf(reason, reason_cap, "cascade: cheapest first (%s)", cand_name(r, rt, 0));
		break;
	case POLICY_RULES: {
		char why[160] = "";
		int hit = -1;
		for (int i = 0; i < rt->n_rules && hit < 0; i++)
			if (rule_matches(r, rt, &rt->rules[i], f, why, sizeof why))
				hit = i;
		if (hit >= 0) {
			first = rt->rules[hit].then;
			snprintf(reason, reason_cap, "rules: rule %d (%s): %s", hit + 1, why,
			         cand_name(r, rt, first));
			snprintf(signals, signals_cap,
			         "{\"rule\":%d,\"chars\":%ld,\"messages\":%d}", hit + 1, f->chars,
			         f->n_messages);
		} else {
			snprintf(reason, reason_cap, "rules: no rule matched: default %s",
			         cand_name(r, rt, first));
			snprintf(signals, signals_cap,
			         "{\"rule\":null,\"chars\":%ld,\"messages\":%d}", f->chars,
			         f->n_messages);
		}
		break;
	}
	case POLICY_SEMANTIC:
		first = policy_semantic(r, rt, f, reason, reason_cap, signals, signals_cap);
		break;
	case POLICY_LEARNED:
	case POLICY_STRONG_WEAK:
		first = policy_learned(r, rt, f, reason, reason_cap, signals, signals_cap);
		break;
	case POLICY_LLM_CLASSIFIER:
		first = policy_llm_classifier(r, rt, f, reason, reason_cap, signals, signals_cap);
		break;
	}
	return order_from(rt, first, order);
}
