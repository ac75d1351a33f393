/* Fuzz target: the serve YAML configuration (src/server/config.c, libyaml underneath). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Unknown keys are warned about; keep stderr quiet for the fuzzer. */
	setenv("SWITCHYARD_LOG", "error", 0);
	struct serve_config c;
	struct sy_error err;
	if (serve_config_init(&c, &err) != SY_OK)
		return 0;
	serve_config_load_text(&c, "fuzz.yaml", (const char *)data, size, &err);
	serve_config_free(&c);
	return 0;
}
