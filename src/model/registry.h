/* The model registry: which family opens a model directory. One table in registry.c maps each
 * family to {detect, open}; the first family whose detect recognises the directory's
 * description (model/desc.h) opens it. Adding a family is its own file plus one line there. */
#ifndef SY_MODEL_REGISTRY_H
#define SY_MODEL_REGISTRY_H

#include "base/status.h"
#include "model/model.h"

/* Opens the model at path (a directory, or the built-in id "use-lite"). */
enum sy_status model_open(const char *path, const struct model_options *opts, struct sy_error *err,
                          struct model **out);

/* The name of the family that would open path (a directory), or NULL when none recognises
 * it. Reads only the description, not the weights. */
const char *model_family_of(const char *path);

/* The registered families' names in detection order, NULL-terminated (for messages and docs). */
const char *const *model_family_names(void);

#endif
