/* PyTorch zip checkpoints; see torch_ckpt.h. The zip central directory is parsed here (with the
 * zip64 records checkpoints over 4 GiB use) because only a tiny subset of zip is needed and every
 * field must be bounds-checked against the mapping anyway. */
#include "model/formats/torch_ckpt.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/file.h"
#include "model/formats/torch_pickle.h"

struct zentry {
	const char *name;
	size_t name_len;
	int method; /* 0 stored, 8 deflate */
	uint64_t csize, usize;
	const unsigned char *data; /* csize bytes inside the archive */
};

struct zip {
	const char *path;
	struct zentry *e;
	size_t n;
};

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* True when [off, off+n) lies inside a buffer of len bytes. */
static bool in(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

static enum sy_status zip_read(const unsigned char *d, size_t len, const char *path,
                               struct sy_error *err, struct zip *z)
{
	z->path = path;
	if (len < 22)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not a zip archive (too short)", path);
	/* The end-of-central-directory record is within the last 22 + 65535 bytes. */
	size_t eocd = SIZE_MAX;
	size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
	for (size_t i = len - 22 + 1; i-- > lo;)
		if (le(d + i, 4) == 0x06054b50) {
			eocd = i;
			break;
		}
	if (eocd == SIZE_MAX)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: not a zip archive (no end of central directory; a legacy "
		                    "pre-1.6 torch.save file is not supported)",
		                    path);
	uint64_t count = le(d + eocd + 10, 2), cd_size = le(d + eocd + 12, 4);
	uint64_t cd_off = le(d + eocd + 16, 4);
	if (count == 0xffff || cd_size == 0xffffffff || cd_off == 0xffffffff) {
		if (eocd < 20 || le(d + eocd - 20, 4) != 0x07064b50)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: zip64 locator missing", path);
		uint64_t z64 = le(d + eocd - 20 + 8, 8);
		if (!in(z64, 56, len) || le(d + z64, 4) != 0x06064b50)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: zip64 end record out of bounds", path);
		count = le(d + z64 + 32, 8);
		cd_size = le(d + z64 + 40, 8);
		cd_off = le(d + z64 + 48, 8);
	}
	if (!in(cd_off, cd_size, len) || count > cd_size / 46)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: zip central directory (%llu entries at %llu) out of bounds", path,
		    (unsigned long long)count, (unsigned long long)cd_off);
	z->e = calloc(count ? count : 1, sizeof *z->e);
	if (!z->e)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const unsigned char *p = d + cd_off, *end = p + cd_size;
	for (uint64_t i = 0; i < count; i++) {
		if (end - p < 46 || le(p, 4) != 0x02014b50)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: zip entry %llu is malformed",
			                    path, (unsigned long long)i);
		struct zentry *e = &z->e[z->n];
		uint64_t flags = le(p + 8, 2);
		e->method = (int)le(p + 10, 2);
		e->csize = le(p + 20, 4);
		e->usize = le(p + 24, 4);
		size_t nl = le(p + 28, 2), xl = le(p + 30, 2), cl = le(p + 32, 2);
		uint64_t loc = le(p + 42, 4);
		if ((size_t)(end - p) - 46 < nl + xl + cl)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: zip entry %llu overruns the directory", path,
			                    (unsigned long long)i);
		e->name = (const char *)p + 46;
		e->name_len = nl;
		/* zip64 extended information: the fields that were 0xffffffff, in this order. */
		const unsigned char *x = p + 46 + nl, *xe = x + xl;
		while (xe - x >= 4) {
			uint64_t id = le(x, 2), sz = le(x + 2, 2);
			if ((uint64_t)(xe - x - 4) < sz)
				break;
			if (id == 1) {
				const unsigned char *f = x + 4, *fe = f + sz;
				uint64_t *fields[] = {&e->usize, &e->csize, &loc};
				for (int k = 0; k < 3; k++)
					if (*fields[k] == 0xffffffff) {
						if (fe - f < 8)
							return sy_error_set(
							    err, SY_ERR_FORMAT,
							    "%s: zip64 field missing", path);
						*fields[k] = le(f, 8);
						f += 8;
					}
			}
			x += 4 + sz;
		}
		p += 46 + nl + xl + cl;
		if (flags & 1)
			return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: encrypted zip entry",
			                    path);
		if (!in(loc, 30, len) || le(d + loc, 4) != 0x04034b50)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: zip local header %llu out of bounds", path,
			                    (unsigned long long)i);
		uint64_t data = loc + 30 + le(d + loc + 26, 2) + le(d + loc + 28, 2);
		if (!in(data, e->csize, len))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: zip entry %.*s data out of bounds", path,
			                    (int)(nl > 200 ? 200 : nl), e->name);
		if (e->method != 0 && e->method != 8)
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s: zip entry %.*s uses compression method %d (only stored "
			    "and deflate are read)",
			    path, (int)(nl > 200 ? 200 : nl), e->name, e->method);
		if (e->method == 0 && e->csize != e->usize)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: stored zip entry sizes differ",
			                    path);
		e->data = d + data;
		z->n++;
	}
	return SY_OK;
}

static const struct zentry *zip_find(const struct zip *z, const char *prefix, size_t pl,
                                     const char *mid, const char *key, size_t kl)
{
	size_t ml = strlen(mid);
	for (size_t i = 0; i < z->n; i++) {
		const struct zentry *e = &z->e[i];
		if (e->name_len == pl + ml + kl && memcmp(e->name, prefix, pl) == 0 &&
		    memcmp(e->name + pl, mid, ml) == 0 && memcmp(e->name + pl + ml, key, kl) == 0)
			return e;
	}
	return NULL;
}

/* Inflates a deflated entry into a new owned buffer of exactly e->usize bytes. */
static enum sy_status inflate_entry(const struct zip *z, const struct zentry *e,
                                    struct sy_error *err, size_t *owned_total, unsigned char **out)
{
	*out = NULL;
	/* deflate cannot expand more than ~1032:1; a larger claim is a lie or a bomb */
	if (e->usize > TORCH_CKPT_MAX_OWNED_BYTES - *owned_total || e->usize / 1032 > e->csize + 1)
		return sy_error_set(err, SY_ERR_LIMIT, "%s: zip entry %.*s claims %llu bytes",
		                    z->path, (int)e->name_len, e->name,
		                    (unsigned long long)e->usize);
	unsigned char *buf = malloc(e->usize ? e->usize : 1);
	if (!buf)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
		free(buf);
		return sy_error_set(err, SY_ERR_NOMEM, "zlib: inflateInit failed");
	}
	uint64_t in_left = e->csize, out_left = e->usize;
	zs.next_in = (unsigned char *)e->data;
	zs.next_out = buf;
	int r = Z_OK;
	while (r == Z_OK) {
		unsigned ci = in_left > UINT32_MAX ? UINT32_MAX : (unsigned)in_left;
		unsigned co = out_left > UINT32_MAX ? UINT32_MAX : (unsigned)out_left;
		zs.avail_in = ci;
		zs.avail_out = co;
		r = inflate(&zs, Z_NO_FLUSH);
		in_left -= ci - zs.avail_in;
		out_left -= co - zs.avail_out;
		if (r == Z_OK && zs.avail_out == co && zs.avail_in == ci)
			r = Z_BUF_ERROR;
	}
	inflateEnd(&zs);
	if (r != Z_STREAM_END || out_left != 0) {
		free(buf);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: zip entry %.*s does not inflate to %llu bytes", z->path,
		                    (int)e->name_len, e->name, (unsigned long long)e->usize);
	}
	*owned_total += e->usize;
	*out = buf;
	return SY_OK;
}

static bool keep_owned(struct safetensors *st, unsigned char *buf)
{
	unsigned char **o = realloc(st->owned, (size_t)(st->n_owned + 1) * sizeof *o);
	if (!o)
		return false;
	st->owned = o;
	st->owned[st->n_owned++] = buf;
	return true;
}

/* Checks t's view against its storage and points dst at its bytes (gathering a copy when the
 * view is not contiguous). base holds storage_numel elements. */
static enum sy_status place_tensor(struct safetensors *st, const struct tp_tensor *t,
                                   const unsigned char *base, size_t *owned_total,
                                   struct sy_error *err, struct st_tensor *dst)
{
	size_t es = st_dtype_size(t->dtype);
	uint64_t n = 1, extent = 0;
	bool contiguous = true;
	uint64_t expect = 1;
	for (int i = t->n_dims - 1; i >= 0; i--) {
		uint64_t sz = (uint64_t)t->shape[i], sd = (uint64_t)t->stride[i];
		if (__builtin_mul_overflow(n, sz, &n))
			goto overflow;
		if (sz > 1 && sd != expect)
			contiguous = false;
		if (__builtin_mul_overflow(expect, sz, &expect))
			goto overflow;
		uint64_t span;
		if (sz > 0 && (__builtin_mul_overflow(sz - 1, sd, &span) ||
		               __builtin_add_overflow(extent, span, &extent)))
			goto overflow;
	}
	dst->n_dims = t->n_dims;
	memcpy(dst->shape, t->shape, sizeof t->shape);
	dst->dtype = t->dtype;
	dst->n_elems = (size_t)n;
	if (n == 0) {
		dst->data = base;
		dst->n_bytes = 0;
		return SY_OK;
	}
	uint64_t last;
	if (__builtin_add_overflow(extent, (uint64_t)t->offset, &last) ||
	    last >= (uint64_t)t->storage_numel)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: tensor %s reaches element %llu of a storage of %lld elements", st->path,
		    dst->name, (unsigned long long)last, (long long)t->storage_numel);
	if (n > SIZE_MAX / es)
		goto overflow;
	dst->n_bytes = (size_t)n * es;
	if (contiguous) {
		dst->data = base + (size_t)t->offset * es;
		return SY_OK;
	}
	if (dst->n_bytes > TORCH_CKPT_MAX_OWNED_BYTES - *owned_total)
		return sy_error_set(err, SY_ERR_LIMIT, "%s: tensor %s too large to copy", st->path,
		                    dst->name);
	unsigned char *buf = malloc(dst->n_bytes);
	if (!buf || !keep_owned(st, buf)) {
		free(buf);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	*owned_total += dst->n_bytes;
	int64_t idx[ST_MAX_DIMS] = {0};
	for (uint64_t k = 0; k < n; k++) {
		uint64_t src = (uint64_t)t->offset;
		for (int i = 0; i < t->n_dims; i++)
			src += (uint64_t)idx[i] * (uint64_t)t->stride[i];
		memcpy(buf + k * es, base + src * es, es);
		for (int i = t->n_dims - 1; i >= 0; i--) {
			if (++idx[i] < t->shape[i])
				break;
			idx[i] = 0;
		}
	}
	dst->data = buf;
	return SY_OK;
overflow:
	return sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s has a size or stride that overflows",
	                    st->path, dst->name);
}

static enum sy_status build(struct safetensors *st, const struct zip *z, const unsigned char *pkl,
                            size_t pkl_len, const char *prefix, size_t pl, struct sy_error *err)
{
	struct tp_tensor *tt;
	int n;
	enum sy_status s = torch_pickle_parse(pkl, pkl_len, err, &tt, &n);
	if (s != SY_OK) {
		if (!err)
			return s;
		char msg[SY_ERROR_MSG_LEN];
		snprintf(msg, sizeof msg, "%s", err->msg);
		return sy_error_set(err, s, "%s: %s", st->path, msg);
	}
	size_t names_len = 0;
	for (int i = 0; i < n; i++)
		names_len += tt[i].name_len + 1;
	st->tensors = calloc(n ? (size_t)n : 1, sizeof *st->tensors);
	st->names = malloc(names_len ? names_len : 1);
	/* Each storage is looked up (and inflated) once; tied weights share one. */
	const struct zentry **ents = calloc(n ? (size_t)n : 1, sizeof *ents);
	const unsigned char **bases = calloc(n ? (size_t)n : 1, sizeof *bases);
	if (!st->tensors || !st->names || !ents || !bases) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t owned_total = 0;
	char *np = st->names;
	for (int i = 0; i < n && s == SY_OK; i++) {
		const struct tp_tensor *t = &tt[i];
		struct st_tensor *dst = &st->tensors[i];
		if (memchr(t->name, 0, t->name_len)) {
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: tensor name with a NUL byte",
			                 st->path);
			break;
		}
		memcpy(np, t->name, t->name_len);
		np[t->name_len] = 0;
		dst->name = np;
		np += t->name_len + 1;
		if (sy_strmap_get(&st->index, dst->name, t->name_len) >= 0) {
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: tensor %s appears twice",
			                 st->path, dst->name);
			break;
		}
		const struct zentry *e = zip_find(z, prefix, pl, "data/", t->key, t->key_len);
		if (!e) {
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: tensor %s: storage %.*s missing from the "
			                 "archive",
			                 st->path, dst->name, (int)t->key_len, t->key);
			break;
		}
		size_t es = st_dtype_size(t->dtype);
		if ((uint64_t)t->storage_numel > e->usize / es) {
			s = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s: tensor %s: storage %.*s holds %llu bytes, fewer than %lld "
			    "elements of %zu",
			    st->path, dst->name, (int)t->key_len, t->key,
			    (unsigned long long)e->usize, (long long)t->storage_numel, es);
			break;
		}
		const unsigned char *base = NULL;
		for (int j = 0; j < i; j++)
			if (ents[j] == e)
				base = bases[j];
		if (!base && e->method == 0)
			base = e->data;
		if (!base) {
			unsigned char *buf;
			s = inflate_entry(z, e, err, &owned_total, &buf);
			if (s != SY_OK)
				break;
			if (!keep_owned(st, buf)) {
				free(buf);
				s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				break;
			}
			base = buf;
		}
		ents[i] = e;
		bases[i] = base;
		s = place_tensor(st, t, base, &owned_total, err, dst);
		if (s == SY_OK && sy_strmap_put(&st->index, dst->name, t->name_len, i) != 0)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (s == SY_OK)
			st->n_tensors++;
	}
out:
	free(ents);
	free(bases);
	free(tt);
	return s;
}

enum sy_status torch_ckpt_parse(const unsigned char *data, size_t len, const char *name,
                                struct sy_error *err, struct safetensors **out)
{
	*out = NULL;
	struct safetensors *st = calloc(1, sizeof *st);
	if (!st)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	sy_strmap_init(&st->index);
	st->path = strdup(name ? name : "pytorch_model.bin");
	struct zip z = {0};
	enum sy_status s = st->path ? zip_read(data, len, st->path, err, &z)
	                            : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	/* The archive's one data.pkl names the prefix every other entry shares. */
	const struct zentry *pkl = NULL;
	size_t pl = 0;
	for (size_t i = 0; s == SY_OK && i < z.n; i++) {
		const struct zentry *e = &z.e[i];
		if (e->name_len >= 9 && memcmp(e->name + e->name_len - 9, "/data.pkl", 9) == 0 &&
		    !memchr(e->name, '/', e->name_len - 9)) {
			if (pkl)
				s = sy_error_set(err, SY_ERR_FORMAT, "%s: more than one data.pkl",
				                 st->path);
			pkl = e;
			pl = e->name_len - 8;
		}
	}
	if (s == SY_OK && !pkl)
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: zip archive without <name>/data.pkl (not a torch.save file)",
		                 st->path);
	if (s == SY_OK) {
		const struct zentry *bo = zip_find(&z, pkl->name, pl, "byteorder", "", 0);
		if (bo &&
		    !(bo->method == 0 && bo->csize == 6 && memcmp(bo->data, "little", 6) == 0))
			s = sy_error_set(err, SY_ERR_UNSUPPORTED,
			                 "%s: only little-endian checkpoints are read", st->path);
	}
	unsigned char *pkl_buf = NULL;
	if (s == SY_OK) {
		size_t owned =
		    TORCH_CKPT_MAX_OWNED_BYTES - ((size_t)64 << 20); /* pickle <= 64 MiB */
		if (pkl->usize > ((size_t)64 << 20))
			s = sy_error_set(err, SY_ERR_LIMIT, "%s: data.pkl of %llu bytes", st->path,
			                 (unsigned long long)pkl->usize);
		else if (pkl->method == 8)
			s = inflate_entry(&z, pkl, err, &owned, &pkl_buf);
	}
	if (s == SY_OK)
		s = build(st, &z, pkl_buf ? pkl_buf : pkl->data, (size_t)pkl->usize, pkl->name, pl,
		          err);
	free(pkl_buf);
	free(z.e);
	if (s != SY_OK) {
		safetensors_close(st);
		return s;
	}
	*out = st;
	return SY_OK;
}

enum sy_status torch_ckpt_open(const char *path, struct sy_error *err, struct safetensors **out)
{
	*out = NULL;
	struct sy_mmap map;
	enum sy_status s = sy_mmap_open(path, err, &map);
	if (s != SY_OK)
		return s;
	s = torch_ckpt_parse(map.data, map.len, path, err, out);
	if (s != SY_OK) {
		sy_mmap_close(&map);
		return s;
	}
	(*out)->map = map;
	return SY_OK;
}
