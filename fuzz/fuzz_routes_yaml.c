/* Fuzz target: the routing sections of the YAML config (src/router/config.c): upstreams, routes
 * with every policy's settings, verifiers (regexes, schemas), tasks with splits. Any text must
 * load or fail with a message, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct router_deps deps = {0};
	struct sy_error err = {0};
	struct router *r = NULL;
	if (router_load_text("fuzz.yaml", (const char *)data, size, &deps, &err, &r) == SY_OK)
		router_free(r);
	return 0;
}
