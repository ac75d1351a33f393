/* Restricted unpickler for PyTorch state dicts; see torch_pickle.h. The interpreter keeps every
 * value in one flat array and the stack holds indices into it, so nothing recurses (a deeply
 * nested pickle is only a long array) and every limit is a simple counter. */
#include "model/formats/torch_pickle.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum pv_kind {
	PV_NONE,
	PV_BOOL,
	PV_INT,
	PV_STR,
	PV_TUPLE,
	PV_DICT,
	PV_GLOBAL,
	PV_STORAGE,
	PV_TENSOR,
};

/* The globals the allow-list resolves. */
enum pv_global {
	G_ORDERED_DICT,
	G_REBUILD_TENSOR_V2,
	G_REBUILD_PARAMETER,
	G_STORAGE, /* a typed storage class; the dtype is in pv.dtype */
};

struct pv {
	enum pv_kind kind;
	enum pv_global glob;
	enum st_dtype dtype;
	int64_t i; /* INT/BOOL value; STORAGE numel; TENSOR index into tensors */
	const char *s; /* STR bytes (into the pickle); STORAGE key */
	size_t n;
	int32_t *items; /* TUPLE items; DICT key/value pairs flattened */
	uint32_t n_items, cap;
};

struct up {
	const unsigned char *start, *p, *end;
	struct sy_error *err;
	struct pv *vals;
	int n_vals, cap_vals;
	int32_t stack[TP_MAX_STACK];
	int sp;
	int marks[TP_MAX_MARKS];
	int n_marks;
	int32_t *memo;
	int memo_cap;
	int memo_len; /* entries stored: MEMOIZE's next index */
	struct tp_tensor *tensors;
	int n_tensors, cap_tensors;
};

static enum sy_status fmt_err(struct up *u, const char *what, unsigned op)
{
	return sy_error_set(u->err, SY_ERR_FORMAT, "pickle: %s (opcode 0x%02x at byte %td)", what,
	                    op, u->p - 1 - u->start);
}

static int new_val(struct up *u, enum pv_kind kind)
{
	if (u->n_vals >= TP_MAX_VALUES) {
		sy_error_set(u->err, SY_ERR_LIMIT, "pickle: more than %d values", TP_MAX_VALUES);
		return -1;
	}
	if (u->n_vals == u->cap_vals) {
		int cap = u->cap_vals ? u->cap_vals * 2 : 256;
		struct pv *v = realloc(u->vals, (size_t)cap * sizeof *v);
		if (!v) {
			sy_error_set(u->err, SY_ERR_NOMEM, "out of memory");
			return -1;
		}
		u->vals = v;
		u->cap_vals = cap;
	}
	struct pv *v = &u->vals[u->n_vals];
	memset(v, 0, sizeof *v);
	v->kind = kind;
	return u->n_vals++;
}

static bool push(struct up *u, int idx)
{
	if (idx < 0)
		return false;
	if (u->sp >= TP_MAX_STACK) {
		sy_error_set(u->err, SY_ERR_LIMIT, "pickle: stack deeper than %d", TP_MAX_STACK);
		return false;
	}
	u->stack[u->sp++] = idx;
	return true;
}

static bool add_item(struct up *u, struct pv *v, int32_t item)
{
	if (v->n_items == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 8;
		if (cap > TP_MAX_VALUES * 2u) {
			sy_error_set(u->err, SY_ERR_LIMIT, "pickle: container too large");
			return false;
		}
		int32_t *it = realloc(v->items, cap * sizeof *it);
		if (!it) {
			sy_error_set(u->err, SY_ERR_NOMEM, "out of memory");
			return false;
		}
		v->items = it;
		v->cap = cap;
	}
	v->items[v->n_items++] = item;
	return true;
}

static bool need(struct up *u, size_t n)
{
	if ((size_t)(u->end - u->p) < n) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: truncated (needs %zu more bytes)", n);
		return false;
	}
	return true;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool str_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Resolves module.name against the allow-list; anything else is refused by name. */
static int resolve_global(struct up *u, const char *mod, size_t ml, const char *name, size_t nl)
{
	static const struct {
		const char *name;
		enum st_dtype dtype;
	} storages[] = {
	    {"FloatStorage", ST_DTYPE_F32},     {"HalfStorage", ST_DTYPE_F16},
	    {"BFloat16Storage", ST_DTYPE_BF16}, {"DoubleStorage", ST_DTYPE_F64},
	    {"LongStorage", ST_DTYPE_I64},      {"IntStorage", ST_DTYPE_I32},
	};
	int g = -1;
	enum st_dtype dt = ST_DTYPE_F32;
	if (str_is(mod, ml, "collections") && str_is(name, nl, "OrderedDict"))
		g = G_ORDERED_DICT;
	else if (str_is(mod, ml, "torch._utils") && str_is(name, nl, "_rebuild_tensor_v2"))
		g = G_REBUILD_TENSOR_V2;
	else if (str_is(mod, ml, "torch._utils") && str_is(name, nl, "_rebuild_parameter"))
		g = G_REBUILD_PARAMETER;
	else if (str_is(mod, ml, "torch"))
		for (size_t i = 0; i < sizeof storages / sizeof storages[0]; i++)
			if (str_is(name, nl, storages[i].name)) {
				g = G_STORAGE;
				dt = storages[i].dtype;
			}
	if (g < 0) {
		sy_error_set(u->err, SY_ERR_UNSUPPORTED,
		             "pickle: global %.*s.%.*s is not allowed (only state dicts of tensors "
		             "are read; nothing is executed)",
		             (int)(ml > 100 ? 100 : ml), mod, (int)(nl > 100 ? 100 : nl), name);
		return -1;
	}
	int v = new_val(u, PV_GLOBAL);
	if (v >= 0) {
		u->vals[v].glob = (enum pv_global)g;
		u->vals[v].dtype = dt;
	}
	return v;
}

/* Reads a tuple of non-negative ints (a size or stride) into dst. */
static bool int_tuple(struct up *u, int idx, const char *what, int64_t *dst, int *n)
{
	const struct pv *t = &u->vals[idx];
	if (t->kind != PV_TUPLE || t->n_items > ST_MAX_DIMS) {
		sy_error_set(u->err, SY_ERR_FORMAT,
		             "pickle: tensor %s is not a tuple of at most %d ints", what,
		             ST_MAX_DIMS);
		return false;
	}
	for (uint32_t i = 0; i < t->n_items; i++) {
		const struct pv *e = &u->vals[t->items[i]];
		if (e->kind != PV_INT || e->i < 0) {
			sy_error_set(u->err, SY_ERR_FORMAT,
			             "pickle: tensor %s holds a non-integer or "
			             "negative entry",
			             what);
			return false;
		}
		dst[i] = e->i;
	}
	*n = (int)t->n_items;
	return true;
}

static int rebuild_tensor(struct up *u, const struct pv *args)
{
	if (args->n_items != 6 && args->n_items != 7) {
		sy_error_set(u->err, SY_ERR_FORMAT,
		             "pickle: _rebuild_tensor_v2 takes 6 or 7 arguments, "
		             "got %u",
		             args->n_items);
		return -1;
	}
	const struct pv *st = &u->vals[args->items[0]];
	const struct pv *off = &u->vals[args->items[1]];
	if (st->kind != PV_STORAGE || off->kind != PV_INT || off->i < 0) {
		sy_error_set(
		    u->err, SY_ERR_FORMAT,
		    "pickle: _rebuild_tensor_v2 needs a storage and a non-negative offset");
		return -1;
	}
	if (u->n_tensors >= TP_MAX_TENSORS) {
		sy_error_set(u->err, SY_ERR_LIMIT, "pickle: more than %d tensors", TP_MAX_TENSORS);
		return -1;
	}
	if (u->n_tensors == u->cap_tensors) {
		int cap = u->cap_tensors ? u->cap_tensors * 2 : 64;
		struct tp_tensor *t = realloc(u->tensors, (size_t)cap * sizeof *t);
		if (!t) {
			sy_error_set(u->err, SY_ERR_NOMEM, "out of memory");
			return -1;
		}
		u->tensors = t;
		u->cap_tensors = cap;
	}
	struct tp_tensor *t = &u->tensors[u->n_tensors];
	memset(t, 0, sizeof *t);
	int ns = 0, nd = 0;
	if (!int_tuple(u, args->items[2], "size", t->shape, &ns) ||
	    !int_tuple(u, args->items[3], "stride", t->stride, &nd))
		return -1;
	if (ns != nd) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: tensor size has %d dims, stride %d",
		             ns, nd);
		return -1;
	}
	t->n_dims = ns;
	t->dtype = st->dtype;
	t->key = st->s;
	t->key_len = st->n;
	t->storage_numel = st->i;
	t->offset = off->i;
	int v = new_val(u, PV_TENSOR);
	if (v >= 0)
		u->vals[v].i = u->n_tensors++;
	return v;
}

/* REDUCE: calls one of the allowed callables on an argument tuple, as data. */
static int reduce(struct up *u, int fn_idx, int args_idx)
{
	const struct pv *fn = &u->vals[fn_idx];
	const struct pv *args = &u->vals[args_idx];
	if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE) {
		sy_error_set(u->err, SY_ERR_UNSUPPORTED,
		             "pickle: REDUCE on something other than an allowed global");
		return -1;
	}
	switch (fn->glob) {
	case G_ORDERED_DICT:
		if (args->n_items != 0) {
			sy_error_set(u->err, SY_ERR_UNSUPPORTED,
			             "pickle: OrderedDict is only built empty");
			return -1;
		}
		return new_val(u, PV_DICT);
	case G_REBUILD_TENSOR_V2: return rebuild_tensor(u, args);
	case G_REBUILD_PARAMETER:
		if (args->n_items < 1 || u->vals[args->items[0]].kind != PV_TENSOR) {
			sy_error_set(u->err, SY_ERR_FORMAT,
			             "pickle: _rebuild_parameter needs a tensor as first argument");
			return -1;
		}
		return args->items[0];
	case G_STORAGE: break;
	}
	sy_error_set(u->err, SY_ERR_UNSUPPORTED, "pickle: a storage class cannot be called");
	return -1;
}

/* BINPERSID: ('storage', storage_class, key, location, numel). */
static int persistent_load(struct up *u, int pid_idx)
{
	const struct pv *t = &u->vals[pid_idx];
	if (t->kind != PV_TUPLE || t->n_items != 5) {
		sy_error_set(
		    u->err, SY_ERR_UNSUPPORTED,
		    "pickle: persistent id is not a ('storage', type, key, location, numel) "
		    "tuple");
		return -1;
	}
	const struct pv *tag = &u->vals[t->items[0]], *cls = &u->vals[t->items[1]];
	const struct pv *key = &u->vals[t->items[2]], *numel = &u->vals[t->items[4]];
	if (tag->kind != PV_STR || !str_is(tag->s, tag->n, "storage") || cls->kind != PV_GLOBAL ||
	    cls->glob != G_STORAGE || key->kind != PV_STR || numel->kind != PV_INT ||
	    numel->i < 0) {
		sy_error_set(
		    u->err, SY_ERR_UNSUPPORTED,
		    "pickle: persistent id is not a ('storage', type, key, location, numel) "
		    "tuple");
		return -1;
	}
	for (size_t i = 0; i < key->n; i++) {
		char c = key->s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == '-' || c == '.') ||
		    (c == '.' && i == 0)) {
			sy_error_set(u->err, SY_ERR_FORMAT,
			             "pickle: storage key has a bad character");
			return -1;
		}
	}
	if (key->n == 0 || key->n > 64) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: storage key of bad length %zu",
		             key->n);
		return -1;
	}
	/* new_val may move u->vals: take the indices first (t points into it). */
	const int cls_i = t->items[1], key_i = t->items[2], numel_i = t->items[4];
	int v = new_val(u, PV_STORAGE);
	if (v >= 0) {
		struct pv *s = &u->vals[v];
		const struct pv *k = &u->vals[key_i];
		s->dtype = u->vals[cls_i].dtype;
		s->s = k->s;
		s->n = k->n;
		s->i = u->vals[numel_i].i;
	}
	return v;
}

static bool memo_put(struct up *u, uint64_t id)
{
	if (u->sp == 0) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: memo store with an empty stack");
		return false;
	}
	if (id >= TP_MAX_MEMO) {
		sy_error_set(u->err, SY_ERR_LIMIT, "pickle: memo index %llu over the limit %d",
		             (unsigned long long)id, TP_MAX_MEMO);
		return false;
	}
	if ((int)id >= u->memo_cap) {
		int cap = u->memo_cap ? u->memo_cap : 64;
		while (cap <= (int)id)
			cap *= 2;
		int32_t *m = realloc(u->memo, (size_t)cap * sizeof *m);
		if (!m) {
			sy_error_set(u->err, SY_ERR_NOMEM, "out of memory");
			return false;
		}
		for (int i = u->memo_cap; i < cap; i++)
			m[i] = -1;
		u->memo = m;
		u->memo_cap = cap;
	}
	if (u->memo[id] < 0)
		u->memo_len++;
	u->memo[id] = u->stack[u->sp - 1];
	return true;
}

static bool memo_get(struct up *u, uint64_t id)
{
	if (id >= (uint64_t)u->memo_cap || u->memo[id] < 0) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: memo index %llu was never stored",
		             (unsigned long long)id);
		return false;
	}
	return push(u, u->memo[id]);
}

/* Pops the items above the last MARK; *base is the first one's stack position. */
static bool pop_mark(struct up *u, int *base)
{
	if (u->n_marks == 0) {
		sy_error_set(u->err, SY_ERR_FORMAT, "pickle: no MARK on the stack");
		return false;
	}
	*base = u->marks[--u->n_marks];
	return true;
}

static int make_tuple(struct up *u, int base)
{
	int v = new_val(u, PV_TUPLE);
	if (v < 0)
		return -1;
	for (int i = base; i < u->sp; i++)
		if (!add_item(u, &u->vals[v], u->stack[i]))
			return -1;
	u->sp = base;
	return v;
}

static bool set_items(struct up *u, int dict_pos, int from)
{
	if (dict_pos < 0 || u->vals[u->stack[dict_pos]].kind != PV_DICT || (u->sp - from) % 2) {
		sy_error_set(u->err, SY_ERR_FORMAT,
		             "pickle: SETITEM(S) without a dict and key/value "
		             "pairs");
		return false;
	}
	struct pv *d = &u->vals[u->stack[dict_pos]];
	for (int i = from; i < u->sp; i++)
		if (!add_item(u, d, u->stack[i]))
			return false;
	u->sp = from;
	return true;
}

static enum sy_status run(struct up *u, int *result)
{
	while (u->p < u->end) {
		unsigned op = *u->p++;
		int v, base;
		uint64_t n;
		switch (op) {
		case 0x80: /* PROTO */
			if (!need(u, 1))
				return u->err->status;
			if (*u->p > 5)
				return fmt_err(u, "unknown protocol", op);
			u->p++;
			break;
		case 0x95: /* FRAME: the length is advisory */
			if (!need(u, 8))
				return u->err->status;
			u->p += 8;
			break;
		case '}': /* EMPTY_DICT */
			if (!push(u, new_val(u, PV_DICT)))
				return u->err->status;
			break;
		case ')': /* EMPTY_TUPLE */
			if (!push(u, new_val(u, PV_TUPLE)))
				return u->err->status;
			break;
		case 0x85: /* TUPLE1..3 */
		case 0x86:
		case 0x87: {
			int k = (int)(op - 0x84);
			if (u->sp < k)
				return fmt_err(u, "stack underflow", op);
			if (u->n_marks && u->marks[u->n_marks - 1] > u->sp - k)
				return fmt_err(u, "tuple reaches below a MARK", op);
			v = make_tuple(u, u->sp - k);
			if (!push(u, v))
				return u->err->status;
			break;
		}
		case 't': /* TUPLE */
			if (!pop_mark(u, &base))
				return u->err->status;
			v = make_tuple(u, base);
			if (!push(u, v))
				return u->err->status;
			break;
		case '(': /* MARK */
			if (u->n_marks >= TP_MAX_MARKS)
				return sy_error_set(u->err, SY_ERR_LIMIT,
				                    "pickle: more than %d nested MARKs",
				                    TP_MAX_MARKS);
			u->marks[u->n_marks++] = u->sp;
			break;
		case 'q': /* BINPUT */
			if (!need(u, 1) || !memo_put(u, *u->p++))
				return u->err->status;
			break;
		case 'r': /* LONG_BINPUT */
			if (!need(u, 4))
				return u->err->status;
			n = rd_le(u->p, 4);
			u->p += 4;
			if (!memo_put(u, n))
				return u->err->status;
			break;
		case 0x94: /* MEMOIZE */
			if (!memo_put(u, (uint64_t)u->memo_len))
				return u->err->status;
			break;
		case 'h': /* BINGET */
			if (!need(u, 1) || !memo_get(u, *u->p++))
				return u->err->status;
			break;
		case 'j': /* LONG_BINGET */
			if (!need(u, 4))
				return u->err->status;
			n = rd_le(u->p, 4);
			u->p += 4;
			if (!memo_get(u, n))
				return u->err->status;
			break;
		case 's': /* SETITEM */
			if (u->sp < 3 || (u->n_marks && u->marks[u->n_marks - 1] > u->sp - 3))
				return fmt_err(u, "stack underflow", op);
			if (!set_items(u, u->sp - 3, u->sp - 2))
				return u->err->status;
			break;
		case 'u': /* SETITEMS */
			if (!pop_mark(u, &base) || !set_items(u, base - 1, base))
				return u->err->status;
			break;
		case 'J': /* BININT */
		case 'K': /* BININT1 */
		case 'M': /* BININT2 */ {
			int w = op == 'J' ? 4 : op == 'K' ? 1 : 2;
			if (!need(u, (size_t)w))
				return u->err->status;
			int64_t x = (int64_t)rd_le(u->p, w);
			if (w == 4)
				x = (int32_t)(uint32_t)x;
			u->p += w;
			v = new_val(u, PV_INT);
			if (v < 0)
				return u->err->status;
			u->vals[v].i = x;
			if (!push(u, v))
				return u->err->status;
			break;
		}
		case 0x8a: /* LONG1: little-endian two's complement, at most 8 bytes here */ {
			if (!need(u, 1))
				return u->err->status;
			int w = *u->p++;
			if (w > 8)
				return sy_error_set(u->err, SY_ERR_LIMIT,
				                    "pickle: integer of %d bytes", w);
			if (!need(u, (size_t)w))
				return u->err->status;
			uint64_t x = w ? rd_le(u->p, w) : 0;
			if (w > 0 && w < 8 && (u->p[w - 1] & 0x80))
				x |= ~(uint64_t)0 << (8 * w);
			u->p += w;
			v = new_val(u, PV_INT);
			if (v < 0)
				return u->err->status;
			u->vals[v].i = (int64_t)x;
			if (!push(u, v))
				return u->err->status;
			break;
		}
		case 'X': /* BINUNICODE */
		case 0x8d: /* BINUNICODE8 */
		case 0x8c: /* SHORT_BINUNICODE */ {
			int w = op == 'X' ? 4 : op == 0x8d ? 8 : 1;
			if (!need(u, (size_t)w))
				return u->err->status;
			n = rd_le(u->p, w);
			u->p += w;
			if (n > TP_MAX_STRING)
				return sy_error_set(u->err, SY_ERR_LIMIT,
				                    "pickle: string of %llu bytes (limit %d)",
				                    (unsigned long long)n, TP_MAX_STRING);
			if (!need(u, (size_t)n))
				return u->err->status;
			v = new_val(u, PV_STR);
			if (v < 0)
				return u->err->status;
			u->vals[v].s = (const char *)u->p;
			u->vals[v].n = (size_t)n;
			u->p += n;
			if (!push(u, v))
				return u->err->status;
			break;
		}
		case 0x89: /* NEWFALSE */
		case 0x88: /* NEWTRUE */
			v = new_val(u, PV_BOOL);
			if (v < 0)
				return u->err->status;
			u->vals[v].i = op == 0x88;
			if (!push(u, v))
				return u->err->status;
			break;
		case 'N': /* NONE */
			if (!push(u, new_val(u, PV_NONE)))
				return u->err->status;
			break;
		case 'c': /* GLOBAL: "module\nname\n" */ {
			const unsigned char *m = u->p;
			const unsigned char *nl1 = memchr(m, '\n', (size_t)(u->end - m));
			if (!nl1 || nl1 - m > 256)
				return fmt_err(u, "GLOBAL module name unterminated or too long",
				               op);
			const unsigned char *nm = nl1 + 1;
			const unsigned char *nl2 = memchr(nm, '\n', (size_t)(u->end - nm));
			if (!nl2 || nl2 - nm > 256)
				return fmt_err(u, "GLOBAL name unterminated or too long", op);
			u->p = nl2 + 1;
			if (!push(u, resolve_global(u, (const char *)m, (size_t)(nl1 - m),
			                            (const char *)nm, (size_t)(nl2 - nm))))
				return u->err->status;
			break;
		}
		case 0x93: /* STACK_GLOBAL */ {
			if (u->sp < 2)
				return fmt_err(u, "stack underflow", op);
			const struct pv *m = &u->vals[u->stack[u->sp - 2]];
			const struct pv *nm = &u->vals[u->stack[u->sp - 1]];
			if (m->kind != PV_STR || nm->kind != PV_STR)
				return fmt_err(u, "STACK_GLOBAL needs two strings", op);
			u->sp -= 2;
			if (!push(u, resolve_global(u, m->s, m->n, nm->s, nm->n)))
				return u->err->status;
			break;
		}
		case 'Q': /* BINPERSID */
			if (u->sp < 1)
				return fmt_err(u, "stack underflow", op);
			v = persistent_load(u, u->stack[u->sp - 1]);
			u->sp--;
			if (!push(u, v))
				return u->err->status;
			break;
		case 'R': /* REDUCE */
			if (u->sp < 2 || (u->n_marks && u->marks[u->n_marks - 1] > u->sp - 2))
				return fmt_err(u, "stack underflow", op);
			v = reduce(u, u->stack[u->sp - 2], u->stack[u->sp - 1]);
			u->sp -= 2;
			if (!push(u, v))
				return u->err->status;
			break;
		case 'b': /* BUILD: only an OrderedDict's attributes (e.g. _metadata), which we drop */
			if (u->sp < 2 || (u->n_marks && u->marks[u->n_marks - 1] > u->sp - 2))
				return fmt_err(u, "stack underflow", op);
			if (u->vals[u->stack[u->sp - 2]].kind != PV_DICT)
				return sy_error_set(u->err, SY_ERR_UNSUPPORTED,
				                    "pickle: BUILD is only accepted on a dict");
			u->sp--;
			break;
		case '.': /* STOP */
			if (u->sp != 1 || u->n_marks)
				return fmt_err(u, "STOP with a stack that is not one value", op);
			*result = u->stack[0];
			return SY_OK;
		default:
			return sy_error_set(
			    u->err, SY_ERR_UNSUPPORTED,
			    "pickle: opcode 0x%02x ('%c') is not allowed in a state dict "
			    "(only tensors are read; nothing is executed)",
			    op, op >= 0x20 && op < 0x7f ? (int)op : '?');
		}
	}
	return sy_error_set(u->err, SY_ERR_FORMAT, "pickle: ends without STOP");
}

enum sy_status torch_pickle_parse(const unsigned char *data, size_t len, struct sy_error *err,
                                  struct tp_tensor **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	struct up *u = calloc(1, sizeof *u);
	if (!u)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	u->start = u->p = data;
	u->end = data + len;
	u->err = err;
	int result = -1;
	enum sy_status s = run(u, &result);
	struct tp_tensor *tensors = NULL;
	int n = 0;
	if (s == SY_OK && u->vals[result].kind != PV_DICT)
		s = sy_error_set(err, SY_ERR_FORMAT, "pickle: the checkpoint is not a state dict");
	if (s == SY_OK) {
		const struct pv *d = &u->vals[result];
		tensors = malloc((d->n_items / 2 + 1) * sizeof *tensors);
		if (!tensors)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		for (uint32_t i = 0; s == SY_OK && i + 1 < d->n_items; i += 2) {
			const struct pv *k = &u->vals[d->items[i]], *t = &u->vals[d->items[i + 1]];
			if (k->kind != PV_STR)
				s = sy_error_set(err, SY_ERR_FORMAT,
				                 "pickle: state dict key %u is not a "
				                 "string",
				                 i / 2);
			else if (t->kind != PV_TENSOR)
				s = sy_error_set(err, SY_ERR_UNSUPPORTED,
				                 "pickle: state dict entry %.*s is not a tensor",
				                 (int)(k->n > 200 ? 200 : k->n), k->s);
			else {
				tensors[n] = u->tensors[t->i];
				tensors[n].name = k->s;
				tensors[n].name_len = k->n;
				n++;
			}
		}
	}
	for (int i = 0; i < u->n_vals; i++)
		free(u->vals[i].items);
	free(u->vals);
	free(u->memo);
	free(u->tensors);
	free(u);
	if (s != SY_OK) {
		free(tensors);
		return s;
	}
	*out = tensors;
	*n_out = n;
	return SY_OK;
}
