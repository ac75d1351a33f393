/* A string -> int32 hash map (open addressing, FNV-1a), for vocabularies and merge tables.
 * Keys are byte strings with explicit lengths (they may contain NUL); the map copies them. */
#ifndef SY_BASE_STRMAP_H
#define SY_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct sy_strmap_slot {
	const char *key; /* NULL when empty; points into the map's own storage */
	uint32_t len;
	uint32_t hash;
	int32_t value;
};

struct sy_strmap {
	struct sy_strmap_slot *slots;
	size_t cap; /* power of two */
	size_t n;
	char **blocks; /* key storage */
	size_t n_blocks;
	char *block_cur;
	size_t block_left;
	size_t block_bytes; /* key storage allocated */
};

void sy_strmap_init(struct sy_strmap *m);
void sy_strmap_free(struct sy_strmap *m);
/* Inserts or overwrites. Returns 0, or -1 on allocation failure. */
int sy_strmap_put(struct sy_strmap *m, const char *key, size_t len, int32_t value);
/* Bytes the map holds (slots and key storage), for memory accounting. */
size_t sy_strmap_bytes(const struct sy_strmap *m);
/* Returns the value, or -1 when absent (so values should be >= 0). */
int32_t sy_strmap_get(const struct sy_strmap *m, const char *key, size_t len);

#endif
