/* Image decoding and preprocessing (src/image/) against Pillow (tools/reference/make_clip.py,
 * tests/golden/image-resize.json): every test image (JPEG, grey JPEG, EXIF-rotated JPEG, RGBA,
 * palette, grey and tiny PNG, lossy and lossless-with-alpha WebP) decodes to Pillow's
 * exif_transpose + convert("RGB") pixels, and PIL's bicubic resize up and down is matched within
 * 1/255 on every channel; the pixel cap refuses a bomb before allocating; bad bytes fail with
 * the right status; preprocessor_config.json is read as HF does. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "image/image.h"

static cJSON *gold;

static uint8_t *b64(const char *s, size_t *n)
{
	static const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s);
	uint8_t *out = malloc(len / 4 * 3 + 3);
	size_t k = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len && s[i] != '='; i++) {
		const char *p = strchr(tab, s[i]);
		if (!p)
			continue;
		acc = acc << 6 | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (uint8_t)(acc >> bits);
		}
	}
	*n = k;
	return out;
}

static enum sy_status load(const char *name, struct image_rgb *im, struct sy_error *err)
{
	char path[256], *data;
	size_t len;
	snprintf(path, sizeof path, "tests/fixtures/images/%s", name);
	enum sy_status s = sy_file_read(path, err, &data, &len);
	if (s != SY_OK)
		return s;
	s = image_decode((const uint8_t *)data, len, IMAGE_FORMAT_ANY, 0, err, im);
	free(data);
	return s;
}

static void test_decode_matches_pil(void)
{
	const cJSON *dec = cJSON_GetObjectItem(gold, "decoded");
	int n = 0;
	for (const cJSON *it = dec->child; it; it = it->next, n++) {
		struct sy_error err = {0};
		struct image_rgb im;
		enum sy_status s = load(it->string, &im, &err);
		CHECKF(s == SY_OK, "%s: %s", it->string, err.msg);
		if (s != SY_OK)
			continue;
		const int w = cJSON_GetObjectItem(it, "w")->valueint;
		const int h = cJSON_GetObjectItem(it, "h")->valueint;
		CHECKF(im.w == w && im.h == h, "%s: %dx%d, PIL %dx%d", it->string, im.w, im.h, w,
		       h);
		size_t nb;
		uint8_t *ref = b64(cJSON_GetObjectItem(it, "rgb")->valuestring, &nb);
		if (im.w == w && im.h == h && nb == (size_t)w * h * 3) {
			int maxd = 0;
			for (size_t i = 0; i < nb; i++) {
				int d = abs((int)ref[i] - im.px[i]);
				maxd = d > maxd ? d : maxd;
			}
			CHECKF(maxd == 0, "%s: decoded pixels differ from PIL by up to %d",
			       it->string, maxd);
		}
		free(ref);
		image_rgb_free(&im);
	}
	CHECK(n >= 9);
}

static void test_resize_matches_pil(void)
{
	const cJSON *rs = cJSON_GetObjectItem(gold, "resize");
	int n = 0, worst = 0;
	for (const cJSON *it = rs->child; it; it = it->next, n++) {
		const char *name = cJSON_GetObjectItem(it, "image")->valuestring;
		const int w = cJSON_GetObjectItem(it, "w")->valueint;
		const int h = cJSON_GetObjectItem(it, "h")->valueint;
		struct sy_error err = {0};
		struct image_rgb im, r;
		if (load(name, &im, &err) != SY_OK)
			continue;
		CHECK(image_resize_bicubic(&im, w, h, &err, &r) == SY_OK);
		size_t nb;
		uint8_t *ref = b64(cJSON_GetObjectItem(it, "rgb")->valuestring, &nb);
		CHECK_EQ_INT(nb, (size_t)w * h * 3);
		int maxd = 0;
		for (size_t i = 0; r.px && i < nb; i++) {
			int d = abs((int)ref[i] - r.px[i]);
			maxd = d > maxd ? d : maxd;
		}
		CHECKF(maxd <= 1, "%s to %dx%d: off by %d/255", name, w, h, maxd);
		worst = maxd > worst ? maxd : worst;
		free(ref);
		image_rgb_free(&r);
		image_rgb_free(&im);
	}
	CHECK(n >= 30);
	if (getenv("SY_TEST_VERBOSE"))
		fprintf(stderr, "  %d resizes, worst difference %d/255\n", n, worst);
}

static void test_bad_images(void)
{
	struct sy_error err = {0};
	struct image_rgb im;
	CHECK(load("truncated.jpg", &im, &err) == SY_ERR_FORMAT);
	CHECK(load("corrupt.png", &im, &err) == SY_ERR_FORMAT);
	CHECK(load("unsupported.gif", &im, &err) == SY_ERR_UNSUPPORTED);
	CHECK(image_decode((const uint8_t *)"", 0, IMAGE_FORMAT_ANY, 0, &err, &im) ==
	      SY_ERR_FORMAT);
	/* A named format must match the bytes. */
	char *data;
	size_t len;
	CHECK(sy_file_read("tests/fixtures/images/wide.jpg", &err, &data, &len) == SY_OK);
	CHECK(image_decode((const uint8_t *)data, len, IMAGE_FORMAT_PNG, 0, &err, &im) ==
	      SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "png") != NULL);
	/* Every prefix of a valid file fails cleanly (no crash, no partial image). */
	for (size_t cut = 0; cut < len; cut += len / 23 + 1) {
		enum sy_status s =
		    image_decode((const uint8_t *)data, cut, IMAGE_FORMAT_JPEG, 0, &err, &im);
		CHECK(s != SY_OK);
	}
	/* The cap: 300 x 200 = 60000 pixels against a cap of 59999. */
	CHECK(image_decode((const uint8_t *)data, len, IMAGE_FORMAT_JPEG, 59999, &err, &im) ==
	      SY_ERR_LIMIT);
	CHECK(strstr(err.msg, "limit") != NULL);
	free(data);
}

/* A PNG header claiming 60000 x 60000 pixels: refused from the header, before any buffer. */
static void test_bomb_header(void)
{
	static const uint8_t png[] = {
	    0x89, 'P',  'N',  'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I',  'H',  'D',  'R', 0,
	    0,    0xEA, 0x60, 0,   0,    0xEA, 0x60, 8,    2, 0, 0, 0,  0x5d, 0x6e, 0x2e, 0x46};
	struct sy_error err = {0};
	struct image_rgb im;
	enum sy_status s = image_decode(png, sizeof png, IMAGE_FORMAT_PNG, 0, &err, &im);
	CHECKF(s == SY_ERR_LIMIT || s == SY_ERR_FORMAT, "status %d: %s", s, err.msg);
}

static void test_preproc_config(void)
{
	struct sy_error err = {0};
	struct image_preproc p;
	CHECK(image_preproc_load("tests/fixtures/clip-tiny", 32, false, &err, &p) == SY_OK);
	CHECK(p.shortest_edge == 32 && p.do_center_crop && p.out_h == 32 && p.out_w == 32);
	int rw, rh;
	image_preproc_resize_size(&p, 300, 200, &rw, &rh);
	CHECK(rw == 48 && rh == 32);
	image_preproc_resize_size(&p, 33, 71, &rw, &rh);
	CHECK(rw == 32 && rh == 68); /* int(32 * 71 / 33) = int(68.85) */
	CHECK(image_preproc_load("tests/fixtures/siglip-tiny", 32, true, &err, &p) == SY_OK);
	CHECK(p.shortest_edge == 0 && !p.do_center_crop && p.resize_h == 32 && p.mean[1] == 0.5f);
	CHECK(image_preproc_parse("{\"resample\":2}", 32, false, &err, &p) == SY_ERR_UNSUPPORTED);
	CHECK(image_preproc_parse("[1]", 32, false, &err, &p) == SY_ERR_FORMAT);
}

int main(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read("tests/golden/image-resize.json", &err, &text, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	gold = cJSON_ParseWithLength(text, len);
	free(text);
	RUN(test_decode_matches_pil);
	RUN(test_resize_matches_pil);
	RUN(test_bad_images);
	RUN(test_bomb_header);
	RUN(test_preproc_config);
	cJSON_Delete(gold);
	return harness_summary();
}
