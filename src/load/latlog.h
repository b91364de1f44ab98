/*
 * latlog: --latency-log FILE, every sample of a run, one line each, for tests and audits.
 *
 *   # pixload latency log: start_unix_s latency_us name status error (tab-separated)
 *   1796583600.000125	1834	/42	200	ok
 *   1796583600.000310	-	/42	0	connect
 *
 * start is when the request's latency counts from (its send time, or with -R its intended
 * send time; with --no-keepalive the connect) as Unix time in µs; latency is "-" for a
 * request that had none (a connection that could not be opened); status is 0 when no
 * response head came; error is ok or the failure kind (stats.h). Tabs, newlines and
 * backslashes in a name are written \t \n \r \\. Lines come in chunks per thread: sorted
 * within a thread's chunk, not across threads (sort -n to order them).
 *
 * The hot path: each engine thread appends a 24-byte record to its own chunk (no lock, no
 * allocation, no system call). A full chunk (16384 records) goes to a writer thread under
 * one mutex (once per 16384 samples), which formats and writes it while the engine thread
 * fills a recycled chunk. latlog_close() writes what is left.
 */
#ifndef PIXD_LOAD_LATLOG_H
#define PIXD_LOAD_LATLOG_H

#include <stddef.h>
#include <stdint.h>

#include "load/stats.h"

#define LATLOG_CHUNK 16384

typedef struct {
    uint64_t start_ns; /* CLOCK_MONOTONIC */
    uint64_t latency_us; /* STATS_NO_LATENCY: none */
    uint32_t stat;       /* the stats slot (scenario_t.stats index) */
    int16_t status;
    int8_t err; /* stats_err_t */
} latlog_rec_t;

typedef struct latlog_chunk {
    struct latlog_chunk *next;
    size_t n;
    latlog_rec_t rec[LATLOG_CHUNK];
} latlog_chunk_t;

typedef struct latlog latlog_t;

/* One engine thread's handle (owned by the thread, zero-initialised). */
typedef struct {
    latlog_t *log;
    latlog_chunk_t *cur;
} latlog_thread_t;

/* Creates FILE (truncated) and starts the writer. names[i] names stats slot i (copied).
 * NULL with a message in err. */
latlog_t *latlog_open(const char *path, const char *const *names, size_t nnames, char *err, size_t errlen);
/* Maps the engine's monotonic clock to Unix time: mono_ns was wall_s. Call before samples. */
void latlog_set_clock(latlog_t *l, uint64_t mono_ns, double wall_s);
/* Attaches a thread's handle (takes its first chunk). 0, or -1 when out of memory. */
int latlog_thread_init(latlog_thread_t *t, latlog_t *l);
/* Hands a thread's last chunk to the writer (the thread is done). */
void latlog_thread_done(latlog_thread_t *t);
/* A full chunk to the writer, a fresh one back (internal, for latlog_add). */
void latlog__swap(latlog_thread_t *t);

static inline void latlog_add(latlog_thread_t *t, uint64_t start_ns, uint64_t latency_us, unsigned stat,
                              int status, stats_err_t err)
{
    if (!t->cur) return; /* out of memory earlier: samples are lost, latlog_close says so */
    latlog_rec_t *r = &t->cur->rec[t->cur->n++];
    r->start_ns = start_ns;
    r->latency_us = latency_us;
    r->stat = stat;
    r->status = (int16_t)(status >= 0 && status < 32768 ? status : 0);
    r->err = (int8_t)err;
    if (t->cur->n == LATLOG_CHUNK) latlog__swap(t);
}

/* Waits for the writer to write everything handed over, closes the file and frees l (after
 * every thread is done). 0, or -1 with a message in err (a write error, or samples lost for
 * want of memory). */
int latlog_close(latlog_t *l, char *err, size_t errlen);

#endif
