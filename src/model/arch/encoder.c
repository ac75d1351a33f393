/* Picks an encoder architecture for a model directory (see encoder.h). */
#include "model/arch/encoder.h"

#include <string.h>

#include "model/formats/weights.h"

enum sy_status encoder_open(const struct model_desc *d, int n_threads, enum linear_precision prec,
                            struct sy_error *err, struct encoder *out)
{
	memset(out, 0, sizeof *out);
	/* The config first: a broken one is the error to report, whatever the weights. */
	if (!d->config_text)
		return sy_error_set(err, SY_ERR_IO, "%s: not found", d->config_name);
	if (!d->config)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", d->config_name);
	struct safetensors *st = NULL;
	enum sy_status s = model_weights_open(d->path, err, &st, NULL);
	if (s != SY_OK)
		return s;
	s = sy_error_set(err, SY_ERR_FORMAT, "%s: no encoder architecture takes it",
	                 d->config_name);
#define ENCODER_ARCH_TRY(sym)                                             \
	if (sym##_encoder_detect(d)) {                                    \
		s = sym##_encoder_open(d, st, n_threads, prec, err, out); \
		safetensors_close(st);                                    \
		return s;                                                 \
	}
	ENCODER_ARCHS(ENCODER_ARCH_TRY)
#undef ENCODER_ARCH_TRY
	safetensors_close(st);
	return s;
}

void encoder_free(struct encoder *e)
{
	if (e && e->ops)
		e->ops->free(e->impl);
	if (e)
		memset(e, 0, sizeof *e);
}
