/* url_parse on arbitrary bytes, with url.h's contract checked beyond what the sanitizers see:
 *   - an exactly sized copy, so ASan catches any read past len;
 *   - every status is one of url.h's, with a reason; URL_ERR_TOO_LONG exactly above the limit;
 *   - on URL_OK, every field points inside the input where url.h says (userinfo right after
 *     the scheme and before '@', the host inside hostport, path after hostport, query after
 *     '?'), the port agrees with its digits, and nothing that ends up in a request line or a
 *     Host header holds a control byte, a space, DEL or a non-ASCII byte;
 *   - url_write_target writes url_target_len bytes into a buffer of exactly that size;
 *   - round trip: the URL rebuilt from the fields (scheme, userinfo, hostport, target) parses
 *     to the same fields, and rebuilding that gives the same bytes.
 * Failures abort(), so the plain replay build fails too. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/url.h"
#include "fuzz_check.h"


static bool inside(const char *p, size_t n, const char *s, size_t len)
{
    return p >= s && (size_t)(p - s) <= len && n <= len - (size_t)(p - s);
}

/* Bytes that may go into a request line or a header value unescaped. */
static bool visible(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f) return false;
    return true;
}

static bool has_any(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(set, p[i])) return true;
    return false;
}

static void check_fields(const url_t *u, const char *s, size_t len)
{
    size_t scheme_len = u->scheme == URL_HTTPS ? 8 : 7;
    CHECK(u->scheme == URL_HTTP || u->scheme == URL_HTTPS);
    CHECK(len >= scheme_len &&
          strncasecmp(s, u->scheme == URL_HTTPS ? "https://" : "http://", scheme_len) == 0);

    const char *auth = s + scheme_len;
    if (u->userinfo) {
        CHECK(u->userinfo == auth && inside(u->userinfo, u->userinfo_len + 1, s, len));
        CHECK(u->userinfo[u->userinfo_len] == '@' && u->hostport == u->userinfo + u->userinfo_len + 1);
        CHECK(visible(u->userinfo, u->userinfo_len) && !has_any(u->userinfo, u->userinfo_len, "/?#@[]"));
    } else {
        CHECK(u->userinfo_len == 0 && u->hostport == auth);
    }

    CHECK(inside(u->hostport, u->hostport_len, s, len));
    CHECK(visible(u->hostport, u->hostport_len) && !has_any(u->hostport, u->hostport_len, "/?#@"));
    CHECK(u->host_len > 0);
    size_t host_end; /* where host (with its brackets) ends in hostport */
    if (u->host_ipv6) {
        CHECK(u->hostport[0] == '[' && u->host == u->hostport + 1);
        host_end = u->host_len + 2;
        CHECK(host_end <= u->hostport_len && u->host[u->host_len] == ']');
        char tmp[INET6_ADDRSTRLEN];
        struct in6_addr a;
        CHECK(u->host_len < sizeof tmp);
        memcpy(tmp, u->host, u->host_len);
        tmp[u->host_len] = 0;
        CHECK(inet_pton(AF_INET6, tmp, &a) == 1);
    } else {
        CHECK(u->host == u->hostport);
        host_end = u->host_len;
        CHECK(host_end <= u->hostport_len && !has_any(u->host, u->host_len, ":[]"));
    }
    if (u->port_explicit) {
        CHECK(host_end + 1 < u->hostport_len && u->hostport[host_end] == ':');
        unsigned long port = 0;
        for (size_t i = host_end + 1; i < u->hostport_len; i++) {
            CHECK(u->hostport[i] >= '0' && u->hostport[i] <= '9');
            port = port * 10 + (unsigned long)(u->hostport[i] - '0');
            CHECK(port <= 65535);
        }
        CHECK(port == u->port && port != 0);
    } else {
        CHECK(host_end == u->hostport_len);
        CHECK(u->port == (u->scheme == URL_HTTPS ? 443 : 80));
    }

    const char *after = u->hostport + u->hostport_len; /* the path, '?', '#' or the end */
    CHECK(u->path_len > 0 && u->path[0] == '/');
    if (inside(u->path, u->path_len, s, len))
        CHECK(u->path == after);
    else /* the static "/" of a URL without a path */
        CHECK(u->path_len == 1 && (after == s + len || *after == '?' || *after == '#'));
    CHECK(visible(u->path, u->path_len) && !has_any(u->path, u->path_len, "?#"));
    if (u->query) {
        CHECK(inside(u->query, u->query_len, s, len) && u->query > after && u->query[-1] == '?');
        CHECK(visible(u->query, u->query_len) && !has_any(u->query, u->query_len, "#"));
    } else {
        CHECK(u->query_len == 0);
    }

    size_t tlen = url_target_len(u);
    char *t = malloc(tlen);
    CHECK(url_write_target(u, t) == tlen);
    CHECK(memcmp(t, u->path, u->path_len) == 0);
    CHECK(!u->query || (t[u->path_len] == '?' && memcmp(t + u->path_len + 1, u->query, u->query_len) == 0));
    free(t);
}

/* scheme "://" [userinfo "@"] hostport target: what a client would send, in one string. */
static char *rebuild(const url_t *u, size_t *n)
{
    const char *scheme = u->scheme == URL_HTTPS ? "https://" : "http://";
    size_t len =
        strlen(scheme) + (u->userinfo ? u->userinfo_len + 1 : 0) + u->hostport_len + url_target_len(u);
    char *b = malloc(len), *p = b;
    memcpy(p, scheme, strlen(scheme));
    p += strlen(scheme);
    if (u->userinfo) {
        memcpy(p, u->userinfo, u->userinfo_len);
        p += u->userinfo_len;
        *p++ = '@';
    }
    memcpy(p, u->hostport, u->hostport_len);
    p += u->hostport_len;
    p += url_write_target(u, p);
    CHECK((size_t)(p - b) == len);
    *n = len;
    return b;
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    url_t u;
    url_status_t st = url_parse(s, size, &u);
    CHECK(st >= URL_OK && st <= URL_ERR_PATH);
    const char *why = url_strerror(st);
    CHECK(why && *why);
    CHECK((st == URL_ERR_TOO_LONG) == (size > URL_MAX_LEN));
    if (st == URL_OK) {
        check_fields(&u, s, size);

        size_t n1, n2;
        char *b1 = rebuild(&u, &n1);
        url_t v;
        CHECK(url_parse(b1, n1, &v) == URL_OK);
        check_fields(&v, b1, n1);
        CHECK(v.scheme == u.scheme && v.port == u.port && v.port_explicit == u.port_explicit);
        CHECK(v.host_ipv6 == u.host_ipv6);
        CHECK(!v.userinfo == !u.userinfo && same(v.userinfo, v.userinfo_len, u.userinfo, u.userinfo_len));
        CHECK(same(v.host, v.host_len, u.host, u.host_len));
        CHECK(same(v.hostport, v.hostport_len, u.hostport, u.hostport_len));
        CHECK(same(v.path, v.path_len, u.path, u.path_len));
        CHECK(!v.query == !u.query && same(v.query, v.query_len, u.query, u.query_len));
        char *b2 = rebuild(&v, &n2);
        CHECK(same(b1, n1, b2, n2));
        free(b2);
        free(b1);
    }
    free(s);
    return 0;
}
