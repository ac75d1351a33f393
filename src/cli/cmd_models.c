/* `switchyard models`: model catalogue commands.
 *   models inspect DIR|ID      what a model directory holds (architecture, sizes, dtypes,
 *                              tokenizer); a Hub id is looked up in the cache
 *   models pull ID             downloads a Hub model into the Hugging Face cache and prints
 *                              its snapshot directory
 *   models path ID             prints the cached snapshot directory (no network) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "hub/hub.h"
#include "model/inspect.h"

static void models_usage(FILE *f)
{
	fprintf(f, "usage: switchyard models inspect DIR|ID\n"
	           "       switchyard models pull ID [--revision REV] [--quiet]\n"
	           "       switchyard models path ID [--revision REV]\n"
	           "Hub ids (org/name) use the Hugging Face cache: $HF_HUB_CACHE, $HF_HOME/hub or\n"
	           "~/.cache/huggingface/hub; downloads come from $HF_ENDPOINT with $HF_TOKEN;\n"
	           "HF_HUB_OFFLINE=1 forbids the network.\n");
}

static int models_hub(const char *cmd, int argc, char **argv)
{
	struct hub_options o;
	hub_options_from_env(&o);
	const char *id = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--revision") && i + 1 < argc) {
			snprintf(o.revision, sizeof o.revision, "%s", argv[++i]);
		} else if (!strcmp(argv[i], "--quiet")) {
			o.progress = false;
		} else if (argv[i][0] != '-' && !id) {
			id = argv[i];
		} else {
			fprintf(stderr, "switchyard models %s: unexpected argument %s\n", cmd,
			        argv[i]);
			models_usage(stderr);
			return 2;
		}
	}
	if (!id) {
		models_usage(stderr);
		return 2;
	}
	struct sy_error err = {0};
	char *dir = NULL;
	enum sy_status s = !strcmp(cmd, "pull") ? hub_pull(&o, id, &err, &dir)
	                                        : hub_cache_resolve(&o, id, &err, &dir);
	if (s != SY_OK) {
		fprintf(stderr, "switchyard models %s: %s\n", cmd, err.msg);
		return 1;
	}
	printf("%s\n", dir);
	free(dir);
	return 0;
}

int cmd_models(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		models_usage(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "pull") || !strcmp(argv[1], "path")))
		return models_hub(argv[1], argc, argv);
	if (argc != 3 || strcmp(argv[1], "inspect") != 0) {
		models_usage(stderr);
		return 2;
	}
	struct sy_error err = {0};
	char *dir = NULL;
	if (hub_resolve_model(argv[2], false, &err, &dir) != SY_OK ||
	    model_inspect(dir ? dir : argv[2], stdout, &err) != SY_OK) {
		fprintf(stderr, "switchyard models inspect: %s\n", err.msg);
		free(dir);
		return 1;
	}
	free(dir);
	return 0;
}
