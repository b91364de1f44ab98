/*
 * config: pixload's options and their command-line parser.
 *
 * load_config_parse() fills a load_config_t from argv. It never prints and never exits: it
 * returns a status and, on error, a one-line message; main prints it and exits with 2.
 * Strings in the config point into argv (which lives as long as the process) unless noted;
 * the arrays are owned by the config and freed by load_config_free().
 * The parse validates everything that can be checked without touching files or the
 * network: numbers and units, the URL, header syntax, option combinations, multipart part
 * specs. Files are read later, by scenario_build().
 */
#ifndef PIXD_LOAD_CONFIG_H
#define PIXD_LOAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/url.h"
#include "load/body.h"
#include "load/plan.h"
#include "load/threshold.h"
#include "load/units.h"

#define LOAD_MAX_CONNECTIONS 1000000u
#define LOAD_MAX_THREADS 1024u
#define LOAD_MAX_PIPELINE 1024u
#define LOAD_MAX_STREAMS 10000u
#define LOAD_MAX_BUSY_POLL_US 1000000u
#define LOAD_MAX_HEADERS 64u
#define LOAD_MAX_PARTS 64u

#define LOAD_DEFAULT_CONNECTIONS 10u
#define LOAD_DEFAULT_DURATION_MS 10000u /* when neither -t nor -n is given */
#define LOAD_DEFAULT_TIMEOUT_MS 10000u
#define LOAD_DEFAULT_SPAWN_RATE 1.0 /* users per second with -u, as locust */
/* Without --busy-poll a thread polls this long before sleeping, but only after an epoll batch of
 * LOAD_BUSY_POLL_BATCH events or more: under load an answer is then picked up without waking
 * a sleeping core, whose cost on a virtual machine the server pays too (docs/pixload.md);
 * lightly loaded, the thread sleeps at once. */
#define LOAD_DEFAULT_BUSY_POLL_US 20u
#define LOAD_BUSY_POLL_BATCH 2u
#define LOAD_DEFAULT_MAX_BODY_MEMORY (512ull << 20) /* pre-built requests, bytes */
#define LOAD_DEFAULT_ABORT_DELAY_MS 10000u /* --abort-on-fail judges after this (k6's delayAbortEval) */
#define LOAD_MAX_THRESHOLDS 64u
#define LOAD_DEFAULT_MAX_STEPS 10u   /* --find-max-rate: steps at most */
#define LOAD_DEFAULT_STEP_MS 5000u   /* --find-max-rate: each step's length unless -t */
#define LOAD_DEFAULT_START_RATE 50.0 /* --find-max-rate: the first step's rate unless -R */

/* A set of HTTP status codes (000..999), e.g. "200-299,304" or "2xx,3xx". */
typedef struct {
    uint64_t bits[16];
} load_status_set_t;

/* Parses a comma-separated list of codes ("200"), ranges ("200-299") and classes ("2xx")
 * into *s (replacing it). Returns 0, or -1 when spec is empty or malformed. */
int load_status_set_parse(load_status_set_t *s, const char *spec);
/* The default, 2xx and 3xx, as locust and wrk count success. */
void load_status_set_default(load_status_set_t *s);
static inline bool load_status_set_has(const load_status_set_t *s, int code)
{
    return code >= 0 && code < 1000 && (s->bits[code >> 6] >> (code & 63)) & 1;
}

/* A request header, pointing into the argument or file it came from. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* surrounding whitespace removed */
    size_t value_len;
} load_header_t;

/* Checks a header for a request: the name is an RFC 9110 token, the value has no control
 * byte but HTAB, and the name is not one pixload computes itself (Content-Length,
 * Transfer-Encoding). Returns 0, or -1 with a message in err. */
int load_header_check(const char *name, size_t name_len, const char *value, size_t value_len, char *err,
                      size_t errlen);
/* Splits "Name: value" (the -H syntax) and checks it. Returns 0, or -1 with a message. */
int load_header_parse(load_header_t *h, const char *line, char *err, size_t errlen);
/* True when s[0..n) is a non-empty RFC 9110 token (a method or header name). */
bool load_token_valid(const char *s, size_t n);

typedef enum {
    LOAD_BODY_NONE = 0,
    LOAD_BODY_FILE,         /* --body FILE */
    LOAD_BODY_JSON,         /* --json STRING */
    LOAD_BODY_BASE64_IMAGE, /* --base64-image FILE [--field F] [--filename N] */
    LOAD_BODY_MULTIPART,    /* --multipart SPEC ... */
    LOAD_BODY_IMAGE_URL,    /* --image-url URL */
} load_body_kind_t;

/* How a request whose body comes from a folder picks its file (--pick). */
typedef enum {
    LOAD_PICK_ROUND_ROBIN = 0, /* each thread goes through the files in name order */
    LOAD_PICK_RANDOM,          /* uniformly at random, per thread */
} load_pick_t;

typedef struct {
    const char *url_str; /* the URL argument */
    url_t url;           /* parsed, points into url_str */

    /* Load shape. connections is the number of concurrent connections (closed loop) or
     * users (the same thing, started gradually). */
    unsigned connections; /* -c or -u */
    bool users_mode;      /* -u was used (locust wording in output) */
    double spawn_rate;    /* connections started per second; 0 = all at once */
    uint64_t duration_ms; /* 0 = no time limit (then requests > 0) */
    uint64_t requests;    /* -n: total requests, 0 = no limit (then duration_ms > 0) */
    unsigned threads;     /* resolved: min(CPUs, connections) unless --threads */
    bool keepalive;       /* false with --no-keepalive: "Connection: close" on every request */
    double rate;          /* -R: total requests/s (a plan's highest), open loop; 0 = closed loop */
    plan_t rate_plan;     /* -R as a plan (plan.h): a plain R is a one-stage plan */
    plan_t users_plan;    /* -u as a plan (staged only; -u N keeps n = 0 and spawn_rate) */
    const char *rate_spec, *users_spec; /* -R and -u as given */
    unsigned pipeline;    /* requests in flight per connection, >= 1 */
    bool h2;              /* --h2: HTTP/2 (h2 by ALPN for https, h2c with prior knowledge for http) */
    unsigned max_streams; /* --max-streams: with h2, streams in flight per connection, >= 1 */
    unsigned busy_poll_us; /* --busy-poll: each thread polls this long before sleeping */
    bool busy_poll_auto;   /* not given: poll only after a batch of events (under load) */

    /* The request (without --scenario). method is NULL unless -m was given: the default
     * is GET, or POST when there is a body. */
    const char *method;
    load_header_t *headers; /* -H, in order, owned array */
    size_t nheaders;
    load_body_kind_t body_kind;
    const char *body_file;    /* LOAD_BODY_FILE */
    const char *json;         /* LOAD_BODY_JSON */
    const char *b64_file;     /* LOAD_BODY_BASE64_IMAGE */
    const char *b64_field;    /* --field, default "image" */
    const char *b64_filename; /* --filename, NULL = basename of b64_file */
    body_part_t *parts;       /* LOAD_BODY_MULTIPART, owned array, in order given */
    size_t nparts;
    const char *image_url;     /* LOAD_BODY_IMAGE_URL */
    const char *scenario_file; /* --scenario: requests come from this file instead */
    /* Bodies from a folder (a folder given where a file is expected): one pre-built request
     * per file. */
    load_pick_t pick;
    bool pick_seeded;         /* --pick random:SEED: the same sequence every run */
    uint64_t pick_seed;
    bool per_file;            /* --per-file: a stats row per file */
    uint64_t max_body_memory; /* --max-body-memory: bound on all pre-built requests, bytes */

    /* Checks. */
    uint64_t timeout_ms;
    load_status_set_t expect_status;
    bool expect_status_given;  /* --expect-status was used (overrides scenario defaults) */
    uint64_t expect_min_bytes; /* 0 = no check */
    const char *check_body;    /* --check-body FILE|DIR|sha256:HEX, NULL = no check */
    const char *check_field;   /* --check-field NAME: compare that JSON string, base64-decoded */

    /* Output. */
    const char *csv_prefix; /* NULL = no CSV */
    bool csv_full_history;  /* a stats_history row per request name too (locust's flag) */
    const char *json_out;   /* NULL = no JSON file */
    bool latency;           /* print the detailed latency percentiles */
    bool quiet;             /* no banner and no live status line */

    /* Results: pass/fail, the HTML report, the sample log, a common start (threshold.h). */
    threshold_t *thresholds; /* --threshold, in order, owned array (each points into argv) */
    size_t nthresholds;
    bool abort_on_fail;      /* stop once a threshold fails on the running totals */
    uint64_t abort_delay_ms; /* ... but not before this much of the run */
    const char *html_out;    /* --html FILE, NULL = none */
    const char *latency_log; /* --latency-log FILE, NULL = none */
    double start_at;         /* --start-at: Unix time to start at, 0 = at once */

    /* --find-max-rate: open-loop steps searching the highest rate under the SLOs (maxrate.h). */
    bool find_max_rate;
    threshold_t *slos; /* --slo, in order, owned array (each points into argv) */
    size_t nslos;
    unsigned max_steps; /* --max-steps */
} load_config_t;

typedef enum {
    LOAD_CONFIG_RUN = 0, /* *c is ready */
    LOAD_CONFIG_HELP,    /* --help: print load_config_usage() to stdout, exit 0 */
    LOAD_CONFIG_VERSION, /* --version: print "pixload " PIXD_VERSION, exit 0 */
    LOAD_CONFIG_ERROR,   /* err holds the message (no "pixload:" prefix, no newline): exit 2 */
} load_config_status_t;

/* Parses argv[1..argc) into *c (which it initialises). ncpu is the number of CPUs for the
 * default thread count (pass sysconf(_SC_NPROCESSORS_ONLN)). On any status, call
 * load_config_free(c) when done. getopt_long-style: options and the URL in any order,
 * "--opt=value" and "--opt value", short options may be grouped ("-qc10"), "--" ends
 * options. */
load_config_status_t load_config_parse(load_config_t *c, int argc, char **argv, unsigned ncpu, char *err,
                                       size_t errlen);
void load_config_free(load_config_t *c);

/* The --help text (every option with its default). */
const char *load_config_usage(void);

/* Parses --start-at's TIME: Unix seconds ("1796583600", "1796583600.5") or an ISO 8601 UTC
 * date and time ("2026-12-06T19:00:00Z", with optional fractional seconds, "Z" or "+00:00").
 * Returns 0, or -1 when malformed or not a real date. Whether it lies in the future is the
 * caller's business (the parse does not read the clock). */
int load_parse_wall_time(const char *s, double *unix_s);

#endif
