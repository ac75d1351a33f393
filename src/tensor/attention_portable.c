/* Multi-head attention, portable path (plain C): the shared kernel of attention_impl.h on this
 * path's micro-kernel and softmax. */
#define SY_ISA_FN(name) name##_portable
#include "tensor/attention_impl.h"
