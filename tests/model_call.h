/* Tests' shorthand for one model call whose items differ (queries and documents mixed),
 * prepared and run together through model_run_inputs. */
#ifndef SY_TESTS_MODEL_CALL_H
#define SY_TESTS_MODEL_CALL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/registry.h"

/* Whether the registry would open dir as family name. */
static inline bool is_family(const char *dir, const char *name)
{
	const char *f = model_family_of(dir);
	return f && !strcmp(f, name);
}

/* is_query[n] may be NULL (documents); xp applies to every item (extract). */
static inline enum sy_status model_call(struct model *m, enum model_task task,
                                        const char *const *tv, const size_t *lv,
                                        const bool *is_query, const struct extract_params *xp,
                                        int n, struct sy_error *err, float *out,
                                        struct model_item_result *res, int *n_tokens)
{
	struct model_input *ins = calloc((size_t)(n > 0 ? n : 1), sizeof *ins);
	if (!ins)
		return SY_ERR_NOMEM;
	for (int i = 0; i < n; i++)
		ins[i] = (struct model_input){.text = tv[i],
		                              .len = lv[i],
		                              .is_query = is_query && is_query[i],
		                              .truncate = true,
		                              .normalize = -1,
		                              .extract = xp};
	enum sy_status s = model_run_inputs(m, task, ins, n, err, out, res, n_tokens);
	free(ins);
	return s;
}

#endif
