/*
 * conn (internal to the server): how workers hand connections to the connection code.
 * Handlers use the conn_* API in server.h.
 */
#ifndef PIXD_SERVER_CONN_H
#define PIXD_SERVER_CONN_H

#include "server/server.h"

/* Takes ownership of an accepted, non-blocking fd; tls: its transport, NULL for plain. */
void conn_accepted(worker_t *wk, int fd, const sock_addr_t *peer, struct tls_ctx *tls);
/* Appends the access-log line of the answer being sent (common log format + duration). */
void conn_log(conn_t *c, uint64_t body_bytes);
/* Closes idle connections and marks the others to close after their answer. */
void conn_drain_all(worker_t *wk);

#endif
