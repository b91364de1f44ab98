/*
 * h2: pixd's HTTP/2 connections (internal to the server), over libnghttp2 (decision 010).
 *
 * A connection becomes HTTP/2 in conn.c (the preface on the plain port, or ALPN h2) and is
 * then run by h2_run, a loop of the same shape as HTTP/1.1's: write what is staged; feed what
 * was read to nghttp2; dispatch the streams that became complete (queued by nghttp2's
 * callbacks, dispatched after it returns: no handler ever runs inside the library); pull
 * frames out; write; read once. Each stream carries a req_t, so handlers never know which
 * protocol they answer; its body is charged to the process-wide body budget and the windows
 * pixd opens follow it (bytes are acknowledged with WINDOW_UPDATE only once stored in charged
 * memory).
 *
 * Everything here runs on the connection's loop thread. Answers from outside the loop (pool
 * completions, timers, other loops' posts) only submit frames and schedule the connection.
 */
#ifndef PIXD_SERVER_H2_H
#define PIXD_SERVER_H2_H

#include "server/conn.h"

/* Makes c, whose read buffer holds its first bytes, an HTTP/2 connection (state CONN_H2): a
 * session with pixd's limits, our SETTINGS queued. Closes c when out of memory. */
void h2_conn_start(conn_t *c);
/* The lifecycle of an HTTP/2 connection, called by conn_run. readable: epoll said so. */
void h2_run(conn_t *c, bool readable);
/* The connection's timer fired: settings, idle, stalled write or body, drain steps. */
void h2_timeout(conn_t *c);
/* Graceful stop: a shutdown notice now, GOAWAY with the last stream shortly after; the
 * streams open finish, then the connection closes. */
void h2_drain(conn_t *c);
/* The socket is gone (conn_close): every stream ends; handlers that hold one are told, and
 * c->held stays set until the last of them has answered. */
void h2_conn_closed(conn_t *c);
/* Frees the HTTP/2 state (conn_free; nothing when c never spoke HTTP/2). */
void h2_conn_free(conn_t *c);

#endif
