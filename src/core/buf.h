/*
 * buf: a growable byte buffer with a consumed-prefix offset, for socket reads and writes.
 *
 * Bytes live in data[off, len). Consuming advances off (no memmove); buf_reserve() compacts
 * or grows. Capacity is bounded by the caller through buf_reserve()'s limit so a peer can
 * never make a buffer grow without bound. A zeroed buf_t is a valid empty buffer.
 */
#ifndef PIXD_CORE_BUF_H
#define PIXD_CORE_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t off, len, cap;
} buf_t;

/* Makes room for at least `want` more bytes after len, never growing cap beyond `limit`.
 * Returns the free space now available (may be < want when the limit is reached),
 * or -1 on allocation failure. */
long buf_reserve(buf_t *b, size_t want, size_t limit);
/* Appends n bytes, growing without limit. 0 or -1 on allocation failure. */
int buf_append(buf_t *b, const void *p, size_t n);
/* Gives back capacity beyond max(keep, the bytes held), moving them to the front. 0, or -1 on
 * allocation failure (the buffer is then unchanged). */
int buf_shrink(buf_t *b, size_t keep);
void buf_free(buf_t *b);

static inline size_t buf_size(const buf_t *b);
static inline char *buf_start(const buf_t *b);
static inline void buf_consume(buf_t *b, size_t n);
static inline void buf_reset(buf_t *b);

/* inline definitions */

static inline size_t buf_size(const buf_t *b)
{
    return b->len - b->off;
}

static inline char *buf_start(const buf_t *b)
{
    return b->data + b->off;
}

static inline void buf_consume(buf_t *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

static inline void buf_reset(buf_t *b)
{
    b->off = b->len = 0;
}

#endif
