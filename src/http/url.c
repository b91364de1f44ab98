#include "http/url.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static bool is_unreserved_or_subdelim(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Host and userinfo share one alphabet (userinfo adds ':'), %XX escapes included. */
static bool valid_component(const char *s, size_t n, bool colon_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!(is_unreserved_or_subdelim(c) || (colon_ok && c == ':'))) {
            return false;
        }
    }
    return true;
}

static bool valid_ipv6(const char *s, size_t n)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    /* inet_pton stops at a NUL: "[::1\0<anything>]" would pass with the rest unchecked */
    if (n == 0 || n >= sizeof tmp || memchr(s, '\0', n)) return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Parses "host[:port]" (no userinfo). */
static url_status_t parse_hostport(const char *s, size_t n, url_t *u)
{
    size_t host_end;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || !valid_ipv6(s + 1, (size_t)(close - s - 1))) return URL_ERR_IPV6;
        u->host = s + 1;
        u->host_len = (size_t)(close - s - 1);
        u->host_ipv6 = true;
        host_end = (size_t)(close - s) + 1;
        if (host_end < n && s[host_end] != ':') return URL_ERR_IPV6;
    } else {
        const char *colon = memchr(s, ':', n);
        host_end = colon ? (size_t)(colon - s) : n;
        if (host_end == 0 || !valid_component(s, host_end, false)) return URL_ERR_HOST;
        u->host = s;
        u->host_len = host_end;
    }
    if (host_end == n) return URL_OK;
    /* s[host_end] == ':' */
    size_t p = host_end + 1;
    if (p == n) return URL_ERR_PORT;
    unsigned long port = 0;
    for (; p < n; p++) {
        if (s[p] < '0' || s[p] > '9') return URL_ERR_PORT;
        port = port * 10 + (unsigned long)(s[p] - '0');
        if (port > 65535) return URL_ERR_PORT;
    }
    if (port == 0) return URL_ERR_PORT;
    u->port = (uint16_t)port;
    u->port_explicit = true;
    return URL_OK;
}

url_status_t url_parse(const char *s, size_t len, url_t *u)
{
    if (len > URL_MAX_LEN) return URL_ERR_TOO_LONG;
    memset(u, 0, sizeof *u);
    size_t i;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        u->scheme = URL_HTTP;
        u->port = 80;
        i = 7;
    } else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        u->scheme = URL_HTTPS;
        u->port = 443;
        i = 8;
    } else {
        return URL_ERR_SCHEME;
    }

    size_t auth_end = i;
    while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
        auth_end++;
    /* The last '@': an earlier one is then inside the userinfo, where it is refused. */
    const char *at = memrchr(s + i, '@', auth_end - i);
    if (at) {
        u->userinfo = s + i;
        u->userinfo_len = (size_t)(at - (s + i));
        if (!valid_component(u->userinfo, u->userinfo_len, true)) return URL_ERR_USERINFO;
        i = (size_t)(at - s) + 1;
    }
    u->hostport = s + i;
    u->hostport_len = auth_end - i;
    url_status_t st = parse_hostport(u->hostport, u->hostport_len, u);
    if (st != URL_OK) return st;

    /* Everything after the authority must be visible ASCII; the fragment is checked too
     * so a URL with a space after '#' is reported, not half-used. */
    for (size_t k = auth_end; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c <= 0x20 || c >= 0x7f) return URL_ERR_PATH;
    }
    const char *hash = memchr(s + auth_end, '#', len - auth_end);
    size_t end = hash ? (size_t)(hash - s) : len;
    const char *q = memchr(s + auth_end, '?', end - auth_end);
    size_t path_end = q ? (size_t)(q - s) : end;
    if (path_end == auth_end) {
        u->path = "/";
        u->path_len = 1;
    } else {
        u->path = s + auth_end;
        u->path_len = path_end - auth_end;
    }
    if (q) {
        u->query = q + 1;
        u->query_len = end - path_end - 1;
    }
    return URL_OK;
}

size_t url_write_target(const url_t *u, char *dst)
{
    memcpy(dst, u->path, u->path_len);
    size_t n = u->path_len;
    if (u->query) {
        dst[n++] = '?';
        memcpy(dst + n, u->query, u->query_len);
        n += u->query_len;
    }
    return n;
}

const char *url_strerror(url_status_t st)
{
    switch (st) {
    case URL_OK:
        return "ok";
    case URL_ERR_TOO_LONG:
        return "url too long";
    case URL_ERR_SCHEME:
        return "url must start with http:// or https://";
    case URL_ERR_USERINFO:
        return "invalid character before '@'";
    case URL_ERR_HOST:
        return "missing or invalid host";
    case URL_ERR_IPV6:
        return "invalid IPv6 address";
    case URL_ERR_PORT:
        return "invalid port";
    case URL_ERR_PATH:
        return "invalid character in path or query";
    }
    return "invalid url";
}
