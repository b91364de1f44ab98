#include "http/json.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 (see json_utf8_valid). n >= 1. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

bool json_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_len((const unsigned char *)s + i, n - i)) == 0) return false;
    return true;
}

static size_t utf8_put(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | cp >> 12);
        dst[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | cp >> 18);
    dst[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    dst[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Index of the first '\\' or byte < 0x20 in s[0..n), or n. Eight bytes at a time: a 10 MB
 * base64 string has none, and this is the whole cost of "unescaping" it. */
static size_t scan_plain(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t bs = w ^ (ones * '\\');
        /* Exact "some byte is zero" / "some byte < 0x20" tests (no false positives). */
        if ((((bs - ones) & ~bs) | ((w - ones * 0x20) & ~w)) & highs) break;
    }
    while (i < n && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
        i++;
    return i;
}

/* Four hex digits at s (n bytes available) as a value, or -1. */
static int32_t hex4(const char *s, size_t n)
{
    if (n < 4) return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)s[i];
        int d = c >= '0' && c <= '9'                     ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                         : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

ssize_t json_unescape(char *s, size_t n)
{
    size_t i = scan_plain(s, n), o = i;
    /* Every escape is at least as long as its UTF-8 (\uXXXX: 6 -> <=3, a pair: 12 -> 4), so
     * o <= i throughout and the rewrite never overtakes the read. */
    while (i < n) {
        if ((unsigned char)s[i] < 0x20 || i + 1 == n) return -1;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            s[o++] = e;
            break;
        case 'b':
            s[o++] = '\b';
            break;
        case 'f':
            s[o++] = '\f';
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        case 't':
            s[o++] = '\t';
            break;
        case 'u': {
            int32_t cp = hex4(s + i, n - i);
            if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int32_t lo = n - i >= 2 && s[i] == '\\' && s[i + 1] == 'u' ? hex4(s + i + 2, n - i - 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += utf8_put(s + o, (uint32_t)cp);
            break;
        }
        default:
            return -1;
        }
        size_t run = scan_plain(s + i, n - i);
        memmove(s + o, s + i, run);
        o += run;
        i += run;
    }
    return (ssize_t)o;
}

/* The one escaping walk behind json_escaped_len (dst NULL: count only) and json_escape. */
static size_t escape_into(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        char esc = c == '"'    ? '"'
                   : c == '\\' ? '\\'
                   : c == '\b' ? 'b'
                   : c == '\f' ? 'f'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                   : c == '\t' ? 't'
                               : 0;
        if (esc) {
            if (dst) {
                dst[o] = '\\';
                dst[o + 1] = esc;
            }
            o += 2;
            i++;
        } else if (c < 0x20) {
            if (dst) {
                memcpy(dst + o, "\\u00", 4);
                dst[o + 4] = hex[c >> 4];
                dst[o + 5] = hex[c & 0xF];
            }
            o += 6;
            i++;
        } else {
            size_t k = utf8_len((const unsigned char *)s + i, n - i);
            if (k == 0) {
                if (dst) memcpy(dst + o, "\\ufffd", 6);
                o += 6;
                i++;
            } else {
                if (dst) memcpy(dst + o, s + i, k);
                o += k;
                i += k;
            }
        }
    }
    return o;
}

size_t json_escaped_len(const char *s, size_t n)
{
    return escape_into(NULL, s, n);
}

size_t json_escape(char *dst, const char *s, size_t n)
{
    return escape_into(dst, s, n);
}

bool json_primitive_valid(const char *s, size_t n)
{
    if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) || (n == 5 && !memcmp(s, "false", 5)))
        return true;
    size_t i = 0, d;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d) return false;
    }
    return i == n;
}
