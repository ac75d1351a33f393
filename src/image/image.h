/* Images for the vision models: untrusted encoded bytes (JPEG, PNG, WebP) decoded by Debian's
 * libjpeg-turbo, libpng and libwebp into 8-bit RGB, then preprocessed as Hugging Face's
 * CLIPImageProcessor and SiglipImageProcessor do (resize with PIL's bicubic filter, center crop,
 * rescale, normalize) into the float planes a vision tower reads.
 *
 * Decoding follows what Pillow gives for Image.open(...) then ImageOps.exif_transpose (JPEG's
 * EXIF orientation) then .convert("RGB"): alpha is dropped (not composited), a palette is looked
 * up (its transparency ignored), grey is replicated, 16-bit samples keep their high byte (16-bit
 * grey is clipped to 255, as Pillow's I -> RGB conversion does). The pixel count is checked
 * from the header before any pixel buffer is allocated (decompression bombs). Animated WebP and
 * CMYK JPEG are refused as unsupported.
 *
 * Thread-safe: no global state; every call owns its buffers. */
#ifndef SY_IMAGE_IMAGE_H
#define SY_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* The default cap on decoded pixels (width x height): 50 Mpx, 150 MB of RGB. */
#define IMAGE_MAX_PIXELS_DEFAULT (50L * 1000 * 1000)

enum image_format { IMAGE_FORMAT_ANY = 0, IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG, IMAGE_FORMAT_WEBP };

/* "jpeg"/"jpg", "png", "webp" (any case); -1 for anything else. */
int image_format_parse(const char *s);
const char *image_format_name(enum image_format f);

struct image_rgb {
	int w, h;
	uint8_t *px; /* [h][w][3], malloc'd; image_rgb_free */
};
void image_rgb_free(struct image_rgb *im);

/* Decodes data[len]. format ANY sniffs the magic bytes; a named format must match them.
 * max_pixels <= 0: IMAGE_MAX_PIXELS_DEFAULT. Errors: SY_ERR_FORMAT (corrupt, truncated,
 * not the format named), SY_ERR_UNSUPPORTED (another format, animation, CMYK), SY_ERR_LIMIT
 * (too many pixels), SY_ERR_NOMEM. */
enum sy_status image_decode(const uint8_t *data, size_t len, enum image_format format,
                            long max_pixels, struct sy_error *err, struct image_rgb *out);

/* PIL's Image.resize(size, Image.BICUBIC, reducing_gap=None) of 8-bit RGB: the separable
 * convolution of Pillow's Resample.c (support 2 scaled by the downscale factor, so downscaling
 * antialiases), horizontal pass first, fixed-point coefficients and 8-bit rounding between the
 * passes. out->px is malloc'd. */
enum sy_status image_resize_bicubic(const struct image_rgb *in, int w, int h, struct sy_error *err,
                                    struct image_rgb *out);

/* A Hugging Face image processor's settings (preprocessor_config.json). */
struct image_preproc {
	bool do_resize;
	int shortest_edge; /* > 0: resize so the shorter side is this (CLIP); else to height x width */
	int resize_h, resize_w;
	bool do_center_crop;
	int crop_h, crop_w;
	bool do_rescale;
	double rescale_factor; /* 1/255 */
	bool do_normalize;
	float mean[3], std[3];
	int out_h, out_w; /* what image_preprocess writes */
};

/* Reads dir/preprocessor_config.json; without one, defaults to size x size, mean/std 0.5
 * (SigLIP's) when siglip else CLIP's. */
enum sy_status image_preproc_load(const char *dir, int image_size, bool siglip,
                                  struct sy_error *err, struct image_preproc *out);
/* Parses the JSON text of a preprocessor_config.json. */
enum sy_status image_preproc_parse(const char *json, int image_size, bool siglip,
                                   struct sy_error *err, struct image_preproc *out);

/* Resize, crop, rescale and normalize: out is [3][out_h][out_w] (channels first, as
 * pixel_values). */
enum sy_status image_preprocess(const struct image_rgb *im, const struct image_preproc *p,
                                struct sy_error *err, float *out);

/* The size image_preprocess resizes a w x h image to before cropping (HF's
 * get_resize_output_image_size). */
void image_preproc_resize_size(const struct image_preproc *p, int w, int h, int *rw, int *rh);

#endif
