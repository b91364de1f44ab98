/*
 * stats: what a run measures, per thread and per request name, and how threads' figures
 * are added up.
 *
 * Each worker thread owns one stats_t with one stats_entry_t per scenario stats slot
 * (scenario_t.nstats: one per distinct request name and method) and records into it
 * without locks (stats_record is O(1) and never allocates). The owner adds the threads'
 * stats_t into a total with stats_merge(), either after the threads stopped or from copies
 * the threads hand over (e.g. once per second for the live line and the CSV history);
 * report.h turns a total into text, CSV and JSON.
 *
 * Counting rules, the same as locust's: every finished request counts once in `requests`,
 * success or failure; a failure also counts in `failures` and in errors[kind]. A request's
 * latency goes into the histogram unless the engine passes STATS_NO_LATENCY (e.g. for a
 * connection that could not be opened: there was no request to time).
 */
#ifndef PIXD_LOAD_STATS_H
#define PIXD_LOAD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "load/hist.h"

typedef enum {
    STATS_OK = -1,         /* not a failure */
    STATS_ERR_CONNECT = 0, /* could not connect */
    STATS_ERR_READ,        /* read failed, or the peer closed before the response was complete */
    STATS_ERR_WRITE,       /* write failed */
    STATS_ERR_TIMEOUT,     /* no complete response within the timeout */
    STATS_ERR_TLS,         /* https: the handshake or a record failed */
    STATS_ERR_STATUS,      /* status outside the expected set */
    STATS_ERR_MIN_BYTES,   /* body shorter than --expect-min-bytes */
    STATS_ERR_REFUSED,     /* HTTP/2: the server refused the stream (RST_STREAM REFUSED_STREAM) */
    STATS_ERR_BODY,        /* the body differs from --check-body */
    STATS_ERR_KINDS
} stats_err_t;

#define STATS_NO_LATENCY UINT64_MAX
/* Status counters: one per code 100..599, and one for anything else (a response whose
 * status line parsed but whose code is outside that range). */
#define STATS_STATUS_MIN 100
#define STATS_STATUS_SLOTS 501
#define STATS_STATUS_OTHER 500

typedef struct {
    uint64_t requests; /* finished, success or failure */
    uint64_t failures;
    uint64_t content_bytes; /* response body bytes (locust's content size) */
    uint64_t errors[STATS_ERR_KINDS];
    uint64_t status[STATS_STATUS_SLOTS];        /* responses by status code */
    uint64_t status_failed[STATS_STATUS_SLOTS]; /* of those, counted as STATS_ERR_STATUS */
    hist_t latency;                             /* µs */
} stats_entry_t;

typedef struct {
    size_t n;               /* entries: scenario_t.nstats */
    stats_entry_t *entries; /* owned */
    uint64_t bytes_read;    /* everything received, heads included (wrk's "read") */
    uint64_t bytes_written;
    uint64_t connects; /* connections opened */
    hist_t req_rate;   /* the thread's requests/s, sampled by the engine (wrk's Req/Sec) */
    /* Open loop: how late requests went out, in µs, counted from when both their intended time
     * had come and their connection was free: the generator's own lateness, not the server's
     * (which keeps connections busy and shows as latency). */
    hist_t send_late;
} stats_t;

/* Allocates n zeroed entries. 0, or -1 when out of memory (then *s is empty). */
int stats_init(stats_t *s, size_t n);
void stats_free(stats_t *s);
/* Zeroes every figure, keeping the allocation. */
void stats_reset(stats_t *s);
/* Adds src into dst; both must have the same n. */
void stats_merge(stats_t *dst, const stats_t *src);
/* Takes older (an earlier snapshot of the same run, same n) out of dst: what happened between
 * the two. */
void stats_sub(stats_t *dst, const stats_t *older);
/* Copies src into dst (same n), keeping dst's allocation: a snapshot. */
void stats_copy(stats_t *dst, const stats_t *src);
void stats_entry_merge(stats_entry_t *dst, const stats_entry_t *src);
/* The sum of all of s's entries (locust's "Aggregated" row) into *out. */
void stats_aggregate(const stats_t *s, stats_entry_t *out);

/* The slot of a status code in status[] and status_failed[]. */
static inline unsigned stats_status_slot(int status)
{
    return status >= STATS_STATUS_MIN && status < STATS_STATUS_MIN + STATS_STATUS_OTHER
               ? (unsigned)(status - STATS_STATUS_MIN)
               : STATS_STATUS_OTHER;
}

/* One finished request: latency in µs (or STATS_NO_LATENCY), the response status (0 when
 * no response head arrived), the body bytes received, and the outcome. */
static inline void stats_record(stats_entry_t *e, uint64_t latency_us, int status, uint64_t content_bytes,
                                stats_err_t err)
{
    e->requests++;
    e->content_bytes += content_bytes;
    if (latency_us != STATS_NO_LATENCY) hist_record(&e->latency, latency_us);
    unsigned slot = stats_status_slot(status);
    if (status) e->status[slot]++;
    if (err != STATS_OK) {
        e->failures++;
        e->errors[err]++;
        if (err == STATS_ERR_STATUS) e->status_failed[slot]++;
    }
}

/* A short lower-case name for an error kind: connect, read, write, timeout, tls, status,
 * min-bytes, refused, body. */
const char *stats_err_name(stats_err_t err);

#endif
