/* The cluster's wire format (docs/CLUSTER.md): JSON messages between the gateway and the
 * workers over NATS JetStream.
 *
 * Work (gateway -> stream sy.work.<model>.<pool>): one unit of an engine_encode request, the
 * texts [first, first + n) of it (one item for encode/extract, every item of a score call):
 *   {"v":1,"reply":INBOX,"req":ID,"first":i,"model":M,
 *    "p":{"outputs":u,"normalize":-1|0|1,"truncate":b,"is_query":b,"dims":n,
 *         ["max_len":n,"left":b,] ["pool":k,] (only when set) "instruction":s|null,
 *         "query":s|null,"labels":[s]|null,"threshold":x,"aggregation":k,"tokens":b},
 *    "texts":[s,...],"qimage":IMG?,"images":[IMG|null,...]?} NUL BYTES?
 * Images travel as raw bytes after the JSON and one NUL byte (JSON text holds no raw NUL):
 * IMG is {"f":format,"o":offset,"n":bytes}, their place in those bytes (the query image of a
 * score unit, and one per item whose item is an image; the item's text is then ""). So an
 * image costs its own size on the bus, not base64's 4/3, and a unit must still fit the NATS
 * max_payload (default 1 MiB): the gateway answers 413 naming the limit for one that does
 * not (an encode unit carries one item; a score unit carries every item and the query).
 * "p" is written in this fixed order, so units with equal parameters have equal "p" text and a
 * worker may run them as one engine call.
 *
 * Reply (worker -> the gateway's inbox):
 *   {"req":ID,"first":i,"ok":true,"dims":d,"n_tokens":[k,...],"queue_ms":x,"inference_ms":x,
 *    then one of "dense":[[...],...] | "sparse":[{"i":[...],"v":[...],"t":[...]?},...] |
 *    "multivector":[{"d":d,"n":k,"v":[...]},...] |
 *    "entities":[[{"l":label,"s":start,"e":end,"x":score},...],...]}
 *   {"req":ID,"first":i,"ok":false,"status":k,"message":s}   (k: enum sy_status)
 * Floats are written with 9 significant digits, which give every float32 back exactly, so
 * answers through the gateway equal those of `serve`. Entity offsets are bytes.
 *
 * Cancel (gateway -> core NATS subject sy.cancel.<pool>, not stored): the text "INBOX REQ", a
 * request the gateway gave up on (its client went away, or its time ran out). Workers skip that
 * request's units they have not started and stop a run that serves only such units. */
#ifndef SY_CLUSTER_WIRE_H
#define SY_CLUSTER_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "engine/engine.h"
#include "base/sbuf.h"

#define WIRE_MAX_TEXTS 100000
#define WIRE_MAX_LABELS 256

/* Writes the work unit of texts [first, first + n) of req. */
void wire_work_write(struct sbuf *b, const char *reply, const char *req_id, int first, int n,
                     const struct engine_request *req, bool return_tokens);

struct wire_work {
	cJSON *doc; /* strings below point into it */
	const char *reply, *req_id, *model;
	char *params; /* the "p" object as written (for grouping), malloc'd */
	int first;
	bool return_tokens;
	struct engine_request er; /* task, model, texts, lens, parameters: ready to run */
	struct extract_params xp;
	const char **texts;
	size_t *lens;
	const char **labels;
	struct model_image *images; /* [n] or NULL; data points into the message's bytes */
	struct model_image qimage; /* the query image (data NULL when none), into the message */
};

/* Parses and checks a work unit (untrusted: every field is validated). The images point into
 * data, which must outlive out. */
enum sy_status wire_work_parse(const char *data, size_t len, struct sy_error *err,
                               struct wire_work *out);
void wire_work_free(struct wire_work *w);

/* Replies for the texts [from, from + n) of res, the result of req, as unit (req_id, first).
 * tokens(ctx, id) names sparse terms when return_tokens (may be NULL). */
void wire_reply_write_ok(struct sbuf *b, const char *req_id, int first,
                         const struct engine_result *res, int from, int n,
                         const struct engine_request *req, bool return_tokens,
                         const char *(*tokens)(void *ctx, int id), void *tokens_ctx);
void wire_reply_write_error(struct sbuf *b, const char *req_id, int first,
                            const struct sy_error *err);

/* What a reply carries; the gateway checks it against what the request asked for. */
enum wire_kind {
	WIRE_NONE, /* an error reply */
	WIRE_DENSE, /* dense vectors, or scores as vectors of one dimension */
	WIRE_SPARSE,
	WIRE_MULTIVECTOR,
	WIRE_ENTITIES,
};

/* The kind of reply a request expects. */
enum wire_kind wire_kind_of(const struct engine_request *req);

/* Whether subject is one a worker may publish its replies to: an inbox (_INBOX. then tokens of
 * letters, digits, '_' and '-', at most 255 bytes). A reply subject comes from the message, so
 * anything else (spaces, CR/LF that would write raw protocol, wildcards) is refused. */
bool wire_reply_subject_ok(const char *subject);

#define WIRE_CANCEL_KEY_MAX 360 /* an inbox (<= 255 bytes), a space, a request id */

/* The subject a pool's cancels go to. */
void wire_cancel_subject(char *buf, size_t cap, const char *pool);
/* The cancel text naming unit (reply, req_id); false when it does not fit (never sent). */
bool wire_cancel_key(char *buf, size_t cap, const char *reply, const char *req_id);

struct wire_reply {
	char req_id[96];
	int first, n;
	enum sy_status status; /* SY_OK or the worker's failure */
	enum wire_kind kind; /* what it carries */
	char message[SY_ERROR_MSG_LEN];
	unsigned hint; /* the worker's sy_error.hint */
	int dims;
	float *dense; /* [n][dims] (sparse replies are scattered into it) */
	struct model_item_result *items; /* [n] multi-vectors or entities, or NULL */
	int *n_tokens; /* [n] */
	int *term_ids; /* sparse terms named in "t": [n_terms] ids and their names */
	char **term_names;
	int n_terms;
	double queue_ms, inference_ms;
};

/* Parses a reply; dims_limit bounds "dims" (a sparse reply allocates n x dims floats). */
enum sy_status wire_reply_parse(const char *data, size_t len, int dims_limit, struct sy_error *err,
                                struct wire_reply *out);
void wire_reply_free(struct wire_reply *r);

#endif
