/* `switchyard eval log --log DECISIONS.jsonl [--feedback FILE] [--json]`: per route and
 * candidate quality (feedback success rate, mean score, misroutes), cost and latency from what
 * production traffic logged (src/router/eval_log.h, docs/ROUTING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "router/eval_log.h"

enum { LOG_LOG, LOG_FEEDBACK, LOG_JSON };

static const struct cli_opt log_opts[] = {
    {"log", CLI_VALUE, "DECISIONS.jsonl", "the decision log (required)", .id = LOG_LOG},
    {"feedback", CLI_VALUE, "FILE", "JSONL of {request_id, score and/or label}",
     .id = LOG_FEEDBACK},
    {"json", CLI_SWITCH, NULL, "one JSON object instead of text lines", .id = LOG_JSON},
};

static const struct cli_cmd log_cmd = {
    "eval log",
    "usage: switchyard eval log --log DECISIONS.jsonl [--feedback FILE] [--json]\n",
    "Joins a decision log (router.decision_log, with the feedback lines POST\n"
    "/v1/feedback adds) and optionally a feedback file (JSONL of {request_id,\n"
    "score and/or label}) by request id, and prints per route and candidate the\n"
    "requests, errors, cost, p50/p95 latency, feedback, success rate, mean score\n"
    "and misroutes.\n",
    log_opts,
    (int)(sizeof log_opts / sizeof *log_opts),
    0,
};

struct log_args {
	const char *log, *fb;
	bool json;
};

static int log_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct log_args *a = ctx;
	if (o->id == LOG_LOG)
		a->log = val;
	else if (o->id == LOG_FEEDBACK)
		a->fb = val;
	else
		a->json = true;
	return 0;
}

int cmd_eval_log(int argc, char **argv)
{
	struct log_args a = {0};
	int first, prc = cli_opts_parse(&log_cmd, argc, argv, log_apply, &a, &first);
	if (prc != 0)
		return prc == 1 ? 0 : 2;
	if (first < argc)
		return cli_usage_error(&log_cmd, "unexpected argument '%s'", argv[first]);
	if (!a.log)
		return cli_usage_error(&log_cmd, "--log is required");
	const char *log = a.log, *fb = a.fb;
	const bool json = a.json;
	struct sy_error err = {0};
	char *lt = NULL, *ft = NULL;
	size_t ll = 0, fl = 0;
	struct sbuf out = {0};
	int rc = 1;
	if (sy_file_read(log, &err, &lt, &ll) == SY_OK &&
	    (!fb || sy_file_read(fb, &err, &ft, &fl) == SY_OK) &&
	    eval_log_summarize(log, lt, ll, fb, ft, fl, json, &out, &err) == SY_OK) {
		fwrite(out.data, 1, out.len, stdout);
		rc = 0;
	} else
		fprintf(stderr, "switchyard eval log: %s\n", err.msg);
	sbuf_free(&out);
	free(lt);
	free(ft);
	return rc;
}
