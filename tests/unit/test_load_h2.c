/*
 * pixload over HTTP/2 (--h2): the request fields built from a scenario entry, the preface
 * check, h2client against an nghttp2 server session in memory (streams, limits, bodies sent
 * without a copy, REFUSED_STREAM, GOAWAY, resets, cancels), the engine end to end against a
 * small nghttp2 server on a socket (exact counts, GOAWAY every few requests, refused streams,
 * a server that is not HTTP/2), and the options and report lines that come with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load/config.h"
#include "load/engine.h"
#include "load/h2client.h"
#include "load/report.h"
#include "load/scenario.h"
#include "load/stats.h"

static char err[512];

/* ---- fields ---------------------------------------------------------------------------------- */

static const nghttp2_nv *field(const h2client_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nvlen; i++)
        if (r->nv[i].namelen == strlen(name) && memcmp(r->nv[i].name, name, r->nv[i].namelen) == 0)
            return &r->nv[i];
    return NULL;
}

static void assert_field(const h2client_req_t *r, const char *name, const char *value)
{
    const nghttp2_nv *f = field(r, name);
    if (!f) fail_msg("no field %s", name);
    if (f->valuelen != strlen(value) || memcmp(f->value, value, f->valuelen) != 0)
        fail_msg("%s: '%.*s', want '%s'", name, (int)f->valuelen, f->value, value);
    assert_true(f->flags & NGHTTP2_NV_FLAG_NO_COPY_NAME);
    assert_true(f->flags & NGHTTP2_NV_FLAG_NO_COPY_VALUE);
}

static void test_req_get(void **state)
{
    (void)state;
    static const char req[] = "GET /42?s=80 HTTP/1.1\r\nHost: example.org:8080\r\nAccept: image/webp\r\n"
                              "X-Mixed-Case: Value Kept\r\nConnection: close\r\nKeep-Alive: 5\r\n\r\n";
    h2client_req_t r;
    assert_int_equal(h2client_req_build(&r, req, sizeof req - 1, 0, false, err, sizeof err), 0);
    /* pseudo-header fields first, in this order */
    assert_int_equal(r.nvlen, 6);
    assert_memory_equal(r.nv[0].name, ":method", 7);
    assert_memory_equal(r.nv[1].name, ":scheme", 7);
    assert_memory_equal(r.nv[2].name, ":authority", 10);
    assert_memory_equal(r.nv[3].name, ":path", 5);
    assert_field(&r, ":method", "GET");
    assert_field(&r, ":scheme", "http");
    assert_field(&r, ":authority", "example.org:8080");
    assert_field(&r, ":path", "/42?s=80");
    assert_field(&r, "accept", "image/webp");
    assert_field(&r, "x-mixed-case", "Value Kept"); /* names lowercased, values as they were */
    assert_null(field(&r, "host"));
    assert_null(field(&r, "connection"));
    assert_null(field(&r, "keep-alive"));
    assert_int_equal(r.body_len, 0);
    h2client_req_free(&r);
}

static void test_req_post(void **state)
{
    (void)state;
    static const char req[] = "POST /magic/base64 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                              "Content-Length: 11\r\nTransfer-Encoding: x\r\n\r\n{\"k\": \"v\"}\n";
    h2client_req_t r;
    assert_int_equal(h2client_req_build(&r, req, sizeof req - 1, 11, true, err, sizeof err), 0);
    assert_field(&r, ":scheme", "https");
    assert_field(&r, ":method", "POST");
    assert_field(&r, "content-type", "application/json");
    assert_field(&r, "content-length", "11");
    assert_null(field(&r, "transfer-encoding"));
    assert_int_equal(r.body_len, 11);
    assert_ptr_equal(r.body, (const uint8_t *)req + sizeof req - 1 - 11); /* the entry's bytes */
    /* content-length comes last, after the headers */
    assert_memory_equal(r.nv[r.nvlen - 1].name, "content-length", 14);
    h2client_req_free(&r);

    static const char no_host[] = "PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(h2client_req_build(&r, no_host, sizeof no_host - 1, 0, false, err, sizeof err), 0);
    assert_null(field(&r, ":authority"));
    assert_field(&r, ":path", "/x");
    assert_field(&r, "content-length", "0");
    assert_int_equal(r.nvlen, 4);
    h2client_req_free(&r);

    static const char bad[] = "GARBAGE\r\n\r\n";
    assert_int_equal(h2client_req_build(&r, bad, sizeof bad - 1, 0, false, err, sizeof err), -1);
    h2client_req_free(&r);
}

/* The fields pixload builds for a scenario of the command line, through scenario_build. */
static void test_req_from_scenario(void **state)
{
    (void)state;
    char *argv[] = {"pixload", "--h2", "-H", "Host: other.example", "-H", "Authorization: Bearer x",
                    "--json", "[1]", "https://127.0.0.1:8443/api", NULL};
    load_config_t cfg;
    assert_int_equal(load_config_parse(&cfg, 9, argv, 1, err, sizeof err), LOAD_CONFIG_RUN);
    scenario_t sc;
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), 0);
    const scenario_entry_t *en = &sc.entries[0];
    h2client_req_t r;
    assert_int_equal(h2client_req_build(&r, en->request, en->request_len, en->body_len, sc.tls, err, sizeof err), 0);
    assert_field(&r, ":method", "POST");
    assert_field(&r, ":scheme", "https");
    assert_field(&r, ":authority", "other.example");
    assert_field(&r, ":path", "/api");
    assert_field(&r, "authorization", "Bearer x");
    assert_field(&r, "content-type", "application/json");
    assert_field(&r, "content-length", "3");
    assert_int_equal(r.body_len, 3);
    assert_memory_equal(r.body, "[1]", 3);
    h2client_req_free(&r);
    scenario_free(&sc);
    load_config_free(&cfg);
}

/* ---- the preface check ------------------------------------------------------------------------ */

static void test_preface_check(void **state)
{
    (void)state;
    static const uint8_t settings[] = {0, 0, 12, 4, 0, 0, 0, 0, 0};
    static const uint8_t empty[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    static const uint8_t ack[] = {0, 0, 0, 4, 1, 0, 0, 0, 0};
    static const uint8_t stream1[] = {0, 0, 6, 4, 0, 0, 0, 0, 1};
    static const uint8_t odd[] = {0, 0, 7, 4, 0, 0, 0, 0, 0};
    static const uint8_t headers[] = {0, 0, 6, 1, 4, 0, 0, 0, 1};
    assert_int_equal(h2client_check_preface(settings, 9), 1);
    assert_int_equal(h2client_check_preface(empty, 9), 1);
    for (size_t n = 0; n < 9; n++)
        assert_int_equal(h2client_check_preface(settings, n), 0); /* may still be one */
    assert_int_equal(h2client_check_preface(ack, 9), -1);
    assert_int_equal(h2client_check_preface(stream1, 9), -1);
    assert_int_equal(h2client_check_preface(odd, 9), -1);
    assert_int_equal(h2client_check_preface(headers, 4), -1);
    assert_int_equal(h2client_check_preface((const uint8_t *)"HTTP/1.1 400 Bad Request\r\n", 26), -1);
    assert_int_equal(h2client_check_preface((const uint8_t *)"H", 1), -1); /* at once */
    assert_int_equal(h2client_check_preface((const uint8_t *)"<!DOCTYPE", 9), -1);
}

/* ---- h2client against an nghttp2 server in memory -------------------------------------------- */

enum { ANSWER, REFUSE, RESET, SILENT, EARLY };

typedef struct {
    h2client_t *c;
    nghttp2_session *srv;
    int mode[64]; /* per stream id / 2: what the server does (ANSWER when 0) */
    size_t body_len;  /* response bodies */
    uint8_t *got[64]; /* request bodies received, per stream id / 2 */
    size_t got_len[64];
    char path[64][32];
    int answered, goaway_after; /* GOAWAY(last = that stream) once goaway_after answered */
    int32_t goaway_last;        /* streams above it are dropped, as a server does after GOAWAY */
    /* what the client told */
    int ends[4];
    h2client_stream_t *ended[256];
    h2client_end_t how[256];
    int nended;
    bool requeue; /* requeue UNSENT ones instead of releasing */
} pair_t;

static pair_t P;
static uint8_t big[300000];

static void on_end(void *owner, h2client_stream_t *s, h2client_end_t how)
{
    pair_t *p = owner;
    p->ends[how]++;
    p->ended[p->nended] = s;
    p->how[p->nended++] = how;
    if (how == H2CLIENT_UNSENT && p->requeue)
        h2client_requeue(p->c, s);
    else
        h2client_release(p->c, s);
}

static ssize_t srv_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)s, (void)id, (void)ud;
    size_t *left = (size_t *)&src->ptr; /* the count itself rides in the pointer */
    size_t n = *left < len ? *left : len;
    memset(buf, 'x', n);
    *left -= n;
    if (!*left) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void srv_answer(nghttp2_session *s, int32_t id)
{
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
    nghttp2_data_provider prd = {.source.ptr = (void *)(uintptr_t)P.body_len, .read_callback = srv_body};
    assert_int_equal(nghttp2_submit_response(s, id, nv, 1, P.body_len ? &prd : NULL), 0);
    P.answered++;
    if (P.goaway_after && P.answered == P.goaway_after) {
        assert_int_equal(nghttp2_submit_goaway(s, 0, id, NGHTTP2_NO_ERROR, NULL, 0), 0);
        P.goaway_last = id;
    }
}

static int srv_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                      const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)s, (void)flags, (void)ud;
    if (nlen == 5 && memcmp(name, ":path", 5) == 0)
        snprintf(P.path[f->hd.stream_id / 2 % 64], 32, "%.*s", (int)vlen, value);
    return 0;
}

static int srv_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)s, (void)flags, (void)ud;
    int k = id / 2 % 64;
    P.got[k] = realloc(P.got[k], P.got_len[k] + len);
    memcpy(P.got[k] + P.got_len[k], data, len);
    P.got_len[k] += len;
    return 0;
}

static int srv_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    int32_t id = f->hd.stream_id;
    if (f->hd.type == NGHTTP2_HEADERS && P.mode[id / 2 % 64] == EARLY) {
        srv_answer(s, id); /* before the body */
        return 0;
    }
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    switch (P.mode[id / 2 % 64]) {
    case ANSWER:
        if (!P.goaway_last || id <= P.goaway_last)
            srv_answer(s, id);
        break;
    case REFUSE:
        nghttp2_submit_rst_stream(s, 0, id, NGHTTP2_REFUSED_STREAM);
        break;
    case RESET:
        nghttp2_submit_rst_stream(s, 0, id, NGHTTP2_INTERNAL_ERROR);
        break;
    }
    return 0;
}

static void pair_open(unsigned max_streams, uint32_t srv_max_streams)
{
    for (int i = 0; i < 64; i++)
        free(P.got[i]);
    memset(&P, 0, sizeof P);
    P.c = h2client_new(max_streams, on_end, &P);
    assert_non_null(P.c);
    assert_int_equal(h2client_open(P.c), 0);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
    assert_int_equal(nghttp2_session_server_new(&P.srv, cb, NULL), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, srv_max_streams}};
    assert_int_equal(nghttp2_submit_settings(P.srv, 0, iv, 1), 0);
}

static void pair_close(void)
{
    h2client_free(P.c);
    nghttp2_session_del(P.srv);
    for (int i = 0; i < 64; i++) {
        free(P.got[i]);
        P.got[i] = NULL;
    }
}

/* Moves bytes both ways until neither side has anything to say. Returns whether any iovec of
 * the client's output pointed into [lo, hi). */
static bool pump_seen(const uint8_t *lo, const uint8_t *hi)
{
    bool seen = false;
    for (int round = 0; round < 10000; round++) {
        bool moved = false;
        struct iovec *iov;
        unsigned n;
        assert_int_equal(h2client_output(P.c, &iov, &n), 0);
        for (unsigned i = 0; i < n; i++) {
            const uint8_t *b = iov[i].iov_base;
            seen |= b >= lo && b < hi;
            assert_int_equal(nghttp2_session_mem_recv(P.srv, b, iov[i].iov_len), (ssize_t)iov[i].iov_len);
            moved = true;
        }
        const uint8_t *d;
        ssize_t k;
        while ((k = nghttp2_session_mem_send(P.srv, &d)) > 0) {
            assert_int_equal(h2client_recv(P.c, d, (size_t)k), 0);
            moved = true;
        }
        if (!moved) return seen;
    }
    fail_msg("the sessions never went quiet");
    return seen;
}

static void pump(void)
{
    pump_seen(NULL, NULL);
}

/* Submits one request for req on a free slot. */
static h2client_stream_t *submit(const h2client_req_t *req)
{
    h2client_stream_t *s = h2client_take(P.c);
    assert_non_null(s);
    s->req = req;
    assert_int_equal(h2client_submit(P.c, s), 0);
    return s;
}

static h2client_req_t get_req(const char *path)
{
    static char req[8][128];
    static int k;
    char *r = req[k++ % 8];
    snprintf(r, 128, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    h2client_req_t out;
    assert_int_equal(h2client_req_build(&out, r, strlen(r), 0, false, err, sizeof err), 0);
    return out;
}

static void test_streams_and_limit(void **state)
{
    (void)state;
    pair_open(10, 4); /* we would take 10, the server allows 4 */
    P.body_len = 1000;
    h2client_req_t r = get_req("/42");
    assert_false(h2client_ready(P.c));
    assert_int_equal(h2client_room(P.c), 0); /* nothing before the server's SETTINGS */
    pump();
    assert_true(h2client_ready(P.c));
    assert_int_equal(h2client_limit(P.c), 4);
    int sent = 0;
    while (sent < 50) {
        unsigned room = h2client_room(P.c);
        assert_true(room <= 4);
        for (; room && sent < 50; room--, sent++)
            submit(&r);
        assert_true(h2client_live(P.c) <= 4);
        pump();
    }
    assert_int_equal(P.ends[H2CLIENT_DONE], 50);
    assert_int_equal(P.nended, 50);
    for (int i = 0; i < P.nended; i++)
        assert_true(P.ended[i]->state == H2CLIENT_FREE);
    assert_int_equal(P.answered, 50);
    assert_int_equal(h2client_live(P.c), 0);
    assert_int_equal(h2client_room(P.c), 4);
    assert_string_equal(P.path[1], "/42");
    h2client_req_free(&r);
    pair_close();

    pair_open(3, 100); /* and the other way round */
    pump();
    assert_int_equal(h2client_limit(P.c), 3);
    assert_int_equal(h2client_room(P.c), 3);
    pair_close();
}

static void test_status_and_content(void **state)
{
    (void)state;
    pair_open(1, 100);
    P.body_len = 70000; /* more than a frame, and than nghttp2's default window */
    h2client_req_t r = get_req("/big");
    pump();
    h2client_stream_t *s = submit(&r);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 1);
    assert_ptr_equal(P.ended[0], s);
    assert_int_equal(s->status, 200);
    assert_int_equal(s->content, 70000);
    h2client_req_free(&r);
    pair_close();
}

/* The body goes out as pieces of the entry's own bytes: no copy, whatever the windows. */
static void test_post_body_no_copy(void **state)
{
    (void)state;
    size_t head_len = 64;
    char *req = malloc(head_len + sizeof big);
    int n = snprintf(req, head_len, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", sizeof big);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    memcpy(req + n, big, sizeof big);
    h2client_req_t r;
    assert_int_equal(h2client_req_build(&r, req, (size_t)n + sizeof big, sizeof big, false, err, sizeof err), 0);
    pair_open(2, 100);
    pump();
    submit(&r);
    submit(&r);
    assert_true(pump_seen(r.body, r.body + r.body_len));
    assert_int_equal(P.ends[H2CLIENT_DONE], 2);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(P.got_len[k], sizeof big);
        assert_memory_equal(P.got[k], big, sizeof big);
    }
    h2client_req_free(&r);
    free(req);
    pair_close();
}

/* A server that answers before the body is in: the response counts, the rest is cancelled. */
static void test_early_answer(void **state)
{
    (void)state;
    static char req[400100];
    int n = snprintf(req, 100, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 400000\r\n\r\n");
    memset(req + n, 'b', 400000);
    h2client_req_t r;
    assert_int_equal(h2client_req_build(&r, req, (size_t)n + 400000, 400000, false, err, sizeof err), 0);
    pair_open(1, 100);
    pump();
    P.mode[0] = EARLY;
    h2client_stream_t *s = submit(&r);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 1);
    assert_int_equal(s->status, 200);
    assert_true(P.got_len[0] < 400000);
    /* the slot is free again and a new request goes out on it */
    P.mode[1] = ANSWER;
    h2client_req_t g = get_req("/next");
    submit(&g);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 2);
    h2client_req_free(&g);
    h2client_req_free(&r);
    pair_close();
}

static void test_refused_and_reset(void **state)
{
    (void)state;
    pair_open(4, 100);
    h2client_req_t r = get_req("/x");
    pump();
    P.mode[0] = ANSWER; /* stream 1 */
    P.mode[1] = REFUSE; /* stream 3 */
    P.mode[2] = RESET;  /* stream 5 */
    P.mode[3] = ANSWER; /* stream 7 */
    for (int i = 0; i < 4; i++)
        submit(&r);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 2);
    assert_int_equal(P.ends[H2CLIENT_REFUSED], 1);
    assert_int_equal(P.ends[H2CLIENT_RESET], 1);
    assert_int_equal(h2client_live(P.c), 0);
    h2client_req_free(&r);
    pair_close();
}

/* GOAWAY: streams up to its last id are answered, the ones above come back UNSENT, nothing new
 * is allowed, and the session winds down. */
static void test_goaway(void **state)
{
    (void)state;
    pair_open(4, 100);
    P.requeue = true;
    h2client_req_t r = get_req("/x");
    pump();
    P.mode[0] = SILENT; /* stream 1: held by the server, answered after the GOAWAY */
    for (int i = 1; i < 4; i++)
        P.mode[i] = ANSWER;
    P.goaway_after = 1; /* GOAWAY(last = 3) once stream 3 is answered; 5 and 7 were sent too */
    /* the server answers streams in the order they arrive: stream 3 gets the GOAWAY */
    h2client_stream_t *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = submit(&r);
    pump();
    assert_true(h2client_goaway(P.c));
    assert_int_equal(h2client_room(P.c), 0);
    assert_int_equal(P.ends[H2CLIENT_DONE], 1);   /* stream 3 */
    assert_int_equal(P.ends[H2CLIENT_UNSENT], 2); /* streams 5, 7 */
    assert_int_equal(h2client_waiting(P.c), 2);
    assert_true(s[2]->state == H2CLIENT_WAIT && s[3]->state == H2CLIENT_WAIT);
    assert_int_equal(h2client_live(P.c), 1); /* stream 1 */
    assert_false(h2client_over(P.c));
    srv_answer(P.srv, 1);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 2);
    assert_int_equal(h2client_live(P.c), 0);
    /* a new connection: the two waiting requests go out again */
    assert_int_equal(h2client_open(P.c), 0);
    nghttp2_session_del(P.srv);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
    assert_int_equal(nghttp2_session_server_new(&P.srv, cb, NULL), 0);
    nghttp2_session_callbacks_del(cb);
    assert_int_equal(nghttp2_submit_settings(P.srv, 0, NULL, 0), 0);
    memset(P.mode, 0, sizeof P.mode);
    P.goaway_after = 0;
    P.goaway_last = 0;
    pump();
    h2client_stream_t *w;
    int again = 0;
    while ((w = h2client_next_waiting(P.c))) {
        assert_int_equal(h2client_submit(P.c, w), 0);
        again++;
    }
    assert_int_equal(again, 2);
    pump();
    assert_int_equal(P.ends[H2CLIENT_DONE], 4);
    h2client_req_free(&r);
    pair_close();
}

static void test_cancel(void **state)
{
    (void)state;
    pair_open(2, 100);
    h2client_req_t r = get_req("/slow");
    pump();
    P.mode[0] = SILENT;
    h2client_stream_t *s = submit(&r);
    pump();
    assert_int_equal(h2client_live(P.c), 1);
    int32_t id = s->id;
    h2client_cancel(P.c, s);
    assert_int_equal(h2client_live(P.c), 0);
    h2client_release(P.c, s);
    pump(); /* the RST_STREAM goes out */
    /* a late answer for it is ignored */
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
    nghttp2_submit_response(P.srv, id, nv, 1, NULL);
    pump();
    assert_int_equal(P.nended, 0);
    h2client_req_free(&r);
    pair_close();
}

static void test_not_h2(void **state)
{
    (void)state;
    h2client_t *c = h2client_new(1, on_end, &P);
    assert_int_equal(h2client_open(c), 0);
    assert_int_equal(h2client_recv(c, (const uint8_t *)"HTTP/1.1 400 Bad Request\r\n\r\n", 28), H2CLIENT_NOT_H2);
    /* a real preface, a byte at a time */
    assert_int_equal(h2client_open(c), 0);
    static const uint8_t settings[] = {0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 7};
    for (size_t i = 0; i < sizeof settings; i++)
        assert_int_equal(h2client_recv(c, &settings[i], 1), 0);
    assert_true(h2client_ready(c));
    assert_int_equal(h2client_limit(c), 1);
    h2client_free(c);
}

/* ---- the engine against an HTTP/2 server on a socket ----------------------------------------- */

typedef struct {
    int lfd;
    int goaway_every; /* GOAWAY after this many answers on a connection (0: never) */
    int refuse_every; /* refuse every n-th stream with REFUSED_STREAM (0: none) */
    bool not_h2;      /* answer like an HTTP/1.1 server */
    uint32_t max_streams;
    int answered, refused, conns, on_conn;
    int32_t goaway_last; /* on this connection: streams above it are dropped */
} h2srv_t;

static h2srv_t *S;

static ssize_t h2srv_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s, (void)id, (void)src, (void)ud;
    size_t n = len < 5 ? len : 5;
    memcpy(buf, "hello", n);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2srv_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    int32_t id = f->hd.stream_id;
    if (S->goaway_last && id > S->goaway_last)
        return 0;
    if (S->refuse_every && (id / 2 + 1) % S->refuse_every == 0) {
        nghttp2_submit_rst_stream(s, 0, id, NGHTTP2_REFUSED_STREAM);
        S->refused++;
        return 0;
    }
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
    nghttp2_data_provider prd = {.read_callback = h2srv_body};
    nghttp2_submit_response(s, id, nv, 1, &prd);
    S->answered++;
    if (S->goaway_every && ++S->on_conn == S->goaway_every) {
        nghttp2_submit_goaway(s, 0, id, NGHTTP2_NO_ERROR, NULL, 0);
        S->goaway_last = id;
    }
    return 0;
}

static bool write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return false;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return true;
}

static void *h2srv_serve(void *arg)
{
    (void)arg;
    int fd;
    while ((fd = accept(S->lfd, NULL, NULL)) >= 0) {
        S->conns++;
        S->on_conn = 0;
        S->goaway_last = 0;
        if (S->not_h2) {
            char buf[256];
            if (read(fd, buf, sizeof buf) > 0)
                write_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 47);
            close(fd);
            continue;
        }
        nghttp2_session_callbacks *cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2srv_frame);
        nghttp2_session *s;
        nghttp2_session_server_new(&s, cb, NULL);
        nghttp2_session_callbacks_del(cb);
        nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, S->max_streams}};
        nghttp2_submit_settings(s, 0, iv, 1);
        for (;;) {
            const uint8_t *d;
            ssize_t k;
            bool ok = true;
            while (ok && (k = nghttp2_session_mem_send(s, &d)) > 0)
                ok = write_all(fd, d, (size_t)k);
            if (!ok || (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)))
                break;
            uint8_t buf[16384];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)r) < 0)
                break;
        }
        nghttp2_session_del(s);
        close(fd);
    }
    return NULL;
}

/* Runs pixload --h2 -c 1 --max-streams 4 -n n against S; totals into *total. Returns the
 * engine's error (a static copy) or NULL. */
static const char *h2run(int n, stats_entry_t *total, uint64_t *connects, unsigned *streams)
{
    static char fatal[512];
    S->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(S->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(S->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(S->lfd, 16), 0);
    assert_int_equal(getsockname(S->lfd, (struct sockaddr *)&a, &alen), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, h2srv_serve, NULL), 0);

    char url[64], ns[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", ntohs(a.sin_port));
    snprintf(ns, sizeof ns, "%d", n);
    char *argv[] = {"pixload", "-q", "--h2", "-c", "1", "--max-streams", "4", "-n", ns, "--timeout", "3s", url, NULL};
    load_config_t cfg;
    assert_int_equal(load_config_parse(&cfg, 12, argv, 1, err, sizeof err), LOAD_CONFIG_RUN);
    scenario_t sc;
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), 0);
    sock_addr_t addr = {.len = sizeof a};
    memcpy(&addr.addr, &a, sizeof a);
    engine_t *e = engine_start(&cfg, &sc, &addr, err, sizeof err);
    if (!e) fail_msg("engine_start: %s", err);
    unsigned sec = 1;
    engine_event_t ev;
    while ((ev = engine_wait(e, sec, 100)) != ENGINE_ENDED)
        if (ev == ENGINE_SECOND) sec++;
    stats_t st;
    assert_int_equal(stats_init(&st, sc.nstats), 0);
    engine_result(e, &st);
    const char *msg = engine_error(e);
    if (msg) snprintf(fatal, sizeof fatal, "%s", msg);
    *streams = engine_h2_streams(e);
    engine_free(e);
    stats_aggregate(&st, total);
    *connects = st.connects;
    stats_free(&st);
    scenario_free(&sc);
    load_config_free(&cfg);
    shutdown(S->lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(S->lfd);
    return msg ? fatal : NULL;
}

static void test_engine_exact(void **state)
{
    (void)state;
    h2srv_t srv = {.max_streams = 100};
    S = &srv;
    stats_entry_t t;
    uint64_t connects;
    unsigned streams;
    assert_null(h2run(200, &t, &connects, &streams));
    assert_int_equal(t.requests, 200);
    assert_int_equal(t.failures, 0);
    assert_int_equal(t.status[stats_status_slot(200)], 200);
    assert_int_equal(t.content_bytes, 200 * 5);
    assert_int_equal(connects, 1);
    assert_int_equal(srv.answered, 200);
    assert_int_equal(streams, 4);
}

/* GOAWAY every 7 answers, with 4 streams in flight: the ones the server turned away go out again
 * on the next connection, and nothing counts as an error. */
static void test_engine_goaway(void **state)
{
    (void)state;
    h2srv_t srv = {.max_streams = 100, .goaway_every = 7};
    S = &srv;
    stats_entry_t t;
    uint64_t connects;
    unsigned streams;
    assert_null(h2run(100, &t, &connects, &streams));
    assert_int_equal(t.requests, 100);
    assert_int_equal(t.failures, 0);
    assert_int_equal(srv.answered, 100);
    assert_int_equal(connects, (uint64_t)srv.conns);
    assert_true(connects >= 100 / 7);
}

static void test_engine_refused(void **state)
{
    (void)state;
    h2srv_t srv = {.max_streams = 2, .refuse_every = 5};
    S = &srv;
    stats_entry_t t;
    uint64_t connects;
    unsigned streams;
    assert_null(h2run(100, &t, &connects, &streams));
    assert_int_equal(streams, 2); /* the server's limit, below --max-streams 4 */
    assert_int_equal(t.requests, 100);
    assert_int_equal(t.errors[STATS_ERR_REFUSED], srv.refused);
    assert_int_equal(t.errors[STATS_ERR_REFUSED], 20);
    assert_int_equal(t.failures, 20);
    assert_int_equal(srv.answered, 80);
}

static void test_engine_not_h2(void **state)
{
    (void)state;
    h2srv_t srv = {.not_h2 = true};
    S = &srv;
    stats_entry_t t;
    uint64_t connects;
    unsigned streams;
    const char *msg = h2run(10, &t, &connects, &streams);
    assert_non_null(msg);
    if (!strstr(msg, "does not speak h2c") || !strstr(msg, "HTTP/1.1 400 Bad Request"))
        fail_msg("message: %s", msg);
    assert_int_equal(streams, 0);
}

/* ---- options and report --------------------------------------------------------------------- */

static load_config_status_t parse(load_config_t *c, int argc, char **argv)
{
    return load_config_parse(c, argc, argv, 4, err, sizeof err);
}

static void test_options(void **state)
{
    (void)state;
    load_config_t c;
    char *plain[] = {"pixload", "http://h/"};
    assert_int_equal(parse(&c, 2, plain), LOAD_CONFIG_RUN);
    assert_false(c.h2);
    assert_int_equal(c.max_streams, 1);
    load_config_free(&c);

    char *h2[] = {"pixload", "--h2", "--max-streams", "10", "-R", "100", "http://h/"};
    assert_int_equal(parse(&c, 7, h2), LOAD_CONFIG_RUN);
    assert_true(c.h2);
    assert_int_equal(c.max_streams, 10);
    assert_string_equal(report_protocol(&c), "h2c");
    load_config_free(&c);

    char *tls[] = {"pixload", "--h2", "--max-streams=1k", "https://h/"};
    assert_int_equal(parse(&c, 4, tls), LOAD_CONFIG_RUN);
    assert_int_equal(c.max_streams, 1000);
    assert_string_equal(report_protocol(&c), "h2");
    load_config_free(&c);

    static const struct {
        int argc;
        char *argv[6];
        const char *msg;
    } bad[] = {
        {3, {"pixload", "--max-streams=4", "http://h/"}, "--max-streams needs --h2"},
        {4, {"pixload", "--h2", "--pipeline=2", "http://h/"}, "with --h2, use --max-streams"},
        {4, {"pixload", "--h2", "--pipeline=1", "http://h/"}, "with --h2, use --max-streams"},
        {5, {"pixload", "--h2", "--no-keepalive", "--max-streams=2", "http://h/"}, "needs keep-alive"},
        {4, {"pixload", "--h2", "--max-streams=0", "http://h/"}, "--max-streams"},
        {4, {"pixload", "--h2", "--max-streams=10001", "http://h/"}, "from 1 to 10000"},
        {3, {"pixload", "--h2=yes", "http://h/"}, "takes no value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(&c, bad[i].argc, (char **)bad[i].argv), LOAD_CONFIG_ERROR);
        if (!strstr(err, bad[i].msg)) fail_msg("'%s' lacks '%s'", err, bad[i].msg);
        load_config_free(&c);
    }
    char *nk[] = {"pixload", "--h2", "--no-keepalive", "http://h/"};
    assert_int_equal(parse(&c, 4, nk), LOAD_CONFIG_RUN);
    load_config_free(&c);
    assert_non_null(strstr(load_config_usage(), "--h2"));
    assert_non_null(strstr(load_config_usage(), "--max-streams N"));
}

static char *capture_report(const report_t *r, bool json)
{
    char path[] = "/tmp/pixload-h2-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    if (json) {
        assert_int_equal(report_json(r, path, err, sizeof err), 0);
    } else {
        FILE *f = fopen(path, "w");
        report_text(f, r);
        fclose(f);
    }
    FILE *f = fopen(path, "r");
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static void test_report_lines(void **state)
{
    (void)state;
    load_config_t c;
    char *argv[] = {"pixload", "--h2", "--max-streams", "10", "http://h/"};
    assert_int_equal(parse(&c, 5, argv), LOAD_CONFIG_RUN);
    scenario_t sc;
    assert_int_equal(scenario_build(&sc, &c, err, sizeof err), 0);
    stats_t st;
    assert_int_equal(stats_init(&st, sc.nstats), 0);
    stats_record(&st.entries[0], 1000, 200, 10, STATS_OK);
    stats_record(&st.entries[0], 2000, 0, 0, STATS_ERR_REFUSED);
    report_t r = {.cfg = &c, .sc = &sc, .st = &st, .duration_s = 1, .protocol = "h2c", .streams = 8};
    const char *text = capture_report(&r, false);
    static const char *const want[] = {
        "  protocol: h2c (the server allows 8 streams per connection: --max-streams 10 lowered)\n",
        "  Refused streams: 1\n",
        "tls 0, status 0, min-bytes 0, refused 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(text, want[i])) fail_msg("text lacks '%s':\n%s", want[i], text);
    const char *json = capture_report(&r, true);
    static const char *const jwant[] = {
        "\"protocol\": \"h2c\"", "\"max_streams\": 10", "\"streams_per_connection\": 8",
        "\"min-bytes\": 0, \"refused\": 1}",
    };
    for (size_t i = 0; i < sizeof jwant / sizeof *jwant; i++)
        if (!strstr(json, jwant[i])) fail_msg("JSON lacks '%s':\n%s", jwant[i], json);
    stats_free(&st);
    scenario_free(&sc);
    load_config_free(&c);

    /* HTTP/1.1 runs keep their columns: no refused kind, and the protocol says so */
    char *plain[] = {"pixload", "http://h/"};
    assert_int_equal(parse(&c, 2, plain), LOAD_CONFIG_RUN);
    assert_int_equal(scenario_build(&sc, &c, err, sizeof err), 0);
    assert_int_equal(stats_init(&st, sc.nstats), 0);
    stats_record(&st.entries[0], 1000, 500, 10, STATS_ERR_STATUS);
    report_t r1 = {.cfg = &c, .sc = &sc, .st = &st, .duration_s = 1, .protocol = "http/1.1"};
    text = capture_report(&r1, false);
    assert_non_null(strstr(text, "  protocol: http/1.1\n"));
    assert_non_null(strstr(text, "status 1, min-bytes 0\n"));
    assert_null(strstr(text, "refused"));
    json = capture_report(&r1, true);
    assert_non_null(strstr(json, "\"protocol\": \"http/1.1\""));
    assert_null(strstr(json, "refused"));
    assert_null(strstr(json, "max_streams"));
    stats_free(&st);
    scenario_free(&sc);
    load_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_get),
        cmocka_unit_test(test_req_post),
        cmocka_unit_test(test_req_from_scenario),
        cmocka_unit_test(test_preface_check),
        cmocka_unit_test(test_streams_and_limit),
        cmocka_unit_test(test_status_and_content),
        cmocka_unit_test(test_post_body_no_copy),
        cmocka_unit_test(test_early_answer),
        cmocka_unit_test(test_refused_and_reset),
        cmocka_unit_test(test_goaway),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_not_h2),
        cmocka_unit_test(test_engine_exact),
        cmocka_unit_test(test_engine_goaway),
        cmocka_unit_test(test_engine_refused),
        cmocka_unit_test(test_engine_not_h2),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_report_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
