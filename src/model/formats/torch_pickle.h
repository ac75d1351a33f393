/* Restricted unpickler for PyTorch state dicts (the data.pkl inside a torch.save zip archive).
 *
 * Nothing is ever executed: the pickle is interpreted as data. Only the opcodes a state dict of
 * tensors needs are understood, and GLOBAL / STACK_GLOBAL resolve only an allow-list
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and
 * the typed storage classes torch.FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage,
 * LongStorage, IntStorage). Any other opcode or global is refused with an error naming it.
 * Stack depth, memo size, value count and string lengths are bounded; see docs/WEIGHTS.md. */
#ifndef SY_MODEL_TORCH_PICKLE_H
#define SY_MODEL_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/formats/safetensors.h"

/* One tensor of the state dict, as the pickle describes it. Strings point into the pickle
 * bytes (which must outlive the result). Sizes are in elements. */
struct tp_tensor {
	const char *name;
	size_t name_len;
	const char *key; /* storage key: the file <prefix>/data/<key> holds its bytes */
	size_t key_len;
	enum st_dtype dtype;
	int64_t storage_numel;
	int64_t offset;
	int n_dims;
	int64_t shape[ST_MAX_DIMS];
	int64_t stride[ST_MAX_DIMS];
};

#define TP_MAX_STACK 4096
#define TP_MAX_MARKS 256
#define TP_MAX_MEMO (1 << 20)
#define TP_MAX_VALUES (1 << 22)
#define TP_MAX_STRING (1 << 20)
#define TP_MAX_TENSORS (1 << 18)

/* Parses a state dict: the pickle's result must be a dict (or OrderedDict) from strings to
 * tensors. *out is malloc'd (caller frees); *n_out tensors in pickle order. */
enum sy_status torch_pickle_parse(const unsigned char *data, size_t len, struct sy_error *err,
                                  struct tp_tensor **out, int *n_out);

#endif
