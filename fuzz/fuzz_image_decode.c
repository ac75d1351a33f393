/* Fuzz target: untrusted image bytes (src/image/decode.c: JPEG, PNG, WebP through Debian's
 * codecs, the EXIF orientation walk, the pixel cap) and, for what decodes, the preprocessing
 * (PIL bicubic resize, crop, normalize) at a small output size. The first byte picks the format
 * the request would name; the cap is small so the fuzzer cannot spend its memory on big images. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct sy_error err;
	struct image_rgb im;
	const enum image_format f = (enum image_format)(data[0] % 4);
	if (image_decode(data + 1, size - 1, f, 1 << 20, &err, &im) != SY_OK)
		return 0;
	struct image_preproc p;
	if (image_preproc_parse("{\"size\":{\"shortest_edge\":8},\"crop_size\":8}", 8, false, &err,
	                        &p) == SY_OK) {
		float *out = malloc(3 * 8 * 8 * sizeof *out);
		if (out)
			image_preprocess(&im, &p, &err, out);
		free(out);
	}
	image_rgb_free(&im);
	return 0;
}
