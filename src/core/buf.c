#include "core/buf.h"

#include <stdlib.h>

long buf_reserve(buf_t *b, size_t want, size_t limit)
{
    if (b->cap - b->len >= want)
        return (long)(b->cap - b->len);
    /* Slide the unconsumed bytes to the front before growing: pipelined requests and
     * partial heads leave a consumed prefix that is free space. */
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= want)
            return (long)(b->cap - b->len);
    }
    if (b->cap >= limit)
        return (long)(b->cap - b->len);
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < want && cap < limit)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return (long)(b->cap - b->len);
}

int buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n, (size_t)-1) < (long)n)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_shrink(buf_t *b, size_t keep)
{
    size_t n = b->len - b->off;
    size_t cap = n > keep ? n : keep;
    if (b->cap <= cap)
        return 0;
    memmove(b->data, b->data + b->off, n);
    b->off = 0;
    b->len = n;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_free(buf_t *b)
{
    free(b->data);
    *b = (buf_t){0};
}

void buf_pool_give(buf_pool_t *p, buf_t *b)
{
    if (b->cap == p->size && p->n < BUF_POOL_SLOTS) {
        p->slots[p->n++] = b->data;
        *b = (buf_t){0};
    } else {
        buf_free(b);
    }
}

void buf_pool_free(buf_pool_t *p)
{
    while (p->n)
        free(p->slots[--p->n]);
}
