/* Open-addressing hash map with linear probing; load factor kept under 1/2. Keys live in large
 * append-only blocks so a 250k-entry vocabulary costs a handful of allocations. */
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (1u << 20)

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

void sy_strmap_init(struct sy_strmap *m)
{
	memset(m, 0, sizeof *m);
}

void sy_strmap_free(struct sy_strmap *m)
{
	for (size_t i = 0; i < m->n_blocks; i++)
		free(m->blocks[i]);
	free(m->blocks);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

size_t sy_strmap_bytes(const struct sy_strmap *m)
{
	return m->cap * sizeof *m->slots + m->block_bytes + m->n_blocks * sizeof *m->blocks;
}

static const char *store_key(struct sy_strmap *m, const char *key, size_t len)
{
	if (len + 1 > m->block_left) {
		size_t sz = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;
		char *b = malloc(sz);
		char **nb = realloc(m->blocks, (m->n_blocks + 1) * sizeof *nb);
		if (!b || !nb) {
			free(b);
			if (nb)
				m->blocks = nb;
			return NULL;
		}
		m->blocks = nb;
		m->blocks[m->n_blocks++] = b;
		m->block_bytes += sz;
		m->block_cur = b;
		m->block_left = sz;
	}
	char *k = m->block_cur;
	memcpy(k, key, len);
	k[len] = '\0';
	m->block_cur += len + 1;
	m->block_left -= len + 1;
	return k;
}

static int grow(struct sy_strmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct sy_strmap_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct sy_strmap_slot *s = &m->slots[i];
		if (!s->key)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int sy_strmap_put(struct sy_strmap *m, const char *key, size_t len, int32_t value)
{
	if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	uint32_t h = hash_bytes(key, len);
	size_t j = h & (m->cap - 1);
	while (m->slots[j].key) {
		struct sy_strmap_slot *s = &m->slots[j];
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
			s->value = value;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	const char *k = store_key(m, key, len);
	if (!k)
		return -1;
	m->slots[j] =
	    (struct sy_strmap_slot){.key = k, .len = (uint32_t)len, .hash = h, .value = value};
	m->n++;
	return 0;
}

int32_t sy_strmap_get(const struct sy_strmap *m, const char *key, size_t len)
{
	if (!m->cap)
		return -1;
	uint32_t h = hash_bytes(key, len);
	size_t j = h & (m->cap - 1);
	while (m->slots[j].key) {
		const struct sy_strmap_slot *s = &m->slots[j];
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s->value;
		j = (j + 1) & (m->cap - 1);
	}
	return -1;
}
