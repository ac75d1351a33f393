/* In-process twin of the HTTP load run (bench/http/run.sh): the same requests sent straight to
 * engine_encode by N client threads, without HTTP or JSON, so the difference between the two
 * runs is what the server layer costs.
 *
 * usage: inproc MODEL_ID=PATH BODY_JSON N_CLIENTS SECONDS [N_THREADS]
 * BODY_JSON is the file wrk posts ({"items":[{"text":...}]}); the texts are taken from it.
 * Prints one line: "RESULT requests_per_s p50_ms p99_ms requests". */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "engine/engine.h"

struct client {
	struct engine *e;
	const char *model;
	int n_items;
	const char **texts;
	size_t *lens;
	double until_ms;
	double *lat_ms; /* [cap] */
	long n, cap;
	int failed;
};

static void *client_run(void *arg)
{
	struct client *c = arg;
	struct engine_encode_request req = {
	    .items = {c->model, c->n_items, c->texts, c->lens, true}, .normalize = -1};
	while (sy_now_ms() < c->until_ms) {
		double t0 = sy_now_ms();
		struct engine_result res;
		struct sy_error err = {0};
		if (engine_encode(c->e, &req, &err, &res) != SY_OK) {
			fprintf(stderr, "inproc: %s\n", err.msg);
			c->failed = 1;
			return NULL;
		}
		engine_result_free(&res);
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1024;
			c->lat_ms = realloc(c->lat_ms, (size_t)c->cap * sizeof *c->lat_ms);
		}
		c->lat_ms[c->n++] = sy_now_ms() - t0;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr,
		        "usage: inproc MODEL_ID=PATH BODY_JSON N_CLIENTS SECONDS [N_THREADS]\n");
		return 2;
	}
	char *spec = argv[1], *eq = strchr(spec, '=');
	if (!eq)
		return 2;
	*eq = '\0';
	const char *model = spec, *path = eq + 1;
	int n_clients = atoi(argv[3]);
	double seconds = atof(argv[4]);

	char *body;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(argv[2], &err, &body, &len) != SY_OK) {
		fprintf(stderr, "inproc: %s\n", err.msg);
		return 1;
	}
	cJSON *doc = cJSON_Parse(body);
	cJSON *items = cJSON_GetObjectItem(doc, "items");
	int n = cJSON_GetArraySize(items);
	const char **texts = calloc((size_t)n, sizeof *texts);
	size_t *lens = calloc((size_t)n, sizeof *lens);
	int i = 0;
	for (cJSON *it = items ? items->child : NULL; it; it = it->next, i++) {
		texts[i] = cJSON_GetObjectItem(it, "text")->valuestring;
		lens[i] = strlen(texts[i]);
	}

	struct engine_config cfg = engine_default_config();
	cfg.builtin_models = false;
	cfg.n_threads = argc == 6 ? atoi(argv[5]) : 0;
	struct engine *e;
	if (engine_create(&cfg, &err, &e) != SY_OK ||
	    engine_model_add(e, model, path, false, &err) ||
	    engine_model_load(e, model, &err) != SY_OK) {
		fprintf(stderr, "inproc: %s\n", err.msg);
		return 1;
	}
	/* Warm up as wrk's run does (the server has served a few requests before). */
	struct client warm = {.e = e,
	                      .model = model,
	                      .n_items = n,
	                      .texts = texts,
	                      .lens = lens,
	                      .until_ms = sy_now_ms() + 300};
	client_run(&warm);
	free(warm.lat_ms);

	struct client *cs = calloc((size_t)n_clients, sizeof *cs);
	pthread_t *th = calloc((size_t)n_clients, sizeof *th);
	double t0 = sy_now_ms(), until = t0 + seconds * 1e3;
	for (int k = 0; k < n_clients; k++) {
		cs[k] = (struct client){.e = e,
		                        .model = model,
		                        .n_items = n,
		                        .texts = texts,
		                        .lens = lens,
		                        .until_ms = until};
		pthread_create(&th[k], NULL, client_run, &cs[k]);
	}
	long total = 0;
	int failed = 0;
	for (int k = 0; k < n_clients; k++) {
		pthread_join(th[k], NULL);
		total += cs[k].n;
		failed |= cs[k].failed;
	}
	double wall_s = (sy_now_ms() - t0) / 1e3;
	double *all = malloc((size_t)(total ? total : 1) * sizeof *all);
	long at = 0;
	for (int k = 0; k < n_clients; k++) {
		memcpy(all + at, cs[k].lat_ms, (size_t)cs[k].n * sizeof *all);
		at += cs[k].n;
		free(cs[k].lat_ms);
	}
	qsort(all, (size_t)total, sizeof *all, cmp_double);
	if (total)
		printf("RESULT %.1f %.3f %.3f %ld\n", (double)total / wall_s, all[(total - 1) / 2],
		       all[(total - 1) * 99 / 100], total);
	free(all);
	free(cs);
	free(th);
	engine_destroy(e);
	cJSON_Delete(doc);
	free(texts);
	free(lens);
	free(body);
	return failed || !total;
}
