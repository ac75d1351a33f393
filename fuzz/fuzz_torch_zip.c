/* Fuzz target: PyTorch zip checkpoints (src/model/formats/torch_ckpt.c): the zip directory, zip64
 * records, deflate, storage lookup and view bounds. A checkpoint that opens has every tensor read
 * back as float32, which touches every byte the reader claims is in bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/formats/torch_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct safetensors *st;
	if (torch_ckpt_parse(data, size, "fuzz.bin", &err, &st) != SY_OK)
		return 0;
	for (int i = 0; i < st->n_tensors; i++) {
		float *f = NULL;
		if (safetensors_tensor_to_f32(&st->tensors[i], &err, &f) == SY_OK)
			free(f);
	}
	safetensors_close(st);
	return 0;
}
