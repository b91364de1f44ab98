#include "load/h2client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "http/h2.h"
#include "load/errmsg.h"

/* A piece of output: bytes of the write buffer (p NULL: wb[off, off + len)), or of a body. */
typedef struct {
    const uint8_t *p;
    size_t off, len;
} seg_t;

struct h2client {
    nghttp2_session *s;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    h2client_end_cb on_end;
    h2client_data_cb on_data; /* NULL: bodies are only counted */
    void *owner;
    unsigned max_streams, limit, live, nwaiting;
    bool ready, goaway;
    int32_t goaway_last;
    /* the first bytes of the server, checked before nghttp2 sees them */
    uint8_t first[9];
    unsigned nfirst;
    bool checked;
    /* slots, and the free ones as a stack of indices */
    h2client_stream_t *slots;
    unsigned *free_ix;
    unsigned nfree;
    /* output of one h2client_output(): pieces, grown as needed up to H2CLIENT_IOV_MAX */
    buf_t wb;
    seg_t *segs;
    struct iovec *iov;
    unsigned nsegs, capsegs;
    size_t out_bytes;
};

/* ---- requests -------------------------------------------------------------------------------- */

static bool starts_with_name(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

static nghttp2_nv nv_of(const char *name, size_t nlen, const char *value, size_t vlen)
{
    nghttp2_nv nv = h2_nv(name, nlen, value, vlen);
    nv.flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
    return nv;
}

static void trim(const char **v, const char **end)
{
    while (*v < *end && (**v == ' ' || **v == '\t'))
        (*v)++;
    while (*end > *v && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
        (*end)--;
}

int h2client_req_build(h2client_req_t *r, const char *req, size_t len, size_t body_len, bool https, char *err,
                       size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (body_len > len)
        return errmsg_set(err, errlen, "HTTP/2 request: body longer than the request");
    const char *head = req, *head_end = req + (len - body_len);
    const char *eol = memchr(head, '\n', (size_t)(head_end - head));
    const char *sp1 = eol ? memchr(head, ' ', (size_t)(eol - head)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp2 || sp1 == head || sp2 == sp1 + 1)
        return errmsg_set(err, errlen, "HTTP/2 request: malformed request line");
    const char *lines = eol + 1;
    size_t lines_len = (size_t)(head_end - lines);
    size_t max = 5; /* four pseudo-header fields and content-length */
    for (const char *p = lines; p < head_end; p++)
        max += *p == '\n';
    r->nv = calloc(max, sizeof *r->nv);
    r->_names = malloc(lines_len + 1);
    if (!r->nv || !r->_names) {
        h2client_req_free(r);
        return errmsg_set(err, errlen, "out of memory");
    }
    size_t n = 0;
    r->nv[n++] = nv_of(":method", 7, head, (size_t)(sp1 - head));
    r->nv[n++] = https ? nv_of(":scheme", 7, "https", 5) : nv_of(":scheme", 7, "http", 4);
    size_t authority = n++; /* filled from Host below */
    r->nv[n++] = nv_of(":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    int k = h2_nv_from_lines(lines, lines_len, r->nv + n, max - n - 1, r->_names, lines_len + 1);
    if (k < 0) {
        h2client_req_free(r);
        return errmsg_set(err, errlen, "HTTP/2 request: too many header fields");
    }
    /* Host becomes :authority (RFC 9113 §8.3.1: a client uses :authority instead of Host). */
    bool have_authority = false;
    for (size_t i = n; i < n + (size_t)k; i++) {
        nghttp2_nv *f = &r->nv[i];
        f->flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
        if (f->namelen == 4 && memcmp(f->name, "host", 4) == 0 && !have_authority) {
            r->nv[authority] = nv_of(":authority", 10, (const char *)f->value, f->valuelen);
            have_authority = true;
            memmove(f, f + 1, (n + (size_t)k - i - 1) * sizeof *f);
            k--;
            i--;
        }
    }
    if (!have_authority) { /* no Host line: no :authority either */
        memmove(&r->nv[authority], &r->nv[authority + 1], (n + (size_t)k - authority - 1) * sizeof *r->nv);
        n--;
    }
    n += (size_t)k;
    /* h2_nv_from_lines leaves Content-Length out (a server frames its bodies itself); a request's
     * is kept, taken from its line. */
    for (const char *p = lines; p < head_end;) {
        const char *e = memchr(p, '\n', (size_t)(head_end - p));
        e = e ? e : head_end;
        if (starts_with_name(p, (size_t)(e - p), "content-length")) {
            const char *v = p + 15, *ve = e;
            trim(&v, &ve);
            r->nv[n++] = nv_of("content-length", 14, v, (size_t)(ve - v));
            break;
        }
        p = e + 1;
    }
    r->nvlen = n;
    r->body = (const uint8_t *)head_end;
    r->body_len = body_len;
    return 0;
}

void h2client_req_free(h2client_req_t *r)
{
    free(r->nv);
    free(r->_names);
    memset(r, 0, sizeof *r);
}

/* ---- the server's first bytes ---------------------------------------------------------------- */

int h2client_check_preface(const uint8_t *p, size_t n)
{
    /* A frame header: length (3), type (1), flags (1), stream id (4). A SETTINGS payload is
     * 6 bytes per setting: far below 64 KiB, so the first byte is 0 (an HTTP/1.x answer
     * starts with 'H'). */
    if (n > 0 && p[0] != 0)
        return -1;
    if (n > 3 && p[3] != NGHTTP2_SETTINGS)
        return -1;
    if (n > 4 && (p[4] & NGHTTP2_FLAG_ACK))
        return -1;
    for (size_t i = 5; i < 9 && i < n; i++)
        if (p[i] & (i == 5 ? 0x7f : 0xff))
            return -1;
    if (n < 9)
        return 0;
    return ((p[1] << 8) | p[2]) % 6 ? -1 : 1;
}

/* ---- session callbacks ----------------------------------------------------------------------- */

static h2client_stream_t *stream_of(h2client_t *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->s, id);
}

/* s is done with: detached from its stream, handed to the owner. */
static void end(h2client_t *h, h2client_stream_t *s, h2client_end_t how)
{
    nghttp2_session_set_stream_user_data(h->s, s->id, NULL);
    s->state = H2CLIENT_HELD;
    h->live--;
    h->on_end(h->owner, s, how);
}

/* Makes room for k more pieces. 0 or -1. */
static int grow(h2client_t *h, unsigned k)
{
    if (h->nsegs + k <= h->capsegs)
        return 0;
    unsigned cap = h->capsegs ? h->capsegs * 2 : 8;
    while (cap < h->nsegs + k)
        cap *= 2;
    seg_t *segs = realloc(h->segs, cap * sizeof *segs);
    if (segs)
        h->segs = segs;
    struct iovec *iov = segs ? realloc(h->iov, cap * sizeof *iov) : NULL;
    if (!iov)
        return -1;
    h->iov = iov;
    h->capsegs = cap;
    return 0;
}

/* Appends bytes to the write buffer, extending the last piece when it ends there. */
static int out_bytes(h2client_t *h, const uint8_t *p, size_t n)
{
    if (grow(h, 1) != 0)
        return -1;
    size_t off = h->wb.len;
    if (buf_append(&h->wb, p, n) != 0)
        return -1;
    seg_t *last = h->nsegs ? &h->segs[h->nsegs - 1] : NULL;
    if (last && !last->p && last->off + last->len == off)
        last->len += n;
    else
        h->segs[h->nsegs++] = (seg_t){NULL, off, n};
    h->out_bytes += n;
    return 0;
}

/* Room for n more bytes in up to k more pieces (always, when nothing is queued yet). */
static bool out_room(const h2client_t *h, size_t n, unsigned k)
{
    return h->nsegs == 0 || (h->out_bytes + n <= H2CLIENT_OUT_MAX && h->nsegs + k <= H2CLIENT_IOV_MAX);
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)session, (void)flags;
    h2client_t *h = ud;
    if (!out_room(h, len, 1))
        return NGHTTP2_ERR_WOULDBLOCK;
    return out_bytes(h, data, len) == 0 ? (ssize_t)len : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* A DATA frame without a copy: its header into the buffer, its payload as a piece of the body. */
static int on_send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *ud)
{
    (void)session;
    h2client_t *h = ud;
    h2client_stream_t *s = source->ptr;
    if (s->state != H2CLIENT_LIVE || s->id != frame->hd.stream_id)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the slot moved on: the stream is reset */
    if (!out_room(h, 9 + length, 2))
        return NGHTTP2_ERR_WOULDBLOCK;
    if (grow(h, 2) != 0 || out_bytes(h, framehd, 9) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (length) { /* no padding: no select_padding_callback */
        h->segs[h->nsegs++] = (seg_t){s->req->body + s->body_off, 0, length};
        h->out_bytes += length;
        s->body_off += length;
    }
    return 0;
}

static ssize_t body_read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *ud)
{
    (void)session, (void)buf, (void)ud;
    h2client_stream_t *s = source->ptr;
    if (s->state != H2CLIENT_LIVE || s->id != id)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t left = s->req->body_len - s->body_off;
    size_t n = left < length ? left : length;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == left)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)session, (void)flags;
    if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    h2client_stream_t *s = stream_of(ud, frame->hd.stream_id);
    if (s) /* nghttp2 checked it: three digits; a 1xx is replaced by the final one */
        s->status = valuelen == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *ud)
{
    (void)session, (void)flags;
    h2client_t *h = ud;
    h2client_stream_t *s = stream_of(ud, id);
    if (s) {
        s->content += len;
        if (h->on_data)
            h->on_data(h->owner, s, data, len);
    }
    return 0;
}

static void update_limit(h2client_t *h)
{
    uint32_t peer = nghttp2_session_get_remote_settings(h->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    h->limit = peer < h->max_streams ? peer : h->max_streams;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    h2client_t *h = ud;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            h->ready = true;
            update_limit(h);
        }
        break;
    case NGHTTP2_GOAWAY:
        if (!h->goaway || frame->goaway.last_stream_id < h->goaway_last)
            h->goaway_last = frame->goaway.last_stream_id;
        h->goaway = true;
        break;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            int32_t id = frame->hd.stream_id;
            h2client_stream_t *s = stream_of(h, id);
            if (!s)
                break;
            /* The response is complete. A server may answer before the request body is all
             * sent (RFC 9113 §8.1): the rest is not needed. */
            if (!nghttp2_session_get_stream_local_close(session, id))
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
            end(h, s, H2CLIENT_DONE);
        }
        break;
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t code, void *ud)
{
    (void)session;
    h2client_t *h = ud;
    h2client_stream_t *s = stream_of(h, id);
    if (!s)
        return 0; /* ended already (or cancelled) */
    end(h, s,
        h->goaway && id > h->goaway_last ? H2CLIENT_UNSENT
        : code == NGHTTP2_REFUSED_STREAM ? H2CLIENT_REFUSED
                                         : H2CLIENT_RESET);
    return 0;
}

/* A request whose HEADERS could not go out: after a GOAWAY the server never saw it. The stream
 * was never opened, so it is found by its id. */
static int on_frame_not_send(nghttp2_session *session, const nghttp2_frame *frame, int lib_error, void *ud)
{
    (void)session;
    h2client_t *h = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    for (unsigned i = 0; i < h->max_streams; i++) {
        h2client_stream_t *s = &h->slots[i];
        if (s->state == H2CLIENT_LIVE && s->id == frame->hd.stream_id) {
            end(h, s, lib_error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED || h->goaway ? H2CLIENT_UNSENT
                                                                                      : H2CLIENT_RESET);
            break;
        }
    }
    return 0;
}

/* ---- the h2client ---------------------------------------------------------------------------- */

h2client_t *h2client_new(unsigned max_streams, h2client_end_cb on_end, void *owner)
{
    h2client_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->max_streams = max_streams ? max_streams : 1;
    h->on_end = on_end;
    h->owner = owner;
    h->slots = calloc(h->max_streams, sizeof *h->slots);
    h->free_ix = calloc(h->max_streams, sizeof *h->free_ix);
    h2_limits_t l;
    h2_limits_default(&l);
    l.max_header_list = H2CLIENT_MAX_HEADER_LIST;
    l.max_send_header_block = H2CLIENT_MAX_HEADER_LIST;
    if (!h->slots || !h->free_ix || nghttp2_session_callbacks_new(&h->cbs) != 0 ||
        !(h->opt = h2_option_new(&l, false))) {
        h2client_free(h);
        return NULL;
    }
    /* Bytes are consumed as they arrive (the body is counted, not kept): nghttp2 opens the
     * windows itself, once half of H2CLIENT_WINDOW is used. */
    nghttp2_option_set_no_auto_window_update(h->opt, 0);
    nghttp2_session_callbacks *c = h->cbs;
    nghttp2_session_callbacks_set_send_callback(c, on_send);
    nghttp2_session_callbacks_set_send_data_callback(c, on_send_data);
    nghttp2_session_callbacks_set_on_header_callback(c, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(c, on_frame_not_send);
    for (unsigned i = 0; i < h->max_streams; i++)
        h->free_ix[i] = h->max_streams - 1 - i; /* slot 0 is taken first */
    h->nfree = h->max_streams;
    return h;
}

void h2client_free(h2client_t *h)
{
    if (!h)
        return;
    h2client_close(h);
    if (h->cbs)
        nghttp2_session_callbacks_del(h->cbs);
    if (h->opt)
        nghttp2_option_del(h->opt);
    buf_free(&h->wb);
    free(h->segs);
    free(h->iov);
    free(h->slots);
    free(h->free_ix);
    free(h);
}

int h2client_open(h2client_t *h)
{
    h2client_close(h);
    int rv = nghttp2_session_client_new2(&h->s, h->cbs, h, h->opt);
    if (rv != 0) {
        h->s = NULL;
        return rv;
    }
    h2_limits_t l;
    h2_limits_default(&l);
    l.stream_window = H2CLIENT_WINDOW;
    l.connection_window = H2CLIENT_WINDOW;
    l.max_header_list = H2CLIENT_MAX_HEADER_LIST;
    rv = h2_submit_settings(h->s, &l);
    if (rv != 0)
        h2client_close(h);
    return rv;
}

void h2client_close(h2client_t *h)
{
    if (h->s)
        nghttp2_session_del(h->s); /* calls nothing back */
    h->s = NULL;
    h->ready = h->goaway = h->checked = false;
    h->goaway_last = 0;
    h->nfirst = 0;
    h->limit = 0;
    h->live = 0;
    h->nsegs = 0;
    h->out_bytes = 0;
    buf_reset(&h->wb);
}

unsigned h2client_nslots(const h2client_t *h)
{
    return h->max_streams;
}

h2client_stream_t *h2client_slot(h2client_t *h, unsigned i)
{
    return &h->slots[i];
}

unsigned h2client_slot_index(const h2client_t *h, const h2client_stream_t *s)
{
    return (unsigned)(s - h->slots);
}

void h2client_on_data(h2client_t *h, h2client_data_cb on_data)
{
    h->on_data = on_data;
}

h2client_stream_t *h2client_take(h2client_t *h)
{
    if (!h->nfree)
        return NULL;
    h2client_stream_t *s = &h->slots[h->free_ix[--h->nfree]];
    memset(s, 0, sizeof *s);
    s->state = H2CLIENT_HELD;
    return s;
}

void h2client_release(h2client_t *h, h2client_stream_t *s)
{
    s->state = H2CLIENT_FREE;
    h->free_ix[h->nfree++] = (unsigned)(s - h->slots);
}

void h2client_requeue(h2client_t *h, h2client_stream_t *s)
{
    if (s->state == H2CLIENT_LIVE && h->live)
        h->live--;
    s->state = H2CLIENT_WAIT;
    s->id = 0;
    h->nwaiting++;
}

h2client_stream_t *h2client_next_waiting(h2client_t *h)
{
    if (!h->nwaiting)
        return NULL;
    for (unsigned i = 0; i < h->max_streams; i++) {
        if (h->slots[i].state == H2CLIENT_WAIT) {
            h->nwaiting--;
            h->slots[i].state = H2CLIENT_HELD;
            return &h->slots[i];
        }
    }
    h->nwaiting = 0;
    return NULL;
}

unsigned h2client_waiting(const h2client_t *h)
{
    return h->nwaiting;
}

unsigned h2client_room(const h2client_t *h)
{
    if (!h->s || !h->ready || h->goaway || h->live >= h->limit)
        return 0;
    return h->limit - h->live;
}

unsigned h2client_limit(const h2client_t *h)
{
    return h->limit;
}

unsigned h2client_live(const h2client_t *h)
{
    return h->live;
}

bool h2client_ready(const h2client_t *h)
{
    return h->ready;
}

bool h2client_goaway(const h2client_t *h)
{
    return h->goaway;
}

bool h2client_over(const h2client_t *h)
{
    return !h->s || (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s));
}

int h2client_submit(h2client_t *h, h2client_stream_t *s)
{
    const h2client_req_t *r = s->req;
    nghttp2_data_provider body = {.source.ptr = s, .read_callback = body_read};
    s->status = 0;
    s->content = 0;
    s->body_off = 0;
    int32_t id = nghttp2_submit_request(h->s, NULL, r->nv, r->nvlen, r->body_len ? &body : NULL, s);
    if (id < 0)
        return id;
    s->id = id;
    s->state = H2CLIENT_LIVE;
    h->live++;
    return 0;
}

void h2client_cancel(h2client_t *h, h2client_stream_t *s)
{
    if (h->s) {
        nghttp2_session_set_stream_user_data(h->s, s->id, NULL);
        nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    }
    s->state = H2CLIENT_HELD;
    if (h->live)
        h->live--;
}

int h2client_recv(h2client_t *h, const uint8_t *p, size_t n)
{
    if (!h->checked) { /* the preface check comes before nghttp2 sees a byte */
        size_t k = 9 - h->nfirst < n ? 9 - h->nfirst : n;
        memcpy(h->first + h->nfirst, p, k);
        h->nfirst += (unsigned)k;
        int ok = h2client_check_preface(h->first, h->nfirst);
        if (ok < 0)
            return H2CLIENT_NOT_H2;
        if (ok == 0)
            return 0;
        h->checked = true;
        ssize_t rv = nghttp2_session_mem_recv(h->s, h->first, 9);
        if (rv < 0)
            return (int)rv;
        p += k;
        n -= k;
    }
    ssize_t rv = nghttp2_session_mem_recv(h->s, p, n);
    return rv < 0 ? (int)rv : 0;
}

int h2client_output(h2client_t *h, struct iovec **iov, unsigned *n)
{
    buf_reset(&h->wb);
    h->nsegs = 0;
    h->out_bytes = 0;
    *iov = NULL;
    *n = 0;
    if (!h->s)
        return 0;
    int rv = nghttp2_session_send(h->s);
    if (rv != 0)
        return rv;
    *iov = h->iov; /* after the send: the callbacks may have moved it */
    for (unsigned i = 0; i < h->nsegs; i++) {
        const seg_t *g = &h->segs[i];
        h->iov[i].iov_base = g->p ? (void *)g->p : h->wb.data + g->off;
        h->iov[i].iov_len = g->len;
    }
    *n = h->nsegs;
    return 0;
}
