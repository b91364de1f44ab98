/*
 * series: a run's figures second by second (what the engine's once-per-second tick gathers),
 * kept so that they can be written out, drawn, and added up across generators.
 *
 * A point covers one window of the run, normally one second, ending at Unix time t: the
 * requests and failures that finished in it, the connections (users) running and the offered
 * rate at its end, and its latencies as the non-empty buckets of a hist_t (hist.h). The
 * points' requests add up to the run's total, so a series merged from several runs is as
 * exact as their totals: series_merge() adds points that end within the same Unix second.
 * Percentiles of a window come from its buckets (series_point_hist): the window's min and
 * max are only known to a bucket, the percentiles to the histogram's 0.79 %.
 *
 * Nothing here runs on the hot path: main adds a point once per second.
 */
#ifndef PIXD_LOAD_SERIES_H
#define PIXD_LOAD_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "load/hist.h"
#include "load/stats.h"

typedef struct {
    uint32_t index; /* hist bucket */
    uint64_t count;
} series_bucket_t;

typedef struct {
    double t;  /* Unix time at the end of the window */
    double dt; /* the window's length in seconds (> 0) */
    uint64_t requests, failures, content_bytes;
    unsigned users; /* connections (users) running at the end */
    double target;  /* offered requests/s at the end (open loop), 0 for a closed loop */
    series_bucket_t *buckets; /* owned, by increasing index */
    size_t nbuckets;
} series_point_t;

typedef struct {
    series_point_t *p; /* owned, by increasing t */
    size_t n, cap;
} series_t;

void series_init(series_t *s);
void series_free(series_t *s);

/* Appends the window between two cumulative aggregates of the run (prev taken dt seconds
 * before now, both from stats_aggregate). 0, or -1 when out of memory. */
int series_add_window(series_t *s, double t, double dt, const stats_entry_t *now, const stats_entry_t *prev,
                      unsigned users, double target);
/* Appends a point as given (buckets copied). 0, or -1 when out of memory. */
int series_append(series_t *s, const series_point_t *p);
/* Folds the window [prev, now], dt seconds long, into the last point (which then ends at t):
 * for the short rest of a run after its last whole second. Appends when there is no point yet. */
int series_extend_last(series_t *s, double t, double dt, const stats_entry_t *now, const stats_entry_t *prev,
                       unsigned users, double target);

/* The window's latencies into h (reset first). */
void series_point_hist(const series_point_t *p, hist_t *h);

/* The Unix second a point is filed under when series are merged: t rounded. */
int64_t series_second(const series_point_t *p);
/* Adds src (one run's series) into dst, point by point, by series_second(): the counts, users
 * and targets of points filed under the same second add up, their buckets merge, dt is the
 * longest and t the latest. Points of src that share a second are first joined as one run's
 * (counts added, users and target the last one's). dst stays sorted. 0, or -1 when out of
 * memory. */
int series_merge(series_t *dst, const series_t *src);

#endif
