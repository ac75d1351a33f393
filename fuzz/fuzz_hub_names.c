/* Fuzz target: Hub ids and repository file names as they arrive from users and from the Hub's
 * file list (src/hub): what is accepted must never escape the cache folder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub.h"
#include "hub/hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[600];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	n = strlen(s); /* the input may hold a NUL: check the string the functions saw */
	if (hub_id_valid(s) && (strstr(s, "..") || s[0] == '/' || strchr(s, '\\')))
		abort();
	if (hub_file_name_safe(s)) {
		if (s[0] == '/' || !strcmp(s, "..") || !strncmp(s, "../", 3) || strstr(s, "/../") ||
		    (n >= 3 && !strcmp(s + n - 3, "/..")))
			abort();
		const char *all[] = {s, "config.json", "model.safetensors"};
		(void)hub_file_wanted(s, all, 3);
	}
	return 0;
}
