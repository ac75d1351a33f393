/* Entity spans from token predictions (see ner_aggregate.h for the rules). */
#include "model/heads/ner_aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A labelled candidate: a token (simple) or a word (first/average/max). */
struct candidate {
	int label;
	float score;
	size_t start, end;
};

static int argmax(const float *p, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (p[i] > p[b])
			b = i;
	return b;
}

/* Splits a label into its B/I part and its entity type (pointer into the label). */
static const char *tag_of(const char *label, char *bi)
{
	if ((label[0] == 'B' || label[0] == 'I') && label[1] == '-') {
		*bi = label[0];
		return label + 2;
	}
	*bi = 'I';
	return label;
}

/* The word of tokens [b, e): its label and score by the strategy. */
static struct candidate word_candidate(const struct ner_token *t, int b, int e, int L,
                                       enum ner_aggregation agg, float *mean)
{
	struct candidate c = {.start = t[b].start, .end = t[e - 1].end};
	if (agg == NER_AGG_AVERAGE) {
		for (int l = 0; l < L; l++) {
			double s = 0;
			for (int i = b; i < e; i++)
				s += t[i].probs[l];
			mean[l] = (float)(s / (e - b));
		}
		c.label = argmax(mean, L);
		c.score = mean[c.label];
		return c;
	}
	int pick = b;
	if (agg == NER_AGG_MAX) {
		/* The token whose best probability is highest (the first of equals). */
		float best = t[b].probs[argmax(t[b].probs, L)];
		for (int i = b + 1; i < e; i++) {
			float v = t[i].probs[argmax(t[i].probs, L)];
			if (v > best) {
				best = v;
				pick = i;
			}
		}
	}
	c.label = argmax(t[pick].probs, L);
	c.score = t[pick].probs[c.label];
	return c;
}

enum sy_status ner_aggregate(const struct ner_token *toks, int n, const char *const *labels,
                             int n_labels, enum ner_aggregation agg, float threshold,
                             struct sy_error *err, struct model_entity **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (n <= 0)
		return SY_OK;
	struct candidate *cand = malloc((size_t)n * sizeof *cand);
	float *mean = malloc((size_t)n_labels * sizeof *mean);
	struct model_entity *ents = malloc((size_t)n * sizeof *ents);
	if (!cand || !mean || !ents) {
		free(cand);
		free(mean);
		free(ents);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	int nc = 0;
	if (agg == NER_AGG_SIMPLE) {
		for (int i = 0; i < n; i++) {
			int l = argmax(toks[i].probs, n_labels);
			cand[nc++] =
			    (struct candidate){l, toks[i].probs[l], toks[i].start, toks[i].end};
		}
	} else {
		for (int b = 0; b < n;) {
			int e = b + 1;
			while (e < n && toks[e].is_subword)
				e++;
			cand[nc++] = word_candidate(toks, b, e, n_labels, agg, mean);
			b = e;
		}
	}
	int ne = 0;
	for (int g = 0; g < nc;) {
		/* The group's type is its first label after the first '-' (so "B-PER" and
		 * "I-PER" give "PER"; as the pipeline's split("-", 1)[-1] does). */
		const char *first = labels[cand[g].label], *dash = strchr(first, '-');
		const char *type = dash ? dash + 1 : first;
		int e = g + 1;
		double sum = cand[g].score;
		for (; e < nc; e++) {
			char bj, bk;
			const char *tj = tag_of(labels[cand[e].label], &bj);
			const char *tk = tag_of(labels[cand[e - 1].label], &bk);
			if (strcmp(tj, tk) != 0 || bj == 'B')
				break;
			sum += cand[e].score;
		}
		const float score = (float)(sum / (e - g));
		if (strcmp(type, "O") != 0 && score >= threshold) {
			struct model_entity *en = &ents[ne++];
			snprintf(en->label, sizeof en->label, "%s", type);
			en->start = cand[g].start;
			en->end = cand[e - 1].end;
			en->score = score;
		}
		g = e;
	}
	free(cand);
	free(mean);
	if (ne == 0) {
		free(ents);
		ents = NULL;
	}
	*out = ents;
	*n_out = ne;
	return SY_OK;
}
