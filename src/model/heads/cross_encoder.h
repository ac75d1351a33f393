/* Cross-encoders: an encoder (arch/encoder.h) with a sequence-classification head, reading a
 * (query, document) pair as one sequence and giving it a relevance score, as rerankers such as
 * cross-encoder/ms-marco-MiniLM-L-6-v2 (BertForSequenceClassification) and
 * BAAI/bge-reranker-base (XLMRobertaForSequenceClassification) do.
 *
 * Heads, in the Hugging Face layouts (the first token's last hidden state x):
 *   BertForSequenceClassification:        logits = classifier(tanh(bert.pooler.dense(x)))
 *   (XLM)RobertaForSequenceClassification: logits = classifier.out_proj(tanh(classifier.dense(x)))
 *   DistilBertForSequenceClassification:  logits = classifier(relu(pre_classifier(x)))
 *   ModernBertForSequenceClassification:  logits = classifier(head.norm(act(head.dense(p))))
 *       p the first token (classifier_pooling "cls") or the mean of the tokens ("mean"), act
 *       classifier_activation, as Alibaba-NLP/gte-reranker-modernbert-base
 * Score: sigmoid(logit) with one label (sentence-transformers' CrossEncoder default), else the
 * softmax probability of the last label (the "relevant" class of two-label rerankers).
 *
 * Pairs are tokenised with the model's tokenizer ([CLS] query [SEP] document [SEP] for BERT);
 * past the model's limit the document is cut first (only_second), and only a query that does
 * not fit on its own is cut too (longest_first). Token types are those of the tokenizer, or all
 * zero when the model has at most one token type (RoBERTa family). */
#ifndef SY_MODEL_CROSS_ENCODER_H
#define SY_MODEL_CROSS_ENCODER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "model/model.h"

struct cross_encoder;

/* Opens dir (config.json, model.safetensors, tokenizer). opts: n_threads, max_length,
 * precision (pooling and normalize are ignored). */
enum sy_status cross_encoder_load(const char *dir, const struct model_options *opts,
                                  struct sy_error *err, struct cross_encoder **out);
void cross_encoder_close(struct cross_encoder *ce);

int cross_encoder_num_labels(const struct cross_encoder *ce);
const char *cross_encoder_arch(const struct cross_encoder *ce); /* "bert", "roberta", ... */
int cross_encoder_max_tokens(const struct cross_encoder *ce);
size_t cross_encoder_bytes(const struct cross_encoder *ce);

/* Scores n pairs (queries[i], docs[i]) into scores[n]; logits[n][num_labels] and the tokens
 * of each pair after truncation (n_tokens[n]) too when non-NULL. Pairs run in packed batches. */
enum sy_status cross_encoder_score(struct cross_encoder *ce, const char *const *queries,
                                   const size_t *query_lens, const char *const *docs,
                                   const size_t *doc_lens, int n, struct sy_error *err,
                                   float *scores, float *logits, int *n_tokens);

#endif
