#include "http/query.h"

void http_query_iter(http_query_iter_t *it, const char *q, size_t n)
{
    /* NULL + 0 is undefined in C: a query-less request gets an empty range of its own. */
    it->p = q;
    it->end = q ? q + n : NULL;
}

bool http_query_next(http_query_iter_t *it, http_qparam_t *out)
{
    while (it->p != it->end) {
        const char *pair = it->p;
        const char *amp = memchr(pair, '&', (size_t)(it->end - pair));
        const char *pair_end = amp ? amp : it->end;
        it->p = amp ? amp + 1 : it->end;
        if (pair_end == pair) continue;

        const char *eq = memchr(pair, '=', (size_t)(pair_end - pair));
        out->key = pair;
        out->key_len = (size_t)((eq ? eq : pair_end) - pair);
        out->has_val = eq != NULL;
        out->val = eq ? eq + 1 : pair_end;
        out->val_len = (size_t)(pair_end - out->val);
        return true;
    }
    return false;
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes the byte at in[*i] (one byte, or three for "%XX") and advances *i past it.
 * Returns the byte, or -1 for a malformed escape or a NUL. */
static int decode_one(const char *in, size_t n, size_t *i, bool plus_is_space)
{
    unsigned char c = (unsigned char)in[*i];
    if (c == '%') {
        if (n - *i < 3) return -1;
        int hi = hex_val((unsigned char)in[*i + 1]), lo = hex_val((unsigned char)in[*i + 2]);
        if (hi < 0 || lo < 0) return -1;
        c = (unsigned char)(hi << 4 | lo);
        *i += 3;
    } else {
        if (c == '+' && plus_is_space) c = ' ';
        *i += 1;
    }
    return c ? c : -1;
}

ssize_t http_pct_decode(const char *in, size_t n, char *out, size_t cap, bool plus_is_space)
{
    size_t i = 0, o = 0;
    while (i < n) {
        int c = decode_one(in, n, &i, plus_is_space);
        if (c < 0 || o == cap) return -1;
        out[o++] = (char)c;
    }
    return (ssize_t)o;
}

bool http_qparam_key_escaped(const http_qparam_t *p, const char *lit, size_t lit_len)
{
    /* Decoded and compared a byte at a time: no buffer, and a wrong key stops at its first
     * differing byte. */
    size_t i = 0, o = 0;
    while (i < p->key_len) {
        int c = decode_one(p->key, p->key_len, &i, true);
        if (c < 0 || o == lit_len || (unsigned char)lit[o] != c) return false;
        o++;
    }
    return o == lit_len;
}
