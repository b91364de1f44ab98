#include "load/series.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void series_init(series_t *s)
{
    memset(s, 0, sizeof *s);
}

void series_free(series_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->p[i].buckets);
    free(s->p);
    memset(s, 0, sizeof *s);
}

static series_point_t *push(series_t *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        series_point_t *p = realloc(s->p, cap * sizeof *p);
        if (!p) return NULL;
        s->p = p;
        s->cap = cap;
    }
    series_point_t *p = &s->p[s->n];
    memset(p, 0, sizeof *p);
    return p;
}

/* The buckets of now - prev (non-empty ones), newly allocated into *out. */
static int window_buckets(const hist_t *now, const hist_t *prev, series_bucket_t **out, size_t *n)
{
    size_t k = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        k += now->buckets[i] != prev->buckets[i];
    *out = NULL;
    *n = 0;
    if (!k) return 0;
    series_bucket_t *b = malloc(k * sizeof *b);
    if (!b) return -1;
    k = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (now->buckets[i] != prev->buckets[i])
            b[k++] = (series_bucket_t){i, now->buckets[i] - prev->buckets[i]};
    *out = b;
    *n = k;
    return 0;
}

int series_add_window(series_t *s, double t, double dt, const stats_entry_t *now, const stats_entry_t *prev,
                      unsigned users, double target)
{
    series_bucket_t *b;
    size_t nb;
    if (window_buckets(&now->latency, &prev->latency, &b, &nb) < 0) return -1;
    series_point_t *p = push(s);
    if (!p) {
        free(b);
        return -1;
    }
    *p = (series_point_t){.t = t,
                          .dt = dt,
                          .requests = now->requests - prev->requests,
                          .failures = now->failures - prev->failures,
                          .content_bytes = now->content_bytes - prev->content_bytes,
                          .users = users,
                          .target = target,
                          .buckets = b,
                          .nbuckets = nb};
    s->n++;
    return 0;
}

int series_append(series_t *s, const series_point_t *src)
{
    series_bucket_t *b = NULL;
    if (src->nbuckets) {
        if (!(b = malloc(src->nbuckets * sizeof *b))) return -1;
        memcpy(b, src->buckets, src->nbuckets * sizeof *b);
    }
    series_point_t *p = push(s);
    if (!p) {
        free(b);
        return -1;
    }
    *p = *src;
    p->buckets = b;
    s->n++;
    return 0;
}

/* dst's buckets += the given ones (both sorted by index). */
static int add_buckets(series_point_t *dst, const series_bucket_t *b, size_t nb)
{
    if (!nb) return 0;
    series_bucket_t *out = malloc((dst->nbuckets + nb) * sizeof *out);
    if (!out) return -1;
    size_t i = 0, j = 0, k = 0;
    while (i < dst->nbuckets || j < nb) {
        if (j == nb || (i < dst->nbuckets && dst->buckets[i].index < b[j].index)) {
            out[k++] = dst->buckets[i++];
        } else if (i == dst->nbuckets || b[j].index < dst->buckets[i].index) {
            out[k++] = b[j++];
        } else {
            out[k] = dst->buckets[i++];
            out[k++].count += b[j++].count;
        }
    }
    free(dst->buckets);
    dst->buckets = out;
    dst->nbuckets = k;
    return 0;
}

int series_extend_last(series_t *s, double t, double dt, const stats_entry_t *now, const stats_entry_t *prev,
                       unsigned users, double target)
{
    if (!s->n) return series_add_window(s, t, dt, now, prev, users, target);
    series_point_t *last = &s->p[s->n - 1];
    series_bucket_t *b;
    size_t nb;
    if (window_buckets(&now->latency, &prev->latency, &b, &nb) < 0) return -1;
    int rc = add_buckets(last, b, nb);
    free(b);
    if (rc < 0) return -1;
    last->dt += dt;
    last->t = t;
    last->requests += now->requests - prev->requests;
    last->failures += now->failures - prev->failures;
    last->content_bytes += now->content_bytes - prev->content_bytes;
    last->users = users;
    last->target = target;
    return 0;
}

void series_point_hist(const series_point_t *p, hist_t *h)
{
    hist_reset(h);
    for (size_t i = 0; i < p->nbuckets; i++)
        if (p->buckets[i].index < HIST_BUCKETS) hist_add_bucket(h, p->buckets[i].index, p->buckets[i].count);
}

int64_t series_second(const series_point_t *p)
{
    return (int64_t)llround(p->t);
}

/* Adds b into a: same run (users and target: b's, the later) or another (they add up). */
static int join(series_point_t *a, const series_point_t *b, bool same_run)
{
    if (add_buckets(a, b->buckets, b->nbuckets) < 0) return -1;
    a->requests += b->requests;
    a->failures += b->failures;
    a->content_bytes += b->content_bytes;
    if (same_run) {
        a->dt += b->dt;
        a->users = b->users;
        a->target = b->target;
    } else {
        if (b->dt > a->dt) a->dt = b->dt;
        a->users += b->users;
        a->target += b->target;
    }
    if (b->t > a->t) a->t = b->t;
    return 0;
}

int series_merge(series_t *dst, const series_t *src)
{
    /* src's points, joined where they share a second, in time order */
    series_t one;
    series_init(&one);
    for (size_t i = 0; i < src->n; i++) {
        if (one.n && series_second(&one.p[one.n - 1]) == series_second(&src->p[i])) {
            if (join(&one.p[one.n - 1], &src->p[i], true) < 0) goto oom;
        } else if (series_append(&one, &src->p[i]) < 0) {
            goto oom;
        }
    }
    for (size_t i = 0; i < one.n; i++) {
        int64_t sec = series_second(&one.p[i]);
        size_t lo = 0, hi = dst->n; /* binary search for the second */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (series_second(&dst->p[mid]) < sec)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < dst->n && series_second(&dst->p[lo]) == sec) {
            if (join(&dst->p[lo], &one.p[i], false) < 0) goto oom;
        } else {
            if (!push(dst)) goto oom;
            memmove(&dst->p[lo + 1], &dst->p[lo], (dst->n - lo) * sizeof *dst->p);
            dst->p[lo] = one.p[i];
            one.p[i].buckets = NULL; /* moved */
            one.p[i].nbuckets = 0;
            dst->n++;
        }
    }
    series_free(&one);
    return 0;
oom:
    series_free(&one);
    return -1;
}
