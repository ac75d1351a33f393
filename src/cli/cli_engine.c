/* The engine the one-shot commands (encode, score, extract) run on, through the public library
 * (include/switchyard.h): one model, added under the name the user gave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int cli_quantize_arg(const char *cmd, const char *val, struct cli_model_opts *o)
{
	if (strcmp(val, "int8") && strcmp(val, "none")) {
		fprintf(stderr, "switchyard %s: --quantize must be int8 or none\n", cmd);
		return -1;
	}
	o->int8 = !strcmp(val, "int8");
	return 0;
}

int cli_engine_open(const char *cmd, const char *model, const struct cli_model_opts *o,
                    sy_engine **out, const char **id)
{
	/* One-shot commands print their own errors; the engine's log adds nothing below that. */
	setenv("SWITCHYARD_LOG", "error", 0);
	sy_engine_params ep = sy_engine_default_params();
	ep.n_threads = o->n_threads;
	ep.quantize_int8 = o->int8;
	ep.builtin_models = 0;
	int rc = sy_engine_open(&ep, out);
	if (rc < 0) {
		fprintf(stderr, "switchyard %s: %s\n", cmd, sy_strerror(rc));
		return rc;
	}
	sy_model_params mp = sy_model_default_params();
	mp.pooling = o->pooling;
	mp.max_length = o->max_length;
	mp.dense_dims = o->dense_dims;
	mp.quantize = o->int8 ? 1 : 0; /* the one model's: refused by one without an int8 path */
	/* Named as given, so messages name it; a path that is no valid id ("/abs/dir/") goes
	 * under a plain one. */
	*id = model;
	rc = sy_model_add_with(*out, model, model, &mp);
	if (rc == SY_EINVAL) {
		*id = "model";
		rc = sy_model_add_with(*out, *id, model, &mp);
	}
	if (rc < 0) {
		fprintf(stderr, "switchyard %s: %s\n", cmd, sy_last_error(*out));
		sy_engine_close(*out);
		*out = NULL;
	}
	return rc;
}

void cli_engine_error(const char *cmd, sy_engine *e, int rc)
{
	const char *msg = sy_last_error(e);
	fprintf(stderr, "switchyard %s: %s\n", cmd, msg[0] ? msg : sy_strerror(rc));
}
