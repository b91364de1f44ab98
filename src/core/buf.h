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

/* Spare buffers of one size for one thread, so that a connection can hold a read buffer only
 * while it reads (an idle one costs none) without a malloc and free per request: take one
 * before reading into an empty buffer, give it back when the buffer is empty again. Holds at
 * most BUF_POOL_SLOTS buffers; a zeroed pool with `size` set is ready. Not thread-safe. */
#define BUF_POOL_SLOTS 128
typedef struct {
    size_t size;
    unsigned n;
    char *slots[BUF_POOL_SLOTS];
} buf_pool_t;

/* Gives b, which must have no memory, a buffer of p->size from the pool when it has one (else
 * b stays without, and buf_reserve allocates). */
static inline void buf_pool_take(buf_pool_t *p, buf_t *b);
/* Takes the memory of b, which must hold no byte: into the pool when it is a buffer of p->size
 * and there is room, else freed. b is left with no memory. */
void buf_pool_give(buf_pool_t *p, buf_t *b);
/* Frees the spare buffers. */
void buf_pool_free(buf_pool_t *p);

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

static inline void buf_pool_take(buf_pool_t *p, buf_t *b)
{
    if (p->n)
        *b = (buf_t){.data = p->slots[--p->n], .cap = p->size};
}

#endif
