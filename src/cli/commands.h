/* Subcommands of the `switchyard` binary. Each takes argv with argv[0] = the subcommand name and
 * returns the process exit status (0 ok, 1 runtime failure, 2 usage error). */
#ifndef SY_CLI_COMMANDS_H
#define SY_CLI_COMMANDS_H

/* Appends the lines of input ("-": stdin) to *v (n used, cap allocated; each line strdup'd,
 * without its line ending). Returns 0, or -1 after printing why. */
int cli_read_lines(const char *cmd, const char *input, char ***v, int *n, int *cap);

int cmd_encode(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_intents(int argc, char **argv);
int cmd_eval_routellm(int argc, char **argv);
int cmd_router(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
int cmd_worker(int argc, char **argv);

#endif
