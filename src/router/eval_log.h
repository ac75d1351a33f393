/* `switchyard eval log`: what production traffic says about each candidate. A decision log
 * (router.decision_log: one JSON line per routed request, plus the "feedback" lines POST
 * /v1/feedback adds) and optionally a separate feedback file (JSONL of {request_id, score
 * and/or label}) are joined by request id into per route and candidate numbers: requests,
 * errors, tokens, cost, p50/p95 latency, feedback received, success rate, mean score and
 * misroutes. */
#ifndef SY_ROUTER_EVAL_LOG_H
#define SY_ROUTER_EVAL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/sbuf.h"
#include "base/status.h"

/* Appends the summary to out: JSON ({"routes":{ROUTE:{CANDIDATE:{...}}},"requests":N,
 * "feedback":N,"unmatched_feedback":N}) or a text table. fb may be NULL. Lines that are not
 * JSON objects fail naming the file and line. */
enum sy_status eval_log_summarize(const char *log_name, const char *log, size_t log_len,
                                  const char *fb_name, const char *fb, size_t fb_len, bool json,
                                  struct sbuf *out, struct sy_error *err);

#endif
