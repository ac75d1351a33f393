/* The `switchyard` command: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "switchyard.h"
#include "cli/commands.h"
#include "tensor/isa.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: switchyard <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  encode   embed texts with a model, one JSON line per text\n"
	    "  score    score documents against a query (cross-encoder or ColBERT)\n"
	    "  extract  find entities in texts with a NER model, one JSON line per text\n"
	    "  models   inspect, pull or locate models (`models inspect|pull|path`)\n"
	    "  eval     evaluate a model or a router on a data set (`eval sts|intents|routellm`)\n"
	    "  router   train a routing classifier (`router train`)\n"
	    "  serve    run the HTTP server (`serve --port 8080 --model ID=PATH`)\n"
	    "  gateway  the HTTP server in front of workers (`gateway --nats URL --pool P`)\n"
	    "  worker   drain a pool's work from NATS JetStream (`worker --nats URL --pool "
	    "P`)\n"
	    "\n"
	    "Run `switchyard <command> --help` for the options of one command;\n"
	    "`switchyard --version` prints the version and the kernels this CPU runs.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* The kernel path was chosen before main (src/tensor/isa.c); a SWITCHYARD_ISA this CPU
	 * cannot honour stops every command here. */
	struct sy_error err;
	if (sy_isa_init(&err) != SY_OK) {
		fprintf(stderr, "switchyard: %s\n", err.msg);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "encode"))
		return cmd_encode(argc - 1, argv + 1);
	if (!strcmp(cmd, "score"))
		return cmd_score(argc - 1, argv + 1);
	if (!strcmp(cmd, "extract"))
		return cmd_extract(argc - 1, argv + 1);
	if (!strcmp(cmd, "models"))
		return cmd_models(argc - 1, argv + 1);
	if (!strcmp(cmd, "router"))
		return cmd_router(argc - 1, argv + 1);
	if (!strcmp(cmd, "eval"))
		return cmd_eval(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "gateway"))
		return cmd_gateway(argc - 1, argv + 1);
	if (!strcmp(cmd, "worker"))
		return cmd_worker(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("switchyard %s (kernels: %s)\n", SY_VERSION_STRING,
		       sy_isa_name(sy_isa_current()));
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "switchyard: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
