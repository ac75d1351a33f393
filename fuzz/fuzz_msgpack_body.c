/* Fuzz target: a msgpack request body (src/server/msgpack_codec.c), decoded to the JSON the
 * routes read and then parsed as an encode request, and the answer encoder fed the JSON text
 * the decoder printed. Untrusted bytes must give a tree or a 4xx, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/errors.h"
#include "server/json_codec.h"
#include "server/msgpack_codec.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_error err = {0};
	char *json = NULL;
	size_t len = 0;
	if (msgpack_to_json_text(data, size, &err, &json, &len) != SY_OK) {
		if (err.http_status != 400 && err.http_status != 500)
			__builtin_trap();
		return 0;
	}
	struct server_limits lim = {.max_body_bytes = 1 << 20, .max_items = 64, .max_chars = 4096};
	struct encode_request r;
	if (json_encode_request_parse(json, len, &lim, &err, &r) == SY_OK)
		json_encode_request_free(&r);
	struct sbuf out = {0};
	if (msgpack_from_json_text(json, len, &out) != SY_OK)
		__builtin_trap(); /* the decoder printed it: it must parse */
	sbuf_free(&out);
	free(json);
	return 0;
}
