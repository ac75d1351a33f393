/* Feedback on routed answers (POST /v1/feedback, router.h): a caller names a request by the
 * X-Request-ID its answer carried and says how it went (a score in [0, 1], a label, a comment).
 * The feedback is joined to that request's decision (route and candidate), kept in the router
 * state for the last STATE_DECISIONS_KEPT requests, then written to the decision log as a
 * "feedback" line next to the decision lines and counted per route and candidate, so that
 * `switchyard eval log` and the Prometheus counters show quality per candidate. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/json_write.h"
#include "router/router_internal.h"

static const char *const good_labels[] = {"good",    "correct", "positive",  "success",
                                          "helpful", "up",      "thumbs_up", NULL};

static bool label_is_good(const char *label)
{
	for (int i = 0; good_labels[i]; i++)
		if (!strcasecmp(label, good_labels[i]))
			return true;
	return false;
}

enum sy_status router_feedback(struct router *r, const char *body, size_t len, struct sy_error *err,
                               char *route, char *model, size_t cap)
{
	cJSON *doc = cJSON_ParseWithLength(body, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "request_id");
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(doc, "score");
	const cJSON *label = cJSON_GetObjectItemCaseSensitive(doc, "label");
	const cJSON *comment = cJSON_GetObjectItemCaseSensitive(doc, "comment");
	enum sy_status s = SY_OK;
	if (!cJSON_IsObject(doc))
		s = sy_error_set(err, SY_ERR_INVALID_ARG, "the body is not a JSON object");
	else if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) > 128)
		s = sy_error_set(err, SY_ERR_INVALID_ARG,
		                 "request_id: expected the X-Request-ID of an answer (a string)");
	else if (score &&
	         (!cJSON_IsNumber(score) || !(score->valuedouble >= 0) || score->valuedouble > 1))
		s = sy_error_set(err, SY_ERR_INVALID_ARG, "score: expected a number from 0 to 1");
	else if (label && (!cJSON_IsString(label) || strlen(label->valuestring) > 64))
		s = sy_error_set(err, SY_ERR_INVALID_ARG, "label: expected a string (64 at most)");
	else if (!score && !label)
		s = sy_error_set(err, SY_ERR_INVALID_ARG, "feedback needs a score or a label");
	else if (comment && (!cJSON_IsString(comment) || strlen(comment->valuestring) > 4096))
		s = sy_error_set(err, SY_ERR_INVALID_ARG,
		                 "comment: expected a string (4096 at most)");
	else if (!state_decision_find(r->deps.state, id->valuestring, route, model, cap))
		s = sy_error_set(err, SY_ERR_NOT_FOUND,
		                 "request_id '%s': no routed request with this id (the last %d "
		                 "are kept)",
		                 id->valuestring, STATE_DECISIONS_KEPT);
	if (s != SY_OK) {
		cJSON_Delete(doc);
		return s;
	}
	const bool success = score ? score->valuedouble >= 0.5 : label_is_good(label->valuestring);
	const bool misroute = label && !strcasecmp(label->valuestring, "misroute");
	struct router_state *st = r->deps.state;
	state_count(st, "feedback", route, model, 1);
	if (success)
		state_count(st, "feedback_success", route, model, 1);
	if (misroute)
		state_count(st, "misroutes", route, model, 1);
	if (r->decision_log[0]) {
		struct sbuf b = {0};
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		char ts[32];
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		sbuf_printf(&b, "{\"time\":\"%s\",\"type\":\"feedback\",\"request_id\":", ts);
		json_write_str(&b, id->valuestring, -1);
		sbuf_puts(&b, ",\"route\":");
		json_write_str(&b, route, -1);
		sbuf_puts(&b, ",\"choice\":");
		json_write_str(&b, model, -1);
		if (score)
			sbuf_printf(&b, ",\"score\":%.6g", score->valuedouble);
		if (label) {
			sbuf_puts(&b, ",\"label\":");
			json_write_str(&b, label->valuestring, -1);
		}
		if (comment) {
			sbuf_puts(&b, ",\"comment\":");
			json_write_str(&b, comment->valuestring, -1);
		}
		sbuf_printf(&b, ",\"success\":%s}", success ? "true" : "false");
		if (!b.oom)
			state_log_line(st, r->decision_log, b.data);
		sbuf_free(&b);
	}
	cJSON_Delete(doc);
	return SY_OK;
}
