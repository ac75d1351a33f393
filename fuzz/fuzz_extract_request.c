/* Fuzz target: the body of POST /v1/extract/{model} (src/server/json_codec.c). Any bytes must
 * parse or fail with a 4xx error, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "server/errors.h"
#include "server/json_codec.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_limits lim = {.max_body_bytes = 1 << 20, .max_items = 64, .max_chars = 4096};
	struct api_error err = {0};
	struct encode_request r;
	if (json_extract_request_parse((const char *)data, size, &lim, &err, &r) == SY_OK)
		json_encode_request_free(&r);
	else if (err.http_status < 400 || err.http_status > 499)
		__builtin_trap(); /* a bad body is the client's fault: always 4xx */
	return 0;
}
