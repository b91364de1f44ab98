/*
 * h2: HTTP/2 connections (server side). See h2.h for the shape and decision 010 for the why.
 *
 * Who owns what:
 *   - h2_conn_t belongs to its conn_t (c->h2), freed with it (conn_free).
 *   - A stream (h2_stream_t, with its req_t) is created when its HEADERS begin and lives until
 *     nghttp2 has closed it (or the connection has gone) and its handler has answered. When
 *     its answer's bytes are still queued for the socket, what they point to (the body until
 *     release, the req's scratch) stays: the stream waits on the `done` list until the queue
 *     has gone out.
 *   - Output is a queue of segments: frame bytes copied into `out`, and DATA payloads
 *     referenced where they are (NGHTTP2_DATA_FLAG_NO_COPY): the handler's memory, written by
 *     writev with no copy in user space. (sendfile of a file the handler also gives was
 *     measured slower: a DATA frame is at most 16 KiB, so it costs two syscalls per 16 KiB
 *     where one writev sends 32 frames; decision 010.) New frames are pulled only once the
 *     queue is empty, so a blocked TLS write is always repeated with the same bytes (io.h).
 *
 * nghttp2's callbacks only record: a stream became complete, closed, a flood was seen. The
 * loop acts on it after the library returns (process_work), so nothing re-enters the library
 * or the loop from inside it.
 */
#include "server/h2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "http/h2.h"

#define H2_READ_CHUNK CONN_READ_CHUNK
#define H2_READS_PER_TURN 16      /* reads of a busy connection before the others get a turn */
#define H2_OUT_HIGH (256u << 10)  /* frames pulled from nghttp2 per write */
#define H2_COPY_MAX 1024          /* DATA payloads up to this size are copied, not referenced */
#define H2_DRAIN_GRACE_MS 100     /* between the shutdown notice and the GOAWAY */
#define H2_IOV 64
#define EV_READ (EPOLLIN | EPOLLRDHUP)

typedef struct h2_conn h2_conn_t;
typedef struct h2_stream h2_stream_t;

struct h2_stream {
    req_t r; /* what the handler sees */
    h2_conn_t *h;
    h2_stream_t *prev, *next; /* the connection's streams, or its done list */
    h2_stream_t *wnext;       /* the work queue */
    int32_t id;
    bool in_work;    /* queued for process_work */
    bool ready;      /* the request is complete, or answered early: dispatch it */
    bool dispatched;
    bool receiving;  /* its body is coming */
    bool answered;
    bool held;       /* a handler answers later */
    bool cancelled;  /* the handler was told the client left */
    bool closed;     /* nghttp2 closed it, or the connection went */
    bool busy;       /* inside its cancel callback: its memory stays */
    int early;       /* an answer decided before any handler (413, 431, 503, 400, 408), or 0 */
    const char *early_reason;
    void (*cancel)(void *);
    void *cancel_arg;
    http_request_t req;
    h2_fields_t fields;
    char *body;
    size_t body_len, body_cap;
    uint64_t charge; /* bytes of the process-wide body budget it holds */
    /* the answer: the body referenced until release */
    const char *rbody;
    size_t rlen, rpos;
    req_release_t release;
    uint64_t head_ns, started_ms;
};

typedef struct {
    enum { SEG_BYTES, SEG_MEM } kind;
    size_t at;      /* SEG_BYTES: offset in out */
    const char *p;  /* SEG_MEM */
    size_t len;
} seg_t;

struct h2_conn {
    nghttp2_session *s;
    conn_t *c;
    h2_limits_t lim;
    h2_stream_t *streams;      /* every stream not yet freed */
    h2_stream_t *done;         /* freed but for memory queued output still points to */
    h2_stream_t *work, *work_tail;
    unsigned nopen;            /* streams nghttp2 has open */
    unsigned nheld;            /* streams whose handler answers later */
    unsigned nbody;            /* streams receiving a body */
    buf_t out;                 /* frame bytes, at data[0, len): a spare of the worker's while any wait */
    seg_t *segs;
    size_t nsegs, segs_cap, seg_i; /* seg_i: the first not wholly written */
    size_t queued;             /* bytes queued, all kinds */
    uint64_t blocked_ms;       /* when the queue started waiting for room */
    uint64_t settings_ms;      /* when our SETTINGS were queued */
    uint64_t idle_ms;          /* since when no stream is open */
    uint64_t data_ms;          /* the last body bytes */
    uint64_t drain_ms;
    int drain;                 /* 0; 1: shutdown notice sent; 2: GOAWAY sent */
    uint32_t empty_data;       /* DATA frames with no payload and no END_STREAM */
    bool settings_acked;
    bool flood;                /* a callback saw one: GOAWAY ENHANCE_YOUR_CALM after the library returns */
    bool terminated;           /* we sent GOAWAY with an error: linger so that the client reads it */
    bool failed;               /* the session is unusable (a fatal error) */
    bool abandoned;            /* streams ended, the connection is closing */
};

static void h2_respond(req_t *r, int status, const char *hdrs, size_t hlen, const void *body, size_t blen, int fd,
                       void (*release)(void *), void *arg);
static void h2_hold(req_t *r, void (*cancel)(void *), void *arg);
static const req_ops_t h2_ops = {h2_respond, h2_hold};

static h2_stream_t *stream_of(req_t *r)
{
    return (h2_stream_t *)((char *)r - offsetof(h2_stream_t, r));
}

static h2_stream_t *stream_get(h2_conn_t *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->s, id);
}

static uint64_t now_ms(h2_conn_t *h)
{
    return loop_now_ms(h->c->wk->loop);
}

static void work_push(h2_conn_t *h, h2_stream_t *st)
{
    if (st->in_work)
        return;
    st->in_work = true;
    st->wnext = NULL;
    if (h->work_tail)
        h->work_tail->wnext = st;
    else
        h->work = st;
    h->work_tail = st;
}

static void list_unlink(h2_stream_t **head, h2_stream_t *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        *head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->prev = st->next = NULL;
}

static void list_push(h2_stream_t **head, h2_stream_t *st)
{
    st->prev = NULL;
    st->next = *head;
    if (*head)
        (*head)->prev = st;
    *head = st;
}

/* ---- the body budget ---------------------------------------------------------------------- */

static bool body_charge(h2_stream_t *st, uint64_t n)
{
    return server_mem_hold(st->h->c->wk->srv, &st->charge, n);
}

static void body_drop(h2_stream_t *st)
{
    free(st->body);
    st->body = NULL;
    st->body_len = st->body_cap = 0;
    server_mem_drop(st->h->c->wk->srv, &st->charge);
}

static void stop_receiving(h2_stream_t *st)
{
    if (st->receiving) {
        st->receiving = false;
        st->h->nbody--;
    }
}

/* An answer decided before any handler (the same as HTTP/1.1 gives): the body, if any, is no
 * longer wanted; what still comes of it is dropped and the stream is reset after the answer. */
static void early(h2_stream_t *st, int status, const char *reason)
{
    if (st->early || st->dispatched)
        return;
    stop_receiving(st);
    body_drop(st);
    st->early = status;
    st->early_reason = reason;
    st->ready = true;
    work_push(st->h, st);
}

/* ---- freeing -------------------------------------------------------------------------------- */

/* The stream is over and its handler has answered. Its answer's memory stays while queued
 * output may point into it. */
static void stream_free(h2_stream_t *st)
{
    h2_conn_t *h = st->h;
    list_unlink(&h->streams, st);
    stop_receiving(st);
    body_drop(st);
    h2_fields_free(&st->fields);
    if (h->seg_i < h->nsegs && !h->abandoned) {
        list_push(&h->done, st);
        return;
    }
    req_release(&st->release);
    free(st);
}

/* The queue has gone out (or never will): what waited on it goes. */
static void free_done(h2_conn_t *h)
{
    while (h->done) {
        h2_stream_t *st = h->done;
        list_unlink(&h->done, st);
        req_release(&st->release);
        free(st);
    }
}

/* A stream that nghttp2 closed (or the connection lost) is looked at once: its handler, if it
 * holds it, is told; its memory goes once no handler holds it. */
static void stream_closed(h2_stream_t *st)
{
    if (st->held && !st->cancelled) {
        st->cancelled = true;
        st->busy = true;
        if (st->cancel)
            st->cancel(st->cancel_arg);
        st->busy = false;
    }
    if (!st->held)
        stream_free(st);
}

/* Every stream ends (the connection is closing): handlers are told, queued output dropped. */
static void abandon(h2_conn_t *h)
{
    h->abandoned = true;
    h->work = h->work_tail = NULL;
    buf_reset(&h->out);
    h->nsegs = h->seg_i = h->queued = 0;
    free_done(h);
    h2_stream_t *next;
    for (h2_stream_t *st = h->streams; st; st = next) {
        next = st->next;
        st->in_work = false;
        if (!st->closed) {
            st->closed = true;
            h->nopen--;
        }
        if (!st->busy)
            stream_closed(st);
    }
}

/* ---- nghttp2 callbacks: they record, the loop acts -------------------------------------------- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn_t *h = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* that stream is reset */
    conn_t *c = h->c;
    st->h = h;
    st->id = frame->hd.stream_id;
    st->fields.max = h->lim.max_header_list;
    st->started_ms = now_ms(h);
    h2_request_init(&st->req);
    st->r = (req_t){.ops = &h2_ops, .wk = c->wk, .http = &st->req, .peer = &c->peer, .route = REQ_ROUTE_NONE};
    list_push(&h->streams, st);
    h->nopen++;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    h2_stream_t *st = stream_get(user, frame->hd.stream_id);
    /* Trailers (a second HEADERS) carry nothing a handler reads: dropped. */
    if (st && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        h2_request_field(&st->req, &st->fields, name, nlen, value, vlen);
    return 0;
}

/* A request's head is complete: its limits, and memory for its body. */
static void request_head(h2_conn_t *h, h2_stream_t *st, bool end_stream)
{
    const server_config_t *cfg = &h->c->wk->srv->cfg;
    st->head_ns = conn_now_ns();
    if (st->fields.too_large) {
        early(st, 431, "request head too large");
    } else if (st->fields.bad) {
        early(st, 400, "malformed content-length");
    } else if (!end_stream) {
        int64_t cl = st->req.h.content_length;
        if (cl > (int64_t)cfg->max_body) {
            early(st, 413, "request body too large");
        } else if (cl > 0 && !body_charge(st, (uint64_t)cl)) {
            early(st, 503, "too many request bodies in memory");
        } else {
            st->receiving = true;
            h->nbody++;
            h->data_ms = now_ms(h);
        }
    }
    if (end_stream && !st->early) {
        st->ready = true;
        work_push(h, st);
    }
}

static void request_end(h2_conn_t *h, h2_stream_t *st)
{
    stop_receiving(st);
    if (!st->early) {
        st->ready = true;
        work_push(h, st);
    }
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn_t *h = user;
    bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    h2_stream_t *st;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            h->settings_acked = true;
        break;
    case NGHTTP2_HEADERS:
        if (!(st = stream_get(h, frame->hd.stream_id)))
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            request_head(h, st, end);
        else if (end) /* trailers end the body */
            request_end(h, st);
        break;
    case NGHTTP2_DATA:
        /* Empty DATA without END_STREAM costs us a frame and the client nothing. */
        if (frame->hd.length == 0 && !end && ++h->empty_data > h->lim.max_empty_data)
            h->flood = true;
        if (end && (st = stream_get(h, frame->hd.stream_id)))
            request_end(h, st);
        break;
    }
    return 0;
}

/* A body of unknown length is charged a window at a time (never past the body limit). */
static uint64_t charge_step(const h2_stream_t *st, size_t need, uint64_t max_body)
{
    uint64_t step = st->h->lim.stream_window;
    if (st->charge + step > max_body)
        step = max_body - st->charge;
    return need - st->charge > step ? need - st->charge : step;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    h2_conn_t *h = user;
    h2_stream_t *st = stream_get(h, id);
    const server_config_t *cfg = &h->c->wk->srv->cfg;
    if (st && st->receiving) {
        size_t need = st->body_len + len;
        if (need > cfg->max_body) {
            early(st, 413, "request body too large");
        } else if (need > st->charge && !body_charge(st, charge_step(st, need, cfg->max_body))) {
            early(st, 503, "too many request bodies in memory");
        } else {
            if (need > st->body_cap) {
                size_t cap = st->body_cap ? st->body_cap * 2 : 16384;
                if (cap < need)
                    cap = need;
                if (cap > st->charge)
                    cap = (size_t)st->charge; /* never more memory than charged */
                char *b = realloc(st->body, cap);
                if (!b) {
                    early(st, 503, "too many request bodies in memory");
                    nghttp2_session_consume_connection(s, len);
                    return 0;
                }
                st->body = b;
                st->body_cap = cap;
            }
            memcpy(st->body + st->body_len, data, len);
            st->body_len = need;
            h->data_ms = now_ms(h);
            /* Stored in charged memory: now the windows may open for it. */
            nghttp2_session_consume(s, id, len);
            return 0;
        }
    }
    /* Not kept (answered early, or no such stream): the connection's window opens, the
     * stream's stays shut until it is reset. */
    nghttp2_session_consume_connection(s, len);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user)
{
    h2_conn_t *h = user;
    h2_stream_t *st = stream_get(h, id);
    if (!st || st->closed)
        return 0;
    st->closed = true;
    stop_receiving(st);
    if (--h->nopen == 0)
        h->idle_ms = now_ms(h);
    work_push(h, st);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn_t *h = user;
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
        h->terminated = true;
    /* Answered before the request ended (413, 503, 431): ask the client to stop sending
     * (RFC 9113 §8.1), with NO_ERROR since the answer is complete. */
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !nghttp2_session_get_stream_remote_close(s, frame->hd.stream_id))
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

/* ---- output ----------------------------------------------------------------------------------- */

static seg_t *seg_add(h2_conn_t *h)
{
    if (h->nsegs == h->segs_cap) {
        size_t cap = h->segs_cap ? h->segs_cap * 2 : 32;
        seg_t *g = realloc(h->segs, cap * sizeof *g);
        if (!g)
            return NULL;
        h->segs = g;
        h->segs_cap = cap;
    }
    return &h->segs[h->nsegs++];
}

/* Copies frame bytes to the queue. 0 or -1 (out of memory). */
static int out_bytes(h2_conn_t *h, const void *p, size_t n)
{
    if (!h->out.data)
        buf_pool_take(&h->c->wk->bufs, &h->out);
    if (buf_reserve(&h->out, n, SIZE_MAX) < (long)n)
        return -1;
    /* Consecutive bytes make one segment. */
    seg_t *last = h->nsegs > h->seg_i ? &h->segs[h->nsegs - 1] : NULL;
    if (!(last && last->kind == SEG_BYTES && last->at + last->len == h->out.len)) {
        if (!(last = seg_add(h)))
            return -1;
        *last = (seg_t){.kind = SEG_BYTES, .at = h->out.len};
    }
    memcpy(h->out.data + h->out.len, p, n);
    h->out.len += n;
    last->len += n;
    h->queued += n;
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    h2_stream_t *st = src->ptr;
    size_t left = st->rlen - st->rpos, n = left < length ? left : length;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY; /* the payload goes out from where it is (send_data) */
    if (n == left)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* A DATA frame of a stream's answer: its header copied, its payload referenced. */
static int send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                     nghttp2_data_source *src, void *user)
{
    h2_conn_t *h = user;
    h2_stream_t *st = src->ptr;
    if (h->queued >= H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK; /* offered again on the next pull */
    if (out_bytes(h, framehd, 9) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (length <= H2_COPY_MAX) {
        if (length && out_bytes(h, st->rbody + st->rpos, length) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else {
        seg_t *g = seg_add(h);
        if (!g)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        *g = (seg_t){.kind = SEG_MEM, .p = st->rbody + st->rpos, .len = length};
        h->queued += length;
    }
    st->rpos += length;
    return 0;
}

/* Writes the queue. True when all of it went out; false when it waits for room (or the
 * connection closed). */
static bool flush(h2_conn_t *h)
{
    conn_t *c = h->c;
    while (h->seg_i < h->nsegs) {
        struct iovec iov[H2_IOV];
        unsigned k = 0;
        for (size_t i = h->seg_i; i < h->nsegs && k < H2_IOV; i++) {
            seg_t *s = &h->segs[i];
            iov[k++] = (struct iovec){(void *)(s->kind == SEG_BYTES ? h->out.data + s->at : s->p), s->len};
        }
        ssize_t n = c->io.ops->writev(&c->io, iov, (int)k);
        if (n == IO_AGAIN || !conn_wrote(c, n)) {
            if (c->state != CONN_CLOSED && !h->blocked_ms)
                h->blocked_ms = now_ms(h);
            return false;
        }
        h->queued -= (size_t)n;
        for (size_t left = (size_t)n; left;) {
            seg_t *s = &h->segs[h->seg_i];
            size_t d = left < s->len ? left : s->len;
            s->len -= d;
            left -= d;
            if (s->kind == SEG_BYTES)
                s->at += d;
            else
                s->p += d;
            if (!s->len)
                h->seg_i++;
        }
    }
    buf_reset(&h->out);
    h->nsegs = h->seg_i = 0;
    h->blocked_ms = 0;
    free_done(h);
    return true;
}

/* The session cannot go on (a fatal error, a flood nghttp2 reports as fatal): GOAWAY written
 * by hand when the queue is empty (else the client is not reading: close at once). */
static void fail(h2_conn_t *h, int err)
{
    if (h->failed)
        return;
    h->failed = true;
    uint32_t code = err == NGHTTP2_ERR_FLOODED || err == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ? NGHTTP2_ENHANCE_YOUR_CALM
                    : err == NGHTTP2_ERR_NOMEM || err == NGHTTP2_ERR_CALLBACK_FAILURE ? NGHTTP2_INTERNAL_ERROR
                                                                                        : NGHTTP2_PROTOCOL_ERROR;
    if (h->seg_i == h->nsegs) {
        uint8_t f[H2_GOAWAY_LEN];
        h2_goaway_frame(f, nghttp2_session_get_last_proc_stream_id(h->s), code);
        if (out_bytes(h, f, sizeof f) == 0)
            h->terminated = true;
    }
}

/* ---- the streams' side ---------------------------------------------------------------------- */

/* Acts on what the callbacks recorded: closed streams end, complete ones go to their handler. */
static void process_work(h2_conn_t *h)
{
    server_t *srv = h->c->wk->srv;
    h2_stream_t *st;
    while ((st = h->work) != NULL) {
        h->work = st->wnext;
        if (!h->work)
            h->work_tail = NULL;
        st->in_work = false;
        if (st->closed) {
            stream_closed(st);
            continue;
        }
        if (!st->ready || st->dispatched)
            continue;
        st->dispatched = true;
        if (st->early) {
            req_respond_error(&st->r, st->early, st->early_reason);
            continue;
        }
        st->r.body = st->body;
        st->r.body_len = st->body_len;
        req_dispatch(&st->r, srv->handlers, srv->nhandlers);
        if (!st->answered && !st->held) /* a handler must answer or hold */
            req_respond_error(&st->r, 500, "no answer");
    }
}

static void h2_respond(req_t *r, int status, const char *hdrs, size_t hlen, const void *body, size_t blen, int fd,
                       void (*release)(void *), void *arg)
{
    h2_stream_t *st = stream_of(r);
    h2_conn_t *h = st->h;
    conn_t *c = h->c;
    worker_t *wk = c->wk;
    if (st->held) {
        st->held = false;
        if (--h->nheld == 0)
            c->held = false;
    }
    if (st->answered || st->closed || h->abandoned) {
        /* The client reset the stream or left: the answer only frees what it holds. */
        if (release)
            release(arg);
        st->answered = true;
        if (!st->busy && !st->in_work && (st->closed || h->abandoned))
            stream_free(st);
        if (c->state == CONN_CLOSED && !c->held)
            conn_schedule(c); /* the connection's memory now */
        return;
    }
    st->answered = true;
    bool head_only = conn_status_bodiless(status) || st->req.method == HTTP_METHOD_HEAD;
    st->rbody = body;
    st->rlen = head_only ? 0 : blen;
    st->rpos = 0;
    st->release = (req_release_t){release, arg};

    nghttp2_nv nv[48];
    char code[24], clen[24], lower[1024];
    size_t n = 0, cl = conn_put_u64(code, (uint64_t)(status >= 100 && status < 1000 ? status : 500));
    nv[n++] = H2_NV_LIT(":status", code, cl);
    nv[n++] = H2_NV_LIT("server", "pixd", 4);
    nv[n++] = H2_NV_LIT("date", http_date_cached(&wk->date, loop_wall_s(wk->loop)), HTTP_DATE_LEN);
    if (!conn_status_bodiless(status)) {
        nv[n++] = H2_NV_LIT("content-length", clen, conn_put_u64(clen, blen));
    }
    /* A set that does not fit is dropped, as HTTP/1.1 drops one too large for its head. */
    int k = h2_nv_from_lines(hdrs, hlen, nv + n, sizeof nv / sizeof nv[0] - n, lower, sizeof lower);
    n += k > 0 ? (size_t)k : 0;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    if (nghttp2_submit_response(h->s, st->id, nv, n, st->rlen ? &prd : NULL) != 0) {
        req_release(&st->release); /* out of memory: the client gets a reset */
        nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    }
    conn_account(wk, r, st->req.method_str ? &st->req : NULL, "HTTP/2.0", &c->peer, status, st->rlen, st->head_ns, st->started_ms);
    __atomic_store_n(&wk->stats.requests, wk->stats.requests + 1, __ATOMIC_RELAXED);
    if (!c->running) /* answered from a completion or a timer: sent by the loop, later */
        conn_schedule(c);
}

static void h2_hold(req_t *r, void (*cancel)(void *), void *arg)
{
    h2_stream_t *st = stream_of(r);
    if (!st->held) {
        st->held = true;
        st->h->nheld++;
        st->h->c->held = true;
    }
    st->cancel = cancel;
    st->cancel_arg = arg;
}

/* ---- the connection --------------------------------------------------------------------------- */

void h2_conn_start(conn_t *c)
{
    const server_config_t *cfg = &c->wk->srv->cfg;
    h2_conn_t *h = calloc(1, sizeof *h);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    if (h) {
        h2_limits_default(&h->lim);
        h->lim.max_concurrent_streams = cfg->h2_max_streams;
        h->lim.settings_timeout_ms = cfg->h2_settings_timeout_ms;
        h->lim.max_header_list = CONN_HEAD_MAX;
        opt = h2_option_new(&h->lim, true);
    }
    if (opt && nghttp2_session_callbacks_new(&cb) == 0) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
        nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
        if (nghttp2_session_server_new2(&h->s, cb, h, opt) != 0 || h2_submit_settings(h->s, &h->lim) != 0) {
            nghttp2_session_del(h->s);
            h->s = NULL;
        }
    }
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (!h || !h->s) {
        free(h);
        conn_close(c);
        return;
    }
    h->c = c;
    c->h2 = h;
    c->state = CONN_H2;
    h->settings_ms = h->idle_ms = now_ms(h);
    if (!c->nodelay) { /* frames of many streams interleave: none may wait for an ACK */
        int one = 1;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->nodelay = true;
    }
    if (c->wk->draining)
        h2_drain(c);
}

/* The next deadline: settings unacknowledged, a write waiting for room, a body stalled, idle. */
static void arm_timer(h2_conn_t *h)
{
    conn_t *c = h->c;
    const server_config_t *cfg = &c->wk->srv->cfg;
    uint64_t at = UINT64_MAX, now = now_ms(h);
    if (!h->settings_acked)
        at = h->settings_ms + h->lim.settings_timeout_ms;
    if (h->blocked_ms && h->blocked_ms + cfg->body_timeout_ms < at)
        at = h->blocked_ms + cfg->body_timeout_ms;
    if (h->nbody && h->data_ms + cfg->body_timeout_ms < at)
        at = h->data_ms + cfg->body_timeout_ms;
    if (!h->nopen && !h->nheld && h->idle_ms + cfg->keepalive_timeout_ms < at)
        at = h->idle_ms + cfg->keepalive_timeout_ms;
    if (h->drain == 1 && h->drain_ms + H2_DRAIN_GRACE_MS < at)
        at = h->drain_ms + H2_DRAIN_GRACE_MS;
    if (at == UINT64_MAX)
        loop_timer_cancel(c->wk->loop, &c->timer);
    else
        conn_timer(c, at > now ? at - now : 0);
}

void h2_timeout(conn_t *c)
{
    h2_conn_t *h = c->h2;
    const server_config_t *cfg = &c->wk->srv->cfg;
    uint64_t now = now_ms(h);
    if (h->blocked_ms && now >= h->blocked_ms + cfg->body_timeout_ms) {
        conn_close(c); /* a client that stopped reading */
        return;
    }
    if (!h->settings_acked && now >= h->settings_ms + h->lim.settings_timeout_ms) {
        nghttp2_session_terminate_session(h->s, NGHTTP2_SETTINGS_TIMEOUT);
        h->settings_acked = true; /* once */
    }
    if (h->nbody && now >= h->data_ms + cfg->body_timeout_ms)
        for (h2_stream_t *st = h->streams; st; st = st->next)
            if (st->receiving)
                early(st, 408, "request timeout");
    if (!h->nopen && !h->nheld && now >= h->idle_ms + cfg->keepalive_timeout_ms) {
        nghttp2_session_terminate_session(h->s, NGHTTP2_NO_ERROR);
        h->idle_ms = UINT64_MAX / 2; /* once */
    }
    if (h->drain == 1 && now >= h->drain_ms + H2_DRAIN_GRACE_MS) {
        nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->s),
                              NGHTTP2_NO_ERROR, NULL, 0);
        h->drain = 2;
    }
    conn_schedule(c);
}

void h2_drain(conn_t *c)
{
    h2_conn_t *h = c->h2;
    if (h->drain || h->failed)
        return;
    nghttp2_submit_shutdown_notice(h->s);
    h->drain = 1;
    h->drain_ms = now_ms(h);
    conn_schedule(c);
}

/* Frames out of the session into the queue, while it is short. */
static void pull(h2_conn_t *h)
{
    while (!h->failed && h->queued < H2_OUT_HIGH) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(h->s, &p);
        if (n < 0)
            fail(h, (int)n);
        else if (n == 0 || out_bytes(h, p, (size_t)n) != 0)
            break; /* nothing more, or no memory: the rest waits */
    }
}

void h2_run(conn_t *c, bool readable)
{
    h2_conn_t *h = c->h2;
    unsigned reads = H2_READS_PER_TURN;
    bool read_wants_out = false; /* TLS: a read that must send first */
    for (;;) {
        /* 1. What is staged goes first: a blocked write is repeated with the same bytes. */
        bool out = flush(h);
        if (c->state == CONN_CLOSED)
            return;
        /* 2. What was read goes to the library; its callbacks only record. */
        if (buf_size(&c->in) && !h->failed) {
            ssize_t n = nghttp2_session_mem_recv(h->s, (const uint8_t *)buf_start(&c->in), buf_size(&c->in));
            if (n < 0)
                fail(h, (int)n);
        }
        buf_reset(&c->in);
        if (h->flood && !h->failed) {
            h->flood = false;
            nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        /* 3. Streams that completed or closed: handlers run now, outside the library. */
        if (!h->failed)
            process_work(h);
        /* 4. Frames out, once what was staged has gone. */
        if (out) {
            pull(h);
            process_work(h); /* streams closed by sending their last frame */
            out = flush(h);
            if (c->state == CONN_CLOSED)
                return;
        }
        if (h->failed) {
            /* The GOAWAY goes if the client reads; then the connection ends. */
            abandon(h);
            if (out)
                conn_linger(c);
            else
                conn_close(c);
            return;
        }
        if (out && !nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s)) {
            abandon(h); /* GOAWAY sent and received, or sent and no stream left */
            if (h->terminated)
                conn_linger(c);
            else
                conn_close(c);
            return;
        }
        if (out && nghttp2_session_want_write(h->s) && h->queued == 0) {
            /* The pull stopped at its bound: more frames are waiting. This turn's budget spent,
             * they go at the next turn, after the others: the client may send nothing that
             * would bring us back (a download with wide windows), so the turn is deferred. */
            if (reads) {
                reads--;
                continue;
            }
            conn_schedule(c);
        }
        /* 5. Read once (on while reads fill the buffer), at most a bounded number per turn. */
        if (!readable && !c->io.pending)
            break;
        if (reads-- == 0) {
            conn_schedule(c); /* fair to the others: go on at the next turn */
            break;
        }
        int r = conn_fill(c, H2_READ_CHUNK, 2 * H2_READ_CHUNK);
        if (r < 0)
            return;
        readable = r > 0 && buf_size(&c->in) == H2_READ_CHUNK;
        if (r == 0) {
            read_wants_out = c->io.want == EPOLLOUT;
            break;
        }
    }
    /* Waiting now: the buffers go back to the worker's spares when empty (every byte read went
     * to the library; the queue, once written). */
    conn_release_input(c);
    if (!buf_size(&h->out))
        buf_pool_give(&c->wk->bufs, &h->out);
    /* Reading goes on while a write waits: a client's resets and window updates still count. */
    conn_watch(c, EV_READ | (h->seg_i < h->nsegs || read_wants_out ? EPOLLOUT : 0));
    arm_timer(h);
}

void h2_conn_closed(conn_t *c)
{
    h2_conn_t *h = c->h2;
    abandon(h);
    c->held = h->nheld > 0;
}

void h2_conn_free(conn_t *c)
{
    h2_conn_t *h = c->h2;
    if (!h)
        return;
    abandon(h); /* nothing holds a stream by now: all of them go */
    nghttp2_session_del(h->s);
    buf_reset(&h->out);
    buf_pool_give(&h->c->wk->bufs, &h->out);
    free(h->segs);
    free(h);
    c->h2 = NULL;
}
