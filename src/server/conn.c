/*
 * conn: one client connection's life, as one loop (conn_run): read, parse the head, read the
 * body, dispatch, write the answer, then the next request or close. A connection whose first
 * bytes are the HTTP/2 preface (h2c with prior knowledge, or h2 chosen by ALPN) is handed to
 * h2_run (server/h2.c) from the same loop. Nothing re-enters it:
 * handlers, timers and completions only change the state and, from outside the loop, defer a
 * run to the end of the loop iteration; closing is deferred the same way, so any callback may
 * ask for it (loop.h).
 *
 * Level-triggered epoll, one interest at a time: EPOLLIN while reading a request, the
 * transport's want while an answer is blocked, EPOLLRDHUP while a handler holds the
 * connection (a client that leaves drops its job). The head and body stay in the read buffer,
 * parsed in place; the next pipelined request follows them.
 */
#include "server/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/tls.h"
#include "http/h2.h"
#include "http/status.h"
#include "server/h2.h"
#include "server/metrics.h"

#define HEAD_MAX CONN_HEAD_MAX
#define READ_CHUNK CONN_READ_CHUNK
#define BODY_READ_MAX (256u << 10) /* one read of a chunked body */
#define IN_KEEP (2 * READ_CHUNK) /* read buffer capacity kept between requests */
#define REQUESTS_PER_TURN 16    /* pipelined requests one connection gets before others run */
#define CHUNKED_CHARGE (1u << 20) /* a chunked body reserves the memory budget in these steps */
#define EV_READ (EPOLLIN | EPOLLRDHUP)
#define LINGER_MS 5000          /* at most this long reading a client's unwanted rest (nginx: 5 s) */

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events);
static void on_deferred(loop_t *loop, void *arg);
static void conn_run(conn_t *c, bool readable);
static void h1_respond(req_t *r, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                       int fd, void (*release)(void *), void *arg);
static void h1_hold(req_t *r, void (*cancel)(void *arg), void *arg);

static const req_ops_t h1_ops = {h1_respond, h1_hold};

uint64_t conn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A connection joins epoll only when it first has to wait: a request answered straight
 * from accept (TCP_DEFER_ACCEPT) and closed never costs an epoll_ctl. */
void conn_watch(conn_t *c, uint32_t ev)
{
    if (c->w.cb)
        loop_watch_mod(c->wk->loop, &c->w, ev);
    else if (loop_watch_add(c->wk->loop, &c->w, c->io.fd, ev, on_io) != 0)
        c->w.cb = on_io; /* out of memory: the connection ends by its timer */
}

void conn_schedule(conn_t *c)
{
    loop_defer(c->wk->loop, &c->defer, on_deferred, c);
}

/* The read buffer's capacity as /status counts it (worker-local, read relaxed). */
static void count_buffer(conn_t *c)
{
    worker_stats_t *st = &c->wk->stats;
    __atomic_store_n(&st->buf_bytes, st->buf_bytes - c->buf_counted + c->in.cap, __ATOMIC_RELAXED);
    c->buf_counted = c->in.cap;
}

void conn_release_input(conn_t *c)
{
    if (!buf_size(&c->in))
        buf_pool_give(&c->wk->bufs, &c->in);
    count_buffer(c);
}

static bool body_charge(conn_t *c, uint64_t n)
{
    return server_mem_hold(c->wk->srv, &c->body_charge, n);
}

static void body_uncharge(conn_t *c)
{
    server_mem_drop(c->wk->srv, &c->body_charge);
}

static void release_body(conn_t *c)
{
    req_release(&c->release);
}

static void conn_free(conn_t *c)
{
    worker_t *wk = c->wk;
    release_body(c);
    body_uncharge(c);
    h2_conn_free(c);
    buf_reset(&c->in);
    buf_pool_give(&wk->bufs, &c->in);
    count_buffer(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        wk->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wk->nconns--;
    free(c);
}

void conn_close(conn_t *c)
{
    if (c->state == CONN_CLOSED)
        return;
    loop_timer_cancel(c->wk->loop, &c->timer);
    /* close() takes the fd out of epoll (the fd is never duplicated): no EPOLL_CTL_DEL. */
    c->io.ops->close(&c->io);
    c->w.fd = -1;
    c->state = CONN_CLOSED;
    /* --max-conns counts sockets: this one is free for the next accept now, on any worker. The
     * open-connections figure counts sockets too, not the memory a held handler keeps. */
    __atomic_fetch_sub(&c->wk->srv->conns_now, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->wk->stats.conns_open, c->wk->stats.conns_open - 1, __ATOMIC_RELAXED);
    if (c->h2)
        h2_conn_closed(c); /* its streams' handlers are told; c->held while any still holds */
    else if (c->held && c->hold_cancel)
        c->hold_cancel(c->hold_arg);
    conn_schedule(c);
}

static void on_deferred(loop_t *loop, void *arg)
{
    conn_t *c = arg;
    if (c->state != CONN_CLOSED)
        conn_run(c, false);
    else if (!c->held)
        conn_free(c);
}

static void on_timeout(loop_t *loop, loop_timer_t *t)
{
    conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
    switch (c->state) {
    case CONN_H2:
        h2_timeout(c);
        break;
    case CONN_HEAD:
    case CONN_BODY:
        req_respond_error(&c->r, 408, "request timeout");
        break;
    default: /* idle keep-alive, lingering, or a client that stopped reading its answer */
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
    __atomic_store_n(&wk->stats.conns_open, wk->stats.conns_open + 1, __ATOMIC_RELAXED);
    c->state = CONN_IDLE;
    c->w.fd = fd;
    c->r = (req_t){.ops = &h1_ops, .wk = wk, .http = &c->req, .peer = &c->peer};
    /* Listeners use TCP_DEFER_ACCEPT, so the request is usually here already: read it now
     * rather than after another trip through epoll. If the connection is still open and
     * registered nowhere afterwards, it waits for more of its request. */
    conn_run(c, true);
    if (c->state == CONN_CLOSED)
        return;
    if (!c->w.cb)
        conn_watch(c, EV_READ);
    /* A client that connects and sends nothing (or stalls its TLS handshake, whatever the
     * direction it waits in) gets the head timeout too. */
    if (c->state == CONN_IDLE && !loop_timer_armed(&c->timer))
        loop_timer_arm(wk->loop, &c->timer, wk->srv->cfg.header_timeout_ms, on_timeout);
}

/* ---- writing ------------------------------------------------------------------------- */

void conn_timer(conn_t *c, uint64_t after_ms)
{
    loop_timer_arm(c->wk->loop, &c->timer, after_ms, on_timeout);
}

void conn_linger(conn_t *c)
{
    c->io.ops->shutdown(&c->io);
    c->state = CONN_LINGER;
    buf_reset(&c->in);
    conn_watch(c, EV_READ);
    loop_timer_arm(c->wk->loop, &c->timer, LINGER_MS, on_timeout);
}

bool conn_wrote(conn_t *c, ssize_t n)
{
    if (n == IO_AGAIN) {
        conn_watch(c, c->io.want);
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

/* Writes what is staged. True when all of it went out. */
static bool flush(conn_t *c)
{
    /* With a file to follow, the head waits for it (MSG_MORE): one segment, not two. */
    c->io.more = c->file_left > 0;
    while (c->iovcnt) {
        ssize_t n = c->io.ops->writev(&c->io, c->iov, c->iovcnt);
        if (!conn_wrote(c, n))
            return false;
        unsigned i = io_iov_advance(c->iov, 0, (unsigned)c->iovcnt, (size_t)n);
        memmove(c->iov, c->iov + i, (size_t)(c->iovcnt - (int)i) * sizeof c->iov[0]);
        c->iovcnt -= (int)i;
    }
    c->io.more = 0;
    while (c->file_left) {
        ssize_t n = c->io.ops->sendfile(&c->io, c->file_fd, &c->file_off, c->file_left);
        if (!conn_wrote(c, n))
            return false;
        c->file_left -= (size_t)n;
    }
    return true;
}

/* The answer is out: log it, then get ready for the next request, or close. False when the
 * connection closed. */
static bool next_request(conn_t *c)
{
    worker_t *wk = c->wk;
    release_body(c);
    body_uncharge(c);
    __atomic_store_n(&wk->stats.requests, wk->stats.requests + 1, __ATOMIC_RELAXED);
    if (!c->keep_alive || wk->draining) {
        /* Unread bytes at close turn our FIN into a RST that can destroy the answer before
         * the client reads it (a 413 to a client still sending its body): when the request
         * was not read to its end, half-close and read on, dropping it, for a while (nginx's
         * lingering close). */
        if (c->unread || buf_size(&c->in) != c->head_len + c->raw_len) {
            conn_linger(c);
            return false;
        }
        conn_close(c);
        return false;
    }
    if (!c->nodelay) {
        /* Kept alive: later answers must not wait for an ACK of this one (Nagle). A
         * connection closed after one answer never needs it, as nginx reasons too. */
        int one = 1;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->nodelay = true;
    }
    buf_consume(&c->in, c->head_len + c->raw_len);
    /* What a large body grew is not kept for the life of the connection; with nothing
     * pipelined, nothing is kept at all (conn_release_input). */
    if (c->in.cap > IN_KEEP && buf_shrink(&c->in, IN_KEEP) != 0) {
        conn_close(c);
        return false;
    }
    conn_release_input(c);
    c->head_len = c->body_len = c->raw_len = 0;
    c->state = CONN_IDLE;
    conn_watch(c, EV_READ);
    if (!buf_size(&c->in))
        loop_timer_arm(wk->loop, &c->timer, wk->srv->cfg.keepalive_timeout_ms, on_timeout);
    return true;
}

void conn_account(worker_t *wk, const req_t *r, const http_request_t *req, const char *proto, const sock_addr_t *peer,
                  int status, uint64_t body_bytes, uint64_t head_ns, uint64_t started_ms)
{
    metrics_count(&wk->metrics, r->route, status, body_bytes, conn_now_ns() - head_ns);
    if (wk->srv->log_fd < 0)
        return;
    /* The access-log line: common log format plus duration. */
    char ip[64], line[512];
    sock_format(peer, ip, sizeof ip);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = 0;
    const char *date = http_date_cached(&wk->date, loop_wall_s(wk->loop));
    int n;
    if (!req) /* no parsed request line to log */
        n = snprintf(line, sizeof line, "%s - - [%s] \"-\" %d %llu\n", ip, date, status,
                     (unsigned long long)body_bytes);
    else
        n = snprintf(line, sizeof line, "%s - - [%s] \"%.*s %.*s %s\" %d %llu %llums\n", ip, date,
                     (int)req->method_len, req->method_str, req->target_len > 256 ? 256 : (int)req->target_len,
                     req->target, proto, status, (unsigned long long)body_bytes,
                     (unsigned long long)(loop_now_ms(wk->loop) - started_ms));
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof line) { /* a cut line keeps its newline */
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    server_log(wk, line, (size_t)n);
}

/* s may be NULL when n is 0 (an answer without headers): memcpy may not be given NULL. */
static size_t put(char *dst, const char *s, size_t n)
{
    if (n)
        memcpy(dst, s, n);
    return n;
}

size_t conn_put_u64(char *dst, uint64_t v)
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

static conn_t *conn_of(req_t *r)
{
    return (conn_t *)((char *)r - offsetof(conn_t, r));
}

static void h1_respond(req_t *r, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                       int fd, void (*release)(void *), void *arg)
{
    conn_t *c = conn_of(r);
    worker_t *wk = c->wk;
    c->held = false;
    if (c->state == CONN_CLOSED) { /* the client left while a handler held it */
        if (release)
            release(arg);
        conn_schedule(c); /* its memory now */
        return;
    }
    loop_timer_cancel(wk->loop, &c->timer);
    c->status = status;
    c->release = (req_release_t){release, arg};

    bool no_body = conn_status_bodiless(status);
    bool head_only = no_body || c->req.method == HTTP_METHOD_HEAD;
    /* Answered before its body was read (413, 408, a parse error): framing is lost. */
    c->unread = c->state == CONN_HEAD || c->state == CONN_IDLE || c->state == CONN_BODY;
    if (c->unread)
        c->keep_alive = false;

    const char *text = http_status_text(status);
    /* The head is built in c->out. Handlers pass short header sets: a set that would not fit
     * is dropped rather than overflow on a bug. */
    if (hlen + 256 > sizeof c->out)
        hlen = 0;
    char *p = c->out;
    PUT("HTTP/1.1 ");
    p += conn_put_u64(p, (uint64_t)status);
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
        p += conn_put_u64(p, blen);
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
    conn_account(wk, &c->r, c->state == CONN_HEAD ? NULL : &c->req, c->req.h.minor_version ? "HTTP/1.1" : "HTTP/1.0",
                 &c->peer, status, head_only ? 0 : blen, c->head_ns, c->started_ms);
    c->state = CONN_WRITING;
    if (!c->running) /* answered from a completion or a timer: written by the loop, later */
        conn_schedule(c);
}

static void h1_hold(req_t *r, void (*cancel)(void *arg), void *arg)
{
    conn_t *c = conn_of(r);
    /* The read interest stays (an epoll_ctl saved now and one after the answer): an event
     * that comes while held narrows it to EPOLLRDHUP then (on_io). */
    c->state = CONN_HELD;
    c->held = true;
    c->hold_cancel = cancel;
    c->hold_arg = arg;
}

/* ---- reading ------------------------------------------------------------------------- */

/* One read of at most max bytes (level-triggered epoll calls again if more is waiting).
 * 1: bytes came; 0: nothing now; -1: the connection closed. */
int conn_fill(conn_t *c, size_t max, size_t limit)
{
    if (!c->in.data)
        buf_pool_take(&c->wk->bufs, &c->in);
    long room = buf_reserve(&c->in, READ_CHUNK, limit);
    count_buffer(c);
    if (room < 0) {
        conn_close(c);
        return -1;
    }
    if (room == 0)
        return 0; /* at the limit: advance() has answered 431/413 already */
    ssize_t n = c->io.ops->read(&c->io, c->in.data + c->in.len, (size_t)room < max ? (size_t)room : max);
    if (n == IO_AGAIN) {
        conn_release_input(c); /* nothing came (a TLS record's first part, a wake-up early) */
        if (c->io.want == EPOLLOUT) /* TLS: the handshake has to send before it reads on */
            conn_watch(c, EPOLLOUT);
        return 0;
    }
    if (n <= 0) {
        conn_close(c);
        return -1;
    }
    c->in.len += (size_t)n;
    return 1;
}

/* Re-arms the body clock: it fires after a stall of --body-timeout, and also once the body
 * is slower than --body-min-rate after a grace of --body-timeout (as Apache's mod_reqtimeout
 * MinRate): a body trickled a byte at a time cannot hold the connection forever. */
static void arm_body_clock(conn_t *c)
{
    const server_config_t *cfg = &c->wk->srv->cfg;
    uint64_t now = loop_now_ms(c->wk->loop), after = cfg->body_timeout_ms;
    if (cfg->body_min_rate) {
        uint64_t got = buf_size(&c->in) - c->head_len;
        uint64_t deadline = c->body_started_ms + cfg->body_timeout_ms + got * 1000 / cfg->body_min_rate;
        after = deadline <= now ? 0 : deadline - now < after ? deadline - now : after;
    }
    loop_timer_arm(c->wk->loop, &c->timer, after, on_timeout);
}

/* A head just parsed: its limits, and memory for its body. False when it was answered. */
static bool start_request(conn_t *c, size_t head_len)
{
    const server_config_t *cfg = &c->wk->srv->cfg;
    c->head_len = head_len;
    c->head_at = buf_start(&c->in);
    c->keep_alive = c->req.h.keep_alive;
    c->body_len = c->raw_len = 0;
    memset(&c->chunked, 0, sizeof c->chunked);
    c->sent_continue = false;
    c->state = CONN_BODY;
    c->body_started_ms = loop_now_ms(c->wk->loop);
    if (head_len > HEAD_MAX) { /* read whole in one go, but over the limit all the same */
        req_respond_error(&c->r, 431, "request head too large");
        return false;
    }
    if (c->req.h.content_length > (int64_t)cfg->max_body) {
        req_respond_error(&c->r, 413, "request body too large");
        return false;
    }
    uint64_t want = c->req.h.chunked ? CHUNKED_CHARGE : c->req.h.content_length > 0 ? (uint64_t)c->req.h.content_length : 0;
    if (want && !body_charge(c, want)) {
        req_respond_error(&c->r, 503, "too many request bodies in memory");
        return false;
    }
    return true;
}

static size_t body_limit(const conn_t *c)
{
    return HEAD_MAX + c->wk->srv->cfg.max_body + 64; /* +64: chunk framing slack */
}

/* Advances through head and body as far as the buffered bytes allow. True when the state
 * changed (answered, dispatched, or sending "100 Continue"); false when it needs input. */
static bool advance(conn_t *c)
{
    worker_t *wk = c->wk;
    const server_config_t *cfg = &wk->srv->cfg;
    if (c->state == CONN_IDLE && !buf_size(&c->in))
        return false; /* nothing to parse (and an empty buffer may have no memory yet) */
    if (c->state == CONN_IDLE && c->sent == 0) {
        /* The connection's first bytes: the HTTP/2 preface (h2c with prior knowledge, or h2
         * after ALPN), or as much of it as came, waits for HTTP/2 (h2_run); HTTP/1.1
         * otherwise. */
        size_t have = buf_size(&c->in), m = h2_preface_match(buf_start(&c->in), have);
        if (m == H2_PREFACE_LEN || io_tls_alpn_h2(&c->io)) {
            h2_conn_start(c);
            return true;
        }
        if (m == have)
            return false;
    }
    if (c->state == CONN_IDLE || c->state == CONN_HEAD) {
        int r = http_parse_request(buf_start(&c->in), buf_size(&c->in), &c->req);
        if (r == HTTP_PARSE_INCOMPLETE) {
            if (buf_size(&c->in) >= HEAD_MAX) {
                c->head_ns = conn_now_ns();
                c->r.route = REQ_ROUTE_NONE;
                c->state = CONN_HEAD;
                req_respond_error(&c->r, 431, "request head too large");
                return true;
            }
            if (c->state == CONN_IDLE && buf_size(&c->in)) {
                c->state = CONN_HEAD; /* the head clock starts at its first byte */
                c->started_ms = loop_now_ms(wk->loop);
                loop_timer_arm(wk->loop, &c->timer, cfg->header_timeout_ms, on_timeout);
            }
            return false;
        }
        c->head_ns = conn_now_ns();
        c->r.route = REQ_ROUTE_NONE;
        if (r == HTTP_PARSE_ERROR) {
            c->state = CONN_HEAD;
            req_respond_error(&c->r, http_err_status(c->req.h.error), http_err_reason(c->req.h.error));
            return true;
        }
        if (c->state == CONN_IDLE)
            c->started_ms = loop_now_ms(wk->loop);
        if (!start_request(c, (size_t)r))
            return true;
    }

    if (c->req.h.chunked) {
        /* Layout after the head: the decoded body, then raw bytes not decoded yet. Decoding
         * in place keeps that true; pipelined bytes after the body are moved up behind it. */
        char *raw = conn_body(c) + c->body_len;
        size_t n = buf_size(&c->in) - c->head_len - c->body_len;
        ssize_t rest = http_chunked_decode(&c->chunked, raw, &n);
        if (rest == HTTP_PARSE_ERROR) {
            req_respond_error(&c->r, 400, "malformed chunked body");
            return true;
        }
        c->body_len += n;
        c->in.len = (size_t)(raw + n - c->in.data) + (size_t)(rest > 0 ? rest : 0);
        /* A chunk announced past the limit is refused now, not after waiting for its bytes. */
        if (c->body_len > cfg->max_body || http_chunked_pending(&c->chunked) > cfg->max_body - c->body_len ||
            (rest < 0 && buf_size(&c->in) >= body_limit(c))) {
            req_respond_error(&c->r, 413, "request body too large");
            return true;
        }
        if (c->body_len + BODY_READ_MAX > c->body_charge && !body_charge(c, CHUNKED_CHARGE)) {
            req_respond_error(&c->r, 503, "too many request bodies in memory");
            return true;
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
    /* Bodiless requests never get here, which spares the timer heap two operations each. */
    arm_body_clock(c);
    if (c->req.expect_continue && !c->sent_continue && c->req.h.minor_version == 1) {
        /* Sent like an answer, so a blocked write is finished before anything else goes
         * out (a transport must never be left with half a write: io.h). */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->sent_continue = true;
        c->iov[0].iov_base = (void *)cont;
        c->iov[0].iov_len = sizeof cont - 1;
        c->iovcnt = 1;
        c->state = CONN_CONTINUE;
        return true;
    }
    return false;
complete:
    loop_timer_cancel(wk->loop, &c->timer);
    /* Reading the body may have moved the buffer: the head's pointers must follow it. */
    if (buf_start(&c->in) != c->head_at)
        http_parse_request(buf_start(&c->in), c->head_len, &c->req);
    c->state = CONN_DISPATCH;
    c->r.body = conn_body(c);
    c->r.body_len = c->body_len;
    req_dispatch(&c->r, wk->srv->handlers, wk->srv->nhandlers);
    if (c->state == CONN_DISPATCH) /* a handler must answer or hold: never leave a client hanging */
        req_respond_error(&c->r, 500, "no answer");
    return true;
}

/* How much one read may take: the rest of a body of known length (a large upload in few
 * reads), a bounded step otherwise, so bytes read ahead past a request stay few. */
static size_t read_max(const conn_t *c)
{
    if (c->state != CONN_BODY)
        return READ_CHUNK;
    if (c->req.h.chunked)
        return BODY_READ_MAX;
    size_t have = buf_size(&c->in) - c->head_len, want = (size_t)c->req.h.content_length;
    return want > have + READ_CHUNK ? want - have : READ_CHUNK;
}

/* The lifecycle. readable: epoll said the socket has input (one read is due). */
static void conn_run(conn_t *c, bool readable)
{
    if (c->running)
        return;
    c->running = true;
    unsigned turns = REQUESTS_PER_TURN;
    for (;;) {
        enum conn_state st = c->state;
        if (st == CONN_WRITING || st == CONN_CONTINUE) {
            if (!flush(c))
                break; /* blocked (epoll tells when to go on), or closed */
            if (st == CONN_CONTINUE) { /* "100 Continue" is out: now the body */
                c->state = CONN_BODY;
                conn_watch(c, EV_READ);
                continue;
            }
            if (!next_request(c))
                break;
            if (--turns == 0) { /* fair to the other connections: go on at the next turn */
                if (buf_size(&c->in) || c->io.pending)
                    conn_schedule(c);
                break;
            }
            continue;
        }
        if (st == CONN_LINGER) { /* drop what the client still sends, until its EOF */
            if (!readable && !c->io.pending)
                break;
            readable = false;
            buf_reset(&c->in);
            if (conn_fill(c, READ_CHUNK, IN_KEEP) <= 0)
                break;
            continue;
        }
        if (st == CONN_H2) { /* its own loop, the same steps for many streams */
            h2_run(c, readable);
            break;
        }
        if (st != CONN_IDLE && st != CONN_HEAD && st != CONN_BODY)
            break; /* HELD: the handler answers later; CLOSED */
        if (advance(c))
            continue;
        /* Input the transport holds (TLS, io->pending) gets no epoll event: read it now. */
        if (!readable && !c->io.pending)
            break;
        readable = false;
        if (conn_fill(c, read_max(c), c->state == CONN_BODY ? body_limit(c) : HEAD_MAX + READ_CHUNK) <= 0)
            break;
    }
    c->running = false;
}

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    conn_t *c = (conn_t *)w;
    switch (c->state) {
    case CONN_CLOSED: /* closed earlier in this batch; its memory lasts the iteration */
        return;
    case CONN_HELD:
        /* A client that leaves (even half-closes, as nginx counts it) no longer wants the
         * answer: its job is dropped. Pipelined input waits for the answer. */
        if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            conn_close(c);
        else
            conn_watch(c, EPOLLRDHUP);
        return;
    case CONN_WRITING:
    case CONN_CONTINUE:
        conn_run(c, false);
        return;
    case CONN_LINGER:
        conn_run(c, true);
        return;
    case CONN_H2:
        conn_run(c, (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        return;
    default:
        if (c->w.events & EPOLLOUT) /* a TLS read that had to send first has sent */
            conn_watch(c, EV_READ);
        conn_run(c, true);
    }
}

void conn_drain_all(worker_t *wk)
{
    for (conn_t *c = wk->conns; c; c = c->next) {
        /* Idle ones close now; the rest close after their answer (next_request). A head
         * half-received is a request in flight: it gets its answer. HTTP/2: GOAWAY, and the
         * streams open finish. */
        if (c->state == CONN_H2)
            h2_drain(c);
        else if (c->state == CONN_IDLE)
            conn_close(c);
    }
}
