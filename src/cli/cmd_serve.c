/* `switchyard serve`: the HTTP server in front of the engine; `switchyard gateway` (the same
 * HTTP server, its work sent to workers over NATS JetStream) and `switchyard worker` (an engine
 * draining a pool's work stream) share its flags (src/cluster, docs/CLUSTER.md).
 *
 * Settings come from --config FILE (YAML, see src/server/config.h) and then the flags, which
 * win. The first line on stdout is "switchyard listening on http://HOST:PORT" (with the real
 * port when --port 0 asked for a free one), so scripts can wait for it.
 *
 * Shutdown: SIGTERM or SIGINT stops accepting connections, /readyz turns 503, requests already
 * in progress finish and are answered, the engine drains, and the process exits 0. A second
 * signal during the drain skips the wait. Signals are blocked in every thread and taken here
 * with sigwait, so no handler runs in the middle of a request. */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/size.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "cluster/gateway.h"
#include "cluster/worker.h"
#include "engine/engine.h"
#include "hub/hub.h"
#include "model/registry.h"
#include "server/config.h"
#include "server/server.h"

#define DRAIN_TIMEOUT_MS 60000
#define MAX_CLUSTER_ITEMS 32

enum run_mode { MODE_SERVE, MODE_GATEWAY, MODE_WORKER };
static const char *const mode_names[] = {"serve", "gateway", "worker"};

/* The cluster flags of gateway and worker. */
static struct {
	enum run_mode mode;
	const char *nats;
	const char *pools[MAX_CLUSTER_ITEMS];
	int n_pools;
	const char *map_models[MAX_CLUSTER_ITEMS], *map_pools[MAX_CLUSTER_ITEMS];
	char map_buf[MAX_CLUSTER_ITEMS][512];
	int n_map;
	int request_timeout_ms, fetch_batch, ack_wait_s, max_deliver, max_pending;
	bool strict; /* --strict: a catalogued model that cannot load stops the start */
	bool access_log; /* --access-log on|off (serve and gateway; default on) */
} cl = {.access_log = true,
        .request_timeout_ms = 30000,
        .fetch_batch = 64,
        .ack_wait_s = 30,
        .max_deliver = 5,
        .max_pending = 100000};

/* Which of serve, gateway and worker take an option (cli_opt.scope). */
#define SERVE (1u << MODE_SERVE)
#define GATEWAY (1u << MODE_GATEWAY)
#define WORKER (1u << MODE_WORKER)
#define CLUSTER (GATEWAY | WORKER)
#define HTTP (SERVE | GATEWAY)

/* The options of the three commands; those marked env also come from SWITCHYARD_<OPTION>. Every
 * option but the switches is applied by name in apply_flag. */
static const struct cli_opt serve_opts[] = {
    {"nats", CLI_VALUE, "URL", "NATS server with JetStream (required)", .scope = CLUSTER,
     .env = true},
    {"pool", CLI_VALUE, "NAME",
     "a worker pool (repeatable; the first takes the models\nnot mapped with --model-pool)",
     .scope = GATEWAY, .env = true},
    {"pool", CLI_VALUE, "NAME", "the pool whose work this worker drains (required)",
     .scope = WORKER, .env = true},
    {"model-pool", CLI_VALUE, "ID=POOL", "send model ID's work to POOL (repeatable)",
     .scope = GATEWAY},
    {"request-timeout-ms", CLI_VALUE, "N", "answer 504 TIMEOUT past this (default 30000)",
     .scope = GATEWAY, .env = true},
    {"fetch-batch", CLI_VALUE, "N", "messages per fetch (default 64)", .scope = WORKER,
     .env = true},
    {"ack-wait", CLI_VALUE, "S", "redeliver unacked work after S seconds (default 30)",
     .scope = WORKER, .env = true},
    {"max-deliver", CLI_VALUE, "N", "deliveries before the dead-letter stream (default 5)",
     .scope = WORKER, .env = true},
    {"max-pending", CLI_VALUE, "N", "bound of a pool's work stream when created (default 100000)",
     .scope = CLUSTER, .env = true},
    {"host", CLI_VALUE, "ADDR", "address to bind (default 127.0.0.1)", .env = true},
    {"port", CLI_VALUE, "N", "port (default 8080; 0 picks a free one; or PORT)", .env = true,
     .env_also = "PORT"},
    {"config", CLI_VALUE, "FILE", "YAML settings and model catalogue (flags override it)",
     .env = false},
    {"model", CLI_VALUE, "ID=PATH", "add a model (repeatable); --model PATH uses PATH as id",
     .env = false},
    {"models-dir", CLI_VALUE, "DIR", "add every subdirectory of DIR as a model", .env = true},
    {"memory-budget", CLI_VALUE, "SIZE",
     "bytes for loaded models, K/M/G suffix (default: half of RAM)", .env = true},
    {"threads", CLI_VALUE, "N", "compute threads per model run (default: one per core)",
     .env = true},
    {"quantize", CLI_VALUE, "int8|none",
     "linear layers in int8 (dynamic quantisation; default none)", .env = true},
    {"workers", CLI_VALUE, "N", "batches run at once, across models (default 1)", .env = true},
    {"max-batch-tokens", CLI_VALUE, "N", "close a batch at this many tokens (default 8192)",
     .env = true},
    {"max-batch-items", CLI_VALUE, "N", "... or at this many items (default 256)", .env = true},
    {"max-wait-ms", CLI_VALUE, "N", "... or when its oldest item waited this long (default 0)",
     .env = true},
    {"max-queue-items", CLI_VALUE, "N", "per-model queue bound; beyond it 503 QUEUE_FULL",
     .env = true},
    {"idle-ttl", CLI_VALUE, "S", "unload models idle this many seconds (default never)",
     .env = true},
    {"load-wait-ms", CLI_VALUE, "N",
     "how long a request waits for a model load before 503\nMODEL_LOADING", .env = true},
    {"api-key-file", CLI_VALUE, "FILE", "bearer tokens, one per line; \"admin:TOKEN\" for admin",
     .env = true},
    {"public-metrics", CLI_OPTIONAL, "on|off",
     "GET /metrics answers without a token (default: behind\n--api-key-file like every route)",
     .scope = HTTP, .env = true},
    {"public-status", CLI_OPTIONAL, "on|off",
     "the status page (GET /, GET /v1/status) answers without a\ntoken", .scope = HTTP,
     .env = true},
    {"metrics-port", CLI_VALUE, "N",
     "also serve GET /metrics (only) on port N of --host, never\nbehind auth (0 picks a free "
     "one; printed on stdout's second\nline); for Prometheus inside the cluster",
     .scope = HTTP, .env = true},
    {"max-body-bytes", CLI_VALUE, "SIZE", "request body limit (default 16M; larger answers 413)",
     .env = true},
    {"max-inflight-body-bytes", CLI_VALUE, "SIZE",
     "bodies held at once over all connections\n(default 256M; past it 503 QUEUE_FULL)",
     .env = true},
    {"max-items", CLI_VALUE, "N", "items per request (default 2048; more answers 413)",
     .env = true},
    {"max-chars", CLI_VALUE, "N", "characters per item (default 100000; more answers 422)",
     .env = true},
    {"max-prefix-chars", CLI_VALUE, "N",
     "characters of an instruction or a score query, which go\nwith every item (default 8192; "
     "more answers 422)",
     .env = true},
    {"max-request-tokens", CLI_VALUE, "N",
     "tokens one request may hold once tokenised (default\n1048576; more answers 422 before any "
     "model work)",
     .env = true},
    {"max-connections", CLI_VALUE, "N", "concurrent connections, one thread each (default 256)",
     .env = true},
    {"idle-timeout", CLI_VALUE, "S",
     "close a connection that sends nothing for S seconds\n(default 60)", .env = true},
    {"tei-model", CLI_VALUE, "ID",
     "the model the Text Embeddings Inference routes (/embed,\n/rerank, /tokenize, ...) use "
     "(default: the only one)",
     .env = true},
    {"no-builtin-models", CLI_SWITCH, NULL, "do not add the built-in model ids (use-lite)",
     .env = false},
    {"log-format", CLI_VALUE, "text|json",
     "log lines as text (default) or JSON {ts, level, msg, ...}", .env = true},
    {"access-log", CLI_VALUE, "on|off",
     "a log line per request: method, path, status, ms,\nrequest_id, model (default on)",
     .scope = HTTP, .env = true},
    {"strict", CLI_SWITCH, NULL,
     "a catalogued model path that is not a model directory or\na Hub id, or an upstream "
     "api_key_env that is not set,\nstops the start (default: a warning)",
     .env = false},
};

static const char serve_about[] =
    "Every option marked above as taking one value can also come from the environment as\n"
    "SWITCHYARD_<OPTION> (e.g. SWITCHYARD_PORT=8080, SWITCHYARD_MEMORY_BUDGET=4G), and PORT\n"
    "sets --port; on/off switches too (SWITCHYARD_PUBLIC_METRICS=on); --model, --model-pool\n"
    "and --config are command-line only. The config file comes first, then the environment,\n"
    "then the command line, which wins.\n";

static const char *const serve_synopsis[] = {
    "usage: switchyard serve [options]\nRuns the HTTP server in front of the engine.\n",
    "usage: switchyard gateway --nats URL --pool NAME [options]\nThe HTTP server in front of "
    "workers: models are only catalogued here, their work\ngoes to the pools over NATS "
    "JetStream.\n",
    "usage: switchyard worker --nats URL --pool NAME [options]\nRuns a pool's work from NATS "
    "JetStream on an engine.\n",
};

static struct cli_cmd serve_cmd(enum run_mode mode)
{
	return (struct cli_cmd){mode_names[mode],
	                        serve_synopsis[mode],
	                        serve_about,
	                        serve_opts,
	                        (int)(sizeof serve_opts / sizeof *serve_opts),
	                        1u << mode};
}

static int parse_int_arg(const char *flag, const char *s, long min, long max, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "switchyard serve: %s needs an integer in [%ld, %ld], got '%s'\n",
		        flag, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* on/off, true/false, yes/no, 1/0 (flags given a value, and the environment). */
static bool parse_bool_arg(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false",
	                                                                            "no", "0"};
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return true;
		}
	}
	return false;
}

static int replace_str(char **dst, const char *s)
{
	char *c = strdup(s);
	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* The cluster flags; 1 when flag is not one of them. */
static int apply_cluster_flag(const char *flag, const char *val)
{
	const long big = 1L << 30;
	if (!strcmp(flag, "--nats")) {
		cl.nats = val;
		return 0;
	}
	if (!strcmp(flag, "--pool")) {
		if (cl.n_pools == MAX_CLUSTER_ITEMS ||
		    (cl.mode == MODE_WORKER && cl.n_pools == 1)) {
			fprintf(stderr, "switchyard %s: too many --pool\n", mode_names[cl.mode]);
			return -1;
		}
		cl.pools[cl.n_pools++] = val;
		return 0;
	}
	if (cl.mode == MODE_GATEWAY && !strcmp(flag, "--model-pool")) {
		const char *eq = strchr(val, '=');
		if (!eq || eq == val || !eq[1] || cl.n_map == MAX_CLUSTER_ITEMS ||
		    strlen(val) >= sizeof cl.map_buf[0]) {
			fprintf(stderr, "switchyard gateway: --model-pool needs ID=POOL\n");
			return -1;
		}
		char *b = cl.map_buf[cl.n_map];
		snprintf(b, sizeof cl.map_buf[0], "%s", val);
		b[eq - val] = '\0';
		cl.map_models[cl.n_map] = b;
		cl.map_pools[cl.n_map++] = b + (eq - val) + 1;
		return 0;
	}
	if (cl.mode == MODE_GATEWAY && !strcmp(flag, "--request-timeout-ms"))
		return parse_int_arg(flag, val, 1, big, &cl.request_timeout_ms);
	if (!strcmp(flag, "--max-pending"))
		return parse_int_arg(flag, val, 1, big, &cl.max_pending);
	if (cl.mode == MODE_WORKER && !strcmp(flag, "--fetch-batch"))
		return parse_int_arg(flag, val, 1, 4096, &cl.fetch_batch);
	if (cl.mode == MODE_WORKER && !strcmp(flag, "--ack-wait"))
		return parse_int_arg(flag, val, 1, 86400, &cl.ack_wait_s);
	if (cl.mode == MODE_WORKER && !strcmp(flag, "--max-deliver"))
		return parse_int_arg(flag, val, 1, 1000, &cl.max_deliver);
	return 1;
}

/* Applies one flag with its value to c; returns 0, or -1 after printing why. */
static int apply_flag(struct serve_config *c, const char *flag, const char *val)
{
	struct sy_error err = {0};
	const long big = 1L << 30;
	if (cl.mode != MODE_SERVE) {
		int r = apply_cluster_flag(flag, val);
		if (r <= 0)
			return r;
	}
	if (!strcmp(flag, "--log-format")) {
		if (!sy_log_format_ok(val)) {
			fprintf(stderr, "switchyard %s: --log-format: \"%s\": use text or json\n",
			        mode_names[cl.mode], val);
			return -1;
		}
		setenv("SWITCHYARD_LOG_FORMAT", val, 1); /* what base/log.c reads */
		return 0;
	}
	if (!strcmp(flag, "--access-log") && cl.mode != MODE_WORKER) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			fprintf(stderr, "switchyard %s: --access-log: \"%s\": use on or off\n",
			        mode_names[cl.mode], val);
			return -1;
		}
		cl.access_log = !strcmp(val, "on");
		return 0;
	}
	if (cl.mode != MODE_WORKER &&
	    (!strcmp(flag, "--public-metrics") || !strcmp(flag, "--public-status"))) {
		bool on;
		if (!parse_bool_arg(val, &on)) {
			fprintf(stderr, "switchyard %s: %s: \"%s\": use on or off\n",
			        mode_names[cl.mode], flag, val);
			return -1;
		}
		*(!strcmp(flag, "--public-metrics") ? &c->public_metrics : &c->public_status) = on;
		return 0;
	}
	if (cl.mode != MODE_WORKER && !strcmp(flag, "--metrics-port"))
		return parse_int_arg(flag, val, 0, 65535, &c->metrics_port);
	if (!strcmp(flag, "--host"))
		return replace_str(&c->host, val);
	if (!strcmp(flag, "--port"))
		return parse_int_arg(flag, val, 0, 65535, &c->port);
	if (!strcmp(flag, "--models-dir"))
		return replace_str(&c->models_dir, val);
	if (!strcmp(flag, "--api-key-file"))
		return replace_str(&c->api_key_file, val);
	if (!strcmp(flag, "--tei-model"))
		return replace_str(&c->tei_model, val);
	if (!strcmp(flag, "--model")) {
		const char *eq = strchr(val, '=');
		char id[512];
		const char *path = val;
		if (eq) {
			if ((size_t)(eq - val) >= sizeof id) {
				fprintf(stderr, "switchyard serve: --model: id too long\n");
				return -1;
			}
			memcpy(id, val, (size_t)(eq - val));
			id[eq - val] = '\0';
			path = eq + 1;
		} else {
			snprintf(id, sizeof id, "%s", val);
		}
		if (serve_config_model_set(c, id, path, false, &err) != SY_OK) {
			fprintf(stderr, "switchyard serve: --model %s: %s\n", val, err.msg);
			return -1;
		}
		return 0;
	}
	if (!strcmp(flag, "--memory-budget") || !strcmp(flag, "--max-body-bytes") ||
	    !strcmp(flag, "--max-inflight-body-bytes")) {
		size_t v;
		if (sy_size_parse(val, &err, &v) != SY_OK) {
			fprintf(stderr, "switchyard serve: %s: %s\n", flag, err.msg);
			return -1;
		}
		if (!strcmp(flag, "--memory-budget"))
			c->engine.memory_budget = v;
		else if (!strcmp(flag, "--max-body-bytes"))
			c->limits.max_body_bytes = v;
		else
			c->limits.max_inflight_body_bytes = v;
		return 0;
	}
	if (!strcmp(flag, "--threads"))
		return parse_int_arg(flag, val, 0, 1024, &c->engine.n_threads);
	if (!strcmp(flag, "--workers"))
		return parse_int_arg(flag, val, 0, 1024, &c->engine.n_workers);
	if (!strcmp(flag, "--max-batch-tokens"))
		return parse_int_arg(flag, val, 1, big, &c->engine.max_batch_tokens);
	if (!strcmp(flag, "--max-batch-items"))
		return parse_int_arg(flag, val, 1, big, &c->engine.max_batch_items);
	if (!strcmp(flag, "--quantize")) {
		if (!linear_precision_parse(val, &c->engine.precision)) {
			fprintf(stderr, "switchyard serve: --quantize: \"%s\": use int8 or none\n",
			        val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(flag, "--max-wait-ms"))
		return parse_int_arg(flag, val, 0, 60000, &c->engine.max_wait_ms);
	if (!strcmp(flag, "--max-queue-items"))
		return parse_int_arg(flag, val, 1, big, &c->engine.max_queue_items);
	if (!strcmp(flag, "--idle-ttl"))
		return parse_int_arg(flag, val, 0, big, &c->engine.idle_ttl_s);
	if (!strcmp(flag, "--load-wait-ms"))
		return parse_int_arg(flag, val, 1, big, &c->engine.load_wait_ms);
	if (!strcmp(flag, "--max-items"))
		return parse_int_arg(flag, val, 1, big, &c->limits.max_items);
	if (!strcmp(flag, "--max-chars"))
		return parse_int_arg(flag, val, 1, big, &c->limits.max_chars);
	if (!strcmp(flag, "--max-prefix-chars"))
		return parse_int_arg(flag, val, 1, big, &c->limits.max_prefix_chars);
	if (!strcmp(flag, "--max-request-tokens")) {
		int v;
		int rc = parse_int_arg(flag, val, 1, big, &v);
		c->engine.max_request_tokens = v;
		return rc;
	}
	if (!strcmp(flag, "--max-connections"))
		return parse_int_arg(flag, val, 1, 65536, &c->max_connections);
	if (!strcmp(flag, "--idle-timeout"))
		return parse_int_arg(flag, val, 1, 86400, &c->idle_timeout_s);
	fprintf(stderr, "switchyard %s: unknown option '%s'\n", mode_names[cl.mode], flag);
	return -1;
}

/* What serve_apply works on: the first pass over argv only takes --config (the file comes
 * before the environment and the other flags); the second applies the rest. */
struct serve_parse {
	struct serve_config *c;
	bool config_only;
	bool from_env; /* cli_opts_env is applying */
	bool env_pools; /* the pools so far came from SWITCHYARD_POOL: a --pool replaces them */
	const char *config;
};

static int serve_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct serve_parse *p = ctx;
	if (!strcmp(o->name, "config")) {
		p->config = val;
		return 0;
	}
	if (!strcmp(o->name, "strict")) {
		cl.strict = true;
		return 0;
	}
	if (p->config_only)
		return 0;
	if (!strcmp(o->name, "no-builtin-models")) {
		p->c->engine.builtin_models = false;
		return 0;
	}
	if (!strcmp(o->name, "pool")) {
		if (p->env_pools && !p->from_env)
			cl.n_pools = 0;
		p->env_pools = p->from_env;
	}
	char flag[64];
	snprintf(flag, sizeof flag, "--%s", o->name);
	return apply_flag(p->c, flag, val ? val : "on"); /* an optional value given no value: on */
}

/* Waits for SIGTERM/SIGINT (blocked in every thread); returns the signal. */
static int wait_signal(const sigset_t *set)
{
	for (;;) {
		int sig = 0;
		if (sigwait(set, &sig) == 0)
			return sig;
	}
}

/* worker: runs the worker loop on its own thread while the main thread waits for a signal. */
struct worker_thread {
	struct engine *e;
	struct worker_config cfg;
	atomic_bool stop;
	enum sy_status status;
	struct sy_error err;
	atomic_bool done;
};

static void *worker_thread_main(void *arg)
{
	struct worker_thread *w = arg;
	w->status = worker_run(w->e, &w->cfg, &w->stop, &w->err);
	atomic_store(&w->done, true);
	if (w->status != SY_OK)
		kill(getpid(), SIGTERM); /* wake the main thread */
	return NULL;
}

static int run_worker(struct engine *e, const sigset_t *set)
{
	struct worker_thread w = {.e = e,
	                          .cfg = {.nats_url = cl.nats,
	                                  .pool = cl.pools[0],
	                                  .fetch_batch = cl.fetch_batch,
	                                  .ack_wait_s = cl.ack_wait_s,
	                                  .max_deliver = cl.max_deliver,
	                                  .max_pending = cl.max_pending}};
	pthread_t t;
	if (pthread_create(&t, NULL, worker_thread_main, &w) != 0) {
		fprintf(stderr, "switchyard worker: cannot start a thread\n");
		return 1;
	}
	printf("switchyard worker on %s, pool %s\n", cl.nats, cl.pools[0]);
	fflush(stdout);
	int sig;
	while ((sig = wait_signal(set)) == SIGHUP)
		; /* workers have no routes to reload */
	if (!atomic_load(&w.done))
		fprintf(stderr, "switchyard worker: %s: finishing the batch in hand\n",
		        sig == SIGINT ? "SIGINT" : "SIGTERM");
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	if (w.status != SY_OK) {
		fprintf(stderr, "switchyard worker: %s\n", w.err.msg);
		return 1;
	}
	return 0;
}

static int serve_main(int argc, char **argv, enum run_mode mode);

/* Checks the catalogue's local paths at start, so a typo is not first seen as a 502 on the first
 * request: a directory no model family recognises, or a path that is neither a directory nor a
 * Hub id, is a warning (with --strict, the start fails). Hub ids download on first use, and the
 * gateway's models live on the workers, so neither is checked here. Returns the bad count. */
static int check_model_paths(const struct serve_config *c, enum run_mode mode)
{
	int bad = 0;
	for (int i = 0; mode != MODE_GATEWAY && i < c->n_models; i++) {
		const char *path = c->models[i].path, *why = NULL;
		struct stat sb;
		if (!strcmp(path, "use-lite"))
			continue;
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (!model_family_of(path))
				why = "a directory no model family recognises (no config.json, "
				      "gliner_config.json or model.json)";
		} else if (!hub_id_valid(path)) {
			why = "no such directory, and not a Hub id (org/name)";
		}
		if (!why)
			continue;
		bad++;
		if (cl.strict)
			fprintf(stderr, "switchyard %s: model %s: %s: %s\n", mode_names[mode],
			        c->models[i].id, path, why);
		else
			sy_log(SY_LOG_WARN,
			       "model %s: %s: %s (its requests will fail; --strict stops "
			       "the start instead)",
			       c->models[i].id, path, why);
	}
	return bad;
}

/* A config file's `dense_dims:` for one model (model_options.dense_dims). */
static enum sy_status set_dense_dims(struct engine *e, const struct serve_model *sm,
                                     struct sy_error *err)
{
	struct model_options o = model_default_options();
	o.dense_dims = sm->dense_dims;
	return engine_model_set_options(e, sm->id, &o, err);
}

int cmd_serve(int argc, char **argv)
{
	return serve_main(argc, argv, MODE_SERVE);
}

int cmd_gateway(int argc, char **argv)
{
	return serve_main(argc, argv, MODE_GATEWAY);
}

int cmd_worker(int argc, char **argv)
{
	return serve_main(argc, argv, MODE_WORKER);
}

/* Serves until SIGTERM or SIGINT (SIGHUP reloads the routes), then drains: the answers in
 * progress get up to DRAIN_TIMEOUT_MS. Work that outlasts it or a second signal (a load stuck on
 * its files, an answer that does not end) would hold the teardown for ever, so then the process
 * exits here without waiting. */
static void wait_and_drain(struct server *srv, sigset_t *set, enum run_mode mode,
                           const char *config)
{
	int sig;
	while ((sig = wait_signal(set)) == SIGHUP) {
		/* SIGHUP: re-read the routing sections of --config (atomically; on error the old
		 * ones stay). */
		struct sy_error rerr = {0};
		if (server_router_reload(srv, &rerr) == SY_OK)
			fprintf(stderr, "switchyard %s: SIGHUP: routes reloaded from %s\n",
			        mode_names[mode], config ? config : "-");
		else
			fprintf(stderr,
			        "switchyard %s: SIGHUP: reload failed, routes unchanged: %s\n",
			        mode_names[mode], rerr.msg);
	}
	fprintf(stderr, "switchyard %s: %s: draining %ld request(s) in progress\n",
	        mode_names[mode], sig == SIGINT ? "SIGINT" : "SIGTERM", server_inflight(srv));
	server_drain_begin(srv);
	/* Wait for the answers in progress, in slices so a second signal can cut it short. */
	bool idle = false;
	for (int waited = 0; waited < DRAIN_TIMEOUT_MS && !idle; waited += 100) {
		idle = server_wait_idle(srv, 100);
		struct timespec zero = {0, 0};
		if (!idle && sigtimedwait(set, NULL, &zero) > 0) {
			fprintf(stderr,
			        "switchyard serve: second signal: not waiting any longer\n");
			break;
		}
	}
	if (!idle) {
		/* Something still runs (a model load stuck on its files, an answer that does not
		 * end): the teardown below would wait for it, so the second signal or the drain
		 * timeout is where shutdown ends. */
		fprintf(stderr,
		        "switchyard serve: %ld request(s) still in progress at exit; exiting "
		        "without waiting for them\n",
		        server_inflight(srv));
		fflush(NULL);
		_exit(0);
	}
}

static int serve_main(int argc, char **argv, enum run_mode mode)
{
	cl.mode = mode;
	const struct cli_cmd cmd = serve_cmd(mode);
	struct serve_config cfg;
	struct sy_error err = {0};
	if (serve_config_init(&cfg, &err) != SY_OK) {
		fprintf(stderr, "switchyard %s: %s\n", mode_names[mode], err.msg);
		return 1;
	}
	struct serve_parse p = {.c = &cfg, .config_only = true};
	int first_arg, rc = cli_opts_parse(&cmd, argc, argv, serve_apply, &p, &first_arg);
	if (rc != 0) {
		rc = rc == 1 ? 0 : 2;
		goto out;
	}
	rc = 2;
	if (first_arg < argc) {
		cli_usage_error(&cmd, "unexpected argument '%s'", argv[first_arg]);
		goto out;
	}
	rc = 1;
	if (p.config && serve_config_load_file(&cfg, p.config, &err) != SY_OK) {
		fprintf(stderr, "switchyard %s: %s\n", mode_names[mode], err.msg);
		goto out;
	}
	p.config_only = false;
	p.from_env = true;
	if (cli_opts_env(&cmd, serve_apply, &p) != 0)
		goto out;
	p.from_env = false;
	rc = 2;
	if (cli_opts_parse(&cmd, argc, argv, serve_apply, &p, &first_arg) != 0)
		goto out;
	const char *config = p.config;
	if (mode != MODE_SERVE && (!cl.nats || cl.n_pools == 0)) {
		cli_usage_error(&cmd, "--nats URL and --pool NAME are required");
		goto out;
	}

	/* Block the shutdown signals before any thread starts, so every thread inherits the
	 * mask and only sigwait below sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = 1;
	struct engine *e = NULL;
	if (engine_create(&cfg.engine, &err, &e) != SY_OK) {
		fprintf(stderr, "switchyard serve: %s\n", err.msg);
		goto out;
	}
	if (check_model_paths(&cfg, mode) > 0 && cl.strict) {
		engine_destroy(e);
		goto out;
	}
	for (int i = 0; i < cfg.n_models; i++) {
		if (engine_model_add(e, cfg.models[i].id, cfg.models[i].path, cfg.models[i].pinned,
		                     &err) != SY_OK ||
		    (cfg.models[i].precision_set &&
		     engine_model_set_precision(e, cfg.models[i].id, cfg.models[i].precision,
		                                &err) != SY_OK) ||
		    (cfg.models[i].dense_dims > 0 &&
		     set_dense_dims(e, &cfg.models[i], &err) != SY_OK)) {
			fprintf(stderr, "switchyard serve: model %s: %s\n", cfg.models[i].id,
			        err.msg);
			engine_destroy(e);
			goto out;
		}
	}
	if (cfg.models_dir && engine_models_dir_add(e, cfg.models_dir, &err) != SY_OK) {
		fprintf(stderr, "switchyard serve: --models-dir %s: %s\n", cfg.models_dir, err.msg);
		engine_destroy(e);
		goto out;
	}
	/* Pinned models load now, before the address is printed, so the first request finds them
	 * ready. A failure is reported and remembered (shown in /v1/models), not fatal. */
	if (mode == MODE_WORKER) {
		if (engine_models_load_pinned(e, &err) != SY_OK)
			fprintf(stderr,
			        "switchyard worker: warning: a pinned model failed to load: %s\n",
			        err.msg);
		rc = run_worker(e, &set);
		engine_drain(e);
		engine_destroy(e);
		goto out;
	}
	struct gateway *gw = NULL;
	if (mode == MODE_GATEWAY) {
		struct gateway_config gc = {.nats_url = cl.nats,
		                            .pools = cl.pools,
		                            .n_pools = cl.n_pools,
		                            .map_models = cl.map_models,
		                            .map_pools = cl.map_pools,
		                            .n_map = cl.n_map,
		                            .request_timeout_ms = cl.request_timeout_ms,
		                            .max_pending = cl.max_pending};
		if (gateway_open(e, &gc, &err, &gw) != SY_OK) {
			fprintf(stderr, "switchyard gateway: %s\n", err.msg);
			engine_destroy(e);
			goto out;
		}
	} else if (engine_models_load_pinned(e, &err) != SY_OK)
		fprintf(stderr, "switchyard serve: warning: a pinned model failed to load: %s\n",
		        err.msg);
	struct server_config scfg = {
	    .host = cfg.host,
	    .port = cfg.port,
	    .limits = cfg.limits,
	    .api_key_file = cfg.api_key_file,
	    .tei_model = cfg.tei_model,
	    .connection_limit = cfg.max_connections,
	    .connection_timeout_s = cfg.idle_timeout_s,
	    .backend = gw ? gateway_backend(gw) : NULL,
	    .router_config = config,
	    .strict_keys = cl.strict,
	    .access_log = cl.access_log,
	    .public_metrics = cfg.public_metrics,
	    .public_status = cfg.public_status,
	    .metrics_port = cfg.metrics_port,
	};
	struct server *srv = NULL;
	if (server_start(e, &scfg, &err, &srv) != SY_OK) {
		fprintf(stderr, "switchyard %s: %s\n", mode_names[mode], err.msg);
		gateway_close(gw);
		engine_destroy(e);
		goto out;
	}
	bool v6 = strchr(cfg.host, ':') != NULL;
	printf("switchyard listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg.host, v6 ? "]" : "",
	       server_port(srv));
	if (server_metrics_port(srv) >= 0)
		printf("switchyard metrics on http://%s%s%s:%d/metrics\n", v6 ? "[" : "", cfg.host,
		       v6 ? "]" : "", server_metrics_port(srv));
	fflush(stdout);

	wait_and_drain(srv, &set, mode, config);
	engine_drain(e);
	server_stop(srv);
	gateway_close(gw);
	engine_destroy(e);
	rc = 0;
out:
	serve_config_free(&cfg);
	return rc;
}
