/* Fuzz target: the body of POST /v1/chat/completions (src/router/chat.c). A router without
 * routes answers every well-formed body with 404, so no upstream is ever called; malformed
 * bodies must answer 400, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "router/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct router *r;
	if (!r) {
		struct router_deps deps = {0};
		struct sy_error err = {0};
		if (router_load_text("fuzz", "", 0, &deps, &err, &r) != SY_OK)
			__builtin_trap();
	}
	struct chat_outcome o;
	router_chat(r, (const char *)data, size, "", false, "fuzz", &o);
	if (o.http_status != 400 && o.http_status != 404)
		__builtin_trap();
	router_chat_finish(r, &o);
	return 0;
}
