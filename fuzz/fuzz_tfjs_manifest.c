/* Fuzz target: TF.js model.json manifests (src/model/formats/tfjs.c): weightsManifest groups, paths,
 * dtypes, shapes and quantisation entries. Shard paths resolve against an empty temporary
 * directory, so valid-looking manifests fail cleanly on the missing (or path-escaping) files. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/formats/tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/sy-fuzz-tfjs-XXXXXX";
	static int made;
	if (!made) {
		if (!mkdtemp(dir))
			abort();
		made = 1;
	}
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	if (!root)
		return 0;
	struct sy_error err;
	struct tfjs_weights *w = NULL;
	if (tfjs_weights_load(root, dir, "fuzz model.json", &err, &w) == SY_OK)
		tfjs_weights_free(w);
	cJSON_Delete(root);
	return 0;
}
