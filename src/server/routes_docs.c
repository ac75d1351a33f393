/* GET /openapi.json and GET /docs: the API's OpenAPI 3.1 document (src/server/openapi.json,
 * written by hand and checked in) and a page that renders it (src/server/docs.html: plain HTML
 * and a small script, no CDN, so it works offline). Both are compiled into the binary by the
 * Makefile (xxd -i), so the server depends on no file at run time. tests/test_server.c checks
 * the document against the route table (server_route_at): no route undocumented, no documented
 * route missing. */
#include <string.h>

#include "server/server_internal.h"

#include "docs_html.h"
#include "openapi_json.h"

const char *server_openapi_json(size_t *len)
{
	*len = sizeof openapi_json - 1;
	return (const char *)openapi_json;
}

void route_openapi(struct request *rq, struct response *rs)
{
	size_t n;
	const char *doc = server_openapi_json(&n);
	sbuf_put(&rs->body, doc, n);
	rs->status = 200;
}

void route_docs(struct request *rq, struct response *rs)
{
	sbuf_put(&rs->body, (const char *)docs_html, sizeof docs_html - 1);
	rs->content_type = "text/html; charset=utf-8";
	rs->status = 200;
}
