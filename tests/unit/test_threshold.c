/* threshold: the --threshold grammar (every metric, operator, unit and the name= prefix, and
 * malformed expressions with the message naming the problem), judging on a stats entry (values
 * worked out from the recorded latencies), per-name selection, what --abort-on-fail may judge
 * early; and the options around it in load_config_parse (--threshold, --abort-on-fail,
 * --abort-delay, --start-at, --html, --latency-log). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/config.h"
#include "load/threshold.h"

static char err[512];

static threshold_t parse_ok(const char *expr)
{
    threshold_t t;
    if (threshold_parse(&t, expr, err, sizeof err) != 0) fail_msg("'%s' refused: %s", expr, err);
    return t;
}

/* The same, as a pointer (a ring of 16, for expressions used once). */
static const threshold_t *T(const char *expr)
{
    static threshold_t ring[16];
    static unsigned next;
    threshold_t *t = &ring[next++ % 16];
    *t = parse_ok(expr);
    return t;
}

static void test_parse_metrics(void **state)
{
    (void)state;
    threshold_t t = parse_ok("p99<200ms");
    assert_int_equal(t.metric, THRESHOLD_PCT);
    assert_true(t.pct == 99);
    assert_int_equal(t.op, THRESHOLD_LT);
    assert_true(t.limit == 200000);
    assert_int_equal(t.unit, THRESHOLD_UNIT_MS);
    assert_null(t.name);

    t = parse_ok("p50<=20ms");
    assert_true(t.pct == 50 && t.op == THRESHOLD_LE && t.limit == 20000);
    t = parse_ok("p99.9 < 1.5s");
    assert_true(t.pct == 99.9 && t.limit == 1500000 && t.unit == THRESHOLD_UNIT_S);
    t = parse_ok("p(95)>=300us");
    assert_true(t.pct == 95 && t.op == THRESHOLD_GE && t.limit == 300 && t.unit == THRESHOLD_UNIT_US);
    t = parse_ok("p100 == 5 ms");
    assert_true(t.pct == 100 && t.op == THRESHOLD_EQ && t.limit == 5000);
    t = parse_ok("p90>.5ms");
    assert_true(t.pct == 90 && t.op == THRESHOLD_GT && t.limit == 500);
    t = parse_ok("p95<2\xc2\xb5s"); /* µs */
    assert_true(t.limit == 2 && t.unit == THRESHOLD_UNIT_US);
    assert_int_equal(parse_ok("mean<10ms").metric, THRESHOLD_MEAN);
    assert_int_equal(parse_ok("avg<10ms").metric, THRESHOLD_MEAN);
    assert_int_equal(parse_ok("min>=1us").metric, THRESHOLD_MIN);
    assert_int_equal(parse_ok("max<60s").metric, THRESHOLD_MAX);

    t = parse_ok("fail_ratio<0.01");
    assert_true(t.metric == THRESHOLD_FAIL_RATIO && t.limit == 0.01 && t.unit == THRESHOLD_UNIT_NONE);
    t = parse_ok("fail_ratio<=1%");
    assert_true(t.metric == THRESHOLD_FAIL_RATIO && fabs(t.limit - 0.01) < 1e-15);
    t = parse_ok("rps>=1000");
    assert_true(t.metric == THRESHOLD_RPS && t.limit == 1000);
    t = parse_ok("rps>=2.5k");
    assert_true(t.limit == 2500);
    t = parse_ok("requests==1M");
    assert_true(t.metric == THRESHOLD_REQUESTS && t.limit == 1e6 && t.op == THRESHOLD_EQ);
    t = parse_ok("  failures < 1  ");
    assert_true(t.metric == THRESHOLD_FAILURES && t.limit == 1);
}

static void test_parse_names(void **state)
{
    (void)state;
    const char *e = "name=/magic/base64:p99<300ms";
    threshold_t t = parse_ok(e);
    assert_ptr_equal(t.expr, e);
    assert_int_equal(t.name_len, strlen("/magic/base64"));
    assert_memory_equal(t.name, "/magic/base64", t.name_len);
    assert_true(t.limit == 300000);
    assert_true(threshold_names(&t, "/magic/base64"));
    assert_false(threshold_names(&t, "/magic/base6"));
    assert_false(threshold_names(&t, "/magic/base64x"));
    /* a name may hold colons: it runs to the last one */
    t = parse_ok("name=GET http://h:8080/a:b:fail_ratio<1%");
    assert_int_equal(t.name_len, strlen("GET http://h:8080/a:b"));
    assert_int_equal(t.metric, THRESHOLD_FAIL_RATIO);
    assert_true(threshold_names(&t, "GET http://h:8080/a:b"));
}

/* A malformed expression is refused with a message holding `why`. */
static void refused(const char *expr, const char *why)
{
    threshold_t t;
    err[0] = '\0';
    if (threshold_parse(&t, expr, err, sizeof err) == 0) fail_msg("'%s' accepted", expr);
    if (!strstr(err, why)) fail_msg("'%s': message '%s' lacks '%s'", expr, err, why);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    refused("", "empty threshold");
    refused("   ", "empty threshold");
    refused("p99", "missing an operator");
    refused("p99<", "missing the limit");
    refused("p99< ", "missing the limit");
    refused("<5ms", "missing the metric");
    refused("p99<5", "needs a unit");
    refused("p99<5xs", "unknown latency unit 'xs'");
    refused("p99<5 ms s", "unknown latency unit");
    refused("p99<abc", "is not a number");
    refused("p99<-5ms", "cannot be negative");
    refused("p99<1e3ms", "unknown latency unit 'e3ms'");
    refused("p99<0x10ms", "unknown latency unit");
    refused("p99<inf ms", "is not a number");
    refused("p99<nanms", "is not a number");
    refused("p0<1ms", "out of range");
    refused("p101<1ms", "out of range");
    refused("p100.5<1ms", "out of range");
    refused("p99.9999<1ms", "at most 3 decimals");
    refused("p<1ms", "unknown metric 'p'");
    refused("p(99<1ms", "unknown metric");
    refused("p99)<1ms", "unknown metric");
    refused("q99<1ms", "unknown metric 'q99'");
    refused("latency<1ms", "unknown metric 'latency'");
    refused("P99<1ms", "unknown metric 'P99'");
    refused("p99<<1ms", "unknown operator '<<'");
    refused("p99=<1ms", "unknown operator '=<'");
    refused("p99!=1ms", "unknown operator '!='");
    refused("p99=1ms", "unknown operator '='");
    refused("p99===1ms", "unknown operator '==='");
    refused("p99 x<1ms", "expected an operator");
    refused("fail_ratio<2", "above 1");
    refused("fail_ratio<150%", "above 1");
    refused("fail_ratio<1ms", "ratio (0.01) or a percentage");
    refused("rps>5ms", "after the limit");
    refused("requests>5 per s", "after the limit");
    refused("name=:p99<1ms", "empty request name");
    refused("name=/x", "must be followed by ':'");
    refused("name=/x:", "missing the condition");
    refused("name=/x:  ", "missing the condition");
    refused("name=/x:p99", "missing an operator");
}

static void record(stats_entry_t *e, const uint64_t *lat, size_t n, size_t failures)
{
    for (size_t i = 0; i < n; i++)
        stats_record(e, lat[i], i < failures ? 500 : 200, 0, i < failures ? STATS_ERR_STATUS : STATS_OK);
}

static void test_eval(void **state)
{
    (void)state;
    static stats_entry_t e;
    memset(&e, 0, sizeof e);
    hist_reset(&e.latency);
    /* 100 latencies 1000, 2000, ..., 100000 µs (exact in the histogram? no: read back within
     * 0.79 %, min and max exactly), 5 failures */
    uint64_t lat[100];
    for (int i = 0; i < 100; i++)
        lat[i] = 1000 * (uint64_t)(i + 1);
    record(&e, lat, 100, 5);
    double v;
    threshold_result_t r = threshold_eval(&(threshold_t){.metric = THRESHOLD_PCT, .pct = 99, .op = THRESHOLD_LT,
                                                         .limit = 100000},
                                          &e, 10);
    assert_true(r.has_value);
    assert_true(fabs(r.value - 99000) <= 99000 / 128.0); /* the 99th of 100 */
    assert_true(r.pass);
    assert_true(threshold_measure(T("p50<1s"), &e, 10, &v) && fabs(v - 50000) <= 50000 / 128.0);
    assert_true(threshold_measure(T("min<1s"), &e, 10, &v) && v == 1000);
    assert_true(threshold_measure(T("max<1s"), &e, 10, &v) && v == 100000);
    assert_true(threshold_measure(T("mean<1s"), &e, 10, &v) && v == 50500);
    assert_true(threshold_measure(T("p100<1s"), &e, 10, &v) && v == 100000);
    assert_true(threshold_measure(T("fail_ratio<1"), &e, 10, &v) && v == 0.05);
    assert_true(threshold_measure(T("rps<1"), &e, 10, &v) && v == 10);
    assert_true(threshold_measure(T("requests<1"), &e, 10, &v) && v == 100);
    assert_true(threshold_measure(T("failures<1"), &e, 10, &v) && v == 5);

    assert_true(threshold_eval(T("max<=100ms"), &e, 10).pass);
    assert_false(threshold_eval(T("max<100ms"), &e, 10).pass);
    assert_true(threshold_eval(T("max==100ms"), &e, 10).pass);
    assert_true(threshold_eval(T("max>99.9ms"), &e, 10).pass);
    assert_true(threshold_eval(T("fail_ratio<=5%"), &e, 10).pass);
    assert_false(threshold_eval(T("fail_ratio<0.05"), &e, 10).pass);
    assert_true(threshold_eval(T("rps>=10"), &e, 10).pass);
    assert_false(threshold_eval(T("rps>10"), &e, 10).pass);
    assert_true(threshold_eval(T("requests==100"), &e, 10).pass);
    assert_true(threshold_eval(T("failures<6"), &e, 10).pass);

    /* nothing to measure: fails, without a value */
    static stats_entry_t empty;
    memset(&empty, 0, sizeof empty);
    hist_reset(&empty.latency);
    r = threshold_eval(T("p99<1s"), &empty, 10);
    assert_false(r.has_value);
    assert_false(r.pass);
    assert_false(threshold_eval(T("fail_ratio<1"), &empty, 10).pass);
    assert_false(threshold_eval(T("rps>=0"), &e, 0).pass);
    assert_true(threshold_eval(T("failures<1"), &empty, 0).pass);
    /* requests without a latency (connect failures) */
    stats_record(&empty, STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
    assert_false(threshold_eval(T("max<1s"), &empty, 1).has_value);
    assert_true(threshold_eval(T("fail_ratio==1"), &empty, 1).pass);
}

static void test_per_name(void **state)
{
    (void)state;
    stats_t st;
    assert_int_equal(stats_init(&st, 3), 0);
    const char *names[] = {"/a", "/b", "/a"}; /* /a twice: GET and POST */
    uint64_t fast[] = {1000, 1000, 1000}, slow[] = {900000, 900000};
    record(&st.entries[0], fast, 3, 0);
    record(&st.entries[1], slow, 2, 2);
    record(&st.entries[2], fast, 3, 1);
    threshold_t ts[] = {parse_ok("name=/a:p99<10ms"), parse_ok("name=/b:p99<10ms"), parse_ok("p99<10ms"),
                        parse_ok("name=/a:requests==6"), parse_ok("name=/a:failures==1"),
                        parse_ok("fail_ratio<=0.375")};
    threshold_result_t res[6];
    assert_int_equal(threshold_eval_all(ts, 6, &st, names, 1, res), 2);
    assert_true(res[0].pass);
    assert_false(res[1].pass);
    assert_false(res[2].pass); /* the slow /b is among all requests */
    assert_true(res[3].pass && res[3].value == 6);
    assert_true(res[4].pass);
    assert_true(res[5].pass && res[5].value == 3.0 / 8);

    static stats_entry_t scratch;
    threshold_t none = parse_ok("name=/c:p99<1s");
    assert_null(threshold_entry(&none, &st, names, &scratch));
    assert_int_equal(threshold_eval_all(&none, 1, &st, names, 1, res), 1);
    assert_false(res[0].has_value);
    assert_int_equal(threshold_check_names(ts, 6, names, 3, err, sizeof err), 0);
    assert_int_equal(threshold_check_names(&none, 1, names, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "no request is named '/c'"));
    assert_non_null(strstr(err, "/a, /b"));
    stats_free(&st);
}

static void test_final_and_format(void **state)
{
    (void)state;
    assert_true(threshold_final_on_failure(T("p99<1ms")));
    assert_true(threshold_final_on_failure(T("rps>10")));
    assert_true(threshold_final_on_failure(T("failures<10")));
    assert_true(threshold_final_on_failure(T("requests<=10")));
    assert_false(threshold_final_on_failure(T("requests>=10")));
    assert_false(threshold_final_on_failure(T("failures==0")));
    assert_false(threshold_final_on_failure(T("requests>10")));

    char b[64];
    threshold_metric_label(T("p99.9<1ms"), b, sizeof b);
    assert_string_equal(b, "p99.9");
    threshold_metric_label(T("avg<1ms"), b, sizeof b);
    assert_string_equal(b, "mean");
    threshold_format_value(T("p99<1ms"), 1234, b, sizeof b);
    assert_string_equal(b, "1.23ms");
    threshold_format_value(T("p99<1s"), 1234000, b, sizeof b);
    assert_string_equal(b, "1.234s");
    threshold_format_value(T("p99<1us"), 1234, b, sizeof b);
    assert_string_equal(b, "1234us");
    threshold_format_value(T("fail_ratio<1%"), 0.0125, b, sizeof b);
    assert_string_equal(b, "0.0125");
    threshold_format_value(T("rps>1"), 12.345, b, sizeof b);
    assert_string_equal(b, "12.35");
    threshold_format_value(T("requests>1"), 12, b, sizeof b);
    assert_string_equal(b, "12");
    assert_string_equal(threshold_op_str(THRESHOLD_GE), ">=");
    assert_string_equal(threshold_base_unit(T("max<1s")), "us");
    assert_string_equal(threshold_base_unit(T("rps<1")), "req/s");
}

static load_config_status_t cfg_parse(load_config_t *c, const char *const *args)
{
    char *argv[32] = {"pixload"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    err[0] = '\0';
    return load_config_parse(c, argc, argv, 2, err, sizeof err);
}

static void test_config_options(void **state)
{
    (void)state;
    load_config_t c;
    assert_int_equal(cfg_parse(&c, (const char *[]){"http://h/", NULL}), LOAD_CONFIG_RUN);
    assert_int_equal(c.nthresholds, 0);
    assert_false(c.abort_on_fail);
    assert_int_equal(c.abort_delay_ms, 10000);
    assert_null(c.html_out);
    assert_null(c.latency_log);
    assert_true(c.start_at == 0);
    load_config_free(&c);

    assert_int_equal(cfg_parse(&c, (const char *[]){"--threshold", "p99<200ms", "--threshold=fail_ratio<0.01",
                                                    "--abort-on-fail", "--abort-delay", "5s", "--html", "r.html",
                                                    "--latency-log=l.tsv", "--start-at", "2026-12-06T19:00:00Z",
                                                    "http://h/", NULL}),
                     LOAD_CONFIG_RUN);
    assert_int_equal(c.nthresholds, 2);
    assert_string_equal(c.thresholds[1].expr, "fail_ratio<0.01");
    assert_true(c.abort_on_fail);
    assert_int_equal(c.abort_delay_ms, 5000);
    assert_string_equal(c.html_out, "r.html");
    assert_string_equal(c.latency_log, "l.tsv");
    assert_true(c.start_at == 1796583600.0);
    load_config_free(&c);

    assert_int_equal(cfg_parse(&c, (const char *[]){"--threshold", "p99<5", "http://h/", NULL}), LOAD_CONFIG_ERROR);
    assert_non_null(strstr(err, "--threshold 'p99<5': a latency limit needs a unit"));
    load_config_free(&c);
    assert_int_equal(cfg_parse(&c, (const char *[]){"--abort-on-fail", "http://h/", NULL}), LOAD_CONFIG_ERROR);
    assert_non_null(strstr(err, "needs at least one --threshold"));
    load_config_free(&c);
    assert_int_equal(cfg_parse(&c, (const char *[]){"--threshold", "p99<1s", "--abort-delay", "3s", "http://h/", NULL}),
                     LOAD_CONFIG_ERROR);
    assert_non_null(strstr(err, "--abort-delay applies to --abort-on-fail"));
    load_config_free(&c);
    assert_int_equal(cfg_parse(&c, (const char *[]){"--threshold", "p99<1s", "--abort-on-fail", "--abort-delay", "0",
                                                    "http://h/", NULL}),
                     LOAD_CONFIG_RUN);
    assert_int_equal(c.abort_delay_ms, 0);
    load_config_free(&c);
    assert_int_equal(cfg_parse(&c, (const char *[]){"--start-at", "tomorrow", "http://h/", NULL}), LOAD_CONFIG_ERROR);
    assert_non_null(strstr(err, "--start-at: invalid time 'tomorrow'"));
    load_config_free(&c);
    assert_int_equal(cfg_parse(&c, (const char *[]){"--html", "", "http://h/", NULL}), LOAD_CONFIG_ERROR);
    load_config_free(&c);
    assert_non_null(strstr(load_config_usage(), "--threshold EXPR"));
    assert_non_null(strstr(load_config_usage(), "99 when a --threshold failed"));
}

static void test_wall_time(void **state)
{
    (void)state;
    double t;
    assert_int_equal(load_parse_wall_time("1796583600", &t), 0);
    assert_true(t == 1796583600.0);
    assert_int_equal(load_parse_wall_time("1796583600.25", &t), 0);
    assert_true(t == 1796583600.25);
    assert_int_equal(load_parse_wall_time("2026-12-06T19:00:00Z", &t), 0);
    assert_true(t == 1796583600.0);
    assert_int_equal(load_parse_wall_time("2026-12-06T19:00:00.5Z", &t), 0);
    assert_true(t == 1796583600.5);
    assert_int_equal(load_parse_wall_time("2026-12-06T19:00:00+00:00", &t), 0);
    assert_true(t == 1796583600.0);
    assert_int_equal(load_parse_wall_time("2024-02-29T00:00:00Z", &t), 0); /* a leap day */
    assert_true(t == 1709164800.0);
    static const char *const bad[] = {"",
                                      "now",
                                      "-5",
                                      "0",
                                      "1796583600x",
                                      "1e9",
                                      "2026-12-06",
                                      "2026-12-06T19:00:00",     /* no zone: UTC must be said */
                                      "2026-12-06T19:00:00+01:00", /* only UTC */
                                      "2026-12-06 19:00:00Z",
                                      "2026-13-06T19:00:00Z",
                                      "2026-02-30T00:00:00Z",
                                      "2025-02-29T00:00:00Z",
                                      "2026-12-06T24:00:00Z",
                                      "2026-12-06T19:60:00Z",
                                      "2026-12-06T19:00:60Z",
                                      "1969-12-31T23:59:59Z",
                                      "2026-12-06T19:00:00.Z",
                                      "2026-12-6T19:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (load_parse_wall_time(bad[i], &t) == 0) fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_metrics), cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_parse_malformed), cmocka_unit_test(test_eval),
        cmocka_unit_test(test_per_name),       cmocka_unit_test(test_final_and_format),
        cmocka_unit_test(test_config_options), cmocka_unit_test(test_wall_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
