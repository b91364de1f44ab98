/*
 * conn: an HTTP/1.1 connection (internal to the server): how workers hand connections over,
 * and the state the lifecycle in conn.c keeps. Handlers see a req_t (server/req.h), never this.
 */
#ifndef PIXD_SERVER_CONN_H
#define PIXD_SERVER_CONN_H

#include "server/server.h"

/* IDLE: no byte of a request yet; HEAD, BODY: reading; CONTINUE: sending "100 Continue"
 * before the body; DISPATCH: complete, a handler runs; HELD: a handler answers later;
 * WRITING: sending; LINGER: answered before the request was read to its end, half-closed,
 * reading and dropping what the client still sends so that it can read the answer; CLOSED: socket gone, memory freed at the end of the loop iteration (or
 * when the handler holding it answers). */
enum conn_state {
    CONN_IDLE, CONN_HEAD, CONN_BODY, CONN_CONTINUE, CONN_DISPATCH, CONN_HELD, CONN_WRITING, CONN_LINGER,
    CONN_CLOSED
};

struct conn {
    loop_watch_t w;
    io_t io;
    worker_t *wk;
    conn_t *prev, *next;
    loop_timer_t timer;
    enum conn_state state;
    bool keep_alive;
    bool sent_continue;
    bool unread;       /* answered before the request was read to its end */
    bool nodelay;      /* TCP_NODELAY set (once kept alive) */
    bool running;      /* inside conn_run(): an answer is written by it, not scheduled */
    bool held;         /* a handler will answer (req_hold), even if the client has left */
    loop_defer_t defer; /* a run, or the free, at the end of the loop iteration */
    void (*hold_cancel)(void *arg);
    void *hold_arg;
    uint64_t body_charge; /* bytes of the memory budget this request holds */
    uint64_t body_started_ms;
    size_t buf_counted;   /* in.cap as last counted in worker_stats_t.buf_bytes */
    sock_addr_t peer;
    buf_t in;
    size_t head_len;   /* bytes of `in` the current head takes */
    const char *head_at; /* where the head was parsed: req's pointers point there */
    size_t body_len;   /* decoded body bytes, stored right after the head */
    size_t raw_len;    /* bytes after the head consumed so far (chunked framing included) */
    http_chunked_t chunked;
    http_request_t req;
    req_t r;           /* what the handlers see of the current request */
    /* the response being written: head (copied) + body (referenced until release) */
    char out[1024];
    struct iovec iov[2];
    int iovcnt;
    int file_fd;       /* the body, when it goes by sendfile */
    off_t file_off;
    size_t file_left;
    void (*release)(void *arg);
    void *release_arg;
    int status;
    uint64_t sent;
    uint64_t started_ms;
    uint64_t head_ns;     /* when the head was complete: the latency metrics start there */
};

/* The request body, complete when a handler runs. */
static inline char *conn_body(conn_t *c)
{
    return buf_start(&c->in) + c->head_len;
}

/* Takes ownership of an accepted, non-blocking fd; tls: its transport, NULL for plain. */
void conn_accepted(worker_t *wk, int fd, const sock_addr_t *peer, struct tls_ctx *tls);
/* Closes idle connections and marks the others to close after their answer. */
void conn_drain_all(worker_t *wk);

#endif
