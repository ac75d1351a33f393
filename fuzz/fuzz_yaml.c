/* Fuzz target: the shared YAML reader (src/base/yaml.c) on its own: any text must load into a
 * tree or fail with a message (aliases refused, nesting bounded), and every typed read on every
 * value must answer or fail cleanly, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/yaml.h"

/* Every typed read on v, then the same on its children. */
static void visit(const struct yaml_doc *d, const struct yaml_value *v)
{
	static const char *const known[] = {"id", "path", "port", NULL};
	struct sy_error err;
	const char *s;
	char buf[16], *dup = NULL, **list = NULL;
	int i, n = 0;
	double x;
	bool b;
	size_t sz;
	yaml_get_str(d, v, "k", &err, &s);
	if (yaml_get_strdup(d, v, "k", &err, &dup) == SY_OK)
		free(dup);
	yaml_get_strbuf(d, v, "k", sizeof buf, &err, buf);
	yaml_get_int(d, v, "k", -1000, 1000, &err, &i);
	yaml_get_num(d, v, "k", -1, 1, &err, &x);
	yaml_get_bool(d, v, "k", &err, &b);
	yaml_get_size(d, v, "k", &err, &sz);
	if (yaml_get_strings(d, v, "k", &err, &list, &n) == SY_OK && list) {
		for (int k = 0; k < n; k++)
			free(list[k]);
		free(list);
	}
	yaml_check_keys(d, v, "k", "a setting", known, &err);
	yaml_lookup(v, "id");
	for (int k = 0; k < yaml_count(v); k++) {
		if (yaml_is_mapping(v)) {
			visit(d, yaml_map_key(v, k));
			visit(d, yaml_map_value(v, k));
		} else {
			visit(d, yaml_seq_item(v, k));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct yaml_doc *d = NULL;
	if (yaml_doc_load_text("fuzz.yaml", (const char *)data, size, &err, &d) != SY_OK)
		return 0;
	visit(d, d->root);
	yaml_doc_free(d);
	return 0;
}
