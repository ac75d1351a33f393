/* Images per second of a CLIP vision tower through the public library (sy_encode_images):
 * decode + preprocess + the tower, batches of B copies of one JPEG, after one warm-up batch;
 * prints one JSON line {"side","model","batch","runs","images_per_s","ms_per_batch",
 * "cosine_to_pytorch"} with the median. With EMBED.f32 (PyTorch's embedding of the same image,
 * from tools/reference/export_clip_onnx.py) the first result must be within cosine 0.9999 of it
 * before anything is timed. Used by bench/images.sh. */
#include <math.h>
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
	if (argc != 6 && argc != 7) {
		fprintf(stderr,
		        "usage: clip_bench MODEL_DIR IMAGE BATCH RUNS THREADS [EMBED.f32]\n");
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
	double cosine = -2;
	for (int r = -1; r < runs; r++) {
		sy_result *res;
		const double t0 = now_ms();
		int rc = sy_encode_images(e, "m", imgs, lens, (size_t)batch, NULL, &res);
		const double t = now_ms() - t0;
		if (rc < 0) {
			fprintf(stderr, "clip_bench: %s\n", sy_last_error(e));
			return 1;
		}
		if (r < 0 && argc == 7) {
			static float ref[8192];
			FILE *g = fopen(argv[6], "rb");
			size_t n = g ? fread(ref, sizeof *ref, 8192, g) : 0, dims;
			if (g)
				fclose(g);
			const float *v = sy_result_dense(res, 0, &dims);
			double dot = 0, aa = 0, bb = 0;
			for (size_t k = 0; v && k < dims && dims == n; k++) {
				dot += (double)v[k] * ref[k];
				aa += (double)v[k] * v[k];
				bb += (double)ref[k] * ref[k];
			}
			cosine = dot / sqrt(aa * bb + 1e-30);
			if (!(cosine >= 0.9999)) {
				fprintf(stderr, "clip_bench: cosine %.7f to PyTorch\n", cosine);
				return 3;
			}
		}
		sy_result_free(res);
		if (r >= 0)
			ms[r] = t;
	}
	qsort(ms, (size_t)runs, sizeof *ms, cmp);
	const double med = ms[runs / 2];
	printf("{\"side\":\"switchyard\",\"model\":\"%s\",\"batch\":%d,\"runs\":%d,"
	       "\"images_per_s\":%.2f,\"ms_per_batch\":%.1f,\"cosine_to_pytorch\":%.7f}\n",
	       argv[1], batch, runs, batch * 1000.0 / med, med, cosine);
	free(ms);
	free(imgs);
	free(lens);
	sy_engine_close(e);
	return 0;
}
