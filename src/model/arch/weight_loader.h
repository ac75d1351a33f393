/* Loading an encoder's tensors from a safetensors file (or a PyTorch checkpoint opened as one):
 * names under a prefix, shapes checked, values converted to fp32, linear layers packed for the
 * GEMM in the requested precision, and the bytes held counted for the memory budget. Names are
 * printf formats (the layer index), so an architecture lists its tensor names as HF writes them. */
#ifndef SY_MODEL_WEIGHT_LOADER_H
#define SY_MODEL_WEIGHT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/formats/safetensors.h"
#include "tensor/linear.h"

struct weight_loader {
	const struct safetensors *st;
	const char *prefix; /* put before every name ("", "new.", ...) */
	enum linear_precision prec; /* of the linear layers */
	struct sy_error *err;
	size_t bytes; /* bytes held so far (fp32 tensors; packed size of linear layers) */
};

/* Whether prefix + name exists. */
bool weight_exists(const struct weight_loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A tensor of the given shape (nd dims) as fp32, malloc'd into *out. */
enum sy_status weight_tensor(struct weight_loader *l, float **out, int nd, const int64_t *shape,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* name.weight [n][k] packed into w; with bias, name.bias [n] into *bias (else *bias = NULL). */
enum sy_status weight_linear(struct weight_loader *l, struct linear *w, float **bias, int n, int k,
                             const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Several linear layers stacked into one packed [sum rows][k] layer (q, k and v; up and gate):
 * part i is patterns[i] (a printf pattern taking the layer index) with rows[i] rows; with bias,
 * their biases stacked the same way into *bias (malloc'd). */
enum sy_status weight_stacked(struct weight_loader *l, struct linear *w, float **bias,
                              const char *const *patterns, const int *rows, int n_parts, int k,
                              int layer);

/* weight_norm under a printf pattern taking the layer index. */
enum sy_status weight_stacked_norm(struct weight_loader *l, float **gamma, float **beta,
                                   const char *pattern, int n, int layer);

/* A norm's name.weight [n], and with beta name.bias [n] (else *beta = NULL). A LayerNorm's
 * parameters may also carry the old TensorFlow names gamma / beta. */
enum sy_status weight_norm(struct weight_loader *l, float **gamma, float **beta, int n,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
