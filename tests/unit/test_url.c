/* url_parse: the accepted shapes, every error status, and that nothing is read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/url.h"

static url_status_t parse(const char *s, url_t *u)
{
    return url_parse(s, strlen(s), u);
}

static void assert_slice(const char *p, size_t n, const char *want)
{
    assert_non_null(p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static char *target(const url_t *u)
{
    char *t = calloc(1, url_target_len(u) + 1);
    assert_int_equal(url_write_target(u, t), url_target_len(u));
    return t;
}

static void test_basic(void **state)
{
    url_t u;
    assert_int_equal(parse("http://example.com/a/b?x=1&y=2", &u), URL_OK);
    assert_int_equal(u.scheme, URL_HTTP);
    assert_slice(u.host, u.host_len, "example.com");
    assert_int_equal(u.port, 80);
    assert_false(u.port_explicit);
    assert_slice(u.hostport, u.hostport_len, "example.com");
    assert_slice(u.path, u.path_len, "/a/b");
    assert_slice(u.query, u.query_len, "x=1&y=2");
    assert_null(u.userinfo);
    char *t = target(&u);
    assert_string_equal(t, "/a/b?x=1&y=2");
    free(t);
}

static void test_port_and_https(void **state)
{
    url_t u;
    assert_int_equal(parse("HTTPS://127.0.0.1:8443/x", &u), URL_OK);
    assert_int_equal(u.scheme, URL_HTTPS);
    assert_int_equal(u.port, 8443);
    assert_true(u.port_explicit);
    assert_slice(u.host, u.host_len, "127.0.0.1");
    assert_slice(u.hostport, u.hostport_len, "127.0.0.1:8443");
    assert_int_equal(parse("https://h/", &u), URL_OK);
    assert_int_equal(u.port, 443);
    assert_int_equal(parse("http://h:65535/", &u), URL_OK);
    assert_int_equal(u.port, 65535);
}

static void test_empty_path(void **state)
{
    url_t u;
    assert_int_equal(parse("http://h", &u), URL_OK);
    assert_slice(u.path, u.path_len, "/");
    assert_null(u.query);
    assert_int_equal(parse("http://h:81", &u), URL_OK);
    assert_int_equal(u.port, 81);
    assert_slice(u.path, u.path_len, "/");
    /* A query without a path still makes a valid origin-form target. */
    assert_int_equal(parse("http://h?q=1", &u), URL_OK);
    char *t = target(&u);
    assert_string_equal(t, "/?q=1");
    free(t);
    /* An empty query is kept (the '?' is part of the target). */
    assert_int_equal(parse("http://h/p?", &u), URL_OK);
    assert_non_null(u.query);
    assert_int_equal(u.query_len, 0);
    t = target(&u);
    assert_string_equal(t, "/p?");
    free(t);
}

static void test_fragment_dropped(void **state)
{
    url_t u;
    assert_int_equal(parse("http://h/p?q#frag", &u), URL_OK);
    char *t = target(&u);
    assert_string_equal(t, "/p?q");
    free(t);
    assert_int_equal(parse("http://h#f", &u), URL_OK);
    assert_slice(u.path, u.path_len, "/");
    assert_null(u.query);
}

static void test_ipv6(void **state)
{
    url_t u;
    assert_int_equal(parse("http://[::1]:8080/x", &u), URL_OK);
    assert_true(u.host_ipv6);
    assert_slice(u.host, u.host_len, "::1");
    assert_slice(u.hostport, u.hostport_len, "[::1]:8080");
    assert_int_equal(u.port, 8080);
    assert_int_equal(parse("http://[2001:db8::7]/", &u), URL_OK);
    assert_int_equal(u.port, 80);
    assert_int_equal(parse("http://[::1/", &u), URL_ERR_IPV6);
    assert_int_equal(parse("http://[zz::1]/", &u), URL_ERR_IPV6);
    assert_int_equal(parse("http://[]/", &u), URL_ERR_IPV6);
    assert_int_equal(parse("http://[::1]x/", &u), URL_ERR_IPV6);
    assert_int_equal(parse("http://[fe80::1%25eth0]/", &u), URL_ERR_IPV6);
    assert_int_equal(parse("http://[v1.x]/", &u), URL_ERR_IPV6);
}

static void test_userinfo(void **state)
{
    url_t u;
    assert_int_equal(parse("http://user:pa%20ss@h:81/p", &u), URL_OK);
    assert_slice(u.userinfo, u.userinfo_len, "user:pa%20ss");
    assert_slice(u.host, u.host_len, "h");
    assert_slice(u.hostport, u.hostport_len, "h:81");
    /* Two '@': refused rather than guessing which host is meant (an SSRF classic). */
    assert_int_equal(parse("http://a@b@c/", &u), URL_ERR_USERINFO);
    assert_int_equal(parse("http://a b@c/", &u), URL_ERR_USERINFO);
    /* '@' after the authority is path, not userinfo. */
    assert_int_equal(parse("http://h/a@b", &u), URL_OK);
    assert_slice(u.host, u.host_len, "h");
}

static void test_malformed(void **state)
{
    url_t u;
    static const struct {
        const char *s;
        url_status_t want;
    } cases[] = {
        {"", URL_ERR_SCHEME},
        {"example.com/", URL_ERR_SCHEME},
        {"ftp://h/", URL_ERR_SCHEME},
        {"http:/h/", URL_ERR_SCHEME},
        {"http:h", URL_ERR_SCHEME},
        {"file:///etc/passwd", URL_ERR_SCHEME},
        {"http://", URL_ERR_HOST},
        {"http:///path", URL_ERR_HOST},
        {"http://:80/", URL_ERR_HOST},
        {"http://ho st/", URL_ERR_HOST},
        {"http://h\\evil/", URL_ERR_HOST},
        {"http://h%2/", URL_ERR_HOST},
        {"http://h%zz/", URL_ERR_HOST},
        {"http://h:/", URL_ERR_PORT},
        {"http://h:0/", URL_ERR_PORT},
        {"http://h:65536/", URL_ERR_PORT},
        {"http://h:99999999999999999999/", URL_ERR_PORT},
        {"http://h:8a/", URL_ERR_PORT},
        {"http://h:-1/", URL_ERR_PORT},
        {"http://h:80:81/", URL_ERR_PORT},
        {"http://h/a b", URL_ERR_PATH},
        {"http://h/a\tb", URL_ERR_PATH},
        {"http://h/a\r\nHost: x", URL_ERR_PATH},
        {"http://h/\x7f", URL_ERR_PATH},
        {"http://h/caf\xc3\xa9", URL_ERR_PATH},
        {"http://h/p#a b", URL_ERR_PATH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        url_status_t st = parse(cases[i].s, &u);
        if (st != cases[i].want)
            fail_msg("'%s': got %d (%s), want %d", cases[i].s, st, url_strerror(st), cases[i].want);
        assert_non_null(url_strerror(st));
    }
}

static void test_too_long(void **state)
{
    size_t n = URL_MAX_LEN + 1;
    char *s = malloc(n);
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'a', n - 9);
    url_t u;
    assert_int_equal(url_parse(s, n, &u), URL_ERR_TOO_LONG);
    assert_int_equal(url_parse(s, URL_MAX_LEN, &u), URL_OK);
    free(s);
}

/* The input is not NUL-terminated: a copy ending exactly at the end of a heap block lets
 * ASan catch any read past len. */
/* A copy of s[0..n) that ends at a PROT_NONE page, so reading s[n] faults: a malloc'd copy
 * would not catch a short overread (the allocator rounds sizes up), and a prefix of a longer
 * copy has the rest of the input right after it. Each copy gets its own mapping. */
typedef struct {
    char *map;
    size_t map_len;
    char *s;
} guarded_t;

static guarded_t guarded(const char *s, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = n ? (n + page - 1) / page * page : page;
    guarded_t g = {.map_len = data + page};
    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.map != MAP_FAILED);
    assert_int_equal(mprotect(g.map + data, page, PROT_NONE), 0);
    g.s = g.map + data - n;
    memcpy(g.s, s, n);
    return g;
}

static void test_no_overread(void **state)
{
    static const char *const inputs[] = {"http://h",
                                         "http://h:8",
                                         "http://[::1]",
                                         "http://u@h",
                                         "https://h/p?q",
                                         "http://h%4",
                                         "http:",
                                         "h",
                                         "http://u:p%4",
                                         "http://[::1",
                                         "http://[::1]:",
                                         "HTTPS://",
                                         "http://h/a#f",
                                         "http://a@b@c",
                                         "http://h:65535/x",
                                         "http://h?"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) { /* every prefix, and the whole input */
            guarded_t g = guarded(inputs[i], k);
            url_t u;
            if (url_parse(g.s, k, &u) == URL_OK)
                free(target(&u)); /* reads path and query, which point into g.s */
            munmap(g.map, g.map_len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),       cmocka_unit_test(test_port_and_https),
        cmocka_unit_test(test_empty_path),  cmocka_unit_test(test_fragment_dropped),
        cmocka_unit_test(test_ipv6),        cmocka_unit_test(test_userinfo),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_no_overread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
