/* The families the registry (registry.c) knows, each implemented in its own file under
 * arch/ or heads/. detect looks only at the description; open builds the model from it. */
#ifndef SY_MODEL_FAMILIES_H
#define SY_MODEL_FAMILIES_H

#include <stdbool.h>

#include "base/status.h"
#include "model/desc.h"
#include "model/model.h"

typedef bool (*model_detect_fn)(const struct model_desc *d);
typedef enum sy_status (*model_open_fn)(const struct model_desc *d,
                                        const struct model_options *opts, struct sy_error *err,
                                        struct model *out);

#define MODEL_FAMILY(name)                                                                       \
	bool name##_detect(const struct model_desc *d);                                          \
	enum sy_status name##_open(const struct model_desc *d, const struct model_options *opts, \
	                           struct sy_error *err, struct model *out)

MODEL_FAMILY(gliner); /* heads/gliner.c: gliner_config.json, DeBERTa-v2 encoder */
MODEL_FAMILY(token_classifier); /* heads/token_classifier.c: *ForTokenClassification (NER) */
MODEL_FAMILY(colbert); /* heads/colbert.c: HF_ColBERT / artifact.metadata */
MODEL_FAMILY(cross_encoder); /* heads/cross_encoder.c: *ForSequenceClassification */
MODEL_FAMILY(splade); /* heads/splade.c: (Distil)BertForMaskedLM */
MODEL_FAMILY(bert_dense); /* heads/bert_dense.c: BERT-family encoders, pooled */
MODEL_FAMILY(use_lite); /* arch/use_lite.c: TF.js Universal Sentence Encoder lite */

/* For tests and tools: the encoder of a model bert_dense opened, or NULL for another model. */
struct bert_model *bert_dense_model(const struct model *m);

#endif
