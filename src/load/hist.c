#include "load/hist.h"

#include <math.h>
#include <string.h>

_Static_assert(HIST_BUCKETS == (((HIST_MAX >> 19) + (19u << HIST_SUB_BITS)) + 1),
               "HIST_BUCKETS must be hist__index(HIST_MAX) + 1 (HIST_MAX < 2^26)");
_Static_assert(HIST_EXACT_BITS == HIST_SUB_BITS + 1, "the exact range must end where octaves begin");

void hist_reset(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* Lowest value and width of bucket i. */
static void bucket_bounds(unsigned i, uint64_t *lo, uint64_t *width)
{
    if (i < (1u << HIST_EXACT_BITS)) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t m = (1u << HIST_SUB_BITS) + (i & ((1u << HIST_SUB_BITS) - 1));
    *lo = m << shift;
    *width = (uint64_t)1 << shift;
}

void hist_bucket_range(unsigned i, uint64_t *lo, uint64_t *width)
{
    bucket_bounds(i, lo, width);
}

int hist_bucket_of_low(uint64_t lo)
{
    if (lo > HIST_MAX) return -1;
    unsigned i = hist__index(lo);
    uint64_t b, w;
    bucket_bounds(i, &b, &w);
    return b == lo ? (int)i : -1;
}

void hist_add_bucket(hist_t *h, unsigned i, uint64_t n)
{
    if (!n) return;
    uint64_t lo, width;
    bucket_bounds(i, &lo, &width);
    h->buckets[i] += n;
    h->count += n;
    h->sum += (lo + width / 2) * n;
    if (lo < h->min) h->min = lo;
    if (lo + width - 1 > h->max) h->max = lo + width - 1 > HIST_MAX ? HIST_MAX : lo + width - 1;
}

/* The value that stands for bucket i: its middle, but never outside the exact [min, max]
 * (so the extreme percentiles are exact and a single-valued histogram reads back exactly). */
static uint64_t bucket_value(const hist_t *h, unsigned i)
{
    uint64_t lo, width;
    bucket_bounds(i, &lo, &width);
    uint64_t v = lo + width / 2;
    if (v < h->min) v = h->min;
    if (v > h->max) v = h->max;
    return v;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    if (!src->count) return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

void hist_sub(hist_t *dst, const hist_t *newer, const hist_t *older)
{
    int first = -1, last = -1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        dst->buckets[i] = newer->buckets[i] - older->buckets[i];
        if (dst->buckets[i]) {
            if (first < 0) first = (int)i;
            last = (int)i;
        }
    }
    dst->count = newer->count - older->count;
    dst->clamped = newer->clamped - older->clamped;
    dst->sum = newer->sum - older->sum;
    if (first < 0) {
        dst->min = UINT64_MAX;
        dst->max = 0;
        return;
    }
    /* The window's extremes are only known to bucket precision; keep them inside the
     * whole histogram's exact range. */
    uint64_t newer_min = newer->min, newer_max = newer->max, lo, width;
    bucket_bounds((unsigned)first, &lo, &width);
    dst->min = lo > newer_min ? lo : newer_min;
    bucket_bounds((unsigned)last, &lo, &width);
    dst->max = lo + width - 1 < newer_max ? lo + width - 1 : newer_max;
}

double hist_mean(const hist_t *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double hist_stddev(const hist_t *h)
{
    if (h->count < 2) return 0.0;
    double mean = hist_mean(h), sum = 0.0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!h->buckets[i]) continue;
        double d = (double)bucket_value(h, i) - mean;
        sum += d * d * (double)h->buckets[i];
    }
    return sqrt(sum / (double)(h->count - 1));
}

uint64_t hist_value_at(const hist_t *h, uint64_t rank)
{
    if (!h->count) return 0;
    if (rank >= h->count) return h->max;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > rank) return bucket_value(h, i);
    }
    return h->max; /* not reached: the buckets add up to count */
}

uint64_t hist_percentile_rank(uint64_t count, double p)
{
    if (!count || !(p > 0.0)) return 0;
    /* p * count first: exact for integer p, so ceil() sees e.g. 99 * 100 / 100 as 99. */
    double r = ceil(p * (double)count / 100.0);
    if (r >= (double)count) return count - 1;
    return r < 1.0 ? 0 : (uint64_t)r - 1;
}

uint64_t hist_percentile(const hist_t *h, double p)
{
    return hist_value_at(h, hist_percentile_rank(h->count, p));
}

uint64_t hist_count_between(const hist_t *h, double lo, double hi)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!h->buckets[i]) continue;
        double v = (double)bucket_value(h, i);
        if (v >= lo && v <= hi) n += h->buckets[i];
    }
    return n;
}
