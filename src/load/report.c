#include "load/report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/json.h"
#include "load/errmsg.h"

#ifndef PIXD_VERSION
#define PIXD_VERSION "0"
#endif

/* ================================================================ number formats */

size_t report_pyfloat(char *buf, size_t n, double x)
{
    if (isnan(x)) return (size_t)snprintf(buf, n, "nan");
    if (isinf(x)) return (size_t)snprintf(buf, n, x < 0 ? "-inf" : "inf");
    if (x == 0) return (size_t)snprintf(buf, n, signbit(x) ? "-0.0" : "0.0");
    /* Shortest round-trip digits, as Python's repr (David Gay's mode 0) picks them. */
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp is [-]d[.ddd]e[+-]XX: split it into sign, digits and decimal exponent. */
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++) {
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp10 = atoi(p + 1);

    char out[48];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -exp10 - 1; z++)
            out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else {
        size_t int_digits = (size_t)exp10 + 1;
        for (size_t k = 0; k < int_digits; k++)
            out[o++] = k < nd ? digits[k] : '0';
        out[o++] = '.';
        if (nd > int_digits) {
            memcpy(out + o, digits + int_digits, nd - int_digits);
            o += nd - int_digits;
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
    return (size_t)snprintf(buf, n, "%s", out);
}

/* wrk's unit formats (units.c): a value is scaled up while it is >= 0.85 of the next
 * unit, and printed with two decimals. */
typedef struct {
    double scale;
    const char *base;
    const char *units[6];
} units_t;

static const units_t time_us = {1000, "us", {"ms", "s", NULL}};
static const units_t time_s = {60, "s", {"m", "h", NULL}};
static const units_t binary = {1024, "", {"K", "M", "G", "T", "P", NULL}};
static const units_t metric = {1000, "", {"k", "M", "G", "T", "P", NULL}};

static void fmt_units(char *buf, size_t n, double v, const units_t *u, int prec)
{
    const char *unit = u->base;
    for (int i = 0; u->units[i + 1] && v >= u->scale * 0.85; i++) {
        v /= u->scale;
        unit = u->units[i];
    }
    snprintf(buf, n, "%.*f%s", prec, v, unit);
}

static void fmt_time_us(char *buf, size_t n, double us)
{
    if (us >= 1e6)
        fmt_units(buf, n, us / 1e6, &time_s, 2);
    else
        fmt_units(buf, n, us, &time_us, 2);
}

static void fmt_metric(char *buf, size_t n, double v)
{
    fmt_units(buf, n, v, &metric, 2);
}

static void fmt_binary(char *buf, size_t n, double v)
{
    fmt_units(buf, n, v, &binary, 2);
}

void report_fmt_time_us(char *buf, size_t n, double us)
{
    fmt_time_us(buf, n, us);
}

void report_iso_time(char *buf, size_t n, double unix_s)
{
    if (!(unix_s >= 0) || unix_s > 253402300799.0) unix_s = 0; /* up to 9999-12-31 */
    double whole = floor(unix_s);
    long ms = lround((unix_s - whole) * 1000);
    time_t t = (time_t)whole;
    if (ms >= 1000) {
        t++;
        ms -= 1000;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

bool report_thresholds_passed(const report_t *r)
{
    if (r->aborted) return false;
    for (size_t i = 0; i < r->nthresholds; i++)
        if (!r->threshold_results[i].pass) return false;
    return true;
}

/* wrk's print_units: right-aligned in width, with the unit sticking out to the right. */
static void print_units(FILE *out, const char *msg, int width)
{
    size_t len = strlen(msg);
    int pad = 2;
    if (len >= 1 && isalpha((unsigned char)msg[len - 1])) pad--;
    if (len >= 2 && isalpha((unsigned char)msg[len - 2])) pad--;
    width -= pad;
    fprintf(out, "%*.*s%.*s", width, width, msg, pad, "  ");
}

/* ================================================================ locust's figures */

/* The percentiles locust reports (the "50%" ... "100%" columns of report_csv_header). */
static const double lc_pcts[] = {0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0};
#define LC_NPCTS (sizeof lc_pcts / sizeof *lc_pcts)

/* Locust keeps response times (float ms) rounded: to the ms below 100 ms (an int), then
 * to two significant digits (a float). Python's round() is half-to-even, as rint(). */
static double lc_round(double ms, bool *is_int)
{
    *is_int = ms < 100;
    if (ms < 100) return rint(ms);
    if (ms < 1000) return rint(ms / 10) * 10;
    if (ms < 10000) return rint(ms / 100) * 100;
    return rint(ms / 1000) * 1000;
}

/* calculate_response_time_percentile(): over the rounded times, with num_requests (which
 * also counts requests without a time) as the base; int() of the result. */
static long long lc_percentile(uint64_t requests, const hist_t *h, double p)
{
    uint64_t cnt = hist_count(h);
    if (!cnt || requests < cnt) return 0;
    uint64_t k = (uint64_t)((double)requests * p), none = requests - cnt;
    if (k < none) return 0;
    uint64_t idx = k - none < cnt ? k - none : cnt - 1;
    bool is_int;
    return (long long)lc_round((double)hist_value_at(h, idx) / 1000.0, &is_int);
}

/* The numbers of one locust row, already formatted as Python's csv module writes them. */
typedef struct {
    char median[40], avg[40], min[40], max[40], content[40];
} lc_row_t;

static void lc_row(lc_row_t *r, const stats_entry_t *e)
{
    const hist_t *h = &e->latency;
    uint64_t cnt = hist_count(h);
    double min_ms = (double)hist_min(h) / 1000.0, max_ms = (double)hist_max(h) / 1000.0;
    if (!cnt) {
        /* No timed request: median 0, avg 0.0 (a float from the ZeroDivisionError path),
         * min "or 0", max the int 0. */
        snprintf(r->median, sizeof r->median, "0");
        snprintf(r->avg, sizeof r->avg, "0.0");
        snprintf(r->min, sizeof r->min, "0");
        snprintf(r->max, sizeof r->max, "0");
    } else {
        /* median_from_dict(): the rounded time at position (n - 1) / 2, kept within the
         * exact min and max (which are floats). */
        bool is_int;
        double med = lc_round((double)hist_value_at(h, (cnt - 1) / 2) / 1000.0, &is_int);
        if (med > max_ms)
            report_pyfloat(r->median, sizeof r->median, max_ms);
        else if (med < min_ms)
            report_pyfloat(r->median, sizeof r->median, min_ms);
        else if (is_int)
            snprintf(r->median, sizeof r->median, "%lld", (long long)med);
        else
            report_pyfloat(r->median, sizeof r->median, med);
        report_pyfloat(r->avg, sizeof r->avg, (double)h->sum / 1000.0 / (double)cnt);
        if (min_ms == 0)
            snprintf(r->min, sizeof r->min, "0"); /* `min_response_time or 0` */
        else
            report_pyfloat(r->min, sizeof r->min, min_ms);
        report_pyfloat(r->max, sizeof r->max, max_ms);
    }
    if (e->requests)
        report_pyfloat(r->content, sizeof r->content, (double)e->content_bytes / (double)e->requests);
    else
        snprintf(r->content, sizeof r->content, "0");
}

/* ================================================================ CSV */

/* A string field as Python's csv.writer (QUOTE_MINIMAL) writes it. */
static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_end(FILE *f)
{
    fputs("\r\n", f);
}

/* The percentile columns: N/A without requests, else locust's int percentiles. */
static void csv_pcts(FILE *f, uint64_t requests, const hist_t *h)
{
    for (size_t i = 0; i < LC_NPCTS; i++) {
        if (!requests)
            fputs(",N/A", f);
        else
            fprintf(f, ",%lld", lc_percentile(requests, h, lc_pcts[i]));
    }
}

#define REPORT_WINDOW 10 /* seconds of history behind "current" figures, as locust */

/* The cumulative figures at one history call; rows + 1 slots (the last is Aggregated). */
typedef struct {
    double t;
    uint64_t *requests, *failures;
    hist_t *latency; /* only with full_history */
} snap_t;

struct report_csv {
    FILE *stats, *history, *failures, *exceptions;
    bool full_history;
    const scenario_t *sc;
    size_t rows;
    size_t *order;              /* row indexes sorted by (name, method), as locust sorts */
    snap_t ring[REPORT_WINDOW]; /* the last calls, oldest at ring[head] once full */
    size_t head, count;
    stats_entry_t agg;
    hist_t window;
    bool target; /* the history's last column is the plan's target */
};

static int cmp_rows(const void *a, const void *b, void *ctx)
{
    const scenario_t *sc = ctx;
    const scenario_stat_t *x = &sc->stats[*(const size_t *)a], *y = &sc->stats[*(const size_t *)b];
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

static FILE *open_csv(const char *prefix, const char *suffix, report_csv_file_t which, char *err,
                      size_t errlen)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s%s", prefix, suffix);
    if (n < 0 || (size_t)n >= sizeof path) {
        errmsg_set(err, errlen, "--csv: prefix too long");
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        errmsg_set(err, errlen, "--csv: %s: %s", path, strerror(errno));
        return NULL;
    }
    report_csv_header(f, which);
    fflush(f);
    return f;
}

static void csv_free(report_csv_t *c)
{
    FILE *files[] = {c->stats, c->history, c->failures, c->exceptions};
    for (size_t i = 0; i < 4; i++) {
        if (files[i]) fclose(files[i]);
    }
    for (size_t i = 0; i < REPORT_WINDOW; i++) {
        free(c->ring[i].requests);
        free(c->ring[i].failures);
        free(c->ring[i].latency);
    }
    free(c->order);
    free(c);
}

/* Records the cumulative figures of st at time t as the newest snapshot. */
static void push_snapshot(report_csv_t *c, const stats_t *st, const stats_entry_t *agg, double t)
{
    snap_t *s;
    if (c->count < REPORT_WINDOW) {
        s = &c->ring[(c->head + c->count++) % REPORT_WINDOW];
    } else {
        s = &c->ring[c->head];
        c->head = (c->head + 1) % REPORT_WINDOW;
    }
    s->t = t;
    for (size_t i = 0; i <= c->rows; i++) {
        const stats_entry_t *e = i < c->rows ? &st->entries[i] : agg;
        s->requests[i] = e->requests;
        s->failures[i] = e->failures;
        if (s->latency) s->latency[i] = e->latency;
    }
}

report_csv_t *report_csv_open(const char *prefix, bool full_history, const scenario_t *sc, double start_wall,
                              char *err, size_t errlen)
{
    report_csv_t *c = calloc(1, sizeof *c);
    if (!c) {
        errmsg_set(err, errlen, "out of memory");
        return NULL;
    }
    c->full_history = full_history;
    c->sc = sc;
    c->rows = sc->nstats;
    c->order = calloc(c->rows ? c->rows : 1, sizeof *c->order);
    bool ok = c->order != NULL;
    for (size_t i = 0; ok && i < REPORT_WINDOW; i++) {
        c->ring[i].requests = calloc(c->rows + 1, sizeof(uint64_t));
        c->ring[i].failures = calloc(c->rows + 1, sizeof(uint64_t));
        ok = c->ring[i].requests && c->ring[i].failures;
        if (ok && full_history) {
            c->ring[i].latency = malloc((c->rows + 1) * sizeof(hist_t));
            ok = c->ring[i].latency != NULL;
        }
    }
    if (!ok) {
        csv_free(c);
        errmsg_set(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < c->rows; i++)
        c->order[i] = i;
    qsort_r(c->order, c->rows, sizeof *c->order, cmp_rows, (void *)sc);

    if (!(c->stats = open_csv(prefix, "_stats.csv", REPORT_CSV_STATS, err, errlen)) ||
        !(c->history = open_csv(prefix, "_stats_history.csv", REPORT_CSV_HISTORY, err, errlen)) ||
        !(c->failures = open_csv(prefix, "_failures.csv", REPORT_CSV_FAILURES, err, errlen)) ||
        !(c->exceptions = open_csv(prefix, "_exceptions.csv", REPORT_CSV_EXCEPTIONS, err, errlen))) {
        csv_free(c);
        return NULL;
    }
    /* The run starts from zero (the calloc'ed counts): the first history call measures
     * from start_wall. */
    for (size_t i = 0; i < REPORT_WINDOW; i++) {
        if (c->ring[i].latency) {
            for (size_t k = 0; k <= c->rows; k++)
                hist_reset(&c->ring[i].latency[k]);
        }
    }
    c->ring[0].t = start_wall;
    c->count = 1;
    return c;
}

int report_csv_add_target(report_csv_t *c, const char *column)
{
    /* The header was just written and ends in CRLF: the column goes before it. */
    if (fseek(c->history, -2, SEEK_END) != 0) return -1;
    fputc(',', c->history);
    csv_str(c->history, column);
    csv_end(c->history);
    c->target = true;
    return fflush(c->history) == 0 && !ferror(c->history) ? 0 : -1;
}

/* One history row: the window is between the oldest snapshot and now. */
static void history_row(report_csv_t *c, const stats_entry_t *e, size_t slot, const char *method,
                        const char *name, double now, unsigned users, double target, const snap_t *old)
{
    FILE *f = c->history;
    double span = now - old->t;
    double rps = span > 0 ? (double)(e->requests - old->requests[slot]) / span : 0;
    double fps = span > 0 ? (double)(e->failures - old->failures[slot]) / span : 0;
    fprintf(f, "%lld,%u,", (long long)floor(now), users);
    csv_str(f, method);
    fputc(',', f);
    csv_str(f, name);
    fprintf(f, ",%2f,%2f", rps, fps);
    if (c->full_history) {
        hist_sub(&c->window, &e->latency, &old->latency[slot]);
        uint64_t wreq = e->requests - old->requests[slot];
        for (size_t i = 0; i < LC_NPCTS; i++) {
            if (!e->requests)
                fputs(",N/A", f);
            else
                fprintf(f, ",%lld", lc_percentile(wreq, &c->window, lc_pcts[i]));
        }
    } else {
        csv_pcts(f, e->requests, &e->latency);
    }
    lc_row_t r;
    lc_row(&r, e);
    fprintf(f, ",%llu,%llu,%s,%s,%s,%s,%s", (unsigned long long)e->requests, (unsigned long long)e->failures,
            r.median, r.avg, r.min, r.max, r.content);
    if (c->target) {
        char v[32];
        report_pyfloat(v, sizeof v, target);
        fprintf(f, ",%s", v);
    }
    csv_end(f);
}

int report_csv_history(report_csv_t *c, const stats_t *st, double now_wall, unsigned users, double target)
{
    stats_aggregate(st, &c->agg);
    const snap_t *old = &c->ring[c->head];
    if (c->full_history) {
        for (size_t k = 0; k < c->rows; k++) {
            size_t i = c->order[k];
            const stats_entry_t *e = &st->entries[i];
            if (e->requests || e->failures)
                history_row(c, e, i, c->sc->stats[i].method, c->sc->stats[i].name, now_wall, users, target,
                            old);
        }
    }
    history_row(c, &c->agg, c->rows, "", "Aggregated", now_wall, users, target, old);
    push_snapshot(c, st, &c->agg, now_wall);
    return fflush(c->history) == 0 && !ferror(c->history) ? 0 : -1;
}

static void stats_row(FILE *f, const stats_entry_t *e, const char *method, const char *name, double duration,
                      bool any_requests)
{
    lc_row_t r;
    lc_row(&r, e);
    char rps[40], fps[40];
    /* total_rps: 0.0 until the run has a last request; else over the run's length. */
    if (any_requests && duration > 0) {
        report_pyfloat(rps, sizeof rps, (double)e->requests / duration);
        report_pyfloat(fps, sizeof fps, (double)e->failures / duration);
    } else {
        snprintf(rps, sizeof rps, "0.0");
        snprintf(fps, sizeof fps, "0.0");
    }
    csv_str(f, method);
    fputc(',', f);
    csv_str(f, name);
    fprintf(f, ",%llu,%llu,%s,%s,%s,%s,%s,%s,%s", (unsigned long long)e->requests,
            (unsigned long long)e->failures, r.median, r.avg, r.min, r.max, r.content, rps, fps);
    csv_pcts(f, e->requests, &e->latency);
    csv_end(f);
}

/* The Error column for a failure kind (status failures get one row per status code). */
static void failure_text(char *buf, size_t n, stats_err_t kind, int status, const char *name)
{
    switch (kind) {
    case STATS_ERR_CONNECT:
        snprintf(buf, n, "ConnectionError('connect failed')");
        break;
    case STATS_ERR_READ:
        snprintf(buf, n,
                 "ConnectionError('read failed or connection closed before the response was complete')");
        break;
    case STATS_ERR_WRITE:
        snprintf(buf, n, "ConnectionError('write failed')");
        break;
    case STATS_ERR_TIMEOUT:
        snprintf(buf, n, "Timeout('no complete response within the timeout')");
        break;
    case STATS_ERR_TLS:
        snprintf(buf, n, "SSLError('TLS handshake or record failed')");
        break;
    case STATS_ERR_STATUS:
        if (status)
            snprintf(buf, n, "HTTPError('%d %s for url: %s')", status,
                     status >= 400 && status < 500   ? "Client Error"
                     : status >= 500 && status < 600 ? "Server Error"
                                                     : "Unexpected Status",
                     name);
        else
            snprintf(buf, n, "HTTPError('unexpected status outside 100-599 for url: %s')", name);
        break;
    case STATS_ERR_MIN_BYTES:
        snprintf(buf, n, "CatchResponseError('response body shorter than --expect-min-bytes')");
        break;
    case STATS_ERR_REFUSED:
        snprintf(buf, n, "ConnectionError('stream refused by the server (REFUSED_STREAM)')");
        break;
    case STATS_ERR_BODY:
        snprintf(buf, n, "CatchResponseError('response body differs from --check-body')");
        break;
    default:
        snprintf(buf, n, "Error('unknown')");
    }
}

static void failure_row(FILE *f, const char *method, const char *name, const char *error, uint64_t n)
{
    csv_str(f, method);
    fputc(',', f);
    csv_str(f, name);
    fputc(',', f);
    csv_str(f, error);
    fprintf(f, ",%llu", (unsigned long long)n);
    csv_end(f);
}

int report_csv_finish(report_csv_t *c, const report_t *r, char *err, size_t errlen)
{
    const stats_t *st = r->st;
    stats_aggregate(st, &c->agg);
    bool any = c->agg.requests > 0;
    for (size_t k = 0; k < c->rows; k++) {
        size_t i = c->order[k];
        const stats_entry_t *e = &st->entries[i];
        if (e->requests || e->failures)
            stats_row(c->stats, e, c->sc->stats[i].method, c->sc->stats[i].name, r->duration_s, any);
    }
    stats_row(c->stats, &c->agg, "", "Aggregated", r->duration_s, any);

    char text[512];
    for (size_t k = 0; k < c->rows; k++) {
        size_t i = c->order[k];
        const stats_entry_t *e = &st->entries[i];
        const char *name = c->sc->stats[i].name, *method = c->sc->stats[i].method;
        for (int kind = 0; kind < STATS_ERR_KINDS; kind++) {
            if (kind == STATS_ERR_STATUS) {
                for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++) {
                    if (!e->status_failed[s]) continue;
                    int code = s == STATS_STATUS_OTHER ? 0 : (int)s + STATS_STATUS_MIN;
                    failure_text(text, sizeof text, STATS_ERR_STATUS, code, name);
                    failure_row(c->failures, method, name, text, e->status_failed[s]);
                }
            } else if (e->errors[kind]) {
                failure_text(text, sizeof text, (stats_err_t)kind, 0, name);
                failure_row(c->failures, method, name, text, e->errors[kind]);
            }
        }
    }
    int rc = 0;
    FILE *files[] = {c->stats, c->history, c->failures, c->exceptions};
    for (size_t i = 0; i < 4; i++) {
        if (fflush(files[i]) != 0 || ferror(files[i]))
            rc = errmsg_set(err, errlen, "--csv: write error: %s", strerror(errno));
    }
    csv_free(c);
    return rc;
}

/* ================================================================ text */

/* A duration as given on the command line: the largest whole unit. */
static void fmt_duration_ms(char *buf, size_t n, uint64_t ms)
{
    if (ms % 3600000 == 0)
        snprintf(buf, n, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, n, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, n, "%llums", (unsigned long long)ms);
}

const char *report_protocol(const load_config_t *cfg)
{
    return !cfg->h2 ? "http/1.1" : cfg->url.scheme == URL_HTTPS ? "h2" : "h2c";
}

/* The refused-stream count belongs to HTTP/2 runs only (HTTP/1.1 has no streams to refuse),
 * the body count to runs that check bodies: other reports keep their columns. */
static bool kind_shown(const report_t *r, int kind)
{
    if (kind == STATS_ERR_REFUSED) return r->cfg && r->cfg->h2;
    if (kind == STATS_ERR_BODY) return r->sc && r->sc->checks;
    return true;
}

void report_banner(FILE *out, const load_config_t *cfg)
{
    char t[32];
    fmt_duration_ms(t, sizeof t, cfg->duration_ms);
    if (cfg->requests && cfg->duration_ms)
        fprintf(out, "Running %llu requests (at most %s) test @ %s\n", (unsigned long long)cfg->requests, t,
                cfg->url_str);
    else if (cfg->requests)
        fprintf(out, "Running %llu requests test @ %s\n", (unsigned long long)cfg->requests, cfg->url_str);
    else
        fprintf(out, "Running %s test @ %s\n", t, cfg->url_str);
    fprintf(out, "  %u threads and %u %s", cfg->threads, cfg->connections,
            cfg->users_mode ? "users" : "connections");
    if (cfg->users_plan.n)
        fprintf(out, " (at most; the users follow %s)", cfg->users_spec);
    else if (cfg->spawn_rate > 0)
        fprintf(out, " (%g started per second)", cfg->spawn_rate);
    if (cfg->h2) fprintf(out, ", %s, up to %u stream%s each", report_protocol(cfg), cfg->max_streams,
                         cfg->max_streams == 1 ? "" : "s");
    fputc('\n', out);
    if (cfg->rate_plan.staged)
        fprintf(out, "  open loop following %s (up to %g requests/s), latency from the intended send time\n",
                cfg->rate_spec, cfg->rate);
    else if (cfg->rate > 0)
        fprintf(out, "  open loop at %g requests/s, latency from the intended send time\n", cfg->rate);
}

void report_banner_bodies(FILE *out, const load_config_t *cfg, const scenario_t *sc)
{
    if (!sc->folder_files) return;
    char mem[32];
    fmt_binary(mem, sizeof mem, (double)sc->request_bytes);
    fprintf(out, "  %zu bodies from folders, %sB of pre-built requests, picked %s", sc->folder_files, mem,
            cfg->pick == LOAD_PICK_ROUND_ROBIN ? "in turn" : "at random");
    if (cfg->pick == LOAD_PICK_RANDOM && cfg->pick_seeded)
        fprintf(out, " (seed %llu)", (unsigned long long)cfg->pick_seed);
    fputc('\n', out);
}

static void print_stats(FILE *out, const char *name, const hist_t *h, void (*fmt)(char *, size_t, double))
{
    double mean = hist_mean(h), sd = hist_stddev(h);
    char a[32], b[32], c[32];
    fmt(a, sizeof a, mean);
    fmt(b, sizeof b, sd);
    fmt(c, sizeof c, (double)hist_max(h));
    fprintf(out, "    %-10s", name);
    print_units(out, a, 8);
    print_units(out, b, 10);
    print_units(out, c, 9);
    double within =
        h->count ? 100.0 * (double)hist_count_between(h, mean - sd, mean + sd) / (double)h->count : 0;
    fprintf(out, "%8.2f%%\n", within);
}

/* ab's ap_round_ms: µs to the nearest ms, halves up. */
static unsigned long long round_ms(uint64_t us)
{
    return (unsigned long long)((us + 500) / 1000);
}

static void print_per_name(FILE *out, const report_t *r, const stats_entry_t *agg)
{
    fprintf(out, "\n%-8s %-32s %8s %14s %8s %8s %8s %8s %9s\n", "Type", "Name", "# reqs", "# fails", "Avg",
            "Min", "Max", "p50", "req/s");
    for (size_t k = 0; k <= r->st->n; k++) {
        const stats_entry_t *e = k < r->st->n ? &r->st->entries[k] : agg;
        if (k < r->st->n && !e->requests) continue;
        const char *method = k < r->st->n ? r->sc->stats[k].method : "";
        const char *name = k < r->st->n ? r->sc->stats[k].name : "Aggregated";
        char fails[32], avg[16], min[16], max[16], med[16];
        snprintf(fails, sizeof fails, "%llu(%.2f%%)", (unsigned long long)e->failures,
                 e->requests ? 100.0 * (double)e->failures / (double)e->requests : 0.0);
        fmt_time_us(avg, sizeof avg, hist_mean(&e->latency));
        fmt_time_us(min, sizeof min, (double)hist_min(&e->latency));
        fmt_time_us(max, sizeof max, (double)hist_max(&e->latency));
        fmt_time_us(med, sizeof med, (double)hist_percentile(&e->latency, 50));
        fprintf(out, "%-8s %-32s %8llu %14s %8s %8s %8s %8s %9.2f\n", method, name,
                (unsigned long long)e->requests, fails, avg, min, max, med,
                r->duration_s > 0 ? (double)e->requests / r->duration_s : 0.0);
    }
}

/* The thresholds' verdicts, as k6 lists them: each with the figure it judged. */
static void print_thresholds(FILE *out, const report_t *r)
{
    if (!r->nthresholds && !r->aborted) return;
    size_t passed = 0, width = 0;
    for (size_t i = 0; i < r->nthresholds; i++) {
        passed += r->threshold_results[i].pass;
        size_t len = strlen(r->thresholds[i].expr);
        if (len > width) width = len;
    }
    if (width > 48) width = 48;
    fprintf(out, "\nThresholds: %zu of %zu passed\n", passed, r->nthresholds);
    for (size_t i = 0; i < r->nthresholds; i++) {
        const threshold_t *t = &r->thresholds[i];
        const threshold_result_t *res = &r->threshold_results[i];
        char text[96];
        threshold_result_text(t, res, text, sizeof text);
        fprintf(out, "  %s  %-*s  %s\n", res->pass ? "PASS" : "FAIL", (int)width, t->expr, text);
    }
    if (r->aborted)
        fprintf(out, "Aborted at %.1fs: threshold '%s' failed on the running totals (--abort-on-fail)\n",
                r->aborted_at_s, r->abort_expr ? r->abort_expr : "?");
}

void report_text(FILE *out, const report_t *r)
{
    const stats_t *st = r->st;
    stats_entry_t *agg = malloc(sizeof *agg);
    if (!agg) {
        fprintf(out, "pixload: out of memory for the report\n");
        return;
    }
    stats_aggregate(st, agg);
    const hist_t *lat = &agg->latency;

    if (r->cfg) {
        fprintf(out, "  protocol: %s", r->protocol ? r->protocol : report_protocol(r->cfg));
        if (r->cfg->h2 && r->streams && r->streams < r->cfg->max_streams)
            fprintf(out, " (the server allows %u streams per connection: --max-streams %u lowered)", r->streams,
                    r->cfg->max_streams);
        fputc('\n', out);
    }
    fprintf(out, "  Thread Stats%6s%11s%8s%12s\n", "Avg", "Stdev", "Max", "+/- Stdev");
    print_stats(out, "Latency", lat, fmt_time_us);
    print_stats(out, "Req/Sec", &st->req_rate, fmt_metric);
    if (r->cfg && r->cfg->latency) {
        static const double pcts[] = {50, 75, 90, 99, 99.9, 99.99, 100};
        fprintf(out, "  Latency Distribution\n");
        for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
            char v[32];
            fmt_time_us(v, sizeof v, (double)hist_percentile(lat, pcts[i]));
            fprintf(out, "%7g%%", pcts[i]);
            print_units(out, v, 10);
            fputc('\n', out);
        }
    }
    char dur[32], bytes[32];
    fmt_time_us(dur, sizeof dur, r->duration_s * 1e6);
    fmt_binary(bytes, sizeof bytes, (double)st->bytes_read);
    fprintf(out, "  %llu requests in %s, %sB read%s\n", (unsigned long long)agg->requests, dur, bytes,
            r->aborted ? " (aborted: a threshold failed)" : r->interrupted ? " (interrupted)" : "");
    const uint64_t *e = agg->errors;
    if (e[STATS_ERR_CONNECT] || e[STATS_ERR_READ] || e[STATS_ERR_WRITE] || e[STATS_ERR_TIMEOUT])
        fprintf(out, "  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
                (unsigned long long)e[STATS_ERR_CONNECT], (unsigned long long)e[STATS_ERR_READ],
                (unsigned long long)e[STATS_ERR_WRITE], (unsigned long long)e[STATS_ERR_TIMEOUT]);
    if (e[STATS_ERR_TLS])
        fprintf(out, "  TLS errors: %llu\n", (unsigned long long)e[STATS_ERR_TLS]);
    if (e[STATS_ERR_STATUS])
        fprintf(out, "  Unexpected status responses: %llu\n", (unsigned long long)e[STATS_ERR_STATUS]);
    if (e[STATS_ERR_MIN_BYTES])
        fprintf(out, "  Responses shorter than --expect-min-bytes: %llu\n",
                (unsigned long long)e[STATS_ERR_MIN_BYTES]);
    if (e[STATS_ERR_REFUSED])
        fprintf(out, "  Refused streams: %llu\n", (unsigned long long)e[STATS_ERR_REFUSED]);
    if (e[STATS_ERR_BODY])
        fprintf(out, "  Responses whose body differs from --check-body: %llu\n",
                (unsigned long long)e[STATS_ERR_BODY]);
    double secs = r->duration_s > 0 ? r->duration_s : 0;
    char xfer[32];
    fmt_binary(xfer, sizeof xfer, secs > 0 ? (double)st->bytes_read / secs : 0);
    fprintf(out, "Requests/sec: %9.2f\n", secs > 0 ? (double)agg->requests / secs : 0.0);
    fprintf(out, "Transfer/sec: %10sB\n", xfer);

    if (lat->count) {
        static const int percs[] = {50, 66, 75, 80, 90, 95, 98, 99, 100};
        fprintf(out, "\nPercentage of the requests served within a certain time (ms)\n");
        for (size_t i = 0; i < sizeof percs / sizeof *percs; i++) {
            if (percs[i] == 100)
                fprintf(out, " 100%%  %5llu (longest request)\n", round_ms(hist_max(lat)));
            else
                fprintf(out, "  %d%%  %5llu\n", percs[i],
                        round_ms(hist_value_at(lat, lat->count * (uint64_t)percs[i] / 100)));
        }
    }

    bool any_status = false;
    for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++)
        any_status |= agg->status[s] != 0;
    if (any_status) {
        fprintf(out, "\nStatus codes:\n");
        for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++) {
            if (!agg->status[s]) continue;
            if (s == STATS_STATUS_OTHER)
                fprintf(out, "  other  %llu", (unsigned long long)agg->status[s]);
            else
                fprintf(out, "  %u  %llu", s + STATS_STATUS_MIN, (unsigned long long)agg->status[s]);
            if (agg->status_failed[s])
                fprintf(out, " (%llu failed)", (unsigned long long)agg->status_failed[s]);
            fputc('\n', out);
        }
    }
    if (agg->failures) {
        fprintf(out, "\nFailures: %llu of %llu (%.2f%%):", (unsigned long long)agg->failures,
                (unsigned long long)agg->requests, 100.0 * (double)agg->failures / (double)agg->requests);
        for (int k = 0; k < STATS_ERR_KINDS; k++)
            if (kind_shown(r, k))
                fprintf(out, "%s %s %llu", k ? "," : "", stats_err_name((stats_err_t)k),
                        (unsigned long long)e[k]);
        fputc('\n', out);
    }
    if (st->n > 1) print_per_name(out, r, agg);
    if (lat->clamped)
        fprintf(out, "\nNote: %llu latencies above 60s were counted as 60s.\n",
                (unsigned long long)lat->clamped);
    print_thresholds(out, r);
    free(agg);
}

size_t report_status_line(char *buf, size_t n, const report_live_t *l)
{
    char p50[32], p99[32];
    fmt_time_us(p50, sizeof p50, (double)l->p50_us);
    fmt_time_us(p99, sizeof p99, (double)l->p99_us);
    int len = snprintf(
        buf, n, "[%6.1fs] users %u | %.1f req/s | p50 %s p99 %s | requests %llu | errors %llu (%.2f%%)",
        l->elapsed_s, l->users, l->rps, p50, p99, (unsigned long long)l->requests,
        (unsigned long long)l->failures,
        l->requests ? 100.0 * (double)l->failures / (double)l->requests : 0.0);
    if (len >= 0 && l->target_unit && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, " | target %.1f %s", l->target, l->target_unit);
    if (len < 0) return 0;
    return (size_t)len < n ? (size_t)len : n ? n - 1 : 0;
}

/* ================================================================ JSON */

/* A JSON string; bytes that are not UTF-8 become U+FFFD so the document stays valid. */
static void json_str(FILE *f, const char *s)
{
    size_t n = strlen(s);
    char *tmp = malloc(json_escaped_len(s, n));
    fputc('"', f);
    if (tmp) {
        fwrite(tmp, 1, json_escape(tmp, s, n), f);
        free(tmp);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double x)
{
    char b[40];
    if (!isfinite(x)) x = 0;
    report_pyfloat(b, sizeof b, x);
    fputs(b, f);
}

/* A histogram's non-empty buckets: [[lowest value, count], ...] (layout in "histogram_layout"). */
static void json_buckets(FILE *f, const hist_t *h)
{
    fputc('[', f);
    const char *sep = "";
    for (unsigned i = 0; i < HIST_BUCKETS && h->count; i++) {
        if (!h->buckets[i]) continue;
        uint64_t lo, width;
        hist_bucket_range(i, &lo, &width);
        fprintf(f, "%s[%llu, %llu]", sep, (unsigned long long)lo, (unsigned long long)h->buckets[i]);
        sep = ", ";
    }
    fputc(']', f);
}

static void json_latency(FILE *f, const hist_t *h)
{
    static const double pcts[] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};
    fprintf(f, "{\"count\": %llu, \"min\": %llu, \"mean\": ", (unsigned long long)h->count,
            (unsigned long long)hist_min(h));
    json_num(f, hist_mean(h));
    fputs(", \"stdev\": ", f);
    json_num(f, hist_stddev(h));
    fprintf(f, ", \"max\": %llu, \"clamped\": %llu, \"percentiles\": {", (unsigned long long)hist_max(h),
            (unsigned long long)h->clamped);
    for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++)
        fprintf(f, "%s\"%g\": %llu", i ? ", " : "", pcts[i], (unsigned long long)hist_percentile(h, pcts[i]));
    fprintf(f, "}, \"sum\": %llu, \"histogram\": ", (unsigned long long)h->sum);
    json_buckets(f, h);
    fputc('}', f);
}

/* {"200": 12, "other": 1}: the non-zero counts by status code. */
static void json_status_counts(FILE *f, const uint64_t *counts)
{
    const char *sep = "";
    fputc('{', f);
    for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++) {
        if (!counts[s]) continue;
        if (s == STATS_STATUS_OTHER)
            fprintf(f, "%s\"other\": %llu", sep, (unsigned long long)counts[s]);
        else
            fprintf(f, "%s\"%u\": %llu", sep, s + STATS_STATUS_MIN, (unsigned long long)counts[s]);
        sep = ", ";
    }
    fputc('}', f);
}

static void json_entry_body(FILE *f, const stats_entry_t *e, double secs, const report_t *r)
{
    fprintf(f,
            "\"requests\": %llu, \"failures\": %llu, \"requests_per_s\": ", (unsigned long long)e->requests,
            (unsigned long long)e->failures);
    json_num(f, secs > 0 ? (double)e->requests / secs : 0);
    fputs(", \"failures_per_s\": ", f);
    json_num(f, secs > 0 ? (double)e->failures / secs : 0);
    fprintf(f, ", \"content_bytes\": %llu, \"latency_us\": ", (unsigned long long)e->content_bytes);
    json_latency(f, &e->latency);
    fputs(", \"status\": ", f);
    json_status_counts(f, e->status);
    fputs(", \"failed_status\": ", f);
    json_status_counts(f, e->status_failed);
    fputs(", \"errors\": {", f);
    for (int k = 0; k < STATS_ERR_KINDS; k++)
        if (kind_shown(r, k))
            fprintf(f, "%s\"%s\": %llu", k ? ", " : "", stats_err_name((stats_err_t)k),
                    (unsigned long long)e->errors[k]);
    fputc('}', f);
}

static void json_str_or_null(FILE *f, const char *s)
{
    if (s)
        json_str(f, s);
    else
        fputs("null", f);
}

static void json_bool(FILE *f, bool b)
{
    fputs(b ? "true" : "false", f);
}

/* The options that shaped the run (for a merge: the runs' put together). */
static void json_config(FILE *f, const report_t *r)
{
    const load_config_t *c = r->cfg;
    fputs("{\"url\": ", f);
    json_str(f, c->url_str);
    fputs(", \"protocol\": ", f);
    json_str(f, r->protocol ? r->protocol : report_protocol(c));
    fputs(", \"method\": ", f);
    json_str_or_null(f, c->method);
    fputs(", \"scenario\": ", f);
    json_str_or_null(f, c->scenario_file);
    fprintf(f, ", \"threads\": %u, \"connections\": %u, \"users_mode\": ", c->threads, c->connections);
    json_bool(f, c->users_mode);
    fputs(", \"spawn_rate\": ", f);
    json_num(f, c->spawn_rate);
    fputs(", \"rate\": ", f);
    json_num(f, c->rate);
    fprintf(f, ", \"duration_ms\": %llu, \"requests\": %llu, \"keepalive\": ", (unsigned long long)c->duration_ms,
            (unsigned long long)c->requests);
    json_bool(f, c->keepalive);
    fprintf(f, ", \"pipeline\": %u, \"h2\": ", c->pipeline);
    json_bool(f, c->h2);
    if (c->h2) /* as at the top: HTTP/1.1 documents have no stream fields */
        fprintf(f, ", \"max_streams\": %u", c->max_streams);
    fprintf(f, ", \"busy_poll_us\": %u, \"timeout_ms\": %llu, \"start_at\": ", c->busy_poll_us,
            (unsigned long long)c->timeout_ms);
    if (c->start_at > 0)
        json_num(f, c->start_at);
    else
        fputs("null", f);
    fputs(", \"thresholds\": [", f);
    for (size_t i = 0; i < r->nthresholds; i++) {
        if (i) fputs(", ", f);
        json_str(f, r->thresholds[i].expr);
    }
    fputs("], \"abort_on_fail\": ", f);
    json_bool(f, c->abort_on_fail);
    fprintf(f, ", \"abort_delay_ms\": %llu}", (unsigned long long)c->abort_delay_ms);
}

static void json_series(FILE *f, const series_t *s)
{
    fputs("[", f);
    hist_t *h = malloc(sizeof *h);
    for (size_t i = 0; s && h && i < s->n; i++) {
        const series_point_t *p = &s->p[i];
        series_point_hist(p, h);
        fputs(i ? ",\n    {\"t\": " : "\n    {\"t\": ", f);
        json_num(f, p->t);
        fputs(", \"dt\": ", f);
        json_num(f, p->dt);
        fprintf(f, ", \"requests\": %llu, \"failures\": %llu, \"content_bytes\": %llu, \"users\": %u, \"target_rps\": ",
                (unsigned long long)p->requests, (unsigned long long)p->failures,
                (unsigned long long)p->content_bytes, p->users);
        json_num(f, p->target);
        fprintf(f, ", \"p50_us\": %llu, \"p95_us\": %llu, \"p99_us\": %llu, \"histogram\": ",
                (unsigned long long)hist_percentile(h, 50), (unsigned long long)hist_percentile(h, 95),
                (unsigned long long)hist_percentile(h, 99));
        json_buckets(f, h);
        fputc('}', f);
    }
    fputs(s && s->n ? "\n  ]" : "]", f);
    free(h);
}

static void json_thresholds(FILE *f, const report_t *r)
{
    fputs("[", f);
    for (size_t i = 0; i < r->nthresholds; i++) {
        const threshold_t *t = &r->thresholds[i];
        const threshold_result_t *res = &r->threshold_results[i];
        char label[32];
        threshold_metric_label(t, label, sizeof label);
        fputs(i ? ",\n    {\"expr\": " : "\n    {\"expr\": ", f);
        json_str(f, t->expr);
        fputs(", \"name\": ", f);
        if (t->name) {
            char *name = strndup(t->name, t->name_len);
            json_str(f, name ? name : "");
            free(name);
        } else {
            fputs("null", f);
        }
        fputs(", \"metric\": ", f);
        json_str(f, label);
        fputs(", \"op\": ", f);
        json_str(f, threshold_op_str(t->op));
        fputs(", \"limit\": ", f);
        json_num(f, t->limit);
        fputs(", \"unit\": ", f);
        json_str(f, threshold_base_unit(t));
        fputs(", \"value\": ", f);
        if (res->has_value)
            json_num(f, res->value);
        else
            fputs("null", f);
        fputs(", \"pass\": ", f);
        json_bool(f, res->pass);
        fputc('}', f);
    }
    fputs(r->nthresholds ? "\n  ]" : "]", f);
}

int report_json_write(FILE *f, const report_t *r)
{
    stats_entry_t *agg = malloc(sizeof *agg);
    if (!agg) return -1;
    const stats_t *st = r->st;
    const load_config_t *c = r->cfg;
    double secs = r->duration_s;
    stats_aggregate(st, agg);
    char iso[40];
    report_iso_time(iso, sizeof iso, r->start_wall);

    fputs("{\n  \"schema\": ", f);
    json_str(f, REPORT_SCHEMA);
    fputs(",\n  \"pixload_version\": ", f);
    json_str(f, PIXD_VERSION);
    fputs(",\n  \"host\": ", f);
    json_str(f, r->host ? r->host : "");
    fputs(",\n  \"url\": ", f);
    json_str(f, c->url_str);
    fputs(",\n  \"protocol\": ", f);
    json_str(f, r->protocol ? r->protocol : report_protocol(c));
    fputs(",\n  \"start_time\": ", f);
    json_num(f, r->start_wall);
    fputs(",\n  \"start_time_iso\": ", f);
    json_str(f, iso);
    fputs(",\n  \"duration_s\": ", f);
    json_num(f, secs);
    fprintf(f, ",\n  \"interrupted\": %s,\n  \"aborted\": %s", r->interrupted ? "true" : "false",
            r->aborted ? "true" : "false");
    if (r->aborted) {
        fputs(",\n  \"abort\": {\"threshold\": ", f);
        json_str(f, r->abort_expr ? r->abort_expr : "");
        fputs(", \"at_s\": ", f);
        json_num(f, r->aborted_at_s);
        fputc('}', f);
    }
    fprintf(f, ",\n  \"threads\": %u,\n  \"connections\": %u,\n  \"users_mode\": %s", c->threads, c->connections,
            c->users_mode ? "true" : "false");
    fputs(",\n  \"spawn_rate\": ", f);
    json_num(f, c->spawn_rate);
    fputs(",\n  \"rate\": ", f);
    json_num(f, c->rate);
    if (c->rate_plan.staged) {
        fputs(",\n  \"rate_plan\": ", f);
        json_str(f, c->rate_spec);
    }
    if (c->users_plan.n) {
        fputs(",\n  \"users_plan\": ", f);
        json_str(f, c->users_spec);
    }
    fprintf(f, ",\n  \"keepalive\": %s,\n  \"pipeline\": %u,\n  \"busy_poll_us\": %u,\n  \"timeout_ms\": %llu",
            c->keepalive ? "true" : "false", c->pipeline, c->busy_poll_us, (unsigned long long)c->timeout_ms);
    if (c->h2)
        fprintf(f, ",\n  \"max_streams\": %u,\n  \"streams_per_connection\": %u", c->max_streams,
                r->streams && r->streams < c->max_streams ? r->streams : c->max_streams);
    fprintf(f, ",\n  \"request_memory_bytes\": %llu,\n  \"folder_files\": %zu",
            (unsigned long long)r->sc->request_bytes, r->sc->folder_files);
    fputs(",\n  \"config\": ", f);
    json_config(f, r);
    if (r->nsources) {
        fputs(",\n  \"merged_from\": [", f);
        for (size_t i = 0; i < r->nsources; i++) {
            const report_source_t *src = &r->sources[i];
            fputs(i ? ",\n    {\"file\": " : "\n    {\"file\": ", f);
            json_str(f, src->file ? src->file : "");
            fputs(", \"host\": ", f);
            json_str(f, src->host ? src->host : "");
            fputs(", \"start_time\": ", f);
            json_num(f, src->start_wall);
            fputs(", \"duration_s\": ", f);
            json_num(f, src->duration_s);
            fprintf(f, ", \"requests\": %llu}", (unsigned long long)src->requests);
        }
        fputs("\n  ]", f);
    }
    fprintf(f, ",\n  \"histogram_layout\": {\"exact_bits\": %d, \"sub_bits\": %d, \"highest\": %llu}",
            HIST_EXACT_BITS, HIST_SUB_BITS, (unsigned long long)HIST_MAX);
    fprintf(f, ",\n  \"bytes_read\": %llu,\n  \"bytes_written\": %llu,\n  \"connects\": %llu",
            (unsigned long long)st->bytes_read, (unsigned long long)st->bytes_written,
            (unsigned long long)st->connects);
    fputs(",\n  \"transfer_per_s\": ", f);
    json_num(f, secs > 0 ? (double)st->bytes_read / secs : 0);
    fputs(",\n  \"thread_requests_per_s\": {\"mean\": ", f);
    json_num(f, hist_mean(&st->req_rate));
    fputs(", \"stdev\": ", f);
    json_num(f, hist_stddev(&st->req_rate));
    fprintf(f, ", \"max\": %llu, \"samples\": %llu, \"min\": %llu, \"sum\": %llu, \"clamped\": %llu, \"histogram\": ",
            (unsigned long long)hist_max(&st->req_rate), (unsigned long long)st->req_rate.count,
            (unsigned long long)hist_min(&st->req_rate), (unsigned long long)st->req_rate.sum,
            (unsigned long long)st->req_rate.clamped);
    json_buckets(f, &st->req_rate);
    fputs("}", f);
    fputs(",\n  \"total\": {", f);
    json_entry_body(f, agg, secs, r);
    fputs("},\n  \"by_name\": [", f);
    for (size_t i = 0; i < st->n; i++) {
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        json_str(f, r->sc->stats[i].name);
        fputs(", \"method\": ", f);
        json_str(f, r->sc->stats[i].method);
        fputs(", ", f);
        json_entry_body(f, &st->entries[i], secs, r);
        fputc('}', f);
    }
    fputs("\n  ],\n  \"series\": ", f);
    json_series(f, r->series);
    fputs(",\n  \"thresholds\": ", f);
    json_thresholds(f, r);
    fputs(",\n  \"thresholds_passed\": ", f);
    json_bool(f, report_thresholds_passed(r));
    fputs("\n}\n", f);
    free(agg);
    return 0;
}

int report_json(const report_t *r, const char *path, char *err, size_t errlen)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) return errmsg_set(err, errlen, "--json-out: %s: %s", path, strerror(errno));
    if (report_json_write(f, r) != 0) {
        if (!to_stdout) fclose(f);
        return errmsg_set(err, errlen, "out of memory");
    }
    int rc = 0;
    if (fflush(f) != 0 || ferror(f)) rc = errmsg_set(err, errlen, "--json-out: %s: write error", path);
    if (!to_stdout && fclose(f) != 0 && rc == 0)
        rc = errmsg_set(err, errlen, "--json-out: %s: %s", path, strerror(errno));
    return rc;
}
