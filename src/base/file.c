/* File helpers: whole reads for small text files (JSON, vocabularies), mmap for weights so that
 * several models share the page cache and load without copying. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path for reading only when it is a regular file. A FIFO or a device named like a model
 * file would block the read for ever (a load that never ends holds up its requests and
 * shutdown), so it is refused; O_NONBLOCK keeps even the open of a FIFO from waiting. */
static int open_regular(const char *path, struct sy_error *err, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		sy_error_set(err, SY_ERR_IO, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		sy_error_set(err, SY_ERR_IO, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

enum sy_status sy_file_read(const char *path, struct sy_error *err, char **out, size_t *len)
{
	*out = NULL;
	if (len)
		*len = 0;
	struct stat st;
	int fd = open_regular(path, err, &st);
	if (fd < 0)
		return SY_ERR_IO;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return sy_error_set(err, SY_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory reading %s", path);
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory reading %s",
				                    path);
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return sy_error_set(err, SY_ERR_IO, "error reading %s", path);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return SY_OK;
}

enum sy_status sy_mmap_open(const char *path, struct sy_error *err, struct sy_mmap *out)
{
	out->data = NULL;
	out->len = 0;
	struct stat st;
	int fd = open_regular(path, err, &st);
	if (fd < 0)
		return SY_ERR_IO;
	if (st.st_size == 0) {
		close(fd);
		return SY_OK;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return sy_error_set(err, SY_ERR_IO, "cannot mmap %s: %s", path, strerror(errno));
	out->data = p;
	out->len = (size_t)st.st_size;
	return SY_OK;
}

void sy_mmap_close(struct sy_mmap *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	m->data = NULL;
	m->len = 0;
}

void sy_mmap_release(const struct sy_mmap *m, const void *p, size_t n)
{
	const unsigned char *b = p;
	if (!m->data || b < m->data || n > m->len || (size_t)(b - m->data) > m->len - n)
		return;
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	const uintptr_t lo = ((uintptr_t)b + page - 1) & ~(page - 1);
	const uintptr_t hi = ((uintptr_t)b + n) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice: a failure changes nothing */
}

bool sy_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

bool sy_path_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *sy_path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	while (a > 1 && dir[a - 1] == '/')
		a--;
	char *p = malloc(a + 1 + b + 1);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}
