/* threshold_parse (--threshold) on arbitrary text (the input up to its first NUL, in an exactly
 * sized heap copy). Checked beyond the sanitizers:
 *   - a refused expression says why (a non-empty message);
 *   - an accepted one has a known metric and operator, a finite limit >= 0 (<= 1 for
 *     fail_ratio), a percentile in (0, 100], a non-empty name inside the text (up to its last
 *     ':'), and points at the text it came from;
 *   - written back canonically ([name=NAME:]label op limit, latencies in us), it parses to the
 *     same threshold, percentile included (for limits that print without an exponent);
 *   - judged on a small run, a verdict is a value and the comparison (no value: a fail), and the
 *     formatted value fits its buffer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/threshold.h"
#include "fuzz_check.h"

static stats_entry_t run, empty;

static void judge(const threshold_t *t)
{
    const stats_entry_t *es[] = {&run, &empty};
    for (int k = 0; k < 2; k++) {
        threshold_result_t r = threshold_eval(t, es[k], k ? 0 : 2.5);
        CHECK(!r.pass || r.has_value);
        if (r.has_value) {
            CHECK(isfinite(r.value) && r.value >= 0);
            CHECK(r.pass == threshold_compare(t->op, r.value, t->limit));
            char buf[64];
            threshold_format_value(t, r.value, buf, sizeof buf);
            CHECK(strlen(buf) > 0 && strlen(buf) < sizeof buf - 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!run.requests) {
        hist_reset(&run.latency);
        hist_reset(&empty.latency);
        static const uint64_t lat[] = {5, 900, 1200, 45000, 2000000, 90000000};
        for (size_t i = 0; i < sizeof lat / sizeof *lat; i++)
            stats_record(&run, lat[i], 200, 10, i == 2 ? STATS_ERR_STATUS : STATS_OK);
        stats_record(&run, STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *expr = malloc(n + 1);
    memcpy(expr, data, n);
    expr[n] = '\0';
    char err[256];
    threshold_t t;
    err[0] = '\0';
    if (threshold_parse(&t, expr, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        free(expr);
        return 0;
    }
    CHECK(t.expr == expr);
    CHECK(t.metric >= THRESHOLD_PCT && t.metric <= THRESHOLD_FAILURES);
    CHECK(t.op >= THRESHOLD_LT && t.op <= THRESHOLD_EQ);
    CHECK(isfinite(t.limit) && t.limit >= 0);
    if (t.metric == THRESHOLD_PCT) CHECK(t.pct > 0 && t.pct <= 100);
    if (t.metric == THRESHOLD_FAIL_RATIO) CHECK(t.limit <= 1);
    if (t.name) {
        CHECK(t.name > expr && t.name + t.name_len <= expr + n && t.name_len > 0);
        CHECK(t.name[t.name_len] == ':' && !strchr(t.name + t.name_len + 1, ':'));
    }
    judge(&t);

    if (t.limit == 0 || (t.limit >= 1e-4 && t.limit < 1e15)) {
        char label[32], canon[512];
        threshold_metric_label(&t, label, sizeof label);
        bool latency = t.metric <= THRESHOLD_MAX;
        int len = snprintf(canon, sizeof canon, "%s%.*s%s%s%s%.17g%s", t.name ? "name=" : "",
                           t.name ? (int)t.name_len : 0, t.name ? t.name : "", t.name ? ":" : "", label,
                           threshold_op_str(t.op), t.limit, latency ? "us" : "");
        if (len > 0 && (size_t)len < sizeof canon) {
            threshold_t u;
            CHECK(threshold_parse(&u, canon, err, sizeof err) == 0);
            CHECK(u.metric == t.metric && u.op == t.op && u.limit == t.limit && u.name_len == t.name_len);
            CHECK(t.metric != THRESHOLD_PCT || u.pct == t.pct); /* at most 3 decimals: %g is exact */
            CHECK(!t.name || memcmp(u.name, t.name, t.name_len) == 0);
        }
    }
    free(expr);
    return 0;
}
