/* The task table (DESIGN.md section 6): a task name maps to an operation and a model, so
 * `POST /v1/encode/retrieve` runs whichever model `retrieve` names today; weighted splits send a
 * share of calls to other models (A/B), and a shadow model gets a copy of each call. This file
 * reads the `tasks:` section of the config and resolves a task name per call.
 *
 *   tasks:
 *     retrieve: {operation: encode, model: bge-small, splits: [{model: e5, weight: 0.1}],
 *                shadow: bge-base}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml.h"
#include "router/router_internal.h"

static const char *const task_keys[] = {"operation", "model", "splits", "shadow", NULL};

static enum sy_status task_entry(const struct yaml_doc *d, const char *name,
                                 const struct yaml_value *v, struct sy_error *err, struct router *r)
{
	struct task_def *a = realloc(r->tasks, (size_t)(r->n_tasks + 1) * sizeof *r->tasks);
	if (!a)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	r->tasks = a;
	struct task_def *t = &r->tasks[r->n_tasks];
	memset(t, 0, sizeof *t);
	r->n_tasks++;
	snprintf(t->name, sizeof t->name, "%s", name);
	snprintf(t->operation, sizeof t->operation, "encode");
	if (!yaml_is_mapping(v))
		return yaml_error(d, v, err, "%s must be {operation, model, splits?, shadow?}",
		                  name);
	char model[ROUTER_MAX_NAME] = "";
	const struct yaml_value *splits = NULL;
	for (int i = 0; i < yaml_count(v); i++) {
		const char *k = yaml_scalar(yaml_map_key(v, i));
		const struct yaml_value *val = yaml_map_value(v, i);
		enum sy_status s = SY_OK;
		if (k && !strcmp(k, "operation")) {
			s = yaml_get_strbuf(d, val, k, sizeof t->operation, err, t->operation);
			if (s == SY_OK && strcmp(t->operation, "encode") &&
			    strcmp(t->operation, "score") && strcmp(t->operation, "extract"))
				s = yaml_error(d, val, err, "%s must be encode, score or extract",
				               k);
		} else if (k && !strcmp(k, "model")) {
			s = yaml_get_strbuf(d, val, k, sizeof model, err, model);
		} else if (k && !strcmp(k, "shadow")) {
			s = yaml_get_strbuf(d, val, k, sizeof t->shadow, err, t->shadow);
		} else if (k && !strcmp(k, "splits")) {
			splits = val;
		} else {
			s = yaml_unknown_key(d, val, k, "a task setting", task_keys, err);
		}
		if (s != SY_OK)
			return s;
	}
	int n = yaml_count(splits);
	if (splits && !yaml_is_sequence(splits))
		return yaml_error(d, splits, err, "splits must be a list of {model, weight}");
	if (!model[0] && !n)
		return yaml_error(d, v, err, "%s needs a model (or splits)", name);
	t->models = calloc((size_t)n + 1, sizeof *t->models);
	t->weights = calloc((size_t)n + 1, sizeof *t->weights);
	if (!t->models || !t->weights)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	double used = 0;
	for (int i = 0; i < n; i++) {
		const struct yaml_value *m = yaml_seq_item(splits, i);
		char sm[ROUTER_MAX_NAME] = "";
		double w = -1;
		for (int j = 0; j < yaml_count(m) && yaml_is_mapping(m); j++) {
			const char *k = yaml_scalar(yaml_map_key(m, j));
			const struct yaml_value *val = yaml_map_value(m, j);
			enum sy_status s = SY_OK;
			if (!strcmp(k, "model"))
				s = yaml_get_strbuf(d, val, k, sizeof sm, err, sm);
			else if (!strcmp(k, "weight"))
				s = yaml_get_num(d, val, k, 0, 1, err, &w);
			if (s != SY_OK)
				return s;
		}
		if (!sm[0] || w < 0)
			return yaml_error(d, m, err, "split must be {model, weight}");
		t->models[t->n_models] = strdup(sm);
		t->weights[t->n_models++] = w;
		used += w;
	}
	if (used > 1 + 1e-9)
		return yaml_error(d, splits, err, "splits weights add up to more than 1");
	if (model[0]) { /* the main model takes the rest */
		t->models[t->n_models] = strdup(model);
		t->weights[t->n_models++] = 1 - used;
	}
	return SY_OK;
}

enum sy_status router_tasks_read(const struct yaml_doc *d, const struct yaml_value *tasks,
                                 struct sy_error *err, struct router *r)
{
	if (!yaml_is_mapping(tasks))
		return yaml_error(d, tasks, err, "tasks must be a mapping");
	for (int i = 0; i < yaml_count(tasks); i++) {
		enum sy_status s = task_entry(d, yaml_scalar(yaml_map_key(tasks, i)),
		                              yaml_map_value(tasks, i), err, r);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

void router_tasks_free(struct router *r)
{
	for (int i = 0; i < r->n_tasks; i++) {
		for (int k = 0; k < r->tasks[i].n_models; k++)
			free(r->tasks[i].models[k]);
		free(r->tasks[i].models);
		free(r->tasks[i].weights);
	}
	free(r->tasks);
	r->tasks = NULL;
	r->n_tasks = 0;
}

int router_n_tasks(const struct router *r)
{
	return r ? r->n_tasks : 0;
}

bool router_task_resolve(const struct router *r, const char *name, const char *operation,
                         char *model, size_t cap, char *shadow, size_t shadow_cap)
{
	for (int i = 0; r && i < r->n_tasks; i++) {
		const struct task_def *t = &r->tasks[i];
		if (strcmp(t->name, name) != 0 || strcmp(t->operation, operation) != 0)
			continue;
		double u = (double)rand() / ((double)RAND_MAX + 1.0), acc = 0;
		int pick = t->n_models - 1;
		for (int k = 0; k < t->n_models; k++) {
			acc += t->weights[k];
			if (u < acc) {
				pick = k;
				break;
			}
		}
		snprintf(model, cap, "%s", t->models[pick]);
		snprintf(shadow, shadow_cap, "%s", t->shadow);
		return true;
	}
	return false;
}
