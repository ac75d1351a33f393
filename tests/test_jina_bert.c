/* JinaBERT v2 (src/model/arch/jina_bert.c) against the independent reference
 * (tools/reference/make_jina_bert.py, tests/golden/jina-bert-tiny.json, F16 weights, six heads):
 * the ALiBi slopes of a head count that is not a power of two, hidden states and sentence
 * embeddings batched and one by one, int8, detection ahead of BERT, and refused config values. */
#include "encoder_golden.h"
#include "model/arch/jina_bert.h"
#include "model_call.h"

#define DIR "tests/fixtures/jina-bert-tiny"

static void test_slopes(void)
{
	struct golden g;
	CHECK(golden_load("tests/golden/jina-bert-tiny.json", &g));
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(g.doc, "alibi_slopes");
	const int n = cJSON_GetArraySize(ref);
	CHECK_EQ_INT(n, 6);
	double got[6];
	jina_bert_alibi_slopes(6, got);
	for (int h = 0; h < n && h < 6; h++)
		CHECKF(got[h] == cJSON_GetArrayItem(ref, h)->valuedouble, "head %d: %g", h, got[h]);
	/* Powers of two: 2^(-8/n), 2^(-16/n), ...; 12 heads: the 8-head series, then the
	 * 16-head series' 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5. */
	double s8[8], s12[12];
	jina_bert_alibi_slopes(8, s8);
	CHECK(s8[0] == 0.5 && fabs(s8[7] - 1.0 / 256) < 1e-18);
	jina_bert_alibi_slopes(12, s12);
	CHECK(s12[0] == s8[0] && s12[7] == s8[7]);
	CHECK(fabs(s12[8] - sqrt(0.5)) < 1e-15 && fabs(s12[11] - pow(2, -3.5)) < 1e-15);
	golden_free(&g);
}

static void test_golden(void)
{
	CHECK(is_family(DIR, "dense"));
	golden_check_model(DIR, "tests/golden/jina-bert-tiny.json", "jina_bert");
	/* the same weights stored as F32 */
	golden_check_model(DIR "-f32", "tests/golden/jina-bert-tiny-f32.json", "jina_bert");
}

static void test_refused(void)
{
	golden_check_refused(DIR, "feed_forward_type", "\"original\"");
	golden_check_refused(DIR, "feed_forward_type", "null");
	golden_check_refused(DIR, "emb_pooler", "\"cls\"");
	golden_check_refused(DIR, "attn_implementation", "\"triton\"");
	golden_check_refused(DIR, "position_embedding_type", "\"relative_key\"");
}

int main(void)
{
	RUN(test_slopes);
	RUN(test_golden);
	RUN(test_refused);
	return harness_summary();
}
