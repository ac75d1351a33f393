/* The model registry (see registry.h): the families of families.h's MODEL_FAMILIES list, in its
 * order. */
#include "model/registry.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/arch/use_lite.h"
#include "model/families.h"

struct model_family {
	const char *name;
	model_detect_fn detect;
	model_open_fn open;
};

#define MODEL_FAMILY_ENTRY(sym, name) {name, sym##_detect, sym##_open},
static const struct model_family families[] = {MODEL_FAMILIES(MODEL_FAMILY_ENTRY)};

#define N_FAMILIES (sizeof families / sizeof families[0])

const char *const *model_family_names(void)
{
	static const char *names[N_FAMILIES + 1];
	for (size_t i = 0; i < N_FAMILIES; i++)
		names[i] = families[i].name;
	return names;
}

const char *model_family_of(const char *path)
{
	struct model_desc d;
	struct sy_error err;
	if (model_desc_read(path, &err, &d) != SY_OK)
		return NULL;
	const char *name = NULL;
	for (size_t i = 0; !name && i < N_FAMILIES; i++)
		if (families[i].detect(&d))
			name = families[i].name;
	model_desc_free(&d);
	return name;
}

enum sy_status model_open(const char *path, const struct model_options *opts, struct sy_error *err,
                          struct model **out)
{
	*out = NULL;
	struct model_options defaults = model_default_options();
	if (!opts)
		opts = &defaults;
	char builtin[4096];
	if (!strcmp(path, USE_LITE_ID) && !sy_path_is_dir(path)) {
		path = use_lite_resolve(builtin, sizeof builtin);
		if (!path)
			return sy_error_set(
			    err, SY_ERR_NOT_FOUND,
			    "model use-lite: not found in $SWITCHYARD_MODELS/use-lite, "
			    "models/use-lite or ../shared/models/use-lite (run `make "
			    "models`)");
	}
	struct model_desc d;
	enum sy_status s = model_desc_read(path, err, &d);
	if (s != SY_OK)
		return s;
	const struct model_family *f = NULL;
	for (size_t i = 0; !f && i < N_FAMILIES; i++)
		if (families[i].detect(&d))
			f = &families[i];
	struct model *m = f ? calloc(1, sizeof *m) : NULL;
	if (!f)
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "model %s: no config.json (Hugging Face) or model.json (TF.js) found", path);
	else if (!m)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	else
		s = f->open(&d, opts, err, m);
	model_desc_free(&d);
	if (s != SY_OK) {
		free(m);
		return s;
	}
	*out = m;
	return SY_OK;
}
