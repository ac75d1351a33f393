/* The public C library (include/switchyard.h): every task through its entry point, the result
 * accessors, status codes and messages for bad calls and unknown models, and calls from several
 * threads at once. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "switchyard.h"

static sy_engine *open_engine(void)
{
	sy_engine_params p = sy_engine_default_params();
	p.n_threads = 2;
	p.builtin_models = 0;
	sy_engine *e = NULL;
	CHECK_EQ_INT(sy_engine_open(&p, &e), 0);
	return e;
}

static void test_encode(void)
{
	sy_engine *e = open_engine();
	if (!e)
		return;
	CHECK_EQ_INT(sy_model_add(e, "bert", "tests/fixtures/bert-tiny"), 0);
	const char *texts[] = {"hello world", "Café déjà vu"};
	sy_result *r = NULL;
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 2, NULL, &r), 0);
	CHECK_EQ_INT((int)sy_result_count(r), 2);
	size_t dims = 0;
	const float *v = sy_result_dense(r, 1, &dims);
	CHECK(v && dims == 64);
	double ss = 0;
	for (size_t i = 0; v && i < dims; i++)
		ss += (double)v[i] * v[i];
	CHECK(fabs(sqrt(ss) - 1) < 1e-5); /* bert-tiny normalises */
	CHECK(sy_result_tokens(r, 0) >= 3);
	CHECK(sy_result_dense(r, 2, &dims) == NULL && dims == 0); /* out of range */
	CHECK(sy_result_score(r, 0) == 0.0f); /* not a score result */
	sy_result_free(r);
	/* Per-call options: no normalisation; an instruction changes the vector. */
	sy_encode_params p = sy_encode_default_params();
	p.normalize = 0;
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 1, &p, &r), 0);
	ss = 0;
	v = sy_result_dense(r, 0, &dims);
	for (size_t i = 0; v && i < dims; i++)
		ss += (double)v[i] * v[i];
	CHECK(fabs(sqrt(ss) - 1) > 1e-3);
	sy_result_free(r);
	/* Truncate off: a text past the model's limit is refused with a message. */
	static char long_text[8000];
	for (int i = 0; i < 1500; i++)
		memcpy(long_text + 5 * i, "word ", 5);
	const char *lt[] = {long_text};
	p = sy_encode_default_params();
	p.truncate = 0;
	CHECK_EQ_INT(sy_encode(e, "bert", lt, 1, &p, &r), SY_ELIMIT);
	CHECK(r == NULL && strstr(sy_last_error(e), "tokens") != NULL);
	/* Asking a dense model for sparse output. */
	p = sy_encode_default_params();
	p.output = SY_OUTPUT_SPARSE;
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 1, &p, &r), SY_EUNSUPPORTED);
	CHECK(strstr(sy_last_error(e), "sparse") != NULL);
	sy_engine_close(e);
}

static void test_score_extract_multivector(void)
{
	sy_engine *e = open_engine();
	if (!e)
		return;
	CHECK_EQ_INT(sy_model_add(e, "ce", "tests/fixtures/bert-ce-tiny"), 0);
	CHECK_EQ_INT(sy_model_add(e, "cb", "tests/fixtures/colbert-tiny"), 0);
	CHECK_EQ_INT(sy_model_add(e, "ner", "tests/fixtures/ner-tiny"), 0);
	int tasks = 0, output = -1;
	CHECK_EQ_INT(sy_model_tasks(e, "ce", &tasks, &output), 0);
	CHECK_EQ_INT(tasks, SY_TASK_SCORE);
	CHECK_EQ_INT(output, 0);
	CHECK_EQ_INT(sy_model_tasks(e, "cb", &tasks, &output), 0);
	CHECK_EQ_INT(tasks, SY_TASK_ENCODE | SY_TASK_SCORE);
	CHECK_EQ_INT(output, SY_OUTPUT_MULTIVECTOR);
	const char *docs[] = {"Paris is the capital of France.", "Bananas are yellow."};
	sy_result *r = NULL;
	CHECK_EQ_INT(sy_score(e, "ce", "capital of France", docs, 2, &r), 0);
	CHECK(sy_result_score(r, 0) > 0 && sy_result_score(r, 0) < 1);
	CHECK(sy_result_dense(r, 0, NULL) == NULL);
	sy_result_free(r);
	/* ColBERT scores by MaxSim; its encode gives multi-vectors. */
	CHECK_EQ_INT(sy_score(e, "cb", "capital of France", docs, 2, &r), 0);
	CHECK(sy_result_score(r, 0) > 0);
	sy_result_free(r);
	sy_encode_params p = sy_encode_default_params();
	p.output = SY_OUTPUT_MULTIVECTOR;
	CHECK_EQ_INT(sy_encode(e, "cb", docs, 2, &p, &r), 0);
	size_t nv = 0, dims = 0;
	CHECK(sy_result_multivector(r, 0, &nv, &dims) != NULL && nv > 2 && dims == 32);
	sy_result_free(r);
	/* Entities with byte offsets into the text. */
	const char *texts[] = {"Tim Cook works at Apple in Cupertino."};
	CHECK_EQ_INT(sy_extract(e, "ner", texts, 1, NULL, 0, &r), 0);
	size_t ne = sy_result_entity_count(r, 0);
	CHECK(ne > 0);
	for (size_t k = 0; k < ne; k++) {
		float score = -1;
		size_t s = 0, en = 0;
		const char *label = sy_result_entity(r, 0, k, &score, &s, &en);
		CHECK(label && label[0] && score > 0 && score <= 1 && s < en &&
		      en <= strlen(texts[0]));
	}
	CHECK(sy_result_entity(r, 0, ne, NULL, NULL, NULL) == NULL);
	sy_result_free(r);
	/* Tasks a model lacks. */
	CHECK_EQ_INT(sy_encode(e, "ce", docs, 1, NULL, &r), SY_EUNSUPPORTED);
	CHECK(strstr(sy_last_error(e), "cross-encoder") != NULL);
	CHECK_EQ_INT(sy_extract(e, "cb", texts, 1, NULL, 0, &r), SY_EUNSUPPORTED);
	const char *labels[] = {"person"};
	CHECK_EQ_INT(sy_extract(e, "ner", texts, 1, labels, 1, &r), SY_EUNSUPPORTED);
	CHECK(strstr(sy_last_error(e), "fixed labels") != NULL);
	sy_extract_params xp = sy_extract_default_params();
	xp.aggregation = "median";
	CHECK_EQ_INT(sy_extract_with(e, "ner", texts, 1, &xp, &r), SY_EINVAL);
	sy_engine_close(e);
}

static void test_errors(void)
{
	CHECK(strcmp(sy_version(), SY_VERSION_STRING) == 0);
	CHECK_EQ_INT(sy_engine_open(NULL, NULL), SY_EINVAL);
	CHECK(strcmp(sy_strerror(0), "ok") == 0);
	CHECK(strcmp(sy_strerror(SY_ENOTFOUND), "model not found") == 0);
	CHECK(strcmp(sy_strerror(-999), "unknown status") == 0);
	sy_engine *e = open_engine();
	if (!e)
		return;
	CHECK(strcmp(sy_last_error(e), "") == 0);
	const char *texts[] = {"x", NULL};
	sy_result *r = (sy_result *)1;
	/* An unknown model is a code and a message, never a crash. */
	CHECK_EQ_INT(sy_encode(e, "nope", texts, 1, NULL, &r), SY_ENOTFOUND);
	CHECK(r == NULL && strstr(sy_last_error(e), "nope") != NULL);
	CHECK_EQ_INT(sy_score(e, "nope", "q", texts, 1, &r), SY_ENOTFOUND);
	CHECK_EQ_INT(sy_extract(e, "nope", texts, 1, NULL, 0, &r), SY_ENOTFOUND);
	CHECK_EQ_INT(sy_model_tasks(e, "nope", NULL, NULL), SY_ENOTFOUND);
	/* Bad arguments. */
	CHECK_EQ_INT(sy_model_add(e, "bad id", "tests/fixtures/bert-tiny"), SY_EINVAL);
	CHECK_EQ_INT(sy_model_add(e, NULL, "x"), SY_EINVAL);
	CHECK_EQ_INT(sy_model_add(e, "bert", "tests/fixtures/bert-tiny"), 0);
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 2, NULL, &r), SY_EINVAL); /* a NULL text */
	CHECK(strstr(sy_last_error(e), "text 1") != NULL);
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 0, NULL, &r), SY_EINVAL);
	CHECK_EQ_INT(sy_encode(e, NULL, texts, 1, NULL, &r), SY_EINVAL);
	CHECK_EQ_INT(sy_score(e, "bert", NULL, texts, 1, &r), SY_EINVAL);
	sy_encode_params p = sy_encode_default_params();
	p.output = 3;
	CHECK_EQ_INT(sy_encode(e, "bert", texts, 1, &p, &r), SY_EINVAL);
	sy_model_params mp = sy_model_default_params();
	mp.pooling = "median";
	CHECK_EQ_INT(sy_model_add_with(e, "b2", "tests/fixtures/bert-tiny", &mp), SY_EINVAL);
	mp = sy_model_default_params();
	mp.quantize = 2;
	CHECK_EQ_INT(sy_model_add_with(e, "b2", "tests/fixtures/bert-tiny", &mp), SY_EINVAL);
	CHECK(strstr(sy_last_error(e), "quantize") != NULL);
	/* int8 asked by name of a model without an int8 path fails its load, naming the key. */
	mp.quantize = 1;
	CHECK_EQ_INT(sy_model_add_with(e, "gl8", "tests/fixtures/gliner-tiny", &mp), 0);
	CHECK_EQ_INT(sy_model_tasks(e, "gl8", NULL, NULL), SY_ELOAD);
	CHECK(strstr(sy_last_error(e), "quantize: int8") != NULL);
	/* A model that fails to load. */
	CHECK_EQ_INT(sy_model_add(e, "ghost", "/nonexistent/model"), 0);
	CHECK_EQ_INT(sy_encode(e, "ghost", texts, 1, NULL, &r), SY_ELOAD);
	CHECK(strstr(sy_last_error(e), "not a directory") != NULL);
	/* Accessors on NULL. */
	CHECK_EQ_INT((int)sy_result_count(NULL), 0);
	CHECK(sy_result_dense(NULL, 0, NULL) == NULL);
	sy_result_free(NULL);
	sy_engine_close(e);
	sy_engine_close(NULL);
}

struct worker_arg {
	sy_engine *e;
	int id, ok;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	char text[64];
	snprintf(text, sizeof text, "thread %d says hello", a->id);
	const char *t[] = {text};
	a->ok = 1;
	for (int k = 0; k < 20 && a->ok; k++) {
		sy_result *r;
		a->ok = sy_encode(a->e, "bert", t, 1, NULL, &r) == 0 && sy_result_count(r) == 1;
		if (a->ok)
			sy_result_free(r);
	}
	/* Another thread's failure does not show in this one's last error. */
	a->ok &= strcmp(sy_last_error(a->e), "") == 0;
	return NULL;
}

static void test_threads(void)
{
	sy_engine *e = open_engine();
	if (!e)
		return;
	CHECK_EQ_INT(sy_model_add(e, "bert", "tests/fixtures/bert-tiny"), 0);
	sy_result *r;
	const char *t[] = {"x"};
	CHECK_EQ_INT(sy_encode(e, "nope", t, 1, NULL, &r), SY_ENOTFOUND); /* this thread's error */
	pthread_t th[4];
	struct worker_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){e, i, 0};
		pthread_create(&th[i], NULL, worker, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECKF(a[i].ok, "thread %d", i);
	}
	CHECK(strstr(sy_last_error(e), "nope") != NULL);
	sy_engine_close(e);
}

int main(void)
{
	RUN(test_encode);
	RUN(test_score_extract_multivector);
	RUN(test_errors);
	RUN(test_threads);
	return harness_summary();
}
