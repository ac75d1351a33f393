/* Reader for the weights of a TensorFlow.js model: the `weightsManifest` of model.json and the
 * binary shard files it names.
 *
 * The manifest is a list of groups; each group has `paths` (shard files, relative to model.json)
 * and `weights` (entries {name, shape, dtype[, quantization]}). The bytes of a group are its
 * shards concatenated in order, and its weights are laid out back to back in that stream in
 * manifest order, so one tensor may straddle two shards. This reader therefore reads each group
 * into one buffer, walks the entries to give every tensor its byte range, and requires the
 * shards to hold exactly the bytes the entries need (a short or overlong shard is an error, as
 * is a missing one). The rules follow tfjs-core's io_utils.ts (decodeWeights):
 *   - dtypes float32, int32 (4 bytes), bool (1), complex64 (8), string (each element a 4-byte
 *     little-endian length and that many bytes);
 *   - `quantization: {dtype, scale, min}` stores the values as uint8 or uint16 with
 *     value = q * scale + min (rounded to the nearest integer for int32 tensors), or as float16
 *     (float32 tensors only). An `original_dtype` field, which some converters add, is accepted.
 * Lookups hand back float32 (or int32) copies with the quantisation undone and the shape
 * checked, so a model loader never sees the storage format.
 *
 * Lifetime: tensors and their data stay valid until tfjs_weights_free. */
#ifndef SY_MODEL_TFJS_H
#define SY_MODEL_TFJS_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "base/strmap.h"

struct cJSON;

enum tfjs_dtype {
	TFJS_DTYPE_FLOAT32,
	TFJS_DTYPE_INT32,
	TFJS_DTYPE_BOOL,
	TFJS_DTYPE_COMPLEX64,
	TFJS_DTYPE_STRING,
	/* Storage types of quantised weights only. */
	TFJS_DTYPE_UINT8,
	TFJS_DTYPE_UINT16,
	TFJS_DTYPE_FLOAT16,
};

const char *tfjs_dtype_name(enum tfjs_dtype d);

#define TFJS_MAX_DIMS 8

struct tfjs_tensor {
	const char *name; /* owned by the struct tfjs_weights */
	enum tfjs_dtype dtype; /* the tensor's type as the graph sees it */
	enum tfjs_dtype stored; /* how its bytes are stored: dtype, or the quantisation type */
	int n_dims; /* 0 for a scalar */
	int64_t shape[TFJS_MAX_DIMS];
	size_t n_elems; /* product of shape (1 for a scalar) */
	double scale, min; /* uint8/uint16 quantisation: value = q * scale + min */
	const unsigned char *data; /* into its group's buffer; n_bytes long; may be unaligned */
	size_t n_bytes;
};

struct tfjs_weights {
	char *path; /* model.json, for messages */
	int n_tensors;
	struct tfjs_tensor *tensors; /* [n_tensors] in manifest order */
	struct sy_strmap index; /* name -> index into tensors (a repeated name: the last one) */
	char **names; /* [n_tensors] storage for the names */
	int n_groups;
	unsigned char **groups; /* [n_groups] each group's shards, concatenated */
	size_t total_bytes; /* over all groups */
};

/* Reads the weights of the model whose model.json is at `model_json`. */
enum sy_status tfjs_weights_open(const char *model_json, struct sy_error *err,
                                 struct tfjs_weights **out);

/* Same, from an already parsed model.json (root object); shard paths are resolved against dir;
 * `what` names model.json in messages. */
enum sy_status tfjs_weights_load(const struct cJSON *root, const char *dir, const char *what,
                                 struct sy_error *err, struct tfjs_weights **out);

void tfjs_weights_free(struct tfjs_weights *w);

/* The tensor of that name, or NULL. */
const struct tfjs_tensor *tfjs_weights_find(const struct tfjs_weights *w, const char *name);

/* A malloc'd float32 copy of tensor `name` (dequantised), checking that its dtype is float32 and
 * its shape is shape[0..n_dims). The caller frees *out. */
enum sy_status tfjs_weights_f32(const struct tfjs_weights *w, const char *name, int n_dims,
                                const int64_t *shape, struct sy_error *err, float **out);

/* Same for an int32 tensor. */
enum sy_status tfjs_weights_i32(const struct tfjs_weights *w, const char *name, int n_dims,
                                const int64_t *shape, struct sy_error *err, int32_t **out);

/* The value of a float32 scalar (shape [] or [1]). */
enum sy_status tfjs_weights_scalar_f32(const struct tfjs_weights *w, const char *name,
                                       struct sy_error *err, float *out);

/* The value of an int32 scalar (shape [] or [1]). */
enum sy_status tfjs_weights_scalar_i32(const struct tfjs_weights *w, const char *name,
                                       struct sy_error *err, int32_t *out);

#endif
