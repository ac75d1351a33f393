/* Multi-head attention, AVX2+FMA path (compiled with -mavx2 -mfma -mf16c): the shared kernel
 * of attention_impl.h on this path's micro-kernel and softmax. */
#define SY_ISA_FN(name) name##_avx2
#include "tensor/attention_impl.h"
