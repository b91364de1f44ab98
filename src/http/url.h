/*
 * url: absolute http and https URLs (RFC 3986 syntax, the subset HTTP clients send).
 *
 * Shared by pixload (the target URL, scenario URLs) and pixd (checking /magic/imageurl
 * URLs before fetching). Stateless, never allocates: every pointer in url_t points into the
 * caller's string, which must outlive the result.
 *
 * Accepted: "http://" or "https://" (scheme case-insensitive), an optional "userinfo@",
 * a host (a registered name or IPv4 address of unreserved, sub-delim and %XX bytes, or an
 * IPv6 literal in brackets), an optional ":port" (1..65535, digits only), then a path
 * starting with '/', an optional "?query" and an optional "#fragment" (dropped: fragments
 * are never sent). An empty path becomes "/".
 * Rejected, each with its own status: another scheme, no "//", an empty host, a host byte
 * outside the allowed set, userinfo bytes outside the allowed set (so a second '@' is an
 * error, never a guess at which '@' ends the userinfo), a malformed IPv6 literal (zone
 * identifiers and IPvFuture included), an empty, non-numeric or out-of-range
 * port, a path, query or fragment byte that is not a visible ASCII character (controls,
 * space, DEL and bytes >= 0x80 must be percent-encoded), and URLs over URL_MAX_LEN bytes.
 * The host is returned as written (no lower-casing, no percent-decoding, no IDNA).
 */
#ifndef PIXD_HTTP_URL_H
#define PIXD_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_MAX_LEN 8192

typedef enum {
    URL_OK = 0,
    URL_ERR_TOO_LONG, /* longer than URL_MAX_LEN */
    URL_ERR_SCHEME,   /* not http:// or https:// */
    URL_ERR_USERINFO, /* a byte not allowed before '@' (including a second '@') */
    URL_ERR_HOST,     /* empty host, or a byte not allowed in a host */
    URL_ERR_IPV6,     /* '[' without a valid IPv6 literal and ']' */
    URL_ERR_PORT,     /* empty, not digits, 0 or > 65535 */
    URL_ERR_PATH,     /* a byte in path, query or fragment that is not visible ASCII */
} url_status_t;

typedef enum {
    URL_HTTP,
    URL_HTTPS,
} url_scheme_t;

typedef struct {
    url_scheme_t scheme;
    const char *userinfo; /* before '@', NULL when absent (never sent: no auth support) */
    size_t userinfo_len;
    const char *host; /* without the brackets of an IPv6 literal */
    size_t host_len;
    bool host_ipv6; /* host was a bracketed IPv6 literal */
    uint16_t port;  /* explicit, else 80 (http) or 443 (https) */
    bool port_explicit;
    const char *hostport; /* host[:port] as written (brackets kept): the Host header value */
    size_t hostport_len;
    const char *path; /* up to '?' or '#'; a static "/" when the URL has no path */
    size_t path_len;
    const char *query; /* after '?' (possibly empty), NULL when there is no '?' */
    size_t query_len;
} url_t;

/* Parses s[0..len) (no NUL needed). On URL_OK fills *u; on error *u is unspecified. */
url_status_t url_parse(const char *s, size_t len, url_t *u);

/* The request-target (origin-form) is path, then '?' and query when query != NULL. */
static inline size_t url_target_len(const url_t *u)
{
    return u->path_len + (u->query ? 1 + u->query_len : 0);
}

/* Writes the request-target into dst (url_target_len() bytes, no NUL). Returns the length. */
size_t url_write_target(const url_t *u, char *dst);

/* A short, static, lower-case reason for st, for error messages. */
const char *url_strerror(url_status_t st);

#endif
