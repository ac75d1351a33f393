/* Images per second of a CLIP vision tower through the public library (sy_encode_images):
 * decode + preprocess + the tower, batches of B copies of one JPEG, after one warm-up batch;
 * prints one JSON line {"model","batch","runs","images_per_s","ms_per_batch"} with the median.
 * Used by bench/images.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "switchyard.h"

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
	if (argc != 6) {
		fprintf(stderr, "usage: clip_bench MODEL_DIR IMAGE BATCH RUNS THREADS\n");
		return 2;
	}
	const int batch = atoi(argv[3]), runs = atoi(argv[4]);
	FILE *f = fopen(argv[2], "rb");
	if (!f || batch < 1 || batch > 1024 || runs < 1 || runs > 1000)
		return 2;
	static char data[1 << 22];
	size_t len = fread(data, 1, sizeof data, f);
	fclose(f);
	sy_engine_params p = sy_engine_default_params();
	p.n_threads = atoi(argv[5]);
	sy_engine *e;
	if (sy_engine_open(&p, &e) < 0 || sy_model_add(e, "m", argv[1]) < 0)
		return 1;
	const void **imgs = malloc((size_t)batch * sizeof *imgs);
	size_t *lens = malloc((size_t)batch * sizeof *lens);
	for (int i = 0; i < batch; i++) {
		imgs[i] = data;
		lens[i] = len;
	}
	double *ms = malloc((size_t)runs * sizeof *ms);
	for (int r = -1; r < runs; r++) {
		sy_result *res;
		const double t0 = now_ms();
		int rc = sy_encode_images(e, "m", imgs, lens, (size_t)batch, NULL, &res);
		const double t = now_ms() - t0;
		if (rc < 0) {
			fprintf(stderr, "clip_bench: %s\n", sy_last_error(e));
			return 1;
		}
		sy_result_free(res);
		if (r >= 0)
			ms[r] = t;
	}
	qsort(ms, (size_t)runs, sizeof *ms, cmp);
	const double med = ms[runs / 2];
	printf("{\"model\":\"%s\",\"batch\":%d,\"runs\":%d,\"images_per_s\":%.2f,"
	       "\"ms_per_batch\":%.1f}\n",
	       argv[1], batch, runs, batch * 1000.0 / med, med);
	free(ms);
	free(imgs);
	free(lens);
	sy_engine_close(e);
	return 0;
}
