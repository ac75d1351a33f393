/* Subcommands of the `switchyard` binary. Each takes argv with argv[0] = the subcommand name and
 * returns the process exit status (0 ok, 1 runtime failure, 2 usage error). */
#ifndef SY_CLI_COMMANDS_H
#define SY_CLI_COMMANDS_H

#include <stdbool.h>

#include "switchyard.h"

/* Appends the lines of input ("-": stdin) to *v (n used, cap allocated; each line strdup'd,
 * without its line ending). Returns 0, or -1 after printing why. */
int cli_read_lines(const char *cmd, const char *input, char ***v, int *n, int *cap);

/* Load options of the model a one-shot command runs. */
struct cli_model_opts {
	const char *pooling; /* NULL: the model's own */
	int max_length; /* 0: the model's own */
	int dense_dims; /* 0: the Dense head modules.json names */
	int n_threads; /* 0: one per core */
	bool int8; /* --quantize int8 */
};
/* Opens an engine holding model (a directory, Hub id or "use-lite"), under its own name when
 * that is a valid id (*id says which). Returns 0, or a negative status after printing why. */
int cli_engine_open(const char *cmd, const char *model, const struct cli_model_opts *o,
                    sy_engine **out, const char **id);
/* --quantize int8|none into o->int8. Returns 0, or -1 after a message. */
int cli_quantize_arg(const char *cmd, const char *val, struct cli_model_opts *o);
/* Prints the engine's message for a failed call. */
void cli_engine_error(const char *cmd, sy_engine *e, int rc);

int cmd_encode(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_intents(int argc, char **argv);
int cmd_eval_routellm(int argc, char **argv);
int cmd_eval_candidates(int argc, char **argv);
int cmd_eval_log(int argc, char **argv);
int cmd_router(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
int cmd_worker(int argc, char **argv);

#endif
