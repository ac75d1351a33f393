/* Rotary embeddings (tensor/rope.c) against the formula computed here in double: both pair
 * layouts, partial rotary (dimensions past rot_dim untouched), and position 0 as the identity. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "tensor/rope.h"

static void check_layout(bool interleaved)
{
	enum { HEADS = 3, HD = 16, ROT = 12, ROWS = 5 };
	const double base = 10000.0;
	struct rope_table t;
	struct sy_error err = {0};
	CHECK_EQ_INT(rope_table_init(&t, ROT, 600, base, interleaved, &err), SY_OK);
	float x[ROWS][HEADS * HD], y[ROWS][HEADS * HD];
	unsigned seed = 7;
	for (int r = 0; r < ROWS; r++)
		for (int k = 0; k < HEADS * HD; k++) {
			seed = seed * 1103515245u + 12345u;
			x[r][k] = y[r][k] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
		}
	const int pos[ROWS] = {0, 1, 7, 100, 599};
	rope_apply(&t, &y[0][0], HEADS * HD, ROWS, pos, HEADS, HD);
	double worst = 0;
	for (int r = 0; r < ROWS; r++)
		for (int h = 0; h < HEADS; h++) {
			const float *a = &x[r][h * HD];
			const float *b = &y[r][h * HD];
			for (int i = 0; i < ROT / 2; i++) {
				const int i1 = interleaved ? 2 * i : i,
				          i2 = interleaved ? 2 * i + 1 : i + ROT / 2;
				const double ang = pos[r] * pow(base, -2.0 * i / ROT);
				const double e1 = a[i1] * cos(ang) - a[i2] * sin(ang);
				const double e2 = a[i2] * cos(ang) + a[i1] * sin(ang);
				worst = fmax(worst, fmax(fabs(e1 - b[i1]), fabs(e2 - b[i2])));
			}
			for (int k = ROT; k < HD; k++)
				CHECK(a[k] == b[k]);
			if (pos[r] == 0)
				for (int k = 0; k < HD; k++)
					CHECK(a[k] == b[k]);
		}
	/* float32 angles at position 599 carry about 1e-4 of absolute error, as in torch */
	CHECKF(worst < 2e-4, "max error %g", worst);
	rope_table_free(&t);
}

static void test_rotate_half(void)
{
	check_layout(false);
}

static void test_interleaved(void)
{
	check_layout(true);
}

static void test_bad_shapes(void)
{
	struct rope_table t;
	struct sy_error err = {0};
	CHECK_EQ_INT(rope_table_init(&t, 7, 10, 10000.0, false, &err), SY_ERR_INVALID_ARG);
	CHECK_EQ_INT(rope_table_init(&t, 8, 0, 10000.0, false, &err), SY_ERR_INVALID_ARG);
	CHECK_EQ_INT(rope_table_init(&t, 8, 10, 0.5, false, &err), SY_ERR_INVALID_ARG);
}

int main(void)
{
	RUN(test_rotate_half);
	RUN(test_interleaved);
	RUN(test_bad_shapes);
	return harness_summary();
}
