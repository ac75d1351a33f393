/* The msgpack wire format of the Superlinked Inference Engine (SIE) SDK, in and out, through
 * Debian's libmsgpack-c.
 *
 * The routes speak one language, JSON: a msgpack request body becomes the same cJSON tree a JSON
 * body parses into, and a route's JSON answer is turned into msgpack when the client asked for
 * it. So every route, its validation and its error messages exist once, and msgpack support
 * cannot drift from JSON support. The price is one extra pass over the answer, small next to the
 * model's work.
 *
 * Arrays travel as msgpack-numpy maps, the way Python's msgpack-numpy writes a numpy array:
 * {"nd": true, "type": "<f4", "kind": "", "shape": [n, ...], "data": <bin, little-endian, C
 * order>} with the keys written as bin. On the way in, such a map (keys bin or str; types <f4,
 * <f8, <f2, |i1, |u1, <i4, <i8) becomes nested JSON arrays of numbers. On the way out, the
 * vector objects of an answer (an object with a "dtype" string and a "values" array: dense,
 * sparse, multivector) carry "values" as an array of the dtype's numpy type (float32 <f4,
 * float16 <f2, int8 |i1, uint8 |u1, binary and ubinary |u1 packed bits) shaped [num_tokens,
 * width] when the object has num_tokens, and "indices" as <i4; everything else maps one to one.
 *
 * Untrusted bytes: before libmsgpack-c sees a body, a scan checks that every container's
 * declared length fits in the bytes left and that nesting stays under 64 levels, so a 5-byte
 * body cannot make the unpacker allocate gigabytes. */
#ifndef SY_SERVER_MSGPACK_CODEC_H
#define SY_SERVER_MSGPACK_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "server/errors.h"

/* Content-Type application/msgpack or application/x-msgpack (parameters allowed). */
bool msgpack_content_type(const char *content_type);
/* Whether an answer goes out as msgpack: Accept names msgpack (before any JSON it also names),
 * or the request was msgpack and Accept does not ask for JSON. NULL accept: none sent. */
bool msgpack_answer_wanted(const char *accept, bool request_msgpack);

/* Decodes one msgpack value (the whole of data) into a cJSON tree (*out, cJSON_Delete). Bad
 * input fills err with a 400 INVALID_INPUT naming the problem. */
enum sy_status msgpack_to_json_tree(const void *data, size_t len, struct api_error *err,
                                    cJSON **out);
/* The same, printed as compact JSON text (malloc'd, NUL-terminated, *out_len bytes). */
enum sy_status msgpack_to_json_text(const void *data, size_t len, struct api_error *err, char **out,
                                    size_t *out_len);

/* Writes the msgpack form of a JSON text (an answer) into out. SY_ERR_FORMAT when json does not
 * parse; SY_ERR_NOMEM when out ran out of memory. */
enum sy_status msgpack_from_json_text(const char *json, size_t len, struct sbuf *out);

/* IEEE half precision, round to nearest even (numpy's astype(float16)), and back. */
unsigned short msgpack_float_to_half(float f);
float msgpack_half_to_float(unsigned short h);

#endif
