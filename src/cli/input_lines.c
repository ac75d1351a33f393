/* Reading the texts of a command from --input (see commands.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int cli_read_lines(const char *cmd, const char *input, char ***v, int *n, int *cap)
{
	FILE *in = !strcmp(input, "-") ? stdin : fopen(input, "rb");
	if (!in) {
		fprintf(stderr, "switchyard %s: cannot open %s: %s\n", cmd, input, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t line_cap = 0;
	ssize_t got;
	int rc = 0;
	while ((got = getline(&line, &line_cap, in)) >= 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (*n == *cap) {
			int nc = *cap ? 2 * *cap : 16;
			char **d = realloc(*v, (size_t)nc * sizeof *d);
			if (!d) {
				rc = -1;
				break;
			}
			*v = d;
			*cap = nc;
		}
		if (!((*v)[*n] = strdup(line))) {
			rc = -1;
			break;
		}
		(*n)++;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (rc != 0)
		fprintf(stderr, "switchyard %s: out of memory reading %s\n", cmd, input);
	return rc;
}
