#include "server/magic_json.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "http/base64.h"
#include "http/json.h"

/* Debian's libjsmn-dev ships only the header, which defines the functions: JSMN_STATIC makes
 * them static to this file, so no other includer can clash at link time. JSMN_STRICT admits
 * primitives only as values and only true/false/null/numbers; JSMN_PARENT_LINKS makes a
 * closing bracket O(depth) instead of O(tokens). */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

enum { SEEN_FILENAME = 1, SEEN_IMAGE = 2, SEEN_URL = 4, SEEN_EMAIL = 8, SEEN_CROP = 16 };

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
    ssize_t n = json_unescape(s + v->start, (size_t)(v->end - v->start));
    if (n < 0) return MAGIC_JSON_ERR_STRING;
    *dst = s + v->start;
    *dst_len = (size_t)n;
    return MAGIC_JSON_OK;
}

static magic_json_status_t check_filename(const char *s, size_t n)
{
    if (n > MAGIC_JSON_MAX_FILENAME || memchr(s, 0, n) || !json_utf8_valid(s, n))
        return MAGIC_JSON_ERR_FILENAME;
    return MAGIC_JSON_OK;
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
        return t->size == 0 && json_primitive_valid(s + t->start, (size_t)(t->end - t->start)) ? i + 1 : -1;
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
        ssize_t klen = json_unescape(s + k->start, (size_t)(k->end - k->start));
        if (klen < 0) return MAGIC_JSON_ERR_STRING;
        unsigned field = tok_eq(s, k, (size_t)klen, "filename")        ? SEEN_FILENAME
                         : tok_eq(s, k, (size_t)klen, "image")         ? SEEN_IMAGE
                         : tok_eq(s, k, (size_t)klen, "encoded_image") ? SEEN_IMAGE
                         : tok_eq(s, k, (size_t)klen, "image_url")     ? SEEN_URL
                         : tok_eq(s, k, (size_t)klen, "email")         ? SEEN_EMAIL
                         : tok_eq(s, k, (size_t)klen, "crop")          ? SEEN_CROP
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
        } else if (field == SEEN_URL) {
            out->image_url = str;
            out->image_url_len = slen;
        } else if (field == SEEN_EMAIL) {
            out->email = str;
            out->email_len = slen;
        } else {
            out->crop = str;
            out->crop_len = slen;
        }
    }
    return out->filename ? check_filename(out->filename, out->filename_len) : MAGIC_JSON_OK;
}

/* jsmn walks a string a byte at a time, checking bounds and NUL at each (about 15
 * instructions a byte), and the 14 KB base64 string is most of a /magic/base64 body. So
 * strings of cut_min bytes or more are cut out first: jsmn parses a skeleton of the text in
 * which they are empty, and its tokens are moved back onto the text. A string is cut only when
 * it is complete and all its escapes are ones jsmn accepts; anything after a string that is
 * not stays in the skeleton for jsmn to judge. The body holds no NUL (checked before). */
#define CUT_MIN 256

typedef struct {
    size_t close;   /* skeleton offset of the cut string's closing quote */
    size_t removed; /* bytes cut out so far, this string's included */
} cut_t;

/* Index of the quote that closes the string opened at s[open], or 0 when the string is
 * unterminated or holds an escape jsmn refuses (jsmn then reports it). */
static size_t string_end(const char *s, size_t open, size_t n)
{
    for (size_t i = open + 1;;) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q) return 0;
        const char *bs = memchr(s + i, '\\', (size_t)(q - (s + i)));
        if (!bs) return (size_t)(q - s);
        i = (size_t)(bs - s) + 1; /* the escaped byte */
        if (i == n) return 0;
        if (s[i] == 'u') {
            if (n - i < 5) return 0;
            for (size_t k = i + 1; k < i + 5; k++)
                if (!isxdigit((unsigned char)s[k])) return 0;
            i += 5;
        } else if (s[i] && strchr("\"\\/bfnrt", s[i])) {
            i++;
        } else {
            return 0;
        }
    }
}

/* jsmn_parse over s[0..n) with the long strings cut out (see CUT_MIN); the tokens refer to
 * s. Returns jsmn's result. */
static int tokenize(const char *s, size_t n, jsmntok_t *tok, size_t cut_min)
{
    /* Finds the strings as jsmn will: outside strings, a quote inside a primitive (jsmn takes
     * every byte up to a delimiter into one, so `1"a"` is one) opens nothing. */
    size_t open[MAGIC_JSON_MAX_TOKENS], close[MAGIC_JSON_MAX_TOKENS], ncut = 0, removed = 0;
    for (size_t i = 0; i < n && ncut < MAGIC_JSON_MAX_TOKENS;) {
        char ch = s[i];
        if (ch == '"') {
            size_t c = string_end(s, i, n);
            if (!c) break;
            if (c - i - 1 >= cut_min) {
                open[ncut] = i;
                close[ncut++] = c;
                removed += c - i - 1;
            }
            i = c + 1;
        } else if (ch == '-' || (ch >= '0' && ch <= '9') || ch == 't' || ch == 'f' || ch == 'n') {
            while (i < n && !strchr("\t\r\n ,]}", s[i]))
                i++;
        } else {
            i++;
        }
    }
    /* A request's skeleton is tens of bytes: on the stack, no allocation per request. */
    char small[1024];
    char *skel = !ncut ? NULL : n - removed <= sizeof small ? small : malloc(n - removed);
    jsmn_parser p;
    jsmn_init(&p);
    if (!skel) /* nothing to cut, or no memory: parse the text itself */
        return jsmn_parse(&p, s, n, tok, MAGIC_JSON_MAX_TOKENS);

    cut_t cuts[MAGIC_JSON_MAX_TOKENS];
    size_t from = 0, len = 0;
    removed = 0;
    for (size_t k = 0; k < ncut; k++) {
        memcpy(skel + len, s + from, open[k] + 1 - from); /* up to and with the opening quote */
        len += open[k] + 1 - from;
        removed += close[k] - open[k] - 1;
        cuts[k] = (cut_t){.close = len, .removed = removed};
        from = close[k];
    }
    memcpy(skel + len, s + from, n - from);
    len += n - from;
    int ntok = jsmn_parse(&p, skel, len, tok, MAGIC_JSON_MAX_TOKENS);
    if (skel != small)
        free(skel);
    /* Back onto s: a start moves by the cuts closing before it, an end by those closing at or
     * before it (a cut string's token is empty in the skeleton, at its closing quote). */
    for (int t = 0; t < ntok; t++) {
        size_t add_s = 0, add_e = 0;
        for (size_t k = 0; k < ncut && cuts[k].close <= (size_t)tok[t].end; k++) {
            add_e = cuts[k].removed;
            if (cuts[k].close < (size_t)tok[t].start) add_s = cuts[k].removed;
        }
        tok[t].start += (int)add_s;
        tok[t].end += (int)add_e;
    }
    return ntok;
}

/* Parses s[0..n) as one object, or (unwrap == true) as one string holding an object. */
static magic_json_status_t parse_top(char *s, size_t n, magic_json_req_t *out, bool unwrap, size_t cut_min)
{
    size_t first = skip_ws(s, 0, n);
    if (first == n) return MAGIC_JSON_ERR_EMPTY;
    if (s[first] != '{' && !(unwrap && s[first] == '"')) return MAGIC_JSON_ERR_NOT_OBJECT;
    /* jsmn stops at a NUL as if the text ended there; a raw NUL is invalid JSON anyway. */
    if (memchr(s, '\0', n)) return MAGIC_JSON_ERR_SYNTAX;

    jsmntok_t tok[MAGIC_JSON_MAX_TOKENS];
    int ntok = tokenize(s, n, tok, cut_min);
    if (ntok == JSMN_ERROR_NOMEM) return MAGIC_JSON_ERR_TOO_COMPLEX;
    if (ntok == JSMN_ERROR_PART) return MAGIC_JSON_ERR_TRUNCATED;
    if (ntok < 1) return MAGIC_JSON_ERR_SYNTAX;
    if (check_value(s, tok, ntok, 0) != ntok || !gap_ok(s, raw_end(&tok[0]), n, 0))
        return MAGIC_JSON_ERR_SYNTAX;

    if (tok[0].type == JSMN_STRING) {
        char *inner = s + tok[0].start;
        ssize_t len = json_unescape(inner, (size_t)(tok[0].end - tok[0].start));
        if (len < 0) return MAGIC_JSON_ERR_STRING;
        return parse_top(inner, (size_t)len, out, false, cut_min);
    }
    return parse_object(s, tok, ntok, out);
}

magic_json_status_t magic_json_parse(char *body, size_t len, magic_json_req_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > INT_MAX) /* jsmn's token offsets are ints */
        return MAGIC_JSON_ERR_TOO_LARGE;
    return parse_top(body, len, out, true, CUT_MIN);
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
        return "filename, image, image_url, email and crop must be strings";
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
    size_t name = filename ? json_escaped_len(filename, flen) + 2 : 4; /* "..." or null */
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
        o += json_escape(o, filename, flen);
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
