/* h2 (the glue shared by pixd and pixload): handler header lines to HTTP/2 fields, request and
 * response fields to pixd's HTTP/1-shaped types (pointers surviving the buffer's growth, the
 * header-list limit, content-length), the preface match, the hand-written GOAWAY, and that a
 * client and a server session built with our options and SETTINGS talk to each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h2.h"

static void nv_is(const nghttp2_nv *nv, const char *name, const char *value)
{
    assert_int_equal(nv->namelen, strlen(name));
    assert_memory_equal(nv->name, name, nv->namelen);
    assert_int_equal(nv->valuelen, strlen(value));
    assert_memory_equal(nv->value, value, nv->valuelen);
}

static void test_nv_from_lines(void **state)
{
    static const char lines[] = "Content-Type: image/png\r\n"
                                "ETag:   \"abc\" \t\r\n"
                                "Connection: close\r\n"
                                "Keep-Alive: timeout=5\r\n"
                                "Transfer-Encoding: chunked\r\n"
                                "Content-Length: 12\r\n"
                                "no colon here\r\n"
                                "Cache-Control: max-age=7200\n"
                                "X-Last: 1";
    nghttp2_nv nv[8];
    char lower[256];
    int n = h2_nv_from_lines(lines, sizeof lines - 1, nv, 8, lower, sizeof lower);
    assert_int_equal(n, 4);
    nv_is(&nv[0], "content-type", "image/png");
    nv_is(&nv[1], "etag", "\"abc\"");
    nv_is(&nv[2], "cache-control", "max-age=7200");
    nv_is(&nv[3], "x-last", "1");
    for (int i = 0; i < n; i++) /* values point into the lines, names into lower */
        assert_true((const char *)nv[i].value >= lines && (const char *)nv[i].value < lines + sizeof lines);
    assert_int_equal(h2_nv_from_lines("", 0, nv, 8, lower, sizeof lower), 0);
    /* No room: refused whole, never cut. */
    assert_int_equal(h2_nv_from_lines(lines, sizeof lines - 1, nv, 3, lower, sizeof lower), -1);
    assert_int_equal(h2_nv_from_lines(lines, sizeof lines - 1, nv, 8, lower, 10), -1);
}

static void add(http_request_t *req, h2_fields_t *f, const char *name, const char *value)
{
    h2_request_field(req, f, (const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value));
}

static void test_request_fields(void **state)
{
    http_request_t req;
    h2_fields_t f = {.max = 8192};
    h2_request_init(&req);
    add(&req, &f, ":method", "POST");
    add(&req, &f, ":scheme", "https");
    add(&req, &f, ":authority", "example.org");
    add(&req, &f, ":path", "/magic/base64?x=1&y");
    add(&req, &f, "host", "other"); /* :authority said it already */
    add(&req, &f, "content-length", "42");
    char name[16];
    for (int i = 0; i < 40; i++) { /* enough to grow the buffer several times */
        snprintf(name, sizeof name, "x-h%d", i);
        add(&req, &f, name, "0123456789abcdef0123456789abcdef");
    }
    assert_false(f.too_large || f.bad);
    assert_int_equal(req.method, HTTP_METHOD_POST);
    assert_int_equal(req.method_len, 4);
    assert_memory_equal(req.method_str, "POST", 4);
    assert_int_equal(req.target_len, 19);
    assert_memory_equal(req.target, "/magic/base64?x=1&y", 19);
    assert_int_equal(req.path_len, 13);
    assert_memory_equal(req.path, "/magic/base64", 13);
    assert_int_equal(req.query_len, 5);
    assert_memory_equal(req.query, "x=1&y", 5);
    assert_int_equal(req.h.content_length, 42);
    assert_int_equal(req.h.num_headers, 42);
    const http_header_t *h = http_find_header(&req.h, "host", 4);
    assert_non_null(h);
    assert_int_equal(h->value_len, 11);
    assert_memory_equal(h->value, "example.org", 11);
    h = http_find_header(&req.h, "x-h39", 5);
    assert_non_null(h);
    assert_memory_equal(h->value, "0123456789abcdef0123456789abcdef", 32);
    for (size_t i = 0; i < req.h.num_headers; i++) { /* everything lives in the buffer */
        assert_true(req.h.headers[i].name >= f.data && req.h.headers[i].value + req.h.headers[i].value_len <= f.data + f.len);
    }
    h2_fields_free(&f);

    h2_request_init(&req);
    f = (h2_fields_t){.max = 8192};
    add(&req, &f, ":method", "GET");
    add(&req, &f, ":path", "/42");
    assert_int_equal(req.method, HTTP_METHOD_GET);
    assert_null(req.query);
    assert_int_equal(req.h.content_length, -1);
    add(&req, &f, "content-length", "4x");
    assert_true(f.bad);
    h2_fields_free(&f);
}

static void test_request_limits(void **state)
{
    http_request_t req;
    h2_fields_t f = {.max = 8192};
    h2_request_init(&req);
    add(&req, &f, ":method", "GET");
    add(&req, &f, ":path", "/");
    char big[9000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    add(&req, &f, "x-big", big);
    assert_true(f.too_large);
    assert_true(f.len <= f.max && f.cap <= f.max);
    size_t n = req.h.num_headers;
    add(&req, &f, "x-after", "1"); /* dropped once over */
    assert_int_equal(req.h.num_headers, n);
    h2_fields_free(&f);

    h2_request_init(&req);
    f = (h2_fields_t){.max = 8192};
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        add(&req, &f, "x", "y");
    assert_true(f.too_large);
    assert_int_equal(req.h.num_headers, HTTP_MAX_HEADERS);
    h2_fields_free(&f);

    h2_request_init(&req);
    f = (h2_fields_t){.max = 8192};
    add(&req, &f, "content-length", "5");
    add(&req, &f, "content-length", "6"); /* two that disagree */
    assert_true(f.bad);
    h2_fields_free(&f);
}

static void test_response_fields(void **state)
{
    http_response_t resp;
    h2_fields_t f = {.max = 8192};
    h2_response_init(&resp);
    h2_response_field(&resp, &f, (const uint8_t *)":status", 7, (const uint8_t *)"304", 3);
    h2_response_field(&resp, &f, (const uint8_t *)"etag", 4, (const uint8_t *)"\"x\"", 3);
    h2_response_field(&resp, &f, (const uint8_t *)"content-length", 14, (const uint8_t *)"0", 1);
    assert_int_equal(resp.status, 304);
    assert_int_equal(resp.h.num_headers, 2);
    assert_int_equal(resp.h.content_length, 0);
    assert_non_null(http_find_header(&resp.h, "etag", 4));
    h2_response_field(&resp, &f, (const uint8_t *)":status", 7, (const uint8_t *)"20", 2);
    assert_int_equal(resp.status, 0); /* not three digits */
    h2_fields_free(&f);
}

static void test_preface_and_goaway(void **state)
{
    assert_int_equal(h2_preface_match(H2_PREFACE, H2_PREFACE_LEN), H2_PREFACE_LEN);
    assert_int_equal(h2_preface_match(H2_PREFACE "extra", H2_PREFACE_LEN + 5), H2_PREFACE_LEN);
    assert_int_equal(h2_preface_match("PRI * HT", 8), 8);
    assert_int_equal(h2_preface_match("POST / HTTP/1.1", 15), 1);
    assert_int_equal(h2_preface_match("GET", 3), 0);
    uint8_t f[H2_GOAWAY_LEN];
    h2_goaway_frame(f, 0x01020304, NGHTTP2_ENHANCE_YOUR_CALM);
    static const uint8_t want[H2_GOAWAY_LEN] = {0, 0, 8, 7, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 11};
    assert_memory_equal(f, want, sizeof want);
}

/* ---- two sessions with our options, through memory ------------------------------------------ */

typedef struct {
    int status, requests;
    size_t body;
} peer_t;

static int srv_frame(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    peer_t *p = user;
    if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        p->requests++;
        nghttp2_nv nv[] = {H2_NV_LIT(":status", "204", 3)};
        nghttp2_submit_response(s, frame->hd.stream_id, nv, 1, NULL);
    }
    return 0;
}

static int cli_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t nlen,
                      const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    peer_t *p = user;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        p->status = atoi((const char *)value);
    return 0;
}

static void pump(nghttp2_session *from, nghttp2_session *to)
{
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(from, &data)) > 0)
        assert_int_equal(nghttp2_session_mem_recv(to, data, (size_t)n), n);
    assert_true(n == 0);
}

static void test_sessions_talk(void **state)
{
    h2_limits_t lim;
    h2_limits_default(&lim);
    assert_int_equal(lim.max_concurrent_streams, 100);
    assert_int_equal(lim.max_header_list, 8192);
    nghttp2_option *so = h2_option_new(&lim, true), *co = h2_option_new(&lim, false);
    assert_non_null(so);
    assert_non_null(co);
    nghttp2_session_callbacks *scb, *ccb;
    nghttp2_session_callbacks_new(&scb);
    nghttp2_session_callbacks_new(&ccb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(scb, srv_frame);
    nghttp2_session_callbacks_set_on_header_callback(ccb, cli_header);
    peer_t sp = {0}, cp = {0};
    nghttp2_session *srv, *cli;
    assert_int_equal(nghttp2_session_server_new2(&srv, scb, &sp, so), 0);
    assert_int_equal(nghttp2_session_client_new2(&cli, ccb, &cp, co), 0);
    assert_int_equal(h2_submit_settings(srv, &lim), 0);
    assert_int_equal(h2_submit_settings(cli, &lim), 0);
    nghttp2_nv req[] = {H2_NV_LIT(":method", "GET", 3), H2_NV_LIT(":path", "/", 1),
                        H2_NV_LIT(":scheme", "http", 4), H2_NV_LIT(":authority", "t", 1)};
    assert_true(nghttp2_submit_request(cli, NULL, req, 4, NULL, NULL) > 0);
    for (int i = 0; i < 3; i++) {
        pump(cli, srv);
        pump(srv, cli);
    }
    assert_int_equal(sp.requests, 1);
    assert_int_equal(cp.status, 204);
    /* What we announced is what the peer now obeys. */
    assert_int_equal(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 100);
    assert_int_equal(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE), lim.stream_window);
    assert_int_equal(nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), 8192);
    assert_int_equal(nghttp2_session_get_local_window_size(srv), (int32_t)lim.connection_window);
    nghttp2_session_del(srv);
    nghttp2_session_del(cli);
    nghttp2_session_callbacks_del(scb);
    nghttp2_session_callbacks_del(ccb);
    nghttp2_option_del(so);
    nghttp2_option_del(co);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nv_from_lines),   cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_limits),  cmocka_unit_test(test_response_fields),
        cmocka_unit_test(test_preface_and_goaway), cmocka_unit_test(test_sessions_talk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
