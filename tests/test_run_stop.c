/* Stopping a run between layers (model_task_run's stop): the engine uses it to give up a batch
 * whose callers have all gone away. A stop that never fires changes nothing; one that fires
 * after the first layer ends the run with SY_ERR_UNAVAILABLE, having been asked once per layer
 * boundary and no more; one that fires before the run starts computes nothing. BERT runs its
 * layers on a pool of threads (every part must leave at the same layer), DeBERTa-v2 (GLiNER's
 * encoder) on one. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/model.h"
#include "model/registry.h"

struct counter {
	int asked, fire_at; /* fires on the fire_at-th question (1-based); 0: never */
};

static bool count_and_stop(void *ctx)
{
	struct counter *c = ctx;
	c->asked++;
	return c->fire_at && c->asked >= c->fire_at;
}

/* Runs the task on texts with the given stop; out/res as model_task_run wants them. */
static enum sy_status run(struct model *m, enum model_task task, const char *const *texts, int n,
                          const struct model_stop *stop, struct sy_error *err, float *out,
                          struct model_item_result *res)
{
	static const char *const labels[] = {"person", "city"};
	const struct extract_params xp = {.labels = labels, .n_labels = 2, .threshold = 0.0f};
	struct model_input ins[8];
	struct model_prepared preps[8];
	struct model_item items[8];
	memset(preps, 0, sizeof preps);
	model_prepare_fn prepare = model_task_prepare(m, task);
	enum sy_status s = prepare ? SY_OK : SY_ERR_UNSUPPORTED;
	int done = 0;
	for (; s == SY_OK && done < n; done++) {
		ins[done] = (struct model_input){.text = texts[done],
		                                 .len = strlen(texts[done]),
		                                 .truncate = true,
		                                 .normalize = -1,
		                                 .extract = &xp};
		s = prepare(m->impl, &ins[done], err, &preps[done]);
		items[done] = (struct model_item){&ins[done], &preps[done]};
	}
	if (s == SY_OK)
		s = model_task_run(m, task, items, n, stop, err, out, res);
	for (int i = 0; i < done; i++)
		model_prepared_free(m, &preps[i]);
	return s;
}

static void check_stops(const char *dir, enum model_task task, int layers)
{
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *m = NULL;
	struct sy_error err = {0};
	CHECKF(model_open(dir, &opts, &err, &m) == SY_OK, "%s: %s", dir, err.msg);
	if (!m)
		return;
	const char *texts[] = {"Alice moved to Paris last spring.", "Bob lives in Berlin.",
	                       "A third, somewhat longer sentence about Carol and Rome."};
	const int n = 3, dims = task == MODEL_TASK_ENCODE ? model_dims(m) : 0;
	float *plain = calloc((size_t)n * (dims ? dims : 1), sizeof *plain);
	float *kept = calloc((size_t)n * (dims ? dims : 1), sizeof *kept);
	struct model_item_result res[3];

	/* Never fires: the same answer as no stop, and it was asked between every two layers. */
	struct counter never = {0, 0};
	const struct model_stop s_never = {count_and_stop, &never};
	CHECK_EQ_INT(run(m, task, texts, n, NULL, &err, plain, res), SY_OK);
	for (int i = 0; task == MODEL_TASK_EXTRACT && i < n; i++)
		model_item_result_free(&res[i]);
	CHECK_EQ_INT(run(m, task, texts, n, &s_never, &err, kept, res), SY_OK);
	for (int i = 0; task == MODEL_TASK_EXTRACT && i < n; i++)
		model_item_result_free(&res[i]);
	if (dims)
		CHECK(!memcmp(plain, kept, (size_t)n * dims * sizeof *plain));
	/* Once at the start, then once per layer boundary (per forward: GLiNER runs one per
	 * text). */
	const int forwards = task == MODEL_TASK_EXTRACT ? n : 1;
	CHECK_EQ_INT(never.asked, 1 + forwards * (layers - 1));

	/* Fires at the first layer boundary: the run gives up there. */
	struct counter second = {0, 2};
	const struct model_stop s_second = {count_and_stop, &second};
	CHECK_EQ_INT(run(m, task, texts, n, &s_second, &err, kept, res), SY_ERR_UNAVAILABLE);
	CHECKF(strstr(err.msg, "went away") != NULL, "%s", err.msg);
	CHECK_EQ_INT(second.asked, 2);

	/* Fires before the run: nothing is computed. */
	struct counter first = {0, 1};
	const struct model_stop s_first = {count_and_stop, &first};
	CHECK_EQ_INT(run(m, task, texts, n, &s_first, &err, kept, res), SY_ERR_UNAVAILABLE);
	CHECK_EQ_INT(first.asked, 1);

	/* And the model still answers as before afterwards. */
	CHECK_EQ_INT(run(m, task, texts, n, NULL, &err, kept, res), SY_OK);
	for (int i = 0; task == MODEL_TASK_EXTRACT && i < n; i++)
		model_item_result_free(&res[i]);
	if (dims)
		CHECK(!memcmp(plain, kept, (size_t)n * dims * sizeof *plain));
	free(plain);
	free(kept);
	model_close(m);
}

static void test_bert_stops_between_layers(void)
{
	check_stops("tests/fixtures/bert-tiny", MODEL_TASK_ENCODE, 2);
}

static void test_deberta_stops_between_layers(void)
{
	check_stops("tests/fixtures/gliner-tiny", MODEL_TASK_EXTRACT, 2);
}

int main(void)
{
	RUN(test_bert_stops_between_layers);
	RUN(test_deberta_stops_between_layers);
	return harness_summary();
}
