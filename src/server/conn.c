/*
 * conn: one client connection's life: read a head, read its body, hand it to the router,
 * write the answer, then keep-alive, pipeline or close.
 *
 * Level-triggered epoll, one interest at a time: EPOLLIN while reading a request, EPOLLOUT
 * while an answer is blocked, nothing while a handler holds the connection. The head and
 * body stay in the read buffer, parsed in place; the next pipelined request follows them.
 */
#include "server/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/tls.h"
#include "server/router.h"

#define HEAD_MAX 8192
#define READ_CHUNK 16384

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events);
static void process(conn_t *c);
static void resume(conn_t *c);

/* A connection joins epoll only when it first has to wait: a request answered straight
 * from accept (TCP_DEFER_ACCEPT) and closed never costs an epoll_ctl. */
static void set_interest(conn_t *c, uint32_t ev)
{
    if (c->w.cb)
        loop_watch_mod(c->wk->loop, &c->w, ev);
    else if (loop_watch_add(c->wk->loop, &c->w, c->io.fd, ev, on_io) != 0)
        c->w.cb = on_io; /* out of memory: the connection ends by its timer */
}

static void release_body(conn_t *c)
{
    if (c->release)
        c->release(c->release_arg);
    c->release = NULL;
}

static void conn_free(conn_t *c)
{
    worker_t *wk = c->wk;
    release_body(c);
    buf_free(&c->in);
    if (c->prev)
        c->prev->next = c->next;
    else
        wk->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wk->nconns--;
    wk->closed++;
    __atomic_store_n(&wk->stats.conns_open, (uint64_t)wk->nconns, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&wk->srv->conns_now, 1, __ATOMIC_RELAXED);
    free(c);
}

/* Closes the socket. A held connection's memory waits for its handler's answer. */
static void conn_close(conn_t *c)
{
    loop_timer_cancel(c->wk->loop, &c->timer);
    /* close() takes the fd out of epoll (the fd is never duplicated): no EPOLL_CTL_DEL. */
    c->io.ops->close(&c->io);
    c->w.fd = -1;
    if (c->state == CONN_HELD) {
        c->state = CONN_CLOSED;
        return;
    }
    c->state = CONN_CLOSED;
    conn_free(c);
}

static void on_timeout(loop_t *loop, loop_timer_t *t)
{
    conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
    switch (c->state) {
    case CONN_HEAD:
    case CONN_BODY:
        c->keep_alive = false;
        conn_respond_error(c, 408, "request timeout");
        break;
    default: /* idle keep-alive, or a client that stopped reading its answer */
        conn_close(c);
    }
}

void conn_accepted(worker_t *wk, int fd, const sock_addr_t *peer, struct tls_ctx *tls)
{
    conn_t *c = calloc(1, sizeof *c);
    if (c && !tls) {
        io_init_plain(&c->io, fd);
    } else if (c && io_init_tls(&c->io, fd, tls, NULL) != 0) {
        free(c);
        c = NULL;
    }
    if (!c) {
        close(fd);
        __atomic_fetch_sub(&wk->srv->conns_now, 1, __ATOMIC_RELAXED);
        return;
    }
    c->wk = wk;
    c->peer = *peer;
    c->next = wk->conns;
    if (wk->conns)
        wk->conns->prev = c;
    wk->conns = c;
    wk->nconns++;
    wk->stats.conns_total++;
    __atomic_store_n(&wk->stats.conns_open, (uint64_t)wk->nconns, __ATOMIC_RELAXED);
    c->state = CONN_IDLE;
    c->w.fd = fd;
    /* Listeners use TCP_DEFER_ACCEPT, so the request is usually here already: read it now
     * rather than after another trip through epoll. If the connection is still open and
     * registered nowhere afterwards, it waits for more of its request. */
    uint64_t closed = wk->closed;
    on_io(wk->loop, &c->w, EPOLLIN);
    if (wk->closed != closed)
        return;
    if (!c->w.cb)
        set_interest(c, EPOLLIN);
    /* A client that connects and sends nothing (or stalls its TLS handshake, whatever the
     * direction it waits in) gets the head timeout too. */
    if (c->state == CONN_IDLE && !loop_timer_armed(&c->timer))
        loop_timer_arm(wk->loop, &c->timer, wk->srv->cfg.header_timeout_ms, on_timeout);
}

/* ---- writing ------------------------------------------------------------------------- */

/* Called when the answer is fully written: log, then the next request or close. */
static void finish_response(conn_t *c)
{
    worker_t *wk = c->wk;
    release_body(c);
    __atomic_store_n(&wk->stats.requests, wk->stats.requests + 1, __ATOMIC_RELAXED);
    if (!c->keep_alive || wk->draining) {
        /* Unread bytes at close turn our FIN into a RST that can destroy the answer in
         * flight: half-close first when the request was not read to its end. */
        if (c->unread || buf_size(&c->in) != c->head_len + c->raw_len)
            c->io.ops->shutdown(&c->io);
        conn_close(c);
        return;
    }
    if (!c->nodelay) {
        /* Kept alive: later answers must not wait for an ACK of this one (Nagle). A
         * connection closed after one answer never needs it, as nginx reasons too. */
        int one = 1;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->nodelay = true;
    }
    buf_consume(&c->in, c->head_len + c->raw_len);
    c->head_len = c->body_len = c->raw_len = 0;
    c->state = CONN_IDLE;
    set_interest(c, EPOLLIN);
    if (!buf_size(&c->in))
        loop_timer_arm(wk->loop, &c->timer, wk->srv->cfg.keepalive_timeout_ms, on_timeout);
    resume(c); /* a pipelined request already buffered, here or in the transport */
}

/* Accounts a write's result. False when the connection must wait for room (the stall clock
 * then runs) or is gone. */
static bool wrote(conn_t *c, ssize_t n)
{
    if (n == IO_AGAIN) {
        set_interest(c, c->io.want);
        loop_timer_arm(c->wk->loop, &c->timer, c->wk->srv->cfg.body_timeout_ms, on_timeout);
        return false;
    }
    if (n <= 0) {
        conn_close(c);
        return false;
    }
    c->sent += (uint64_t)n;
    return true;
}

static void flush(conn_t *c)
{
    /* With a file to follow, the head waits for it (MSG_MORE): one segment, not two. */
    c->io.more = c->file_left > 0;
    while (c->iovcnt) {
        ssize_t n = c->io.ops->writev(&c->io, c->iov, c->iovcnt);
        if (!wrote(c, n))
            return;
        unsigned i = io_iov_advance(c->iov, 0, (unsigned)c->iovcnt, (size_t)n);
        memmove(c->iov, c->iov + i, (size_t)(c->iovcnt - (int)i) * sizeof c->iov[0]);
        c->iovcnt -= (int)i;
    }
    c->io.more = 0;
    if (c->state == CONN_CONTINUE) { /* "100 Continue" is out: now the body */
        c->state = CONN_BODY;
        set_interest(c, EPOLLIN);
        resume(c);
        return;
    }
    while (c->file_left) {
        ssize_t n = c->io.ops->sendfile(&c->io, c->file_fd, &c->file_off, c->file_left);
        if (!wrote(c, n))
            return;
        c->file_left -= (size_t)n;
    }
    finish_response(c);
}

static size_t put(char *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    return n;
}

static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

#define PUT(lit) (p += put(p, lit, sizeof(lit) - 1))

void conn_respond(conn_t *c, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                  void (*release)(void *), void *arg)
{
    conn_respond_file(c, status, headers, hlen, body, blen, -1, release, arg);
}

void conn_respond_file(conn_t *c, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                       int fd, void (*release)(void *), void *arg)
{
    worker_t *wk = c->wk;
    if (c->state == CONN_CLOSED) { /* the client left while a handler held it */
        if (release)
            release(arg);
        conn_free(c);
        return;
    }
    loop_timer_cancel(wk->loop, &c->timer);
    c->status = status;
    c->release = release;
    c->release_arg = arg;

    bool no_body = status == 304 || status == 204 || (status >= 100 && status < 200);
    bool head_only = no_body || c->req.method == HTTP_METHOD_HEAD;
    /* Answered before its body was read (413, 408, a parse error): framing is lost. */
    c->unread = c->state == CONN_HEAD || c->state == CONN_IDLE || c->state == CONN_BODY;
    if (c->unread)
        c->keep_alive = false;

    const char *text = http_status_text(status);
    /* The head is built in c->out; a short body may be staged in its upper half (error and
     * status bodies), so the head must stop before it. Handlers pass short header sets: a
     * set that would not fit is dropped rather than overflow on a bug. */
    size_t room = sizeof c->out;
    if ((const char *)body >= c->out && (const char *)body < c->out + sizeof c->out)
        room = (size_t)((const char *)body - c->out);
    if (hlen + 256 > room)
        hlen = 0;
    char *p = c->out;
    PUT("HTTP/1.1 ");
    p += put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p += put(p, text, strlen(text));
    PUT("\r\nServer: pixd\r\nDate: ");
    p += put(p, http_date_cached(&wk->date, loop_wall_s(wk->loop)), HTTP_DATE_LEN);
    if (!c->keep_alive || wk->draining)
        PUT("\r\nConnection: close");
    else if (c->req.h.minor_version == 0)
        PUT("\r\nConnection: keep-alive");
    PUT("\r\n");
    p += put(p, headers, hlen);
    if (!no_body) {
        PUT("Content-Length: ");
        p += put_u64(p, blen);
        PUT("\r\n");
    }
    PUT("\r\n");

    c->iov[0].iov_base = c->out;
    c->iov[0].iov_len = (size_t)(p - c->out);
    c->iovcnt = 1;
    c->file_left = 0;
    if (!head_only && blen) {
        if (fd >= 0 && c->io.ops->sendfile) {
            c->file_fd = fd;
            c->file_off = 0;
            c->file_left = blen;
        } else {
            c->iov[1].iov_base = (void *)body;
            c->iov[1].iov_len = blen;
            c->iovcnt = 2;
        }
    }
    if (wk->srv->log_fd >= 0)
        conn_log(c, head_only ? 0 : blen);
    c->state = CONN_WRITING;
    flush(c);
}

void conn_respond_error(conn_t *c, int status, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\": \"%s\"}\n", reason);
    if (n < 0 || n >= (int)sizeof body)
        n = snprintf(body, sizeof body, "{\"error\": \"error\"}\n");
    static const char h[] = "Content-Type: application/json\r\n";
    /* The body is copied into `out` after the head so it outlives this frame. */
    size_t room = sizeof c->out / 2;
    char *copy = c->out + room;
    memcpy(copy, body, (size_t)n);
    conn_respond(c, status, h, sizeof h - 1, copy, (size_t)n, NULL, NULL);
}

void conn_respond_405(conn_t *c, const char *allow)
{
    char h[128];
    int n = snprintf(h, sizeof h, "Allow: %s\r\n", allow);
    char *body = c->out + sizeof c->out / 2;
    static const char msg[] = "{\"error\": \"method not allowed\"}\n";
    memcpy(body, msg, sizeof msg - 1);
    char hdrs[192];
    int m = snprintf(hdrs, sizeof hdrs, "Content-Type: application/json\r\n%.*s", n, h);
    conn_respond(c, 405, hdrs, (size_t)m, body, sizeof msg - 1, NULL, NULL);
}

void conn_hold(conn_t *c)
{
    /* The interest stays: clearing it here would cost one epoll_ctl now and one to restore
     * it after the answer. An event that does come while held clears it then (on_io). */
    c->state = CONN_HELD;
}

/* ---- reading ------------------------------------------------------------------------- */

/* Reads what the socket has (one read: level-triggered epoll calls again if more is
 * waiting). Returns false when the connection was closed. */
static bool fill(conn_t *c, size_t limit)
{
    long room = buf_reserve(&c->in, READ_CHUNK, limit);
    if (room < 0) {
        conn_close(c);
        return false;
    }
    if (room == 0)
        return true; /* at the limit: process() answers 431/413 */
    ssize_t n = c->io.ops->read(&c->io, c->in.data + c->in.len, (size_t)room);
    if (n == IO_AGAIN) {
        if (c->io.want == EPOLLOUT) /* TLS: the handshake has to send before it reads on */
            set_interest(c, EPOLLOUT);
        return true;
    }
    if (n <= 0) {
        conn_close(c);
        return false;
    }
    c->in.len += (size_t)n;
    return true;
}

static size_t body_limit(const conn_t *c)
{
    return HEAD_MAX + c->wk->srv->cfg.max_body + 64; /* +64: chunk framing slack */
}

/* Advances through head and body as far as the buffered bytes allow. */
static void process(conn_t *c)
{
    worker_t *wk = c->wk;
    const server_config_t *cfg = &wk->srv->cfg;
    if (c->state == CONN_IDLE || c->state == CONN_HEAD) {
        int r = http_parse_request(buf_start(&c->in), buf_size(&c->in), &c->req);
        if (r == HTTP_PARSE_INCOMPLETE) {
            if (buf_size(&c->in) >= HEAD_MAX) {
                conn_respond_error(c, 431, "request head too large");
                return;
            }
            if (c->state == CONN_IDLE && buf_size(&c->in)) {
                c->state = CONN_HEAD; /* the head clock starts at its first byte */
                c->started_ms = loop_now_ms(wk->loop);
                loop_timer_arm(wk->loop, &c->timer, cfg->header_timeout_ms, on_timeout);
            }
            return;
        }
        if (r == HTTP_PARSE_ERROR) {
            c->state = CONN_HEAD;
            conn_respond_error(c, http_err_status(c->req.h.error), http_err_reason(c->req.h.error));
            return;
        }
        if (c->state == CONN_IDLE)
            c->started_ms = loop_now_ms(wk->loop);
        c->head_len = (size_t)r;
        c->head_at = buf_start(&c->in);
        c->keep_alive = c->req.h.keep_alive;
        c->body_len = c->raw_len = 0;
        memset(&c->chunked, 0, sizeof c->chunked);
        c->sent_continue = false;
        if (c->req.h.content_length > (int64_t)cfg->max_body) {
            c->state = CONN_BODY;
            conn_respond_error(c, 413, "request body too large");
            return;
        }
        c->state = CONN_BODY;
    }

    if (c->state != CONN_BODY)
        return;
    if (c->req.h.chunked) {
        /* Layout after the head: the decoded body, then raw bytes not decoded yet. Decoding
         * in place keeps that true; pipelined bytes after the body are moved up behind it. */
        char *raw = conn_body(c) + c->body_len;
        size_t n = buf_size(&c->in) - c->head_len - c->body_len;
        ssize_t rest = http_chunked_decode(&c->chunked, raw, &n);
        if (rest == HTTP_PARSE_ERROR) {
            c->keep_alive = false;
            conn_respond_error(c, 400, "malformed chunked body");
            return;
        }
        c->body_len += n;
        c->in.len = (size_t)(raw + n - c->in.data) + (size_t)(rest > 0 ? rest : 0);
        if (c->body_len > cfg->max_body || (rest < 0 && buf_size(&c->in) >= body_limit(c))) {
            conn_respond_error(c, 413, "request body too large");
            return;
        }
        if (rest >= 0) {
            c->raw_len = c->body_len;
            goto complete;
        }
    } else {
        uint64_t want = c->req.h.content_length > 0 ? (uint64_t)c->req.h.content_length : 0;
        if (buf_size(&c->in) - c->head_len >= want) {
            c->body_len = c->raw_len = (size_t)want;
            goto complete;
        }
    }
    /* The body is incomplete: (re)start its stall clock. Bodiless requests never get here,
     * which spares the timer heap two operations per request. */
    loop_timer_arm(wk->loop, &c->timer, cfg->body_timeout_ms, on_timeout);
    if (c->req.expect_continue && !c->sent_continue && c->req.h.minor_version == 1) {
        /* Sent like an answer, so a blocked write is finished before anything else goes
         * out (a transport must never be left with half a write: io.h). */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->sent_continue = true;
        c->iov[0].iov_base = (void *)cont;
        c->iov[0].iov_len = sizeof cont - 1;
        c->iovcnt = 1;
        c->state = CONN_CONTINUE;
        flush(c);
    }
    return;
complete:
    loop_timer_cancel(wk->loop, &c->timer);
    /* Reading the body may have moved the buffer: the head's pointers must follow it. */
    if (buf_start(&c->in) != c->head_at)
        http_parse_request(buf_start(&c->in), c->head_len, &c->req);
    c->state = CONN_DISPATCH;
    router_dispatch(c);
}

static bool wants_input(const conn_t *c)
{
    return c->state == CONN_IDLE || c->state == CONN_HEAD || c->state == CONN_BODY;
}

/* Reads and processes until the request needs bytes that only epoll can announce: input the
 * transport holds (TLS, io->pending) gets no event. A loop, not recursion: a call made from
 * inside it (an answer finished synchronously) returns and leaves the reading to it. */
static void input(conn_t *c)
{
    worker_t *wk = c->wk;
    if (c->reading)
        return;
    uint64_t closed = wk->closed;
    c->reading = true;
    do {
        if (!fill(c, c->state == CONN_BODY ? body_limit(c) : HEAD_MAX))
            return; /* closed and freed */
        process(c);
    } while (wk->closed == closed && c->io.pending && wants_input(c));
    if (wk->closed == closed)
        c->reading = false;
}

/* Goes on with a connection that waits for input again after writing: what is buffered
 * first, then what the transport holds. */
static void resume(conn_t *c)
{
    worker_t *wk = c->wk;
    uint64_t closed = wk->closed;
    if (buf_size(&c->in))
        process(c);
    if (wk->closed == closed && c->io.pending && wants_input(c))
        input(c);
}

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    conn_t *c = (conn_t *)w;
    if (c->state == CONN_WRITING || c->state == CONN_CONTINUE) {
        flush(c);
        return;
    }
    if (c->state == CONN_HELD) {
        if (events & (EPOLLERR | EPOLLHUP))
            conn_close(c);
        else /* more input (a pipelined request, a FIN) waits for the answer */
            set_interest(c, 0);
        return;
    }
    if (c->w.events & EPOLLOUT) /* a TLS read that had to send first has sent */
        set_interest(c, EPOLLIN);
    input(c);
}

void conn_drain_all(worker_t *wk)
{
    conn_t *c = wk->conns;
    while (c) {
        conn_t *next = c->next;
        /* Idle ones close now; the rest close after their answer (finish_response). A head
         * half-received is a request in flight: it gets its answer. */
        if (c->state == CONN_IDLE)
            conn_close(c);
        c = next;
    }
}
