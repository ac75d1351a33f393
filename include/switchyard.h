/* Switchyard embeddable C API.
 *
 * Today this is the embedding entry point: open a model directory (Hugging Face layout, a TF.js
 * USE-lite directory, or the built-in id "use-lite"), encode texts into dense vectors, close it.
 * The engine (catalogue, batching, score/extract) will grow behind the same opaque handles.
 *
 * Lifetimes: a `struct sy_embedder` is owned by the caller from sy_embedder_open until
 * sy_embedder_close; it is used by one thread at a time. Error strings written into `errbuf` are
 * NUL-terminated and truncated to `errlen`. */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sy_embedder;

struct sy_embedder_params {
	const char *pooling; /* NULL (model default), "cls", "mean", "max", "last" */
	int normalize; /* -1 model default, 0 off, 1 on */
	int max_length; /* 0 model default */
	int n_threads; /* 0 one per core */
};

struct sy_embedder_params sy_embedder_default_params(void);

/* Returns 0 on success, a negative value on failure (message in errbuf). */
int sy_embedder_open(const char *model, const struct sy_embedder_params *params,
                     struct sy_embedder **out, char *errbuf, size_t errlen);
int sy_embedder_dims(const struct sy_embedder *e);
/* Encodes n NUL-terminated texts into out[n][dims]. */
int sy_embedder_encode(struct sy_embedder *e, const char *const *texts, int n, float *out,
                       char *errbuf, size_t errlen);
void sy_embedder_close(struct sy_embedder *e);

#ifdef __cplusplus
}
#endif

#endif
