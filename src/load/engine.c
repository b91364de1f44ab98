#include "load/engine.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/loop.h"
#include "core/tls.h"
#include "http/parser.h"
#include "load/check.h"
#include "load/h2client.h"
#include "load/latlog.h"

#define READ_CHUNK 65536
#define H2_READ_MAX (1u << 20) /* --h2: bytes read from one connection per event */
#define HEAD_LIMIT (64u << 10) /* a response head larger than this is a read error */
#define RECONNECT_DELAY_MS 10  /* after a failed connect: no busy loop on a dead server */
#define H2_RETRIES 1           /* sends of a request the server did not process (GOAWAY), after the first */

enum { C_WAIT, C_CONNECTING, C_OPEN, C_DONE };
enum { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };

typedef struct lthread lthread_t;

typedef struct lconn {
    loop_watch_t w; /* first: the loop hands us this pointer */
    io_t io;
    lthread_t *t;
    loop_timer_t timer; /* request timeout, or the wait for a spawn/rate slot or reconnect */
    int state;
    unsigned k;         /* global connection index: sets its spawn time and rate phase */
    bool fresh;         /* no request sent on this connection yet */
    bool claimed;       /* holds the -n budget of its first request (claimed when connecting) */
    bool pending;       /* on the thread's list of connections to send on after this batch */
    struct lconn *next_pending;
    buf_t in;
    /* requests in flight, oldest first (a ring of cfg->pipeline slots) */
    const scenario_entry_t **q;
    uint64_t *q_start;
    unsigned q_head, q_len;
    /* the requests being written */
    struct iovec *out;
    unsigned out_i, out_n;
    /* the response being read */
    bool in_body;
    int body;
    uint64_t body_left, content;
    int status;
    bool close_after;
    http_chunked_t chunked;
    check_run_t *check; /* --check-body: one per response read at once (h2: per stream slot) */
    uint64_t connect_ns, intended_ns;
    uint64_t slot;     /* -R: requests this connection has sent on the plan's schedule */
    uint64_t free_ns;  /* -R: when the connection last became free to send (stats.send_late) */
    uint64_t spawn_ns; /* when the connection first started, from the run's start */
    bool parked;       /* -u PLAN: the user is stopped until the plan wants it again */
    /* --h2: the session and its streams (h2client.h), the frames being written */
    h2client_t *h2;
    struct iovec *wout;
    unsigned wout_i, wout_n;
    loop_timer_t rate_timer; /* the next -R slot (c->timer keeps the streams' timeouts) */
    bool h2_ready;           /* the server's SETTINGS came on this connection */
    bool h2_drain;           /* no new stream can start here (stream ids used up): end it */
    bool alpn_checked;       /* https: the handshake chose h2 (checked at the first byte moved) */
    bool got_bytes;          /* the server sent something on this connection */
    uint64_t last_read_ns;
} lconn_t;

struct lthread {
    engine_t *e;
    pthread_t tid;
    loop_t *loop;
    lconn_t *conns;
    unsigned nconns, started, done;
    unsigned active; /* users running: started, less those a users plan has stopped */
    scenario_cursor_t cur; /* which request (and file of a folder) goes next */
    loop_timer_t tick, end, spawn, flush;
    lconn_t *pending; /* connections whose next request goes out after this batch of events */
    uint8_t *rbuf;    /* --h2: every read lands here and goes to the session at once */
    uint64_t clock;   /* --h2: now, taken once per read (the answers in it arrived together) */
    unsigned ticks;         /* whole seconds of the run this thread has published */
    uint64_t last_requests; /* for the per-second request rate */
    stats_t stats;
    latlog_thread_t log; /* --latency-log: this thread's samples */
    pthread_mutex_t snap_lock;
    stats_t snap;
    unsigned snap_started;
    unsigned snap_tick; /* under e->lock: the second snap was taken at */
    bool ended;         /* under e->lock: snap is final */
};

struct engine {
    const load_config_t *cfg;
    const scenario_t *sc;
    sock_addr_t addr;
    tls_ctx_t *tls;          /* https: one context for every connection */
    const char *server_name; /* https: the SNI, NULL for an address literal */
    unsigned nthreads;
    lthread_t *threads;
    uint64_t t0_ns, end_ns;
    double t0_wall;  /* Unix time at t0_ns */
    latlog_t *log;   /* --latency-log, or NULL */
    uint64_t issued; /* atomic: requests claimed (with -n) */
    unsigned pipe;   /* requests in flight per connection (1 in rate mode) */
    h2client_req_t *h2reqs; /* --h2: the scenario's requests as HTTP/2 fields, by entry index */
    int h2_ok;              /* atomic: some connection got the server's SETTINGS */
    unsigned h2_limit;      /* atomic: the fewest streams a server allowed per connection (0: none yet) */
    char fatal[512];        /* under lock: why the run cannot go on (the server does not speak h2) */
    int stopping;    /* atomic */
    pthread_mutex_t lock; /* with cond: finished and every thread's snap_tick */
    pthread_cond_t cond;
    unsigned finished;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_until(uint64_t at_ns)
{
    uint64_t now = now_ns();
    return at_ns > now ? (at_ns - now + 999999) / 1000000 : 0;
}

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events);
static void on_timer(loop_t *loop, loop_timer_t *tm);
static void connect_failed(lconn_t *c);
static void start_conn(lconn_t *c);
static void send_more(lconn_t *c);
static void h2_connected(lconn_t *c);
static void h2_turn(lconn_t *c);
static void h2_on_io(lconn_t *c, uint32_t events);
static void h2_on_timer(lconn_t *c);

/* ---- bookkeeping --------------------------------------------------------------------- */

static stats_entry_t *slot(lconn_t *c, const scenario_entry_t *en)
{
    return &c->t->stats.entries[en->stat];
}

/* One finished request into the thread's figures, and into --latency-log: its latency counted
 * from start_ns. */
static void record(lconn_t *c, const scenario_entry_t *en, uint64_t start_ns, uint64_t latency_us, int status,
                   uint64_t content, stats_err_t err)
{
    stats_record(slot(c, en), latency_us, status, content, err);
    if (c->t->log.cur)
        latlog_add(&c->t->log, start_ns, latency_us, en->stat, status, err);
}

/* True once the run is stopped or its duration is over (the -n budget aside). */
static bool over(const engine_t *e)
{
    return __atomic_load_n(&e->stopping, __ATOMIC_RELAXED) || (e->end_ns && now_ns() >= e->end_ns);
}

/* Claims the right to send one more request: the one the connection claimed when it
 * connected, else a new share of the -n budget. Every claim ends as exactly one recorded
 * request (or in flight when the run ends), so -n counts are exact. */
static bool claim(lconn_t *c)
{
    engine_t *e = c->t->e;
    bool held = c->claimed;
    c->claimed = false;
    if (over(e))
        return false;
    return held || !e->cfg->requests ||
           __atomic_fetch_add(&e->issued, 1, __ATOMIC_RELAXED) < e->cfg->requests;
}

static void thread_check_done(lthread_t *t)
{
    if (t->done == t->nconns)
        loop_stop(t->loop);
}

static void close_socket(lconn_t *c)
{
    if (c->io.fd >= 0) {
        loop_watch_del(c->t->loop, &c->w);
        c->io.ops->close(&c->io);
        c->w.fd = -1;
    }
    buf_reset(&c->in);
    c->in_body = false;
    c->q_len = 0;
    c->out_i = c->out_n = 0;
    if (c->h2) {
        /* Streams still live here are not counted (the run is over, as wrk's in flight at the
         * end); those that failed were recorded before. Requeued ones wait for the next. */
        h2client_close(c->h2);
        for (unsigned i = 0; i < h2client_nslots(c->h2); i++) {
            h2client_stream_t *s = h2client_slot(c->h2, i);
            if (s->state == H2CLIENT_LIVE || s->state == H2CLIENT_HELD)
                h2client_release(c->h2, s);
        }
        loop_timer_cancel(c->t->loop, &c->rate_timer);
        c->wout_i = c->wout_n = 0;
        c->h2_ready = false;
        c->h2_drain = false;
    }
}

static void retire(lconn_t *c)
{
    close_socket(c);
    loop_timer_cancel(c->t->loop, &c->timer);
    if (c->state != C_DONE) {
        c->state = C_DONE;
        c->t->done++;
        thread_check_done(c->t);
    }
}

/* Fails every request in flight with err, then reconnects (or retires when the run is over). */
static void fail_inflight(lconn_t *c, stats_err_t err)
{
    uint64_t now = now_ns();
    for (unsigned i = 0; i < c->q_len; i++) {
        unsigned ix = (c->q_head + i) % c->t->e->pipe;
        record(c, c->q[ix], c->q_start[ix], (now - c->q_start[ix]) / 1000, i == 0 ? c->status : 0,
                     i == 0 ? c->content : 0, err);
    }
    close_socket(c);
    c->status = 0;
    c->content = 0;
    start_conn(c);
}

/* -R: when the connection's next request is meant to go out: the run's request
 * k + slot * connections on the rate plan's schedule (plan_time_of), after the connection's own
 * start; UINT64_MAX when the plan has no more. */
static uint64_t slot_time(const lconn_t *c)
{
    const engine_t *e = c->t->e;
    double at = plan_time_of(&e->cfg->rate_plan, (double)c->k + (double)c->slot * e->cfg->connections);
    return at < INFINITY ? e->t0_ns + c->spawn_ns + (uint64_t)(at * 1e9) : UINT64_MAX;
}

/* -u PLAN: whether user k should run at time now (the plan's users are at least k + 1). */
static bool user_wanted(const lconn_t *c, uint64_t now)
{
    const engine_t *e = c->t->e;
    const plan_t *p = &e->cfg->users_plan;
    return !p->n || plan_target(p, (double)(now - e->t0_ns) / 1e9) >= c->k + 1 - 1e-9;
}

/* -u PLAN: the plan went below this user: its connection closes (between requests) until the
 * plan comes back up to it. */
static void park(lconn_t *c)
{
    lthread_t *t = c->t;
    engine_t *e = t->e;
    uint64_t now = now_ns();
    double at = plan_first_reach(&e->cfg->users_plan, (double)(now - e->t0_ns) / 1e9, c->k + 1);
    close_socket(c);
    t->active--;
    c->parked = true;
    if (!(at < INFINITY)) {
        retire(c);
        return;
    }
    c->state = C_WAIT;
    uint64_t at_ns = e->t0_ns + (uint64_t)(at * 1e9);
    loop_timer_arm(t->loop, &c->timer, at_ns > now ? (at_ns - now + 999999) / 1000000 : 0, on_timer);
}

static void on_timer(loop_t *loop, loop_timer_t *tm)
{
    lconn_t *c = (lconn_t *)((char *)tm - offsetof(lconn_t, timer));
    if (c->state == C_WAIT) {
        if (c->parked) {
            c->parked = false;
            c->t->active++;
        }
        start_conn(c);
    } else if (c->state == C_CONNECTING) {
        connect_failed(c); /* not open within --timeout */
    } else if (c->h2) {
        h2_on_timer(c);
    } else if (c->state == C_OPEN && c->q_len == 0) {
        send_more(c); /* a rate slot came up */
    } else {
        fail_inflight(c, STATS_ERR_TIMEOUT);
    }
}

/* ---- connecting ---------------------------------------------------------------------- */

/* A connection that could not be opened counts as one failed request (as locust), paid
 * from the claim made for it. */
static void connect_failed(lconn_t *c)
{
    lthread_t *t = c->t;
    h2client_stream_t *s = !c->claimed && c->h2 ? h2client_next_waiting(c->h2) : NULL;
    if (s) { /* --h2: a request to send again paid for this connection */
        record(c, s->entry, c->connect_ns, STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
        h2client_release(c->h2, s);
    } else {
        record(c, scenario_next(t->e->sc, &t->cur), c->connect_ns, STATS_NO_LATENCY, 0, 0,
                     STATS_ERR_CONNECT);
    }
    c->claimed = false;
    close_socket(c);
    c->state = C_WAIT;
    loop_timer_arm(t->loop, &c->timer, RECONNECT_DELAY_MS, on_timer);
}

/* Opens a connection for the next request, claimed first: with -n, no connection is opened
 * for a request that will never be sent (with --no-keepalive, a connection per request). */
static void start_conn(lconn_t *c)
{
    lthread_t *t = c->t;
    engine_t *e = t->e;
    if (c->h2 && h2client_waiting(c->h2) && !c->claimed && !over(e)) {
        /* --h2: requests the server did not process (GOAWAY) go out on the new connection,
         * already paid for */
    } else if (!claim(c)) {
        retire(c);
        return;
    } else {
        c->claimed = true;
    }
    c->connect_ns = now_ns();
    int fd = sock_connect(&e->addr);
    if (fd < 0) {
        connect_failed(c);
        return;
    }
    if (!e->tls) {
        io_init_plain(&c->io, fd);
    } else if (io_init_tls(&c->io, fd, e->tls, e->server_name) != 0) {
        close(fd);
        connect_failed(c);
        return;
    }
    c->state = C_CONNECTING;
    c->fresh = true;
    c->status = 0;
    c->content = 0;
    loop_watch_add(t->loop, &c->w, fd, EPOLLOUT, on_io);
    loop_timer_arm(t->loop, &c->timer, e->cfg->timeout_ms, on_timer);
}

static void connected(lconn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    lthread_t *t = c->t;
    if (err) {
        connect_failed(c);
        return;
    }
    t->stats.connects++;
    c->state = C_OPEN;
    c->free_ns = now_ns();
    loop_timer_cancel(t->loop, &c->timer);
    if (c->h2)
        h2_connected(c);
    else
        send_more(c);
}

/* ---- writing ------------------------------------------------------------------------- */

static void flush_out(lconn_t *c)
{
    while (c->out_i < c->out_n) {
        ssize_t n = c->io.ops->writev(&c->io, c->out + c->out_i, (int)(c->out_n - c->out_i));
        if (n == IO_AGAIN) {
            /* A TLS handshake waits for input, not room: no EPOLLOUT then (it would spin). */
            loop_watch_mod(c->t->loop, &c->w, EPOLLIN | (c->io.want == EPOLLOUT ? EPOLLOUT : 0));
            return;
        }
        if (n <= 0) {
            fail_inflight(c, n == IO_EPROTO ? STATS_ERR_TLS : STATS_ERR_WRITE);
            return;
        }
        c->t->stats.bytes_written += (uint64_t)n;
        c->out_i = io_iov_advance(c->out, c->out_i, c->out_n, (size_t)n);
    }
    c->out_i = c->out_n = 0;
    loop_watch_mod(c->t->loop, &c->w, EPOLLIN);
}

/* Fills the pipeline window with new requests, honouring the rate schedule. */
static void send_more(lconn_t *c)
{
    engine_t *e = c->t->e;
    const load_config_t *cfg = e->cfg;
    unsigned cap = e->pipe;
    bool queued = false;
    while (c->q_len < cap && c->out_n < cap) {
        uint64_t start = now_ns();
        if (c->q_len == 0 && !queued && !c->claimed && !user_wanted(c, start)) {
            park(c);
            return;
        }
        if (cfg->rate > 0) {
            if (c->intended_ns == UINT64_MAX) { /* the plan is over */
                if (c->q_len == 0 && !queued)
                    retire(c);
                break;
            }
            if (c->intended_ns > start) { /* wait for this connection's next slot */
                loop_timer_arm(c->t->loop, &c->timer, ms_until(c->intended_ns), on_timer);
                break;
            }
            uint64_t due = c->intended_ns > c->free_ns ? c->intended_ns : c->free_ns;
            hist_record(&c->t->stats.send_late, start > due ? (start - due) / 1000 : 0);
            start = c->intended_ns; /* latency counts from when it should have gone out */
            c->slot++;
            c->intended_ns = slot_time(c);
        }
        if (!claim(c)) {
            if (c->q_len == 0 && !queued)
                retire(c);
            break;
        }
        if (c->fresh && !cfg->keepalive)
            start = c->connect_ns; /* as ab: a new connection per request includes connecting */
        c->fresh = false;
        const scenario_entry_t *en = scenario_next(e->sc, &c->t->cur);
        unsigned ix = (c->q_head + c->q_len) % cap;
        c->q[ix] = en;
        c->q_start[ix] = start;
        c->q_len++;
        scenario_request(en, &c->out[c->out_n++]);
        queued = true;
        if (!cfg->keepalive)
            break; /* one request per connection */
    }
    if (queued) {
        loop_timer_arm(c->t->loop, &c->timer, cfg->timeout_ms, on_timer);
        flush_out(c);
    }
}

/* Sends on every connection that asked to during the batch of events just handled. */
static void on_flush(loop_t *loop, loop_timer_t *tm)
{
    lthread_t *t = (lthread_t *)((char *)tm - offsetof(lthread_t, flush));
    lconn_t *c = t->pending;
    t->pending = NULL;
    while (c) {
        lconn_t *next = c->next_pending;
        c->pending = false;
        if (c->state == C_OPEN) {
            if (c->h2)
                h2_turn(c);
            else
                send_more(c);
        }
        c = next;
    }
}

/* The next request goes out once the loop has handled its whole batch of events (a timer
 * due now runs right after the batch): the server then receives the requests of a batch
 * together, as from wrk, which writes when a socket next reports writable. */
static void send_later(lconn_t *c)
{
    lthread_t *t = c->t;
    if (!c->pending) {
        c->pending = true;
        c->next_pending = t->pending;
        t->pending = c;
    }
    if (!loop_timer_armed(&t->flush))
        loop_timer_arm(t->loop, &t->flush, 0, on_flush);
}

/* ---- reading ------------------------------------------------------------------------- */

static void complete(lconn_t *c)
{
    lthread_t *t = c->t;
    const load_config_t *cfg = t->e->cfg;
    unsigned ix = c->q_head;
    const scenario_entry_t *en = c->q[ix];
    uint64_t done = now_ns(), lat = (done - c->q_start[ix]) / 1000;
    stats_err_t err = STATS_OK;
    if (!load_status_set_has(&en->expect, c->status))
        err = STATS_ERR_STATUS;
    else if (en->expect_min_bytes && c->content < en->expect_min_bytes)
        err = STATS_ERR_MIN_BYTES;
    else if (en->check.mode && !check_end(c->check, &en->check))
        err = STATS_ERR_BODY;
    record(c, en, c->q_start[ix], lat, c->status, c->content, err);
    c->q_head = (c->q_head + 1) % t->e->pipe;
    c->q_len--;
    c->free_ns = done;
    c->in_body = false;
    c->status = 0;
    c->content = 0;
    if (c->close_after || !cfg->keepalive) {
        if (c->q_len) /* the server closes with requests still unanswered */
            fail_inflight(c, STATS_ERR_READ);
        else {
            close_socket(c);
            start_conn(c);
        }
        return;
    }
    if (c->q_len)
        loop_timer_arm(t->loop, &c->timer, cfg->timeout_ms, on_timer);
    else
        loop_timer_cancel(t->loop, &c->timer);
    send_later(c);
}

/* Consumes what the buffer holds. Returns false when the connection was replaced. */
static bool parse(lconn_t *c)
{
    while (c->q_len && buf_size(&c->in)) {
        if (!c->in_body) {
            http_response_t r;
            int n = http_parse_response(buf_start(&c->in), buf_size(&c->in), &r);
            if (n == HTTP_PARSE_INCOMPLETE) {
                if (buf_size(&c->in) < HEAD_LIMIT)
                    return true;
                n = HTTP_PARSE_ERROR;
            }
            if (n == HTTP_PARSE_ERROR) {
                fail_inflight(c, STATS_ERR_READ);
                return false;
            }
            buf_consume(&c->in, (size_t)n);
            if (r.status >= 100 && r.status < 200)
                continue; /* interim (100 Continue): the real answer follows */
            c->status = r.status;
            c->close_after = !r.h.keep_alive;
            c->in_body = true;
            c->content = 0;
            const scenario_entry_t *en = c->q[c->q_head];
            if (en->check.mode)
                check_begin(c->check, &en->check);
            if (en->head || r.status == 204 || r.status == 304) {
                c->body = B_NONE;
            } else if (r.h.chunked) {
                c->body = B_CHUNKED;
                memset(&c->chunked, 0, sizeof c->chunked);
            } else if (r.h.content_length >= 0) {
                c->body = B_LENGTH;
                c->body_left = (uint64_t)r.h.content_length;
            } else {
                c->body = B_CLOSE;
            }
        }
        size_t avail = buf_size(&c->in);
        const check_t *ck = &c->q[c->q_head]->check;
        switch (c->body) {
        case B_NONE:
            complete(c);
            if (c->state != C_OPEN)
                return false;
            break;
        case B_LENGTH: {
            size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
            if (ck->mode)
                check_feed(c->check, ck, buf_start(&c->in), take);
            buf_consume(&c->in, take);
            c->body_left -= take;
            c->content += take;
            if (c->body_left)
                return true;
            complete(c);
            if (c->state != C_OPEN)
                return false;
            break;
        }
        case B_CHUNKED: {
            size_t n = avail;
            ssize_t rest = http_chunked_decode(&c->chunked, buf_start(&c->in), &n);
            if (rest == HTTP_PARSE_ERROR) {
                fail_inflight(c, STATS_ERR_READ);
                return false;
            }
            c->content += n;
            if (ck->mode)
                check_feed(c->check, ck, buf_start(&c->in), n);
            /* Drop the decoded bytes; what follows the body (rest) stays. */
            c->in.len = c->in.off + n + (size_t)(rest > 0 ? rest : 0);
            buf_consume(&c->in, n);
            if (rest < 0)
                return true;
            complete(c);
            if (c->state != C_OPEN)
                return false;
            break;
        }
        case B_CLOSE:
            if (ck->mode)
                check_feed(c->check, ck, buf_start(&c->in), avail);
            c->content += avail;
            buf_reset(&c->in);
            return true;
        }
    }
    return true;
}

static void on_readable(lconn_t *c)
{
    long room = buf_reserve(&c->in, READ_CHUNK, HEAD_LIMIT + READ_CHUNK);
    ssize_t n = room > 0 ? c->io.ops->read(&c->io, c->in.data + c->in.len, (size_t)room) : -ENOMEM;
    if (n == IO_AGAIN) {
        if (!c->out_n) /* a TLS read may have to send first; else wait for input only */
            loop_watch_mod(c->t->loop, &c->w, EPOLLIN | (c->io.want == EPOLLOUT ? EPOLLOUT : 0));
        return;
    }
    if (n <= 0) {
        if (n == 0 && c->in_body && c->body == B_CLOSE) {
            c->close_after = true;
            complete(c);
        } else if (c->q_len) {
            fail_inflight(c, n == IO_EPROTO ? STATS_ERR_TLS : STATS_ERR_READ);
        } else { /* the server closed an idle keep-alive connection */
            close_socket(c);
            start_conn(c);
        }
        return;
    }
    c->in.len += (size_t)n;
    c->t->stats.bytes_read += (uint64_t)n;
    parse(c);
}

static void on_io(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    lconn_t *c = (lconn_t *)w;
    if (c->state == C_CONNECTING) {
        connected(c);
        return;
    }
    if (c->h2) {
        h2_on_io(c, events);
        return;
    }
    if (c->out_n) { /* a blocked write: room, or for TLS input, may let it go on */
        flush_out(c);
        if (c->state != C_OPEN || c->io.fd < 0)
            return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && (c->out_n || !(events & EPOLLOUT)))
        return;
    /* Input the transport already holds (TLS) gets no epoll event: read it now. */
    do
        on_readable(c);
    while (c->io.pending && c->state == C_OPEN && c->io.fd >= 0);
}

/* ---- HTTP/2 (--h2) ----------------------------------------------------------------------- */
/*
 * One nghttp2 client session per connection (h2client.h), driven in turns: whatever the
 * socket has is read into the thread's buffer and given to the session at once; the streams
 * that ended are recorded from the session's callbacks (h2_end); then, once the loop has
 * handled its batch of events (send_later, as for HTTP/1.1), free stream slots are filled with
 * new requests (h2_fill) and everything the session has to say goes out in one writev
 * (h2_turn). Latency counts from the submission (closed loop; the HEADERS go out in the
 * same turn) or from the intended send time (-R), to the read that completed the response.
 */

/* The run cannot go on: the server does not speak HTTP/2. main prints why and exits 1. */
static void engine_fatal(engine_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void engine_fatal(engine_t *e, const char *fmt, ...)
{
    pthread_mutex_lock(&e->lock);
    if (!e->fatal[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->fatal, sizeof e->fatal, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&e->lock);
    engine_stop(e);
}

/* A stream ended (called from inside the session): record it, give its slot back. */
static void h2_end(void *owner, h2client_stream_t *s, h2client_end_t how)
{
    lconn_t *c = owner;
    const scenario_entry_t *en = s->entry;
    uint64_t lat = (c->t->clock > s->start_ns ? c->t->clock - s->start_ns : 0) / 1000;
    stats_err_t err = STATS_OK;
    switch (how) {
    case H2CLIENT_DONE:
        if (!load_status_set_has(&en->expect, s->status))
            err = STATS_ERR_STATUS;
        else if (en->expect_min_bytes && s->content < en->expect_min_bytes)
            err = STATS_ERR_MIN_BYTES;
        else if (en->check.mode && !check_end(&c->check[h2client_slot_index(c->h2, s)], &en->check))
            err = STATS_ERR_BODY;
        break;
    case H2CLIENT_UNSENT:
        if (s->retries < H2_RETRIES) { /* never processed: it goes out again, still timed */
            s->retries++;
            h2client_requeue(c->h2, s);
            return;
        }
        err = STATS_ERR_REFUSED; /* turned away once too often */
        break;
    case H2CLIENT_REFUSED:
        err = STATS_ERR_REFUSED;
        break;
    case H2CLIENT_RESET:
        err = STATS_ERR_READ;
        break;
    }
    record(c, en, s->start_ns, lat, s->status, s->content, err);
    h2client_release(c->h2, s);
}

/* A piece of a stream's response body (called from inside the session). */
static void h2_data(void *owner, h2client_stream_t *s, const uint8_t *data, size_t len)
{
    lconn_t *c = owner;
    const scenario_entry_t *en = s->entry;
    if (en->check.mode)
        check_feed(&c->check[h2client_slot_index(c->h2, s)], &en->check, data, len);
}

/* The connection failed: its streams fail with err (a connection that never carried one pays
 * its claim, as a connect failure does), and a new one is opened. Requeued requests wait. */
static void h2_fail(lconn_t *c, stats_err_t err)
{
    lthread_t *t = c->t;
    uint64_t now = now_ns();
    for (unsigned i = 0; i < h2client_nslots(c->h2); i++) {
        h2client_stream_t *s = h2client_slot(c->h2, i);
        if (s->state != H2CLIENT_LIVE)
            continue;
        record(c, s->entry, s->start_ns, (now - s->start_ns) / 1000, s->status, s->content, err);
        h2client_release(c->h2, s);
    }
    if (c->claimed) {
        record(c, scenario_next(t->e->sc, &t->cur), c->connect_ns, STATS_NO_LATENCY, 0, 0, err);
        c->claimed = false;
    }
    close_socket(c);
    start_conn(c);
}

/* The connection ended in order (GOAWAY served, one request with --no-keepalive, or the
 * session closed): streams still live get no answer now (read errors); on to a new one. */
static void h2_conn_end(lconn_t *c)
{
    if (h2client_live(c->h2)) {
        h2_fail(c, STATS_ERR_READ);
        return;
    }
    close_socket(c);
    start_conn(c);
}

/* A fatal condition ends this connection without a count: the run is being stopped. */
static void h2_abort(lconn_t *c)
{
    close_socket(c);
    retire(c);
}

/* https: the first byte moved means the handshake is done; did it choose h2? */
static bool h2_alpn_ok(lconn_t *c)
{
    c->alpn_checked = true;
    if (io_tls_alpn_h2(&c->io))
        return true;
    engine_fatal(c->t->e,
                 "%s: the server did not select h2 by ALPN: it does not speak HTTP/2 over TLS "
                 "(without --h2, pixload speaks HTTP/1.1)",
                 c->t->e->cfg->url_str);
    h2_abort(c);
    return false;
}

/* http: the server answered the preface with something else than SETTINGS. */
static void h2_not_h2c(lconn_t *c, const uint8_t *p, size_t n)
{
    char seen[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof seen - 1 && p[i] != '\r' && p[i] != '\n'; i++)
        seen[k++] = isprint(p[i]) ? (char)p[i] : '.';
    seen[k] = '\0';
    engine_fatal(c->t->e,
                 "%s: the server does not speak h2c (HTTP/2 over cleartext with prior knowledge): it "
                 "answered the connection preface with \"%s\" instead of a SETTINGS frame "
                 "(without --h2, pixload speaks HTTP/1.1)",
                 c->t->e->cfg->url_str, seen);
    h2_abort(c);
}

static void on_rate_timer(loop_t *loop, loop_timer_t *tm);

/* Arms the timeout timer for a deadline after_ms from now, unless it fires sooner already. */
static void h2_arm_timeout(lconn_t *c, uint64_t after_ms)
{
    loop_t *loop = c->t->loop;
    if (!loop_timer_armed(&c->timer) || loop_now_ms(loop) + after_ms < c->timer.at_ms)
        loop_timer_arm(loop, &c->timer, after_ms, on_timer);
}

/* Fills free stream slots: requests to send again first, then new ones (claimed, rate-paced). */
static void h2_fill(lconn_t *c)
{
    lthread_t *t = c->t;
    engine_t *e = t->e;
    const load_config_t *cfg = e->cfg;
    h2client_t *h = c->h2;
    unsigned room = c->h2_drain ? 0 : h2client_room(h);
    if (!room)
        return;
    uint64_t now = now_ns();
    for (; room; room--) {
        h2client_stream_t *s = h2client_next_waiting(h);
        if (!s) {
            if (!cfg->keepalive && !c->fresh)
                break; /* --no-keepalive: one request per connection */
            uint64_t start = now;
            if (!c->claimed && !user_wanted(c, now))
                break; /* -u PLAN: no new request; h2_turn parks the user once its streams end */
            if (cfg->rate > 0) {
                if (c->intended_ns == UINT64_MAX)
                    break; /* the plan is over */
                if (c->intended_ns > now) { /* wait for this connection's next slot */
                    loop_timer_arm(t->loop, &c->rate_timer, ms_until(c->intended_ns), on_rate_timer);
                    break;
                }
                /* a stream slot frees when an answer is read */
                uint64_t due = c->intended_ns > c->last_read_ns ? c->intended_ns : c->last_read_ns;
                hist_record(&t->stats.send_late, now > due ? (now - due) / 1000 : 0);
                start = c->intended_ns; /* latency counts from when it should have gone out */
            }
            if (!(s = h2client_take(h)))
                break;
            if (!claim(c)) {
                h2client_release(h, s);
                if (!h2client_live(h) && !h2client_waiting(h))
                    retire(c);
                return;
            }
            if (cfg->rate > 0) {
                c->slot++;
                c->intended_ns = slot_time(c);
            }
            if (c->fresh && !cfg->keepalive)
                start = c->connect_ns; /* as ab: a new connection per request includes connecting */
            c->fresh = false;
            const scenario_entry_t *en = scenario_next(e->sc, &t->cur);
            s->entry = en;
            s->req = &e->h2reqs[en - e->sc->entries];
            s->start_ns = start;
        }
        const scenario_entry_t *en = s->entry;
        s->sent_ns = now;
        if (en->check.mode)
            check_begin(&c->check[h2client_slot_index(h, s)], &en->check);
        if (h2client_submit(h, s) != 0) {
            /* No new stream here (after 2^30 of them the ids run out, or out of memory): the
             * request goes out on the next connection once this one's streams are done. */
            h2client_requeue(h, s);
            c->h2_drain = true;
            break;
        }
        h2_arm_timeout(c, en->timeout_ms);
    }
}

/* Writes what is queued. False when the connection was replaced. */
static bool h2_flush(lconn_t *c)
{
    while (c->wout_i < c->wout_n) {
        ssize_t n = c->io.ops->writev(&c->io, c->wout + c->wout_i, (int)(c->wout_n - c->wout_i));
        if (n == IO_AGAIN) {
            /* A TLS handshake waits for input, not room: no EPOLLOUT then (it would spin). */
            loop_watch_mod(c->t->loop, &c->w, EPOLLIN | (c->io.want == EPOLLOUT ? EPOLLOUT : 0));
            return true;
        }
        if (n <= 0) {
            h2_fail(c, n == IO_EPROTO ? STATS_ERR_TLS : STATS_ERR_WRITE);
            return false;
        }
        if (!c->alpn_checked && !h2_alpn_ok(c))
            return false;
        c->t->stats.bytes_written += (uint64_t)n;
        c->wout_i = io_iov_advance(c->wout, c->wout_i, c->wout_n, (size_t)n);
    }
    c->wout_i = c->wout_n = 0;
    loop_watch_mod(c->t->loop, &c->w, EPOLLIN);
    return true;
}

/* One turn: new requests into free slots, the session's frames out, until it has nothing more
 * to say or the socket is full; then whether the connection is over. */
static void h2_turn(lconn_t *c)
{
    h2client_t *h = c->h2;
    for (;;) {
        if (c->wout_i < c->wout_n) {
            if (!h2_flush(c))
                return;
            if (c->wout_i < c->wout_n)
                return; /* the socket is full: EPOLLOUT brings us back */
        }
        h2_fill(c);
        if (c->state != C_OPEN)
            return;
        struct iovec *iov;
        unsigned n;
        c->t->clock = now_ns();
        if (h2client_output(h, &iov, &n) != 0) {
            h2_fail(c, STATS_ERR_WRITE);
            return;
        }
        if (!n)
            break;
        c->wout = iov;
        c->wout_i = 0;
        c->wout_n = n;
    }
    if (!h2client_live(h) && !h2client_waiting(h) && !c->claimed && !user_wanted(c, now_ns())) {
        park(c);
        return;
    }
    if (h2client_over(h) || ((h2client_goaway(h) || c->h2_drain) && !h2client_live(h)) ||
        (!c->t->e->cfg->keepalive && !c->fresh && !h2client_live(h) && !h2client_waiting(h)))
        h2_conn_end(c);
}

/* Reads what the socket has into the session, until it has no more (as h2load does) or
 * H2_READ_MAX bytes went in this turn. Reading only what one event announced answered each
 * stream as it ended: one request per write, and the server paid a read per request; reading
 * to the end lets the streams that ended together go out together. False when the connection
 * was replaced. */
static bool h2_read(lconn_t *c)
{
    lthread_t *t = c->t;
    engine_t *e = t->e;
    size_t total = 0;
    for (;;) {
        ssize_t n = c->io.ops->read(&c->io, t->rbuf, READ_CHUNK);
        if (n == IO_AGAIN) {
            if (c->wout_i == c->wout_n) /* a TLS read may have to send first */
                loop_watch_mod(t->loop, &c->w, EPOLLIN | (c->io.want == EPOLLOUT ? EPOLLOUT : 0));
            return true;
        }
        if (n <= 0) {
            if (n == IO_EPROTO) {
                h2_fail(c, STATS_ERR_TLS);
            } else if (!c->got_bytes && !e->tls && !__atomic_load_n(&e->h2_ok, __ATOMIC_RELAXED)) {
                engine_fatal(e,
                             "%s: the server closed the connection without answering the HTTP/2 "
                             "connection preface: it does not speak h2c (HTTP/2 over cleartext with "
                             "prior knowledge; without --h2, pixload speaks HTTP/1.1)",
                             e->cfg->url_str);
                h2_abort(c);
            } else if (h2client_live(c->h2) || (c->claimed && !c->h2_ready)) {
                h2_fail(c, STATS_ERR_READ);
            } else { /* an idle connection closed (after a GOAWAY, or by the server's timer) */
                close_socket(c);
                start_conn(c);
            }
            return false;
        }
        if (!c->alpn_checked && !h2_alpn_ok(c))
            return false;
        t->stats.bytes_read += (uint64_t)n;
        t->clock = c->last_read_ns = now_ns();
        int rv = h2client_recv(c->h2, t->rbuf, (size_t)n);
        if (rv == H2CLIENT_NOT_H2) {
            if (e->tls) { /* h2 by ALPN, then no SETTINGS: a broken server, not a missing protocol */
                h2_fail(c, STATS_ERR_READ);
            } else {
                h2_not_h2c(c, t->rbuf, (size_t)n);
            }
            return false;
        }
        if (rv < 0) {
            h2_fail(c, STATS_ERR_READ);
            return false;
        }
        c->got_bytes = true;
        if (!c->h2_ready && h2client_ready(c->h2)) {
            c->h2_ready = true;
            loop_timer_cancel(t->loop, &c->timer); /* the wait for SETTINGS is over */
            __atomic_store_n(&e->h2_ok, 1, __ATOMIC_RELAXED);
            unsigned limit = h2client_limit(c->h2), seen = __atomic_load_n(&e->h2_limit, __ATOMIC_RELAXED);
            while ((!seen || limit < seen) &&
                   !__atomic_compare_exchange_n(&e->h2_limit, &seen, limit, true, __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED))
                ;
        }
        total += (size_t)n;
        /* The others' turn: level-triggered epoll brings us back for what the socket holds,
         * but not for what TLS holds already (io.h), so that is read first. */
        if (total >= H2_READ_MAX && !c->io.pending)
            return true;
    }
}

static void h2_on_io(lconn_t *c, uint32_t events)
{
    if (c->wout_i < c->wout_n) { /* a blocked write: room, or for TLS input, may let it go on */
        if (!h2_flush(c))
            return;
        if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->wout_i < c->wout_n)
            return;
    }
    if (!h2_read(c))
        return;
    /* New requests and the session's answers go out once the loop has handled the whole
     * batch of events, as over HTTP/1.1 (send_later): the server gets a batch's requests
     * together. A write still blocked waits for EPOLLOUT anyway. */
    if (c->wout_i == c->wout_n)
        send_later(c);
}

static void h2_connected(lconn_t *c)
{
    c->alpn_checked = !c->t->e->tls;
    c->got_bytes = false;
    c->h2_ready = false;
    c->last_read_ns = now_ns();
    if (h2client_open(c->h2) != 0) {
        h2_fail(c, STATS_ERR_WRITE);
        return;
    }
    /* The server's SETTINGS must come within the timeout, like an answer. */
    loop_timer_arm(c->t->loop, &c->timer, c->t->e->cfg->timeout_ms, on_timer);
    h2_turn(c);
}

/* The timeout timer of an open connection: no SETTINGS yet, or streams past their deadline. A
 * stream is cancelled alone while the connection still brings answers; when nothing came since
 * it was sent, the connection is taken for dead and replaced (as the HTTP/1.1 path does). */
static void h2_on_timer(lconn_t *c)
{
    if (!c->h2_ready) {
        h2_fail(c, STATS_ERR_TIMEOUT);
        return;
    }
    uint64_t now = now_ns(), next = UINT64_MAX;
    for (unsigned i = 0; i < h2client_nslots(c->h2); i++) {
        h2client_stream_t *s = h2client_slot(c->h2, i);
        if (s->state != H2CLIENT_LIVE)
            continue;
        const scenario_entry_t *en = s->entry;
        uint64_t deadline = s->sent_ns + en->timeout_ms * 1000000u;
        if (deadline > now) {
            if (deadline < next)
                next = deadline;
            continue;
        }
        if (c->last_read_ns < s->sent_ns) {
            h2_fail(c, STATS_ERR_TIMEOUT);
            return;
        }
        record(c, en, s->start_ns, (now - s->start_ns) / 1000, s->status, s->content, STATS_ERR_TIMEOUT);
        h2client_cancel(c->h2, s);
        h2client_release(c->h2, s);
    }
    if (next != UINT64_MAX)
        loop_timer_arm(c->t->loop, &c->timer, ms_until(next), on_timer);
    h2_turn(c);
}

static void on_rate_timer(loop_t *loop, loop_timer_t *tm)
{
    (void)loop;
    lconn_t *c = (lconn_t *)((char *)tm - offsetof(lconn_t, rate_timer));
    if (c->state == C_OPEN)
        h2_turn(c);
}

/* ---- the thread ---------------------------------------------------------------------- */

/* Copies the thread's figures for engine_snapshot(), as of second tick of the run. */
static void publish(lthread_t *t, unsigned tick)
{
    pthread_mutex_lock(&t->snap_lock);
    stats_copy(&t->snap, &t->stats);
    t->snap_started = t->active;
    pthread_mutex_unlock(&t->snap_lock);
    pthread_mutex_lock(&t->e->lock);
    t->snap_tick = tick;
    pthread_cond_broadcast(&t->e->cond);
    pthread_mutex_unlock(&t->e->lock);
}

static uint64_t thread_requests(const lthread_t *t)
{
    uint64_t total = 0;
    for (size_t i = 0; i < t->stats.n; i++)
        total += t->stats.entries[i].requests;
    return total;
}

/* Every whole second of the run, on the run's clock (not one second after the previous
 * tick, which drifts): every thread's snapshot then describes the same instant, so the
 * history's user counts and the per-second rates are exact. */
static void on_tick(loop_t *loop, loop_timer_t *tm)
{
    lthread_t *t = (lthread_t *)((char *)tm - offsetof(lthread_t, tick));
    uint64_t due = t->e->t0_ns + (t->ticks + 1) * 1000000000ull;
    if (now_ns() >= due) { /* else the loop's cached clock fired it early */
        uint64_t total = thread_requests(t);
        hist_record(&t->stats.req_rate, total - t->last_requests);
        t->last_requests = total;
        publish(t, ++t->ticks);
        due += 1000000000ull;
    }
    loop_timer_arm(loop, tm, ms_until(due), on_tick);
}

static void on_end(loop_t *loop, loop_timer_t *tm)
{
    lthread_t *t = (lthread_t *)((char *)tm - offsetof(lthread_t, end));
    for (unsigned i = 0; i < t->nconns; i++)
        retire(&t->conns[i]); /* requests in flight at the end are not counted, as wrk */
    loop_stop(loop);
}

static void stop_now(loop_t *loop, void *arg)
{
    on_end(loop, &((lthread_t *)arg)->end);
}

/* Starts the connections whose spawn time has come. */
static void on_spawn(loop_t *loop, loop_timer_t *tm)
{
    lthread_t *t = (lthread_t *)((char *)tm - offsetof(lthread_t, spawn));
    engine_t *e = t->e;
    const load_config_t *cfg = e->cfg;
    uint64_t elapsed = now_ns() - e->t0_ns;
    while (t->started < t->nconns) {
        lconn_t *c = &t->conns[t->started];
        double at_s = cfg->users_plan.n ? plan_first_reach(&cfg->users_plan, 0, c->k + 1)
                      : cfg->spawn_rate > 0 ? c->k / cfg->spawn_rate
                                            : 0;
        if (!(at_s < INFINITY)) { /* a user the plan never asks for */
            t->started++;
            retire(c);
            continue;
        }
        uint64_t at = (uint64_t)(at_s * 1e9);
        if (at > elapsed) {
            loop_timer_arm(loop, tm, (at - elapsed + 999999) / 1000000, on_spawn);
            return;
        }
        t->started++;
        t->active++;
        c->spawn_ns = at;
        if (cfg->rate > 0) /* the connections' schedules interleave: k, k + connections, ... */
            c->intended_ns = slot_time(c);
        start_conn(c);
    }
}

static void *thread_main(void *arg)
{
    lthread_t *t = arg;
    engine_t *e = t->e;
    loop_timer_arm(t->loop, &t->tick, ms_until(e->t0_ns + 1000000000ull), on_tick);
    if (e->end_ns)
        loop_timer_arm(t->loop, &t->end, ms_until(e->end_ns), on_end);
    loop_timer_arm(t->loop, &t->spawn, 0, on_spawn);
    if (t->nconns)
        loop_run(t->loop);
    if (!t->ticks) { /* a run shorter than a second: one request-rate sample over all of it */
        uint64_t ns = now_ns() - e->t0_ns;
        if (ns)
            hist_record(&t->stats.req_rate, (uint64_t)((double)thread_requests(t) * 1e9 / (double)ns));
    }
    latlog_thread_done(&t->log);
    publish(t, t->ticks);
    pthread_mutex_lock(&e->lock);
    t->ended = true;
    e->finished++;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

engine_t *engine_start(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr, char *err,
                       size_t errlen)
{
    return engine_start_logged(cfg, sc, addr, NULL, err, errlen);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

engine_t *engine_start_logged(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr,
                              latlog_t *log, char *err, size_t errlen)
{
    engine_t *e = calloc(1, sizeof *e);
    e->log = log;
    unsigned nt = cfg->threads ? cfg->threads : 1;
    if (nt > cfg->connections)
        nt = cfg->connections;
    e->cfg = cfg;
    e->sc = sc;
    e->addr = *addr;
    if (sc->tls) {
        if (!(e->tls = tls_ctx_client(err, errlen)))
            return NULL;
        if (cfg->h2 && tls_ctx_client_offer_h2(e->tls) != 0) {
            snprintf(err, errlen, "cannot offer h2 by ALPN");
            return NULL;
        }
        struct in6_addr literal;
        if (inet_pton(AF_INET, sc->host, &literal) != 1 && inet_pton(AF_INET6, sc->host, &literal) != 1)
            e->server_name = sc->host; /* SNI names hosts, never addresses (RFC 6066) */
    }
    e->nthreads = nt;
    e->threads = calloc(nt, sizeof *e->threads);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    unsigned pipe = cfg->rate > 0 || cfg->pipeline == 0 ? 1 : cfg->pipeline;
    e->pipe = pipe;
    if (cfg->h2) { /* every request as HTTP/2 fields, once */
        if (!(e->h2reqs = calloc(sc->n, sizeof *e->h2reqs))) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < sc->n; i++) {
            const scenario_entry_t *en = &sc->entries[i];
            if (h2client_req_build(&e->h2reqs[i], en->request, en->request_len, en->body_len, sc->tls, err,
                                   errlen) != 0)
                return NULL;
        }
    }
    for (unsigned i = 0; i < nt; i++) {
        lthread_t *t = &e->threads[i];
        t->e = e;
        t->loop = loop_new();
        if (t->loop)
            loop_set_busy_poll(t->loop, cfg->busy_poll_us, cfg->busy_poll_auto ? LOAD_BUSY_POLL_BATCH : 1);
        /* Connection k goes to thread k % nt, so a ramp feeds every thread evenly. */
        t->nconns = cfg->connections / nt + (i < cfg->connections % nt);
        t->conns = calloc(t->nconns ? t->nconns : 1, sizeof *t->conns);
        pthread_mutex_init(&t->snap_lock, NULL);
        if (cfg->h2)
            t->rbuf = malloc(READ_CHUNK);
        if (!t->loop || !t->conns || scenario_cursor_init(&t->cur, sc, i) || stats_init(&t->stats, sc->nstats) ||
            stats_init(&t->snap, sc->nstats) || (cfg->h2 && !t->rbuf) || latlog_thread_init(&t->log, log) != 0) {
            snprintf(err, errlen, "out of memory for %u connections", cfg->connections);
            return NULL; /* the process exits: nothing to unwind */
        }
        for (unsigned j = 0; j < t->nconns; j++) {
            lconn_t *c = &t->conns[j];
            c->t = t;
            c->k = j * nt + i;
            c->w.fd = c->io.fd = -1;
            c->q = calloc(pipe, sizeof *c->q);
            c->q_start = calloc(pipe, sizeof *c->q_start);
            c->out = calloc(pipe, sizeof *c->out);
            /* --no-keepalive: one stream per connection */
            if (cfg->h2 && (c->h2 = h2client_new(cfg->keepalive ? cfg->max_streams : 1, h2_end, c)))
                h2client_on_data(c->h2, h2_data);
            if (sc->checks)
                c->check = calloc(c->h2 ? h2client_nslots(c->h2) : 1, sizeof *c->check);
            if (!c->q || !c->q_start || !c->out || (cfg->h2 && !c->h2) || (sc->checks && !c->check)) {
                snprintf(err, errlen, "out of memory for %u connections", cfg->connections);
                return NULL;
            }
        }
    }
    e->t0_ns = now_ns();
    e->t0_wall = wall_now();
    if (log)
        latlog_set_clock(log, e->t0_ns, e->t0_wall);
    e->end_ns = cfg->duration_ms ? e->t0_ns + cfg->duration_ms * 1000000u : 0;
    for (unsigned i = 0; i < nt; i++)
        pthread_create(&e->threads[i].tid, NULL, thread_main, &e->threads[i]);
    return e;
}

void engine_stop(engine_t *e)
{
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < e->nthreads; i++)
        loop_post(e->threads[i].loop, stop_now, &e->threads[i]);
}

/* Under e->lock. */
static engine_event_t event_of(const engine_t *e, unsigned sec)
{
    if (e->finished == e->nthreads)
        return ENGINE_ENDED;
    for (unsigned i = 0; i < e->nthreads; i++)
        if (!e->threads[i].ended && e->threads[i].snap_tick < sec)
            return ENGINE_TIMEOUT;
    return ENGINE_SECOND;
}

engine_event_t engine_wait(engine_t *e, unsigned sec, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&e->lock);
    engine_event_t ev;
    while ((ev = event_of(e, sec)) == ENGINE_TIMEOUT)
        if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&e->lock);
    return ev;
}

unsigned engine_snapshot(engine_t *e, stats_t *total)
{
    unsigned users = 0;
    stats_reset(total);
    for (unsigned i = 0; i < e->nthreads; i++) {
        lthread_t *t = &e->threads[i];
        pthread_mutex_lock(&t->snap_lock);
        stats_merge(total, &t->snap);
        users += t->snap_started;
        pthread_mutex_unlock(&t->snap_lock);
    }
    return users;
}

double engine_result(engine_t *e, stats_t *total)
{
    for (unsigned i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i].tid, NULL);
    stats_reset(total);
    for (unsigned i = 0; i < e->nthreads; i++)
        stats_merge(total, &e->threads[i].stats);
    return (double)(now_ns() - e->t0_ns) / 1e9;
}

void engine_free(engine_t *e)
{
    for (unsigned i = 0; i < e->nthreads; i++) {
        lthread_t *t = &e->threads[i];
        for (unsigned j = 0; j < t->nconns; j++) {
            lconn_t *c = &t->conns[j];
            if (c->io.fd >= 0)
                c->io.ops->close(&c->io);
            buf_free(&c->in);
            if (c->check)
                for (unsigned k = 0; k < (c->h2 ? h2client_nslots(c->h2) : 1); k++)
                    check_run_free(&c->check[k]);
            free(c->check);
            h2client_free(c->h2);
            free(c->q);
            free(c->q_start);
            free(c->out);
        }
        free(t->conns);
        free(t->rbuf);
        scenario_cursor_free(&t->cur);
        stats_free(&t->stats);
        stats_free(&t->snap);
        pthread_mutex_destroy(&t->snap_lock);
        loop_free(t->loop);
    }
    free(e->threads);
    if (e->h2reqs)
        for (size_t i = 0; i < e->sc->n; i++)
            h2client_req_free(&e->h2reqs[i]);
    free(e->h2reqs);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    tls_ctx_free(e->tls);
    free(e);
}

double engine_start_wall(const engine_t *e)
{
    return e->t0_wall;
}

const char *engine_error(engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    const char *msg = e->fatal[0] ? e->fatal : NULL;
    pthread_mutex_unlock(&e->lock);
    return msg;
}

unsigned engine_h2_streams(engine_t *e)
{
    return __atomic_load_n(&e->h2_limit, __ATOMIC_RELAXED);
}

double engine_target(const engine_t *e, double sec, const char **unit)
{
    const load_config_t *cfg = e->cfg;
    if (cfg->rate > 0) {
        *unit = "req/s";
        return plan_target(&cfg->rate_plan, sec);
    }
    if (cfg->users_plan.n) {
        *unit = "users";
        return plan_target(&cfg->users_plan, sec);
    }
    return NAN;
}
