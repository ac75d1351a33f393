/* `switchyard models`: model catalogue commands.
 *   models inspect DIR|ID      what a model directory holds (architecture, sizes, dtypes,
 *                              tokenizer); a Hub id is looked up in the cache
 *   models pull ID             downloads a Hub model into the Hugging Face cache and prints
 *                              its snapshot directory
 *   models path ID             prints the cached snapshot directory (no network) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "hub/hub.h"
#include "model/inspect.h"

static const char models_usage[] =
    "usage: switchyard models inspect DIR|ID\n"
    "       switchyard models pull ID [--revision REV] [--quiet]\n"
    "       switchyard models path ID [--revision REV]\n"
    "Hub ids (org/name) use the Hugging Face cache: $HF_HUB_CACHE, $HF_HOME/hub or\n"
    "~/.cache/huggingface/hub; downloads come from $HF_ENDPOINT with $HF_TOKEN;\n"
    "HF_HUB_OFFLINE=1 forbids the network.\n";

enum { MOD_REVISION, MOD_QUIET };

/* One table for the three: scope says which takes what. */
enum { INSPECT = 1, PULL = 2, PATH = 4 };
static const struct cli_opt models_opts[] = {
    {"revision", CLI_VALUE, "REV", "a branch, tag or commit (default main)", .id = MOD_REVISION,
     .scope = PULL | PATH},
    {"quiet", CLI_SWITCH, NULL, "no progress on stderr", .id = MOD_QUIET, .scope = PULL},
};

static int models_apply(void *ctx, const struct cli_opt *o, const char *val)
{
	struct hub_options *h = ctx;
	if (o->id == MOD_REVISION)
		snprintf(h->revision, sizeof h->revision, "%s", val);
	else
		h->progress = false;
	return 0;
}

int cmd_models(int argc, char **argv)
{
	if (argc < 2) {
		fputs(models_usage, stderr);
		return 2;
	}
	const int opt = cli_group_option("models", argv[1], models_usage);
	if (opt >= 0)
		return opt;
	static const char *const names[] = {"inspect", "pull", "path"};
	int k = 0;
	while (k < 3 && strcmp(argv[1], names[k]))
		k++;
	if (k == 3) {
		fprintf(stderr, "switchyard models: unknown command '%s'\n%s", argv[1],
		        models_usage);
		return 2;
	}
	char name[32];
	snprintf(name, sizeof name, "models %s", names[k]);
	const struct cli_cmd cmd = {name,
	                            models_usage,
	                            NULL,
	                            models_opts,
	                            (int)(sizeof models_opts / sizeof *models_opts),
	                            1u << k};
	struct hub_options o;
	hub_options_from_env(&o);
	int first, rc = cli_opts_parse(&cmd, argc - 1, argv + 1, models_apply, &o, &first);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	first++; /* an index into argv */
	if (first >= argc)
		return cli_usage_error(&cmd, "needs a model %s", k == 0 ? "directory or id" : "id");
	if (first + 1 < argc)
		return cli_usage_error(&cmd, "unexpected argument '%s'", argv[first + 1]);
	const char *id = argv[first];
	struct sy_error err = {0};
	char *dir = NULL;
	enum sy_status s;
	if (k == 0) {
		s = hub_resolve_model(id, false, &err, &dir);
		if (s == SY_OK)
			s = model_inspect(dir ? dir : id, stdout, &err);
	} else {
		s = k == 1 ? hub_pull(&o, id, &err, &dir) : hub_cache_resolve(&o, id, &err, &dir);
		if (s == SY_OK)
			printf("%s\n", dir);
	}
	if (s != SY_OK)
		fprintf(stderr, "switchyard %s: %s\n", name, err.msg);
	free(dir);
	return s == SY_OK ? 0 : 1;
}
