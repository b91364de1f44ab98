/*
 * hist: a log-bucketed histogram of non-negative integers (HDR-style), for latencies in
 * microseconds (and, in stats, per-thread request rates).
 *
 * Layout: values 0..127 each have their own bucket (exact); above, every power of two
 * [2^e, 2^(e+1)) is split into 64 equal buckets, so a bucket is at most 1/64 of its lower
 * bound wide. A value read back is its bucket's middle (clamped to the exact min and max),
 * within 1/128 (0.79 %) of any value that fell in the bucket. Values above HIST_MAX
 * (60 s in µs) are recorded as HIST_MAX and counted in `clamped`: nothing is dropped.
 *
 * A hist_t is a fixed ~10.7 KiB, allocated once by its owner (embedded, or malloc'ed:
 * no pointers inside, so it can be copied with memcpy). hist_record() is O(1), branch-light
 * and never allocates. Not thread-safe: each thread records into its own hist_t and the
 * owner merges them (hist_merge) when the threads have stopped or handed over a copy.
 * count, min, max and sum are exact; mean is exact; percentiles and stddev come from the
 * buckets (within the 0.79 % above).
 */
#ifndef PIXD_LOAD_HIST_H
#define PIXD_LOAD_HIST_H

#include <stdint.h>

#define HIST_MAX 60000000u /* 60 s in µs: larger values are clamped to it */
#define HIST_EXACT_BITS 7  /* values < 2^7 are exact */
#define HIST_SUB_BITS 6    /* 2^6 buckets per power of two above */
#define HIST_BUCKETS 1331  /* hist__index(HIST_MAX) + 1, checked in hist.c */

typedef struct {
    uint64_t count;
    uint64_t clamped; /* values that were > HIST_MAX */
    uint64_t min;     /* UINT64_MAX when empty (use hist_min()) */
    uint64_t max;
    uint64_t sum; /* of the (clamped) values */
    uint64_t buckets[HIST_BUCKETS];
} hist_t;

/* Empties h (also the way to initialise one). */
void hist_reset(hist_t *h);
static inline void hist_record(hist_t *h, uint64_t v);
/* Adds every value of src to dst. */
void hist_merge(hist_t *dst, const hist_t *src);
/* dst = newer - older, where older is an earlier copy of the same histogram (a window of
 * the values recorded in between). min and max of the window come from its buckets.
 * dst may be newer. */
void hist_sub(hist_t *dst, const hist_t *newer, const hist_t *older);

static inline uint64_t hist_count(const hist_t *h)
{
    return h->count;
}
/* 0 when empty. */
static inline uint64_t hist_min(const hist_t *h)
{
    return h->count ? h->min : 0;
}
static inline uint64_t hist_max(const hist_t *h)
{
    return h->max;
}
/* Exact; 0 when empty. */
double hist_mean(const hist_t *h);
/* Sample standard deviation (n - 1), from the buckets; 0 with fewer than 2 values. */
double hist_stddev(const hist_t *h);

/* The value at 0-based position `rank` of the sorted values (rank < count); 0 when empty,
 * the max when rank >= count. */
uint64_t hist_value_at(const hist_t *h, uint64_t rank);
/* The nearest-rank percentile, p in [0, 100]: the value at 0-based position
 * hist_percentile_rank(count, p) of the sorted values. 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double p);
/* ceil(p * count / 100) - 1, clamped to [0, count - 1] (0 when count is 0): the 0-based
 * position of the nearest-rank percentile. */
uint64_t hist_percentile_rank(uint64_t count, double p);
/* How many values lie in [lo, hi], judged by their bucket's value. */
uint64_t hist_count_between(const hist_t *h, double lo, double hi);

/* Bucket i's range: values lo .. lo + width - 1 (i < HIST_BUCKETS). For writing a histogram
 * out bucket by bucket and reading it back exactly (report.h's JSON, runfile.h). */
void hist_bucket_range(unsigned i, uint64_t *lo, uint64_t *width);
/* The bucket whose range starts at lo, or -1 when lo starts none (or is above HIST_MAX). */
int hist_bucket_of_low(uint64_t lo);
/* Adds n values to bucket i with no exact extremes or sum known (a window of a series):
 * count grows by n; min, max and sum follow the bucket's bounds and middle. */
void hist_add_bucket(hist_t *h, unsigned i, uint64_t n);

/* Internal but visible (for hist_record): the bucket of v <= HIST_MAX. */
static inline unsigned hist__index(uint64_t v);

/* inline definitions */

static inline unsigned hist__index(uint64_t v)
{
    if (v < (1u << HIST_EXACT_BITS)) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_EXACT_BITS */
    unsigned shift = e - HIST_SUB_BITS;
    /* (v >> shift) is in [64, 128): its low 6 bits pick the bucket within the octave. */
    return (shift << HIST_SUB_BITS) + (unsigned)(v >> shift);
}

static inline void hist_record(hist_t *h, uint64_t v)
{
    if (v > HIST_MAX) {
        v = HIST_MAX;
        h->clamped++;
    }
    h->buckets[hist__index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

#endif
