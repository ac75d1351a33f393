/* `switchyard eval candidates`: every candidate model of every step of a suite answers the
 * step's test set; the cheapest candidate meeting the step's thresholds is chosen
 * (src/router/candidates.h, docs/ROUTING.md). The upstreams come from a routes config (the
 * same YAML `serve --config` reads). Reports go to stdout (text or --json) and, with --out, to
 * DIR/report.json, DIR/report.html (SVG charts) and DIR/switchyard_eval.prom (a textfile for
 * node-exporter). With --baseline, a step whose candidate chosen in that earlier --json report
 * no longer passes exits 3, so cron or CI can alert. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "router/candidates.h"
#include "router/router.h"

enum { CAND_CONFIG, CAND_SUITE, CAND_JSON, CAND_OUT, CAND_BASELINE, CAND_CONCURRENCY, CAND_QUIET };

static const struct cli_opt cand_opts[] = {
    {"config", CLI_VALUE, "ROUTES.yaml", "the routes and upstreams (required)", .id = CAND_CONFIG},
    {"suite", CLI_VALUE, "SUITE.yaml", "the steps and their examples (required)", .id = CAND_SUITE},
    {"json", CLI_SWITCH, NULL, "print the report as JSON", .id = CAND_JSON},
    {"out", CLI_VALUE, "DIR", "also write report.json, report.html, switchyard_eval.prom",
     .id = CAND_OUT},
    {"baseline", CLI_VALUE, "FILE", "an earlier --json report: exit 3 on a regression",
     .id = CAND_BASELINE},
    {"concurrency", CLI_VALUE, "N", "calls in flight (1 to 256; default: the suite's)",
     .id = CAND_CONCURRENCY},
    {"quiet", CLI_SWITCH, NULL, "no progress lines on stderr", .id = CAND_QUIET},
};

static const struct cli_cmd cand_cmd = {
    "eval candidates",
    "usage: switchyard eval candidates --config ROUTES.yaml --suite SUITE.yaml [options]\n",
    "Calls every candidate upstream of every step of the suite on the step's examples\n"
    "and chooses the cheapest candidate meeting the step's thresholds. --json prints\n"
    "{\"steps\":{STEP:{\"candidates\":{NAME:{accuracy,p50_ms,p95_ms,cost_usd,passed}},\n"
    "\"chosen\":NAME|null}}}; --out DIR also writes report.json, report.html and\n"
    "switchyard_eval.prom there; --baseline FILE (an earlier --json report) exits 3\n"
    "when a step's candidate chosen there no longer passes. --concurrency overrides\n"
    "the suite's calls in flight; --quiet drops the progress lines on stderr.\n",
    cand_opts,
    (int)(sizeof cand_opts / sizeof *cand_opts),
    0,
};

struct cand_args {
	const char *config, *suite_path, *out_dir, *baseline;
	bool json, quiet;
	int concurrency;
};

static int cand_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct cand_args *a = ctx;
	switch (o->id) {
	case CAND_CONFIG: a->config = val; return 0;
	case CAND_SUITE: a->suite_path = val; return 0;
	case CAND_OUT: a->out_dir = val; return 0;
	case CAND_BASELINE: a->baseline = val; return 0;
	case CAND_JSON: a->json = true; return 0;
	case CAND_QUIET: a->quiet = true; return 0;
	case CAND_CONCURRENCY:
		if (cli_int_arg("eval candidates", o, val, 1, &a->concurrency) != 0)
			return -1;
		if (a->concurrency > 256) {
			fprintf(stderr,
			        "switchyard eval candidates: --concurrency: expected 1 to 256\n");
			return -1;
		}
		return 0;
	}
	return -1;
}

static int write_file(const char *dir, const char *name, const struct sbuf *b)
{
	char path[1024], tmp[1100];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		fprintf(stderr, "switchyard eval candidates: cannot write %s: %s\n", tmp,
		        strerror(errno));
		return 1;
	}
	/* renamed into place, so a textfile collector never reads half a file */
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "switchyard eval candidates: cannot write %s: %s\n", path,
		        strerror(errno));
		return 1;
	}
	return 0;
}

int cmd_eval_candidates(int argc, char **argv)
{
	struct cand_args a = {0};
	int first, prc = cli_opts_parse(&cand_cmd, argc, argv, cand_apply, &a, &first);
	if (prc != 0)
		return prc == 1 ? 0 : 2;
	if (first < argc)
		return cli_usage_error(&cand_cmd, "unexpected argument '%s'", argv[first]);
	if (!a.config || !a.suite_path)
		return cli_usage_error(&cand_cmd, "--config and --suite are required");
	const char *config = a.config, *suite_path = a.suite_path, *out_dir = a.out_dir,
	           *baseline = a.baseline;
	const bool json = a.json, quiet = a.quiet;
	const int concurrency = a.concurrency;
	struct sy_error err = {0};
	struct cand_suite suite = {0};
	struct router_deps deps = {0};
	struct router *r = NULL;
	char *base_text = NULL;
	size_t base_len = 0;
	int rc = 1;
	if (cand_suite_load(suite_path, &err, &suite) != SY_OK ||
	    (baseline && sy_file_read(baseline, &err, &base_text, &base_len) != SY_OK) ||
	    router_state_create(&err, &deps.state) != SY_OK ||
	    upstream_client_create(&err, &deps.upstream) != SY_OK ||
	    router_load_file(config, &deps, &err, &r) != SY_OK ||
	    cand_suite_bind(&suite, r, &err) != SY_OK) {
		fprintf(stderr, "switchyard eval candidates: %s\n", err.msg);
		goto done;
	}
	if (concurrency)
		suite.concurrency = concurrency;
	if (cand_suite_run(&suite, r, quiet ? NULL : stderr, &err) != SY_OK) {
		fprintf(stderr, "switchyard eval candidates: %s\n", err.msg);
		goto done;
	}
	struct sbuf js = {0}, text = {0};
	cand_report_json(&suite, &js);
	if (json)
		fwrite(js.data, 1, js.len, stdout);
	else {
		cand_report_text(&suite, &text);
		fwrite(text.data, 1, text.len, stdout);
	}
	rc = 0;
	if (out_dir) {
		struct sbuf html = {0}, prom = {0};
		cand_report_html(&suite, &html);
		cand_report_prometheus(&suite, &prom);
		if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "switchyard eval candidates: cannot create %s: %s\n",
			        out_dir, strerror(errno));
			rc = 1;
		} else
			rc = write_file(out_dir, "report.json", &js) |
			     write_file(out_dir, "report.html", &html) |
			     write_file(out_dir, "switchyard_eval.prom", &prom);
		sbuf_free(&html);
		sbuf_free(&prom);
	}
	if (rc == 0 && base_text) {
		struct sbuf why = {0};
		int n = 0;
		if (cand_baseline_check(&suite, base_text, base_len, &why, &err, &n) != SY_OK) {
			fprintf(stderr, "switchyard eval candidates: %s: %s\n", baseline, err.msg);
			rc = 1;
		} else if (n > 0) {
			fwrite(why.data, 1, why.len, stderr);
			rc = 3;
		}
		sbuf_free(&why);
	}
	sbuf_free(&js);
	sbuf_free(&text);
done:
	free(base_text);
	router_free(r);
	if (deps.upstream)
		upstream_client_destroy(deps.upstream);
	router_state_free(deps.state);
	cand_suite_free(&suite);
	return rc;
}
