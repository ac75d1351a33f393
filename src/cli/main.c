/* The `switchyard` command: dispatches to subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchyard.h"
#include "base/threads.h"
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
	        "Every command takes --spin-us N (or SWITCHYARD_SPIN_US=N): how long idle worker\n"
	        "threads spin for the next request before they sleep, in microseconds (default "
	        "%d;\n"
	        "0 sleeps at once; more keeps requests with longer gaps between them fast, at the "
	        "cost\n"
	        "of a busy core per thread for that long after each request).\n",
	        SY_POOL_SPIN_US_DEFAULT);
}

/* Takes the global --spin-us N / --spin-us=N out of argv (anywhere after the command) and sets
 * the pools' spin bound from it, else checks SWITCHYARD_SPIN_US. Returns 0, or -1 after a
 * message when the value is not a microsecond count. */
static int take_spin_us(int *argc, char **argv)
{
	const char *env = getenv("SWITCHYARD_SPIN_US");
	long us;
	if (env && *env && sy_spin_us_parse(env, &us) != 0) {
		fprintf(stderr,
		        "switchyard: SWITCHYARD_SPIN_US=%.40s: not a number of microseconds in [0, "
		        "%ld]\n",
		        env, SY_POOL_SPIN_US_MAX);
		return -1;
	}
	int n = 1;
	for (int i = 1; i < *argc; i++) {
		const char *v = NULL;
		if (!strcmp(argv[i], "--spin-us"))
			v = i + 1 < *argc ? argv[++i] : "";
		else if (!strncmp(argv[i], "--spin-us=", 10))
			v = argv[i] + 10;
		if (!v) {
			argv[n++] = argv[i];
			continue;
		}
		if (sy_spin_us_parse(v, &us) != 0) {
			fprintf(stderr,
			        "switchyard: --spin-us %.40s: not a number of microseconds in [0, "
			        "%ld]\n",
			        v, SY_POOL_SPIN_US_MAX);
			return -1;
		}
		sy_pool_set_spin_us(us);
	}
	argv[n] = NULL;
	*argc = n;
	return 0;
}

/* argv with every "--opt=value" split into "--opt" "value", so the one-shot commands take both
 * spellings as serve does. *names holds the "--opt" copies to free with the array. */
static char **split_equals(int argc, char **argv, char ***names, int *n_names)
{
	char **out = malloc(((size_t)argc * 2 + 1) * sizeof *out);
	*names = malloc(((size_t)argc + 1) * sizeof **names);
	*n_names = 0;
	if (!out || !*names) {
		free(out);
		free(*names);
		*names = NULL;
		return NULL;
	}
	int n = 0;
	for (int i = 0; i < argc; i++) {
		const char *eq = i > 0 && !strncmp(argv[i], "--", 2) ? strchr(argv[i], '=') : NULL;
		char *name = eq ? strndup(argv[i], (size_t)(eq - argv[i])) : NULL;
		if (name) {
			(*names)[(*n_names)++] = name;
			out[n++] = name;
			out[n++] = (char *)eq + 1;
		} else {
			out[n++] = argv[i];
		}
	}
	out[n] = NULL;
	return out;
}

/* Runs a one-shot command on argv with "--opt=value" split. */
static int run_split(int (*cmd)(int, char **), int argc, char **argv)
{
	char **names;
	int n_names;
	char **v = split_equals(argc, argv, &names, &n_names);
	if (!v) {
		fprintf(stderr, "switchyard: out of memory\n");
		return 1;
	}
	int n = 0;
	while (v[n])
		n++;
	const int rc = cmd(n, v);
	for (int i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(v);
	return rc;
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
	if (take_spin_us(&argc, argv) != 0)
		return 2;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "encode"))
		return run_split(cmd_encode, argc - 1, argv + 1);
	if (!strcmp(cmd, "score"))
		return run_split(cmd_score, argc - 1, argv + 1);
	if (!strcmp(cmd, "extract"))
		return run_split(cmd_extract, argc - 1, argv + 1);
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
