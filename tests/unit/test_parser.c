/*
 * Tests for src/http/parser.c, in picohttpparser's style.
 *
 * Every input is copied so that its last byte is the last readable byte before a PROT_NONE
 * page: a parser that reads one byte past `len` crashes the test instead of passing by luck.
 * Every request and response is parsed whole and as each of its prefixes (what a server sees
 * when the head arrives a byte at a time): a prefix must be incomplete, never an error, and
 * never complete before the head's end. Chunked bodies are decoded in one call, a byte per
 * call, and split in two at every offset, with the decoder state carried across calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/parser.h"

/* ---- guarded buffers -------------------------------------------------------------------- */

#define ARENA_SIZE (256 * 1024)

static char *arena;  /* ARENA_SIZE readable bytes, then a PROT_NONE page */
static size_t guard; /* the guard page's size */

static int arena_setup(void **state)
{
    guard = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, ARENA_SIZE + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + ARENA_SIZE, guard, PROT_NONE) != 0)
        return -1;
    arena = m;
    return 0;
}

static int arena_teardown(void **state)
{
    return munmap(arena, ARENA_SIZE + guard);
}

/* Copies s[0..n) to end exactly at the guard page. The copy lives until the next call. */
static char *guarded(const void *s, size_t n)
{
    assert_true(n <= ARENA_SIZE);
    char *p = arena + ARENA_SIZE - n;
    memmove(p, s, n);
    return p;
}

/* String literals may hold NUL bytes: their length comes from sizeof, not strlen. */
#define LIT(s) s, sizeof(s) - 1

static void assert_span(const char *p, size_t n, const char *want)
{
    assert_non_null(p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void assert_header(const http_head_t *h, size_t i, const char *name, const char *value)
{
    assert_true(i < h->num_headers);
    assert_span(h->headers[i].name, h->headers[i].name_len, name);
    assert_span(h->headers[i].value, h->headers[i].value_len, value);
}

/* ---- whole and prefix parsing --------------------------------------------------------- */

/* The result a prefix of `k` bytes must give, given the result of the whole input: nothing is
 * decided before the head's end, and bytes after it (pipelined) are never looked at. */
static void check_prefix(const char *what, size_t k, int full, http_err_t full_err, int r, http_err_t err)
{
    if (full > 0 && (size_t)full <= k) {
        if (r != full)
            fail_msg("%s: prefix of %zu bytes gave %d, whole input %d", what, k, r, full);
    } else if (full == HTTP_PARSE_ERROR) {
        /* a prefix may already show the same error, never another one */
        if (r != HTTP_PARSE_INCOMPLETE && !(r == HTTP_PARSE_ERROR && err == full_err))
            fail_msg("%s: prefix of %zu bytes gave %d (error %d), whole input error %d", what, k, r,
                     (int)err, (int)full_err);
    } else if (r != HTTP_PARSE_INCOMPLETE) {
        fail_msg("%s: prefix of %zu bytes gave %d (error %d), want incomplete", what, k, r, (int)err);
    }
}

/* Parses s whole and as every prefix; leaves *req from the whole input (valid until the next
 * guarded() call) and returns its result. */
static int parse_req(const char *s, size_t n, http_request_t *req)
{
    int full = http_parse_request(guarded(s, n), n, req);
    http_err_t full_err = req->h.error;
    for (size_t k = 0; k < n; k++) {
        http_request_t part;
        int r = http_parse_request(guarded(s, k), k, &part);
        check_prefix("request", k, full, full_err, r, part.h.error);
    }
    assert_int_equal(http_parse_request(guarded(s, n), n, req), full);
    return full;
}

static int parse_resp(const char *s, size_t n, http_response_t *resp)
{
    int full = http_parse_response(guarded(s, n), n, resp);
    http_err_t full_err = resp->h.error;
    for (size_t k = 0; k < n; k++) {
        http_response_t part;
        int r = http_parse_response(guarded(s, k), k, &part);
        check_prefix("response", k, full, full_err, r, part.h.error);
    }
    assert_int_equal(http_parse_response(guarded(s, n), n, resp), full);
    return full;
}

/* ---- valid requests -------------------------------------------------------------------- */

static void test_get(void **state)
{
    static const char in[] = "GET /avatar/42 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    http_request_t req;
    assert_int_equal(parse_req(LIT(in), &req), sizeof in - 1);
    assert_int_equal(req.method, HTTP_METHOD_GET);
    assert_span(req.method_str, req.method_len, "GET");
    assert_span(req.target, req.target_len, "/avatar/42");
    assert_span(req.path, req.path_len, "/avatar/42");
    assert_null(req.query);
    assert_int_equal(req.query_len, 0);
    assert_int_equal(req.h.minor_version, 1);
    assert_int_equal(req.h.num_headers, 1);
    assert_header(&req.h, 0, "Host", "example.com");
    assert_int_equal(req.h.content_length, -1);
    assert_false(req.h.chunked);
    assert_true(req.h.keep_alive);
    assert_false(req.expect_continue);
    assert_int_equal(req.h.error, HTTP_ERR_NONE);
}

static void test_head_and_other_methods(void **state)
{
    static const struct {
        const char *in;
        http_method_t method;
        const char *name, *target;
    } cases[] = {
        {"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_HEAD, "HEAD", "/a"},
        {"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", HTTP_METHOD_POST, "POST", "/a"},
        {"PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", HTTP_METHOD_PUT, "PUT", "/a"},
        {"DELETE /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_DELETE, "DELETE", "/a"},
        {"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OPTIONS, "OPTIONS", "*"},
        {"PATCH /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", HTTP_METHOD_PATCH, "PATCH", "/a"},
        /* methods are case-sensitive (RFC 9110 §9.1): "get" is some other method */
        {"get /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "get", "/a"},
        {"PATCX /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "PATCX", "/a"},
        {"DELETX /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "DELETX", "/a"},
        {"OPTIONX /a HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "OPTIONX", "/a"},
        {"BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "BREW", "/pot"},
        {"M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_METHOD_OTHER, "M-SEARCH", "*"},
        {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", HTTP_METHOD_OTHER,
         "CONNECT", "example.com:443"},
        {"GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n", HTTP_METHOD_GET, "GET",
         "http://example.com/a?b=c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request_t req;
        size_t n = strlen(cases[i].in);
        assert_int_equal(parse_req(cases[i].in, n, &req), n);
        assert_int_equal(req.method, cases[i].method);
        assert_span(req.method_str, req.method_len, cases[i].name);
        assert_span(req.target, req.target_len, cases[i].target);
    }
}

static void test_query_string(void **state)
{
    static const struct {
        const char *target, *path, *query; /* query NULL: no '?' */
    } cases[] = {
        {"/magic/dither?size=64&fmt=png", "/magic/dither", "size=64&fmt=png"},
        {"/a?", "/a", ""},
        {"/?x", "/", "x"},
        {"/a?b?c=/d", "/a", "b?c=/d"}, /* only the first '?' splits */
        {"/a%20b;p=1", "/a%20b;p=1", NULL},
        {"/~user/a+b(c)!*'$@:,", "/~user/a+b(c)!*'$@:,", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[256];
        int n = snprintf(in, sizeof in, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].target);
        http_request_t req;
        assert_int_equal(parse_req(in, (size_t)n, &req), n);
        assert_span(req.target, req.target_len, cases[i].target);
        assert_span(req.path, req.path_len, cases[i].path);
        if (cases[i].query)
            assert_span(req.query, req.query_len, cases[i].query);
        else
            assert_null(req.query);
    }
}

static void test_versions_and_keep_alive(void **state)
{
    static const struct {
        const char *version;
        const char *connection; /* NULL: no Connection header; "\n" separates two headers */
        int minor;
        bool keep_alive;
    } cases[] = {
        {"HTTP/1.1", NULL, 1, true},
        {"HTTP/1.1", "close", 1, false},
        {"HTTP/1.1", "Close", 1, false},
        {"HTTP/1.1", "keep-alive", 1, true},
        {"HTTP/1.1", "Upgrade, close", 1, false},
        {"HTTP/1.1", "keep-alive, close", 1, false},
        {"HTTP/1.1", "keep-alive\nclose", 1, false},
        {"HTTP/1.1", "closed", 1, true}, /* a token, not a substring */
        {"HTTP/1.1", ",,close ,", 1, false},
        {"HTTP/1.0", NULL, 0, false},
        {"HTTP/1.0", "keep-alive", 0, true},
        {"HTTP/1.0", "Keep-Alive", 0, true}, /* ab -k */
        {"HTTP/1.0", "foo, KEEP-ALIVE", 0, true},
        {"HTTP/1.0", "keep-alive, close", 0, false},
        {"HTTP/1.0", "close\nkeep-alive", 0, false},
        {"HTTP/1.0", "keep-alives", 0, false},
        {"HTTP/1.9", NULL, 1, true}, /* a later 1.x is answered as 1.1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char conn[128] = "", in[256];
        if (cases[i].connection) {
            const char *c = cases[i].connection, *nl = strchr(c, '\n');
            if (nl)
                snprintf(conn, sizeof conn, "Connection: %.*s\r\nConnection: %s\r\n", (int)(nl - c), c,
                         nl + 1);
            else
                snprintf(conn, sizeof conn, "Connection: %s\r\n", c);
        }
        int n = snprintf(in, sizeof in, "GET / %s\r\nHost: h\r\n%s\r\n", cases[i].version, conn);
        http_request_t req;
        assert_int_equal(parse_req(in, (size_t)n, &req), n);
        assert_int_equal(req.h.minor_version, cases[i].minor);
        if (req.h.keep_alive != cases[i].keep_alive)
            fail_msg("case %zu (%s, %s): keep_alive %d", i, cases[i].version,
                     cases[i].connection ? cases[i].connection : "-", req.h.keep_alive);
    }
}

static void test_http10_without_host(void **state)
{
    static const char in[] = "GET / HTTP/1.0\r\n\r\n";
    http_request_t req;
    assert_int_equal(parse_req(LIT(in), &req), sizeof in - 1);
    assert_int_equal(req.h.minor_version, 0);
    assert_int_equal(req.h.num_headers, 0);
    assert_false(req.h.keep_alive);
}

static void test_expect_continue(void **state)
{
    static const struct {
        const char *in;
        bool expect;
    } cases[] = {
        {"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n", true},
        {"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\nExpect: 100-Continue \r\n\r\n", true},
        {"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n", false},
        /* RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request (a 1.0
         * client does not expect an interim response) */
        {"POST /u HTTP/1.0\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request_t req;
        size_t n = strlen(cases[i].in);
        assert_int_equal(parse_req(cases[i].in, n, &req), n);
        assert_int_equal(req.h.content_length, 9);
        if (req.expect_continue != cases[i].expect)
            fail_msg("case %zu: expect_continue %d", i, req.expect_continue);
    }
}

static void test_content_length(void **state)
{
    static const struct {
        const char *headers;
        int64_t length;
    } cases[] = {
        {"Content-Length: 0\r\n", 0},
        {"Content-Length: 1234\r\n", 1234},
        {"content-length:007\r\n", 7},
        {"CONTENT-LENGTH: 42 \r\n", 42},
        {"Content-Length: 999999999999999999\r\n", 999999999999999999LL}, /* 18 digits */
        {"Content-Length: 5\r\nContent-Length: 5\r\n", 5}, /* identical copies are one value */
        {"Content-Length: 5\r\nContent-Length: 05\r\n", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[256];
        int n = snprintf(in, sizeof in, "POST /u HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].headers);
        http_request_t req;
        assert_int_equal(parse_req(in, (size_t)n, &req), n);
        assert_int_equal(req.h.content_length, cases[i].length);
        assert_false(req.h.chunked);
    }
}

static void test_chunked_request(void **state)
{
    static const char *const te[] = {"chunked",       "Chunked",         "CHUNKED ",
                                     ", chunked",     "chunked,",        "chunked\t;x=1",
                                     "chunked;x=\"1\"", "chunked;x=\"1,2\"", "chunked;x=\"\\\",\" ; y=z"};
    for (size_t i = 0; i < sizeof te / sizeof te[0]; i++) {
        char in[256];
        int n = snprintf(in, sizeof in, "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n", te[i]);
        http_request_t req;
        assert_int_equal(parse_req(in, (size_t)n, &req), n);
        assert_true(req.h.chunked);
        assert_int_equal(req.h.content_length, -1);
    }
}

static void test_find_header(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Twice: first\r\nACCEPT: */*\r\n"
                             "x-twice: second\r\nX-Empty:\r\n\r\n";
    http_request_t req;
    assert_int_equal(parse_req(LIT(in), &req), sizeof in - 1);
    assert_int_equal(req.h.num_headers, 5);
    const http_header_t *hd = http_find_header(&req.h, LIT("accept"));
    assert_non_null(hd);
    assert_span(hd->value, hd->value_len, "*/*");
    hd = http_find_header(&req.h, LIT("HOST"));
    assert_ptr_equal(hd, &req.h.headers[0]);
    hd = http_find_header(&req.h, LIT("X-TWICE"));
    assert_ptr_equal(hd, &req.h.headers[1]); /* the first of two */
    hd = http_find_header(&req.h, LIT("x-empty"));
    assert_non_null(hd);
    assert_int_equal(hd->value_len, 0);
    assert_null(http_find_header(&req.h, LIT("Hos")));
    assert_null(http_find_header(&req.h, LIT("Hostx")));
    assert_null(http_find_header(&req.h, LIT("Cookie")));
}

static void test_list_has(void **state)
{
    assert_true(http_list_has(LIT("a, b,c"), LIT("b")));
    assert_true(http_list_has(LIT("a, b,c"), LIT("C")));
    assert_true(http_list_has(LIT(" \tB\t ,"), LIT("b")));
    assert_false(http_list_has(LIT("ab, bc"), LIT("b")));
    assert_false(http_list_has(LIT(""), LIT("b")));
    assert_false(http_list_has(LIT(",,,"), LIT("b")));
}

static void test_ows_and_empty_values(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\n"
                             "Host:h\r\n"
                             "X-A:   spaced \t \r\n"
                             "X-B:\tv\r\n"
                             "X-C: a  \t b\r\n"
                             "X-D:\r\n"
                             "X-E:   \t\r\n"
                             "X-F: caf\xc3\xa9 \x80\xff\r\n" /* obs-text is allowed in values */
                             "\r\n";
    /* names as long as Host, Expect, Connection, Content-Length and Transfer-Encoding: no
     * framing effect */
    static const char same_lengths[] = "POST / HTTP/1.1\r\nHost: h\r\nDate: x\r\nCookie: a=b\r\n"
                                       "User-Agent: u\r\nAccept-Charset: ,\r\nX-Forwarded-Proto: https\r\n\r\n";
    http_request_t req;
    assert_int_equal(parse_req(LIT(in), &req), sizeof in - 1);
    assert_int_equal(req.h.num_headers, 7);
    assert_header(&req.h, 0, "Host", "h");
    assert_header(&req.h, 1, "X-A", "spaced");
    assert_header(&req.h, 2, "X-B", "v");
    assert_header(&req.h, 3, "X-C", "a  \t b"); /* inner whitespace is kept */
    assert_header(&req.h, 4, "X-D", "");
    assert_header(&req.h, 5, "X-E", "");
    assert_header(&req.h, 6, "X-F", "caf\xc3\xa9 \x80\xff");
    assert_int_equal(parse_req(LIT(same_lengths), &req), sizeof same_lengths - 1);
    assert_int_equal(req.h.num_headers, 6);
    assert_int_equal(req.h.content_length, -1);
    assert_false(req.h.chunked);
    assert_false(req.expect_continue);
}

static void test_leading_empty_lines_and_bare_lf(void **state)
{
    static const char *const ins[] = {
        "\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\n\r\n\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /x HTTP/1.1\nHost: h\nX-Y: z\n\n",
        "GET /x HTTP/1.1\r\nHost: h\nX-Y: z\r\n\n", /* mixed */
    };
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        http_request_t req;
        size_t n = strlen(ins[i]);
        assert_int_equal(parse_req(ins[i], n, &req), n);
        assert_span(req.method_str, req.method_len, "GET");
        assert_span(req.target, req.target_len, "/x");
        assert_header(&req.h, 0, "Host", "h");
    }
    /* only empty lines so far: wait for the request line */
    http_request_t req;
    assert_int_equal(parse_req(LIT("\r\n\r\n"), &req), HTTP_PARSE_INCOMPLETE);
}

static void test_pipelined(void **state)
{
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                             "GET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                             "GET /3 HT";
    const size_t first = strlen("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    const size_t second = strlen("GET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    http_request_t req;
    assert_int_equal(parse_req(LIT(in), &req), first);
    assert_span(req.target, req.target_len, "/1");
    assert_true(req.h.keep_alive);
    assert_int_equal(parse_req(in + first, sizeof in - 1 - first, &req), second);
    assert_span(req.target, req.target_len, "/2");
    assert_false(req.h.keep_alive);
    assert_int_equal(parse_req(in + first + second, sizeof in - 1 - first - second, &req),
                     HTTP_PARSE_INCOMPLETE);
}

/* Builds a request with `count` headers X-0..X-<count-1> after Host. */
static size_t many_headers(char *buf, size_t size, const char *start, size_t count)
{
    size_t n = (size_t)snprintf(buf, size, "%s", start);
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(buf + n, size - n, "X-%zu: %zu\r\n", i, i);
    n += (size_t)snprintf(buf + n, size - n, "\r\n");
    assert_true(n < size);
    return n;
}

static void test_max_headers(void **state)
{
    char in[4096];
    size_t n = many_headers(in, sizeof in, "GET / HTTP/1.1\r\nHost: h\r\n", HTTP_MAX_HEADERS - 1);
    http_request_t req;
    assert_int_equal(parse_req(in, n, &req), n);
    assert_int_equal(req.h.num_headers, HTTP_MAX_HEADERS);
    assert_header(&req.h, HTTP_MAX_HEADERS - 1, "X-62", "62");
}

/* Requests as real clients send them (captured from the tools, hosts and versions edited). */
static void test_real_clients(void **state)
{
    static const struct {
        const char *in;
        size_t headers;
        bool keep_alive;
    } cases[] = {
        /* ab -k */
        {"GET /avatar/1 HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 127.0.0.1:8080\r\n"
         "User-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
         4, true},
        /* wrk */
        {"GET /avatar/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 1, true},
        /* curl */
        {"GET /avatar/1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n", 3,
         true},
        /* locust HttpUser (python-requests) */
        {"POST /magic/dither HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: python-requests/2.31.0\r\n"
         "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
         "Content-Length: 1021\r\nContent-Type: multipart/form-data; boundary=7d9c0b8e3f0a4c1b\r\n\r\n",
         7, true},
        /* Chrome */
        {"GET /avatar/1?s=128 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n"
         "sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"8\"\r\nsec-ch-ua-mobile: ?0\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36\r\nsec-ch-ua-platform: \"Linux\"\r\n"
         "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\n"
         "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\n"
         "Referer: http://localhost:8080/\r\nAccept-Encoding: gzip, deflate, br\r\n"
         "Accept-Language: en-US,en;q=0.9\r\n\r\n",
         13, true},
        /* curl -T - (chunked upload) */
        {"PUT /magic/imagefile HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\n"
         "Accept: */*\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
         5, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request_t req;
        size_t n = strlen(cases[i].in);
        assert_int_equal(parse_req(cases[i].in, n, &req), n);
        assert_int_equal(req.h.num_headers, cases[i].headers);
        assert_int_equal(req.h.keep_alive, cases[i].keep_alive);
    }
}

/* ---- malformed requests ---------------------------------------------------------------- */

static const struct bad {
    const char *what;
    const char *in;
    size_t len;
    http_err_t err;
    int status;
} bad_requests[] = {
#define BAD(what, in, err, status) {what, in, sizeof(in) - 1, err, status}
#define H "Host: h\r\n"
    BAD("'(' in method", "G(T / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("NUL in method", "GE\0T / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("NUL before method", "\0GET / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("tab after method", "GET\t/ HTTP/1.1\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("UTF-8 in method", "G\xc3\x89T / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("leading space", " GET / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("missing target", "GET  HTTP/1.1\r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("missing version", "GET /\r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("only a method", "GET\r\n" H "\r\n", HTTP_ERR_METHOD, 400),
    BAD("space in target", "GET /a b HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("control byte in target", "GET /a\x01 HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("NUL in target", "GET /a\0b HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("tab in target", "GET /a\tb HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("raw UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" H "\r\n", HTTP_ERR_TARGET, 400),
    BAD("lowercase protocol", "GET / http/1.1\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("bad protocol", "GET / HTTX/1.1\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version without dot", "GET / HTTP/11\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version letters", "GET / HTTP/1.x\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version short", "GET / HTTP/1\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version major not a digit", "GET / HTTP/:.1\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version minor not a digit", "GET / HTTP/1.:\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("version minor below '0'", "GET / HTTP/1./\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("space in version", "GET / HTTP/ 1.1\r\n" H "\r\n", HTTP_ERR_VERSION, 400),
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\n" H "\r\n", HTTP_ERR_VERSION_UNSUPPORTED, 505),
    BAD("HTTP/0.9", "GET / HTTP/0.9\r\n" H "\r\n", HTTP_ERR_VERSION_UNSUPPORTED, 505),
    BAD("HTTP/3.0", "GET / HTTP/3.0\r\n" H "\r\n", HTTP_ERR_VERSION_UNSUPPORTED, 505),
    BAD("version trailing digit", "GET / HTTP/1.10\r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("space after version", "GET / HTTP/1.1 \r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("bare CR after request line", "GET / HTTP/1.1\r" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("bare CR in header value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HTTP_ERR_LINE, 400),
    BAD("bare CR ends head", "GET / HTTP/1.1\r\n" H "\r\r\n", HTTP_ERR_LINE, 400),
    BAD("bare CR in leading line", "\rGET / HTTP/1.1\r\n" H "\r\n", HTTP_ERR_LINE, 400),
    BAD("header without colon", "GET / HTTP/1.1\r\n" H "X-Foo bar\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("header name only", "GET / HTTP/1.1\r\n" H "X-Foo\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("empty header name", "GET / HTTP/1.1\r\n" H ": v\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("'(' in header name", "GET / HTTP/1.1\r\n" H "X(y): v\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("NUL in header name", "GET / HTTP/1.1\r\n" H "X\0y: v\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("obs-text in header name", "GET / HTTP/1.1\r\n" H "X\xe9: v\r\n\r\n", HTTP_ERR_HEADER_NAME, 400),
    BAD("control byte in value", "GET / HTTP/1.1\r\n" H "X: a\x01z\r\n\r\n", HTTP_ERR_HEADER_VALUE, 400),
    BAD("NUL in value", "GET / HTTP/1.1\r\n" H "X: a\0z\r\n\r\n", HTTP_ERR_HEADER_VALUE, 400),
    BAD("DEL in value", "GET / HTTP/1.1\r\n" H "X: a\x7fz\r\n\r\n", HTTP_ERR_HEADER_VALUE, 400),
    BAD("ESC in value", "GET / HTTP/1.1\r\n" H "X: \x1b[31m\r\n\r\n", HTTP_ERR_HEADER_VALUE, 400),
    BAD("obs-fold with space", "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", HTTP_ERR_OBS_FOLD, 400),
    BAD("obs-fold with tab", "GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n", HTTP_ERR_OBS_FOLD, 400),
    BAD("space before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", HTTP_ERR_OBS_FOLD, 400),
    BAD("CL letters", "POST / HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL digits then letter", "POST / HTTP/1.1\r\n" H "Content-Length: 12a\r\n\r\n",
        HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL negative", "POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL plus sign", "POST / HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL empty", "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL hex", "POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL inner space", "POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", HTTP_ERR_CONTENT_LENGTH,
        400),
    BAD("CL 19 digits", "POST / HTTP/1.1\r\n" H "Content-Length: 1000000000000000000\r\n\r\n",
        HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL 2^64", "POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551616\r\n\r\n",
        HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL conflicting copies", "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
        HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL list", "POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", HTTP_ERR_CONTENT_LENGTH, 400),
    BAD("CL and TE", "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        HTTP_ERR_CL_AND_TE, 400),
    BAD("TE and CL", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        HTTP_ERR_CL_AND_TE, 400),
    /* RFC 9112 §6.3: chunked not final leaves the length unknown: 400, then close */
    BAD("TE gzip", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", HTTP_ERR_TE_CHUNKED, 400),
    /* chunked final: framed, but a coding we do not decode: 501 (RFC 9112 §6.1) */
    BAD("TE gzip, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
        HTTP_ERR_TE_UNSUPPORTED, 501),
    BAD("TE three codings", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: deflate,gzip ,CHUNKED\r\n\r\n",
        HTTP_ERR_TE_UNSUPPORTED, 501),
    /* a comma inside a quoted parameter does not start another coding */
    BAD("TE gzip with a quoted comma",
        "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip;a=\",chunked\"\r\n\r\n", HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE gzip with parameter, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip;q=1, chunked\r\n\r\n",
        HTTP_ERR_TE_UNSUPPORTED, 501),
    BAD("TE gzip, tab, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip,\tchunked\t;a\r\n\r\n",
        HTTP_ERR_TE_UNSUPPORTED, 501),
    BAD("TE chunkes", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkes\r\n\r\n", HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE identity", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", HTTP_ERR_TE_CHUNKED,
        400),
    BAD("TE gzip with Content-Length",
        "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", HTTP_ERR_TE_CHUNKED,
        400),
    BAD("TE chunked not last", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n",
        HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE chunked twice", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n",
        HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE in two headers", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE empty", "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", HTTP_ERR_TE_CHUNKED, 400),
    BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_ERR_TE_HTTP10, 400),
    BAD("missing Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HTTP_ERR_HOST, 400),
    BAD("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", HTTP_ERR_HOST, 400),
    BAD("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", HTTP_ERR_HOST, 400),
    BAD("Expect other", "POST / HTTP/1.1\r\n" H "Expect: something-else\r\n\r\n", HTTP_ERR_EXPECT, 417),
    BAD("Expect list", "POST / HTTP/1.1\r\n" H "Expect: 100-continue, foo\r\n\r\n", HTTP_ERR_EXPECT, 417),
    BAD("Expect 12 other bytes", "POST / HTTP/1.1\r\n" H "Expect: 100-continuX\r\n\r\n", HTTP_ERR_EXPECT, 417),
    BAD("Expect empty", "POST / HTTP/1.1\r\n" H "Expect:\r\n\r\n", HTTP_ERR_EXPECT, 417),
#undef H
#undef BAD
};

static void test_bad_requests(void **state)
{
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const struct bad *b = &bad_requests[i];
        http_request_t req;
        int r = parse_req(b->in, b->len, &req);
        if (r != HTTP_PARSE_ERROR || req.h.error != b->err)
            fail_msg("%s: result %d error %d (%s), want error %d", b->what, r, (int)req.h.error,
                     http_err_reason(req.h.error), (int)b->err);
        if (http_err_status(req.h.error) != b->status)
            fail_msg("%s: status %d, want %d", b->what, http_err_status(req.h.error), b->status);
        const char *reason = http_err_reason(req.h.error);
        assert_true(reason && *reason && strcmp(reason, "no error") != 0);
    }
    assert_true(sizeof bad_requests / sizeof bad_requests[0] >= 30);
}

static void test_too_many_headers(void **state)
{
    char in[4096];
    size_t n = many_headers(in, sizeof in, "GET / HTTP/1.1\r\nHost: h\r\n", HTTP_MAX_HEADERS);
    http_request_t req;
    assert_int_equal(parse_req(in, n, &req), HTTP_PARSE_ERROR);
    assert_int_equal(req.h.error, HTTP_ERR_TOO_MANY_HEADERS);
    assert_int_equal(http_err_status(req.h.error), 431);
}

static void test_err_reasons(void **state)
{
    for (int e = HTTP_ERR_METHOD; e <= HTTP_ERR_EXPECT; e++) {
        const char *r = http_err_reason((http_err_t)e);
        assert_non_null(r);
        assert_true(strlen(r) > 3);
        int st = http_err_status((http_err_t)e);
        assert_true(st == 400 || st == 417 || st == 431 || st == 501 || st == 505);
    }
    assert_string_equal(http_err_reason((http_err_t)1000), "bad request");
}

/* ---- responses ------------------------------------------------------------------------- */

static void test_responses(void **state)
{
    static const struct {
        const char *in;
        size_t head; /* 0: the whole input */
        int status;
        const char *reason;
        int64_t content_length;
        bool chunked, keep_alive;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 38, 200, "OK", 5, false, true},
        {"HTTP/1.1 204\r\n\r\n", 0, 204, "", -1, false, true},
        {"HTTP/1.1 404 \r\n\r\n", 0, 404, "", -1, false, true},
        {"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n", 0, 500, "Internal Server Error",
         -1, false, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, "OK", -1, true, true},
        /* RFC 9112 §6.3: Transfer-Encoding overrides Content-Length */
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, "OK", -1, true,
         true},
        /* a coding other than chunked: read until close */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 200, "OK", -1, false, true},
        /* RFC 9112 §6.3: chunked final means a chunked body, whatever codings come before */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 200, "OK", -1, true, true},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: x-custom;a=\"1,2\", gzip ;q=1,\tChunked \r\n\r\n", 0, 200,
         "OK", -1, true, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: deflate, chunked\r\n\r\n", 0, 200, "OK",
         -1, true, true},
        /* ... and chunked not final means until close */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 200, "OK", -1, false, true},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;a=\"x,chunked;\"\r\n\r\n", 0, 200, "OK", -1, false,
         true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 200, "OK", -1, false,
         true},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, "OK", 0, false, false},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 200, "OK", -1, false, true},
        {"HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu\t!\r\n\r\n", 0, 200, "D\xc3\xa9j\xc3\xa0 vu\t!", -1, false, true},
        {"HTTP/1.1 301 Moved\nLocation: /x\n\n", 0, 301, "Moved", -1, false, true},
        {"HTTP/1.1 304\n\n", 0, 304, "", -1, false, true},
        /* an interim response followed by the final one: one head at a time */
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 25, 100, "Continue", -1, false, true},
        /* Expect is a request header: a response's is ignored */
        {"HTTP/1.1 200 OK\r\nExpect: nonsense\r\n\r\n", 0, 200, "OK", -1, false, true},
        /* nginx */
        {"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 20 Nov 2023 10:00:00 GMT\r\n"
         "Content-Type: image/png\r\nContent-Length: 1234\r\nLast-Modified: Mon, 20 Nov 2023 09:00:00 GMT\r\n"
         "Connection: keep-alive\r\nETag: \"655b2f10-4d2\"\r\nAccept-Ranges: bytes\r\n\r\n",
         0, 200, "OK", 1234, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_response_t resp;
        size_t n = strlen(cases[i].in);
        size_t head = cases[i].head ? cases[i].head : n;
        assert_int_equal(parse_resp(cases[i].in, n, &resp), head);
        assert_int_equal(resp.status, cases[i].status);
        assert_span(resp.reason, resp.reason_len, cases[i].reason);
        assert_int_equal(resp.h.content_length, cases[i].content_length);
        assert_int_equal(resp.h.chunked, cases[i].chunked);
        if (resp.h.keep_alive != cases[i].keep_alive)
            fail_msg("response %zu: keep_alive %d", i, resp.h.keep_alive);
    }
}

static void test_response_headers(void **state)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nx-b:  v \r\n\r\n";
    http_response_t resp;
    assert_int_equal(parse_resp(LIT(in), &resp), sizeof in - 1);
    assert_int_equal(resp.h.minor_version, 1);
    assert_int_equal(resp.h.num_headers, 3);
    assert_header(&resp.h, 0, "Content-Type", "text/plain");
    assert_header(&resp.h, 1, "X-Empty", "");
    assert_header(&resp.h, 2, "x-b", "v");
    assert_ptr_equal(http_find_header(&resp.h, LIT("CONTENT-TYPE")), &resp.h.headers[0]);
}

static void test_bad_responses(void **state)
{
    static const struct bad cases[] = {
#define BAD(what, in, err) {what, in, sizeof(in) - 1, err, 0}
        BAD("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status below 100", "HTTP/1.1 099 X\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status letters", "HTTP/1.1 abc OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status ':' first", "HTTP/1.1 :00 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status ':' second", "HTTP/1.1 2:0 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status '/' second", "HTTP/1.1 2/0 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("status ':' third", "HTTP/1.1 20: OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("tab before reason", "HTTP/1.1 200\tOK\r\n\r\n", HTTP_ERR_STATUS),
        BAD("no space before status", "HTTP/1.1200 OK\r\n\r\n", HTTP_ERR_LINE),
        BAD("HTTP/2 without minor", "HTTP/2 200 OK\r\n\r\n", HTTP_ERR_VERSION),
        BAD("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", HTTP_ERR_VERSION_UNSUPPORTED),
        BAD("bad protocol", "ICY 200 OK\r\n\r\n", HTTP_ERR_VERSION),
        BAD("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", HTTP_ERR_VERSION),
        BAD("bare CR after status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", HTTP_ERR_LINE),
        BAD("control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_ERR_LINE),
        BAD("NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n", HTTP_ERR_LINE),
        BAD("header without colon", "HTTP/1.1 200 OK\r\nServer nginx\r\n\r\n", HTTP_ERR_HEADER_NAME),
        BAD("space before colon", "HTTP/1.1 200 OK\r\nServer : x\r\n\r\n", HTTP_ERR_HEADER_NAME),
        BAD("control byte in value", "HTTP/1.1 200 OK\r\nX: \x02\r\n\r\n", HTTP_ERR_HEADER_VALUE),
        BAD("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP_ERR_OBS_FOLD),
        BAD("CL letters", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", HTTP_ERR_CONTENT_LENGTH),
        BAD("CL conflicting", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            HTTP_ERR_CONTENT_LENGTH),
        BAD("TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            HTTP_ERR_HEADER_VALUE),
        BAD("TE in two headers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            HTTP_ERR_TE_CHUNKED),
#undef BAD
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_response_t resp;
        int r = parse_resp(cases[i].in, cases[i].len, &resp);
        if (r != HTTP_PARSE_ERROR || resp.h.error != cases[i].err)
            fail_msg("%s: result %d error %d, want error %d", cases[i].what, r, (int)resp.h.error,
                     (int)cases[i].err);
    }
    char in[4096];
    size_t n = many_headers(in, sizeof in, "HTTP/1.1 200 OK\r\n", HTTP_MAX_HEADERS + 1);
    http_response_t resp;
    assert_int_equal(parse_resp(in, n, &resp), HTTP_PARSE_ERROR);
    assert_int_equal(resp.h.error, HTTP_ERR_TOO_MANY_HEADERS);
}

/* ---- chunked bodies -------------------------------------------------------------------- */

struct sink {
    char data[16384];
    size_t len;
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
    assert_true(n <= sizeof s->data - s->len);
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

/* Feeds in[0..n) to a fresh decoder as a reader would: a first piece of `first` bytes, then
 * pieces of `step` bytes, each copied to end at the guard page. Decoded bytes go to `out`;
 * once the body ends, the reported bytes after it and all input not yet fed go to `tail`.
 * Returns the last status. */
static ssize_t decode_pieces(const char *in, size_t n, size_t first, size_t step, struct sink *out,
                             struct sink *tail)
{
    http_chunked_t d = {0};
    ssize_t r = HTTP_PARSE_INCOMPLETE;
    out->len = tail->len = 0;
    for (size_t off = 0, piece = first; off < n; piece = step) {
        size_t len = piece < n - off ? piece : n - off;
        char *b = guarded(in + off, len);
        size_t dec = len;
        r = http_chunked_decode(&d, b, &dec);
        off += len;
        if (r == HTTP_PARSE_ERROR)
            return r;
        assert_true(dec <= len);
        sink_put(out, b, dec);
        if (r >= 0) {
            assert_true((size_t)r <= len - dec);
            sink_put(tail, b + dec, (size_t)r);
            sink_put(tail, in + off, n - off);
            return r;
        }
    }
    return r;
}

/* Decodes in whole, a byte at a time and split at every offset: each must give `want` and
 * report `tail` as the bytes after the body. */
static void check_chunked(const char *in, size_t n, const char *want, size_t want_len, const char *tail,
                          size_t tail_len)
{
    static struct sink out, rest;
    /* k == 0: a byte at a time; 0 < k < n: split after k bytes; k == n: one call */
    for (size_t k = 0; k <= n; k++) {
        size_t first = k ? k : 1, step = k ? n : 1;
        ssize_t r = decode_pieces(in, n, first, step, &out, &rest);
        if (r < 0)
            fail_msg("pieces %zu then %zu: status %zd", first, step, r);
        if (k == n)
            assert_int_equal(r, tail_len); /* one call reports all the trailing bytes */
        assert_int_equal(out.len, want_len);
        assert_memory_equal(out.data, want, want_len);
        assert_int_equal(rest.len, tail_len);
        assert_memory_equal(rest.data, tail, tail_len);
    }
}

#define CHUNKED_OK(in, want, tail) check_chunked(LIT(in), LIT(want), LIT(tail))

static void test_chunked(void **state)
{
    CHUNKED_OK("5\r\nhello\r\n0\r\n\r\n", "hello", "");
    CHUNKED_OK("0\r\n\r\n", "", "");
    CHUNKED_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", "");
    CHUNKED_OK("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", "");
    CHUNKED_OK("1F\r\n0123456789012345678901234567890\r\n1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n",
               "01234567890123456789012345678900123456789012345678901234567890", "");
    CHUNKED_OK("0005\r\nhello\r\n000\r\n\r\n", "hello", "");
    CHUNKED_OK("0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", ""); /* 16 digits */
    CHUNKED_OK("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", "");
    CHUNKED_OK("5 ;a=\"b c\"\r\nhello\r\n0\t;x\r\n\r\n", "hello", "");
    CHUNKED_OK("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n", "hello", "");
    /* the body's bytes are data, whatever they look like */
    CHUNKED_OK("9\r\n\r\n0\r\n\r\n\0\xff\r\n0\r\n\r\n", "\r\n0\r\n\r\n\0\xff", "");
    /* the next message follows the body: reported, not decoded */
    CHUNKED_OK("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "abc", "GET / HTTP/1.1\r\n");
    CHUNKED_OK("3\r\nabc\r\n0\r\nT: v\r\n\r\nX", "abc", "X");
    /* trailers are field lines as in a head: empty values, OWS and obs-text are fine */
    CHUNKED_OK("1\r\na\r\n0\r\nX-Empty:\r\nx-b:\t v \t\r\nX-C: caf\xc3\xa9 \x80\r\n\r\nN", "a", "N");
}

static void test_chunked_large(void **state)
{
    static char in[12000], want[10000];
    for (size_t i = 0; i < sizeof want; i++)
        want[i] = (char)(i * 7 + 1);
    int n = snprintf(in, sizeof in, "%zx\r\n", sizeof want);
    memcpy(in + n, want, sizeof want);
    n += (int)sizeof want;
    n += snprintf(in + n, sizeof in - (size_t)n, "\r\n0\r\n\r\nnext");
    static struct sink out, rest;
    /* whole, a byte at a time, and some uneven pieces (every split would be slow here) */
    const size_t pieces[][2] = {{(size_t)n, 0}, {1, 1}, {3, 4096}, {4, 1}, {5, 7}, {10005, 1}};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t step = pieces[i][1] ? pieces[i][1] : (size_t)n;
        assert_true(decode_pieces(in, (size_t)n, pieces[i][0], step, &out, &rest) >= 0);
        assert_int_equal(out.len, sizeof want);
        assert_memory_equal(out.data, want, sizeof want);
        assert_int_equal(rest.len, 4);
        assert_memory_equal(rest.data, "next", 4);
    }
}

static void test_chunked_incomplete(void **state)
{
    static const char *const ins[] = {"", "5", "5\r", "5\r\nhel", "5\r\nhello\r", "5\r\nhello\r\n0\r\n",
                                      "5\r\nhello\r\n0\r\nX: y\r\n", "ffffffffffffffff\r\n",
                                      "5\r\nhello\r\n0\r\n\r"};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        static struct sink out, rest;
        size_t n = strlen(ins[i]);
        assert_int_equal(decode_pieces(ins[i], n, n, n, &out, &rest), HTTP_PARSE_INCOMPLETE);
        assert_int_equal(decode_pieces(ins[i], n, 1, 1, &out, &rest), HTTP_PARSE_INCOMPLETE);
    }
}

/* True when in[0..n) is an error whole, a byte at a time and in uneven pieces; else prints
 * what was accepted. */
static bool chunked_rejected(const char *what, const char *in, size_t n)
{
    static struct sink out, rest;
    const size_t pieces[][2] = {{n, n}, {1, 1}, {2, 3}};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        if (decode_pieces(in, n, pieces[i][0], pieces[i][1], &out, &rest) != HTTP_PARSE_ERROR) {
            print_error("%s: accepted (pieces %zu, %zu)\n", what, pieces[i][0], pieces[i][1]);
            return false;
        }
    return true;
}

static void check_chunked_bad(const char *what, const char *in, size_t n)
{
    if (!chunked_rejected(what, in, n))
        fail_msg("%s: accepted", what);
}

static void test_chunked_bad(void **state)
{
    static const struct {
        const char *what, *in;
        size_t len;
    } cases[] = {
#define BAD(what, in) {what, in, sizeof(in) - 1}
        BAD("not hex", "x\r\n"),
        BAD("hex then garbage", "5x\r\nhello\r\n0\r\n\r\n"),
        BAD("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
        BAD("negative", "-5\r\nhello\r\n0\r\n\r\n"),
        BAD("empty size line", "\r\nhello\r\n0\r\n\r\n"),
        BAD("leading space", " 5\r\nhello\r\n0\r\n\r\n"),
        BAD("17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"),
        BAD("2^64", "10000000000000000\r\n"),
        BAD("bare CR after size", "5\rhello\r\n0\r\n\r\n"),
        BAD("data too long", "5\r\nhelloX\r\n0\r\n\r\n"),
        BAD("data too short", "5\r\nhel\r\n0\r\n\r\n"),
        BAD("bare CR after data", "5\r\nhello\rX0\r\n\r\n"),
        BAD("missing last chunk", "5\r\nhello\r\n\r\n"),
        BAD("bare CR at the end", "5\r\nhello\r\n0\r\n\rX"),
        BAD("NUL in extension", "5;a\0b\r\nhello\r\n0\r\n\r\n"),
        BAD("bad second size", "5 \r\nhello\r\nz\r\n"),
        /* framing is CRLF only: a lenient decoder is a smuggling vector */
        BAD("bare LF after size", "5\nhello\r\n0\r\n\r\n"),
        BAD("bare LF after data", "5\r\nhello\n0\r\n\r\n"),
        BAD("bare LF after extension", "5;x\nhello\r\n0\r\n\r\n"),
        BAD("bare LF at the end", "5\r\nhello\r\n0\r\n\n"),
        BAD("extension without ';'", "1 2\r\nx\r\n0\r\n\r\n"),
#undef BAD
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_chunked_bad(cases[i].what, cases[i].in, cases[i].len);
}

/* Trailer lines follow the head's rules, and CRLF only like the rest of the framing: a
 * decoder that ends a trailer line where a front end does not can be made to see a different
 * next request (the same smuggling vector as a lenient chunk-size line). */
static void test_chunked_bad_trailers(void **state)
{
    static const struct {
        const char *what, *in;
        size_t len;
    } cases[] = {
#define BAD(what, in) {what, in, sizeof(in) - 1}
        BAD("bare LF ends a trailer", "0\r\nX: y\n\r\n"),
        BAD("bare LF ends the second trailer", "0\r\nA: b\r\nX: y\n\r\n"),
        BAD("bare LF after a trailer", "0\r\nX: y\r\n\n"),
        BAD("bare LF hides a request", "0\r\nX: y\nGET /admin HTTP/1.1\r\n\r\n"),
        BAD("bare CR in a trailer value", "0\r\nX: a\rb\r\n\r\n"),
        BAD("bare CR ends a trailer", "0\r\nX: y\r\r\n"),
        BAD("bare CR in a trailer name", "0\r\nX\r: y\r\n\r\n"),
        BAD("CR CR LF after a trailer", "0\r\nX: y\r\n\r\r\n"),
        BAD("NUL in a trailer value", "0\r\nX: a\0b\r\n\r\n"),
        BAD("NUL in a trailer name", "0\r\nX\0Y: b\r\n\r\n"),
        BAD("NUL starts a trailer", "0\r\n\0X: b\r\n\r\n"),
        BAD("control byte in a trailer value", "0\r\nX: \x1b[1m\r\n\r\n"),
        BAD("DEL in a trailer value", "0\r\nX: a\x7f\r\n\r\n"),
        BAD("trailer without colon", "0\r\nX-Checksum abc\r\n\r\n"),
        BAD("trailer with empty name", "0\r\n: abc\r\n\r\n"),
        BAD("space before trailer colon", "0\r\nX : abc\r\n\r\n"),
        BAD("obs-fold in trailers", "0\r\nX: a\r\n b\r\n\r\n"),
        BAD("trailer starting with a tab", "0\r\n\tX: a\r\n\r\n"),
#undef BAD
    };
    size_t accepted = 0; /* every case is tried, so a failure lists all of them */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        accepted += !chunked_rejected(cases[i].what, cases[i].in, cases[i].len);
    if (accepted)
        fail_msg("%zu malformed trailer sections accepted", accepted);
}

static void test_chunked_long_lines(void **state)
{
    static char in[16384];
    /* an extension line over the 4 KiB bound */
    size_t n = (size_t)snprintf(in, sizeof in, "5;");
    memset(in + n, 'a', 5000);
    n += 5000;
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\nhello\r\n0\r\n\r\n");
    check_chunked_bad("long extension", in, n);

    /* one trailer line over the bound */
    n = (size_t)snprintf(in, sizeof in, "0\r\nX: ");
    memset(in + n, 'b', 5000);
    n += 5000;
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\n\r\n");
    check_chunked_bad("long trailer", in, n);

    /* many short trailer lines: the bound is on all trailers together */
    n = (size_t)snprintf(in, sizeof in, "0\r\n");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "X-%03d: 123\r\n", i);
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\n");
    check_chunked_bad("many trailers", in, n);

    /* extensions and trailers within the bound */
    n = (size_t)snprintf(in, sizeof in, "5;");
    memset(in + n, 'a', 1000);
    n += 1000;
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\nhello\r\n0\r\nX: ");
    memset(in + n, 'b', 1000);
    n += 1000;
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\n\r\n");
    check_chunked(in, n, LIT("hello"), LIT(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_head_and_other_methods),
        cmocka_unit_test(test_query_string),
        cmocka_unit_test(test_versions_and_keep_alive),
        cmocka_unit_test(test_http10_without_host),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked_request),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_ows_and_empty_values),
        cmocka_unit_test(test_leading_empty_lines_and_bare_lf),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_max_headers),
        cmocka_unit_test(test_real_clients),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_err_reasons),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_response_headers),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_large),
        cmocka_unit_test(test_chunked_incomplete),
        cmocka_unit_test(test_chunked_bad),
        cmocka_unit_test(test_chunked_bad_trailers),
        cmocka_unit_test(test_chunked_long_lines),
    };
    return cmocka_run_group_tests(tests, arena_setup, arena_teardown);
}
