/* Reader for the safetensors weight format (Hugging Face): an 8-byte little-endian header length
 * N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets}, then the raw data.
 *
 * The file is memory-mapped and never copied; every tensor's dtype, shape and byte range is
 * validated once at open, so a lookup afterwards can hand out pointers into the mapping without
 * further checks. Data is little-endian and not necessarily aligned (the header length is
 * arbitrary), so readers copy values with memcpy or use safetensors_tensor_to_f32.
 *
 * Lifetime: tensors and their data stay valid until safetensors_close. */
#ifndef SY_MODEL_SAFETENSORS_H
#define SY_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/file.h"
#include "base/status.h"
#include "base/strmap.h"

/* The dtypes of the safetensors specification. Conversion to float32 supports the floating
 * types and I32/I64; the others parse (so a file holding e.g. a BOOL buffer still opens) but
 * cannot be read as numbers. */
enum st_dtype {
	ST_DTYPE_F32,
	ST_DTYPE_F16,
	ST_DTYPE_BF16,
	ST_DTYPE_F64,
	ST_DTYPE_I32,
	ST_DTYPE_I64,
	ST_DTYPE_I16,
	ST_DTYPE_I8,
	ST_DTYPE_U8,
	ST_DTYPE_U16,
	ST_DTYPE_U32,
	ST_DTYPE_U64,
	ST_DTYPE_BOOL,
	ST_DTYPE_F8_E4M3,
	ST_DTYPE_F8_E5M2,
};

#define ST_MAX_DIMS 8

struct st_tensor {
	const char *name; /* owned by the struct safetensors */
	enum st_dtype dtype;
	int n_dims; /* 0 for a scalar */
	int64_t shape[ST_MAX_DIMS];
	size_t n_elems; /* product of shape (1 for a scalar) */
	const unsigned char *data; /* into the mapping; n_bytes long; may be unaligned */
	size_t n_bytes;
};

struct safetensors {
	char *path; /* for messages */
	struct sy_mmap map; /* empty when opened from memory */
	int n_tensors;
	struct st_tensor *tensors; /* [n_tensors] in header order */
	struct sy_strmap index; /* name -> index into tensors */
	char *names; /* storage for the tensor names */
	/* Buffers some tensors' data point into when they could not stay in the mapping (a
	 * PyTorch checkpoint's deflated or non-contiguous tensors); freed by safetensors_close. */
	unsigned char **owned;
	int n_owned;
};

/* Maps and validates the file at path. The caller frees *out with safetensors_close. */
enum sy_status safetensors_open(const char *path, struct sy_error *err, struct safetensors **out);
/* Validates len bytes at data (which must outlive the result; nothing is copied). name is used
 * in messages. */
enum sy_status safetensors_parse(const unsigned char *data, size_t len, const char *name,
                                 struct sy_error *err, struct safetensors **out);
void safetensors_close(struct safetensors *st);

/* The tensor called name, or NULL. */
const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name);

/* Looks name up and checks its shape against shape[0..n_dims) (an entry of -1 matches any
 * size). Fails with SY_ERR_NOT_FOUND or SY_ERR_FORMAT ("tensor x: expected shape [64,64],
 * found [64,32]"). */
enum sy_status safetensors_get(const struct safetensors *st, const char *name, int n_dims,
                               const int64_t *shape, struct sy_error *err,
                               const struct st_tensor **out);

/* Drops the resident pages of t's data once it has been read (see sy_mmap_release); a no-op for
 * a safetensors opened from memory. */
void safetensors_release(const struct safetensors *st, const struct st_tensor *t);

/* Converts t to a malloc'd float32 array of t->n_elems values (caller frees). */
enum sy_status safetensors_tensor_to_f32(const struct st_tensor *t, struct sy_error *err,
                                         float **out);
/* Converts t into dst (t->n_elems floats, caller-provided). */
enum sy_status safetensors_tensor_read_f32(const struct st_tensor *t, struct sy_error *err,
                                           float *dst);

/* safetensors_get followed by safetensors_tensor_to_f32. */
enum sy_status safetensors_read_f32(const struct safetensors *st, const char *name, int n_dims,
                                    const int64_t *shape, struct sy_error *err, float **out);

const char *st_dtype_name(enum st_dtype d);
size_t st_dtype_size(enum st_dtype d);
/* Writes "[a,b,c]" into buf (always NUL-terminated). */
void st_shape_format(const int64_t *shape, int n_dims, char *buf, size_t cap);

#endif
