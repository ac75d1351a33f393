/* Hugging Face's CLIP / SigLIP image preprocessing (see image.h), in the order
 * CLIPImageProcessor.preprocess applies it: resize (PIL bicubic on the 8-bit RGB image), center
 * crop (image_transforms.center_crop: top = (H - crop_h) // 2, zero padding where the image is
 * smaller), rescale (x * rescale_factor), normalize ((x - mean) / std), channels first.
 *
 * The resize is Pillow's Resample.c algorithm, written from its description: for each output
 * column the source interval it covers is [center - support, center + support] with
 * center = (x + 0.5) * scale and support = 2 * max(scale, 1) for the bicubic kernel (a = -0.5),
 * so downscaling widens the kernel and antialiases; the weights are normalised to sum 1, turned
 * into fixed point with 22 fraction bits, and each pass rounds and clips to 8 bits. The
 * horizontal pass runs first, over just the rows the vertical pass reads. */
#include "image/image.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bicubic(double x)
{
	const double a = -0.5;
	if (x < 0)
		x = -x;
	if (x < 1)
		return ((a + 2) * x - (a + 3)) * x * x + 1;
	if (x < 2)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0;
}

/* Coefficients of an axis of in_size resampled to out_size: for output i, taps bounds[2i]
 * (first source index) and bounds[2i+1] (count), weights kk[i * ksize ...] in fixed point. */
static int coeffs(int in_size, int out_size, int **bounds, int32_t **kk)
{
	const double scale = (double)in_size / out_size;
	const double filterscale = scale < 1 ? 1 : scale;
	const double support = 2.0 * filterscale;
	const int ksize = (int)ceil(support) * 2 + 1;
	*bounds = malloc((size_t)out_size * 2 * sizeof **bounds);
	*kk = malloc((size_t)out_size * ksize * sizeof **kk);
	double *w = malloc((size_t)ksize * sizeof *w);
	if (!*bounds || !*kk || !w) {
		free(w);
		return 0;
	}
	for (int i = 0; i < out_size; i++) {
		const double center = (i + 0.5) * scale;
		int xmin = (int)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		int xmax = (int)(center + support + 0.5);
		if (xmax > in_size)
			xmax = in_size;
		xmax -= xmin;
		double ww = 0;
		for (int x = 0; x < xmax; x++) {
			w[x] = bicubic((x + xmin - center + 0.5) / filterscale);
			ww += w[x];
		}
		int32_t *k = *kk + (size_t)i * ksize;
		for (int x = 0; x < ksize; x++) {
			double v = x < xmax && ww != 0 ? w[x] / ww : 0;
			k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
			                       : 0.5 + v * (1 << PRECISION_BITS));
		}
		(*bounds)[2 * i] = xmin;
		(*bounds)[2 * i + 1] = xmax;
	}
	free(w);
	return ksize;
}

static uint8_t clip8(int64_t v)
{
	v >>= PRECISION_BITS;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

enum sy_status image_resize_bicubic(const struct image_rgb *in, int w, int h, struct sy_error *err,
                                    struct image_rgb *out)
{
	*out = (struct image_rgb){0};
	if (w <= 0 || h <= 0 || in->w <= 0 || in->h <= 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "resize to %d x %d", w, h);
	int *bh = NULL, *bv = NULL;
	int32_t *kh = NULL, *kv = NULL;
	uint8_t *tmp = NULL, *dst = NULL;
	enum sy_status s = SY_OK;
	const int ksh = coeffs(in->w, w, &bh, &kh), ksv = coeffs(in->h, h, &bv, &kv);
	if (!ksh || !ksv) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto done;
	}
	const bool need_h = w != in->w, need_v = h != in->h;
	/* The source rows the vertical pass reads. */
	const int y_first = need_v ? bv[0] : 0;
	const int y_last = need_v ? bv[2 * (h - 1)] + bv[2 * (h - 1) + 1] : in->h;
	const uint8_t *src = in->px;
	int src_rows = in->h, row0 = 0;
	if (need_h) {
		const int rows = y_last - y_first;
		tmp = malloc((size_t)rows * w * 3);
		if (!tmp) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			goto done;
		}
		for (int y = 0; y < rows; y++) {
			const uint8_t *r = in->px + (size_t)(y + y_first) * in->w * 3;
			uint8_t *o = tmp + (size_t)y * w * 3;
			for (int x = 0; x < w; x++) {
				const int32_t *k = kh + (size_t)x * ksh;
				const int xmin = bh[2 * x], n = bh[2 * x + 1];
				for (int c = 0; c < 3; c++) {
					int64_t acc = 1 << (PRECISION_BITS - 1);
					for (int t = 0; t < n; t++)
						acc +=
						    (int64_t)r[(size_t)(xmin + t) * 3 + c] * k[t];
					o[x * 3 + c] = clip8(acc);
				}
			}
		}
		src = tmp;
		src_rows = rows;
		row0 = y_first;
	} else {
		tmp = NULL;
	}
	(void)src_rows;
	dst = malloc((size_t)w * h * 3);
	if (!dst) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (!need_v) {
		memcpy(dst, src + (size_t)(need_h ? 0 : 0) * w * 3, (size_t)w * h * 3);
	} else {
		for (int y = 0; y < h; y++) {
			const int32_t *k = kv + (size_t)y * ksv;
			const int ymin = bv[2 * y] - row0, n = bv[2 * y + 1];
			uint8_t *o = dst + (size_t)y * w * 3;
			for (int x = 0; x < w * 3; x++) {
				int64_t acc = 1 << (PRECISION_BITS - 1);
				for (int t = 0; t < n; t++)
					acc += (int64_t)src[(size_t)(ymin + t) * w * 3 + x] * k[t];
				o[x] = clip8(acc);
			}
		}
	}
	*out = (struct image_rgb){w, h, dst};
	dst = NULL;
done:
	free(bh);
	free(bv);
	free(kh);
	free(kv);
	free(tmp);
	free(dst);
	return s;
}

void image_preproc_resize_size(const struct image_preproc *p, int w, int h, int *rw, int *rh)
{
	if (!p->do_resize) {
		*rw = w;
		*rh = h;
	} else if (p->shortest_edge > 0) {
		/* get_resize_output_image_size(default_to_square=False): the long side is
		 * int(size * long / short), Python's true division then truncation. */
		const int s = p->shortest_edge;
		const int sh = w <= h ? w : h, lg = w <= h ? h : w;
		const int nl = (int)((double)s * lg / sh);
		*rw = w <= h ? s : nl;
		*rh = w <= h ? nl : s;
	} else {
		*rw = p->resize_w;
		*rh = p->resize_h;
	}
}

enum sy_status image_preprocess(const struct image_rgb *im, const struct image_preproc *p,
                                struct sy_error *err, float *out)
{
	int rw, rh;
	image_preproc_resize_size(p, im->w, im->h, &rw, &rh);
	struct image_rgb r = {0};
	const struct image_rgb *src = im;
	if (rw != im->w || rh != im->h) {
		enum sy_status s = image_resize_bicubic(im, rw, rh, err, &r);
		if (s != SY_OK)
			return s;
		src = &r;
	}
	const int oh = p->out_h, ow = p->out_w;
	/* center_crop's top-left corner, Python floor division (negative: zero padding). */
	int top = 0, left = 0;
	if (p->do_center_crop) {
		int dh = src->h - oh, dw = src->w - ow;
		top = dh >= 0 ? dh / 2 : -((-dh + 1) / 2);
		left = dw >= 0 ? dw / 2 : -((-dw + 1) / 2);
	} else if (src->h != oh || src->w != ow) {
		image_rgb_free(&r);
		return sy_error_set(err, SY_ERR_INTERNAL,
		                    "preprocessed size %d x %d, expected %d x %d", src->w, src->h,
		                    ow, oh);
	}
	for (int c = 0; c < 3; c++) {
		const double mean = p->do_normalize ? p->mean[c] : 0;
		const double sd = p->do_normalize ? p->std[c] : 1;
		const float scale = p->do_rescale ? (float)p->rescale_factor : 1.0f;
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				const int sy = y + top, sx = x + left;
				float v = 0;
				if (sy >= 0 && sy < src->h && sx >= 0 && sx < src->w)
					v = src->px[((size_t)sy * src->w + sx) * 3 + c];
				v = (float)((double)v *
				            scale); /* rescale: float64 product to float32 */
				out[((size_t)c * oh + y) * ow + x] =
				    (v - (float)mean) / (float)sd; /* normalize in float32 */
			}
	}
	image_rgb_free(&r);
	return SY_OK;
}

static int get_int(const cJSON *o, const char *k, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : def;
}

static bool get_bool(const cJSON *o, const char *k, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static void get3(const cJSON *o, const char *k, float *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 3)
		for (int i = 0; i < 3; i++)
			dst[i] = (float)cJSON_GetArrayItem(v, i)->valuedouble;
	else if (cJSON_IsNumber(v))
		dst[0] = dst[1] = dst[2] = (float)v->valuedouble;
}

/* A size field: an int, {"shortest_edge"}, or {"height","width"}. */
static void get_size(const cJSON *o, const char *k, int *shortest, int *h, int *w)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (cJSON_IsNumber(v)) {
		*h = *w = (int)v->valuedouble;
		if (shortest)
			*shortest = 0;
	} else if (cJSON_IsObject(v)) {
		if (shortest && cJSON_GetObjectItemCaseSensitive(v, "shortest_edge")) {
			*shortest = get_int(v, "shortest_edge", 0);
		} else {
			*h = get_int(v, "height", *h);
			*w = get_int(v, "width", *w);
			if (shortest)
				*shortest = 0;
		}
	}
}

static void defaults(int image_size, bool siglip, struct image_preproc *p)
{
	static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	*p = (struct image_preproc){.do_resize = true,
	                            .resize_h = image_size,
	                            .resize_w = image_size,
	                            .shortest_edge = siglip ? 0 : image_size,
	                            .do_center_crop = !siglip,
	                            .crop_h = image_size,
	                            .crop_w = image_size,
	                            .do_rescale = true,
	                            .rescale_factor = 1.0 / 255,
	                            .do_normalize = true};
	for (int c = 0; c < 3; c++) {
		p->mean[c] = siglip ? 0.5f : clip_mean[c];
		p->std[c] = siglip ? 0.5f : clip_std[c];
	}
}

static enum sy_status finish(struct image_preproc *p, struct sy_error *err)
{
	p->out_h = p->do_center_crop ? p->crop_h : p->resize_h;
	p->out_w = p->do_center_crop ? p->crop_w : p->resize_w;
	if (!p->do_center_crop && (!p->do_resize || p->shortest_edge > 0))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "preprocessor_config.json: an output size that depends on the "
		                    "image (no center crop after a shortest-edge resize)");
	if (p->out_h <= 0 || p->out_w <= 0 || p->out_h > 4096 || p->out_w > 4096 ||
	    (p->do_resize && p->shortest_edge <= 0 && (p->resize_h <= 0 || p->resize_w <= 0)) ||
	    p->shortest_edge > 4096 || p->resize_h > 4096 || p->resize_w > 4096)
		return sy_error_set(err, SY_ERR_FORMAT, "preprocessor_config.json: bad sizes");
	for (int c = 0; c < 3; c++)
		if (!(p->std[c] != 0))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "preprocessor_config.json: image_std of 0");
	return SY_OK;
}

enum sy_status image_preproc_parse(const char *json, int image_size, bool siglip,
                                   struct sy_error *err, struct image_preproc *out)
{
	defaults(image_size, siglip, out);
	cJSON *o = cJSON_Parse(json);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "preprocessor_config.json: not a JSON object");
	}
	struct image_preproc *p = out;
	p->do_resize = get_bool(o, "do_resize", p->do_resize);
	get_size(o, "size", &p->shortest_edge, &p->resize_h, &p->resize_w);
	p->do_center_crop = get_bool(o, "do_center_crop", p->do_center_crop);
	get_size(o, "crop_size", NULL, &p->crop_h, &p->crop_w);
	p->do_rescale = get_bool(o, "do_rescale", p->do_rescale);
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(o, "rescale_factor");
	if (cJSON_IsNumber(rf))
		p->rescale_factor = rf->valuedouble;
	p->do_normalize = get_bool(o, "do_normalize", p->do_normalize);
	get3(o, "image_mean", p->mean);
	get3(o, "image_std", p->std);
	const int resample = get_int(o, "resample", 3);
	cJSON_Delete(o);
	if (p->do_resize && resample != 3)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "preprocessor_config.json: resample %d (only 3, bicubic)",
		                    resample);
	return finish(p, err);
}

enum sy_status image_preproc_load(const char *dir, int image_size, bool siglip,
                                  struct sy_error *err, struct image_preproc *out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
	char *text = NULL;
	size_t len = 0;
	if (!sy_path_exists(path)) {
		defaults(image_size, siglip, out);
		return finish(out, err);
	}
	if (sy_file_read(path, err, &text, &len) != SY_OK)
		return err->status;
	enum sy_status s = image_preproc_parse(text, image_size, siglip, err, out);
	free(text);
	return s;
}
