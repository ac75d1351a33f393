/* Reader for PyTorch zip checkpoints (pytorch_model.bin as torch.save writes it since 1.6): a zip
 * archive holding <prefix>/data.pkl (the state dict, read by the restricted unpickler in
 * torch_pickle.c), <prefix>/data/<key> (one file per storage) and <prefix>/version.
 *
 * The result is a struct safetensors, so every model loader reads either format unchanged.
 * Stored (uncompressed) contiguous tensors point into the mapping (zero-copy); deflated storages
 * are inflated with zlib and non-contiguous tensors gathered, into buffers owned by the result.
 * Every offset, size and stride is checked against the archive and the storage. */
#ifndef SY_MODEL_TORCH_CKPT_H
#define SY_MODEL_TORCH_CKPT_H

#include <stddef.h>

#include "base/status.h"
#include "model/formats/safetensors.h"

/* Total bytes the reader may allocate for inflated or gathered tensors. */
#define TORCH_CKPT_MAX_OWNED_BYTES ((size_t)32 << 30)

/* Maps and reads the checkpoint at path. The caller frees *out with safetensors_close. */
enum sy_status torch_ckpt_open(const char *path, struct sy_error *err, struct safetensors **out);
/* Reads len bytes at data (which must outlive the result). name is used in messages. */
enum sy_status torch_ckpt_parse(const unsigned char *data, size_t len, const char *name,
                                struct sy_error *err, struct safetensors **out);

#endif
