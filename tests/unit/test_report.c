/* report: locust CSV headers and rows byte for byte (values worked out by hand from
 * locust 2.12's stats.py), Python float repr, the text summary, JSON and the status line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/report.h"

static char dir[64];
static char err[512];
static load_config_t cfg;
static scenario_t sc;
static stats_t st;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixload-test-report-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int cleanup(void **state)
{
    stats_free(&st);
    scenario_free(&sc);
    load_config_free(&cfg);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_file(const char *suffix, const char *want)
{
    char path[160];
    snprintf(path, sizeof path, "%s/run%s", dir, suffix);
    const char *got = slurp(path);
    if (strcmp(got, want) != 0) fail_msg("%s\n--- got\n%s--- want\n%s", suffix, got, want);
}

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    static char buf[16384];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    fn(f, arg);
    fclose(f);
    return buf;
}

/* Two request names: "GET /a" and "POST b,c" (a comma: the CSV must quote it). */
static void make_run(void)
{
    char *argv[] = {"pixload", "-c", "5", "-t", "2s", "http://h:8080/"};
    assert_int_equal(load_config_parse(&cfg, 6, argv, 2, err, sizeof err), LOAD_CONFIG_RUN);
    static const char json[] =
        "[{\"path\": \"/a\"}, {\"name\": \"b,c\", \"method\": \"POST\", \"path\": \"/b\"}]";
    if (scenario_build_json(&sc, &cfg, json, strlen(json), NULL, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(sc.nstats, 2);
    assert_int_equal(stats_init(&st, sc.nstats), 0);
    /* Latencies chosen away from locust's rounding boundaries (the histogram is within
     * 0.79 %): 1.2 ms rounds to 1, 2.6 ms to 3, 120 ms stays 120. */
    stats_record(&st.entries[0], 1200, 200, 100, STATS_OK);
    stats_record(&st.entries[0], 2600, 200, 100, STATS_OK);
    stats_record(&st.entries[0], 120000, 500, 100, STATS_ERR_STATUS);
    stats_record(&st.entries[1], STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
    st.bytes_read = 4096;
}

static const char stats_header[] =
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%\r\n";
static const char history_header[] =
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size\r\n";
static const char failures_header[] = "Method,Name,Error,Occurrences\r\n";
static const char exceptions_header[] = "Count,Message,Traceback,Nodes\r\n";

static void header_to(FILE *f, const void *which)
{
    report_csv_header(f, *(const report_csv_file_t *)which);
}

static void test_headers(void **state)
{
    /* Exactly what Debian's python3-locust 2.12 writes (tests/integration compares live). */
    report_csv_file_t w = REPORT_CSV_STATS;
    assert_string_equal(capture(header_to, &w), stats_header);
    w = REPORT_CSV_HISTORY;
    assert_string_equal(capture(header_to, &w), history_header);
    w = REPORT_CSV_FAILURES;
    assert_string_equal(capture(header_to, &w), failures_header);
    w = REPORT_CSV_EXCEPTIONS;
    assert_string_equal(capture(header_to, &w), exceptions_header);
}

static void test_pyfloat(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0x0.0p+0, "0.0"},
        {0x1.0p+0, "1.0"},
        {0x1.0cp+9, "536.0"},
        {0x1.999999999999ap-4, "0.1"},
        {0x1.5555555555555p-2, "0.3333333333333333"},
        {0x1.1c37937e08000p+53, "1e+16"},
        {0x1.f75104d551d69p-17, "1.5e-05"},
        {0x1.a36e2eb1c432dp-14, "0.0001"},
        {0x1.c12218377de66p+46, "123456789012345.6"},
        {0x1.c6bf526340000p+49, "1000000000000000.0"},
        {0x1.fa2e0aa2a0618p+0, "1.9772650382077526"},
        {0x1.7b9dc00cdd021p+9, "759.2324234084264"},
        {-0x1.4p+1, "-2.5"},
        {0x1.0p+60, "1.152921504606847e+18"},
        {0x0.0000000000001p-1022, "5e-324"},
        {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
        {0x1.0aaaaaaaaaaabp+5, "33.333333333333336"},
        {0x1.ee30446b69db6p-1, "0.965212"},
        {0x1.92cb252cdc400p+3, "12.58729799997127"},
        {0x1.1c37937e07fffp+53, "9999999999999998.0"},
        {0x1.02e4b6ce5dc68p-13, "0.00012345"},
        {0x1.a8310bc7a31bfp-27, "1.23456e-08"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[40];
        size_t n = report_pyfloat(buf, sizeof buf, cases[i].v);
        assert_int_equal(n, strlen(cases[i].want));
        assert_string_equal(buf, cases[i].want);
    }
}

static void test_csv_rows(void **state)
{
    make_run();
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    report_csv_t *csv = report_csv_open(prefix, false, &sc, 1000.25, err, sizeof err);
    assert_non_null(csv);
    /* Headers are on disk as soon as the set is open. */
    assert_file("_stats.csv", stats_header);
    assert_file("_failures.csv", failures_header);
    assert_file("_exceptions.csv", exceptions_header);
    assert_int_equal(report_csv_history(csv, &st, 1002.25, 5, 0), 0);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.25, .duration_s = 2.0};
    assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);

    /* Per row, from locust's definitions: median = rounded time at (n-1)/2 (an int below
     * 100 ms); avg = sum / timed requests; min/max exact floats; content = bytes / requests;
     * Requests/s = requests / run length; percentile p = rounded time at int(n * p), with
     * untimed requests counted in n (they sort below everything). */
    char want[2048];
    snprintf(
        want, sizeof want,
        "%s"
        "GET,/a,3,1,3,41.266666666666666,1.2,120.0,100.0,1.5,0.5,3,3,120,120,120,120,120,120,120,120,120\r\n"
        "POST,\"b,c\",1,1,0,0.0,0,0,0.0,0.5,0.5,0,0,0,0,0,0,0,0,0,0,0\r\n"
        ",Aggregated,4,2,3,41.266666666666666,1.2,120.0,75.0,2.0,1.0,3,3,120,120,120,120,120,120,120,120,"
        "120\r\n",
        stats_header);
    assert_file("_stats.csv", want);
    snprintf(want, sizeof want,
             "%s"
             "GET,/a,HTTPError('500 Server Error for url: /a'),1\r\n"
             "POST,\"b,c\",ConnectionError('connect failed'),1\r\n",
             failures_header);
    assert_file("_failures.csv", want);
    /* Default history: the Aggregated row only, run-wide percentiles, rates since the start. */
    snprintf(want, sizeof want,
             "%s1002,5,,Aggregated,2.000000,1.000000,3,3,120,120,120,120,120,120,120,120,120,4,2,3,"
             "41.266666666666666,1.2,120.0,75.0\r\n",
             history_header);
    assert_file("_stats_history.csv", want);
    assert_file("_exceptions.csv", exceptions_header);
}

static void test_csv_full_history(void **state)
{
    make_run();
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    report_csv_t *csv = report_csv_open(prefix, true, &sc, 1000.0, err, sizeof err);
    assert_non_null(csv);
    assert_int_equal(report_csv_history(csv, &st, 1001.0, 2, 0), 0);
    /* One more second: only a fast request on /a. The window percentiles see just it. */
    stats_record(&st.entries[0], 5200, 200, 100, STATS_OK);
    assert_int_equal(report_csv_history(csv, &st, 1002.0, 3, 0), 0);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.0, .duration_s = 2.0};
    assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);
    char want[4096];
    snprintf(want, sizeof want,
             "%s"
             "1001,2,GET,/"
             "a,3.000000,1.000000,3,3,120,120,120,120,120,120,120,120,120,3,1,3,41.266666666666666,1.2,"
             "120.0,100.0\r\n"
             "1001,2,POST,\"b,c\",1.000000,1.000000,0,0,0,0,0,0,0,0,0,0,0,1,1,0,0.0,0,0,0.0\r\n"
             "1001,2,,Aggregated,4.000000,2.000000,3,3,120,120,120,120,120,120,120,120,120,4,2,3,41."
             "266666666666666,"
             "1.2,120.0,75.0\r\n"
             /* Window = since 1000.0 (the oldest snapshot): 4 requests in 2 s on /a. */
             "1002,3,GET,/"
             "a,2.000000,0.500000,5,5,120,120,120,120,120,120,120,120,120,4,1,3,32.25,1.2,120.0,100.0\r\n"
             "1002,3,POST,\"b,c\",0.500000,0.500000,0,0,0,0,0,0,0,0,0,0,0,1,1,0,0.0,0,0,0.0\r\n"
             "1002,3,,Aggregated,2.500000,1.000000,3,5,5,120,120,120,120,120,120,120,120,5,2,3,32.25,1.2,120."
             "0,80.0\r\n",
             history_header);
    assert_file("_stats_history.csv", want);
}

static void test_csv_empty_run(void **state)
{
    make_run();
    stats_reset(&st);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    report_csv_t *csv = report_csv_open(prefix, false, &sc, 1000.0, err, sizeof err);
    assert_non_null(csv);
    assert_int_equal(report_csv_history(csv, &st, 1001.0, 0, 0), 0);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.0, .duration_s = 1.0};
    assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);
    /* As locust writes a run without requests (seen in its own files). */
    char want[1024];
    snprintf(want, sizeof want,
             "%s,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n",
             stats_header);
    assert_file("_stats.csv", want);
    snprintf(want, sizeof want,
             "%s1001,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/"
             "A,0,0,0,0.0,0,0,0\r\n",
             history_header);
    assert_file("_stats_history.csv", want);
    assert_file("_failures.csv", failures_header);
}

static void test_csv_median_formats(void **state)
{
    make_run();
    stats_reset(&st);
    /* 150 ms: locust keeps round(150, -1), a float. */
    stats_record(&st.entries[0], 150000, 200, 0, STATS_OK);
    /* 2.4 ms alone: round() gives 2 < min 2.4, so the median is the min (a float). */
    stats_record(&st.entries[1], 2400, 200, 0, STATS_OK);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    report_csv_t *csv = report_csv_open(prefix, false, &sc, 0, err, sizeof err);
    assert_non_null(csv);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 0, .duration_s = 4.0};
    assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "%s"
             "GET,/a,1,0,150.0,150.0,150.0,150.0,0.0,0.25,0.0,150,150,150,150,150,150,150,150,150,150,150\r\n"
             "POST,\"b,c\",1,0,2.4,2.4,2.4,2.4,0.0,0.25,0.0,2,2,2,2,2,2,2,2,2,2,2\r\n"
             ",Aggregated,2,0,2.4,76.2,2.4,150.0,0.0,0.5,0.0,150,150,150,150,150,150,150,150,150,150,150\r\n",
             stats_header);
    assert_file("_stats.csv", want);
}

static void test_csv_open_error(void **state)
{
    make_run();
    assert_null(report_csv_open("/nonexistent/dir/run", false, &sc, 0, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/run_stats.csv"));
}

static void text_to(FILE *f, const void *r)
{
    report_text(f, r);
}

static void banner_to(FILE *f, const void *c)
{
    report_banner(f, c);
}

static void test_text(void **state)
{
    make_run();
    hist_record(&st.req_rate, 1500);
    hist_record(&st.req_rate, 2500);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 0, .duration_s = 2.0, .interrupted = true};
    const char *out = capture(text_to, &r);
    static const char *const lines[] = {
        "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n",
        "    Latency    41.27ms   68.",
        "    Req/Sec     2.00k   707.",
        "  4 requests in 2.00s, 4.00KB read (interrupted)\n",
        "  Socket errors: connect 1, read 0, write 0, timeout 0\n",
        "  Unexpected status responses: 1\n",
        "Requests/sec:      2.00\n",
        "Transfer/sec:      2.00KB\n",
        "Percentage of the requests served within a certain time (ms)\n",
        "  50%      3\n",
        "  66%      3\n",
        "  75%    120\n",
        " 100%    120 (longest request)\n",
        "Status codes:\n  200  2\n  500  1 (1 failed)\n",
        "Failures: 2 of 4 (50.00%): connect 1, read 0, write 0, timeout 0, tls 0, status 1, min-bytes 0\n",
        "GET      /a",
        "POST     b,c",
        "         Aggregated",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        if (!strstr(out, lines[i])) fail_msg("summary lacks '%s':\n%s", lines[i], out);
    }
    const char *banner = capture(banner_to, &cfg);
    assert_string_equal(banner, "Running 2s test @ http://h:8080/\n  2 threads and 5 connections\n");
}

static void test_json(void **state)
{
    make_run();
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.5, .duration_s = 2.0};
    char path[128];
    snprintf(path, sizeof path, "%s/r.json", dir);
    assert_int_equal(report_json(&r, path, err, sizeof err), 0);
    const char *j = slurp(path);
    static const char *const parts[] = {
        "\"url\": \"http://h:8080/\"",
        "\"start_time\": 1000.5",
        "\"duration_s\": 2.0",
        "\"threads\": 2",
        "\"connections\": 5",
        "\"bytes_read\": 4096",
        "\"total\": {\"requests\": 4, \"failures\": 2",
        "\"requests_per_s\": 2.0",
        "\"status\": {\"200\": 2, \"500\": 1}",
        "\"failed_status\": {\"500\": 1}",
        ("\"errors\": {\"connect\": 1, \"read\": 0, \"write\": 0, \"timeout\": 0, \"tls\": 0, "
         "\"status\": 1, \"min-bytes\": 0}"),
        "{\"name\": \"b,c\", \"method\": \"POST\"",
        "\"percentiles\": {\"50\": ",
    };
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        if (!strstr(j, parts[i])) fail_msg("JSON lacks '%s':\n%s", parts[i], j);
    }
    /* Valid JSON, checked by Python when it is there. */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' %s",
                 path);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(report_json(&r, "/nonexistent/x.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
}

/* Locust's own StatsEntry/StatsCSV fed the same requests (from a file the test writes)
 * must produce the same stats.csv: identical except that a median or percentile may be one
 * locust rounding step away (the histogram is 0.79 % precise; locust rounds exact times),
 * and the average's last digits (locust adds float milliseconds, pixload integer µs). */
static const char py_locust[] =
    "import csv, io, sys\n"
    "from locust.stats import RequestStats, StatsCSV, PERCENTILES_TO_REPORT\n"
    "data, ours_path, dur = sys.argv[1], sys.argv[2], float(sys.argv[3])\n"
    "names = [('/a', 'GET'), ('b,c', 'POST')]\n"
    "stats = RequestStats(use_response_times_cache=False)\n"
    "for line in open(data):\n"
    "    slot, us, content, fail = map(int, line.split())\n"
    "    name, method = names[slot]\n"
    "    stats.log_request(method, name, us / 1000.0, content)\n"
    "    if fail: stats.log_error(method, name, 'x')\n"
    "stats.total.start_time, stats.total.last_request_timestamp = 1000.0, 1000.0 + dur\n"
    "class Env: pass\n"
    "env = Env(); env.stats = stats\n"
    "buf = io.StringIO(); StatsCSV(env, PERCENTILES_TO_REPORT).requests_csv(csv.writer(buf))\n"
    "theirs = list(csv.reader(io.StringIO(buf.getvalue())))\n"
    "ours = list(csv.reader(open(ours_path, newline='')))\n"
    "assert len(ours) == len(theirs), (ours, theirs)\n"
    "for o, t in zip(ours, theirs):\n"
    "    assert len(o) == len(t), (o, t)\n"
    "    for col, a, b in zip(ours[0], o, t):\n"
    "        if a == b: continue\n"
    "        if col.startswith('Average Response'):  # float sums in another order: last digits\n"
    "            assert abs(float(a) - float(b)) <= 1e-12 * float(b), (col, a, b); continue\n"
    "        assert col.endswith('%') or col.startswith('Median'), (col, a, b, o, t)\n"
    "        fb = float(b); step = 1 if fb < 100 else 10 if fb < 1000 else 100 if fb < 10000 else 1000\n"
    "        assert abs(float(a) - fb) <= step and ('.' in a) == ('.' in b), (col, a, b, o, t)\n";

static void test_csv_matches_locust(void **state)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import locust.stats' 2>/dev/null") != 0) {
        print_message("skipping: Debian's python3-locust is not installed\n");
        return;
    }
    char data[128], script[128], prefix[128], cmd[512];
    snprintf(data, sizeof data, "%s/requests.txt", dir);
    snprintf(script, sizeof script, "%s/locust_check.py", dir);
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(py_locust, f);
    fclose(f);
    uint64_t x = 12345;
    static const size_t sizes[] = {1, 2, 3, 10, 1000, 20000};
    for (size_t trial = 0; trial < sizeof sizes / sizeof *sizes; trial++) {
        make_run();
        stats_reset(&st);
        f = fopen(data, "w");
        assert_non_null(f);
        for (size_t i = 0; i < sizes[trial]; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned slot = (x >> 63) & 1, kind = (x >> 40) % 3;
            uint64_t us = kind == 0   ? 100 + (x >> 20) % 3000
                          : kind == 1 ? 3000 + (x >> 20) % 300000
                                      : 300000 + (x >> 20) % 20000000;
            uint64_t content = (x >> 8) % 5000;
            bool failed = (x >> 4) % 10 == 0;
            stats_record(&st.entries[slot], us, failed ? 500 : 200, content,
                         failed ? STATS_ERR_STATUS : STATS_OK);
            fprintf(f, "%u %llu %llu %d\n", slot, (unsigned long long)us, (unsigned long long)content,
                    failed);
        }
        fclose(f);
        report_csv_t *csv = report_csv_open(prefix, false, &sc, 1000.0, err, sizeof err);
        assert_non_null(csv);
        report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.0, .duration_s = 2.5};
        assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s_stats.csv 2.5", script, data, prefix);
        if (system(cmd) != 0) fail_msg("stats.csv differs from locust's for %zu requests", sizes[trial]);
        cleanup(NULL);
    }
}

static void test_status_line(void **state)
{
    report_live_t l = {.elapsed_s = 12.04,
                       .users = 100,
                       .requests = 578556,
                       .failures = 3,
                       .rps = 48213.04,
                       .p50_us = 1210,
                       .p99_us = 4560};
    char buf[256];
    size_t n = report_status_line(buf, sizeof buf, &l);
    assert_string_equal(buf,
                        "[  12.0s] users 100 | 48213.0 req/s | p50 1.21ms p99 4.56ms | requests 578556 | "
                        "errors 3 (0.00%)");
    assert_int_equal(n, strlen(buf));
    char small[10];
    assert_int_equal(report_status_line(small, sizeof small, &l), 9);
    assert_int_equal(strlen(small), 9);
    /* A plan's target closes the line. */
    l.target = 1050;
    l.target_unit = "req/s";
    report_status_line(buf, sizeof buf, &l);
    assert_non_null(strstr(buf, "errors 3 (0.00%) | target 1050.0 req/s"));
    assert_int_equal(report_status_line(small, sizeof small, &l), 9);
}

static void test_csv_target(void **state)
{
    make_run();
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/run", dir);
    report_csv_t *csv = report_csv_open(prefix, false, &sc, 1000.25, err, sizeof err);
    assert_non_null(csv);
    assert_int_equal(report_csv_add_target(csv, "Target Requests/s"), 0);
    assert_int_equal(report_csv_history(csv, &st, 1002.25, 5, 1050), 0);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &st, .start_wall = 1000.25, .duration_s = 2.0};
    assert_int_equal(report_csv_finish(csv, &r, err, sizeof err), 0);
    /* locust's columns unchanged, the target last. */
    char want[2048], head[1024];
    snprintf(head, sizeof head, "%.*s,Target Requests/s\r\n", (int)strlen(history_header) - 2, history_header);
    snprintf(want, sizeof want,
             "%s1002,5,,Aggregated,2.000000,1.000000,3,3,120,120,120,120,120,120,120,120,120,4,2,3,"
             "41.266666666666666,1.2,120.0,75.0,1050.0\r\n",
             head);
    assert_file("_stats_history.csv", want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_pyfloat),
        cmocka_unit_test_teardown(test_csv_rows, cleanup),
        cmocka_unit_test_teardown(test_csv_full_history, cleanup),
        cmocka_unit_test_teardown(test_csv_target, cleanup),
        cmocka_unit_test_teardown(test_csv_empty_run, cleanup),
        cmocka_unit_test_teardown(test_csv_median_formats, cleanup),
        cmocka_unit_test_teardown(test_csv_open_error, cleanup),
        cmocka_unit_test_teardown(test_text, cleanup),
        cmocka_unit_test_teardown(test_json, cleanup),
        cmocka_unit_test_teardown(test_csv_matches_locust, cleanup),
        cmocka_unit_test(test_status_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
