/*
 * report: turns a run's merged stats into what people and scripts read.
 *
 *  - report_banner / report_text: the wrk-style header and summary (thread stats, requests
 *    and bytes, socket errors, Requests/sec, Transfer/sec) followed by ab's "Percentage of
 *    the requests served within a certain time (ms)" table, status-code counts and, with
 *    several request names, a per-name table.
 *  - report_csv_*: locust 2.x's CSV files, byte-compatible in columns, order, number
 *    formats and line endings (CRLF, as Python's csv module writes): PREFIX_stats.csv,
 *    PREFIX_stats_history.csv (a row per call of report_csv_history, once per second),
 *    PREFIX_failures.csv and PREFIX_exceptions.csv (header only: pixload has no Python
 *    exceptions, the file exists so scripts that open it still work).
 *  - report_json: every figure, for machines, in the versioned schema REPORT_SCHEMA
 *    (docs/pixload.md "JSON"): the histograms bucket by bucket and the per-second series,
 *    so that runfile.h can read it back and `pixload merge` add runs up exactly.
 *  - the thresholds' verdicts (threshold.h) in the summary and the JSON.
 *  - report_status_line: the one-line live status (the engine decides when to print it:
 *    only when stdout is a terminal).
 * Nothing here runs on the hot path; report functions only read the stats they are given.
 * Numbers follow docs/pixload.md ("Output formats"), which also lists where pixload's
 * figures differ in meaning from locust's.
 */
#ifndef PIXD_LOAD_REPORT_H
#define PIXD_LOAD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "load/config.h"
#include "load/scenario.h"
#include "load/series.h"
#include "load/stats.h"
#include "load/threshold.h"

/* The JSON document's schema: its "schema" member. Another major version is refused by
 * `pixload merge`; fields may be added within one. */
#define REPORT_SCHEMA "pixload/1"

/* A run that went into a merge. */
typedef struct {
    const char *file;
    const char *host;
    double start_wall;
    double duration_s;
    uint64_t requests;
} report_source_t;

/* A finished (or interrupted) run. st is the merge of every thread's stats, with
 * st->n == sc->nstats. */
typedef struct {
    const load_config_t *cfg;
    const scenario_t *sc;
    const stats_t *st;
    double start_wall; /* Unix time the run started, in seconds */
    double duration_s; /* from the start to the end of the run */
    bool interrupted;  /* stopped by Ctrl-C before its limit */
    /* What the connections spoke: "http/1.1", "h2" or "h2c" (NULL: as cfg asked for).
     * streams: with HTTP/2, the fewest streams per connection a server allowed, when below
     * cfg->max_streams (0: none was). */
    const char *protocol;
    unsigned streams;

    /* Results; all optional (zero when absent). */
    const char *host;      /* the generator's host name; for a merge, the hosts, ", "-separated */
    const series_t *series; /* the figures second by second */
    const threshold_t *thresholds; /* judged on st: threshold_results[i] is thresholds[i]'s verdict */
    const threshold_result_t *threshold_results;
    size_t nthresholds;
    bool aborted;            /* stopped by --abort-on-fail */
    double aborted_at_s;     /* when, into the run */
    const char *abort_expr;  /* the threshold that failed then */
    const report_source_t *sources; /* a merge: the runs merged */
    size_t nsources;
} report_t;

/* True when every threshold of r passed (or there is none). */
bool report_thresholds_passed(const report_t *r);

/* The protocol cfg asks for: "h2" (--h2 and https), "h2c" (--h2 and http) or "http/1.1". */
const char *report_protocol(const load_config_t *cfg);

/* "Running 10s test @ URL" and the threads/connections line, as wrk prints them. */
void report_banner(FILE *out, const load_config_t *cfg);
/* With bodies from a folder: how many, the memory their pre-built requests take, how they are
 * picked. Nothing otherwise. */
void report_banner_bodies(FILE *out, const load_config_t *cfg, const scenario_t *sc);
/* The end-of-run summary. */
void report_text(FILE *out, const report_t *r);
/* Writes the JSON document to path ("-" = stdout). 0, or -1 with a message in err. */
int report_json(const report_t *r, const char *path, char *err, size_t errlen);
/* The same document into f. 0, or -1 when out of memory. */
int report_json_write(FILE *f, const report_t *r);
/* An ISO 8601 UTC time with milliseconds ("2026-12-06T19:00:00.000Z"); buf holds >= 32 bytes. */
void report_iso_time(char *buf, size_t n, double unix_s);
/* A duration or latency in µs as wrk prints it ("1.23ms", "2.00s"). */
void report_fmt_time_us(char *buf, size_t n, double us);

/* The locust CSV set. Open it before the run (so an unwritable prefix fails before any load
 * is sent): it creates the four files and writes their headers. full_history is locust's
 * --csv-full-history: history rows for every request name, with percentiles over the last
 * 10 s, besides the Aggregated row (whose percentiles are then also over the last 10 s;
 * without it they cover the whole run, as in locust). Returns NULL with a message in err. */
typedef struct report_csv report_csv_t;
report_csv_t *report_csv_open(const char *prefix, bool full_history, const scenario_t *sc, double start_wall,
                              char *err, size_t errlen);
/* With a staged plan (-R PLAN, -u PLAN): the history gets one more column, the last, named
 * column ("Target Requests/s", "Target User Count"), holding what the plan asked for at each
 * row's time. The other columns stay locust's. Call right after report_csv_open. 0, or -1 on
 * a write error. */
int report_csv_add_target(report_csv_t *c, const char *column);
/* Appends the history rows for time now_wall (Unix seconds) with `users` connections
 * running; st is the merged stats so far; target is the plan's (written only after
 * report_csv_add_target). Requests/s and Failures/s are over the last 10 s (or since the
 * start, if sooner). Call once per second. 0, or -1 on a write error. */
int report_csv_history(report_csv_t *c, const stats_t *st, double now_wall, unsigned users, double target);
/* Writes PREFIX_stats.csv and PREFIX_failures.csv from the final stats, closes every file
 * and frees c (whatever the result). 0, or -1 with a message in err. */
int report_csv_finish(report_csv_t *c, const report_t *r, char *err, size_t errlen);

typedef enum {
    REPORT_CSV_STATS,
    REPORT_CSV_HISTORY,
    REPORT_CSV_FAILURES,
    REPORT_CSV_EXCEPTIONS,
} report_csv_file_t;
/* The header line of one of the files, CRLF included. Inline (below) so that a tool can
 * print the headers without linking the load library (bench/tools/csv_headers.c). */
static inline void report_csv_header(FILE *out, report_csv_file_t which);

/* The live status line's inputs, filled by the engine once per second. */
typedef struct {
    double elapsed_s;
    unsigned users;    /* connections currently running */
    uint64_t requests; /* so far */
    uint64_t failures; /* so far */
    double rps;        /* over the last second or so */
    uint64_t p50_us;   /* over the same window (hist_sub of two snapshots), or the run */
    uint64_t p99_us;
    double target;           /* what the plan asks for now (engine_target) ... */
    const char *target_unit; /* ... in "req/s" or "users"; NULL: no plan, nothing shown */
} report_live_t;
/* Formats the line (no newline, no "\r": the engine adds "\r" and "\033[K" on a terminal).
 * Returns its length, truncated to n - 1. */
size_t report_status_line(char *buf, size_t n, const report_live_t *l);

/* Python's repr() of a float (the shortest string that reads back as x, "1.0", "1e+16"),
 * which is how locust's CSV writes floats. Returns the length (buf holds >= 32 bytes). */
size_t report_pyfloat(char *buf, size_t n, double x);

/* inline definitions */

static inline void report_csv_header(FILE *out, report_csv_file_t which)
{
    /* locust 2.x stats.py: requests_csv_columns, stats_history_csv_columns, failures_columns,
     * exceptions_columns; the percentile names are get_readable_percentiles() of
     * PERCENTILES_TO_REPORT. */
    static const char pcts[] = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
    switch (which) {
    case REPORT_CSV_STATS:
        fprintf(out,
                "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
                "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,%s\r\n",
                pcts);
        break;
    case REPORT_CSV_HISTORY:
        fprintf(out,
                "Timestamp,User Count,Type,Name,Requests/s,Failures/s,%s,Total Request Count,"
                "Total Failure Count,Total Median Response Time,Total Average Response Time,"
                "Total Min Response Time,Total Max Response Time,Total Average Content Size\r\n",
                pcts);
        break;
    case REPORT_CSV_FAILURES:
        fputs("Method,Name,Error,Occurrences\r\n", out);
        break;
    case REPORT_CSV_EXCEPTIONS:
        fputs("Count,Message,Traceback,Nodes\r\n", out);
        break;
    }
}

#endif
