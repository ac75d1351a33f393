/* Fuzz target: the restricted unpickler for PyTorch state dicts (src/model/formats/torch_pickle.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/formats/torch_pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct tp_tensor *t;
	int n;
	if (torch_pickle_parse(data, size, &err, &t, &n) == SY_OK)
		free(t);
	return 0;
}
