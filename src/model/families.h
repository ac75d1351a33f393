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

/* The registry's table, in detection order (registry.c): more specific families first, as a
 * GLiNER directory also has a DeBERTa config and a ColBERT or NER checkpoint is also a BERT
 * encoder; dense takes whatever config.json is left. One line per family:
 * X(symbol prefix, name) with symbol_detect and symbol_open defined in the family's file. */
#define MODEL_FAMILIES(X)                                                                         \
	X(gliner, "gliner") /* heads/gliner.c: gliner_config.json, DeBERTa-v2 encoder */          \
	X(token_classifier, "token-classifier") /* heads/token_classifier.c: NER */               \
	X(bge_m3, "bge-m3") /* heads/bge_m3.c: colbert_linear.pt + sparse_linear.pt */            \
	X(colbert, "colbert") /* heads/colbert.c: HF_ColBERT / artifact.metadata */               \
	X(cross_encoder, "cross-encoder") /* heads/cross_encoder.c: *ForSequenceClassification */ \
	X(lm_reranker, "lm-reranker") /* heads/lm_reranker.c: Qwen3-Reranker (yes/no logits) */   \
	X(splade, "splade") /* heads/splade.c: (Distil)BertForMaskedLM */                         \
	X(clip, "clip") /* arch/clip.c: CLIP and SigLIP text + vision towers (images) */          \
	X(dense, "dense") /* heads/dense.c: any encoder (arch/encoder.h), pooled */               \
	X(use_lite, "use-lite") /* arch/use_lite.c: TF.js Universal Sentence Encoder lite */

#define MODEL_FAMILY_DECLARE(sym, name)                                                         \
	bool sym##_detect(const struct model_desc *d);                                          \
	enum sy_status sym##_open(const struct model_desc *d, const struct model_options *opts, \
	                          struct sy_error *err, struct model *out);
MODEL_FAMILIES(MODEL_FAMILY_DECLARE)

/* For tests and tools: the encoder of a model dense opened, or NULL for another model. */
struct encoder;
const struct encoder *dense_encoder(const struct model *m);
/* For tests: the unnormalised embeddings out[n][dims] of n images given as preprocessed
 * pixel planes pixels[n][3][S][S] (pixel_values), of a model clip opened. */
enum sy_status clip_embed_pixels(struct model *m, const float *pixels, int n, struct sy_error *err,
                                 float *out);

#endif
