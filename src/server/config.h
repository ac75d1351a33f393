/* Settings of `switchyard serve`: a YAML file (libyaml) and command-line flags, flags winning.
 *
 * The file holds the same settings as the flags (keys are the flag names without the leading
 * dashes; '-' and '_' are interchangeable) plus the model catalogue:
 *
 *     host: 127.0.0.1
 *     port: 8080
 *     memory_budget: 2G          # bytes, or with a K/M/G/T suffix (powers of 1024)
 *     threads: 0                 # compute threads per model run; 0 = one per core
 *     workers: 1                 # batches run at once, across models
 *     max_batch_tokens: 8192
 *     max_wait_ms: 0
 *     api_key_file: keys.txt
 *     models_dir: /srv/models    # each subdirectory is a model named after it
 *     max_body_bytes: 16M
 *     max_items: 2048
 *     max_chars: 100000
 *     public_metrics: false      # /metrics without a token (with api_key_file)
 *     public_status: false       # the status page (/ and /v1/status) without a token
 *     metrics_port: 9090         # /metrics alone on a second port, never behind auth
 *     models:
 *       - id: BAAI/bge-small-en-v1.5
 *         path: /srv/models/bge-small
 *         pinned: true           # loaded at start, never evicted
 *         quantize: int8         # this model's linear layers in int8 (or none)
 *
 * Paths are used as written (relative ones against the working directory). Unknown keys are
 * reported as warnings, not errors, so the routing layer can keep its settings in the same file. */
#ifndef SY_SERVER_CONFIG_H
#define SY_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "engine/engine.h"
#include "server/server.h"

struct serve_model {
	char *id;
	char *path;
	bool pinned;
	bool precision_set; /* `quantize:` given for this model */
	enum linear_precision precision;
	int dense_dims; /* `dense_dims:`, 0 when not given (model_options.dense_dims) */
};

struct serve_config {
	char *host;
	int port;
	char *models_dir; /* NULL: none */
	char *api_key_file; /* NULL: no auth */
	char *tei_model; /* --tei-model: the model of the TEI routes; NULL: the only one */
	struct engine_config engine;
	struct server_limits limits;
	int max_connections; /* concurrent connections; 0: the server's default (256) */
	int idle_timeout_s; /* close connections idle (or trickling nothing) this long; 0: 60 */
	bool public_metrics; /* --public-metrics: GET /metrics without a token */
	bool public_status; /* --public-status: GET / and /v1/status without a token */
	int metrics_port; /* --metrics-port: /metrics alone on this port, no auth; -1: none */
	struct serve_model *models; /* [n_models], catalogue order */
	int n_models;
};

/* Defaults: 127.0.0.1:8080, the engine's and the server's default limits, no models. */
enum sy_status serve_config_init(struct serve_config *c, struct sy_error *err);
void serve_config_free(struct serve_config *c);

/* Reads a YAML file over c (keys present in the file replace c's values; its models are added). */
enum sy_status serve_config_load_file(struct serve_config *c, const char *path,
                                      struct sy_error *err);
/* Same, from text; `name` appears in error messages. */
enum sy_status serve_config_load_text(struct serve_config *c, const char *name, const char *text,
                                      size_t len, struct sy_error *err);

/* Adds a model, or replaces the path (and pinning) of one with the same id. */
enum sy_status serve_config_model_set(struct serve_config *c, const char *id, const char *path,
                                      bool pinned, struct sy_error *err);

#endif
