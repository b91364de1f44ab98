/*
 * conn: a client connection (internal to the server): how workers hand connections over, and
 * the state the lifecycle in conn.c keeps. HTTP/1.1 lives in conn.c; a connection that turns
 * out to speak HTTP/2 (ALPN h2, or the h2c preface) is run by server/h2.c from the same
 * conn_run, with the same socket, timer and deferred close. Handlers see a req_t
 * (server/req.h), never this.
 */
#ifndef PIXD_SERVER_CONN_H
#define PIXD_SERVER_CONN_H

#include "server/server.h"

/* IDLE: no byte of a request yet; HEAD, BODY: reading; CONTINUE: sending "100 Continue"
 * before the body; DISPATCH: complete, a handler runs; HELD: a handler answers later;
 * WRITING: sending; LINGER: answered before the request was read to its end, half-closed,
 * reading and dropping what the client still sends so that it can read the answer; H2: an
 * HTTP/2 connection, its streams run by server/h2.c; CLOSED: socket gone, memory freed at the
 * end of the loop iteration (or when the handlers holding it have answered). */
enum conn_state {
    CONN_IDLE, CONN_HEAD, CONN_BODY, CONN_CONTINUE, CONN_DISPATCH, CONN_HELD, CONN_WRITING, CONN_LINGER,
    CONN_H2, CONN_CLOSED
};

struct h2_conn;

#define CONN_HEAD_MAX 8192 /* a request head (HTTP/2: a header list), every request: 431 beyond */
#define CONN_READ_CHUNK 16384 /* one read while no body is expected; the pooled buffers' size */

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
    bool held;         /* a handler will answer (req_hold), even if the client has left (HTTP/2:
                          one or more of its streams' handlers) */
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
    req_release_t release;
    int status;
    uint64_t sent;
    uint64_t started_ms;
    uint64_t head_ns;     /* when the head was complete: the latency metrics start there */
    struct h2_conn *h2;   /* HTTP/2 state, once the connection speaks it (state H2) */
};

/* The request body, complete when a handler runs. */
static inline char *conn_body(conn_t *c)
{
    return buf_start(&c->in) + c->head_len;
}

/* Takes ownership of an accepted, non-blocking fd; tls: its transport, NULL for plain. */
void conn_accepted(worker_t *wk, int fd, const sock_addr_t *peer, struct tls_ctx *tls);
/* Closes idle connections and marks the others to close after their answer (HTTP/2: GOAWAY,
 * the open streams finish). */
void conn_drain_all(worker_t *wk);

/* ---- shared by the two protocols (conn.c and h2.c) -------------------------------------- */

/* Closes the socket now, from anywhere; the memory goes at the end of the iteration, or once
 * the handlers holding the connection have answered (they are told to give up first). */
void conn_close(conn_t *c);
/* Runs the connection (or frees it, once closed) at the end of this loop iteration. */
void conn_schedule(conn_t *c);
/* The epoll interest (the connection joins epoll the first time). */
void conn_watch(conn_t *c, uint32_t ev);
/* Arms the connection's timer (its protocol's timeout runs when it fires). */
void conn_timer(conn_t *c, uint64_t after_ms);
/* One read of at most max bytes into c->in, its capacity bounded by limit. 1: bytes came;
 * 0: nothing now (io.want says which way it waits); -1: the connection closed. */
int conn_fill(conn_t *c, size_t max, size_t limit);
/* Gives the read buffer back to the worker's spares (worker_t.bufs) when it holds no byte;
 * the next conn_fill takes one again: a connection waiting for its client costs its state,
 * not 16 KiB of buffer (as nginx frees an idle connection's buffers). */
void conn_release_input(conn_t *c);
/* Ends the sending side and reads and drops what the client still sends, for a while, then
 * closes: the client reads our last bytes instead of losing them to a reset. */
void conn_linger(conn_t *c);
/* Accounts a write's result: false when the connection waits for room (the stall clock runs)
 * or has closed. */
bool conn_wrote(conn_t *c, ssize_t n);
/* An answer's facts that both protocols record: the metrics, and the access-log line
 * ("HTTP/1.1", "HTTP/2.0"; req NULL when no request line was parsed). */
void conn_account(worker_t *wk, const req_t *r, const http_request_t *req, const char *proto, const sock_addr_t *peer,
                  int status, uint64_t body_bytes, uint64_t head_ns, uint64_t started_ms);
uint64_t conn_now_ns(void);
/* v in decimal at dst (room for 20 digits); returns the digits written. */
size_t conn_put_u64(char *dst, uint64_t v);

/* Statuses that never carry a body. */
static inline bool conn_status_bodiless(int status)
{
    return status == 304 || status == 204 || (status >= 100 && status < 200);
}

#endif
