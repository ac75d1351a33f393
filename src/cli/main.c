/* The `switchyard` command: dispatches to subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchyard.h"
#include "base/threads.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "tensor/isa.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: switchyard <command> [options]\n"
	        "\n"
	        "commands:\n"
	        "  encode   embed texts with a model, one JSON line per text\n"
	        "  score    score documents against a query (cross-encoder or ColBERT)\n"
	        "  extract  find entities in texts with a NER model, one JSON line per text\n"
	        "  models   inspect, pull or locate models (`models inspect|pull|path`)\n"
	        "  eval     evaluate a model or a router on a data set (`eval "
	        "sts|intents|routellm|candidates|log`)\n"
	        "  router   train a routing classifier (`router train`)\n"
	        "  serve    run the HTTP server (`serve --port 8080 --model ID=PATH`)\n"
	        "  gateway  the HTTP server in front of workers (`gateway --nats URL --pool P`)\n"
	        "  worker   drain a pool's work from NATS JetStream (`worker --nats URL --pool "
	        "P`)\n"
	        "\n"
	        "Run `switchyard <command> --help` for the options of one command;\n"
	        "`switchyard --version` prints the version and the kernels this CPU runs.\n"
	        "\n"
	        "Every command takes --help, --version and --spin-us N (or SWITCHYARD_SPIN_US=N): "
	        "how long idle worker\n"
	        "threads spin for the next request before they sleep, in microseconds (default "
	        "%d;\n"
	        "0 sleeps at once; more keeps requests with longer gaps between them fast, at the "
	        "cost\n"
	        "of a busy core per thread for that long after each request).\n",
	        SY_POOL_SPIN_US_DEFAULT);
}

/* SWITCHYARD_SPIN_US sets the pools' spin bound for every command (--spin-us, which each
 * command's option table takes through cli/cli_opts.c, wins). Returns 0, or -1 after a message. */
static int spin_us_from_env(void)
{
	const char *env = getenv("SWITCHYARD_SPIN_US");
	long us;
	if (!env || !*env)
		return 0;
	if (sy_spin_us_parse(env, &us) != 0) {
		fprintf(stderr,
		        "switchyard: SWITCHYARD_SPIN_US=%.40s: not a number of microseconds in [0, "
		        "%ld]\n",
		        env, SY_POOL_SPIN_US_MAX);
		return -1;
	}
	sy_pool_set_spin_us(us);
	return 0;
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
	if (spin_us_from_env() != 0)
		return 2;
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
		cli_version_print();
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (cmd[0] == '-')
		fprintf(stderr, "switchyard: unknown option '%s'\n", cmd);
	else
		fprintf(stderr, "switchyard: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
