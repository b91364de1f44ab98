/*
 * scenario: the set of requests a run sends, each serialised once before the run.
 *
 * Built from the command line (one request) or from a --scenario JSON file (several
 * weighted requests, like locust tasks; the format is in docs/pixload.md). Each entry holds
 * the complete request bytes (request line, Host, headers, Content-Length, body): every
 * connection of every thread sends the same bytes, read-only, so a scenario is shared by
 * all threads without locking once built.
 *
 * A body given as a folder (--body, --base64-image, a --multipart file part, or the same keys in
 * a scenario file) makes a *group*: one entry per file, each serialised before the run, picked
 * in turn (or at random, --pick) by scenario_next() whenever the group's weight picks it. Every
 * other request is a group of one. The pre-built requests are bounded by --max-body-memory.
 *
 * --check-body (or an entry's "check_body") gives an entry the expected answer (check.h): a
 * FILE, a sha256:HEX, or a DIR holding one expected file per input file of a folder body, by
 * the same name. Only the expected bytes' digest is kept.
 *
 * Entries with the same name and method share one statistics slot (one CSV row), as locust
 * merges requests with the same name: entry->stat indexes scenario_t.stats[] and the
 * per-thread stats_t (stats.h) built with scenario_t.nstats slots.
 */
#ifndef PIXD_LOAD_SCENARIO_H
#define PIXD_LOAD_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "load/check.h"
#include "load/config.h"

#define SCENARIO_MAX_ENTRIES 1024
#define SCENARIO_MAX_WEIGHT 1000000u
#define SCENARIO_MAX_FILE (16u << 20)

typedef struct {
    const char *name; /* the stats name: the entry's "name", else its path and query */
    const char *method;
} scenario_stat_t;

typedef struct {
    const char *name;
    const char *method;
    uint32_t weight;
    unsigned stat; /* index into scenario_t.stats */
    bool head;     /* HEAD: the response has no body whatever its headers say */
    char *request; /* the serialised request, owned */
    size_t request_len;
    size_t body_len;           /* the body is the last body_len bytes of request */
    load_status_set_t expect;  /* statuses that count as success */
    uint64_t expect_min_bytes; /* response body shorter than this fails; 0 = no check */
    uint64_t timeout_ms;
    unsigned group;   /* index into scenario_t.groups */
    const char *file; /* from a folder: the file's name (the stats name's suffix with --per-file) */
    check_t check;    /* --check-body: the expected answer (mode CHECK_NONE: none) */
} scenario_entry_t;

/* Entries first .. first + n - 1 are one request's bodies (n > 1 only from a folder). */
typedef struct {
    size_t first, n;
} scenario_group_t;

typedef struct {
    /* Where to connect (from the command-line URL): host NUL-terminated, for getaddrinfo. */
    char *host;
    uint16_t port;
    bool tls;
    scenario_entry_t *entries;
    size_t n;
    scenario_stat_t *stats; /* distinct (name, method) pairs, in order of first use */
    size_t nstats;
    scenario_group_t *groups;
    size_t ngroups;
    size_t folder_files;    /* entries whose body came from a folder */
    bool checks;            /* some entry checks its answers' bodies */
    uint64_t request_bytes; /* every entry's request_len: the memory the pre-built requests take */
    load_pick_t pick;       /* --pick, and the seed the cursors start from */
    uint64_t seed;
    uint64_t *_cum;  /* cumulative weights of the groups, for scenario_pick */
    char **_strings; /* owned names and methods */
    size_t _nstrings;
} scenario_t;

/* Builds the scenario from a parsed config: the single request the options describe, or
 * the entries of c->scenario_file (with c's headers added to every entry and c's checks as
 * their defaults). Reads every file the requests need. Returns 0, or -1 with a one-line
 * message in err (main exits 2: the cause is a bad argument or file). On error *s is left
 * empty; scenario_free() is safe either way. */
int scenario_build(scenario_t *s, const load_config_t *c, char *err, size_t errlen);
/* The same from a scenario's text (json[0..len)), as if read from a file in directory dir
 * (relative file paths in it are resolved against dir; NULL = working directory). */
int scenario_build_json(scenario_t *s, const load_config_t *c, const char *json, size_t len, const char *dir,
                        char *err, size_t errlen);
void scenario_free(scenario_t *s);

/* The first entry of a group picked at random by weight: `rnd` is a uniformly random 64-bit
 * number (e.g. from scenario_rand). O(log groups); with one group, O(1). */
const scenario_entry_t *scenario_pick(const scenario_t *s, uint64_t rnd);

/* One thread's picking state: its random generator and, per group, the next file in turn.
 * Round-robin cursors of thread `index` start at file index % n, so threads do not send the
 * same file at once; random ones are seeded from the scenario's seed and the index (fixed
 * with --pick random:SEED, so a run with the same threads picks the same files). */
typedef struct {
    uint64_t rng;
    size_t *next; /* owned, one per group */
} scenario_cursor_t;

int scenario_cursor_init(scenario_cursor_t *cur, const scenario_t *s, unsigned index);
void scenario_cursor_free(scenario_cursor_t *cur);
/* The next request to send: a group by weight, then its next file by --pick. O(1) with one
 * request; never allocates. */
const scenario_entry_t *scenario_next(const scenario_t *s, scenario_cursor_t *cur);
/* The request bytes of e (owned by the scenario, valid until scenario_free). */
static inline void scenario_request(const scenario_entry_t *e, struct iovec *iov)
{
    iov->iov_base = e->request;
    iov->iov_len = e->request_len;
}

/* splitmix64: a fast, good-enough generator for picking entries; seed *state with anything
 * (e.g. the thread index), one state per thread. */
static inline uint64_t scenario_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
