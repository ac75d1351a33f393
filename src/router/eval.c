/* Router evaluation metrics (see eval.h). */
#include "router/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void intent_report_compute(const int *gold, const int *pred, int n, int n_classes, int oos_class,
                           struct intent_report *out)
{
	memset(out, 0, sizeof *out);
	out->n = n;
	out->n_classes = n_classes;
	out->oos_class = oos_class;
	out->precision = calloc((size_t)n_classes, sizeof *out->precision);
	out->recall = calloc((size_t)n_classes, sizeof *out->recall);
	out->f1 = calloc((size_t)n_classes, sizeof *out->f1);
	out->support = calloc((size_t)n_classes, sizeof *out->support);
	out->confusion = calloc((size_t)n_classes * n_classes, sizeof *out->confusion);
	if (!out->precision || !out->recall || !out->f1 || !out->support || !out->confusion)
		return;
	int right = 0, in_n = 0, in_right = 0;
	for (int i = 0; i < n; i++) {
		out->confusion[(size_t)gold[i] * n_classes + pred[i]]++;
		out->support[gold[i]]++;
		right += gold[i] == pred[i];
		if (gold[i] != oos_class) {
			in_n++;
			in_right += gold[i] == pred[i];
		}
	}
	out->accuracy = n ? (double)right / n : 0;
	out->in_scope_accuracy = in_n ? (double)in_right / in_n : 0;
	double f1_sum = 0;
	int f1_n = 0;
	for (int c = 0; c < n_classes; c++) {
		int tp = out->confusion[(size_t)c * n_classes + c], pred_c = 0;
		for (int g = 0; g < n_classes; g++)
			pred_c += out->confusion[(size_t)g * n_classes + c];
		out->precision[c] = pred_c ? (double)tp / pred_c : 0;
		out->recall[c] = out->support[c] ? (double)tp / out->support[c] : 0;
		const double p = out->precision[c], r = out->recall[c];
		out->f1[c] = p + r > 0 ? 2 * p * r / (p + r) : 0;
		if (out->support[c] > 0 && c != oos_class) {
			f1_sum += out->f1[c];
			f1_n++;
		}
	}
	out->macro_f1 = f1_n ? f1_sum / f1_n : 0;
	if (oos_class >= 0) {
		out->oos_recall = out->recall[oos_class];
		out->oos_precision = out->precision[oos_class];
	}
}

void intent_report_free(struct intent_report *r)
{
	free(r->precision);
	free(r->recall);
	free(r->f1);
	free(r->support);
	free(r->confusion);
	memset(r, 0, sizeof *r);
}

void intent_report_print(const struct intent_report *r, const char *const *labels, int worst,
                         int pairs)
{
	printf("  accuracy %.4f, macro-F1 %.4f over %d examples", r->accuracy, r->macro_f1, r->n);
	if (r->oos_class >= 0)
		printf("; in-scope accuracy %.4f, out-of-scope recall %.4f, precision %.4f",
		       r->in_scope_accuracy, r->oos_recall, r->oos_precision);
	printf("\n");
	/* the worst classes by F1 */
	int *idx = malloc((size_t)r->n_classes * sizeof *idx);
	int m = 0;
	for (int c = 0; idx && c < r->n_classes; c++)
		if (r->support[c] > 0)
			idx[m++] = c;
	for (int i = 1; i < m; i++)
		for (int j = i; j > 0 && r->f1[idx[j]] < r->f1[idx[j - 1]]; j--) {
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	printf("  worst classes (precision / recall / F1, support):\n");
	for (int i = 0; i < m && i < worst; i++)
		printf("    %-36s %.3f / %.3f / %.3f  %d\n", labels[idx[i]], r->precision[idx[i]],
		       r->recall[idx[i]], r->f1[idx[i]], r->support[idx[i]]);
	free(idx);
	/* the most frequent confusions */
	printf("  top confusions (gold -> predicted, count):\n");
	const int K = r->n_classes;
	for (int p = 0; p < pairs; p++) {
		int bg = -1, bp = -1, bc = 0;
		for (int g = 0; g < K; g++)
			for (int q = 0; q < K; q++) {
				int c = g == q ? 0 : r->confusion[(size_t)g * K + q];
				if (c > bc) {
					bc = c;
					bg = g;
					bp = q;
				}
			}
		if (bg < 0)
			break;
		printf("    %s -> %s  %d\n", labels[bg], labels[bp], bc);
		r->confusion[(size_t)bg * K + bp] = -r->confusion[(size_t)bg * K + bp]; /* mark */
	}
	for (size_t i = 0; i < (size_t)K * K; i++)
		if (r->confusion[i] < 0)
			r->confusion[i] = -r->confusion[i];
}

struct scored {
	double s;
	int i;
};

static int by_score_desc(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? 1 : -1;
	return x->i - y->i;
}

void routellm_curve_compute(const double *strong_score, const bool *weak_ok, const bool *strong_ok,
                            int n, struct routellm_curve *out)
{
	memset(out, 0, sizeof *out);
	out->n = n;
	out->share = calloc((size_t)n + 1, sizeof *out->share);
	out->pgr = calloc((size_t)n + 1, sizeof *out->pgr);
	out->quality = calloc((size_t)n + 1, sizeof *out->quality);
	struct scored *o = malloc((size_t)(n ? n : 1) * sizeof *o);
	if (!out->share || !out->pgr || !out->quality || !o || n == 0) {
		free(o);
		return;
	}
	long w = 0, st = 0;
	for (int i = 0; i < n; i++) {
		w += weak_ok[i];
		st += strong_ok[i];
		o[i] = (struct scored){strong_score[i], i};
	}
	out->r_weak = (double)w / n;
	out->r_strong = (double)st / n;
	qsort(o, (size_t)n, sizeof *o, by_score_desc);
	const double gap = out->r_strong - out->r_weak;
	long correct = w;
	for (int k = 0; k <= n; k++) {
		if (k > 0) { /* prompt o[k-1] moves to the strong model */
			const int i = o[k - 1].i;
			correct += (long)strong_ok[i] - (long)weak_ok[i];
		}
		out->share[k] = (double)k / n;
		out->quality[k] = (double)correct / n;
		out->pgr[k] = gap != 0 ? (out->quality[k] - out->r_weak) / gap : 0;
	}
	double area = 0;
	for (int k = 1; k <= n; k++)
		area += (out->pgr[k] + out->pgr[k - 1]) / 2 * (out->share[k] - out->share[k - 1]);
	out->apgr = area;
	free(o);
}

double routellm_cpt(const struct routellm_curve *c, double x)
{
	for (int k = 0; c->share && k <= c->n; k++)
		if (c->pgr[k] >= x)
			return c->share[k];
	return 1;
}

void routellm_curve_free(struct routellm_curve *c)
{
	free(c->share);
	free(c->pgr);
	free(c->quality);
	memset(c, 0, sizeof *c);
}

void routellm_svg(struct sbuf *b, const struct routellm_curve *curves, const char *const *names,
                  int n_curves, const char *title)
{
	static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
	const int W = 640, H = 440, L = 60, R = 20, T = 40, B = 50;
	double lo = 1, hi = 0;
	for (int c = 0; c < n_curves; c++)
		for (int k = 0; k <= curves[c].n; k++) {
			lo = fmin(lo, curves[c].quality[k]);
			hi = fmax(hi, curves[c].quality[k]);
		}
	if (hi <= lo)
		hi = lo + 1e-3;
	sbuf_printf(b,
	            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
	            "height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"24\" "
	            "font-size=\"15\">%s</text>\n",
	            W, H, L, title);
	sbuf_printf(b,
	            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n<line "
	            "x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
	            L, H - B, W - R, H - B, L, T, L, H - B);
	for (int t = 0; t <= 4; t++) {
		double fx = t / 4.0, fy = lo + (hi - lo) * t / 4.0;
		int x = L + (int)(fx * (W - L - R)), y = H - B - (int)(t / 4.0 * (H - T - B));
		sbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>\n", x,
		            H - B + 18, fx * 100);
		sbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3f</text>\n", L - 6,
		            y + 4, fy);
	}
	sbuf_printf(b,
	            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">share of calls to the strong "
	            "model (cost)</text>\n<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
	            "text-anchor=\"middle\">quality (share correct)</text>\n",
	            (L + W - R) / 2, H - 12, (T + H - B) / 2, (T + H - B) / 2);
	for (int c = 0; c < n_curves; c++) {
		const struct routellm_curve *cv = &curves[c];
		const int step = cv->n > 400 ? cv->n / 400 : 1;
		sbuf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
		            colors[c % 5]);
		for (int k = 0; k <= cv->n; k += step) {
			double x = L + cv->share[k] * (W - L - R);
			double y = H - B - (cv->quality[k] - lo) / (hi - lo) * (H - T - B);
			sbuf_printf(b, "%.1f,%.1f ", x, y);
		}
		sbuf_puts(b, "\"/>\n");
		sbuf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s (APGR %.3f)</text>\n",
		            W - R - 230, H - B - 16 - 16 * (n_curves - 1 - c), colors[c % 5],
		            names[c], cv->apgr);
	}
	sbuf_puts(b, "</svg>\n");
}
