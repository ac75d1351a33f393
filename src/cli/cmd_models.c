/* `switchyard models`: model catalogue commands. For now `models inspect DIR` prints what a model
 * directory holds (architecture, sizes, dtypes, tokenizer). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "model/inspect.h"

int cmd_models(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: switchyard models inspect DIR\n");
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "inspect") != 0) {
		fprintf(stderr, "usage: switchyard models inspect DIR\n");
		return 2;
	}
	struct sy_error err = {0};
	if (model_inspect(argv[2], stdout, &err) != SY_OK) {
		fprintf(stderr, "switchyard models inspect: %s\n", err.msg);
		return 1;
	}
	return 0;
}
