/*
 * threshold: pass/fail criteria on a run's figures, as k6's thresholds, for CI.
 *
 *   [name=NAME:]METRIC OP NUMBER[UNIT]
 *
 * METRIC is a latency (pN or p(N) for any percentile 0 < N <= 100 with at most 3 decimals,
 * e.g. p50, p99.9; mean or
 * avg; min; max), which needs a unit (us, ms or s), or fail_ratio (failures / requests; a
 * number, or a percentage with %), rps (requests per second over the run), requests or
 * failures (counts; rps, requests and failures accept k and M). OP is one of < <= > >= ==.
 * Spaces may surround OP and precede the unit. With name=NAME: the figure is that of the
 * requests named NAME (every method), else of all requests; NAME runs to the last ':' (so a
 * name may hold colons), and cannot be empty.
 *
 * A threshold is judged on a stats_entry_t and the run's length: threshold_eval() is all a
 * caller needs (the summary, `pixload merge`, an SLO search stepping a rate). Latencies are
 * read from the histogram (hist.h: within 0.79 %); a latency with no timed request, a
 * fail_ratio with no request and an rps over no time have no value, and fail.
 *
 * The parsed threshold points into the text it was parsed from (expr and name are not
 * copied): keep that text alive. Nothing here allocates or prints.
 */
#ifndef PIXD_LOAD_THRESHOLD_H
#define PIXD_LOAD_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "load/stats.h"

/* pixload's exit status when a threshold failed (k6's too), distinct from bad arguments (2). */
#define THRESHOLD_EXIT_FAILED 99

typedef enum {
    THRESHOLD_PCT, /* a percentile of the latency */
    THRESHOLD_MEAN,
    THRESHOLD_MIN,
    THRESHOLD_MAX,
    THRESHOLD_FAIL_RATIO,
    THRESHOLD_RPS,
    THRESHOLD_REQUESTS,
    THRESHOLD_FAILURES,
} threshold_metric_t;

typedef enum { THRESHOLD_LT, THRESHOLD_LE, THRESHOLD_GT, THRESHOLD_GE, THRESHOLD_EQ } threshold_op_t;

/* How the limit was written, for showing figures in the same unit. */
typedef enum { THRESHOLD_UNIT_NONE, THRESHOLD_UNIT_US, THRESHOLD_UNIT_MS, THRESHOLD_UNIT_S } threshold_unit_t;

typedef struct {
    const char *expr; /* the whole text as given (NUL-terminated) */
    const char *name; /* the request name of name=NAME:, not NUL-terminated; NULL = all requests */
    size_t name_len;
    threshold_metric_t metric;
    double pct; /* THRESHOLD_PCT: the percentile, (0, 100] */
    threshold_op_t op;
    double limit; /* in the metric's own unit: µs, a ratio, requests/s or a count */
    threshold_unit_t unit;
} threshold_t;

typedef struct {
    bool has_value; /* false: nothing to measure (no timed request, no request, no time) */
    double value;   /* in the limit's unit (µs for latencies) */
    bool pass;      /* has_value and the comparison holds */
} threshold_result_t;

/* Parses expr (NUL-terminated) into *t. 0, or -1 with a message naming the problem in err
 * (without the expression itself: the caller says which option it came from). */
int threshold_parse(threshold_t *t, const char *expr, char *err, size_t errlen);

/* The figure t looks at, from entry e of a run that lasted duration_s seconds. False when
 * there is nothing to measure. */
bool threshold_measure(const threshold_t *t, const stats_entry_t *e, double duration_s, double *value);
bool threshold_compare(threshold_op_t op, double value, double limit);
threshold_result_t threshold_eval(const threshold_t *t, const stats_entry_t *e, double duration_s);

/* Whether a failure on running totals is final: false for the counts that only grow (requests
 * and failures with > >= ==), which --abort-on-fail leaves to the end of the run. */
bool threshold_final_on_failure(const threshold_t *t);

/* Whether t looks at request name s (t has a name and it is s). */
bool threshold_names(const threshold_t *t, const char *s);

/* Checks that every named threshold names one of names[0..nnames): 0, or -1 with a message
 * saying which does not (and listing the names, as far as they fit). */
int threshold_check_names(const threshold_t *ts, size_t n, const char *const *names, size_t nnames, char *err,
                          size_t errlen);

/* The entry t judges in st: the sum of every entry (no name), or of the entries whose name
 * (names[i] for st->entries[i]) is t's, added into *scratch (which it returns). NULL when t
 * has a name that no entry has. */
const stats_entry_t *threshold_entry(const threshold_t *t, const stats_t *st, const char *const *names,
                                     stats_entry_t *scratch);

/* Judges n thresholds on st (entries named by names) over duration_s: results into out[n].
 * Returns how many failed, or -1 when out of memory (then out is not filled). A threshold
 * naming no entry fails without a value. */
int threshold_eval_all(const threshold_t *ts, size_t n, const stats_t *st, const char *const *names,
                       double duration_s, threshold_result_t *out);

/* "p99", "p99.9", "mean", "min", "max", "fail_ratio", "rps", "requests", "failures". */
void threshold_metric_label(const threshold_t *t, char *buf, size_t n);
/* "<", "<=", ">", ">=", "==". */
const char *threshold_op_str(threshold_op_t op);
/* A value of t's metric as text: latencies in the unit the limit was written in ("12.34ms"),
 * fail_ratio as a ratio ("0.0123"), rps with two decimals, counts whole. */
void threshold_format_value(const threshold_t *t, double value, char *buf, size_t n);
/* The base unit of t's figures in JSON: "us", "ratio", "req/s" or "count". */
const char *threshold_base_unit(const threshold_t *t);

#endif
