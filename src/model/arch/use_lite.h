/* Universal Sentence Encoder lite (Google, TF.js graph model), implemented natively.
 *
 * A model directory holds model.json (the TF.js GraphModel: graph + weightsManifest), the weight
 * shards it names, and vocab.json (see text/use_tokenizer.h). The graph is not interpreted: the
 * computation below was read off its nodes once and is written out by hand; only the weights and
 * the hyper-parameters stored as graph constants (heads, head widths, attention scales, the
 * layer-norm epsilon, the token limit, the timing-signal frequencies) are read from the files.
 *
 * Per sentence of n token ids (the first max_tokens = 128 of them; ClipToMaxLength):
 *   x    = E[id] + (E[id] + timing(pos))            the graph adds the embedding twice
 *   timing(pos) = [sin(pos * f_0..127), cos(pos * f_0..127)],  f_i = 1e4^(-i/127)
 *   layer 0 (256 -> 512):  h = x W_res + b_res + Attn(LN(x)) W_o + b_o     (AdjustResidualInput)
 *                          h = h + ReLU(LN(h) W_1 + b_1) W_2 + b_2
 *   layer 1 (512):         h = h + Attn(LN(h)) W_o + b_o
 *                          h = h + ReLU(LN(h) W_1 + b_1) W_2 + b_2
 *   pooled = sum_t h[t] / max(n, 1)
 *   out    = L2normalize(tanh(pooled W_t + b_t))    (x / sqrt(max(sum x^2, 1e-12)))
 * LN is pre-norm layer norm (eps 1e-6); Attn is 4-head scaled dot-product attention over the n
 * tokens with one fused QKV projection (q, k, v stacked along the output features, heads
 * contiguous within each), q scaled by 1/sqrt(head width). In a TF.js batch the padded positions
 * are masked out of attention (bias -1e9) and of the pooling, so each sentence's result depends
 * on that sentence only, which lets this implementation run sentences as a packed batch. */
#ifndef SY_MODEL_USE_LITE_H
#define SY_MODEL_USE_LITE_H

#include <stddef.h>

#include "base/status.h"
#include "model/model.h"

#define USE_LITE_ID "use-lite" /* the built-in model id */

/* Finds the directory of the built-in model (one holding model.json), in order:
 * $SWITCHYARD_MODELS/use-lite; ./models/use-lite; models/use-lite of the repository the running
 * executable belongs to (its directory or a parent of it); ../shared/models/use-lite relative to
 * the current directory and then to that repository. Writes the path into buf and returns buf,
 * or returns NULL when none exists (or cap is too small). */
const char *use_lite_resolve(char *buf, size_t cap);

/* The tokenizer of a USE-lite model (NULL for any other model), so tests can check the ids the
 * model is fed. Valid until the model is closed. */
struct use_tokenizer;
const struct use_tokenizer *use_lite_model_tokenizer(const struct model *m);

#endif
