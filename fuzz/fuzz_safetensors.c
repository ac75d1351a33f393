/* Fuzz target: safetensors headers and layouts (src/model/formats/safetensors.c). A file that parses has
 * every tensor read back as float32, which exercises the bounds and dtype checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct safetensors *st;
	if (safetensors_parse(data, size, "fuzz.safetensors", &err, &st) != SY_OK)
		return 0;
	for (int i = 0; i < st->n_tensors; i++) {
		float *f = NULL;
		if (safetensors_tensor_to_f32(&st->tensors[i], &err, &f) == SY_OK)
			free(f);
	}
	safetensors_close(st);
	return 0;
}
