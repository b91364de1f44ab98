/*
 * engine: pixload's load: threads, each running one event loop over its share of the
 * connections, sending the scenario's pre-serialised requests and timing the answers.
 *
 * Closed loop (wrk, locust): each connection sends its next request when the previous answer
 * arrived (or keeps --pipeline requests in flight). Open loop (-R): each connection sends on a
 * fixed schedule and latency is measured from the time a request was *meant* to be sent, so a
 * stalled server shows as latency instead of hiding behind fewer requests (coordinated
 * omission, as wrk2 corrects it).
 *
 * Users (-u/-r) are connections started gradually: connection k starts k / spawn_rate seconds
 * into the run. Everything is allocated before the clock starts.
 */
#ifndef PIXD_LOAD_ENGINE_H
#define PIXD_LOAD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/sock.h"
#include "load/config.h"
#include "load/scenario.h"
#include "load/stats.h"

typedef struct engine engine_t;

/* Starts the threads. NULL with a message in err on failure. cfg and sc must outlive e. */
engine_t *engine_start(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr, char *err,
                       size_t errlen);
/* Thread-safe: ends the run early (Ctrl-C); what finished so far is kept. */
void engine_stop(engine_t *e);
/* Waits up to ms for the run to end. True when it has ended. */
bool engine_wait(engine_t *e, uint64_t ms);
/* Adds the threads' figures as of their last one-second snapshot into total (same n), and
 * returns the users (connections) started so far. */
unsigned engine_snapshot(engine_t *e, stats_t *total);
/* After the run: the final figures of every thread into total; the elapsed seconds. */
double engine_result(engine_t *e, stats_t *total);
/* Joins the threads and frees everything. */
void engine_free(engine_t *e);

#endif
