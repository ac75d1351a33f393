/* MPNet encoder (transformers' MPNetModel, e.g. sentence-transformers/all-mpnet-base-v2): the
 * BERT post-LN layer with RoBERTa positions, no token types, and a learned attention bias per
 * head chosen by a bucket of the key-query distance (arch/mpnet.c). */
#ifndef SY_MODEL_MPNET_H
#define SY_MODEL_MPNET_H

#include <stdbool.h>

#include "model/arch/encoder.h"

/* The bucket of relative position rel (key position - query position) among num_buckets,
 * as MPNet's relative_position_bucket computes it (max distance 128, in float32). */
int mpnet_relative_bucket(int rel, int num_buckets);

#endif
