/* Fuzz target: Hugging Face config.json for the BERT family (src/model/config.c). */
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct bert_config c;
	bert_config_parse((const char *)data, size, "fuzz config.json", &err, &c);
	return 0;
}
