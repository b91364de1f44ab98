#include "load/runfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"
#include "load/errmsg.h"
#include "load/report.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#define MAX_DEPTH 32

typedef struct {
    runfile_t *r;
    const char *js;
    size_t len;
    jsmntok_t *t;
    int ntok;
    char *err;
    size_t errlen;
} rd_t;

static int line_of(const rd_t *p, int tok)
{
    int line = 1;
    int end = tok >= 0 && tok < p->ntok ? p->t[tok].start : 0;
    for (int i = 0; i < end && (size_t)i < p->len; i++)
        line += p->js[i] == '\n';
    return line;
}

static int fail(rd_t *p, int tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(rd_t *p, int tok, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errmsg_set(p->err, p->errlen, "line %d: %s", line_of(p, tok), msg);
}

static int oom(rd_t *p)
{
    return errmsg_set(p->err, p->errlen, "out of memory");
}

/* ---------------------------------------------------------------- tokens */

static int skip(const rd_t *p, int i)
{
    int pending = 1;
    while (pending && i < p->ntok) {
        pending += p->t[i].size - 1;
        i++;
    }
    return i;
}

/* A JSON literal or number (RFC 8259): jsmn takes any run of bytes as a primitive. */
static bool valid_primitive(const char *s, size_t n)
{
    if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) || (n == 5 && !memcmp(s, "false", 5)))
        return true;
    size_t i = 0, d;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d) return false;
    }
    return i == n;
}

/* The shape jsmn does not check: object keys are strings with one value, scalars have no
 * followers, primitives are JSON's, nesting is shallow. Returns the index past the value. */
static int check_shape(rd_t *p, int i, int depth)
{
    if (i >= p->ntok) return fail(p, p->ntok - 1, "the document ends early");
    const jsmntok_t *t = &p->t[i];
    if (depth > MAX_DEPTH) return fail(p, i, "nested too deeply");
    if (t->type == JSMN_STRING) return t->size == 0 ? i + 1 : fail(p, i, "a string where a key belongs");
    if (t->type == JSMN_PRIMITIVE) {
        if (t->size != 0 || !valid_primitive(p->js + t->start, (size_t)(t->end - t->start)))
            return fail(p, i, "invalid value '%.*s'", t->end - t->start > 20 ? 20 : t->end - t->start,
                        p->js + t->start);
        return i + 1;
    }
    int j = i + 1;
    for (int m = 0; m < t->size; m++) {
        if (t->type == JSMN_OBJECT) {
            if (j >= p->ntok || p->t[j].type != JSMN_STRING || p->t[j].size != 1)
                return fail(p, j < p->ntok ? j : i, "an object member without a string key and one value");
            j++;
        }
        if ((j = check_shape(p, j, depth + 1)) < 0) return -1;
    }
    return j;
}

static bool tok_is(const rd_t *p, int i, const char *s)
{
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    return p->t[i].type == JSMN_STRING && strlen(s) == n && memcmp(p->js + p->t[i].start, s, n) == 0;
}

/* The value of member key in object obj, or -1. */
static int member(const rd_t *p, int obj, const char *key)
{
    if (p->t[obj].type != JSMN_OBJECT) return -1;
    int k = obj + 1;
    for (int m = 0; m < p->t[obj].size; m++, k = skip(p, k + 1))
        if (tok_is(p, k, key)) return k + 1;
    return -1;
}

static int need(rd_t *p, int obj, const char *key, const char *where)
{
    int v = member(p, obj, key);
    if (v < 0) fail(p, obj, "%s%s\"%s\" is missing", where, where[0] ? ": " : "", key);
    return v;
}

static bool is_null(const rd_t *p, int i)
{
    return p->t[i].type == JSMN_PRIMITIVE && p->t[i].end - p->t[i].start == 4 &&
           memcmp(p->js + p->t[i].start, "null", 4) == 0;
}

static int get_u64(rd_t *p, int i, const char *what, uint64_t *out)
{
    const char *s = p->js + p->t[i].start;
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    uint64_t v = 0;
    bool ok = p->t[i].type == JSMN_PRIMITIVE && n > 0 && n <= 20;
    for (size_t k = 0; ok && k < n; k++) {
        ok = s[k] >= '0' && s[k] <= '9' && v <= (UINT64_MAX - (uint64_t)(s[k] - '0')) / 10;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (!ok) return fail(p, i, "%s must be a whole number", what);
    *out = v;
    return 0;
}

static int get_unsigned(rd_t *p, int i, const char *what, unsigned *out)
{
    uint64_t v;
    if (get_u64(p, i, what, &v) < 0) return -1;
    if (v > UINT32_MAX) return fail(p, i, "%s is too large", what);
    *out = (unsigned)v;
    return 0;
}

static int get_double(rd_t *p, int i, const char *what, double *out)
{
    const char *s = p->js + p->t[i].start;
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    char tmp[64];
    if (p->t[i].type != JSMN_PRIMITIVE || n == 0 || n >= sizeof tmp || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return fail(p, i, "%s must be a number", what);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (*end || !isfinite(v)) return fail(p, i, "%s must be a number", what);
    *out = v;
    return 0;
}

static int get_bool(rd_t *p, int i, const char *what, bool *out)
{
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    const char *s = p->js + p->t[i].start;
    if (p->t[i].type == JSMN_PRIMITIVE && n == 4 && !memcmp(s, "true", 4))
        *out = true;
    else if (p->t[i].type == JSMN_PRIMITIVE && n == 5 && !memcmp(s, "false", 5))
        *out = false;
    else
        return fail(p, i, "%s must be true or false", what);
    return 0;
}

/* A string, unescaped, owned by the run (no NUL inside). */
static int get_string(rd_t *p, int i, const char *what, char **out)
{
    if (p->t[i].type != JSMN_STRING) return fail(p, i, "%s must be a string", what);
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    char *s = malloc(n + 1);
    if (!s) return oom(p);
    memcpy(s, p->js + p->t[i].start, n);
    ssize_t len = json_unescape(s, n);
    if (len < 0 || memchr(s, 0, (size_t)len) || !json_utf8_valid(s, (size_t)len)) {
        free(s);
        return fail(p, i, "%s: invalid string", what);
    }
    s[len] = '\0';
    runfile_t *r = p->r;
    char **v = realloc(r->_strings, (r->_nstrings + 1) * sizeof *v);
    if (!v) {
        free(s);
        return oom(p);
    }
    r->_strings = v;
    v[r->_nstrings++] = s;
    *out = s;
    return 0;
}

/* Optional members: leave *out as it is when absent. */
static int opt_u64(rd_t *p, int obj, const char *key, uint64_t *out)
{
    int v = member(p, obj, key);
    return v < 0 ? 0 : get_u64(p, v, key, out);
}

static int opt_unsigned(rd_t *p, int obj, const char *key, unsigned *out)
{
    int v = member(p, obj, key);
    return v < 0 ? 0 : get_unsigned(p, v, key, out);
}

static int opt_double(rd_t *p, int obj, const char *key, double *out)
{
    int v = member(p, obj, key);
    return v < 0 || is_null(p, v) ? 0 : get_double(p, v, key, out);
}

static int opt_bool(rd_t *p, int obj, const char *key, bool *out)
{
    int v = member(p, obj, key);
    return v < 0 ? 0 : get_bool(p, v, key, out);
}

static int opt_string(rd_t *p, int obj, const char *key, char **out)
{
    int v = member(p, obj, key);
    return v < 0 || is_null(p, v) ? 0 : get_string(p, v, key, out);
}

/* ---------------------------------------------------------------- histograms */

/* [[lowest value, count], ...] into h's buckets (h reset first); returns the sum of counts. */
static int read_buckets(rd_t *p, int arr, const char *what, hist_t *h, uint64_t *total)
{
    hist_reset(h);
    *total = 0;
    if (p->t[arr].type != JSMN_ARRAY) return fail(p, arr, "%s must be a list of [value, count] pairs", what);
    int k = arr + 1, last = -1;
    for (int m = 0; m < p->t[arr].size; m++, k = skip(p, k)) {
        uint64_t lo, n;
        if (p->t[k].type != JSMN_ARRAY || p->t[k].size != 2)
            return fail(p, k, "%s: each bucket must be a [value, count] pair", what);
        if (get_u64(p, k + 1, "a bucket's value", &lo) < 0 || get_u64(p, k + 2, "a bucket's count", &n) < 0)
            return -1;
        int i = hist_bucket_of_low(lo);
        if (i < 0) return fail(p, k, "%s: no bucket starts at %llu (another histogram layout?)", what,
                               (unsigned long long)lo);
        if (i <= last) return fail(p, k, "%s: buckets out of order or repeated", what);
        if (n == 0) return fail(p, k, "%s: an empty bucket is listed", what);
        if (*total > UINT64_MAX - n) return fail(p, k, "%s: counts overflow", what);
        h->buckets[i] = n;
        *total += n;
        last = i;
    }
    return 0;
}

/* A histogram with exact figures: {count_key, min, max, sum, clamped, histogram}. */
static int read_hist(rd_t *p, int obj, const char *what, const char *count_key, hist_t *h)
{
    if (p->t[obj].type != JSMN_OBJECT) return fail(p, obj, "%s must be an object", what);
    uint64_t count, min, max, sum, clamped, total;
    int v;
    if ((v = need(p, obj, count_key, what)) < 0 || get_u64(p, v, count_key, &count) < 0) return -1;
    if ((v = need(p, obj, "min", what)) < 0 || get_u64(p, v, "min", &min) < 0) return -1;
    if ((v = need(p, obj, "max", what)) < 0 || get_u64(p, v, "max", &max) < 0) return -1;
    if ((v = need(p, obj, "sum", what)) < 0 || get_u64(p, v, "sum", &sum) < 0) return -1;
    if ((v = need(p, obj, "clamped", what)) < 0 || get_u64(p, v, "clamped", &clamped) < 0) return -1;
    if ((v = need(p, obj, "histogram", what)) < 0 || read_buckets(p, v, what, h, &total) < 0) return -1;
    if (total != count)
        return fail(p, obj, "%s: the buckets hold %llu values, not the %llu of \"%s\"", what,
                    (unsigned long long)total, (unsigned long long)count, count_key);
    if (!count) {
        if (min || max || sum || clamped) return fail(p, obj, "%s: figures for an empty histogram", what);
        return 0;
    }
    unsigned first = 0, last = HIST_BUCKETS - 1;
    while (!h->buckets[first])
        first++;
    while (!h->buckets[last])
        last--;
    uint64_t flo, fw, llo, lw;
    hist_bucket_range(first, &flo, &fw);
    hist_bucket_range(last, &llo, &lw);
    if (min < flo || min >= flo + fw || max < llo || max >= llo + lw || min > max || max > HIST_MAX)
        return fail(p, obj, "%s: min or max outside the first or last bucket", what);
    if (clamped > count || (clamped && max != HIST_MAX))
        return fail(p, obj, "%s: \"clamped\" does not fit the values", what);
    /* sum lies between count values at min and at max (no overflow: count * HIST_MAX < 2^64
     * for any count a run could hold, and the products are checked) */
    if (count > UINT64_MAX / HIST_MAX || sum < min * count || sum > max * count)
        return fail(p, obj, "%s: \"sum\" does not fit the values", what);
    h->count = count;
    h->min = min;
    h->max = max;
    h->sum = sum;
    h->clamped = clamped;
    return 0;
}

/* ---------------------------------------------------------------- entries */

/* {"200": n, "other": n} into counts[]. */
static int read_status(rd_t *p, int obj, const char *what, uint64_t *counts)
{
    if (p->t[obj].type != JSMN_OBJECT) return fail(p, obj, "%s must be an object", what);
    int k = obj + 1;
    for (int m = 0; m < p->t[obj].size; m++, k = skip(p, k + 1)) {
        const char *s = p->js + p->t[k].start;
        size_t n = (size_t)(p->t[k].end - p->t[k].start);
        unsigned slot;
        if (n == 5 && !memcmp(s, "other", 5)) {
            slot = STATS_STATUS_OTHER;
        } else if (n == 3 && s[0] >= '1' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9') {
            slot = stats_status_slot((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
        } else {
            return fail(p, k, "%s: '%.*s' is not a status code (100-599) or \"other\"", what, (int)(n > 10 ? 10 : n), s);
        }
        if (counts[slot]) return fail(p, k, "%s: status %.*s twice", what, (int)n, s);
        if (get_u64(p, k + 1, "a status count", &counts[slot]) < 0) return -1;
    }
    return 0;
}

static int read_errors(rd_t *p, int obj, uint64_t *errors, bool h2)
{
    if (p->t[obj].type != JSMN_OBJECT) return fail(p, obj, "\"errors\" must be an object");
    int k = obj + 1;
    for (int m = 0; m < p->t[obj].size; m++, k = skip(p, k + 1)) {
        int kind = -1;
        for (int e = 0; e < STATS_ERR_KINDS && kind < 0; e++)
            if (tok_is(p, k, stats_err_name((stats_err_t)e))) kind = e;
        if (kind < 0)
            return fail(p, k, "unknown error kind '%.*s'", p->t[k].end - p->t[k].start > 20 ? 20 : p->t[k].end - p->t[k].start,
                        p->js + p->t[k].start);
        if (get_u64(p, k + 1, "an error count", &errors[kind]) < 0) return -1;
        if (kind == STATS_ERR_REFUSED && errors[kind] && !h2)
            return fail(p, k, "refused streams in a run that did not speak HTTP/2");
    }
    return 0;
}

static int read_entry(rd_t *p, int obj, stats_entry_t *e, bool h2)
{
    int v;
    if ((v = need(p, obj, "requests", "by_name")) < 0 || get_u64(p, v, "requests", &e->requests) < 0) return -1;
    if ((v = need(p, obj, "failures", "by_name")) < 0 || get_u64(p, v, "failures", &e->failures) < 0) return -1;
    if (opt_u64(p, obj, "content_bytes", &e->content_bytes) < 0) return -1;
    if ((v = need(p, obj, "latency_us", "by_name")) < 0 || read_hist(p, v, "latency_us", "count", &e->latency) < 0)
        return -1;
    if ((v = need(p, obj, "status", "by_name")) < 0 || read_status(p, v, "status", e->status) < 0) return -1;
    if ((v = need(p, obj, "failed_status", "by_name")) < 0 ||
        read_status(p, v, "failed_status", e->status_failed) < 0)
        return -1;
    if ((v = need(p, obj, "errors", "by_name")) < 0 || read_errors(p, v, e->errors, h2) < 0) return -1;
    /* The counting rules of stats.h. */
    uint64_t kinds = 0, failed = 0, answered = 0;
    for (int k = 0; k < STATS_ERR_KINDS; k++)
        kinds += e->errors[k];
    for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++) {
        if (e->status_failed[s] > e->status[s])
            return fail(p, obj, "more failed than received responses of one status");
        failed += e->status_failed[s];
        answered += e->status[s];
    }
    if (e->failures > e->requests || kinds != e->failures || failed != e->errors[STATS_ERR_STATUS] ||
        e->latency.count > e->requests || answered > e->requests)
        return fail(p, obj, "counts that do not add up (failures, error kinds, statuses, requests)");
    return 0;
}

/* ---------------------------------------------------------------- the document */

static int read_config(rd_t *p, int obj)
{
    runfile_t *r = p->r;
    load_config_t *c = &r->cfg;
    if (p->t[obj].type != JSMN_OBJECT) return fail(p, obj, "\"config\" must be an object");
    int v;
    char *url;
    if ((v = need(p, obj, "url", "config")) < 0 || get_string(p, v, "url", &url) < 0) return -1;
    c->url_str = url;
    if (url_parse(url, strlen(url), &c->url) != URL_OK) return fail(p, v, "config: invalid url");
    char *method = NULL, *scenario = NULL;
    if (opt_string(p, obj, "method", &method) < 0 || opt_string(p, obj, "scenario", &scenario) < 0) return -1;
    c->method = method;
    c->scenario_file = scenario;
    if (opt_unsigned(p, obj, "threads", &c->threads) < 0 || opt_unsigned(p, obj, "connections", &c->connections) < 0 ||
        opt_bool(p, obj, "users_mode", &c->users_mode) < 0 || opt_double(p, obj, "spawn_rate", &c->spawn_rate) < 0 ||
        opt_double(p, obj, "rate", &c->rate) < 0 || opt_u64(p, obj, "duration_ms", &c->duration_ms) < 0 ||
        opt_u64(p, obj, "requests", &c->requests) < 0 || opt_bool(p, obj, "keepalive", &c->keepalive) < 0 ||
        opt_unsigned(p, obj, "pipeline", &c->pipeline) < 0 || opt_bool(p, obj, "h2", &c->h2) < 0 ||
        opt_unsigned(p, obj, "max_streams", &c->max_streams) < 0 ||
        opt_unsigned(p, obj, "busy_poll_us", &c->busy_poll_us) < 0 ||
        opt_u64(p, obj, "timeout_ms", &c->timeout_ms) < 0 || opt_double(p, obj, "start_at", &c->start_at) < 0 ||
        opt_u64(p, obj, "abort_delay_ms", &c->abort_delay_ms) < 0)
        return -1;
    if (c->spawn_rate < 0 || c->rate < 0 || c->start_at < 0) return fail(p, obj, "config: a negative rate or time");
    return 0;
}

static int read_series(rd_t *p, int arr)
{
    if (p->t[arr].type != JSMN_ARRAY) return fail(p, arr, "\"series\" must be a list");
    hist_t *h = malloc(sizeof *h);
    if (!h) return oom(p);
    int k = arr + 1, rc = 0;
    double last_t = -INFINITY;
    for (int m = 0; m < p->t[arr].size && rc == 0; m++, k = skip(p, k)) {
        series_point_t pt = {0};
        int v;
        uint64_t total;
        if (p->t[k].type != JSMN_OBJECT) {
            rc = fail(p, k, "series: each point must be an object");
            break;
        }
        if ((v = need(p, k, "t", "series")) < 0 || get_double(p, v, "t", &pt.t) < 0 ||
            (v = need(p, k, "dt", "series")) < 0 || get_double(p, v, "dt", &pt.dt) < 0 ||
            (v = need(p, k, "requests", "series")) < 0 || get_u64(p, v, "requests", &pt.requests) < 0 ||
            (v = need(p, k, "failures", "series")) < 0 || get_u64(p, v, "failures", &pt.failures) < 0 ||
            opt_u64(p, k, "content_bytes", &pt.content_bytes) < 0 || opt_unsigned(p, k, "users", &pt.users) < 0 ||
            opt_double(p, k, "target_rps", &pt.target) < 0 || (v = need(p, k, "histogram", "series")) < 0 ||
            read_buckets(p, v, "series histogram", h, &total) < 0) {
            rc = -1;
            break;
        }
        if (pt.dt < 0 || pt.t < last_t || pt.target < 0 || pt.failures > pt.requests || total > pt.requests) {
            rc = fail(p, k, "series: a point out of order, or with counts that do not add up");
            break;
        }
        last_t = pt.t;
        size_t nb = 0;
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
            nb += h->buckets[i] != 0;
        series_bucket_t *b = nb ? malloc(nb * sizeof *b) : NULL;
        if (nb && !b) {
            rc = oom(p);
            break;
        }
        nb = 0;
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
            if (h->buckets[i]) b[nb++] = (series_bucket_t){i, h->buckets[i]};
        pt.buckets = b;
        pt.nbuckets = nb;
        rc = series_append(&p->r->series, &pt) < 0 ? oom(p) : 0;
        free(b);
    }
    free(h);
    return rc;
}

static int read_doc(rd_t *p)
{
    runfile_t *r = p->r;
    int v;
    if (p->t[0].type != JSMN_OBJECT) return fail(p, 0, "not a pixload --json-out document (an object)");
    if ((v = member(p, 0, "schema")) < 0)
        return fail(p, 0, "no \"schema\": not a pixload --json-out document of schema %s (an older pixload?)",
                    REPORT_SCHEMA);
    char *schema;
    if (get_string(p, v, "schema", &schema) < 0) return -1;
    size_t base = strlen(REPORT_SCHEMA);
    if (strncmp(schema, REPORT_SCHEMA, base) != 0 || (schema[base] && schema[base] != '.'))
        return fail(p, v, "schema \"%.40s\": this pixload reads %s", schema, REPORT_SCHEMA);
    int lay;
    if ((lay = need(p, 0, "histogram_layout", "")) < 0) return -1;
    uint64_t eb, sb, hi;
    if ((v = need(p, lay, "exact_bits", "histogram_layout")) < 0 || get_u64(p, v, "exact_bits", &eb) < 0 ||
        (v = need(p, lay, "sub_bits", "histogram_layout")) < 0 || get_u64(p, v, "sub_bits", &sb) < 0 ||
        (v = need(p, lay, "highest", "histogram_layout")) < 0 || get_u64(p, v, "highest", &hi) < 0)
        return -1;
    if (eb != HIST_EXACT_BITS || sb != HIST_SUB_BITS || hi != HIST_MAX)
        return fail(p, lay, "histogram layout %llu/%llu/%llu differs from this pixload's %d/%d/%llu",
                    (unsigned long long)eb, (unsigned long long)sb, (unsigned long long)hi, HIST_EXACT_BITS,
                    HIST_SUB_BITS, (unsigned long long)HIST_MAX);
    char *host = NULL, *protocol = NULL;
    if (opt_string(p, 0, "host", &host) < 0) return -1;
    r->host = host ? host : "";
    if ((v = need(p, 0, "protocol", "")) < 0 || get_string(p, v, "protocol", &protocol) < 0) return -1;
    if (strcmp(protocol, "http/1.1") != 0 && strcmp(protocol, "h2") != 0 && strcmp(protocol, "h2c") != 0)
        return fail(p, v, "unknown protocol \"%.20s\"", protocol);
    r->protocol = protocol;
    bool h2 = protocol[0] == 'h' && protocol[1] == '2';
    if ((v = need(p, 0, "start_time", "")) < 0 || get_double(p, v, "start_time", &r->start_wall) < 0) return -1;
    if ((v = need(p, 0, "duration_s", "")) < 0 || get_double(p, v, "duration_s", &r->duration_s) < 0) return -1;
    if (r->start_wall < 0 || r->duration_s < 0) return fail(p, v, "a negative start time or duration");
    if (opt_bool(p, 0, "interrupted", &r->interrupted) < 0 || opt_bool(p, 0, "aborted", &r->aborted) < 0 ||
        opt_unsigned(p, 0, "streams_per_connection", &r->streams) < 0)
        return -1;
    if ((v = need(p, 0, "config", "")) < 0 || read_config(p, v) < 0) return -1;
    r->cfg.h2 = h2;
    stats_t *st = &r->st;
    if (opt_u64(p, 0, "bytes_read", &st->bytes_read) < 0 || opt_u64(p, 0, "bytes_written", &st->bytes_written) < 0 ||
        opt_u64(p, 0, "connects", &st->connects) < 0)
        return -1;
    if ((v = member(p, 0, "thread_requests_per_s")) >= 0 &&
        read_hist(p, v, "thread_requests_per_s", "samples", &st->req_rate) < 0)
        return -1;

    int arr;
    if ((arr = need(p, 0, "by_name", "")) < 0) return -1;
    if (p->t[arr].type != JSMN_ARRAY) return fail(p, arr, "\"by_name\" must be a list");
    size_t n = (size_t)p->t[arr].size;
    stats_t full;
    if (stats_init(&full, n) < 0) return oom(p);
    full.bytes_read = st->bytes_read;
    full.bytes_written = st->bytes_written;
    full.connects = st->connects;
    full.req_rate = st->req_rate;
    stats_free(st);
    *st = full;
    scenario_stat_t *names = calloc(n ? n : 1, sizeof *names);
    if (!names) return oom(p);
    r->sc.stats = names;
    r->sc.nstats = n;
    int k = arr + 1;
    for (size_t i = 0; i < n; i++, k = skip(p, k)) {
        if (p->t[k].type != JSMN_OBJECT) return fail(p, k, "by_name: each entry must be an object");
        char *name, *method;
        if ((v = need(p, k, "name", "by_name")) < 0 || get_string(p, v, "name", &name) < 0) return -1;
        if ((v = need(p, k, "method", "by_name")) < 0 || get_string(p, v, "method", &method) < 0) return -1;
        if (!load_token_valid(method, strlen(method))) return fail(p, v, "by_name: invalid method");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[j].name, name) && !strcmp(names[j].method, method))
                return fail(p, k, "by_name: %.60s %.60s twice", method, name);
        names[i] = (scenario_stat_t){name, method};
        if (read_entry(p, k, &st->entries[i], h2) < 0) return -1;
    }
    if ((v = member(p, 0, "series")) >= 0 && read_series(p, v) < 0) return -1;
    return 0;
}

void runfile_free(runfile_t *r)
{
    stats_free(&r->st);
    series_free(&r->series);
    free(r->sc.stats);
    for (size_t i = 0; i < r->_nstrings; i++)
        free(r->_strings[i]);
    free(r->_strings);
    memset(r, 0, sizeof *r);
}

int runfile_parse(runfile_t *r, const char *json, size_t len, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    series_init(&r->series);
    if (stats_init(&r->st, 0) < 0) return errmsg_set(err, errlen, "out of memory");
    r->cfg.keepalive = true;
    r->cfg.pipeline = 1;
    r->cfg.max_streams = 1;
    rd_t p = {.r = r, .js = json, .len = len, .err = err, .errlen = errlen};
    if (len > RUNFILE_MAX_BYTES) {
        runfile_free(r);
        return errmsg_set(err, errlen, "larger than %u MiB", RUNFILE_MAX_BYTES >> 20);
    }
    if (memchr(json, '\0', len)) {
        runfile_free(r);
        return errmsg_set(err, errlen, "not a JSON document (a NUL byte)");
    }
    jsmn_parser parser;
    jsmn_init(&parser);
    int ntok = jsmn_parse(&parser, json, len, NULL, 0);
    if (ntok > 0) {
        if (!(p.t = calloc((size_t)ntok, sizeof *p.t))) {
            runfile_free(r);
            return errmsg_set(err, errlen, "out of memory");
        }
        jsmn_init(&parser);
        int n2 = jsmn_parse(&parser, json, len, p.t, (unsigned)ntok);
        if (n2 < 0) ntok = n2;
    }
    int rc = -1;
    if (ntok <= 0) {
        size_t line = 1;
        for (size_t i = 0; i < parser.pos && i < len; i++)
            line += json[i] == '\n';
        errmsg_set(err, errlen, "line %zu: %s", line,
                   ntok == JSMN_ERROR_PART ? "the JSON ends too early"
                   : ntok == 0             ? "empty: not a pixload --json-out document"
                                           : "invalid JSON");
    } else {
        p.ntok = ntok;
        int end = check_shape(&p, 0, 0);
        if (end >= 0 && end != ntok)
            fail(&p, end, "unexpected data after the document");
        else if (end >= 0)
            rc = read_doc(&p);
    }
    free(p.t);
    if (rc < 0) runfile_free(r);
    return rc;
}

int runfile_read(runfile_t *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) return errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= RUNFILE_MAX_BYTES) {
                free(buf);
                fclose(f);
                return errmsg_set(err, errlen, "%s: larger than %u MiB", path, RUNFILE_MAX_BYTES >> 20);
            }
            cap = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return errmsg_set(err, errlen, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return errmsg_set(err, errlen, "%s: read error", path);
    }
    char why[400];
    int rc = runfile_parse(r, buf ? buf : "", len, why, sizeof why);
    free(buf);
    if (rc < 0) return errmsg_set(err, errlen, "%s: %s", path, why);
    return 0;
}
