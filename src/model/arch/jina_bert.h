/* JinaBERT v2 encoder (jinaai/jina-embeddings-v2-*-en: the JinaBertModel of
 * jinaai/jina-bert-implementation): the BERT post-LN layer without position embeddings, ALiBi
 * attention biases and a GEGLU feed-forward (arch/jina_bert.c). */
#ifndef SY_MODEL_JINA_BERT_H
#define SY_MODEL_JINA_BERT_H

#include <stdbool.h>

#include "model/arch/encoder.h"

/* ALiBi's per-head slopes (out[n_heads]): the geometric series 2^(-8/p) ... for the largest
 * power of two p <= n_heads, then every other slope of the 2p-head series for the rest. */
void jina_bert_alibi_slopes(int n_heads, double *out);

#endif
