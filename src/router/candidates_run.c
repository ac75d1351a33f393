/* Running an evaluation suite (candidates.h): every candidate of a step answers every example,
 * through the routing config's upstreams (their URLs, keys, models, timeouts and prices).
 *
 * One thread drives it: the upstream client's own thread does the I/O, and this loop keeps at
 * most `concurrency` examples in slots, each slot running a call or waiting out a Retry-After.
 * Failures are retried as routes retry them (408, 409, 429, 5xx, 401, 403, connection errors
 * and timeouts; after the upstream's Retry-After when it is at most max_retry_after_s, at once
 * when it gives none); an example whose tries all fail counts as wrong and as an error. With a
 * judge check, the answer then goes to the judge upstream (retried the same way), and what the
 * judge's calls cost is added to the candidate's cost.
 *
 * An upstream's rpm and tpm are honoured: a call that would pass them waits until the window
 * frees up (that wait is not counted as latency: the example starts when its call does).
 *
 * Latency is the wall time from an example's first try to its answer, retries included, as a
 * route's caller would see it; the judge's time is not part of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "router/candidates.h"
#include "router/chat_internal.h"

enum job_phase { JOB_PENDING, JOB_ANSWER, JOB_JUDGE, JOB_DONE };

struct job {
	int cand, ex;
	enum job_phase phase;
	struct upstream_call *call; /* NULL while waiting to retry */
	int tries; /* of the current phase */
	double t0_ms; /* the first try's start */
	double ready_ms; /* waiting: when to try again */
	char *answer; /* the candidate's content, kept for the judge */
};

struct run_ctx {
	struct router *r;
	const struct cand_suite *s;
	struct cand_step *st;
	double **lat; /* [n_candidates][n_examples] */
	int *n_lat;
};

static char *answer_body(const struct cand_step *st, const struct cand_example *ex,
                         const struct upstream_def *u)
{
	cJSON *b = st->params ? cJSON_Duplicate(st->params, true) : cJSON_CreateObject();
	if (!b)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(b, "model");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "messages");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "stream");
	cJSON_AddStringToObject(b, "model", u->model);
	cJSON_AddItemToObject(b, "messages", cJSON_Duplicate(ex->messages, true));
	char *s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

static const char default_rubric[] =
    "You grade an assistant's answer. Compare it with the expected answer and judge whether it "
    "is correct and complete.";

static char *judge_body(const struct cand_check *c, const struct cand_example *ex,
                        const char *answer, const struct upstream_def *judge)
{
	struct sbuf t = {0};
	sbuf_printf(&t,
	            "QUESTION:\n%s\n\nEXPECTED ANSWER:\n%s\n\nANSWER TO GRADE:\n%s\n\nReply with "
	            "one line \"score: N\", N a number from 0 to %g.",
	            ex->input, ex->expected, answer, c->scale);
	sbuf_putc(&t, '\0');
	size_t n;
	char *user = sbuf_take(&t, &n);
	cJSON *b = cand_chat_body(judge->model, c->rubric ? c->rubric : default_rubric, user, 16);
	free(user);
	char *s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

static const struct upstream_def *upstream_named(const struct router *r, const char *name)
{
	for (int i = 0; i < r->n_upstreams; i++)
		if (!strcmp(r->upstreams[i].name, name))
			return &r->upstreams[i];
	return NULL;
}

/* Starts the job's current phase; false when the call could not start. */
static bool job_start(struct run_ctx *x, struct job *j)
{
	const struct cand_step *st = x->st;
	const struct cand_example *ex = &st->examples[j->ex];
	const struct upstream_def *u = j->phase == JOB_JUDGE
	                                   ? upstream_named(x->r, st->check.judge)
	                                   : &x->r->upstreams[st->upstreams[j->cand]];
	char *body = j->phase == JOB_JUDGE ? judge_body(&st->check, ex, j->answer, u)
	                                   : answer_body(st, ex, u);
	j->tries++; /* a try even when it cannot start, so the retries end */
	if (!body)
		return false;
	cJSON *doc = cJSON_Parse(body);
	free(body);
	struct sy_error err = {0};
	if (j->phase == JOB_ANSWER && j->tries == 1)
		j->t0_ms = sy_now_ms();
	struct provider p = router_upstream_provider(u);
	enum sy_status s =
	    doc ? provider_chat_start(x->r->deps.upstream, &p, doc, false, &err, &j->call)
	        : SY_ERR_NOMEM;
	cJSON_Delete(doc);
	x->st->results[j->cand].calls++;
	return s == SY_OK;
}

/* The upstream of the job's phase. */
static const struct upstream_def *job_upstream(const struct run_ctx *x, const struct job *j)
{
	return j->phase == JOB_JUDGE ? upstream_named(x->r, x->st->check.judge)
	                             : &x->r->upstreams[x->st->upstreams[j->cand]];
}

/* The upstream's rpm/tpm, as routes honour them; an evaluation waits instead of moving on. */
static bool job_rate_allows(struct run_ctx *x, const struct job *j, int *wait_s)
{
	const struct upstream_def *u = job_upstream(x, j);
	return state_rate_take(x->r->deps.state, u->name, u->rpm, u->tpm, wait_s);
}

static bool retryable(int http)
{
	return http == 0 || http == 408 || http == 409 || http == 429 || http >= 500 ||
	       http == 401 || http == 403;
}

/* Handles a finished call (or one that did not start: call NULL); returns true when the job is
 * done. */
static bool job_finish(struct run_ctx *x, struct job *j, double now)
{
	struct cand_step *st = x->st;
	struct cand_result *res = &st->results[j->cand];
	const struct cand_example *ex = &st->examples[j->ex];
	int http = 0, ra = -1;
	cJSON *doc = NULL;
	const char *content = NULL;
	if (j->call) {
		struct upstream_result ur;
		enum upstream_state state = upstream_call_wait(j->call, 0);
		upstream_call_result(j->call, &ur);
		http = state == UPSTREAM_DONE ? ur.http_status : 0;
		ra = ur.retry_after_s;
		if (http / 100 == 2) {
			doc = provider_chat_answer(job_upstream(x, j)->kind, ur.body, ur.body_len);
			content = doc ? provider_answer_text(doc) : NULL;
			if (!content)
				http = 502; /* a 2xx that is not a chat completion: a failure */
		}
		upstream_call_free(j->call);
		j->call = NULL;
	}
	if (!content) {
		cJSON_Delete(doc);
		if (retryable(http) && j->tries <= x->s->retries && ra <= x->s->max_retry_after_s) {
			j->ready_ms = now + (ra > 0 ? ra * 1000.0 : 0);
			return false;
		}
		res->errors++;
		j->phase = JOB_DONE;
		return true;
	}
	long in = 0, out = 0;
	chat_find_usage(doc, &in, &out);
	state_rate_tokens(x->r->deps.state, job_upstream(x, j)->name, in + out);
	if (j->phase == JOB_ANSWER) {
		const struct upstream_def *u = &x->r->upstreams[st->upstreams[j->cand]];
		res->prompt_tokens += in;
		res->completion_tokens += out;
		res->cost_usd += cand_cost_usd(in, out, u->price_input, u->price_output);
		x->lat[j->cand][x->n_lat[j->cand]++] = now - j->t0_ms;
		if (st->check.kind == CAND_CHECK_JUDGE) {
			j->answer = strdup(content);
			cJSON_Delete(doc);
			j->phase = JOB_JUDGE;
			j->tries = 0;
			j->ready_ms = now;
			if (j->answer)
				return false; /* on to the judge */
			res->errors++;
			j->phase = JOB_DONE;
			return true;
		}
		res->correct += cand_check_answer(&st->check, content, ex->expected);
	} else { /* the judge's verdict */
		const struct upstream_def *u = upstream_named(x->r, st->check.judge);
		double c = cand_cost_usd(in, out, u->price_input, u->price_output);
		res->cost_usd += c;
		res->judge_cost_usd += c;
		double score = cand_judge_score(content);
		res->correct += score >= 0 && score / st->check.scale >= st->check.threshold;
	}
	cJSON_Delete(doc);
	j->phase = JOB_DONE;
	return true;
}

static void step_run(struct run_ctx *x, FILE *progress)
{
	struct cand_step *st = x->st;
	const int nc = st->n_candidates, ne = st->n_examples, n = nc * ne;
	const int conc = x->s->concurrency;
	struct job *jobs = calloc((size_t)n, sizeof *jobs);
	int *slot = malloc((size_t)conc * sizeof *slot);
	if (!jobs || !slot) {
		free(jobs);
		free(slot);
		return;
	}
	for (int k = 0; k < n; k++)
		jobs[k] = (struct job){.cand = k % nc, .ex = k / nc, .phase = JOB_PENDING};
	for (int i = 0; i < conc; i++)
		slot[i] = -1;
	int next = 0, done = 0;
	double last_report = sy_now_ms();
	while (done < n) {
		double now = sy_now_ms();
		int running = -1;
		for (int i = 0; i < conc; i++) {
			if (slot[i] < 0 && next < n) {
				slot[i] = next++;
				struct job *j = &jobs[slot[i]];
				j->phase = JOB_ANSWER;
				j->ready_ms = now;
			}
			if (slot[i] < 0)
				continue;
			struct job *j = &jobs[slot[i]];
			bool finished = false;
			int wait_s = 0;
			if (!j->call && now >= j->ready_ms && !job_rate_allows(x, j, &wait_s)) {
				j->ready_ms =
				    now + wait_s * 1000.0; /* at rpm/tpm: wait, not a try */
			} else if (!j->call && now >= j->ready_ms) {
				if (!job_start(x, j))
					finished = job_finish(x, j, now);
			} else if (j->call && upstream_call_wait(j->call, 0) != UPSTREAM_RUNNING) {
				finished = job_finish(x, j, sy_now_ms());
			}
			if (finished) {
				free(j->answer);
				j->answer = NULL;
				slot[i] = -1;
				done++;
				i--; /* refill this slot at once */
				continue;
			}
			if (j->call && running < 0)
				running = slot[i];
		}
		if (done < n) {
			/* sleep until something may have changed: a running call ends, or 2 ms */
			if (running >= 0 && jobs[running].call)
				upstream_call_wait(jobs[running].call, 2);
			else
				usleep(2000);
		}
		if (progress && sy_now_ms() - last_report >= 1000) {
			last_report = sy_now_ms();
			fprintf(progress, "eval candidates: step %s: %d/%d answers\n", st->name,
			        done, n);
		}
	}
	free(jobs);
	free(slot);
}

enum sy_status cand_suite_run(struct cand_suite *s, struct router *r, FILE *progress,
                              struct sy_error *err)
{
	for (int i = 0; i < s->n_steps; i++) {
		struct cand_step *st = &s->steps[i];
		free(st->results);
		st->results = calloc((size_t)st->n_candidates, sizeof *st->results);
		double **lat = calloc((size_t)st->n_candidates, sizeof *lat);
		int *n_lat = calloc((size_t)st->n_candidates, sizeof *n_lat);
		bool ok = st->results && lat && n_lat && st->upstreams;
		for (int c = 0; ok && c < st->n_candidates; c++) {
			lat[c] = malloc((size_t)st->n_examples * sizeof **lat);
			ok = lat[c] != NULL;
			snprintf(st->results[c].name, sizeof st->results[c].name, "%s",
			         st->candidates[c]);
			st->results[c].n = st->n_examples;
		}
		if (ok) {
			if (progress)
				fprintf(progress,
				        "eval candidates: step %s: %d examples x %d candidates\n",
				        st->name, st->n_examples, st->n_candidates);
			struct run_ctx x = {r, s, st, lat, n_lat};
			step_run(&x, progress);
			for (int c = 0; c < st->n_candidates; c++) {
				st->results[c].p50_ms = cand_percentile(lat[c], n_lat[c], 50);
				st->results[c].p95_ms = cand_percentile(lat[c], n_lat[c], 95);
			}
			cand_step_decide(st);
		}
		for (int c = 0; lat && c < st->n_candidates; c++)
			free(lat[c]);
		free(lat);
		free(n_lat);
		if (!ok)
			return sy_error_set(
			    err, st->upstreams ? SY_ERR_NOMEM : SY_ERR_INTERNAL, "%s",
			    st->upstreams ? "out of memory" : "the suite is not bound to a config");
		if (progress)
			fprintf(progress, "eval candidates: step %s: chosen %s\n", st->name,
			        st->chosen >= 0 ? st->candidates[st->chosen] : "none");
	}
	return SY_OK;
}
