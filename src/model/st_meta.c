/* sentence-transformers metadata reader. The module list is followed in file order, the way
 * SentenceTransformer builds its nn.Sequential; module folders come from modules.json "path" and
 * must stay inside the model directory. */
#include "model/st_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/file.h"

/* Parses dir/rel into *out; *out stays NULL (and SY_OK is returned) when the file is absent. */
static enum sy_status read_json(const char *dir, const char *rel, struct sy_error *err, cJSON **out)
{
	*out = NULL;
	char *path = sy_path_join(dir, rel);
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = SY_OK;
	if (sy_path_exists(path)) {
		char *buf;
		size_t len;
		s = sy_file_read(path, err, &buf, &len);
		if (s == SY_OK) {
			*out = cJSON_ParseWithLength(buf, len);
			if (!*out)
				s = sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", path);
			free(buf);
		}
	}
	free(path);
	return s;
}

static int json_bool(const cJSON *obj, const char *name, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	return def;
}

/* The last dotted component of a Python class path ("torch.nn.modules.activation.Tanh"). */
static const char *class_name(const char *s)
{
	const char *dot = strrchr(s, '.');
	return dot ? dot + 1 : s;
}

/* A module path from modules.json: relative, no "..", no backslashes. */
static int path_is_safe(const char *p)
{
	if (p[0] == '/' || strchr(p, '\\'))
		return 0;
	for (const char *c = p; (c = strstr(c, "..")) != NULL; c += 2) {
		int start = c == p || c[-1] == '/';
		int end = c[2] == '\0' || c[2] == '/';
		if (start && end)
			return 0;
	}
	return 1;
}

static char *join_rel(const char *dir, const char *rel, const char *name)
{
	char *sub = rel[0] ? sy_path_join(dir, rel) : strdup(dir);
	if (!sub || !name)
		return sub;
	char *p = sy_path_join(sub, name);
	free(sub);
	return p;
}

static enum sy_status load_pooling(const char *dir, const char *rel, struct sy_error *err,
                                   struct st_meta *m)
{
	char *mdir = join_rel(dir, rel, NULL);
	if (!mdir)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	cJSON *c;
	enum sy_status s = read_json(mdir, "config.json", err, &c);
	if (s != SY_OK)
		goto out;
	if (!cJSON_IsObject(c)) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s/config.json: %s", mdir,
		                 c ? "expected a JSON object" : "missing (Pooling module)");
		goto out;
	}
	m->include_prompt = json_bool(c, "include_prompt", 1);
	const cJSON *dim = cJSON_GetObjectItemCaseSensitive(c, "word_embedding_dimension");
	if (cJSON_IsNumber(dim) && dim->valuedouble >= 1 && dim->valuedouble <= (1 << 24))
		m->pooling_dim = (int)dim->valuedouble;
	const cJSON *pm = cJSON_GetObjectItemCaseSensitive(c, "pooling_mode");
	if (cJSON_IsString(pm)) {
		const char *v = pm->valuestring;
		m->pooling = !strcmp(v, "lasttoken") ? POOLING_LAST : pooling_mode_parse(v);
		if (m->pooling == POOLING_DEFAULT)
			s = sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s/config.json: pooling_mode \"%.40s\" is not supported (cls, mean, "
			    "max, lasttoken)",
			    mdir, v);
		goto out;
	}
	static const struct {
		const char *field;
		enum pooling_mode mode;
	} modes[] = {
	    {"pooling_mode_cls_token", POOLING_CLS},
	    {"pooling_mode_mean_tokens", POOLING_MEAN},
	    {"pooling_mode_max_tokens", POOLING_MAX},
	    {"pooling_mode_lasttoken", POOLING_LAST},
	    {"pooling_mode_mean_sqrt_len_tokens", POOLING_DEFAULT},
	    {"pooling_mode_weightedmean_tokens", POOLING_DEFAULT},
	};
	int n_set = 0;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (!json_bool(c, modes[i].field, 0))
			continue;
		if (modes[i].mode == POOLING_DEFAULT) {
			s = sy_error_set(err, SY_ERR_UNSUPPORTED,
			                 "%s/config.json: %s is not supported", mdir,
			                 modes[i].field);
			goto out;
		}
		m->pooling = modes[i].mode;
		n_set++;
	}
	if (n_set == 0)
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s/config.json: no pooling_mode_* field is true", mdir);
	else if (n_set > 1)
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s/config.json: %d pooling modes at once (concatenated outputs) are not "
		    "supported",
		    mdir, n_set);
out:
	cJSON_Delete(c);
	free(mdir);
	return s;
}

static enum sy_status load_dense(const char *dir, const char *rel, struct sy_error *err,
                                 struct st_meta *m)
{
	if (m->n_dense == ST_META_MAX_DENSE)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s/modules.json: more than %d Dense modules", dir,
		                    ST_META_MAX_DENSE);
	struct st_dense_meta *d = &m->dense[m->n_dense];
	d->dir = join_rel(dir, rel, NULL);
	if (!d->dir)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->n_dense++;
	cJSON *c;
	enum sy_status s = read_json(d->dir, "config.json", err, &c);
	if (s != SY_OK)
		return s;
	if (!cJSON_IsObject(c)) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s/config.json: %s", d->dir,
		                 c ? "expected a JSON object" : "missing (Dense module)");
		goto out;
	}
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "in_features");
	const cJSON *outf = cJSON_GetObjectItemCaseSensitive(c, "out_features");
	if (!cJSON_IsNumber(in) || !cJSON_IsNumber(outf) || in->valuedouble < 1 ||
	    outf->valuedouble < 1 || in->valuedouble > (1 << 24) || outf->valuedouble > (1 << 24)) {
		s = sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s/config.json: in_features/out_features: expected positive integers", d->dir);
		goto out;
	}
	d->in_features = (int)in->valuedouble;
	d->out_features = (int)outf->valuedouble;
	d->bias = json_bool(c, "bias", 1);
	d->act = GEMM_EPILOGUE_TANH; /* the Dense default */
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "activation_function");
	if (cJSON_IsString(act)) {
		const char *a = class_name(act->valuestring);
		if (!strcmp(a, "Tanh"))
			d->act = GEMM_EPILOGUE_TANH;
		else if (!strcmp(a, "Identity"))
			d->act = GEMM_EPILOGUE_NONE;
		else if (!strcmp(a, "ReLU"))
			d->act = GEMM_EPILOGUE_RELU;
		else if (!strcmp(a, "GELU"))
			d->act = GEMM_EPILOGUE_GELU_ERF;
		else
			s = sy_error_set(err, SY_ERR_UNSUPPORTED,
			                 "%s/config.json: activation_function \"%.60s\" is not "
			                 "supported (Tanh, Identity, ReLU, GELU)",
			                 d->dir, act->valuestring);
	}
out:
	cJSON_Delete(c);
	return s;
}

enum sy_status st_meta_choose_dense(const char *dir, int dims, struct sy_error *err,
                                    struct st_meta *m)
{
	if (dims <= 0)
		return SY_OK;
	struct st_dense_meta *d = m->n_dense ? &m->dense[m->n_dense - 1] : NULL;
	const size_t dl = strlen(dir);
	const char *rel =
	    d && !strncmp(d->dir, dir, dl) && d->dir[dl] == '/' ? d->dir + dl + 1 : NULL;
	const char *base = rel ? strrchr(rel, '/') : NULL;
	base = base ? base + 1 : rel;
	const char *us = base ? strrchr(base, '_') : NULL;
	bool numbered = us && us[1];
	for (const char *c = us ? us + 1 : ""; numbered && *c; c++)
		numbered = *c >= '0' && *c <= '9';
	if (!numbered)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "option dense_dims: %s has no set of N-named Dense heads "
		                    "(2_Dense_N folders)",
		                    dir);
	char want[512];
	snprintf(want, sizeof want, "%.*s_%d", (int)(us - rel), rel, dims);
	char *path = sy_path_join(dir, want);
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct stat sb;
	const bool there = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
	free(path);
	if (!there)
		return sy_error_set(
		    err, SY_ERR_NOT_FOUND,
		    "option dense_dims %d: %s has no folder %s (modules.json names %s)", dims, dir,
		    want, rel);
	free(d->dir);
	memset(d, 0, sizeof *d);
	m->n_dense--;
	return load_dense(dir, want, err, m);
}

static enum sy_status load_modules(const char *dir, const cJSON *mods, struct sy_error *err,
                                   struct st_meta *m)
{
	if (!cJSON_IsArray(mods))
		return sy_error_set(err, SY_ERR_FORMAT, "%s/modules.json: expected an array", dir);
	int i = 0, seen_pool = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, mods)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
		if (!cJSON_IsString(type) || !cJSON_IsString(path))
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s/modules.json: [%d]: expected {\"type\", \"path\"} "
			                    "strings",
			                    dir, i);
		if (!path_is_safe(path->valuestring))
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s/modules.json: [%d]: path \"%.60s\" leaves the model "
			    "directory",
			    dir, i, path->valuestring);
		const char *t = class_name(type->valuestring);
		const char *rel = path->valuestring;
		enum sy_status s = SY_OK;
		if (m->normalize)
			s = sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s/modules.json: [%d]: %s after Normalize is not supported", dir, i,
			    t);
		else if (!strcmp(t, "Transformer")) {
			if (i != 0)
				s = sy_error_set(
				    err, SY_ERR_UNSUPPORTED,
				    "%s/modules.json: [%d]: Transformer must come first", dir, i);
			else if (rel[0])
				s = sy_error_set(err, SY_ERR_UNSUPPORTED,
				                 "%s/modules.json: [0]: Transformer in subfolder "
				                 "\"%.60s\" is not supported",
				                 dir, rel);
		} else if (!strcmp(t, "Pooling")) {
			if (seen_pool++ || m->n_dense)
				s = sy_error_set(err, SY_ERR_UNSUPPORTED,
				                 "%s/modules.json: [%d]: Pooling must come once, "
				                 "before Dense",
				                 dir, i);
			else
				s = load_pooling(dir, rel, err, m);
		} else if (!strcmp(t, "Dense")) {
			if (!seen_pool)
				s = sy_error_set(
				    err, SY_ERR_UNSUPPORTED,
				    "%s/modules.json: [%d]: Dense before Pooling is not "
				    "supported",
				    dir, i);
			else
				s = load_dense(dir, rel, err, m);
		} else if (!strcmp(t, "Normalize")) {
			m->normalize = true;
		} else {
			s = sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s/modules.json: [%d]: module type \"%.80s\" is not supported", dir, i,
			    type->valuestring);
		}
		if (s != SY_OK)
			return s;
		i++;
	}
	return SY_OK;
}

static enum sy_status load_prompts(const char *dir, const cJSON *c, struct sy_error *err,
                                   struct st_meta *m)
{
	if (!cJSON_IsObject(c))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s/config_sentence_transformers.json: expected a JSON object",
		                    dir);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "prompts");
	if (p && !cJSON_IsNull(p)) {
		if (!cJSON_IsObject(p))
			return sy_error_set(
			    err, SY_ERR_FORMAT,
			    "%s/config_sentence_transformers.json: prompts: expected "
			    "an object",
			    dir);
		int n = cJSON_GetArraySize(p);
		m->prompts = calloc(n ? (size_t)n : 1, sizeof *m->prompts);
		if (!m->prompts)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		const cJSON *e;
		cJSON_ArrayForEach(e, p)
		{
			if (!cJSON_IsString(e))
				return sy_error_set(
				    err, SY_ERR_FORMAT,
				    "%s/config_sentence_transformers.json: prompts.%.60s: "
				    "expected a string",
				    dir, e->string);
			struct st_prompt *pr = &m->prompts[m->n_prompts++];
			pr->name = strdup(e->string);
			pr->text = strdup(e->valuestring);
			if (!pr->name || !pr->text)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	}
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "default_prompt_name");
	if (cJSON_IsString(d) && !(m->default_prompt_name = strdup(d->valuestring)))
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const cJSON *sim = cJSON_GetObjectItemCaseSensitive(c, "similarity_fn_name");
	if (cJSON_IsString(sim) && !(m->similarity_fn = strdup(sim->valuestring)))
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return SY_OK;
}

enum sy_status st_meta_load(const char *dir, struct sy_error *err, struct st_meta *out)
{
	memset(out, 0, sizeof *out);
	out->include_prompt = true;
	out->do_lower_case = -1;
	cJSON *mods = NULL, *sbc = NULL, *cst = NULL;
	enum sy_status s = read_json(dir, "modules.json", err, &mods);
	if (s == SY_OK && mods) {
		out->has_modules = true;
		s = load_modules(dir, mods, err, out);
	}
	if (s == SY_OK)
		s = read_json(dir, "sentence_bert_config.json", err, &sbc);
	if (s == SY_OK && sbc) {
		const cJSON *msl = cJSON_GetObjectItemCaseSensitive(sbc, "max_seq_length");
		if (cJSON_IsNumber(msl) && msl->valuedouble >= 1 && msl->valuedouble <= (1 << 24))
			out->max_seq_length = (int)msl->valuedouble;
		else if (msl && !cJSON_IsNull(msl))
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s/sentence_bert_config.json: max_seq_length: expected a "
			                 "positive integer",
			                 dir);
		const cJSON *lc = cJSON_GetObjectItemCaseSensitive(sbc, "do_lower_case");
		if (cJSON_IsBool(lc))
			out->do_lower_case = cJSON_IsTrue(lc);
	}
	if (s == SY_OK)
		s = read_json(dir, "config_sentence_transformers.json", err, &cst);
	if (s == SY_OK && cst)
		s = load_prompts(dir, cst, err, out);
	cJSON_Delete(mods);
	cJSON_Delete(sbc);
	cJSON_Delete(cst);
	if (s != SY_OK)
		st_meta_free(out);
	return s;
}

void st_meta_free(struct st_meta *m)
{
	for (int i = 0; i < m->n_dense; i++)
		free(m->dense[i].dir);
	for (int i = 0; i < m->n_prompts; i++) {
		free(m->prompts[i].name);
		free(m->prompts[i].text);
	}
	free(m->prompts);
	free(m->default_prompt_name);
	free(m->similarity_fn);
	memset(m, 0, sizeof *m);
}

const char *st_meta_prompt(const struct st_meta *m, const char *name)
{
	for (int i = 0; i < m->n_prompts; i++)
		if (!strcmp(m->prompts[i].name, name))
			return m->prompts[i].text;
	return NULL;
}
