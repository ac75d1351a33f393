/* MPNet (src/model/arch/mpnet.c) against the independent reference
 * (tools/reference/make_mpnet.py, tests/golden/mpnet-tiny.json): the relative position buckets
 * of every distance up to 300 each way, hidden states and sentence embeddings of texts up to 152
 * tokens (past the 128 at which the buckets saturate), batched and one by one, int8, detection
 * and refused config values. */
#include "encoder_golden.h"
#include "model/arch/mpnet.h"
#include "model_call.h"

#define DIR "tests/fixtures/mpnet-tiny"

static void test_buckets(void)
{
	struct golden g;
	CHECK(golden_load("tests/golden/mpnet-tiny.json", &g));
	const cJSON *rel = cJSON_GetObjectItemCaseSensitive(g.doc, "bucket_distances");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(g.doc, "buckets");
	int n = cJSON_GetArraySize(rel), bad = 0;
	CHECK(n > 500 && n == cJSON_GetArraySize(b));
	for (int i = 0; i < n; i++) {
		int r = (int)cJSON_GetArrayItem(rel, i)->valuedouble;
		int want = (int)cJSON_GetArrayItem(b, i)->valuedouble;
		int got = mpnet_relative_bucket(r, 32);
		CHECKF(got == want || bad++ > 3, "distance %d: bucket %d, reference %d", r, got,
		       want);
	}
	CHECK_EQ_INT(bad, 0);
	golden_free(&g);
}

static void test_golden(void)
{
	CHECK(is_family(DIR, "dense"));
	golden_check_model(DIR, "tests/golden/mpnet-tiny.json", "mpnet");
	/* the same weights stored as BF16 */
	golden_check_model(DIR "-bf16", "tests/golden/mpnet-tiny-bf16.json", "mpnet");
}

static void test_refused(void)
{
	golden_check_refused(DIR, "relative_attention_num_buckets", "2");
	golden_check_refused(DIR, "hidden_act", "\"swish\"");
	golden_check_refused(DIR, "max_position_embeddings", "2");
}

int main(void)
{
	RUN(test_buckets);
	RUN(test_golden);
	RUN(test_refused);
	return harness_summary();
}
