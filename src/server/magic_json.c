#include "server/magic_json.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "http/base64.h"

/* Debian's libjsmn-dev ships only the header, which defines the functions: JSMN_STATIC makes
 * them static to this file, so no other includer can clash at link time. JSMN_STRICT admits
 * primitives only as values and only true/false/null/numbers; JSMN_PARENT_LINKS makes a
 * closing bracket O(depth) instead of O(tokens). */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

enum { SEEN_FILENAME = 1, SEEN_IMAGE = 2, SEEN_URL = 4 };

/* Length of the valid UTF-8 sequence at s (1..4), or 0: overlong forms, surrogates, code
 * points past U+10FFFF and truncated sequences are invalid (RFC 3629). */
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

ssize_t magic_json_unescape(char *s, size_t n)
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
            s[o++] = '"';
            break;
        case '\\':
            s[o++] = '\\';
            break;
        case '/':
            s[o++] = '/';
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

/* The one escaping walk behind magic_json_escaped_len (dst NULL: count only) and
 * magic_json_escape. */
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

size_t magic_json_escaped_len(const char *s, size_t n)
{
    return escape_into(NULL, s, n);
}

size_t magic_json_escape(char *dst, const char *s, size_t n)
{
    return escape_into(dst, s, n);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

/* A token's extent in the text, quotes included (jsmn's string tokens exclude them). */
static size_t raw_start(const jsmntok_t *t)
{
    return (size_t)(t->type == JSMN_STRING ? t->start - 1 : t->start);
}

static size_t raw_end(const jsmntok_t *t)
{
    return (size_t)(t->type == JSMN_STRING ? t->end + 1 : t->end);
}

/* s[from..to) is whitespace, or whitespace around the one separator sep (when sep != 0). */
static bool gap_ok(const char *s, size_t from, size_t to, char sep)
{
    size_t i = skip_ws(s, from, to);
    if (sep) {
        if (i == to || s[i] != sep) return false;
        i = skip_ws(s, i + 1, to);
    }
    return i == to;
}

static bool tok_eq(const char *s, const jsmntok_t *t, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(s + t->start, lit, len) == 0;
}

/* Stores the string value v (or null) of one of our fields. */
static magic_json_status_t take_string(char *s, const jsmntok_t *v, char **dst, size_t *dst_len)
{
    if (v->type == JSMN_PRIMITIVE && v->end - v->start == 4 && memcmp(s + v->start, "null", 4) == 0)
        return MAGIC_JSON_OK;
    if (v->type != JSMN_STRING) return MAGIC_JSON_ERR_FIELD_TYPE;
    ssize_t n = magic_json_unescape(s + v->start, (size_t)(v->end - v->start));
    if (n < 0) return MAGIC_JSON_ERR_STRING;
    *dst = s + v->start;
    *dst_len = (size_t)n;
    return MAGIC_JSON_OK;
}

static magic_json_status_t check_filename(const char *s, size_t n)
{
    if (n > MAGIC_JSON_MAX_FILENAME) return MAGIC_JSON_ERR_FILENAME;
    for (size_t i = 0, k; i < n; i += k) {
        k = s[i] ? utf8_len((const unsigned char *)s + i, n - i) : 0;
        if (k == 0) return MAGIC_JSON_ERR_FILENAME;
    }
    return MAGIC_JSON_OK;
}

/* A JSON literal or number (RFC 8259 grammar): jsmn takes any run of bytes as a primitive. */
static bool valid_primitive(const char *s, size_t n)
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

/* Checks the value tok[i] and everything nested in it for what jsmn lets through: members
 * separated by exactly one ',', no trailing comma, each key a string followed by ':' and
 * exactly one value (jsmn counts a token's followers in its size, so a value with size != 0
 * or a key with size != 1 means a ':' or ',' was missing), valid primitives.
 * Returns the index past the value's subtree, or -1. */
static int check_value(const char *s, const jsmntok_t *tok, int ntok, int i)
{
    const jsmntok_t *t = &tok[i];
    if (t->type == JSMN_STRING) return t->size == 0 ? i + 1 : -1;
    if (t->type == JSMN_PRIMITIVE)
        return t->size == 0 && valid_primitive(s + t->start, (size_t)(t->end - t->start)) ? i + 1 : -1;
    bool object = t->type == JSMN_OBJECT;
    size_t prev = (size_t)t->start + 1; /* just past the bracket */
    int j = i + 1;
    for (int m = 0; j < ntok && tok[j].start < t->end; m++) {
        if (!gap_ok(s, prev, raw_start(&tok[j]), m ? ',' : 0)) return -1;
        if (object) {
            const jsmntok_t *k = &tok[j];
            if (k->type != JSMN_STRING || k->size != 1 || j + 1 >= ntok ||
                !gap_ok(s, raw_end(k), raw_start(&tok[j + 1]), ':'))
                return -1;
            j++;
        }
        prev = raw_end(&tok[j]);
        if ((j = check_value(s, tok, ntok, j)) < 0) return -1;
    }
    return gap_ok(s, prev, (size_t)t->end - 1, 0) ? j : -1;
}

/* Picks our fields out of the top-level object tok[0] (already checked by check_value). */
static magic_json_status_t parse_object(char *s, jsmntok_t *tok, int ntok, magic_json_req_t *out)
{
    unsigned seen = 0;
    for (int i = 1; i < ntok;) {
        const jsmntok_t *k = &tok[i], *v = &tok[i + 1];
        for (i += 2; i < ntok && tok[i].start < v->end; i++) /* v's nested tokens, if any */
            ;
        ssize_t klen = magic_json_unescape(s + k->start, (size_t)(k->end - k->start));
        if (klen < 0) return MAGIC_JSON_ERR_STRING;
        unsigned field = tok_eq(s, k, (size_t)klen, "filename")        ? SEEN_FILENAME
                         : tok_eq(s, k, (size_t)klen, "image")         ? SEEN_IMAGE
                         : tok_eq(s, k, (size_t)klen, "encoded_image") ? SEEN_IMAGE
                         : tok_eq(s, k, (size_t)klen, "image_url")     ? SEEN_URL
                                                                       : 0;
        if (field == 0) continue;
        if (seen & field) return MAGIC_JSON_ERR_DUP_FIELD;
        seen |= field;
        char *str = NULL;
        size_t slen = 0;
        magic_json_status_t st = take_string(s, v, &str, &slen);
        if (st != MAGIC_JSON_OK) return st;
        if (field == SEEN_FILENAME) {
            out->filename = str;
            out->filename_len = slen;
        } else if (field == SEEN_IMAGE) {
            out->image_b64 = str;
            out->image_b64_len = slen;
        } else {
            out->image_url = str;
            out->image_url_len = slen;
        }
    }
    return out->filename ? check_filename(out->filename, out->filename_len) : MAGIC_JSON_OK;
}

/* Parses s[0..n) as one object, or (unwrap == true) as one string holding an object. */
static magic_json_status_t parse_top(char *s, size_t n, magic_json_req_t *out, bool unwrap)
{
    size_t first = skip_ws(s, 0, n);
    if (first == n) return MAGIC_JSON_ERR_EMPTY;
    if (s[first] != '{' && !(unwrap && s[first] == '"')) return MAGIC_JSON_ERR_NOT_OBJECT;
    /* jsmn stops at a NUL as if the text ended there; a raw NUL is invalid JSON anyway. */
    if (memchr(s, '\0', n)) return MAGIC_JSON_ERR_SYNTAX;

    jsmn_parser p;
    jsmntok_t tok[MAGIC_JSON_MAX_TOKENS];
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, s, n, tok, MAGIC_JSON_MAX_TOKENS);
    if (ntok == JSMN_ERROR_NOMEM) return MAGIC_JSON_ERR_TOO_COMPLEX;
    if (ntok == JSMN_ERROR_PART) return MAGIC_JSON_ERR_TRUNCATED;
    if (ntok < 1) return MAGIC_JSON_ERR_SYNTAX;
    if (check_value(s, tok, ntok, 0) != ntok || !gap_ok(s, raw_end(&tok[0]), n, 0))
        return MAGIC_JSON_ERR_SYNTAX;

    if (tok[0].type == JSMN_STRING) {
        char *inner = s + tok[0].start;
        ssize_t len = magic_json_unescape(inner, (size_t)(tok[0].end - tok[0].start));
        if (len < 0) return MAGIC_JSON_ERR_STRING;
        return parse_top(inner, (size_t)len, out, false);
    }
    return parse_object(s, tok, ntok, out);
}

magic_json_status_t magic_json_parse(char *body, size_t len, magic_json_req_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > INT_MAX) /* jsmn's token offsets are ints */
        return MAGIC_JSON_ERR_TOO_LARGE;
    return parse_top(body, len, out, true);
}

const char *magic_json_strerror(magic_json_status_t st)
{
    switch (st) {
    case MAGIC_JSON_OK:
        return "ok";
    case MAGIC_JSON_ERR_EMPTY:
        return "empty json body";
    case MAGIC_JSON_ERR_TOO_LARGE:
        return "json body too large";
    case MAGIC_JSON_ERR_SYNTAX:
        return "malformed json";
    case MAGIC_JSON_ERR_TRUNCATED:
        return "truncated json";
    case MAGIC_JSON_ERR_TOO_COMPLEX:
        return "json has too many values";
    case MAGIC_JSON_ERR_NOT_OBJECT:
        return "json body is not an object";
    case MAGIC_JSON_ERR_FIELD_TYPE:
        return "filename, image and image_url must be strings";
    case MAGIC_JSON_ERR_DUP_FIELD:
        return "duplicate json field";
    case MAGIC_JSON_ERR_STRING:
        return "invalid json string escape or control character";
    case MAGIC_JSON_ERR_FILENAME:
        return "filename too long, not utf-8, or contains nul";
    }
    return "unknown json error";
}

static const char reply_head[] = "{\"filename\": ";
static const char reply_mid[] = ", \"encoded_img\": \"";
static const char reply_tail[] = "\"}";

size_t magic_json_reply_len(const char *filename, size_t flen, size_t jpeg_len)
{
    size_t name = filename ? magic_json_escaped_len(filename, flen) + 2 : 4; /* "..." or null */
    return sizeof reply_head - 1 + name + sizeof reply_mid - 1 + base64_encoded_len(jpeg_len) +
           sizeof reply_tail - 1;
}

size_t magic_json_reply(char *dst, const char *filename, size_t flen, const uint8_t *jpeg, size_t jpeg_len)
{
    char *o = dst;
    memcpy(o, reply_head, sizeof reply_head - 1);
    o += sizeof reply_head - 1;
    if (filename) {
        *o++ = '"';
        o += magic_json_escape(o, filename, flen);
        *o++ = '"';
    } else {
        memcpy(o, "null", 4);
        o += 4;
    }
    memcpy(o, reply_mid, sizeof reply_mid - 1);
    o += sizeof reply_mid - 1;
    o += base64_encode(o, jpeg, jpeg_len);
    memcpy(o, reply_tail, sizeof reply_tail - 1);
    o += sizeof reply_tail - 1;
    return (size_t)(o - dst);
}
