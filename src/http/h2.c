#include "http/h2.h"

#include <stdlib.h>
#include <string.h>

void h2_limits_default(h2_limits_t *l)
{
    *l = (h2_limits_t){
        .max_concurrent_streams = 100,
        .stream_window = 1u << 20,      /* the step an unknown-length body is charged in */
        .connection_window = 16u << 20,
        .max_frame_size = 16384,
        .max_header_list = 8192,
        .header_table_size = 4096,
        .deflate_table_size = 4096,
        .max_send_header_block = 16384,
        .reset_burst = 1000,
        .reset_rate = 33,
        .max_continuations = 8,
        .max_settings = 32,
        .max_outbound_ack = 1000,
        .max_empty_data = 100,
        .settings_timeout_ms = 10000,
    };
}

nghttp2_option *h2_option_new(const h2_limits_t *l, bool server)
{
    nghttp2_option *o;
    if (nghttp2_option_new(&o) != 0)
        return NULL;
    /* Windows open for the bytes the application accepted (memory it charged), not for the
     * bytes the library saw. */
    nghttp2_option_set_no_auto_window_update(o, 1);
    nghttp2_option_set_max_deflate_dynamic_table_size(o, l->deflate_table_size);
    nghttp2_option_set_max_send_header_block_length(o, l->max_send_header_block);
    nghttp2_option_set_max_continuations(o, l->max_continuations);
    nghttp2_option_set_max_settings(o, l->max_settings);
    nghttp2_option_set_max_outbound_ack(o, l->max_outbound_ack);
    nghttp2_option_set_no_closed_streams(o, 1); /* no priority tree to keep them for */
    if (server) {
        nghttp2_option_set_stream_reset_rate_limit(o, l->reset_burst, l->reset_rate);
        nghttp2_option_set_max_reserved_remote_streams(o, 0); /* clients cannot push */
    } else {
        nghttp2_option_set_max_reserved_remote_streams(o, 0); /* we announce ENABLE_PUSH 0 */
    }
    return o;
}

int h2_submit_settings(nghttp2_session *s, const h2_limits_t *l)
{
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, l->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, l->stream_window},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, l->max_frame_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, l->max_header_list},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, l->header_table_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    int r = nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    if (r == 0)
        r = nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, (int32_t)l->connection_window);
    return r;
}

void h2_goaway_frame(uint8_t out[H2_GOAWAY_LEN], int32_t last_stream_id, uint32_t error_code)
{
    uint32_t id = (uint32_t)last_stream_id & 0x7fffffffu;
    const uint8_t f[H2_GOAWAY_LEN] = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,
                                      (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id,
                                      (uint8_t)(error_code >> 24), (uint8_t)(error_code >> 16),
                                      (uint8_t)(error_code >> 8), (uint8_t)error_code};
    memcpy(out, f, sizeof f);
}

size_t h2_preface_match(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < H2_PREFACE_LEN && p[i] == H2_PREFACE[i])
        i++;
    return i;
}

/* ---- fields ----------------------------------------------------------------------------- */

void h2_fields_free(h2_fields_t *f)
{
    free(f->data);
    f->data = NULL;
    f->len = f->cap = 0;
}

/* Moves every pointer of h (and of the request line, when req) from the old buffer to the new. */
static void rebase(http_head_t *h, const char **line[], size_t nline, const char *from, char *to)
{
    for (size_t i = 0; i < h->num_headers; i++) {
        h->headers[i].name = to + (h->headers[i].name - from);
        h->headers[i].value = to + (h->headers[i].value - from);
    }
    for (size_t i = 0; i < nline; i++)
        if (*line[i])
            *line[i] = to + (*line[i] - from);
}

/* Copies p[0..n) into f; NULL (and too_large) past f->max. */
static char *keep(h2_fields_t *f, http_head_t *h, const char **line[], size_t nline, const uint8_t *p, size_t n)
{
    if (n > f->max - f->len) {
        f->too_large = true;
        return NULL;
    }
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 512;
        while (cap < f->len + n)
            cap *= 2;
        if (cap > f->max)
            cap = f->max;
        char *d = realloc(f->data, cap);
        if (!d) {
            f->too_large = true; /* out of memory: refused like a head we cannot hold */
            return NULL;
        }
        if (d != f->data && f->data)
            rebase(h, line, nline, f->data, d);
        f->data = d;
        f->cap = cap;
    }
    char *at = f->data + f->len;
    if (n)
        memcpy(at, p, n);
    f->len += n;
    return at;
}

static bool is(const uint8_t *name, size_t nlen, const char *lit, size_t n)
{
    return nlen == n && memcmp(name, lit, n) == 0;
}
#define IS(lit) is(name, nlen, "" lit, sizeof(lit) - 1)

/* A regular field as a header of h. */
static void add_header(http_head_t *h, h2_fields_t *f, const char **line[], size_t nline, const uint8_t *name,
                       size_t nlen, const uint8_t *value, size_t vlen)
{
    if (h->num_headers == HTTP_MAX_HEADERS) {
        f->too_large = true;
        return;
    }
    /* Kept as one piece so that the name cannot move away from its value. */
    char *n = keep(f, h, line, nline, name, nlen);
    char *v = n ? keep(f, h, line, nline, value, vlen) : NULL;
    if (!v)
        return;
    n = v - nlen;
    http_header_t *hd = &h->headers[h->num_headers++];
    *hd = (http_header_t){n, nlen, v, vlen};
    if (nlen == 14 && memcmp(n, "content-length", 14) == 0) {
        int64_t cl = http_parse_length(v, vlen);
        if (cl < 0 || (h->content_length >= 0 && h->content_length != cl))
            f->bad = true;
        h->content_length = cl;
    }
}

void h2_request_init(http_request_t *req)
{
    memset(req, 0, sizeof *req);
    req->h.content_length = -1;
    req->h.minor_version = 1; /* what handlers may read of the version: HTTP/1.1 semantics */
    req->h.keep_alive = true;
}

void h2_request_field(http_request_t *req, h2_fields_t *f, const uint8_t *name, size_t nlen,
                      const uint8_t *value, size_t vlen)
{
    const char **line[] = {&req->method_str, &req->target, &req->path, &req->query};
    size_t nline = sizeof line / sizeof line[0];
    if (f->too_large)
        return;
    if (nlen && name[0] == ':') {
        /* nghttp2 (HTTP messaging on) has checked the pseudo-headers: each at most once,
         * before the regular ones, :method and :path present, no unknown one. */
        char *v;
        if (IS(":method")) {
            if ((v = keep(f, &req->h, line, nline, value, vlen))) {
                req->method_str = v;
                req->method_len = vlen;
                req->method = http_method_id(v, vlen);
            }
        } else if (IS(":path")) {
            if ((v = keep(f, &req->h, line, nline, value, vlen))) {
                req->target = req->path = v;
                req->target_len = req->path_len = vlen;
                const char *q = memchr(v, '?', vlen);
                if (q) {
                    req->path_len = (size_t)(q - v);
                    req->query = q + 1;
                    req->query_len = vlen - req->path_len - 1;
                }
            }
        } else if (IS(":authority")) {
            if (!http_find_header(&req->h, "host", 4))
                add_header(&req->h, f, line, nline, (const uint8_t *)"host", 4, value, vlen);
        }
        return; /* :scheme, :protocol: nothing a handler reads */
    }
    if (IS("host") && http_find_header(&req->h, "host", 4))
        return; /* :authority came first and says the same (RFC 9113 §8.3.1) */
    add_header(&req->h, f, line, nline, name, nlen, value, vlen);
}

void h2_response_init(http_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->h.content_length = -1;
    resp->h.minor_version = 1;
    resp->h.keep_alive = true;
}

void h2_response_field(http_response_t *resp, h2_fields_t *f, const uint8_t *name, size_t nlen,
                       const uint8_t *value, size_t vlen)
{
    if (f->too_large)
        return;
    if (IS(":status")) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 3; i++)
            st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        resp->status = vlen == 3 ? st : 0;
        return;
    }
    if (nlen && name[0] == ':')
        return;
    add_header(&resp->h, f, NULL, 0, name, nlen, value, vlen);
}

/* ---- header lines -> nv ------------------------------------------------------------------ */

/* Fields of HTTP/1.1 that HTTP/2 forbids (RFC 9113 §8.2.2) or frames itself. */
static bool dropped(const char *lname, size_t n)
{
    static const struct {
        const char *s;
        size_t n;
    } drop[] = {{"connection", 10}, {"keep-alive", 10}, {"proxy-connection", 16}, {"transfer-encoding", 17},
                {"upgrade", 7},     {"te", 2},          {"content-length", 14}};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (n == drop[i].n && memcmp(lname, drop[i].s, n) == 0)
            return true;
    return false;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

int h2_nv_from_lines(const char *lines, size_t n, nghttp2_nv *nv, size_t max, char *lower, size_t cap)
{
    size_t count = 0, used = 0;
    const char *p = lines, *end = lines + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *le = eol ? eol : end;
        if (le > p && le[-1] == '\r')
            le--;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p) {
            size_t nlen = (size_t)(colon - p);
            if (used + nlen > cap)
                return -1;
            char *ln = lower + used;
            for (size_t i = 0; i < nlen; i++)
                ln[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
            if (!dropped(ln, nlen)) {
                if (count == max)
                    return -1;
                const char *v = colon + 1, *ve = le;
                while (v < ve && ows(*v))
                    v++;
                while (ve > v && ows(ve[-1]))
                    ve--;
                nv[count++] = h2_nv(ln, nlen, v, (size_t)(ve - v));
                used += nlen;
            }
        }
        p = next;
    }
    return (int)count;
}
