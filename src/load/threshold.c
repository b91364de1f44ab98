#include "load/threshold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/errmsg.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_spaces(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* A plain decimal number at *pp (digits, optionally '.' and digits): no sign, exponent, hex,
 * inf or nan. Advances *pp past it. */
static bool scan_number(const char **pp, double *out)
{
    const char *p = *pp, *start = p;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (!int_digits && !frac_digits) return false;
    if ((size_t)(p - start) > 40) return false; /* nobody writes a limit that long */
    char tmp[48];
    memcpy(tmp, start, (size_t)(p - start));
    tmp[p - start] = '\0';
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) return false;
    *out = v;
    *pp = p;
    return true;
}

static bool is_latency(threshold_metric_t m)
{
    return m == THRESHOLD_PCT || m == THRESHOLD_MEAN || m == THRESHOLD_MIN || m == THRESHOLD_MAX;
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(p, w, n) == 0;
}

/* The metric at the start of s (up to the operator): sets t->metric and t->pct. */
static int parse_metric(threshold_t *t, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0) return errmsg_set(err, errlen, "missing the metric before the operator (e.g. p99<200ms)");
    static const struct {
        const char *word;
        threshold_metric_t m;
    } words[] = {{"mean", THRESHOLD_MEAN},
                 {"avg", THRESHOLD_MEAN},
                 {"min", THRESHOLD_MIN},
                 {"max", THRESHOLD_MAX},
                 {"fail_ratio", THRESHOLD_FAIL_RATIO},
                 {"rps", THRESHOLD_RPS},
                 {"requests", THRESHOLD_REQUESTS},
                 {"failures", THRESHOLD_FAILURES}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (word_is(s, n, words[i].word)) {
            t->metric = words[i].m;
            return 0;
        }
    }
    if (s[0] == 'p' && n > 1) {
        /* p99, p99.9, or k6's p(99) */
        const char *p = s + 1, *end = s + n;
        bool paren = *p == '(';
        if (paren) p++;
        double v;
        const char *q = p;
        if (scan_number(&q, &v)) {
            if (paren && q < end && *q == ')') q++;
            else if (paren) q = NULL;
            if (q == end) {
                const char *dot = memchr(p, '.', (size_t)(end - p));
                if (dot && strspn(dot + 1, "0123456789") > 3)
                    return errmsg_set(err, errlen, "percentile %.*s: at most 3 decimals (e.g. p99.999)",
                                      (int)(n > 40 ? 40 : n), s);
                if (!(v > 0 && v <= 100))
                    return errmsg_set(err, errlen, "percentile %.*s out of range (from p0.001 to p100)",
                                      (int)(n - 1), s + 1);
                t->metric = THRESHOLD_PCT;
                t->pct = v;
                return 0;
            }
        }
    }
    return errmsg_set(err, errlen,
                      "unknown metric '%.*s' (use pN such as p50 p95 p99 p99.9, mean, min, max, fail_ratio, "
                      "rps, requests or failures)",
                      (int)(n > 40 ? 40 : n), s);
}

int threshold_parse(threshold_t *t, const char *expr, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->expr = expr;
    const char *p = skip_spaces(expr);
    if (!*p) return errmsg_set(err, errlen, "empty threshold (e.g. p99<200ms)");
    if (strncmp(p, "name=", 5) == 0) {
        const char *colon = strrchr(p + 5, ':');
        if (!colon) return errmsg_set(err, errlen, "name=NAME must be followed by ':' and the condition");
        if (colon == p + 5) return errmsg_set(err, errlen, "empty request name after name=");
        t->name = p + 5;
        t->name_len = (size_t)(colon - (p + 5));
        p = skip_spaces(colon + 1);
        if (!*p) return errmsg_set(err, errlen, "missing the condition after name=%.*s:",
                                   (int)(t->name_len > 60 ? 60 : t->name_len), t->name);
    }
    /* The metric runs to the operator (or a space before it). */
    const char *m = p;
    while (*p && !strchr("<>=!", *p) && !is_space(*p))
        p++;
    size_t mlen = (size_t)(p - m);
    p = skip_spaces(p);
    if (!*p) {
        if (mlen == 0) return errmsg_set(err, errlen, "missing the metric before the operator (e.g. p99<200ms)");
        return errmsg_set(err, errlen, "missing an operator (< <= > >= ==) after '%.*s'", (int)(mlen > 40 ? 40 : mlen),
                          m);
    }
    if (parse_metric(t, m, mlen, err, errlen) < 0) return -1;
    const char *ops = p;
    size_t oplen = 0;
    while (ops[oplen] && strchr("<>=!", ops[oplen]))
        oplen++;
    if (word_is(ops, oplen, "<"))
        t->op = THRESHOLD_LT;
    else if (word_is(ops, oplen, "<="))
        t->op = THRESHOLD_LE;
    else if (word_is(ops, oplen, ">"))
        t->op = THRESHOLD_GT;
    else if (word_is(ops, oplen, ">="))
        t->op = THRESHOLD_GE;
    else if (word_is(ops, oplen, "=="))
        t->op = THRESHOLD_EQ;
    else if (oplen)
        return errmsg_set(err, errlen, "unknown operator '%.*s' (use < <= > >= ==)", (int)(oplen > 8 ? 8 : oplen), ops);
    else
        return errmsg_set(err, errlen, "expected an operator (< <= > >= ==) at '%.12s'", ops);
    p = ops + oplen;
    p = skip_spaces(p);
    if (!*p) return errmsg_set(err, errlen, "missing the limit after the operator");
    double v;
    if (*p == '-') return errmsg_set(err, errlen, "the limit cannot be negative");
    if (!scan_number(&p, &v)) return errmsg_set(err, errlen, "the limit '%.20s' is not a number", p);
    const char *unit = skip_spaces(p);
    size_t ulen = strlen(unit);
    while (ulen && is_space(unit[ulen - 1]))
        ulen--;
    if (is_latency(t->metric)) {
        if (ulen == 0)
            return errmsg_set(err, errlen, "a latency limit needs a unit: us, ms or s (e.g. 200ms)");
        if (word_is(unit, ulen, "us") || word_is(unit, ulen, "\xc2\xb5s")) {
            t->unit = THRESHOLD_UNIT_US;
        } else if (word_is(unit, ulen, "ms")) {
            t->unit = THRESHOLD_UNIT_MS;
            v *= 1e3;
        } else if (word_is(unit, ulen, "s")) {
            t->unit = THRESHOLD_UNIT_S;
            v *= 1e6;
        } else {
            return errmsg_set(err, errlen, "unknown latency unit '%.*s' (use us, ms or s)", (int)(ulen > 20 ? 20 : ulen),
                              unit);
        }
    } else if (t->metric == THRESHOLD_FAIL_RATIO) {
        if (word_is(unit, ulen, "%")) {
            v /= 100;
        } else if (ulen) {
            return errmsg_set(err, errlen, "fail_ratio takes a ratio (0.01) or a percentage (1%%), not '%.*s'",
                              (int)(ulen > 20 ? 20 : ulen), unit);
        }
        if (v > 1) return errmsg_set(err, errlen, "fail_ratio limit above 1 (100%%)");
    } else {
        if (word_is(unit, ulen, "k")) {
            v *= 1e3;
        } else if (word_is(unit, ulen, "M")) {
            v *= 1e6;
        } else if (ulen) {
            return errmsg_set(err, errlen, "unexpected '%.*s' after the limit (%s takes a number, with k or M)",
                              (int)(ulen > 20 ? 20 : ulen), unit,
                              t->metric == THRESHOLD_RPS ? "rps" : t->metric == THRESHOLD_REQUESTS ? "requests"
                                                                                                  : "failures");
        }
    }
    t->limit = v;
    return 0;
}

bool threshold_measure(const threshold_t *t, const stats_entry_t *e, double duration_s, double *value)
{
    const hist_t *h = &e->latency;
    switch (t->metric) {
    case THRESHOLD_PCT:
        if (!h->count) return false;
        /* p100 is the exact max (a percentile reads its bucket's middle) */
        *value = t->pct >= 100 ? (double)hist_max(h) : (double)hist_percentile(h, t->pct);
        return true;
    case THRESHOLD_MEAN:
        if (!h->count) return false;
        *value = hist_mean(h);
        return true;
    case THRESHOLD_MIN:
        if (!h->count) return false;
        *value = (double)hist_min(h);
        return true;
    case THRESHOLD_MAX:
        if (!h->count) return false;
        *value = (double)hist_max(h);
        return true;
    case THRESHOLD_FAIL_RATIO:
        if (!e->requests) return false;
        *value = (double)e->failures / (double)e->requests;
        return true;
    case THRESHOLD_RPS:
        if (!(duration_s > 0)) return false;
        *value = (double)e->requests / duration_s;
        return true;
    case THRESHOLD_REQUESTS:
        *value = (double)e->requests;
        return true;
    case THRESHOLD_FAILURES:
        *value = (double)e->failures;
        return true;
    }
    return false;
}

bool threshold_compare(threshold_op_t op, double value, double limit)
{
    switch (op) {
    case THRESHOLD_LT:
        return value < limit;
    case THRESHOLD_LE:
        return value <= limit;
    case THRESHOLD_GT:
        return value > limit;
    case THRESHOLD_GE:
        return value >= limit;
    case THRESHOLD_EQ:
        return value == limit;
    }
    return false;
}

threshold_result_t threshold_eval(const threshold_t *t, const stats_entry_t *e, double duration_s)
{
    threshold_result_t r = {0};
    r.has_value = threshold_measure(t, e, duration_s, &r.value);
    r.pass = r.has_value && threshold_compare(t->op, r.value, t->limit);
    return r;
}

bool threshold_final_on_failure(const threshold_t *t)
{
    if (t->metric != THRESHOLD_REQUESTS && t->metric != THRESHOLD_FAILURES) return true;
    return t->op == THRESHOLD_LT || t->op == THRESHOLD_LE;
}

bool threshold_names(const threshold_t *t, const char *s)
{
    return t->name && strlen(s) == t->name_len && memcmp(s, t->name, t->name_len) == 0;
}

int threshold_check_names(const threshold_t *ts, size_t n, const char *const *names, size_t nnames, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!ts[i].name) continue;
        bool found = false;
        for (size_t k = 0; k < nnames && !found; k++)
            found = threshold_names(&ts[i], names[k]);
        if (found) continue;
        char list[200];
        size_t o = 0;
        list[0] = '\0';
        for (size_t k = 0; k < nnames && o < sizeof list - 1; k++) {
            int w = snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", names[k]);
            if (w < 0) break;
            o += (size_t)w;
            if (o >= sizeof list) {
                memcpy(list + sizeof list - 4, "...", 4);
                break;
            }
        }
        return errmsg_set(err, errlen, "--threshold '%s': no request is named '%.*s' (the names: %s)", ts[i].expr,
                          (int)(ts[i].name_len > 100 ? 100 : ts[i].name_len), ts[i].name, list);
    }
    return 0;
}

const stats_entry_t *threshold_entry(const threshold_t *t, const stats_t *st, const char *const *names,
                                     stats_entry_t *scratch)
{
    memset(scratch, 0, sizeof *scratch);
    hist_reset(&scratch->latency);
    bool found = false;
    for (size_t i = 0; i < st->n; i++) {
        if (t->name && !threshold_names(t, names[i])) continue;
        stats_entry_merge(scratch, &st->entries[i]);
        found = true;
    }
    return found || !t->name ? scratch : NULL;
}

int threshold_eval_all(const threshold_t *ts, size_t n, const stats_t *st, const char *const *names,
                       double duration_s, threshold_result_t *out)
{
    if (!n) return 0;
    stats_entry_t *scratch = malloc(sizeof *scratch);
    if (!scratch) return -1;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const stats_entry_t *e = threshold_entry(&ts[i], st, names, scratch);
        out[i] = e ? threshold_eval(&ts[i], e, duration_s) : (threshold_result_t){0};
        failed += !out[i].pass;
    }
    free(scratch);
    return failed;
}

void threshold_metric_label(const threshold_t *t, char *buf, size_t n)
{
    switch (t->metric) {
    case THRESHOLD_PCT:
        snprintf(buf, n, "p%g", t->pct);
        return;
    case THRESHOLD_MEAN:
        snprintf(buf, n, "mean");
        return;
    case THRESHOLD_MIN:
        snprintf(buf, n, "min");
        return;
    case THRESHOLD_MAX:
        snprintf(buf, n, "max");
        return;
    case THRESHOLD_FAIL_RATIO:
        snprintf(buf, n, "fail_ratio");
        return;
    case THRESHOLD_RPS:
        snprintf(buf, n, "rps");
        return;
    case THRESHOLD_REQUESTS:
        snprintf(buf, n, "requests");
        return;
    case THRESHOLD_FAILURES:
        snprintf(buf, n, "failures");
        return;
    }
    snprintf(buf, n, "?");
}

const char *threshold_op_str(threshold_op_t op)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "=="};
    return (unsigned)op < 5 ? ops[op] : "?";
}

void threshold_format_value(const threshold_t *t, double value, char *buf, size_t n)
{
    switch (t->metric) {
    case THRESHOLD_PCT:
    case THRESHOLD_MEAN:
    case THRESHOLD_MIN:
    case THRESHOLD_MAX:
        if (t->unit == THRESHOLD_UNIT_S)
            snprintf(buf, n, "%.6gs", value / 1e6);
        else if (t->unit == THRESHOLD_UNIT_US)
            snprintf(buf, n, "%.0fus", value);
        else
            snprintf(buf, n, "%.2fms", value / 1e3);
        return;
    case THRESHOLD_FAIL_RATIO:
        snprintf(buf, n, "%.4g", value);
        return;
    case THRESHOLD_RPS:
        snprintf(buf, n, "%.2f", value);
        return;
    case THRESHOLD_REQUESTS:
    case THRESHOLD_FAILURES:
        snprintf(buf, n, "%.0f", value);
        return;
    }
    snprintf(buf, n, "%g", value);
}

const char *threshold_base_unit(const threshold_t *t)
{
    return is_latency(t->metric)                 ? "us"
           : t->metric == THRESHOLD_FAIL_RATIO   ? "ratio"
           : t->metric == THRESHOLD_RPS          ? "req/s"
                                                 : "count";
}
