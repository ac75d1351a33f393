/* GLiNER zero-shot extraction (urchade/GLiNER span models such as gliner_small-v2.1 and
 * gliner_multi-v2.1): entity types are given per call and read by the same encoder as the text.
 *
 * A directory holds gliner_config.json (max_width, hidden_size, span_mode markerV0, has_rnn,
 * embed_ent_token, ent_token / sep_token, encoder_config: a DeBERTa-v2 config), the weights
 * (pytorch_model.bin or model.safetensors: token_rep_layer.bert_layer.model.* the encoder,
 * token_rep_layer.projection when the encoder's width differs, rnn.lstm.*, span_rep_layer.
 * span_rep_layer.{project_start,project_end,out_project}.{0,3}, prompt_rep_layer.{0,3}) and the
 * tokenizer (tokenizer.json or vocab.txt) knowing the two marker tokens.
 *
 * For a text and labels: the words are the matches of \w+(?:[-_]\w+)*|\S; the encoder reads
 * [CLS] (<<ENT>> label)... <<SEP>> words... [SEP] (each label and word tokenised on its own);
 * each label is the state of its <<ENT>> token (or of the token after it), each word the state of
 * its first sub-token; the words go through a bidirectional LSTM; the span of words s..e (up to
 * max_width words) is out_project(relu([project_start(h_s); project_end(h_e)])) and its score
 * for a label sigmoid(span . prompt_rep_layer(label)). Spans above the threshold are taken
 * highest first without overlaps (flat NER), then returned in text order with character
 * offsets. Words past what the encoder's 512 positions hold are dropped.
 *
 * Threads: the encoder runs on its own pool (deberta_v2.c) and the heads run on the same pool in
 * one sy_pool_run (the projection, the LSTM's input terms and the MLPs as GEMMs split by rows or
 * columns, the two LSTM directions side by side, spans scored GLINER_SPAN_CHUNK at a time); the
 * entities and scores do not depend on the number of threads (tests/test_gliner.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/file.h"
#include "base/threads.h"
#include "model/arch/deberta_v2.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "tensor/gemm.h"
#include "text/tokenizer.h"

#define GLINER_MAX_TOKENS 512
#define GLINER_MAX_LABELS 256

/* Linear(in, 4 out) -> ReLU -> Linear(4 out, out) */
struct mlp {
	struct gemm_weights a, b;
	float *ba, *bb;
	int in, mid, out;
};

struct gliner {
	struct deberta_model *enc;
	struct deberta_config ecfg;
	struct tokenizer *tok;
	int hidden, max_width;
	bool embed_ent_token, has_rnn;
	int32_t ent_id, sep_id, cls_id, end_id;
	struct gemm_weights proj; /* token_rep_layer.projection, when the widths differ */
	float *proj_b;
	bool has_proj;
	/* LSTM, two directions: W_ih [4n][H], W_hh [4n][n], b = b_ih + b_hh [4n] */
	float *whh[2], *bl[2];
	struct gemm_weights wih[2]; /* W_ih packed: the input terms of all steps are one GEMM */
	int n; /* hidden / 2 */
	struct mlp start, end, out, prompt;
	pcre2_code *words_re;
};

static void mlp_free(struct mlp *m)
{
	gemm_weights_free(&m->a);
	gemm_weights_free(&m->b);
	free(m->ba);
	free(m->bb);
}

static void gliner_free(struct gliner *g)
{
	if (!g)
		return;
	deberta_free(g->enc);
	tokenizer_free(g->tok);
	gemm_weights_free(&g->proj);
	free(g->proj_b);
	for (int d = 0; d < 2; d++) {
		gemm_weights_free(&g->wih[d]);
		free(g->whh[d]);
		free(g->bl[d]);
	}
	mlp_free(&g->start);
	mlp_free(&g->end);
	mlp_free(&g->out);
	mlp_free(&g->prompt);
	if (g->words_re)
		pcre2_code_free(g->words_re);
	free(g);
}

static enum sy_status read_linear(const struct safetensors *st, const char *name, int out_f,
                                  int in_f, struct sy_error *err, struct gemm_weights *w,
                                  float **bias)
{
	char full[256];
	snprintf(full, sizeof full, "%s.weight", name);
	float *W = NULL;
	enum sy_status s = safetensors_read_f32(st, full, 2, (int64_t[]){out_f, in_f}, err, &W);
	if (s == SY_OK)
		s = gemm_weights_pack(W, out_f, in_f, err, w);
	free(W);
	if (s == SY_OK) {
		snprintf(full, sizeof full, "%s.bias", name);
		s = safetensors_read_f32(st, full, 1, (int64_t[]){out_f}, err, bias);
	}
	return s;
}

static enum sy_status mlp_load(const struct safetensors *st, const char *name, int in, int out,
                               struct sy_error *err, struct mlp *m)
{
	char a[200], b[200];
	snprintf(a, sizeof a, "%s.0", name);
	snprintf(b, sizeof b, "%s.3", name);
	m->in = in;
	m->mid = 4 * out;
	m->out = out;
	enum sy_status s = read_linear(st, a, m->mid, in, err, &m->a, &m->ba);
	if (s == SY_OK)
		s = read_linear(st, b, out, m->mid, err, &m->b, &m->bb);
	return s;
}

static int32_t find_token(const struct tokenizer *tok, const char *s)
{
	return tokenizer_token_to_id(tok, s, strlen(s));
}

/* The bidirectional LSTM's weights (PyTorch's layout; the two biases summed). */
static enum sy_status load_lstm(struct gliner *g, const struct safetensors *st,
                                struct sy_error *err)
{
	const int H = g->hidden, n = g->n;
	enum sy_status s = SY_OK;
	for (int d = 0; s == SY_OK && d < 2; d++) {
		const char *sfx = d ? "_reverse" : "";
		char name[96];
		float *bih = NULL, *bhh = NULL;
		snprintf(name, sizeof name, "rnn.lstm.weight_ih_l0%s", sfx);
		float *wih = NULL;
		s = safetensors_read_f32(st, name, 2, (int64_t[]){4 * n, H}, err, &wih);
		if (s == SY_OK)
			s = gemm_weights_pack(wih, 4 * n, H, err, &g->wih[d]);
		free(wih);
		snprintf(name, sizeof name, "rnn.lstm.weight_hh_l0%s", sfx);
		if (s == SY_OK)
			s = safetensors_read_f32(st, name, 2, (int64_t[]){4 * n, n}, err,
			                         &g->whh[d]);
		snprintf(name, sizeof name, "rnn.lstm.bias_ih_l0%s", sfx);
		if (s == SY_OK)
			s = safetensors_read_f32(st, name, 1, (int64_t[]){4 * n}, err, &bih);
		snprintf(name, sizeof name, "rnn.lstm.bias_hh_l0%s", sfx);
		if (s == SY_OK)
			s = safetensors_read_f32(st, name, 1, (int64_t[]){4 * n}, err, &bhh);
		if (s == SY_OK) {
			for (int i = 0; i < 4 * n; i++)
				bih[i] += bhh[i];
			g->bl[d] = bih;
			bih = NULL;
		}
		free(bih);
		free(bhh);
	}
	return s;
}

/* The token ids of the prompt's markers and the sequence ends. */
static enum sy_status find_markers(struct gliner *g, const char *dir, const char *ent_tok,
                                   const char *sep_tok, int class_token_index, struct sy_error *err)
{
	g->ent_id = find_token(g->tok, ent_tok);
	g->sep_id = find_token(g->tok, sep_tok);
	/* A base model's tokenizer lacks the two markers; GLiNER appends them to the vocabulary in
	 * this order, the first at class_token_index. */
	if (g->ent_id < 0 && g->sep_id < 0 && class_token_index > 0 &&
	    class_token_index + 1 < g->ecfg.vocab) {
		g->ent_id = class_token_index;
		g->sep_id = class_token_index + 1;
	}
	g->cls_id = find_token(g->tok, "[CLS]");
	if (g->cls_id < 0)
		g->cls_id = find_token(g->tok, "<s>");
	g->end_id = find_token(g->tok, "[SEP]");
	if (g->end_id < 0)
		g->end_id = find_token(g->tok, "</s>");
	if (g->ent_id < 0 || g->sep_id < 0 || g->cls_id < 0 || g->end_id < 0)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: the tokenizer lacks %s, %s or the [CLS]/[SEP] tokens", dir,
		                    ent_tok, sep_tok);
	return SY_OK;
}

static enum sy_status gliner_load(const char *dir, int n_threads, struct sy_error *err,
                                  struct gliner **out)
{
	*out = NULL;
	char *path = sy_path_join(dir, "gliner_config.json"), *text = NULL;
	size_t len = 0;
	enum sy_status s = path ? sy_file_read(path, err, &text, &len) : SY_ERR_NOMEM;
	if (s != SY_OK) {
		free(path);
		return s;
	}
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	struct gliner *g = calloc(1, sizeof *g);
	if (!g) {
		cJSON_Delete(doc);
		free(path);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(doc, "span_mode");
	const cJSON *mw = cJSON_GetObjectItemCaseSensitive(doc, "max_width");
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(doc, "hidden_size");
	const cJSON *ec = cJSON_GetObjectItemCaseSensitive(doc, "encoder_config");
	const cJSON *eet = cJSON_GetObjectItemCaseSensitive(doc, "embed_ent_token");
	const cJSON *rnn = cJSON_GetObjectItemCaseSensitive(doc, "has_rnn");
	const cJSON *ent = cJSON_GetObjectItemCaseSensitive(doc, "ent_token");
	const cJSON *sep = cJSON_GetObjectItemCaseSensitive(doc, "sep_token");
	const cJSON *cti = cJSON_GetObjectItemCaseSensitive(doc, "class_token_index");
	const int class_token_index = cJSON_IsNumber(cti) ? (int)cti->valuedouble : -1;
	if (!cJSON_IsObject(doc))
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: not a JSON object", path);
	else if (!cJSON_IsString(mode) || strcmp(mode->valuestring, "markerV0") != 0)
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: span_mode %s is not supported (the span models' markerV0 is)",
		                 path, cJSON_IsString(mode) ? mode->valuestring : "(none)");
	else if (!cJSON_IsNumber(mw) || mw->valuedouble < 1 || mw->valuedouble > 64 ||
	         !cJSON_IsNumber(hs) || hs->valuedouble < 2 || hs->valuedouble > 8192 ||
	         (int)hs->valuedouble % 2)
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: max_width and hidden_size are required",
		                 path);
	else if (!cJSON_IsObject(ec))
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: no encoder_config (the encoder must be described inline)",
		                 path);
	else if (cJSON_IsBool(rnn) && !cJSON_IsTrue(rnn))
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: models without the LSTM (has_rnn false) "
		                 "are not supported",
		                 path);
	if (s == SY_OK) {
		g->max_width = (int)mw->valuedouble;
		g->hidden = (int)hs->valuedouble;
		g->n = g->hidden / 2;
		g->has_rnn = true;
		g->embed_ent_token = !cJSON_IsBool(eet) || cJSON_IsTrue(eet);
		s = deberta_config_parse(ec, path, err, &g->ecfg);
	}
	char ent_tok[64] = "<<ENT>>", sep_tok[64] = "<<SEP>>";
	if (cJSON_IsString(ent))
		snprintf(ent_tok, sizeof ent_tok, "%s", ent->valuestring);
	if (cJSON_IsString(sep))
		snprintf(sep_tok, sizeof sep_tok, "%s", sep->valuestring);
	cJSON_Delete(doc);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(dir, err, &st, NULL);
	if (s == SY_OK)
		s = deberta_load(&g->ecfg, st, "token_rep_layer.bert_layer.model.", n_threads, err,
		                 &g->enc);
	const int H = g->hidden, E = g->ecfg.hidden;
	if (s == SY_OK && E != H) {
		g->has_proj = true;
		s = read_linear(st, "token_rep_layer.projection", H, E, err, &g->proj, &g->proj_b);
	}
	if (s == SY_OK)
		s = load_lstm(g, st, err);
	if (s == SY_OK)
		s = mlp_load(st, "span_rep_layer.span_rep_layer.project_start", H, H, err,
		             &g->start);
	if (s == SY_OK)
		s = mlp_load(st, "span_rep_layer.span_rep_layer.project_end", H, H, err, &g->end);
	if (s == SY_OK)
		s = mlp_load(st, "span_rep_layer.span_rep_layer.out_project", 2 * H, H, err,
		             &g->out);
	if (s == SY_OK)
		s = mlp_load(st, "prompt_rep_layer", H, H, err, &g->prompt);
	safetensors_close(st);
	if (s == SY_OK)
		s = model_tokenizer_load(dir, g->ecfg.vocab, err, &g->tok);
	if (s == SY_OK)
		s = find_markers(g, dir, ent_tok, sep_tok, class_token_index, err);
	if (s == SY_OK) {
		int code;
		PCRE2_SIZE off;
		g->words_re =
		    pcre2_compile((PCRE2_SPTR) "\\w+(?:[-_]\\w+)*|\\S", PCRE2_ZERO_TERMINATED,
		                  PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
		if (!g->words_re)
			s = sy_error_set(err, SY_ERR_INTERNAL, "word pattern");
	}
	free(path);
	if (s != SY_OK) {
		gliner_free(g);
		return s;
	}
	*out = g;
	return SY_OK;
}

static float sigm(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

/* One LSTM direction into out[L][2n] at column offset d * n, from xg[L][4n], the input terms
 * W_ih x_t + b_ih + b_hh of every step (one GEMM before); gates[4n], h[n], c[n] scratch. */
static void lstm_run(const struct gliner *g, int d, const float *xg, int L, float *out,
                     float *gates, float *h, float *c)
{
	const int n = g->n;
	memset(h, 0, (size_t)n * sizeof *h);
	memset(c, 0, (size_t)n * sizeof *c);
	for (int s = 0; s < L; s++) {
		const int t = d ? L - 1 - s : s;
		const float *x = xg + (size_t)t * 4 * n;
		for (int r = 0; r < 4 * n; r++) {
			const float *wh = g->whh[d] + (size_t)r * n;
			double a0 = x[r], a1 = 0, a2 = 0, a3 = 0;
			int k = 0;
			for (; k + 4 <= n; k += 4) {
				a0 += (double)wh[k] * h[k];
				a1 += (double)wh[k + 1] * h[k + 1];
				a2 += (double)wh[k + 2] * h[k + 2];
				a3 += (double)wh[k + 3] * h[k + 3];
			}
			for (; k < n; k++)
				a0 += (double)wh[k] * h[k];
			gates[r] = (float)((a0 + a1) + (a2 + a3));
		}
		for (int k = 0; k < n; k++) {
			const float i = sigm(gates[k]), f = sigm(gates[n + k]),
			            gg = tanhf(gates[2 * n + k]), o = sigm(gates[3 * n + k]);
			c[k] = f * c[k] + i * gg;
			h[k] = o * tanhf(c[k]);
		}
		memcpy(out + (size_t)t * 2 * n + (size_t)d * n, h, (size_t)n * sizeof *h);
	}
}

struct candidate {
	int s, e, label;
	float score;
};

static int by_score(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	/* stable: arrival order (start, width, label) */
	if (x->s != y->s)
		return x->s - y->s;
	if (x->e != y->e)
		return x->e - y->e;
	return x->label - y->label;
}

static int by_start(const void *a, const void *b)
{
	return ((const struct candidate *)a)->s - ((const struct candidate *)b)->s;
}

/* Appends the token ids of text to ids (no special tokens). */
static enum sy_status append_tokens(const struct gliner *g, const char *text, size_t len,
                                    int32_t *ids, int *n, int cap, struct sy_error *err, bool *full)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.add_special_tokens = false;
	p.max_length = -1;
	struct tok_encoding enc;
	enum sy_status s = tokenizer_encode(g->tok, text, len, NULL, 0, &p, err, &enc);
	if (s != SY_OK)
		return s;
	if (*n + enc.n > cap) {
		*full = true;
	} else {
		memcpy(ids + *n, enc.ids, (size_t)enc.n * sizeof *ids);
		*n += enc.n;
	}
	tok_encoding_free(&enc);
	return SY_OK;
}

/* What prepare keeps for run: the prompt and word layout of the encoder's input. */
struct gliner_prep {
	const struct extract_params *xp; /* the call's labels and threshold */
	int ent_pos[GLINER_MAX_LABELS]; /* the <<ENT>> token of each label */
	int n_words;
	size_t *ws, *we; /* [n_words] byte ranges in the text */
	int *first; /* [n_words] first sub-token */
};

static void gliner_prep_free(void *extra)
{
	struct gliner_prep *gp = extra;
	if (!gp)
		return;
	free(gp->ws);
	free(gp->we);
	free(gp->first);
	free(gp);
}

/* Appends the words of text (matches of the word pattern) to ids, keeping their byte ranges and
 * first sub-tokens in gp; stops when the next word would not fit (*full). */
static enum sy_status collect_words(const struct gliner *g, const char *text, size_t len,
                                    int32_t *ids, int *n, struct gliner_prep *gp, bool *full,
                                    struct sy_error *err)
{
	int cap_words = 64;
	gp->ws = malloc((size_t)cap_words * sizeof *gp->ws);
	gp->we = malloc((size_t)cap_words * sizeof *gp->we);
	gp->first = malloc((size_t)cap_words * sizeof *gp->first);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(g->words_re, NULL);
	enum sy_status s = gp->ws && gp->we && gp->first && md
	                       ? SY_OK
	                       : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	PCRE2_SIZE at = 0;
	while (s == SY_OK && !*full &&
	       pcre2_match(g->words_re, (PCRE2_SPTR)text, len, at, 0, md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (gp->n_words == cap_words) {
			cap_words *= 2;
			size_t *a = realloc(gp->ws, (size_t)cap_words * sizeof *a);
			if (a)
				gp->ws = a;
			size_t *b = realloc(gp->we, (size_t)cap_words * sizeof *b);
			if (b)
				gp->we = b;
			int *c = realloc(gp->first, (size_t)cap_words * sizeof *c);
			if (c)
				gp->first = c;
			if (!a || !b || !c) {
				s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				break;
			}
		}
		const int before = *n;
		s = append_tokens(g, text + ov[0], ov[1] - ov[0], ids, n, GLINER_MAX_TOKENS - 1,
		                  err, full);
		if (s == SY_OK && !*full) {
			if (*n == before) /* a word the tokenizer drops: read it as [UNK] */
				ids[(*n)++] = find_token(g->tok, "[UNK]") >= 0
				                  ? find_token(g->tok, "[UNK]")
				                  : 0;
			gp->ws[gp->n_words] = ov[0];
			gp->we[gp->n_words] = ov[1];
			gp->first[gp->n_words++] = before;
		}
		at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		if (at >= len)
			break;
	}
	pcre2_match_data_free(md);
	return s;
}

/* The encoder's input for a text and the call's labels: [CLS] (<<ENT>> label)... <<SEP>>
 * words... [SEP]. Words past the encoder's positions are dropped, or (truncate off) the item
 * is refused. */
static enum sy_status gl_prepare(const void *impl, const struct model_input *in,
                                 struct sy_error *err, struct model_prepared *out)
{
	const struct gliner *g = impl;
	const struct extract_params *xp = in->extract;
	if (!xp || !xp->labels)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "GLiNER is zero-shot: give the entity types to find in "
		                    "params.labels");
	if (xp->n_labels < 1 || xp->n_labels > GLINER_MAX_LABELS)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "GLiNER needs 1 to %d entity labels per call (params.labels)",
		                    GLINER_MAX_LABELS);
	struct gliner_prep *gp = calloc(1, sizeof *gp);
	int32_t *ids = malloc(GLINER_MAX_TOKENS * sizeof *ids);
	int n = 0;
	bool full = false;
	enum sy_status s = gp && ids ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (s == SY_OK) {
		gp->xp = xp;
		ids[n++] = g->cls_id;
	}
	for (int k = 0; s == SY_OK && k < xp->n_labels; k++) {
		gp->ent_pos[k] = n;
		ids[n++] = g->ent_id;
		s = append_tokens(g, xp->labels[k], strlen(xp->labels[k]), ids, &n,
		                  GLINER_MAX_TOKENS - 2, err, &full);
		if (s == SY_OK && full)
			s = sy_error_set(err, SY_ERR_LIMIT, "the labels alone fill the %d tokens",
			                 GLINER_MAX_TOKENS);
	}
	if (s == SY_OK) {
		ids[n++] = g->sep_id;
		s = collect_words(g, in->text, in->len, ids, &n, gp, &full, err);
	}
	if (s == SY_OK && full && !in->truncate)
		s = sy_error_set(err, SY_ERR_LIMIT,
		                 "the labels and the text take more than the %d tokens the model "
		                 "takes",
		                 GLINER_MAX_TOKENS);
	if (s != SY_OK) {
		gliner_prep_free(gp);
		free(ids);
		return s;
	}
	ids[n++] = g->end_id;
	out->enc.ids = ids;
	out->enc.n = n;
	out->n_tokens = n;
	out->extra = gp;
	return SY_OK;
}

#define GLINER_SPAN_CHUNK 96 /* spans scored per GEMM */

/* Scratch of one run: token states, word states and the heads' buffers. */
struct gl_scratch {
	float *tok, *ptok, *words, *rnn, *srep, *erep, *prompts, *prep, *mlp, *span, *cat, *prob;
	float *gates, *hc; /* [2 directions][4n], [2 directions][2n] */
	float *xg; /* [2 directions][L][4n]: the LSTM's input terms */
	int *span_s, *span_e; /* [n_spans] first and last word of each span, in scoring order */
	struct candidate *cand;
};

static void gl_scratch_free(struct gl_scratch *b)
{
	free(b->tok), free(b->ptok), free(b->words), free(b->rnn), free(b->srep), free(b->erep);
	free(b->prompts), free(b->prep), free(b->mlp), free(b->span), free(b->cat), free(b->prob);
	free(b->gates), free(b->hc), free(b->xg), free(b->span_s), free(b->span_e), free(b->cand);
}

static bool gl_scratch_alloc(const struct gliner *g, int n, int L, int n_labels,
                             struct gl_scratch *b)
{
	const int H = g->hidden, E = g->ecfg.hidden, W = g->max_width, C = GLINER_SPAN_CHUNK;
	const int mid = 4 * H,
	          rows = L > n_labels ? (L > C ? L : C) : (n_labels > C ? n_labels : C);
	b->tok = malloc((size_t)n * E * sizeof *b->tok);
	b->ptok = g->has_proj ? malloc((size_t)n * H * sizeof *b->ptok) : NULL;
	b->words = calloc((size_t)L * H, sizeof *b->words);
	b->rnn = malloc((size_t)L * H * sizeof *b->rnn);
	b->srep = malloc((size_t)L * H * sizeof *b->srep);
	b->erep = malloc((size_t)L * H * sizeof *b->erep);
	b->prompts = malloc((size_t)n_labels * H * sizeof *b->prompts);
	b->prep = malloc((size_t)n_labels * H * sizeof *b->prep);
	b->mlp = malloc((size_t)rows * mid * sizeof *b->mlp);
	b->span = malloc((size_t)C * H * sizeof *b->span);
	b->cat = malloc((size_t)C * 2 * H * sizeof *b->cat);
	b->prob = malloc((size_t)C * n_labels * sizeof *b->prob);
	b->gates = malloc((size_t)2 * 4 * g->n * sizeof *b->gates);
	b->hc = malloc((size_t)2 * 2 * g->n * sizeof *b->hc);
	b->xg = malloc((size_t)2 * L * 4 * g->n * sizeof *b->xg);
	b->span_s = malloc((size_t)L * W * sizeof *b->span_s);
	b->span_e = malloc((size_t)L * W * sizeof *b->span_e);
	b->cand = malloc((size_t)L * W * n_labels * sizeof *b->cand);
	return b->tok && (b->ptok || !g->has_proj) && b->words && b->rnn && b->srep && b->erep &&
	       b->prompts && b->prep && b->mlp && b->span && b->cat && b->prob && b->gates &&
	       b->hc && b->xg && b->span_s && b->span_e && b->cand;
}

/* One run of the heads over the encoder's states on the encoder's pool: every step splits its
 * work by (ith, nth) and a barrier separates steps; each output is computed by the same code
 * whatever the split, so the entities do not depend on the number of threads. */
struct head_ctx {
	const struct gliner *g;
	const struct gliner_prep *gp;
	struct gl_scratch *b;
	struct sy_pool *pool;
	int n, L, n_labels, n_spans;
	float threshold;
	int nc; /* candidates found (written by part 0) */
};

/* y[rows][out] = mlp(x[rows][in]) by part ith of nth; ends on a barrier. */
static void mlp_part(struct head_ctx *hc, const struct mlp *m, const float *x, int rows, float *y,
                     int ith, int nth)
{
	gemm_linear(x, m->in, &m->a, m->ba, GEMM_EPILOGUE_RELU, hc->b->mlp, m->mid, rows, ith, nth);
	sy_pool_barrier(hc->pool);
	gemm_linear(hc->b->mlp, m->mid, &m->b, m->bb, GEMM_EPILOGUE_NONE, y, m->out, rows, ith,
	            nth);
	sy_pool_barrier(hc->pool);
}

/* Scores every span of up to max_width words against every label, GLINER_SPAN_CHUNK spans at
 * a time; part 0 keeps those above the threshold in b->cand, in span then label order. */
static void score_spans_part(struct head_ctx *hc, int ith, int nth)
{
	const struct gliner *g = hc->g;
	struct gl_scratch *b = hc->b;
	const int H = g->hidden, nl = hc->n_labels;
	for (int c0 = 0; c0 < hc->n_spans; c0 += GLINER_SPAN_CHUNK) {
		const int rows =
		    hc->n_spans - c0 < GLINER_SPAN_CHUNK ? hc->n_spans - c0 : GLINER_SPAN_CHUNK;
		int rb, re;
		sy_split(rows, ith, nth, &rb, &re);
		for (int r = rb; r < re; r++) {
			const float *sr = b->srep + (size_t)b->span_s[c0 + r] * H,
			            *er = b->erep + (size_t)b->span_e[c0 + r] * H;
			float *cat = b->cat + (size_t)r * 2 * H;
			for (int j = 0; j < H; j++) {
				cat[j] = sr[j] > 0 ? sr[j] : 0;
				cat[H + j] = er[j] > 0 ? er[j] : 0;
			}
		}
		sy_pool_barrier(hc->pool);
		mlp_part(hc, &g->out, b->cat, rows, b->span, ith, nth);
		for (int r = rb; r < re; r++)
			for (int c = 0; c < nl; c++) {
				double dot = 0;
				for (int j = 0; j < H; j++)
					dot += (double)b->span[(size_t)r * H + j] *
					       b->prep[(size_t)c * H + j];
				b->prob[(size_t)r * nl + c] = (float)(1.0 / (1.0 + exp(-dot)));
			}
		sy_pool_barrier(hc->pool);
		if (ith == 0)
			for (int r = 0; r < rows; r++)
				for (int c = 0; c < nl; c++) {
					const float p = b->prob[(size_t)r * nl + c];
					if (p > hc->threshold)
						b->cand[hc->nc++] = (struct candidate){
						    b->span_s[c0 + r], b->span_e[c0 + r], c, p};
				}
	}
}

static void heads_part(void *p, int ith, int nth)
{
	struct head_ctx *hc = p;
	const struct gliner *g = hc->g;
	const struct gliner_prep *gp = hc->gp;
	struct gl_scratch *b = hc->b;
	const int H = g->hidden, E = g->ecfg.hidden, L = hc->L;
	const float *tok = b->tok;
	if (g->has_proj) {
		gemm_linear(b->tok, E, &g->proj, g->proj_b, GEMM_EPILOGUE_NONE, b->ptok, H, hc->n,
		            ith, nth);
		sy_pool_barrier(hc->pool);
		tok = b->ptok;
	}
	if (ith == 0) {
		for (int k = 0; k < hc->n_labels; k++)
			memcpy(b->prompts + (size_t)k * H,
			       tok + (size_t)(gp->ent_pos[k] + (g->embed_ent_token ? 0 : 1)) * H,
			       (size_t)H * sizeof *b->prompts);
		for (int w = 0; w < L; w++)
			memcpy(b->words + (size_t)w * H, tok + (size_t)gp->first[w] * H,
			       (size_t)H * sizeof *b->words);
	}
	sy_pool_barrier(hc->pool);
	for (int d = 0; d < 2; d++)
		gemm_linear(b->words, H, &g->wih[d], g->bl[d], GEMM_EPILOGUE_NONE,
		            b->xg + (size_t)d * L * 4 * g->n, 4 * g->n, L, ith, nth);
	sy_pool_barrier(hc->pool);
	for (int d = ith; d < 2; d += nth) /* the two directions side by side */
		lstm_run(g, d, b->xg + (size_t)d * L * 4 * g->n, L, b->rnn,
		         b->gates + (size_t)d * 4 * g->n, b->hc + (size_t)d * 2 * g->n,
		         b->hc + (size_t)d * 2 * g->n + g->n);
	sy_pool_barrier(hc->pool);
	mlp_part(hc, &g->start, b->rnn, L, b->srep, ith, nth);
	mlp_part(hc, &g->end, b->rnn, L, b->erep, ith, nth);
	mlp_part(hc, &g->prompt, b->prompts, hc->n_labels, b->prep, ith, nth);
	score_spans_part(hc, ith, nth);
}

/* Flat greedy decoding: the highest-scoring spans first, none overlapping, then in text
 * order as entities. */
static enum sy_status decode_spans(const struct gliner_prep *gp, struct candidate *cand, int nc,
                                   struct sy_error *err, struct model_item_result *out)
{
	qsort(cand, (size_t)nc, sizeof *cand, by_score);
	int kept = 0;
	for (int i = 0; i < nc; i++) {
		bool overlaps = false;
		for (int j = 0; j < kept && !overlaps; j++)
			overlaps = !(cand[i].s > cand[j].e || cand[j].s > cand[i].e);
		if (!overlaps)
			cand[kept++] = cand[i];
	}
	qsort(cand, (size_t)kept, sizeof *cand, by_start);
	out->entities = kept ? calloc((size_t)kept, sizeof *out->entities) : NULL;
	if (kept && !out->entities)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < kept; i++) {
		struct model_entity *en = &out->entities[i];
		snprintf(en->label, sizeof en->label, "%s", gp->xp->labels[cand[i].label]);
		en->start = gp->ws[cand[i].s];
		en->end = gp->we[cand[i].e];
		en->score = cand[i].score;
		out->n_entities++;
	}
	return SY_OK;
}

/* Entities of one prepared item (see the file comment). */
static enum sy_status gliner_run_one(struct gliner *g, const struct model_prepared *p,
                                     struct sy_error *err, struct model_item_result *out)
{
	const struct gliner_prep *gp = p->extra;
	const int L = gp->n_words, n = p->enc.n;
	const int n_labels = gp->xp->n_labels;
	if (L == 0)
		return SY_OK;
	struct gl_scratch b = {0};
	enum sy_status s = gl_scratch_alloc(g, n, L, n_labels, &b)
	                       ? SY_OK
	                       : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (s == SY_OK)
		s = deberta_forward(g->enc, p->enc.ids, n, err, b.tok);
	if (s == SY_OK) {
		struct head_ctx hc = {
		    .g = g,
		    .gp = gp,
		    .b = &b,
		    .pool = deberta_pool(g->enc),
		    .n = n,
		    .L = L,
		    .n_labels = n_labels,
		    .threshold = gp->xp->threshold >= 0 ? gp->xp->threshold : 0.5f,
		};
		for (int st = 0; st < L; st++) /* start, then width: the reference's order */
			for (int k = 0; k < g->max_width && st + k < L; k++) {
				b.span_s[hc.n_spans] = st;
				b.span_e[hc.n_spans++] = st + k;
			}
		sy_pool_run(hc.pool, heads_part, &hc);
		s = decode_spans(gp, b.cand, hc.nc, err, out);
	}
	gl_scratch_free(&b);
	return s;
}

static enum sy_status gl_run(void *impl, const struct model_item *items, int n,
                             struct sy_error *err, struct model_item_result *res)
{
	for (int i = 0; i < n; i++) {
		enum sy_status s = gliner_run_one(impl, items[i].prep, err, &res[i]);
		if (s != SY_OK)
			return s;
	}
	return SY_OK;
}

/* ---- the extract task (labels per call) ---- */

static size_t gl_bytes(const void *impl)
{
	const struct gliner *g = impl;
	return tokenizer_bytes(g->tok) + deberta_bytes(g->enc) +
	       (size_t)(8 * g->n * (g->hidden + g->n) + 4 * 4 * g->hidden * g->hidden * 3) *
	           sizeof(float);
}

static int gl_max_tokens(const void *impl)
{
	(void)impl;
	return GLINER_MAX_TOKENS;
}

static void gl_close(void *impl)
{
	gliner_free(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *gl_tokenizer(const void *impl)
{
	return ((const struct gliner *)impl)->tok;
}

static const struct model_ops gl_ops = {.tokenizer = gl_tokenizer,
                                        .close = gl_close,
                                        .bytes = gl_bytes,
                                        .max_tokens = gl_max_tokens,
                                        .free_extra = gliner_prep_free};
static const struct model_extract_task gl_extract = {.prepare = gl_prepare, .run = gl_run};

bool gliner_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_GLINER];
}

enum sy_status gliner_open(const struct model_desc *d, const struct model_options *opts,
                           struct sy_error *err, struct model *out)
{
	struct gliner *g;
	enum sy_status s = gliner_load(d->path, opts ? opts->n_threads : 0, err, &g);
	if (s != SY_OK)
		return s;
	out->arch = "gliner";
	out->fp32_only = true; /* DeBERTa-v2 has no int8 path */
	out->impl = g;
	out->ops = &gl_ops;
	out->extract = &gl_extract;
	return SY_OK;
}
