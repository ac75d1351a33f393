/* Fuzz target: the cluster's messages (src/cluster/wire.c), both the work units a worker reads
 * and the replies a gateway reads; anything on the bus must parse or fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err = {0};
	struct wire_work w;
	if (wire_work_parse((const char *)data, size, &err, &w) == SY_OK) {
		/* What a worker will publish to must be an inbox subject: no protocol text. */
		if (!wire_reply_subject_ok(w.reply) || strpbrk(w.reply, " \t\r\n*>"))
			abort();
		wire_work_free(&w);
	}
	struct wire_reply r;
	if (wire_reply_parse((const char *)data, size, 1 << 16, &err, &r) == SY_OK) {
		/* The kind is known, and its results are there for the gateway's checks. */
		if (r.status == SY_OK && (r.kind == WIRE_NONE || (!r.items && !r.dense)))
			abort();
		wire_reply_free(&r);
	}
	return 0;
}
