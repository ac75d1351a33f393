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
#include "cli/commands.h"
#include "router/candidates.h"
#include "router/router.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: switchyard eval candidates --config ROUTES.yaml --suite SUITE.yaml [--json]\n"
	    "                                  [--out DIR] [--baseline FILE] [--concurrency N]\n"
	    "                                  [--quiet]\n"
	    "Calls every candidate upstream of every step of the suite on the step's examples\n"
	    "and chooses the cheapest candidate meeting the step's thresholds. --json prints\n"
	    "{\"steps\":{STEP:{\"candidates\":{NAME:{accuracy,p50_ms,p95_ms,cost_usd,passed}},\n"
	    "\"chosen\":NAME|null}}}; --out DIR also writes report.json, report.html and\n"
	    "switchyard_eval.prom there; --baseline FILE (an earlier --json report) exits 3\n"
	    "when a step's candidate chosen there no longer passes. --concurrency overrides\n"
	    "the suite's calls in flight; --quiet drops the progress lines on stderr.\n");
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
	const char *config = NULL, *suite_path = NULL, *out_dir = NULL, *baseline = NULL;
	bool json = false, quiet = false;
	int concurrency = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const bool has = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--quiet"))
			quiet = true;
		else if (!strcmp(a, "--config") && has)
			config = argv[++i];
		else if (!strcmp(a, "--suite") && has)
			suite_path = argv[++i];
		else if (!strcmp(a, "--out") && has)
			out_dir = argv[++i];
		else if (!strcmp(a, "--baseline") && has)
			baseline = argv[++i];
		else if (!strcmp(a, "--concurrency") && has) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 256) {
				fprintf(stderr,
				        "switchyard eval candidates: --concurrency: expected 1 "
				        "to 256\n");
				return 2;
			}
			concurrency = (int)v;
		} else {
			fprintf(stderr,
			        "switchyard eval candidates: unknown or incomplete option '%s'\n",
			        a);
			usage(stderr);
			return 2;
		}
	}
	if (!config || !suite_path) {
		usage(stderr);
		return 2;
	}
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
