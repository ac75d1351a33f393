/* GLiNER extraction in process on 1 and on N threads, alternating, for the agent-turn
 * benchmark's notes (docs/PERFORMANCE.md): prints the minimum and median wall time of each
 * over REPS calls on the agent turn's user message with its 5 labels. The minimum is the
 * figure to read on a shared, loaded machine.
 *
 *   bench/out/agent_turn/gliner_threads MODEL_DIR [N=2] [REPS=10]
 * Built by bench/agent_turn/run.sh (GLINER_THREADS=1) from build/libswitchyard.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "model/registry.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gliner_threads MODEL_DIR [N] [REPS]\n");
		return 2;
	}
	const int nt = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 10;
	const char *text =
	    "Hi, can you find what Tim Cook said about Siemens when they met in Paris on "
	    "12 March 2019, and whether the new iPhone or the Pixel was part of it? I "
	    "also need the notes from the meeting with Ada Lovelace at the Red Cross "
	    "last week.";
	const char *labels[] = {"person", "organization", "location", "date", "product"};
	struct extract_params xp = {.labels = labels, .n_labels = 5, .threshold = 0.5f};
	size_t len = strlen(text);
	struct model *m[2];
	struct sy_error err = {0};
	const int threads[2] = {1, nt};
	for (int i = 0; i < 2; i++) {
		struct model_options o = model_default_options();
		o.n_threads = threads[i];
		if (model_open(argv[1], &o, &err, &m[i]) != SY_OK) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	double *ms[2] = {calloc((size_t)reps, sizeof(double)),
	                 calloc((size_t)reps, sizeof(double))};
	int ntok = 0, nent[2] = {0, 0};
	for (int r = -1; r < reps; r++)
		for (int i = 0; i < 2; i++) {
			struct model_item_result res = {0};
			double t0 = now_ms();
			if (model_extract_texts(m[i], &text, &len, 1, &xp, &err, &res, &ntok) !=
			    SY_OK) {
				fprintf(stderr, "%s\n", err.msg);
				return 1;
			}
			if (r >= 0)
				ms[i][r] = now_ms() - t0;
			nent[i] = res.n_entities;
			model_item_result_free(&res);
		}
	for (int i = 0; i < 2; i++) {
		qsort(ms[i], (size_t)reps, sizeof(double), cmp);
		printf("gliner %d tokens, %d thread(s): min %.1f ms, median %.1f ms, %d entities\n",
		       ntok, threads[i], ms[i][0], ms[i][reps / 2], nent[i]);
		model_close(m[i]);
		free(ms[i]);
	}
	return 0;
}
