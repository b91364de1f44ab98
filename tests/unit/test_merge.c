/* merge and what it stands on: runs written as --json-out documents, read back (runfile.h) and
 * merged (merge.h) give exact counts and the histograms of all samples together, so merged
 * percentiles match the concatenated samples within the histogram's 0.79 %; the per-second
 * series merge by wall-clock second; the reader refuses other schema versions and malformed
 * documents with a message naming the problem; `pixload merge` exits 0, 99 (a threshold failed)
 * or 2 (bad file or argument). Also the sample log (latlog.h) and the HTML page's escaping and
 * charts (html.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/html.h"
#include "load/latlog.h"
#include "load/merge.h"
#include "load/report.h"
#include "load/runfile.h"
#include "load/series.h"

static char dir[64];
static char err[1024];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixload-test-merge-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint64_t lognormal(double mu, double sigma)
{
    double u1 = uniform01(), u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    double v = exp(mu + sigma * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
    return v > 9e7 ? 90000000 : (uint64_t)v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- runs to merge */

#define SECONDS 3

typedef struct {
    load_config_t cfg;
    scenario_stat_t names[3];
    scenario_t sc;
    stats_t st;
    series_t series;
    uint64_t *samples; /* every latency recorded, in order */
    size_t nsamples;
    double start;
    char path[128];
} run_t;

/* A run of n requests spread over SECONDS seconds from start, over the given names, latencies
 * log-normal around e^mu µs; every 50th fails with 503, every 97th has no latency (connect). */
static void make_run(run_t *r, const char *file, double start, size_t n, double mu, const char *url,
                     const scenario_stat_t *names, size_t nnames, bool h2)
{
    memset(r, 0, sizeof *r);
    char *argv[] = {"pixload", "-c", "7", "--threads", "3", h2 ? "--h2" : "-q", (char *)url};
    assert_int_equal(load_config_parse(&r->cfg, 7, argv, 4, err, sizeof err), LOAD_CONFIG_RUN);
    memcpy(r->names, names, nnames * sizeof *names);
    r->sc.stats = r->names;
    r->sc.nstats = nnames;
    assert_int_equal(stats_init(&r->st, nnames), 0);
    series_init(&r->series);
    r->samples = malloc(n * sizeof *r->samples);
    r->start = start;
    static stats_entry_t now, prev;
    memset(&prev, 0, sizeof prev);
    hist_reset(&prev.latency);
    for (size_t i = 0; i < n; i++) {
        stats_entry_t *e = &r->st.entries[i % nnames];
        if (i % 97 == 5) {
            stats_record(e, STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
        } else {
            uint64_t v = lognormal(mu, 0.8);
            r->samples[r->nsamples++] = v;
            bool bad = i % 50 == 0;
            stats_record(e, v, bad ? 503 : 200, 100 + i % 7, bad ? STATS_ERR_STATUS : STATS_OK);
        }
        if ((i + 1) % (n / SECONDS) == 0) { /* a second of the run ends */
            stats_aggregate(&r->st, &now);
            size_t sec = (i + 1) / (n / SECONDS);
            assert_int_equal(series_add_window(&r->series, start + (double)sec, 1, &now, &prev, 7, 0), 0);
            prev = now;
        }
    }
    for (int k = 0; k < 4; k++)
        hist_record(&r->st.req_rate, 1000 + rnd() % 100);
    r->st.bytes_read = n * 700;
    r->st.bytes_written = n * 90;
    r->st.connects = 7 + n / 97;
    snprintf(r->path, sizeof r->path, "%s/%s", dir, file);
    char host[16];
    snprintf(host, sizeof host, "gen-%s", file);
    report_t rep = {.cfg = &r->cfg, .sc = &r->sc, .st = &r->st, .start_wall = start, .duration_s = SECONDS,
                    .host = host, .series = &r->series};
    assert_int_equal(report_json(&rep, r->path, err, sizeof err), 0);
}

static void free_run(run_t *r)
{
    stats_free(&r->st);
    series_free(&r->series);
    free(r->samples);
    load_config_free(&r->cfg);
}

static const stats_entry_t *find(const merged_t *m, const char *name, const char *method)
{
    for (size_t i = 0; i < m->sc.nstats; i++)
        if (!strcmp(m->sc.stats[i].name, name) && !strcmp(m->sc.stats[i].method, method)) return &m->st.entries[i];
    fail_msg("no %s %s in the merge", method, name);
    return NULL;
}

static void test_merge_exact(void **state)
{
    rng_state = 42;
    static run_t a, b;
    const scenario_stat_t na[] = {{"/a", "GET"}, {"/b", "POST"}}, nb[] = {{"/b", "POST"}, {"/c", "GET"}};
    make_run(&a, "a.json", 1000.0, 30000, 7.0, "http://10.0.0.1:8080/", na, 2, false);
    make_run(&b, "b.json", 1000.3, 21000, 8.5, "http://10.0.0.1:8080/", nb, 2, false);

    runfile_t runs[2];
    assert_int_equal(runfile_read(&runs[0], a.path, err, sizeof err), 0);
    assert_int_equal(runfile_read(&runs[1], b.path, err, sizeof err), 0);
    /* read back exactly */
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(memcmp(&runs[0].st.entries[i], &a.st.entries[i], sizeof a.st.entries[i]), 0);
        assert_int_equal(memcmp(&runs[1].st.entries[i], &b.st.entries[i], sizeof b.st.entries[i]), 0);
    }
    assert_int_equal(memcmp(&runs[0].st.req_rate, &a.st.req_rate, sizeof a.st.req_rate), 0);
    assert_string_equal(runs[1].host, "gen-b.json");
    assert_true(runs[1].start_wall == 1000.3);
    assert_int_equal(runs[0].series.n, SECONDS);

    const char *files[] = {a.path, b.path};
    merged_t m;
    assert_int_equal(merge_runs(&m, runs, 2, files, err, sizeof err), 0);
    /* names: the union, in order of first appearance; counts add */
    assert_int_equal(m.sc.nstats, 3);
    assert_string_equal(m.sc.stats[0].name, "/a");
    assert_string_equal(m.sc.stats[1].name, "/b");
    assert_string_equal(m.sc.stats[2].name, "/c");
    const stats_entry_t *mb = find(&m, "/b", "POST");
    static stats_entry_t want;
    memset(&want, 0, sizeof want);
    hist_reset(&want.latency);
    stats_entry_merge(&want, &a.st.entries[1]);
    stats_entry_merge(&want, &b.st.entries[0]);
    assert_int_equal(memcmp(mb, &want, sizeof want), 0); /* every count and bucket */
    assert_int_equal(memcmp(find(&m, "/a", "GET"), &a.st.entries[0], sizeof want), 0);
    assert_int_equal(memcmp(find(&m, "/c", "GET"), &b.st.entries[1], sizeof want), 0);

    static stats_entry_t agg;
    stats_aggregate(&m.st, &agg);
    assert_int_equal(agg.requests, 51000);
    uint64_t connects = 0, failed = 0;
    for (size_t i = 0; i < 51000; i++) {
        size_t k = i < 30000 ? i : i - 30000;
        connects += k % 97 == 5;
        failed += k % 97 != 5 && k % 50 == 0;
    }
    assert_int_equal(agg.errors[STATS_ERR_CONNECT], connects);
    assert_int_equal(agg.errors[STATS_ERR_STATUS], failed);
    assert_int_equal(agg.failures, connects + failed);
    assert_int_equal(agg.status[stats_status_slot(503)], failed);
    assert_int_equal(agg.latency.count, a.nsamples + b.nsamples);
    assert_int_equal(m.st.bytes_read, 51000 * 700);
    assert_int_equal(m.st.connects, a.st.connects + b.st.connects);
    assert_int_equal(m.st.req_rate.count, 8);

    /* percentiles of the merge against the concatenated samples */
    size_t n = a.nsamples + b.nsamples;
    uint64_t *all = malloc(n * sizeof *all);
    memcpy(all, a.samples, a.nsamples * sizeof *all);
    memcpy(all + a.nsamples, b.samples, b.nsamples * sizeof *all);
    qsort(all, n, sizeof *all, cmp_u64);
    static const double pcts[] = {1, 10, 50, 75, 90, 95, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
        double exact = (double)all[hist_percentile_rank(n, pcts[i])];
        double got = (double)hist_percentile(&agg.latency, pcts[i]);
        if (fabs(got - exact) > exact / 128 + 1)
            fail_msg("p%g: merged %g, concatenated samples %g", pcts[i], got, exact);
    }
    assert_int_equal(hist_min(&agg.latency), all[0]);
    assert_int_equal(hist_max(&agg.latency), all[n - 1]);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += all[i];
    assert_int_equal(agg.latency.sum, sum);
    free(all);

    /* the run as a whole: earliest start to latest end, the generators' connections */
    assert_true(m.start_wall == 1000.0);
    assert_true(fabs(m.duration_s - 3.3) < 1e-9);
    assert_int_equal(m.cfg.connections, 14);
    assert_int_equal(m.cfg.threads, 6);
    assert_string_equal(m.protocol, "http/1.1");
    assert_string_equal(m.hosts, "gen-a.json, gen-b.json");
    assert_false(m.urls_differ);
    assert_int_equal(m.nsources, 2);
    assert_int_equal(m.sources[1].requests, 21000);

    /* the series: a.json ends its seconds at 1001.0, 1002.0, 1003.0 and b.json at 1001.3...:
     * filed under the same Unix seconds, they add */
    assert_int_equal(m.series.n, SECONDS);
    uint64_t total = 0;
    for (size_t i = 0; i < m.series.n; i++) {
        const series_point_t *p = &m.series.p[i];
        assert_int_equal(series_second(p), 1001 + (int64_t)i);
        assert_int_equal(p->requests, a.series.p[i].requests + b.series.p[i].requests);
        assert_int_equal(p->users, 14);
        uint64_t c = 0;
        for (size_t k = 0; k < p->nbuckets; k++)
            c += p->buckets[k].count;
        total += p->requests;
        assert_true(c <= p->requests);
    }
    assert_int_equal(total, 51000);

    /* written and merged again: the same */
    report_t rep = {.cfg = &m.cfg, .sc = &m.sc, .st = &m.st, .start_wall = m.start_wall, .duration_s = m.duration_s,
                    .protocol = m.protocol, .host = m.hosts, .series = &m.series, .sources = m.sources,
                    .nsources = m.nsources};
    char path[160];
    snprintf(path, sizeof path, "%s/ab.json", dir);
    assert_int_equal(report_json(&rep, path, err, sizeof err), 0);
    runfile_t again;
    assert_int_equal(runfile_read(&again, path, err, sizeof err), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(memcmp(&again.st.entries[i], &m.st.entries[i], sizeof want), 0);
    assert_int_equal(again.cfg.connections, 14);
    assert_int_equal(again.series.n, SECONDS);
    runfile_free(&again);

    merged_free(&m);
    runfile_free(&runs[0]);
    runfile_free(&runs[1]);
    free_run(&a);
    free_run(&b);
}

/* ---------------------------------------------------------------- the command */

/* merge_main with stdout sent to /dev/null; returns its exit status. */
static int merge_cmd(const char *const *args)
{
    char *argv[32] = {"merge"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    int rc = merge_main(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(null);
    return rc;
}

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_merge_command(void **state)
{
    rng_state = 7;
    static run_t a, b, h;
    const scenario_stat_t na[] = {{"/a", "GET"}};
    make_run(&a, "c1.json", 2000.0, 3000, 7.0, "http://10.0.0.1:8080/", na, 1, false);
    make_run(&b, "c2.json", 2000.1, 3000, 7.0, "http://10.0.0.1:8080/", na, 1, false);
    make_run(&h, "c3.json", 2000.1, 3000, 7.0, "http://10.0.0.1:8080/", na, 1, true);
    char out[160], csv[160], html[160];
    snprintf(out, sizeof out, "%s/m.json", dir);
    snprintf(csv, sizeof csv, "%s/m", dir);
    snprintf(html, sizeof html, "%s/m.html", dir);
    assert_int_equal(merge_cmd((const char *[]){a.path, b.path, "--json-out", out, "--csv", csv, "--html", html,
                                                "--threshold", "requests==6000", "--threshold", "name=/a:p50<1s", NULL}),
                     0);
    runfile_t m;
    assert_int_equal(runfile_read(&m, out, err, sizeof err), 0);
    assert_int_equal(m.st.entries[0].requests, 6000);
    runfile_free(&m);
    char path[200];
    snprintf(path, sizeof path, "%s_stats_history.csv", csv);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(access(html, R_OK), 0);

    assert_int_equal(merge_cmd((const char *[]){a.path, b.path, "--threshold", "p50<1us", NULL}), 99);
    assert_int_equal(merge_cmd((const char *[]){a.path, "--threshold=requests>3000", NULL}), 99);
    assert_int_equal(merge_cmd((const char *[]){a.path, "--threshold", "p50<1", NULL}), 2);
    assert_int_equal(merge_cmd((const char *[]){a.path, "--threshold", "name=/zz:p50<1s", NULL}), 2);
    assert_int_equal(merge_cmd((const char *[]){a.path, h.path, NULL}), 2); /* http/1.1 and h2c */
    assert_int_equal(merge_cmd((const char *[]){NULL}), 2);
    assert_int_equal(merge_cmd((const char *[]){a.path, "--frobnicate", NULL}), 2);
    assert_int_equal(merge_cmd((const char *[]){a.path, "--csv", NULL}), 2);
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(merge_cmd((const char *[]){a.path, path, NULL}), 2);
    write_file("v2.json", "{\"schema\": \"pixload/2\"}", path, sizeof path);
    assert_int_equal(merge_cmd((const char *[]){a.path, path, NULL}), 2);
    write_file("broken.json", "{\"schema\": \"pixload/1\", ", path, sizeof path);
    assert_int_equal(merge_cmd((const char *[]){a.path, path, NULL}), 2);
    assert_int_equal(merge_cmd((const char *[]){"--help", NULL}), 0);
    free_run(&a);
    free_run(&b);
    free_run(&h);
}

/* ---------------------------------------------------------------- the reader */

static const char good[] =
    "{\"schema\": \"pixload/1\", \"protocol\": \"http/1.1\", \"start_time\": 100.5, \"duration_s\": 2.0,\n"
    " \"histogram_layout\": {\"exact_bits\": 7, \"sub_bits\": 6, \"highest\": 60000000},\n"
    " \"config\": {\"url\": \"http://h/\", \"connections\": 3},\n"
    " \"by_name\": [{\"name\": \"/a\", \"method\": \"GET\", \"requests\": 3, \"failures\": 1,\n"
    "   \"latency_us\": {\"count\": 2, \"min\": 5, \"max\": 301, \"sum\": 306, \"clamped\": 0,\n"
    "                  \"histogram\": [[5, 1], [300, 1]]},\n"
    "   \"status\": {\"200\": 2, \"503\": 1}, \"failed_status\": {\"503\": 1}, \"errors\": {\"status\": 1}}],\n"
    " \"future_member\": {\"ignored\": [1, 2, 3]}}\n";

/* good with the first `from` replaced by `to`: refused, with `why` in the message. */
static void refused(const char *from, const char *to, const char *why)
{
    char doc[4096];
    const char *at = strstr(good, from);
    if (!at) fail_msg("'%s' not in the document", from);
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    runfile_t r;
    err[0] = '\0';
    if (runfile_parse(&r, doc, strlen(doc), err, sizeof err) == 0) fail_msg("accepted with '%s' -> '%s'", from, to);
    if (!strstr(err, why)) fail_msg("'%s' -> '%s': message '%s' lacks '%s'", from, to, err, why);
    runfile_free(&r);
}

static void test_reader(void **state)
{
    (void)state;
    runfile_t r;
    if (runfile_parse(&r, good, strlen(good), err, sizeof err) != 0) fail_msg("refused: %s", err);
    assert_int_equal(r.sc.nstats, 1);
    const stats_entry_t *e = &r.st.entries[0];
    assert_int_equal(e->requests, 3);
    assert_int_equal(e->latency.count, 2);
    assert_int_equal(e->latency.min, 5);
    assert_int_equal(e->latency.max, 301);
    assert_int_equal(e->latency.buckets[hist__index(300)], 1);
    assert_int_equal(e->status_failed[stats_status_slot(503)], 1);
    assert_int_equal(r.cfg.connections, 3);
    assert_string_equal(r.host, "");
    runfile_free(&r);

    refused("\"schema\": \"pixload/1\", ", "", "no \"schema\"");
    refused("pixload/1", "pixload/2", "schema \"pixload/2\": this pixload reads pixload/1");
    refused("pixload/1", "pixload/10", "schema \"pixload/10\"");
    refused("pixload/1", "locust/1", "schema \"locust/1\"");
    refused("\"sub_bits\": 6", "\"sub_bits\": 5", "histogram layout");
    refused("\"protocol\": \"http/1.1\", ", "", "\"protocol\" is missing");
    refused("http/1.1", "spdy", "unknown protocol");
    refused("\"start_time\": 100.5", "\"start_time\": \"noon\"", "start_time must be a number");
    refused("\"start_time\": 100.5", "\"start_time\": -1", "negative");
    refused("\"url\": \"http://h/\"", "\"url\": \"ftp://h/\"", "invalid url");
    refused("\"connections\": 3", "\"connections\": -3", "connections must be a whole number");
    refused("\"connections\": 3", "\"connections\": 99999999999", "too large");
    refused("\"config\": {", "\"cfg\": {", "\"config\" is missing");
    refused("[300, 1]", "[301, 1]", "no bucket starts at 301");
    refused("[[5, 1], [300, 1]]", "[[300, 1], [5, 1]]", "out of order");
    refused("[[5, 1], [300, 1]]", "[[5, 1], [5, 1]]", "out of order or repeated");
    refused("[300, 1]", "[300, 0]", "an empty bucket");
    refused("[300, 1]", "[300, 2]", "the buckets hold 3 values, not the 2");
    refused("[300, 1]", "[300]", "[value, count] pair");
    refused("\"min\": 5", "\"min\": 4", "min or max outside");
    refused("\"max\": 301", "\"max\": 400", "min or max outside");
    refused("\"sum\": 306", "\"sum\": 1000", "\"sum\" does not fit");
    refused("\"clamped\": 0", "\"clamped\": 1", "\"clamped\" does not fit");
    refused("\"failures\": 1", "\"failures\": 2", "do not add up");
    refused("\"requests\": 3", "\"requests\": 1", "do not add up");
    refused("{\"status\": 1}", "{\"status\": 1, \"read\": 1}", "do not add up");
    refused("{\"status\": 1}", "{\"status\": 1, \"gremlins\": 0}", "unknown error kind 'gremlins'");
    refused("{\"status\": 1}", "{\"status\": 1, \"refused\": 1}", "did not speak HTTP/2");
    refused("\"failed_status\": {\"503\": 1}", "\"failed_status\": {\"200\": 3}", "more failed than received");
    refused("\"200\": 2", "\"2000\": 2", "'2000' is not a status code");
    refused("\"200\": 2", "\"200\": 2, \"200\": 1", "status 200 twice");
    refused("\"method\": \"GET\"", "\"method\": \"G T\"", "invalid method");
    refused("\"name\": \"/a\"", "\"name\": 5", "name must be a string");
    refused("\"name\": \"/a\"", "\"name\": \"a\\u0000b\"", "invalid string");
    refused("\"requests\": 3,", "\"requests\": 3.0,", "requests must be a whole number");
    refused("\"requests\": 3,", "\"requests\": 99999999999999999999,", "requests must be a whole number");
    refused("\"requests\": 3,", "\"requests\": tru,", "invalid value 'tru'");
    refused("\"by_name\": [{", "\"by_name\": [{\"name\": \"/a\", \"method\": \"GET\"}, {", "\"requests\" is missing");
    refused("\"by_name\": [", "\"by_name\": 7, \"x\": [", "\"by_name\" must be a list");
    refused("\"future_member\": {\"ignored\": [1, 2, 3]}}\n", "\"future_member\": 1}{}", "unexpected data after");
    refused("\"future_member\": {\"ignored\": [1, 2, 3]}}\n", "\"f\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
            "nested too deeply");
    refused("\"future_member\": {\"ignored\": [1, 2, 3]}}\n", "\"future_member\": {\"ignored\": [1, 2, 3]}",
            "ends too early");

    /* two runs of the same name and method in one document */
    char doc[4096];
    const char *entry = strstr(good, "{\"name\"");
    const char *end = strstr(good, "}}],") + 2;
    snprintf(doc, sizeof doc, "%.*s, %.*s%s", (int)(end - good), good, (int)(end - entry), entry, end);
    assert_int_equal(runfile_parse(&r, doc, strlen(doc), err, sizeof err), -1);
    assert_non_null(strstr(err, "GET /a twice"));
    runfile_free(&r);
    assert_int_equal(runfile_parse(&r, "", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    runfile_free(&r);
    assert_int_equal(runfile_parse(&r, "[1, 2]", 6, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a pixload --json-out document"));
    runfile_free(&r);
    assert_int_equal(runfile_parse(&r, "{\"a\" \"b\"}", 9, err, sizeof err), -1);
    runfile_free(&r);
    assert_int_equal(runfile_read(&r, "/nonexistent/x.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
}

/* ---------------------------------------------------------------- series */

static series_point_t point(double t, uint64_t requests, unsigned users, uint32_t bucket, series_bucket_t *b)
{
    b->index = bucket;
    b->count = requests;
    return (series_point_t){.t = t, .dt = 1, .requests = requests, .users = users, .buckets = b, .nbuckets = 1};
}

static void append(series_t *s, series_point_t p)
{
    assert_int_equal(series_append(s, &p), 0);
}

static void test_series(void **state)
{
    (void)state;
    series_t x, y, m;
    series_init(&x);
    series_init(&y);
    series_init(&m);
    series_bucket_t b[8];
    append(&x, point(10.0, 5, 2, 100, &b[0]));
    append(&x, point(11.0, 6, 2, 100, &b[1]));
    append(&x, point(11.2, 1, 1, 120, &b[2])); /* the run's short rest */
    append(&y, point(9.4, 7, 3, 100, &b[3]));
    append(&y, point(10.4, 8, 3, 90, &b[4]));
    append(&y, point(12.6, 9, 3, 100, &b[5]));
    assert_int_equal(series_merge(&m, &x), 0);
    assert_int_equal(m.n, 2); /* 11.0 and 11.2 are one second of one run */
    assert_int_equal(m.p[1].requests, 7);
    assert_int_equal(m.p[1].users, 1);
    assert_true(m.p[1].dt == 2);
    assert_int_equal(m.p[1].nbuckets, 2);
    assert_int_equal(series_merge(&m, &y), 0);
    /* seconds 9, 10, 11, 13 */
    assert_int_equal(m.n, 4);
    int64_t secs[] = {9, 10, 11, 13};
    uint64_t reqs[] = {7, 13, 7, 9};
    unsigned users[] = {3, 5, 1, 3};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(series_second(&m.p[i]), secs[i]);
        assert_int_equal(m.p[i].requests, reqs[i]);
        assert_int_equal(m.p[i].users, users[i]);
    }
    /* second 10: buckets 90 (8) and 100 (5), in order */
    assert_int_equal(m.p[1].nbuckets, 2);
    assert_int_equal(m.p[1].buckets[0].index, 90);
    assert_int_equal(m.p[1].buckets[0].count, 8);
    assert_int_equal(m.p[1].buckets[1].count, 5);
    hist_t *h = malloc(sizeof *h);
    series_point_hist(&m.p[1], h);
    assert_int_equal(h->count, 13);
    free(h);
    series_free(&x);
    series_free(&y);
    series_free(&m);
}

/* ---------------------------------------------------------------- the sample log */

static void test_latlog(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/lat.tsv", dir);
    const char *names[] = {"/a", "we\tird\\name"};
    latlog_t *l = latlog_open(path, names, 2, err, sizeof err);
    assert_non_null(l);
    latlog_set_clock(l, 5000000000ull, 1796583600.25);
    latlog_thread_t t1 = {0}, t2 = {0};
    assert_int_equal(latlog_thread_init(&t1, l), 0);
    assert_int_equal(latlog_thread_init(&t2, l), 0);
    size_t n1 = LATLOG_CHUNK * 2 + 17; /* over two chunks: handed to the writer on the way */
    for (size_t i = 0; i < n1; i++)
        latlog_add(&t1, 5000000000ull + i * 1000, 100 + i % 50, 0, 200, STATS_OK);
    latlog_add(&t2, 5000001500ull, 1234, 1, 503, STATS_ERR_STATUS);
    latlog_add(&t2, 5000002000ull, STATS_NO_LATENCY, 1, 0, STATS_ERR_CONNECT);
    latlog_thread_done(&t1);
    latlog_thread_done(&t2);
    assert_int_equal(latlog_close(l, err, sizeof err), 0);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "# pixload latency log: start_unix_s latency_us name status error (tab-separated)\n");
    size_t lines = 0, first_ok = 0, weird = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        if (!strcmp(line, "1796583600.250000\t100\t/a\t200\tok\n")) first_ok++;
        if (!strcmp(line, "1796583600.250001\t1234\twe\\tird\\\\name\t503\tstatus\n")) weird++;
        if (!strcmp(line, "1796583600.250002\t-\twe\\tird\\\\name\t0\tconnect\n")) weird++;
    }
    fclose(f);
    assert_int_equal(lines, n1 + 2);
    assert_int_equal(first_ok, 1);
    assert_int_equal(weird, 2);

    assert_null(latlog_open("/nonexistent/dir/x.tsv", names, 2, err, sizeof err));
    assert_non_null(strstr(err, "--latency-log: /nonexistent/dir/x.tsv"));
}

/* ---------------------------------------------------------------- the HTML page */

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void test_html(void **state)
{
    rng_state = 3;
    static run_t a;
    const scenario_stat_t na[] = {{"</script><b>x", "GET"}, {"/b", "POST"}};
    make_run(&a, "h.json", 3000.0, 3000, 7.0, "http://h/?a=1&b=2", na, 2, false);
    threshold_t t[2];
    assert_int_equal(threshold_parse(&t[0], "p99<1s", err, sizeof err), 0);
    assert_int_equal(threshold_parse(&t[1], "name=/b:fail_ratio<0.001", err, sizeof err), 0);
    const char *names[] = {na[0].name, na[1].name};
    threshold_result_t res[2];
    assert_int_equal(threshold_eval_all(t, 2, &a.st, names, SECONDS, res), 1);
    report_t rep = {.cfg = &a.cfg, .sc = &a.sc, .st = &a.st, .start_wall = 3000.0, .duration_s = SECONDS,
                    .host = "gen", .series = &a.series, .thresholds = t, .threshold_results = res, .nthresholds = 2};
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    assert_int_equal(report_html_write(f, &rep), 0);
    fclose(f);
    assert_int_equal(count(doc, "</script>"), 1); /* the embedded JSON's own end only */
    assert_non_null(strstr(doc, "\"<\\/script><b>x\""));
    assert_non_null(strstr(doc, "&lt;/script&gt;&lt;b&gt;x"));
    char *data = strstr(doc, "<script type=\"application/json\" id=\"pixload-data\">");
    assert_non_null(data);
    *data = '\0'; /* the page before the embedded JSON: the name only escaped there */
    assert_null(strstr(doc, "<b>x"));
    *data = '<';
    assert_non_null(strstr(doc, "http://h/?a=1&amp;b=2"));
    assert_int_equal(count(doc, "<svg class=\"chart\""), 4);
    assert_int_equal(count(doc, "data-points=\"3\""), 3);
    assert_int_equal(count(doc, "<polyline"), 1 + 3 + 1);
    assert_int_equal(count(doc, "<tr data-pass=\"false\">"), 1);
    assert_int_equal(count(doc, "<tr data-pass=\"true\">"), 1);
    assert_non_null(strstr(doc, "FAIL: 1 of 2 thresholds passed"));
    assert_null(strstr(doc, "http://www.w3.org/1999")); /* nothing but the SVG namespace */
    assert_null(strstr(doc, "src="));
    assert_null(strstr(doc, "href="));
    /* the bars hold every timed request */
    uint64_t bars = 0;
    for (const char *p = doc; (p = strstr(p, "class=\"bar\" data-count=\"")) != NULL; p++)
        bars += strtoull(p + strlen("class=\"bar\" data-count=\""), NULL, 10);
    assert_int_equal(bars, a.nsamples);
    free(doc);
    free_run(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_exact), cmocka_unit_test(test_merge_command), cmocka_unit_test(test_reader),
        cmocka_unit_test(test_series),      cmocka_unit_test(test_latlog),        cmocka_unit_test(test_html),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
