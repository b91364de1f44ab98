/* pixload's command line: defaults, every option, units, conflicts and the error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "load/config.h"

#define MAX_ARGS 32

static load_config_t cfg;
static char err[512];

/* Parses a NULL-terminated list of arguments (argv[0] added). */
static load_config_status_t parse_v(unsigned ncpu, const char *first, va_list ap)
{
    char *argv[MAX_ARGS] = {"pixload"};
    int argc = 1;
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    load_config_free(&cfg);
    return load_config_parse(&cfg, argc, argv, ncpu, err, sizeof err);
}

static load_config_status_t parse(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    load_config_status_t st = parse_v(4, first, ap);
    va_end(ap);
    return st;
}

static load_config_status_t parse_cpus(unsigned ncpu, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    load_config_status_t st = parse_v(ncpu, first, ap);
    va_end(ap);
    return st;
}

/* Expects an error whose message contains `needle`. */
#define assert_error(needle, ...)                                                                            \
    do {                                                                                                     \
        assert_int_equal(parse(__VA_ARGS__, NULL), LOAD_CONFIG_ERROR);                                       \
        if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);                          \
    } while (0)

static int teardown(void **state)
{
    load_config_free(&cfg);
    return 0;
}

static void test_defaults(void **state)
{
    assert_int_equal(parse("http://127.0.0.1:8080/", NULL), LOAD_CONFIG_RUN);
    assert_string_equal(cfg.url_str, "http://127.0.0.1:8080/");
    assert_int_equal(cfg.url.port, 8080);
    assert_int_equal(cfg.connections, 10);
    assert_false(cfg.users_mode);
    assert_true(cfg.spawn_rate == 0);
    assert_int_equal(cfg.duration_ms, 10000);
    assert_int_equal(cfg.requests, 0);
    assert_int_equal(cfg.threads, 4);
    assert_true(cfg.keepalive);
    assert_true(cfg.rate == 0);
    assert_int_equal(cfg.pipeline, 1);
    assert_int_equal(cfg.busy_poll_us, LOAD_DEFAULT_BUSY_POLL_US);
    assert_true(cfg.busy_poll_auto);
    assert_null(cfg.method);
    assert_int_equal(cfg.nheaders, 0);
    assert_int_equal(cfg.body_kind, LOAD_BODY_NONE);
    assert_int_equal(cfg.timeout_ms, 10000);
    assert_true(load_status_set_has(&cfg.expect_status, 200));
    assert_true(load_status_set_has(&cfg.expect_status, 304));
    assert_true(load_status_set_has(&cfg.expect_status, 399));
    assert_false(load_status_set_has(&cfg.expect_status, 199));
    assert_false(load_status_set_has(&cfg.expect_status, 404));
    assert_false(load_status_set_has(&cfg.expect_status, 500));
    assert_false(cfg.expect_status_given);
    assert_int_equal(cfg.expect_min_bytes, 0);
    assert_null(cfg.csv_prefix);
    assert_null(cfg.json_out);
    assert_false(cfg.quiet);
    assert_false(cfg.latency);
    assert_string_equal(cfg.b64_field, "image");
}

static void test_threads_default(void **state)
{
    assert_int_equal(parse_cpus(8, "-c", "3", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.threads, 3);
    assert_int_equal(parse_cpus(2, "-c", "100", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.threads, 2);
    assert_int_equal(parse_cpus(0, "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.threads, 1);
    assert_int_equal(parse("--threads", "3", "-c", "5", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.threads, 3);
    assert_error("more than the 2 connections", "--threads", "3", "-c", "2", "http://h/");
    assert_error("--threads", "--threads", "0", "http://h/");
    assert_error("--threads", "--threads", "5000", "http://h/");
}

static void test_load_shape(void **state)
{
    assert_int_equal(parse("-c", "10k", "-n", "1M", "--connections=7", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.connections, 7); /* the last one wins */
    assert_int_equal(cfg.requests, 1000000);
    assert_int_equal(cfg.duration_ms, 0); /* -n alone: no time limit */
    assert_int_equal(parse("-n", "100", "-t", "5s", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.requests, 100);
    assert_int_equal(cfg.duration_ms, 5000);
    assert_int_equal(parse("-u", "200", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.users_mode);
    assert_int_equal(cfg.connections, 200);
    assert_true(cfg.spawn_rate == 1.0); /* locust's default */
    assert_int_equal(parse("-u", "2000", "-r", "50", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.spawn_rate == 50.0);
    assert_int_equal(parse("-c", "100", "--spawn-rate", "2.5", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_false(cfg.users_mode);
    assert_true(cfg.spawn_rate == 2.5);
    assert_int_equal(parse("-R", "1.5k", "--no-keepalive", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.rate == 1500.0);
    assert_false(cfg.keepalive);
    assert_int_equal(parse("--pipeline", "16", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.pipeline, 16);
    assert_error("same setting", "-c", "5", "-u", "5", "http://h/");
    assert_error("-c: expected a whole number", "-c", "0", "http://h/");
    assert_error("-c: expected a whole number", "-c", "abc", "http://h/");
    assert_error("-c: expected a whole number", "-c", "-5", "http://h/");
    assert_error("-c: expected a whole number", "-c", "10x", "http://h/");
    assert_error("-c: expected a whole number", "-c", "2000000", "http://h/");
    assert_error("-n: expected a whole number", "-n", "1.5", "http://h/");
    assert_error("-R: '0': expected a rate above 0", "-R", "0", "http://h/");
    assert_error("-r: expected a positive number", "-r", "fast", "http://h/");
    assert_error("--pipeline needs keep-alive", "--pipeline", "2", "--no-keepalive", "http://h/");
    assert_error("--pipeline", "--pipeline", "0", "http://h/");
    assert_int_equal(parse("--busy-poll", "50", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.busy_poll_us, 50);
    assert_false(cfg.busy_poll_auto); /* given: always, not only under load */
    assert_int_equal(parse("--busy-poll", "0", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.busy_poll_us, 0);
    assert_error("--busy-poll", "--busy-poll", "-1", "http://h/");
    assert_error("--busy-poll", "--busy-poll", "2000000", "http://h/");
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {{"30s", 30000}, {"2m", 120000}, {"1h", 3600000}, {"500ms", 500},
              {"1.5s", 1500}, {"45", 45000},  {"0.5m", 30000}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint64_t ms = 0;
        assert_int_equal(load_parse_duration_ms(ok[i].s, &ms), 0);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {"", "s", "0", "0s", "-1s", "5x", "10 s", "1d", "0.1ms", "2000h", "ms5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t ms;
        if (load_parse_duration_ms(bad[i], &ms) == 0) fail_msg("'%s' accepted", bad[i]);
    }
    assert_int_equal(parse("-t", "2m", "--timeout", "250ms", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.duration_ms, 120000);
    assert_int_equal(cfg.timeout_ms, 250);
    assert_error("--duration: invalid duration '5x'", "--duration", "5x", "http://h/");
    assert_error("--timeout: invalid duration", "--timeout", "0", "http://h/");
}

static void test_headers(void **state)
{
    assert_int_equal(
        parse("-H", "X-A:  b c ", "--header", "Accept:image/jpeg", "-HHost: other", "http://h/", NULL),
        LOAD_CONFIG_RUN);
    assert_int_equal(cfg.nheaders, 3);
    assert_int_equal(cfg.headers[0].name_len, 3);
    assert_memory_equal(cfg.headers[0].name, "X-A", 3);
    assert_int_equal(cfg.headers[0].value_len, 3);
    assert_memory_equal(cfg.headers[0].value, "b c", 3);
    assert_memory_equal(cfg.headers[1].value, "image/jpeg", 10);
    assert_memory_equal(cfg.headers[2].name, "Host", 4);
    assert_int_equal(parse("-H", "X-Empty:", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.headers[0].value_len, 0);
    assert_error("expected 'Name: value'", "-H", "NoColon", "http://h/");
    assert_error("not a valid token", "-H", "Bad Name: x", "http://h/");
    assert_error("not a valid token", "-H", ": x", "http://h/");
    assert_error("control character", "-H", "X: a\r\nEvil: 1", "http://h/");
    assert_error("computed by pixload", "-H", "content-length: 5", "http://h/");
    assert_error("computed by pixload", "-H", "Transfer-Encoding: chunked", "http://h/");
}

static void test_method(void **state)
{
    assert_int_equal(parse("-m", "PUT", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_string_equal(cfg.method, "PUT");
    assert_int_equal(parse("--method=HEAD", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_string_equal(cfg.method, "HEAD");
    assert_error("not a valid method", "-m", "GET /", "http://h/");
    assert_error("not a valid method", "-m", "", "http://h/");
}

static void test_bodies(void **state)
{
    assert_int_equal(parse("--json", "{\"a\": 1}", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.body_kind, LOAD_BODY_JSON);
    assert_string_equal(cfg.json, "{\"a\": 1}");
    assert_int_equal(parse("--body", "f.bin", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.body_kind, LOAD_BODY_FILE);
    assert_int_equal(parse("--base64-image", "cat.jpg", "--field", "encoded_image", "--filename", "x.jpg",
                           "http://h/magic/base64", NULL),
                     LOAD_CONFIG_RUN);
    assert_int_equal(cfg.body_kind, LOAD_BODY_BASE64_IMAGE);
    assert_string_equal(cfg.b64_file, "cat.jpg");
    assert_string_equal(cfg.b64_field, "encoded_image");
    assert_string_equal(cfg.b64_filename, "x.jpg");
    /* --field and --filename may come first. */
    assert_int_equal(parse("--filename", "y", "--base64-image", "a.png", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_null(parse("--base64-image", "a.png", "http://h/", NULL) == LOAD_CONFIG_RUN ? cfg.b64_filename
                                                                                       : "x");
    assert_int_equal(parse("--image-url", "http://origin/cat.jpg", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.body_kind, LOAD_BODY_IMAGE_URL);
    assert_string_equal(cfg.image_url, "http://origin/cat.jpg");
    assert_int_equal(parse("--multipart", "image=@cat.jpg;type=image/jpeg", "--multipart", "mode=fs;x=1",
                           "--multipart", "f=@dir/a.png;filename=b.png", "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_int_equal(cfg.body_kind, LOAD_BODY_MULTIPART);
    assert_int_equal(cfg.nparts, 3);
    assert_string_equal(cfg.parts[0].name, "image");
    assert_string_equal(cfg.parts[0].path, "cat.jpg");
    assert_string_equal(cfg.parts[0].type, "image/jpeg");
    assert_null(cfg.parts[0].value);
    assert_null(cfg.parts[0].filename);
    assert_string_equal(cfg.parts[1].name, "mode");
    assert_string_equal(cfg.parts[1].value, "fs;x=1"); /* text values are verbatim */
    assert_null(cfg.parts[1].path);
    assert_string_equal(cfg.parts[2].path, "dir/a.png");
    assert_string_equal(cfg.parts[2].filename, "b.png");
    assert_null(cfg.parts[2].type);

    assert_error("--json and --body cannot be combined", "--json", "{}", "--body", "x", "http://h/");
    assert_error("--multipart and --image-url cannot be combined", "--multipart", "a=b", "--image-url",
                 "http://x/", "http://h/");
    assert_error("--json given twice", "--json", "1", "--json", "2", "http://h/");
    assert_error("--field only applies to --base64-image", "--field", "img", "http://h/");
    assert_error("--filename only applies to --base64-image", "--filename", "a", "--json", "{}", "http://h/");
    assert_error("expected name=value", "--multipart", "=x", "http://h/");
    assert_error("expected name=value", "--multipart", "novalue", "http://h/");
    assert_error("empty file name", "--multipart", "a=@", "http://h/");
    assert_error("unknown or empty attribute", "--multipart", "a=@f;bogus=1", "http://h/");
    assert_error("unknown or empty attribute", "--multipart", "a=@f;type=", "http://h/");
}

static void test_scenario_conflicts(void **state)
{
    assert_int_equal(parse("--scenario", "s.json", "-H", "X: 1", "--expect-status", "200", "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_string_equal(cfg.scenario_file, "s.json");
    assert_error("cannot be combined with --scenario", "--scenario", "s.json", "--json", "{}", "http://h/");
    assert_error("-m/--method cannot be combined with --scenario", "--scenario", "s.json", "-m", "PUT",
                 "http://h/");
}

static void test_expect_status(void **state)
{
    load_status_set_t s;
    assert_int_equal(load_status_set_parse(&s, "200-299,304"), 0);
    assert_true(load_status_set_has(&s, 200));
    assert_true(load_status_set_has(&s, 250));
    assert_true(load_status_set_has(&s, 299));
    assert_true(load_status_set_has(&s, 304));
    assert_false(load_status_set_has(&s, 301));
    assert_false(load_status_set_has(&s, 199));
    assert_false(load_status_set_has(&s, -1));
    assert_false(load_status_set_has(&s, 1000));
    assert_int_equal(load_status_set_parse(&s, "4XX"), 0);
    assert_true(load_status_set_has(&s, 400));
    assert_true(load_status_set_has(&s, 499));
    assert_false(load_status_set_has(&s, 500));
    assert_int_equal(load_status_set_parse(&s, "200"), 0);
    assert_true(load_status_set_has(&s, 200));
    assert_false(load_status_set_has(&s, 201));
    static const char *const bad[] = {"",     "2x",   "20",   "2000",    "299-200", "abc",
                                      "200,", ",200", "200-", "2xx-3xx", "200 ,304"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s.bits[0] = 12345;
        if (load_status_set_parse(&s, bad[i]) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(s.bits[0], 12345); /* untouched on error */
    }
    assert_int_equal(parse("--expect-status", "2xx,404", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.expect_status_given);
    assert_true(load_status_set_has(&cfg.expect_status, 404));
    assert_false(load_status_set_has(&cfg.expect_status, 301));
    assert_error("invalid status list '2x'", "--expect-status", "2x", "http://h/");
    assert_int_equal(parse("--expect-min-bytes", "1024", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.expect_min_bytes, 1024);
    assert_error("expected a number of bytes", "--expect-min-bytes", "1k", "http://h/");
}

static void test_output_options(void **state)
{
    assert_int_equal(parse("--csv", "out/run", "--csv-full-history", "--json-out", "r.json", "--latency",
                           "-q", "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_string_equal(cfg.csv_prefix, "out/run");
    assert_true(cfg.csv_full_history);
    assert_string_equal(cfg.json_out, "r.json");
    assert_true(cfg.latency);
    assert_true(cfg.quiet);
    assert_error("--csv-full-history requires --csv", "--csv-full-history", "http://h/");
    assert_error("--csv: empty prefix", "--csv", "", "http://h/");
}

static void test_folder_options(void **state)
{
    assert_int_equal(parse("http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.pick, LOAD_PICK_ROUND_ROBIN);
    assert_false(cfg.per_file);
    assert_int_equal(cfg.max_body_memory, 512u << 20);
    assert_int_equal(parse("--pick", "random:42", "--per-file", "--max-body-memory", "64k", "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_int_equal(cfg.pick, LOAD_PICK_RANDOM);
    assert_true(cfg.pick_seeded);
    assert_int_equal(cfg.pick_seed, 42);
    assert_true(cfg.per_file);
    assert_int_equal(cfg.max_body_memory, 64u << 10);
    assert_int_equal(parse("--pick", "random", "--max-body-memory", "2G", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_false(cfg.pick_seeded);
    assert_int_equal(cfg.max_body_memory, 2ull << 30);
    assert_error("--pick: expected round-robin, random or random:SEED, got 'sequential'", "--pick",
                 "sequential", "http://h/");
    assert_error("got 'random:'", "--pick", "random:", "http://h/");
    assert_error("got 'random:1x'", "--pick", "random:1x", "http://h/");
    assert_error("--max-body-memory: expected a size", "--max-body-memory", "0", "http://h/");
    assert_error("--max-body-memory: expected a size", "--max-body-memory", "12T", "http://h/");
    assert_error("--max-body-memory: expected a size", "--max-body-memory", "-1", "http://h/");
}

static void test_plans(void **state)
{
    /* A rate plan sets the run's length; -t may cut it, not stretch it; -n ends it sooner. */
    assert_int_equal(parse("-R", "100@30s,ramp:100-2000@2m,2000@1m", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.rate_plan.staged);
    assert_true(cfg.rate == 2000.0);
    assert_int_equal(cfg.duration_ms, 210000);
    assert_string_equal(cfg.rate_spec, "100@30s,ramp:100-2000@2m,2000@1m");
    assert_int_equal(parse("-R", "100@30s", "-t", "10s", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.duration_ms, 10000);
    assert_int_equal(parse("-R", "100@30s", "-t", "1m", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.duration_ms, 30000);
    assert_int_equal(parse("-R", "100@30s", "-n", "50", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.duration_ms, 30000);
    assert_int_equal(cfg.requests, 50);
    assert_int_equal(parse("-R", "100", "http://h/", NULL), LOAD_CONFIG_RUN); /* as always */
    assert_false(cfg.rate_plan.staged);
    assert_int_equal(cfg.duration_ms, 10000);

    /* Users: the plan's highest count of connections, no spawn rate. */
    assert_int_equal(parse("-u", "10@5s,ramp:10-40@10s,20@5s", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.connections, 40);
    assert_true(cfg.users_mode);
    assert_int_equal(cfg.users_plan.n, 3);
    assert_true(cfg.spawn_rate == 0);
    assert_int_equal(cfg.duration_ms, 20000);
    assert_int_equal(parse("-u", "20", "-r", "5", "http://h/", NULL), LOAD_CONFIG_RUN); /* as always */
    assert_int_equal(cfg.users_plan.n, 0);
    assert_true(cfg.spawn_rate == 5);
    assert_error("-r/--spawn-rate cannot be combined with a users plan", "-u", "5@1s", "-r", "2", "http://h/");
    assert_error("-u: stage 1 '2.5@1s': expected VALUE@DURATION with VALUE as a whole number of users", "-u",
                 "2.5@1s", "http://h/");
    assert_error("-u: at most 1000000 users", "-u", "2M@1s", "http://h/");
    assert_error("-R: stage 2 'ramp:5@1s': expected ramp:FROM-TO@DURATION", "-R", "1@1s,ramp:5@1s", "http://h/");
}

static void test_find_max_rate(void **state)
{
    assert_int_equal(parse("--find-max-rate", "--slo", "p99<50ms", "--slo", "fail_ratio<0.001", "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_true(cfg.find_max_rate);
    assert_int_equal(cfg.nslos, 2);
    assert_string_equal(cfg.slos[1].expr, "fail_ratio<0.001");
    assert_int_equal(cfg.duration_ms, 5000); /* a step */
    assert_int_equal(cfg.max_steps, 10);
    assert_true(cfg.rate == 50.0); /* the first step */
    assert_int_equal(parse("--find-max-rate", "--slo", "p99<50ms", "-R", "200", "-t", "3s", "--max-steps", "4",
                           "http://h/", NULL),
                     LOAD_CONFIG_RUN);
    assert_true(cfg.rate == 200.0);
    assert_int_equal(cfg.duration_ms, 3000);
    assert_int_equal(cfg.max_steps, 4);
    assert_error("--find-max-rate needs at least one --slo", "--find-max-rate", "http://h/");
    assert_error("--slo needs --find-max-rate", "--slo", "p99<5ms", "http://h/");
    assert_error("--max-steps needs --find-max-rate", "--max-steps", "3", "http://h/");
    assert_error("runs steps of its own", "--find-max-rate", "--slo", "p99<5ms", "--csv", "x", "http://h/");
    assert_error("runs steps of its own", "--find-max-rate", "--slo", "p99<5ms", "-R", "1@1s", "http://h/");
    assert_error("at least 2s", "--find-max-rate", "--slo", "p99<5ms", "-t", "1500ms", "http://h/");
    assert_error("--slo 'p99<': ", "--find-max-rate", "--slo", "p99<", "http://h/");
}

static void test_syntax(void **state)
{
    /* Grouped short options, attached values, options after the URL. */
    assert_int_equal(parse("-qc5", "http://h/", "-n10", NULL), LOAD_CONFIG_RUN);
    assert_true(cfg.quiet);
    assert_int_equal(cfg.connections, 5);
    assert_int_equal(cfg.requests, 10);
    assert_int_equal(parse("--", "http://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(parse("--help", "--bogus", NULL), LOAD_CONFIG_HELP);
    assert_int_equal(parse("-h", NULL), LOAD_CONFIG_HELP);
    assert_int_equal(parse("--version", NULL), LOAD_CONFIG_VERSION);
    assert_int_equal(parse("-V", NULL), LOAD_CONFIG_VERSION);
    assert_error("unknown option '--bogus'", "--bogus", "http://h/");
    assert_error("unknown option '-x'", "-x", "http://h/");
    assert_error("-c needs a value", "http://h/", "-c");
    assert_error("--json needs a value", "http://h/", "--json");
    assert_error("--quiet takes no value", "--quiet=1", "http://h/");
    assert_error("missing URL", "-c", "5");
    assert_error("more than one URL", "http://a/", "http://b/");
    assert_error("invalid URL 'ftp://h/': url must start with http:// or https://", "ftp://h/");
    assert_error("invalid URL 'http://h:0/': invalid port", "http://h:0/");
    /* https is accepted here and flagged; the engine decides whether it can connect. */
    assert_int_equal(parse("https://h/", NULL), LOAD_CONFIG_RUN);
    assert_int_equal(cfg.url.scheme, URL_HTTPS);
    assert_int_equal(cfg.url.port, 443);
}

static void test_usage_lists_every_option(void **state)
{
    static const char *const opts[] = {"--connections",
                                       "--users",
                                       "--spawn-rate",
                                       "--duration",
                                       "--requests",
                                       "--threads",
                                       "--no-keepalive",
                                       "--rate",
                                       "--pipeline",
                                       "--method",
                                       "--header",
                                       "--body",
                                       "--json ",
                                       "--base64-image",
                                       "--field",
                                       "--filename",
                                       "--multipart",
                                       "--image-url",
                                       "--scenario",
                                       "--pick",
                                       "--per-file",
                                       "--max-body-memory",
                                       "--find-max-rate",
                                       "--slo",
                                       "--max-steps",
                                       "--timeout",
                                       "--expect-status",
                                       "--expect-min-bytes",
                                       "--latency",
                                       "--csv ",
                                       "--csv-full-history",
                                       "--json-out",
                                       "--quiet",
                                       "--help",
                                       "--version"};
    const char *u = load_config_usage();
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (!strstr(u, opts[i])) fail_msg("--help lacks %s", opts[i]);
    }
    assert_non_null(strstr(u, "[10]"));
    assert_non_null(strstr(u, "[10s unless -n is given]"));
    assert_non_null(strstr(u, "[min(CPUs, connections)]"));
    assert_non_null(strstr(u, "[2xx,3xx]"));
    assert_non_null(strstr(u, "[512M]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_threads_default, teardown),
        cmocka_unit_test_teardown(test_load_shape, teardown),
        cmocka_unit_test_teardown(test_durations, teardown),
        cmocka_unit_test_teardown(test_headers, teardown),
        cmocka_unit_test_teardown(test_method, teardown),
        cmocka_unit_test_teardown(test_bodies, teardown),
        cmocka_unit_test_teardown(test_scenario_conflicts, teardown),
        cmocka_unit_test_teardown(test_expect_status, teardown),
        cmocka_unit_test_teardown(test_output_options, teardown),
        cmocka_unit_test_teardown(test_folder_options, teardown),
        cmocka_unit_test_teardown(test_plans, teardown),
        cmocka_unit_test_teardown(test_find_max_rate, teardown),
        cmocka_unit_test_teardown(test_syntax, teardown),
        cmocka_unit_test_teardown(test_usage_lists_every_option, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
