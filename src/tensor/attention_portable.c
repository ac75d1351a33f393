/* Multi-head attention, portable path (plain C): the shared kernel of attention_impl.h on this
 * path's micro-kernel and softmax. */
static void att_scale_row(float *o, int n, float s)
{
	for (int e = 0; e < n; e++)
		o[e] *= s;
}

#define SY_ISA_FN(name) name##_portable
#include "tensor/attention_impl.h"
