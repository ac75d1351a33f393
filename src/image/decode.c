/* Decoding untrusted JPEG, PNG and WebP bytes into 8-bit RGB (see image.h), with the codecs of
 * Debian (libjpeg-turbo, libpng, libwebp): nothing here parses pixels itself except the EXIF
 * orientation tag, which is a bounds-checked walk of one TIFF directory.
 *
 * Every decoder reads the header first and checks width x height against the cap before it
 * allocates the pixel buffer, so a few hundred bytes claiming 60000 x 60000 pixels cost nothing.
 * libjpeg and libpng report errors by longjmp; each call has its own jmp_buf, and every buffer
 * that could leak across the jump is reached from a struct that outlives it. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

int image_format_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcasecmp(s, "jpeg") || !strcasecmp(s, "jpg"))
		return IMAGE_FORMAT_JPEG;
	if (!strcasecmp(s, "png"))
		return IMAGE_FORMAT_PNG;
	if (!strcasecmp(s, "webp"))
		return IMAGE_FORMAT_WEBP;
	return -1;
}

const char *image_format_name(enum image_format f)
{
	switch (f) {
	case IMAGE_FORMAT_JPEG: return "jpeg";
	case IMAGE_FORMAT_PNG: return "png";
	case IMAGE_FORMAT_WEBP: return "webp";
	case IMAGE_FORMAT_ANY: break;
	}
	return "image";
}

void image_rgb_free(struct image_rgb *im)
{
	if (!im)
		return;
	free(im->px);
	im->px = NULL;
	im->w = im->h = 0;
}

static enum image_format sniff(const uint8_t *d, size_t n)
{
	if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
		return IMAGE_FORMAT_JPEG;
	if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
		return IMAGE_FORMAT_PNG;
	if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
		return IMAGE_FORMAT_WEBP;
	return IMAGE_FORMAT_ANY;
}

static enum sy_status check_size(long w, long h, long max_pixels, struct sy_error *err)
{
	if (w <= 0 || h <= 0)
		return sy_error_set(err, SY_ERR_FORMAT, "image has no pixels (%ld x %ld)", w, h);
	if (w > 65535 || h > 65535 || w * h > max_pixels)
		return sy_error_set(err, SY_ERR_LIMIT,
		                    "image is %ld x %ld = %ld pixels; the limit is %ld", w, h,
		                    w * h, max_pixels);
	return SY_OK;
}

/* ---- EXIF orientation ---- */

static unsigned rd16(const uint8_t *p, bool le)
{
	return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static unsigned long rd32(const uint8_t *p, bool le)
{
	return le ? (unsigned long)rd16(p, true) | (unsigned long)rd16(p + 2, true) << 16
	          : (unsigned long)rd16(p, false) << 16 | rd16(p + 2, false);
}

/* The Orientation tag (0x0112) of IFD0 of an APP1 "Exif\0\0" payload, or 1. */
static int exif_orientation(const uint8_t *d, size_t n)
{
	if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0)
		return 1;
	const uint8_t *t = d + 6;
	const size_t tn = n - 6;
	bool le;
	if (!memcmp(t, "II", 2))
		le = true;
	else if (!memcmp(t, "MM", 2))
		le = false;
	else
		return 1;
	if (rd16(t + 2, le) != 42)
		return 1;
	unsigned long ifd = rd32(t + 4, le);
	if (ifd > tn || tn - ifd < 2)
		return 1;
	unsigned count = rd16(t + ifd, le);
	for (unsigned i = 0; i < count; i++) {
		unsigned long at = ifd + 2 + 12ul * i;
		if (at > tn || tn - at < 12)
			return 1;
		if (rd16(t + at, le) == 0x0112 && rd16(t + at + 2, le) == 3) {
			unsigned v = rd16(t + at + 8, le);
			return v >= 1 && v <= 8 ? (int)v : 1;
		}
	}
	return 1;
}

/* PIL's ImageOps.exif_transpose for orientation o (2..8) of im, in place (a new buffer). */
static enum sy_status orient(struct image_rgb *im, int o, struct sy_error *err)
{
	const int W = im->w, H = im->h;
	const bool swap = o >= 5;
	const int ow = swap ? H : W, oh = swap ? W : H;
	uint8_t *px = malloc((size_t)ow * oh * 3);
	if (!px)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a %d x %d image", W, H);
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = W - 1 - x, sy = y; break; /* FLIP_LEFT_RIGHT */
			case 3: sx = W - 1 - x, sy = H - 1 - y; break; /* ROTATE_180 */
			case 4: sx = x, sy = H - 1 - y; break; /* FLIP_TOP_BOTTOM */
			case 5: sx = y, sy = x; break; /* TRANSPOSE */
			case 6: sx = y, sy = H - 1 - x; break; /* ROTATE_270 */
			case 7: sx = W - 1 - y, sy = H - 1 - x; break; /* TRANSVERSE */
			default: sx = W - 1 - y, sy = x; break; /* 8: ROTATE_90 */
			}
			memcpy(px + ((size_t)y * ow + x) * 3, im->px + ((size_t)sy * W + sx) * 3,
			       3);
		}
	free(im->px);
	im->px = px;
	im->w = ow;
	im->h = oh;
	return SY_OK;
}

/* ---- JPEG ---- */

struct jpeg_err {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
	bool truncated;
	char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr c)
{
	struct jpeg_err *e = (struct jpeg_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jmp, 1);
}

/* Warnings are silent, except the end of data before the image is complete: Pillow refuses a
 * truncated JPEG, so does this. */
static void jpeg_note(j_common_ptr c, int level)
{
	struct jpeg_err *e = (struct jpeg_err *)c->err;
	if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
		e->truncated = true;
}

struct jpeg_job {
	struct jpeg_decompress_struct cinfo;
	struct jpeg_err jerr;
	struct image_rgb im;
};

static enum sy_status jpeg_decode(const uint8_t *data, size_t len, long max_pixels,
                                  struct sy_error *err, struct image_rgb *out)
{
	struct jpeg_job *j = calloc(1, sizeof *j);
	if (!j)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = SY_OK;
	j->cinfo.err = jpeg_std_error(&j->jerr.mgr);
	j->jerr.mgr.error_exit = jpeg_fail;
	j->jerr.mgr.emit_message = jpeg_note;
	if (setjmp(j->jerr.jmp)) {
		s = sy_error_set(err, SY_ERR_FORMAT, "corrupt jpeg: %s", j->jerr.msg);
		goto done;
	}
	jpeg_create_decompress(&j->cinfo);
	jpeg_mem_src(&j->cinfo, data, (unsigned long)len);
	jpeg_save_markers(&j->cinfo, JPEG_APP0 + 1, 0xFFFF);
	jpeg_read_header(&j->cinfo, TRUE);
	s = check_size((long)j->cinfo.image_width, (long)j->cinfo.image_height, max_pixels, err);
	if (s != SY_OK)
		goto done;
	if (j->cinfo.jpeg_color_space == JCS_CMYK || j->cinfo.jpeg_color_space == JCS_YCCK) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED, "CMYK jpeg is not supported");
		goto done;
	}
	int orientation = 1;
	for (jpeg_saved_marker_ptr m = j->cinfo.marker_list; m; m = m->next)
		if (m->marker == JPEG_APP0 + 1) {
			orientation = exif_orientation(m->data, m->data_length);
			break;
		}
	j->cinfo.out_color_space = JCS_RGB;
	jpeg_start_decompress(&j->cinfo);
	if (j->cinfo.output_components != 3) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED, "jpeg with %d components",
		                 j->cinfo.output_components);
		goto done;
	}
	const size_t W = j->cinfo.output_width, H = j->cinfo.output_height;
	j->im.w = (int)W;
	j->im.h = (int)H;
	j->im.px = malloc(W * H * 3);
	if (!j->im.px) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory for a %zu x %zu image", W, H);
		goto done;
	}
	while (j->cinfo.output_scanline < H && !j->jerr.truncated) {
		JSAMPROW row = j->im.px + (size_t)j->cinfo.output_scanline * W * 3;
		jpeg_read_scanlines(&j->cinfo, &row, 1);
	}
	if (j->jerr.truncated) {
		s = sy_error_set(err, SY_ERR_FORMAT, "truncated jpeg");
		goto done;
	}
	jpeg_finish_decompress(&j->cinfo);
	if (orientation > 1)
		s = orient(&j->im, orientation, err);
done:
	jpeg_destroy_decompress(&j->cinfo);
	if (s == SY_OK)
		*out = j->im;
	else
		image_rgb_free(&j->im);
	free(j);
	return s;
}

/* ---- PNG ---- */

struct png_job {
	const uint8_t *data;
	size_t len, at;
	char msg[200];
	struct image_rgb im;
	uint16_t *row16; /* one row of 16-bit grey */
	png_bytep *rows;
};

static void png_read_mem(png_structp p, png_bytep dst, png_size_t n)
{
	struct png_job *j = png_get_io_ptr(p);
	if (n > j->len - j->at) {
		snprintf(j->msg, sizeof j->msg, "truncated png");
		png_error(p, "truncated");
	}
	memcpy(dst, j->data + j->at, n);
	j->at += n;
}

static void png_fail(png_structp p, png_const_charp msg)
{
	struct png_job *j = png_get_error_ptr(p);
	if (!j->msg[0])
		snprintf(j->msg, sizeof j->msg, "corrupt png: %s", msg);
	png_longjmp(p, 1);
}

static void png_warn(png_structp p, png_const_charp msg)
{
	(void)p;
	(void)msg;
}

static enum sy_status png_decode(const uint8_t *data, size_t len, long max_pixels,
                                 struct sy_error *err, struct image_rgb *out)
{
	struct png_job *j = calloc(1, sizeof *j);
	if (!j)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	j->data = data;
	j->len = len;
	enum sy_status s = SY_OK;
	png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_fail, png_warn);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	if (!p || !info) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (setjmp(png_jmpbuf(p))) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s", j->msg[0] ? j->msg : "corrupt png");
		goto done;
	}
	png_set_read_fn(p, j, png_read_mem);
	/* The cap, also inside libpng so that it refuses before allocating anything. */
	png_set_user_limits(p, 65535, 65535);
	png_read_info(p, info);
	png_uint_32 W, H;
	int depth, color, interlace;
	png_get_IHDR(p, info, &W, &H, &depth, &color, &interlace, NULL, NULL);
	s = check_size((long)W, (long)H, max_pixels, err);
	if (s != SY_OK)
		goto done;
	const bool grey16 = depth == 16 && (color == PNG_COLOR_TYPE_GRAY);
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(p);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(p);
	if (depth == 16 && !grey16)
		png_set_strip_16(p);
	if (grey16)
		png_set_swap(p); /* host order (little endian) for the clip below */
	if (color & PNG_COLOR_MASK_ALPHA)
		png_set_strip_alpha(p);
	if (!(color & PNG_COLOR_MASK_COLOR) && !grey16)
		png_set_gray_to_rgb(p);
	const int passes = png_set_interlace_handling(p);
	png_read_update_info(p, info);
	const size_t rowbytes = png_get_rowbytes(p, info);
	if (rowbytes != (size_t)W * (grey16 ? 2 : 3)) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED, "png layout (depth %d, color type %d)",
		                 depth, color);
		goto done;
	}
	j->im.w = (int)W;
	j->im.h = (int)H;
	j->im.px = malloc((size_t)W * H * 3);
	j->row16 = grey16 ? malloc((size_t)W * H * 2) : NULL;
	j->rows = malloc((size_t)H * sizeof *j->rows);
	if (!j->im.px || !j->rows || (grey16 && !j->row16)) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory for a %u x %u image", W, H);
		goto done;
	}
	for (size_t y = 0; y < H; y++)
		j->rows[y] = grey16 ? (png_bytep)(j->row16 + y * W) : j->im.px + y * W * 3;
	(void)passes;
	png_read_image(p, j->rows);
	if (grey16)
		for (size_t i = 0; i < (size_t)W * H; i++) {
			uint8_t v = j->row16[i] > 255 ? 255 : (uint8_t)j->row16[i];
			j->im.px[i * 3] = j->im.px[i * 3 + 1] = j->im.px[i * 3 + 2] = v;
		}
done:
	png_destroy_read_struct(p ? &p : NULL, info ? &info : NULL, NULL);
	free(j->rows);
	free(j->row16);
	if (s == SY_OK)
		*out = j->im;
	else
		image_rgb_free(&j->im);
	free(j);
	return s;
}

/* ---- WebP ---- */

static enum sy_status webp_decode(const uint8_t *data, size_t len, long max_pixels,
                                  struct sy_error *err, struct image_rgb *out)
{
	WebPBitstreamFeatures f;
	VP8StatusCode v = WebPGetFeatures(data, len, &f);
	if (v == VP8_STATUS_NOT_ENOUGH_DATA)
		return sy_error_set(err, SY_ERR_FORMAT, "truncated webp");
	if (v != VP8_STATUS_OK)
		return sy_error_set(err, SY_ERR_FORMAT, "corrupt webp (status %d)", (int)v);
	if (f.has_animation)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "animated webp is not supported");
	enum sy_status s = check_size(f.width, f.height, max_pixels, err);
	if (s != SY_OK)
		return s;
	const size_t W = (size_t)f.width, H = (size_t)f.height;
	uint8_t *px = malloc(W * H * 3);
	if (!px)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a %zu x %zu image", W, H);
	if (!WebPDecodeRGBInto(data, len, px, W * H * 3, (int)(W * 3))) {
		free(px);
		return sy_error_set(err, SY_ERR_FORMAT, "corrupt or truncated webp");
	}
	*out = (struct image_rgb){(int)W, (int)H, px};
	return SY_OK;
}

enum sy_status image_decode(const uint8_t *data, size_t len, enum image_format format,
                            long max_pixels, struct sy_error *err, struct image_rgb *out)
{
	*out = (struct image_rgb){0};
	if (max_pixels <= 0)
		max_pixels = IMAGE_MAX_PIXELS_DEFAULT;
	if (!data || len == 0)
		return sy_error_set(err, SY_ERR_FORMAT, "empty image");
	const enum image_format got = sniff(data, len);
	if (got == IMAGE_FORMAT_ANY)
		return sy_error_set(
		    err, format == IMAGE_FORMAT_ANY ? SY_ERR_UNSUPPORTED : SY_ERR_FORMAT,
		    "not a %s image (unknown signature)",
		    format == IMAGE_FORMAT_ANY ? "jpeg, png or webp" : image_format_name(format));
	if (format != IMAGE_FORMAT_ANY && got != format)
		return sy_error_set(err, SY_ERR_FORMAT, "format says %s but the bytes are %s",
		                    image_format_name(format), image_format_name(got));
	switch (got) {
	case IMAGE_FORMAT_JPEG: return jpeg_decode(data, len, max_pixels, err, out);
	case IMAGE_FORMAT_PNG: return png_decode(data, len, max_pixels, err, out);
	case IMAGE_FORMAT_WEBP: return webp_decode(data, len, max_pixels, err, out);
	case IMAGE_FORMAT_ANY: break;
	}
	return sy_error_set(err, SY_ERR_INTERNAL, "image format");
}
