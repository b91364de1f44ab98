/*
 * engine: pixload's load: threads, each running one event loop over its share of the
 * connections, sending the scenario's pre-serialised requests and timing the answers.
 *
 * Closed loop (wrk, locust): each connection sends its next request when the previous answer
 * arrived (or keeps --pipeline requests in flight), once the thread has handled the batch of
 * events that answer came in (as wrk, and cheaper for the server: its requests arrive
 * together); latency counts from the write. With -n, a request is claimed before its
 * connection is opened, so counts are exact and no connection is opened for nothing.
 * Open loop (-R): each connection sends on a fixed schedule and latency is measured from the
 * time a request was *meant* to be sent, so a stalled server shows as latency instead of
 * hiding behind fewer requests (coordinated omission, as wrk2 corrects it).
 *
 * HTTP/2 (--h2): one nghttp2 client session per connection (h2client.h) with up to --max-streams
 * requests in flight, each on its own stream, in turns: read into the session, record the
 * streams that ended, fill the free slots, write the session's frames in one writev. Open loop:
 * a request goes out when its time has come and a stream is free, its latency counting from
 * its time either way.
 *
 * Users (-u/-r) are connections started gradually: connection k starts k / spawn_rate seconds
 * into the run. With a users plan (-u PLAN, plan.h), user k starts when the plan first reaches
 * k + 1 users, and stops (its connection closed between two requests) while the plan is below
 * that. With a rate plan (-R PLAN; a plain -R R is a constant one), connection k sends the run's
 * requests k, k + connections, k + 2 connections, ... each at its intended time on the plan
 * (plan_time_of), so the rate follows the plan's stages and ramps.
 * Everything is allocated before the clock starts.
 */
#ifndef PIXD_LOAD_ENGINE_H
#define PIXD_LOAD_ENGINE_H

#include <stdint.h>

#include "core/sock.h"
#include "load/config.h"
#include "load/latlog.h"
#include "load/scenario.h"
#include "load/stats.h"

typedef struct engine engine_t;

/* Starts the threads. NULL with a message in err on failure. cfg and sc must outlive e. */
engine_t *engine_start(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr, char *err,
                       size_t errlen);
/* The same, every sample also going to log (--latency-log; NULL: none), which must outlive
 * the threads (close it after engine_result). */
engine_t *engine_start_logged(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr,
                              latlog_t *log, char *err, size_t errlen);
/* The Unix time the run's clock started at (its second 0: series and logs count from it). */
double engine_start_wall(const engine_t *e);
/* Thread-safe: ends the run early (Ctrl-C); what finished so far is kept. */
void engine_stop(engine_t *e);
typedef enum {
    ENGINE_TIMEOUT, /* ms passed */
    ENGINE_SECOND,  /* every thread has published its figures for second sec of the run */
    ENGINE_ENDED,   /* the run is over (duration, -n, or engine_stop) */
} engine_event_t;

/* Waits up to ms for the run to end or to reach second sec (1, 2, ...: whole seconds after
 * the start, on the run's own clock, so rows taken at each second do not drift). */
engine_event_t engine_wait(engine_t *e, unsigned sec, uint64_t ms);
/* Adds the threads' figures as of their latest published second into total (same n), and
 * returns the users (connections) started by then. */
unsigned engine_snapshot(engine_t *e, stats_t *total);
/* After the run: the final figures of every thread into total; the elapsed seconds. */
double engine_result(engine_t *e, stats_t *total);
/* After the run: why it could not go on (with --h2, the server does not speak HTTP/2: no h2 by
 * ALPN, or the h2c preface answered by something else than SETTINGS), or NULL. main prints it
 * instead of a summary and exits 1. */
const char *engine_error(engine_t *e);
/* With --h2: the fewest streams per connection a server allowed (min(--max-streams, its
 * SETTINGS_MAX_CONCURRENT_STREAMS)), 0 when no connection got its SETTINGS. */
unsigned engine_h2_streams(engine_t *e);
/* What the plan asks for sec seconds into the run (the one place reports take the target
 * from): with -R, the request rate (*unit "req/s"); else with -u PLAN, the users (*unit
 * "users"); else NAN. */
double engine_target(const engine_t *e, double sec, const char **unit);
/* Joins the threads and frees everything. */
void engine_free(engine_t *e);

#endif
