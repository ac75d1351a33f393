/* `switchyard eval log --log DECISIONS.jsonl [--feedback FILE] [--json]`: per route and
 * candidate quality (feedback success rate, mean score, misroutes), cost and latency from what
 * production traffic logged (src/router/eval_log.h, docs/ROUTING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/commands.h"
#include "router/eval_log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: switchyard eval log --log DECISIONS.jsonl [--feedback FILE] [--json]\n"
	           "Joins a decision log (router.decision_log, with the feedback lines POST\n"
	           "/v1/feedback adds) and optionally a feedback file (JSONL of {request_id,\n"
	           "score and/or label}) by request id, and prints per route and candidate the\n"
	           "requests, errors, cost, p50/p95 latency, feedback, success rate, mean score\n"
	           "and misroutes.\n");
}

int cmd_eval_log(int argc, char **argv)
{
	const char *log = NULL, *fb = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--log") && i + 1 < argc)
			log = argv[++i];
		else if (!strcmp(argv[i], "--feedback") && i + 1 < argc)
			fb = argv[++i];
		else {
			fprintf(stderr, "switchyard eval log: unknown or incomplete option '%s'\n",
			        argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!log) {
		usage(stderr);
		return 2;
	}
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
