#include "load/config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "load/errmsg.h"

static const char usage[] =
    "Usage: pixload [options] URL\n"
    "       pixload merge A.json B.json ... [options]\n"
    "\n"
    "Drives HTTP/1.1 or HTTP/2 load at URL (http://host[:port]/path?query) and reports latency and\n"
    "throughput like wrk and ab, with locust-compatible CSV files.\n"
    "\n"
    "Load:\n"
    "  -c, --connections N     concurrent connections, each sending its next request when\n"
    "                          the previous answer arrives (closed loop)        [10]\n"
    "  -u, --users N|PLAN      the same, started gradually at --spawn-rate (as locust);\n"
    "                          use either -c or -u. A PLAN of stages steps and ramps\n"
    "                          the users: '10@30s,ramp:10-100@1m,100@2m' (no -r then)\n"
    "  -r, --spawn-rate R      connections (users) started per second\n"
    "                                                  [1 with -u, all at once with -c]\n"
    "  -t, --duration T        test length: 500ms, 30s, 2m, 1h (bare number: seconds)\n"
    "                                                  [10s unless -n is given]\n"
    "  -n, --requests N        stop after N requests in total (as ab)  [no limit]\n"
    "      --threads N         worker threads          [min(CPUs, connections)]\n"
    "      --no-keepalive      a new connection for every request (as ab without -k)\n"
    "  -R, --rate R|PLAN       open loop: R requests/s in total, latency measured from each\n"
    "                          request's intended send time (as wrk2)  [closed loop]\n"
    "                          PLAN: stages VALUE@T and ramp:FROM-TO@T, comma-separated,\n"
    "                          e.g. '100@30s,ramp:100-2000@2m,2000@1m'; the run lasts\n"
    "                          the plan unless -t or -n end it sooner\n"
    "      --pipeline N        requests in flight per connection        [1]\n"
    "      --h2                HTTP/2: h2 by ALPN for https://, h2c with prior knowledge\n"
    "                          for http:// (a server without it is an error) [HTTP/1.1]\n"
    "      --max-streams N     with --h2: requests in flight per connection, each on its\n"
    "                          own stream (at most what the server allows)  [1]\n"
    "      --busy-poll USEC    poll this long before sleeping when idle, always: no\n"
    "                          wake-up latency, at the price of a busy core; 0: never\n"
    "                          [20, only after a batch of events: under load]\n"
    "  Counts and rates accept k and M suffixes (10k = 10000).\n"
    "\n"
    "Request:\n"
    "  -m, --method M          request method          [GET, or POST with a body]\n"
    "  -H, --header 'N: v'     add a request header (repeatable)\n"
    "      --body FILE         send FILE as the body (Content-Type guessed from its bytes)\n"
    "      --json STRING       send STRING as the body, Content-Type: application/json\n"
    "      --base64-image FILE send {\"filename\": NAME, \"image\": \"<base64 of FILE>\"}\n"
    "      --field NAME        the image's key in that JSON               [image]\n"
    "      --filename NAME     the filename in that JSON           [basename of FILE]\n"
    "      --multipart SPEC    add a multipart/form-data part (repeatable, in order):\n"
    "                          'name=value', or 'name=@FILE[;type=MIME][;filename=NAME]'\n"
    "                          (type guessed from the file's bytes, filename = basename)\n"
    "      --image-url URL     send {\"image_url\": URL}\n"
    "      --scenario FILE     several weighted requests from a JSON file, like locust\n"
    "                          tasks (see docs/pixload.md); URL gives the server\n"
    "  --body, --base64-image and a --multipart file part also take a folder: its\n"
    "  files (hidden ones and subfolders skipped) rotate per request, all pre-built.\n"
    "      --pick P            round-robin (per thread, in name order), random or\n"
    "                          random:SEED (reproducible)          [round-robin]\n"
    "      --per-file          a stats row per file of a folder, \"NAME [FILE]\"\n"
    "      --max-body-memory SIZE  bound on the pre-built requests (k, M, G: 1024^n);\n"
    "                          a larger folder is an error               [512M]\n"
    "  A body implies POST and its Content-Type unless -m or -H Content-Type say otherwise.\n"
    "\n"
    "Checks (a failed request is counted by kind and in the failures CSV):\n"
    "      --timeout T         no complete answer after T is a failure   [10s]\n"
    "      --expect-status S   statuses that succeed: 200, 2xx, 200-299,304 [2xx,3xx]\n"
    "      --expect-min-bytes N  a shorter response body is a failure   [no check]\n"
    "      --check-body X      the expected response body: FILE, DIR (with a folder\n"
    "                          body: one file per input file's name) or sha256:HEX;\n"
    "                          a different body is a failure of kind body\n"
    "      --check-field NAME  compare instead the JSON answer's string NAME, base64-\n"
    "                          decoded (e.g. encoded_img)\n"
    "\n"
    "Highest rate under an SLO:\n"
    "      --find-max-rate     step the open-loop rate (from -R, default 50/s: doubling, then\n"
    "                          halving the interval) and report the highest rate at which\n"
    "                          every --slo held, the table of steps and the knee; each step\n"
    "                          lasts -t (default 5s), its first second discarded\n"
    "      --slo EXPR          a service level, as --threshold: 'p99<50ms' (repeatable)\n"
    "      --max-steps N       steps at most (the run takes at most N x -t)     [10]\n"
    "\n"
    "Output:\n"
    "      --latency           print more latency percentiles\n"
    "      --csv PREFIX        write PREFIX_stats.csv, PREFIX_stats_history.csv,\n"
    "                          PREFIX_failures.csv (and PREFIX_exceptions.csv) as locust\n"
    "      --csv-full-history  a stats_history row per request name too (as locust)\n"
    "      --json-out FILE     every figure as JSON (schema pixload/1: histograms and the\n"
    "                          per-second series, for `pixload merge`)\n"
    "      --html FILE         a self-contained HTML report (charts, tables, thresholds)\n"
    "      --latency-log FILE  every sample, one line each: start time, latency, name,\n"
    "                          status, error kind\n"
    "  -q, --quiet             no banner and no live status line\n"
    "  -h, --help              this text\n"
    "  -V, --version           print the version\n"
    "\n"
    "Pass/fail and several generators:\n"
    "      --threshold EXPR    judge the run (repeatable): [name=NAME:]METRIC OP LIMIT,\n"
    "                          METRIC p50 p95 p99 p99.9 (any pN) mean min max (with us, ms\n"
    "                          or s), fail_ratio, rps, requests, failures; OP < <= > >= ==\n"
    "                          e.g. 'p99<200ms' 'fail_ratio<0.01' 'name=/magic:p95<1s'\n"
    "      --abort-on-fail     stop as soon as a threshold fails on the running totals\n"
    "      --abort-delay T     ... but judge only after T of the run          [10s]\n"
    "      --start-at TIME     wait until TIME (Unix seconds or 2026-12-06T19:00:00Z)\n"
    "                          before starting, to start generators together\n"
    "  pixload merge A.json B.json ... [--csv PREFIX] [--html FILE] [--json-out FILE]\n"
    "                [--threshold EXPR ...] [-q]: adds up runs made at the same time\n"
    "                (see pixload merge --help)\n"
    "\n"
    "Exit status: 0 when the run completed, 1 when it could not start (with --h2: the\n"
    "server does not speak HTTP/2) or an output could not be written, 2 for bad\n"
    "arguments, 99 when a --threshold failed (with --find-max-rate: when no rate met\n"
    "the SLO).\n";

const char *load_config_usage(void)
{
    return usage;
}

enum {
    OPT_CONNECTIONS = 1,
    OPT_USERS,
    OPT_SPAWN_RATE,
    OPT_DURATION,
    OPT_REQUESTS,
    OPT_THREADS,
    OPT_NO_KEEPALIVE,
    OPT_RATE,
    OPT_PIPELINE,
    OPT_H2,
    OPT_MAX_STREAMS,
    OPT_BUSY_POLL,
    OPT_METHOD,
    OPT_HEADER,
    OPT_BODY,
    OPT_JSON,
    OPT_BASE64_IMAGE,
    OPT_FIELD,
    OPT_FILENAME,
    OPT_MULTIPART,
    OPT_IMAGE_URL,
    OPT_SCENARIO,
    OPT_PICK,
    OPT_PER_FILE,
    OPT_MAX_BODY_MEMORY,
    OPT_CHECK_BODY,
    OPT_CHECK_FIELD,
    OPT_TIMEOUT,
    OPT_EXPECT_STATUS,
    OPT_EXPECT_MIN_BYTES,
    OPT_LATENCY,
    OPT_CSV,
    OPT_CSV_FULL_HISTORY,
    OPT_JSON_OUT,
    OPT_HTML,
    OPT_LATENCY_LOG,
    OPT_THRESHOLD,
    OPT_ABORT_ON_FAIL,
    OPT_ABORT_DELAY,
    OPT_START_AT,
    OPT_FIND_MAX_RATE,
    OPT_SLO,
    OPT_MAX_STEPS,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
};

typedef struct {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 = none */
    bool has_arg;
    int id;
} option_t;

static const option_t options[] = {
    {"connections", 'c', true, OPT_CONNECTIONS},
    {"users", 'u', true, OPT_USERS},
    {"spawn-rate", 'r', true, OPT_SPAWN_RATE},
    {"duration", 't', true, OPT_DURATION},
    {"requests", 'n', true, OPT_REQUESTS},
    {"threads", 0, true, OPT_THREADS},
    {"no-keepalive", 0, false, OPT_NO_KEEPALIVE},
    {"rate", 'R', true, OPT_RATE},
    {"pipeline", 0, true, OPT_PIPELINE},
    {"h2", 0, false, OPT_H2},
    {"max-streams", 0, true, OPT_MAX_STREAMS},
    {"busy-poll", 0, true, OPT_BUSY_POLL},
    {"method", 'm', true, OPT_METHOD},
    {"header", 'H', true, OPT_HEADER},
    {"body", 0, true, OPT_BODY},
    {"json", 0, true, OPT_JSON},
    {"base64-image", 0, true, OPT_BASE64_IMAGE},
    {"field", 0, true, OPT_FIELD},
    {"filename", 0, true, OPT_FILENAME},
    {"multipart", 0, true, OPT_MULTIPART},
    {"image-url", 0, true, OPT_IMAGE_URL},
    {"scenario", 0, true, OPT_SCENARIO},
    {"pick", 0, true, OPT_PICK},
    {"per-file", 0, false, OPT_PER_FILE},
    {"max-body-memory", 0, true, OPT_MAX_BODY_MEMORY},
    {"check-body", 0, true, OPT_CHECK_BODY},
    {"check-field", 0, true, OPT_CHECK_FIELD},
    {"timeout", 0, true, OPT_TIMEOUT},
    {"expect-status", 0, true, OPT_EXPECT_STATUS},
    {"expect-min-bytes", 0, true, OPT_EXPECT_MIN_BYTES},
    {"latency", 0, false, OPT_LATENCY},
    {"csv", 0, true, OPT_CSV},
    {"csv-full-history", 0, false, OPT_CSV_FULL_HISTORY},
    {"json-out", 0, true, OPT_JSON_OUT},
    {"html", 0, true, OPT_HTML},
    {"latency-log", 0, true, OPT_LATENCY_LOG},
    {"threshold", 0, true, OPT_THRESHOLD},
    {"abort-on-fail", 0, false, OPT_ABORT_ON_FAIL},
    {"abort-delay", 0, true, OPT_ABORT_DELAY},
    {"start-at", 0, true, OPT_START_AT},
    {"find-max-rate", 0, false, OPT_FIND_MAX_RATE},
    {"slo", 0, true, OPT_SLO},
    {"max-steps", 0, true, OPT_MAX_STEPS},
    {"quiet", 'q', false, OPT_QUIET},
    {"help", 'h', false, OPT_HELP},
    {"version", 'V', false, OPT_VERSION},
};

/* ---------------------------------------------------------------- status sets */

static void set_range(load_status_set_t *s, int lo, int hi)
{
    for (int c = lo; c <= hi; c++)
        s->bits[c >> 6] |= (uint64_t)1 << (c & 63);
}

void load_status_set_default(load_status_set_t *s)
{
    memset(s, 0, sizeof *s);
    set_range(s, 200, 399);
}

/* Reads exactly three digits; returns the code or -1. */
static int three_digits(const char *p)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
        return -1;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int load_status_set_parse(load_status_set_t *s, const char *spec)
{
    load_status_set_t out = {{0}};
    const char *p = spec;
    if (!*p) return -1;
    for (;;) {
        int lo, hi;
        if (isdigit((unsigned char)p[0]) && (p[1] == 'x' || p[1] == 'X') && (p[2] == 'x' || p[2] == 'X')) {
            lo = (p[0] - '0') * 100;
            hi = lo + 99;
            p += 3;
        } else {
            if ((lo = three_digits(p)) < 0) return -1;
            p += 3;
            hi = lo;
            if (*p == '-') {
                if ((hi = three_digits(p + 1)) < 0 || hi < lo) return -1;
                p += 4;
            }
        }
        set_range(&out, lo, hi);
        if (*p == '\0') break;
        if (*p++ != ',') return -1;
    }
    *s = out;
    return 0;
}

/* ---------------------------------------------------------------- headers */

bool load_token_valid(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)))) return false;
    }
    return true;
}

int load_header_check(const char *name, size_t name_len, const char *value, size_t value_len, char *err,
                      size_t errlen)
{
    if (!load_token_valid(name, name_len))
        return errmsg_set(err, errlen, "header name '%.*s' is not a valid token", (int)name_len, name);
    for (size_t i = 0; i < value_len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return errmsg_set(err, errlen, "header '%.*s': control character in the value", (int)name_len,
                              name);
    }
    static const char *const computed[] = {"Content-Length", "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof computed / sizeof *computed; i++) {
        if (name_len == strlen(computed[i]) && strncasecmp(name, computed[i], name_len) == 0)
            return errmsg_set(err, errlen, "header '%s' is computed by pixload and cannot be set",
                              computed[i]);
    }
    return 0;
}

int load_header_parse(load_header_t *h, const char *line, char *err, size_t errlen)
{
    const char *colon = strchr(line, ':');
    if (!colon) return errmsg_set(err, errlen, "header '%s': expected 'Name: value'", line);
    const char *v = colon + 1, *end = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *h = (load_header_t){line, (size_t)(colon - line), v, (size_t)(end - v)};
    return load_header_check(h->name, h->name_len, h->value, h->value_len, err, errlen);
}

/* ---------------------------------------------------------------- numbers */

/* A positive count with an optional k or M suffix, at most max. */
static int parse_count(const char *opt, const char *s, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    if (!isdigit((unsigned char)*s)) goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1000, end++;
    else if (*end == 'M')
        mult = 1000000, end++;
    if (*end || v == 0 || v > max / mult) goto bad;
    *out = v * mult;
    return 0;
bad:
    return errmsg_set(err, errlen, "%s: expected a whole number from 1 to %llu, got '%s'", opt,
                (unsigned long long)max, s);
}

/* A positive rate (decimals allowed) with an optional k or M suffix. */
static int parse_rate(const char *opt, const char *s, double *out, char *err, size_t errlen)
{
    const char *end;
    if (load_parse_number(s, &end, out) < 0 || *end || !(*out > 0))
        return errmsg_set(err, errlen, "%s: expected a positive number, got '%s'", opt, s);
    return 0;
}

/* Digits at *pp, exactly n of them (n > 0), as a number; advances *pp. -1 when not. */
static int fixed_digits(const char **pp, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*pp)[i];
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
    }
    *pp += n;
    return v;
}

int load_parse_wall_time(const char *s, double *unix_s)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p)) return -1;
    /* Unix seconds: digits, optionally a fraction. */
    size_t digits = strspn(p, "0123456789");
    if (p[digits] == '\0' || p[digits] == '.') {
        if (digits > 12) return -1;
        char *end;
        double v = strtod(p, &end);
        if (*end || !(v > 0)) return -1;
        *unix_s = v;
        return 0;
    }
    /* YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00) */
    int year = fixed_digits(&p, 4);
    if (year < 1970 || *p++ != '-') return -1;
    int mon = fixed_digits(&p, 2);
    if (mon < 1 || mon > 12 || *p++ != '-') return -1;
    int day = fixed_digits(&p, 2);
    if (day < 1 || day > 31 || (*p != 'T' && *p != 't')) return -1;
    p++;
    int hour = fixed_digits(&p, 2);
    if (hour < 0 || hour > 23 || *p++ != ':') return -1;
    int min = fixed_digits(&p, 2);
    if (min < 0 || min > 59 || *p++ != ':') return -1;
    int sec = fixed_digits(&p, 2);
    if (sec < 0 || sec > 59) return -1;
    double frac = 0;
    if (*p == '.') {
        const char *f = p;
        p++;
        size_t nf = strspn(p, "0123456789");
        if (nf == 0 || nf > 9) return -1;
        frac = strtod(f, NULL);
        p += nf;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0) return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = hour, .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != day || back.tm_mon != mon - 1)
        return -1; /* 2026-02-30 */
    *unix_s = (double)t + frac;
    return 0;
}

/* ---------------------------------------------------------------- the parser */

typedef struct {
    bool connections, users, spawn_rate, duration, requests, threads, field, filename, pipeline, max_streams;
    bool abort_delay;
} seen_t;

static const char *body_option(load_body_kind_t kind)
{
    static const char *const names[] = {"",           "--body", "--json", "--base64-image", "--multipart",
                                        "--image-url"};
    return names[kind];
}

static int set_body(load_config_t *c, load_body_kind_t kind, char *err, size_t errlen)
{
    if (c->body_kind != LOAD_BODY_NONE && c->body_kind != kind)
        return errmsg_set(err, errlen, "%s and %s cannot be combined: a request has one body",
                    body_option(c->body_kind), body_option(kind));
    if (c->body_kind == kind && kind != LOAD_BODY_MULTIPART)
        return errmsg_set(err, errlen, "%s given twice", body_option(kind));
    c->body_kind = kind;
    return 0;
}

/* One more --threshold or --slo (threshold.h) into *ts. */
static int add_threshold(threshold_t **ts, size_t *n, const char *opt, const char *arg, char *err, size_t errlen)
{
    if (*n == LOAD_MAX_THRESHOLDS) return errmsg_set(err, errlen, "too many %s (at most %u)", opt, LOAD_MAX_THRESHOLDS);
    threshold_t *more = realloc(*ts, (*n + 1) * sizeof *more);
    if (!more) return errmsg_set(err, errlen, "out of memory");
    *ts = more;
    char why[256];
    if (threshold_parse(&more[*n], arg, why, sizeof why) < 0) return errmsg_set(err, errlen, "%s '%s': %s", opt, arg, why);
    (*n)++;
    return 0;
}

static int apply(load_config_t *c, seen_t *seen, int id, const char *opt, const char *arg, char *err,
                 size_t errlen)
{
    uint64_t n;
    switch (id) {
    case OPT_CONNECTIONS:
    case OPT_USERS:
        if (id == OPT_USERS && (strchr(arg, '@') || strncmp(arg, "ramp:", 5) == 0)) {
            char msg[256];
            if (plan_parse(&c->users_plan, arg, true, msg, sizeof msg) < 0)
                return errmsg_set(err, errlen, "%s: %s", opt, msg);
            if (c->users_plan.max > LOAD_MAX_CONNECTIONS)
                return errmsg_set(err, errlen, "%s: at most %u users", opt, LOAD_MAX_CONNECTIONS);
            n = (uint64_t)c->users_plan.max;
            c->users_spec = arg;
        } else if (parse_count(opt, arg, LOAD_MAX_CONNECTIONS, &n, err, errlen) < 0) {
            return -1;
        } else if (id == OPT_USERS) {
            c->users_plan.n = 0;
            c->users_spec = arg;
        }
        c->connections = (unsigned)n;
        if (id == OPT_USERS) {
            seen->users = true;
            c->users_mode = true;
        } else {
            seen->connections = true;
        }
        return 0;
    case OPT_SPAWN_RATE:
        seen->spawn_rate = true;
        return parse_rate(opt, arg, &c->spawn_rate, err, errlen);
    case OPT_DURATION:
        seen->duration = true;
        if (load_parse_duration_ms(arg, &c->duration_ms) < 0)
            return errmsg_set(err, errlen, "%s: invalid duration '%s' (use e.g. 500ms, 30s, 2m, 1h)", opt,
                              arg);
        return 0;
    case OPT_REQUESTS:
        seen->requests = true;
        return parse_count(opt, arg, UINT64_MAX, &c->requests, err, errlen);
    case OPT_THREADS:
        seen->threads = true;
        if (parse_count(opt, arg, LOAD_MAX_THREADS, &n, err, errlen) < 0) return -1;
        c->threads = (unsigned)n;
        return 0;
    case OPT_NO_KEEPALIVE:
        c->keepalive = false;
        return 0;
    case OPT_RATE: {
        char msg[256];
        if (plan_parse(&c->rate_plan, arg, false, msg, sizeof msg) < 0)
            return errmsg_set(err, errlen, "%s: %s", opt, msg);
        c->rate = c->rate_plan.max;
        c->rate_spec = arg;
        return 0;
    }
    case OPT_PIPELINE:
        seen->pipeline = true;
        if (parse_count(opt, arg, LOAD_MAX_PIPELINE, &n, err, errlen) < 0) return -1;
        c->pipeline = (unsigned)n;
        return 0;
    case OPT_H2:
        c->h2 = true;
        return 0;
    case OPT_MAX_STREAMS:
        seen->max_streams = true;
        if (parse_count(opt, arg, LOAD_MAX_STREAMS, &n, err, errlen) < 0) return -1;
        c->max_streams = (unsigned)n;
        return 0;
    case OPT_BUSY_POLL:
        n = 0; /* "0" says off explicitly; parse_count wants 1 or more */
        if (strcmp(arg, "0") != 0 && parse_count(opt, arg, LOAD_MAX_BUSY_POLL_US, &n, err, errlen) < 0) return -1;
        c->busy_poll_us = (unsigned)n;
        c->busy_poll_auto = false;
        return 0;
    case OPT_METHOD:
        if (!load_token_valid(arg, strlen(arg)))
            return errmsg_set(err, errlen, "%s: '%s' is not a valid method", opt, arg);
        c->method = arg;
        return 0;
    case OPT_HEADER: {
        if (c->nheaders == LOAD_MAX_HEADERS)
            return errmsg_set(err, errlen, "too many headers (at most %u)", LOAD_MAX_HEADERS);
        load_header_t h;
        if (load_header_parse(&h, arg, err, errlen) < 0) return -1;
        load_header_t *hs = realloc(c->headers, (c->nheaders + 1) * sizeof *hs);
        if (!hs) return errmsg_set(err, errlen, "out of memory");
        c->headers = hs;
        hs[c->nheaders++] = h;
        return 0;
    }
    case OPT_BODY:
        c->body_file = arg;
        return set_body(c, LOAD_BODY_FILE, err, errlen);
    case OPT_JSON:
        c->json = arg;
        return set_body(c, LOAD_BODY_JSON, err, errlen);
    case OPT_BASE64_IMAGE:
        c->b64_file = arg;
        return set_body(c, LOAD_BODY_BASE64_IMAGE, err, errlen);
    case OPT_FIELD:
        seen->field = true;
        if (!*arg) return errmsg_set(err, errlen, "%s: empty field name", opt);
        c->b64_field = arg;
        return 0;
    case OPT_FILENAME:
        seen->filename = true;
        c->b64_filename = arg;
        return 0;
    case OPT_MULTIPART: {
        if (set_body(c, LOAD_BODY_MULTIPART, err, errlen) < 0) return -1;
        if (c->nparts == LOAD_MAX_PARTS)
            return errmsg_set(err, errlen, "too many --multipart parts (at most %u)", LOAD_MAX_PARTS);
        body_part_t *ps = realloc(c->parts, (c->nparts + 1) * sizeof *ps);
        if (!ps) return errmsg_set(err, errlen, "out of memory");
        c->parts = ps;
        if (body_part_parse(&ps[c->nparts], arg, err, errlen) < 0) return -1;
        c->nparts++;
        return 0;
    }
    case OPT_IMAGE_URL:
        c->image_url = arg;
        return set_body(c, LOAD_BODY_IMAGE_URL, err, errlen);
    case OPT_SCENARIO:
        c->scenario_file = arg;
        return 0;
    case OPT_PICK: {
        char *end;
        if (strcmp(arg, "round-robin") == 0) {
            c->pick = LOAD_PICK_ROUND_ROBIN;
            return 0;
        }
        c->pick = LOAD_PICK_RANDOM;
        c->pick_seeded = false;
        if (strcmp(arg, "random") == 0) return 0;
        if (strncmp(arg, "random:", 7) == 0 && isdigit((unsigned char)arg[7])) {
            c->pick_seed = strtoull(arg + 7, &end, 10);
            c->pick_seeded = true;
            if (!*end) return 0;
        }
        return errmsg_set(err, errlen, "%s: expected round-robin, random or random:SEED, got '%s'", opt, arg);
    }
    case OPT_PER_FILE:
        c->per_file = true;
        return 0;
    case OPT_MAX_BODY_MEMORY:
        if (load_parse_size(arg, &c->max_body_memory) < 0)
            return errmsg_set(err, errlen, "%s: expected a size such as 512M, 64k or 2G, got '%s'", opt, arg);
        return 0;
    case OPT_CHECK_BODY:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty argument", opt);
        c->check_body = arg;
        return 0;
    case OPT_CHECK_FIELD:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty field name", opt);
        c->check_field = arg;
        return 0;
    case OPT_TIMEOUT:
        if (load_parse_duration_ms(arg, &c->timeout_ms) < 0)
            return errmsg_set(err, errlen, "%s: invalid duration '%s' (use e.g. 500ms, 30s, 2m)", opt, arg);
        return 0;
    case OPT_EXPECT_STATUS:
        if (load_status_set_parse(&c->expect_status, arg) < 0)
            return errmsg_set(err, errlen, "%s: invalid status list '%s' (use e.g. 200, 2xx, 200-299,304)",
                              opt, arg);
        c->expect_status_given = true;
        return 0;
    case OPT_EXPECT_MIN_BYTES: {
        char *end;
        if (!isdigit((unsigned char)*arg))
            return errmsg_set(err, errlen, "%s: expected a number of bytes, got '%s'", opt, arg);
        c->expect_min_bytes = strtoull(arg, &end, 10);
        if (*end) return errmsg_set(err, errlen, "%s: expected a number of bytes, got '%s'", opt, arg);
        return 0;
    }
    case OPT_LATENCY:
        c->latency = true;
        return 0;
    case OPT_CSV:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty prefix", opt);
        c->csv_prefix = arg;
        return 0;
    case OPT_CSV_FULL_HISTORY:
        c->csv_full_history = true;
        return 0;
    case OPT_JSON_OUT:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty file name", opt);
        c->json_out = arg;
        return 0;
    case OPT_HTML:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty file name", opt);
        c->html_out = arg;
        return 0;
    case OPT_LATENCY_LOG:
        if (!*arg) return errmsg_set(err, errlen, "%s: empty file name", opt);
        c->latency_log = arg;
        return 0;
    case OPT_THRESHOLD:
        return add_threshold(&c->thresholds, &c->nthresholds, opt, arg, err, errlen);
    case OPT_SLO:
        return add_threshold(&c->slos, &c->nslos, opt, arg, err, errlen);
    case OPT_FIND_MAX_RATE:
        c->find_max_rate = true;
        return 0;
    case OPT_MAX_STEPS:
        if (parse_count(opt, arg, 100, &n, err, errlen) < 0) return -1;
        c->max_steps = (unsigned)n;
        return 0;
    case OPT_ABORT_ON_FAIL:
        c->abort_on_fail = true;
        return 0;
    case OPT_ABORT_DELAY:
        seen->abort_delay = true;
        if (strcmp(arg, "0") == 0) {
            c->abort_delay_ms = 0;
            return 0;
        }
        if (load_parse_duration_ms(arg, &c->abort_delay_ms) < 0)
            return errmsg_set(err, errlen, "%s: invalid duration '%s' (use e.g. 5s, 1m, or 0)", opt, arg);
        return 0;
    case OPT_START_AT:
        if (load_parse_wall_time(arg, &c->start_at) < 0)
            return errmsg_set(err, errlen,
                              "%s: invalid time '%s' (use Unix seconds, or UTC as 2026-12-06T19:00:00Z)", opt,
                              arg);
        return 0;
    case OPT_QUIET:
        c->quiet = true;
        return 0;
    }
    return errmsg_set(err, errlen, "internal: unhandled option %s", opt);
}

/* Checks that need every option: conflicts, dependencies, defaults that depend on others. */
static int finish(load_config_t *c, const seen_t *seen, unsigned ncpu, char *err, size_t errlen)
{
    if (!c->url_str) return errmsg_set(err, errlen, "missing URL (usage: pixload [options] URL)");
    url_status_t st = url_parse(c->url_str, strlen(c->url_str), &c->url);
    if (st != URL_OK) return errmsg_set(err, errlen, "invalid URL '%s': %s", c->url_str, url_strerror(st));
    if (seen->connections && seen->users)
        return errmsg_set(err, errlen, "-c/--connections and -u/--users are the same setting: give one");
    if (!seen->connections && !seen->users) c->connections = LOAD_DEFAULT_CONNECTIONS;
    if (c->users_plan.n && seen->spawn_rate)
        return errmsg_set(err, errlen,
                          "-r/--spawn-rate cannot be combined with a users plan (-u): the plan says when users "
                          "start");
    if (seen->users && !seen->spawn_rate && !c->users_plan.n) c->spawn_rate = LOAD_DEFAULT_SPAWN_RATE;
    if (c->nslos && !c->find_max_rate) return errmsg_set(err, errlen, "--slo needs --find-max-rate");
    if (c->find_max_rate) {
        if (!c->nslos) return errmsg_set(err, errlen, "--find-max-rate needs at least one --slo (e.g. 'p99<50ms')");
        if (seen->requests || c->rate_plan.staged || seen->users || c->csv_prefix || c->json_out || c->html_out ||
            c->latency_log || c->nthresholds || c->start_at > 0)
            return errmsg_set(err, errlen,
                              "--find-max-rate runs steps of its own: -n, -u, a -R plan, --csv, --json-out, "
                              "--html, --latency-log, --threshold and --start-at do not apply");
        if (seen->duration && c->duration_ms < 2000)
            return errmsg_set(err, errlen, "--find-max-rate: a step (-t) lasts at least 2s (its first second is discarded)");
        if (!seen->duration) c->duration_ms = LOAD_DEFAULT_STEP_MS;
        if (!c->max_steps) c->max_steps = LOAD_DEFAULT_MAX_STEPS;
        if (!(c->rate > 0)) c->rate = LOAD_DEFAULT_START_RATE; /* the first step's rate */
    } else if (c->max_steps) {
        return errmsg_set(err, errlen, "--max-steps needs --find-max-rate");
    }
    if (!seen->duration && !seen->requests && !c->find_max_rate) c->duration_ms = LOAD_DEFAULT_DURATION_MS;
    /* A staged plan sets the run's length; -t or -n may only cut it. */
    double plan_s = fmin(c->rate_plan.staged ? c->rate_plan.total_s : INFINITY,
                         c->users_plan.n ? c->users_plan.total_s : INFINITY);
    if (plan_s < INFINITY) {
        uint64_t ms = (uint64_t)llround(plan_s * 1e3);
        if (!seen->duration || c->duration_ms > ms) c->duration_ms = ms;
    }
    if (seen->threads) {
        if (c->threads > c->connections)
            return errmsg_set(err, errlen,
                              "--threads %u is more than the %u connections: each thread needs one",
                              c->threads, c->connections);
    } else {
        c->threads = ncpu ? ncpu : 1;
        if (c->threads > c->connections) c->threads = c->connections;
        if (c->threads > LOAD_MAX_THREADS) c->threads = LOAD_MAX_THREADS;
    }
    if (!c->keepalive && c->pipeline > 1)
        return errmsg_set(err, errlen,
                          "--pipeline needs keep-alive: it cannot be combined with --no-keepalive");
    if (seen->max_streams && !c->h2)
        return errmsg_set(err, errlen, "--max-streams needs --h2 (HTTP/1.1 has --pipeline)");
    if (c->h2 && seen->pipeline)
        return errmsg_set(err, errlen,
                          "--pipeline is HTTP/1.1 pipelining: with --h2, use --max-streams");
    if (!c->keepalive && c->max_streams > 1)
        return errmsg_set(err, errlen,
                          "--max-streams needs keep-alive: it cannot be combined with --no-keepalive");
    if ((seen->field || seen->filename) && c->body_kind != LOAD_BODY_BASE64_IMAGE)
        return errmsg_set(err, errlen, "%s only applies to --base64-image",
                          seen->field ? "--field" : "--filename");
    if (c->scenario_file) {
        if (c->body_kind != LOAD_BODY_NONE)
            return errmsg_set(err, errlen,
                        "%s cannot be combined with --scenario: give bodies in the scenario file",
                        body_option(c->body_kind));
        if (c->method)
            return errmsg_set(err, errlen,
                        "-m/--method cannot be combined with --scenario: give methods in the "
                        "scenario file");
    }
    if (c->check_field && !c->check_body && !c->scenario_file)
        return errmsg_set(err, errlen, "--check-field needs --check-body (the expected bytes)");
    if (c->csv_full_history && !c->csv_prefix)
        return errmsg_set(err, errlen, "--csv-full-history requires --csv");
    if (c->abort_on_fail && !c->nthresholds)
        return errmsg_set(err, errlen, "--abort-on-fail needs at least one --threshold");
    if (seen->abort_delay && !c->abort_on_fail)
        return errmsg_set(err, errlen, "--abort-delay applies to --abort-on-fail");
    return 0;
}

static const option_t *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0) return &options[i];
    }
    return NULL;
}

static const option_t *find_short(char ch)
{
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        if (options[i].short_name == ch) return &options[i];
    }
    return NULL;
}

load_config_status_t load_config_parse(load_config_t *c, int argc, char **argv, unsigned ncpu, char *err,
                                       size_t errlen)
{
    *c = (load_config_t){0};
    c->keepalive = true;
    c->pipeline = 1;
    c->max_streams = 1;
    c->timeout_ms = LOAD_DEFAULT_TIMEOUT_MS;
    c->busy_poll_us = LOAD_DEFAULT_BUSY_POLL_US;
    c->busy_poll_auto = true;
    c->b64_field = "image";
    c->max_body_memory = LOAD_DEFAULT_MAX_BODY_MEMORY;
    c->abort_delay_ms = LOAD_DEFAULT_ABORT_DELAY_MS;
    load_status_set_default(&c->expect_status);
    seen_t seen = {0};
    bool only_args = false;
    err[0] = '\0';

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (c->url_str) {
                errmsg_set(err, errlen, "more than one URL: '%s' and '%s'", c->url_str, a);
                return LOAD_CONFIG_ERROR;
            }
            c->url_str = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const option_t *o = find_long(name, len);
            char opt[48];
            snprintf(opt, sizeof opt, "--%.*s", (int)(len < 40 ? len : 40), name);
            if (!o) {
                errmsg_set(err, errlen, "unknown option '%s'", opt);
                return LOAD_CONFIG_ERROR;
            }
            const char *arg = NULL;
            if (o->has_arg) {
                if (eq)
                    arg = eq + 1;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else {
                    errmsg_set(err, errlen, "%s needs a value", opt);
                    return LOAD_CONFIG_ERROR;
                }
            } else if (eq) {
                errmsg_set(err, errlen, "%s takes no value", opt);
                return LOAD_CONFIG_ERROR;
            }
            if (o->id == OPT_HELP) return LOAD_CONFIG_HELP;
            if (o->id == OPT_VERSION) return LOAD_CONFIG_VERSION;
            if (apply(c, &seen, o->id, opt, arg, err, errlen) < 0) return LOAD_CONFIG_ERROR;
            continue;
        }
        /* Short options, possibly grouped: -q -qc10 -c 10 */
        for (const char *p = a + 1; *p; p++) {
            const option_t *o = find_short(*p);
            char opt[3] = {'-', *p, '\0'};
            if (!o) {
                errmsg_set(err, errlen, "unknown option '%s'", opt);
                return LOAD_CONFIG_ERROR;
            }
            if (o->id == OPT_HELP) return LOAD_CONFIG_HELP;
            if (o->id == OPT_VERSION) return LOAD_CONFIG_VERSION;
            const char *arg = NULL;
            if (o->has_arg) {
                if (p[1])
                    arg = p + 1;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else {
                    errmsg_set(err, errlen, "%s needs a value", opt);
                    return LOAD_CONFIG_ERROR;
                }
            }
            if (apply(c, &seen, o->id, opt, arg, err, errlen) < 0) return LOAD_CONFIG_ERROR;
            if (arg) break;
        }
    }
    if (finish(c, &seen, ncpu, err, errlen) < 0) return LOAD_CONFIG_ERROR;
    return LOAD_CONFIG_RUN;
}

void load_config_free(load_config_t *c)
{
    for (size_t i = 0; i < c->nparts; i++)
        body_part_free(&c->parts[i]);
    free(c->parts);
    free(c->headers);
    free(c->thresholds);
    free(c->slos);
    c->parts = NULL;
    c->headers = NULL;
    c->thresholds = NULL;
    c->slos = NULL;
    c->nparts = c->nheaders = c->nthresholds = c->nslos = 0;
}
