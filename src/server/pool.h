/*
 * pool: the image threads, taking jobs from one bounded FIFO (docs/decisions/005).
 *
 * A job is embedded in its owner's object. run() computes on a pool thread; done() then runs
 * on the loop that submitted the job (through loop_post), also when run() did not: a job
 * cancelled before it started, or still queued when the pool drains, is never run, and done()
 * finds why in `outcome`. With no threads, jobs run inline on the loop, done() included.
 */
#ifndef PIXD_SERVER_POOL_H
#define PIXD_SERVER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"

typedef enum { POOL_RAN, POOL_DROPPED, POOL_SHUTDOWN } pool_outcome_t;

typedef struct pool_job {
    struct pool_job *next;
    void (*run)(struct pool_job *j);
    loop_call_cb done; /* done(loop, job) */
    loop_t *loop;
    int cancelled;     /* atomic */
    pool_outcome_t outcome;
} pool_job_t;

typedef struct pool pool_t;

#define POOL_BUCKETS 9
/* Upper bounds (µs) of the run-time histogram: 1 ms to 5 s. */
extern const uint64_t pool_bucket_us[POOL_BUCKETS];

typedef struct {
    uint64_t queued, running, ran, dropped, refused;
    uint64_t run_us;                        /* time jobs ran on threads (inline jobs not timed) */
    uint64_t run_buckets[POOL_BUCKETS + 1]; /* per bucket, not cumulative; the last is beyond 5 s */
} pool_stats_t;

/* nthreads 0: inline. NULL with a message in err when a thread or memory is missing. */
pool_t *pool_new(int nthreads, unsigned max_queue, char *err, size_t errlen);
/* Joins the threads; the pool must be drained first (pool_drain). */
void pool_free(pool_t *p);

/* Queues j (run, done and loop set by the caller). 0; -EBUSY when max_queue jobs wait (the
 * caller answers 503); -ESHUTDOWN once draining. On error nothing runs and done() is not called. */
int pool_submit(pool_t *p, pool_job_t *j);
/* The 503 reason for a pool_submit() error, the same wherever a job is refused. */
const char *pool_refusal(int err);
/* Any thread: the job's client is gone; if it has not started it is dropped (done still runs). */
void pool_cancel(pool_job_t *j);
/* Whether pool_cancel() was called (a job that waits elsewhere first, e.g. for a download). */
static inline bool pool_cancelled(const pool_job_t *j)
{
    return __atomic_load_n(&j->cancelled, __ATOMIC_ACQUIRE);
}
/* Refuses new jobs, and ends those still queued with POOL_SHUTDOWN: a stop does not wait for
 * a backlog. Jobs already running finish. */
void pool_drain(pool_t *p);
void pool_stats(pool_t *p, pool_stats_t *out);

#endif
