/*
 * query: the query component of a request-target (the bytes after '?'), as HTML forms and
 * Gravatar clients write it: "s=80&d=https%3A%2F%2Fexample.com%2Fa.png&name=Jane+Doe".
 *
 * Iteration never allocates and never decodes: each pair is returned as raw slices (still
 * percent-encoded) pointing into the caller's buffer, which must outlive them. The caller
 * decodes only the values it uses, with http_pct_decode, into a buffer it sizes (a decoded
 * value is never longer than its raw slice).
 *
 * Pairs are separated by '&' only (';' is data, as in the WHATWG URL standard). Empty pairs
 * ("&&", a leading or trailing '&') are skipped; anything else is a pair, an empty key
 * included ("=x" gives key "" and value "x"). Keys and values are form-encoded alike: '+'
 * is a space in both.
 */
#ifndef PIXD_HTTP_QUERY_H
#define PIXD_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

typedef struct {
    const char *key; /* up to the first '=', raw; never NULL */
    size_t key_len;
    const char *val; /* after that '=', raw; without '=', an empty slice right after the key */
    size_t val_len;
    bool has_val; /* the pair had an '=' ("k=" has an empty value, "k" has none) */
} http_qparam_t;

typedef struct {
    const char *p, *end;
} http_query_iter_t;

/* Starts iterating q[0..n). q may be NULL with n 0 (the request had no '?'). */
void http_query_iter(http_query_iter_t *it, const char *q, size_t n);

/* Fills *out with the next non-empty pair and returns true, or returns false at the end.
 * Each call costs the pair's length (plus the '&'s skipped). */
bool http_query_next(http_query_iter_t *it, http_qparam_t *out);

/* Decodes in[0..n) into out: "%XX" (either case of hex) becomes its byte, '+' a space when
 * plus_is_space (query keys and values), every other byte is copied. Returns the decoded
 * length (<= n, no NUL written), or -1 for a '%' not followed by two hex digits, a NUL byte
 * (escaped or raw: a decoded value is always safe as a C string once terminated), or output
 * that would exceed cap (out's content is then unspecified). in may be NULL when n is 0.
 * out may equal in (decoding in place); other overlaps are not allowed. */
ssize_t http_pct_decode(const char *in, size_t n, char *out, size_t cap, bool plus_is_space);

/* True when p's key, decoded as http_pct_decode(plus_is_space) would, equals lit[0..lit_len).
 * lit must hold no '%', '+' or space (a plain name such as "size"): a raw key of the same
 * length then matches exactly when its bytes are equal, which is the whole cost in the
 * common case. A key with a malformed escape matches nothing. */
bool http_qparam_key_escaped(const http_qparam_t *p, const char *lit, size_t lit_len);

static inline bool http_qparam_key_eq(const http_qparam_t *p, const char *lit, size_t lit_len)
{
    if (p->key_len == lit_len) return memcmp(p->key, lit, lit_len) == 0;
    /* Only escapes make a key longer than its decoded form, by at most 2 bytes per byte. */
    return p->key_len > lit_len && p->key_len <= 3 * lit_len && http_qparam_key_escaped(p, lit, lit_len);
}

/* http_qparam_key(p, "size"): the key test for a string literal (its length is free). */
#define http_qparam_key(p, lit) http_qparam_key_eq((p), "" lit "", sizeof(lit) - 1)

#endif
