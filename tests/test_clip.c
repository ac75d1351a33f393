/* CLIP and SigLIP (src/model/arch/clip.c) against the independent PyTorch reference
 * (tools/reference/make_clip.py, tests/golden/{clip,siglip}-tiny.json): text embeddings from
 * the fixture's tokenizer.json (ids equal to the reference's), image embeddings from the
 * reference's own pixel_values (cosine >= 0.99999) and through the whole decode + preprocess
 * path for every test image (>= 0.9999), zero-shot scores both ways (a text against images, an
 * image against text labels; CLIP softmax, SigLIP sigmoid with logit_bias), batched equal to one by one, and bad images refused with a clear status. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

static cJSON *golden(const char *name)
{
	char path[256], *text;
	size_t len;
	struct sy_error err = {0};
	snprintf(path, sizeof path, "tests/golden/%s.json", name);
	if (sy_file_read(path, &err, &text, &len) != SY_OK)
		return NULL;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	return doc;
}

static double cosine(const float *a, const cJSON *ref, int n)
{
	double ab = 0, aa = 0, bb = 0;
	int i = 0;
	for (const cJSON *v = ref->child; v && i < n; v = v->next, i++) {
		ab += a[i] * v->valuedouble;
		aa += (double)a[i] * a[i];
		bb += v->valuedouble * v->valuedouble;
	}
	if (i != n || cJSON_GetArraySize(ref) != n)
		return -2;
	return ab / sqrt(aa * bb + 1e-30);
}

struct blob {
	char *data;
	size_t len;
};

static struct blob read_image(const char *name)
{
	char path[256];
	struct blob b = {0};
	struct sy_error err;
	snprintf(path, sizeof path, "tests/fixtures/images/%s", name);
	if (sy_file_read(path, &err, &b.data, &b.len) != SY_OK)
		b.data = NULL;
	return b;
}

static void check_model(const char *kind, const char *arch)
{
	char dir[128], gname[64];
	snprintf(dir, sizeof dir, "tests/fixtures/%s-tiny", kind);
	snprintf(gname, sizeof gname, "%s-tiny", kind);
	cJSON *g = golden(gname);
	CHECK(g != NULL);
	if (!g)
		return;
	CHECK_STREQ(model_family_of(dir), "clip");
	struct model *m;
	struct sy_error err = {0};
	struct model_options o = model_default_options();
	o.n_threads = 2;
	enum sy_status s = model_open(dir, &o, &err, &m);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s != SY_OK) {
		cJSON_Delete(g);
		return;
	}
	CHECK_STREQ(m->arch, arch);
	const int D = model_dims(m);
	CHECK(m->encode && m->encode->images && m->score && m->score->images);

	/* Texts: ids as the reference tokenised them, then the embedding. */
	const cJSON *texts = cJSON_GetObjectItem(g, "texts");
	const int nt = cJSON_GetArraySize(texts);
	struct model_input ins[24] = {0};
	float *out = calloc((size_t)24 * D, sizeof *out);
	int i = 0;
	for (const cJSON *t = texts->child; t; t = t->next, i++) {
		const char *txt = cJSON_GetObjectItem(t, "text")->valuestring;
		ins[i] = (struct model_input){
		    .text = txt, .len = strlen(txt), .truncate = true, .normalize = 0};
	}
	int n_tokens[24];
	s = model_run_inputs(m, MODEL_TASK_ENCODE, ins, nt, &err, out, NULL, n_tokens);
	CHECKF(s == SY_OK, "%s", err.msg);
	double worst = 1;
	i = 0;
	for (const cJSON *t = texts->child; s == SY_OK && t; t = t->next, i++) {
		CHECK_EQ_INT(n_tokens[i], cJSON_GetArraySize(cJSON_GetObjectItem(t, "ids")));
		double c = cosine(out + (size_t)i * D, cJSON_GetObjectItem(t, "embed"), D);
		worst = c < worst ? c : worst;
		CHECKF(c >= 0.99999, "%s text %d: cosine %.7f", kind, i, c);
	}
	if (getenv("SY_TEST_VERBOSE"))
		fprintf(stderr, "  %s texts: worst cosine %.8f\n", kind, worst);

	/* Images from the reference's own pixel_values. */
	const cJSON *imgs = cJSON_GetObjectItem(g, "images");
	worst = 1;
	for (const cJSON *im = imgs->child; im; im = im->next) {
		const cJSON *px = cJSON_GetObjectItem(im, "pixels");
		if (!cJSON_IsArray(px))
			continue;
		const int np = cJSON_GetArraySize(px);
		float *pv = malloc((size_t)np * sizeof *pv);
		int k = 0;
		for (const cJSON *v = px->child; v; v = v->next)
			pv[k++] = (float)v->valuedouble;
		float e[4096];
		s = clip_embed_pixels(m, pv, 1, &err, e);
		CHECKF(s == SY_OK, "%s", err.msg);
		double c = cosine(e, cJSON_GetObjectItem(im, "embed"), D);
		worst = c < worst ? c : worst;
		CHECKF(c >= 0.99999, "%s %s (identical pixels): cosine %.7f", kind,
		       cJSON_GetObjectItem(im, "image")->valuestring, c);
		free(pv);
	}
	if (getenv("SY_TEST_VERBOSE"))
		fprintf(stderr, "  %s images from pixel_values: worst cosine %.8f\n", kind, worst);

	/* Every image through decode + preprocess, all in one batch (mixed with a text). */
	struct blob blobs[16];
	struct model_image mi[16];
	int ni = 0;
	for (const cJSON *im = imgs->child; im && ni < 15; im = im->next, ni++) {
		blobs[ni] = read_image(cJSON_GetObjectItem(im, "image")->valuestring);
		mi[ni] =
		    (struct model_image){(const unsigned char *)blobs[ni].data, blobs[ni].len, 0};
		ins[ni] = (struct model_input){.text = "", .image = &mi[ni], .normalize = 0};
	}
	const char *first = cJSON_GetObjectItem(texts->child, "text")->valuestring;
	ins[ni] = (struct model_input){
	    .text = first, .len = strlen(first), .truncate = true, .normalize = 0};
	s = model_run_inputs(m, MODEL_TASK_ENCODE, ins, ni + 1, &err, out, NULL, n_tokens);
	CHECKF(s == SY_OK, "%s", err.msg);
	worst = 1;
	i = 0;
	for (const cJSON *im = imgs->child; s == SY_OK && i < ni; im = im->next, i++) {
		double c = cosine(out + (size_t)i * D, cJSON_GetObjectItem(im, "embed"), D);
		worst = c < worst ? c : worst;
		CHECKF(c >= 0.9999, "%s %s (decode + preprocess): cosine %.7f", kind,
		       cJSON_GetObjectItem(im, "image")->valuestring, c);
	}
	if (s == SY_OK)
		CHECK(cosine(out + (size_t)ni * D, cJSON_GetObjectItem(texts->child, "embed"), D) >=
		      0.99999);
	if (getenv("SY_TEST_VERBOSE"))
		fprintf(stderr, "  %s images decoded here: worst cosine %.8f\n", kind, worst);

	/* One by one equals batched. */
	float one[4096];
	s = model_run_inputs(m, MODEL_TASK_ENCODE, &ins[2], 1, &err, one, NULL, NULL);
	CHECK(s == SY_OK);
	float maxd = 0;
	for (int k = 0; k < D; k++)
		maxd = fmaxf(maxd, fabsf(one[k] - out[2 * D + k]));
	CHECKF(maxd < 1e-5f, "batched vs single differ by %g", maxd);

	/* Zero-shot: the first text against every image. */
	for (int k = 0; k < ni; k++) {
		ins[k].query = first;
		ins[k].query_len = strlen(first);
		ins[k].truncate = true;
	}
	float scores[24];
	s = model_run_inputs(m, MODEL_TASK_SCORE, ins, ni, &err, scores, NULL, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (m->score->softmax) {
		float mx = -INFINITY, sum = 0;
		for (int k = 0; k < ni; k++)
			mx = fmaxf(mx, scores[k]);
		for (int k = 0; k < ni; k++)
			sum += (scores[k] = expf(scores[k] - mx));
		for (int k = 0; k < ni; k++)
			scores[k] /= sum;
	}
	i = 0;
	for (const cJSON *v = cJSON_GetObjectItem(g, "scores")->child; s == SY_OK && v && i < ni;
	     v = v->next, i++)
		CHECKF(fabs(scores[i] - v->valuedouble) < 2e-4, "%s score %d: %g, reference %g",
		       kind, i, scores[i], v->valuedouble);

	/* Zero-shot classification: the first image as the query against the texts (labels). */
	struct model_input lab[24];
	i = 0;
	for (const cJSON *t = texts->child; t; t = t->next, i++) {
		const char *txt = cJSON_GetObjectItem(t, "text")->valuestring;
		lab[i] = (struct model_input){.text = txt,
		                              .len = strlen(txt),
		                              .truncate = true,
		                              .query = "",
		                              .query_image = &mi[0]};
	}
	s = model_run_inputs(m, MODEL_TASK_SCORE, lab, nt, &err, scores, NULL, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	CHECK_STREQ(cJSON_GetObjectItem(g, "image_query")->valuestring,
	            cJSON_GetObjectItem(imgs->child, "image")->valuestring);
	if (m->score->softmax) {
		float mx = -INFINITY, sum = 0;
		for (int k = 0; k < nt; k++)
			mx = fmaxf(mx, scores[k]);
		for (int k = 0; k < nt; k++)
			sum += (scores[k] = expf(scores[k] - mx));
		for (int k = 0; k < nt; k++)
			scores[k] /= sum;
	}
	i = 0;
	for (const cJSON *v = cJSON_GetObjectItem(g, "label_scores")->child; s == SY_OK && v;
	     v = v->next, i++)
		CHECKF(fabs(scores[i] - v->valuedouble) < 2e-4, "%s label %d: %g, reference %g",
		       kind, i, scores[i], v->valuedouble);
	CHECK(i == nt);

	/* Bad images fail with a status naming the problem. */
	const char *bad[] = {"truncated.jpg", "corrupt.png", "unsupported.gif"};
	const enum sy_status want[] = {SY_ERR_FORMAT, SY_ERR_FORMAT, SY_ERR_UNSUPPORTED};
	for (int k = 0; k < 3; k++) {
		struct blob b = read_image(bad[k]);
		struct model_image bi = {(const unsigned char *)b.data, b.len, 0};
		struct model_input in = {.text = "", .image = &bi, .normalize = -1};
		s = model_run_inputs(m, MODEL_TASK_ENCODE, &in, 1, &err, out, NULL, NULL);
		CHECKF(s == want[k], "%s: status %d (%s)", bad[k], s, err.msg);
		free(b.data);
	}
	for (int k = 0; k < ni; k++)
		free(blobs[k].data);
	free(out);
	model_close(m);
	cJSON_Delete(g);
}

static void test_clip(void)
{
	check_model("clip", "clip");
}

static void test_siglip(void)
{
	check_model("siglip", "siglip");
}

/* SigLIP as google/siglip-* ships it: spiece.model and tokenizer_config.json, no
 * tokenizer.json; texts go through SiglipTokenizer's lowercasing and canonicalize_text. */
static void test_siglip_spiece(void)
{
	check_model("siglip-spm", "siglip");
}

int main(void)
{
	RUN(test_clip);
	RUN(test_siglip);
	RUN(test_siglip_spiece);
	return harness_summary();
}
