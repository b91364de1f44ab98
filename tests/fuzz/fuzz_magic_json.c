/* magic_json: results point inside the body and keep their promises (filename valid UTF-8
 * without NUL); cutting long strings out of jsmn's view changes nothing (every string cut, or
 * none: same status, same fields at the same offsets); posting the same body double-encoded
 * gives the same result; the reply built from a parsed filename is JSON that parses back to
 * it; unescape(escape(x)) == x for UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"
/* The .c itself, for parse_top() with other cut thresholds. */
#include "server/magic_json.c"

#define CHECK(x)                                                                                             \
    do {                                                                                                     \
        if (!(x)) abort();                                                                                   \
    } while (0)

static int inside(const void *p, size_t n, const void *base, size_t len)
{
    const char *q = p, *b = base;
    return q >= b && q <= b + len && n <= (size_t)(b + len - q);
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    return (a == NULL) == (b == NULL) && alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Strict UTF-8 (RFC 3629), written independently of http/json.c's. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], need = c < 0x80                ? 0
                                  : c >= 0xC2 && c < 0xE0 ? 1
                                  : c >= 0xE0 && c < 0xF0 ? 2
                                  : c >= 0xF0 && c < 0xF5 ? 3
                                                          : 9;
        if (need == 9 || n - i <= need) return need == 0;
        uint32_t cp = need ? c & (0x3F >> need) : c;
        for (uint32_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    magic_json_req_t req;
    magic_json_status_t st = magic_json_parse(body, size, &req);
    CHECK(magic_json_strerror(st) != NULL);
    if (size <= INT_MAX) {
        size_t cut_mins[] = {1, SIZE_MAX};
        for (size_t k = 0; k < 2; k++) {
            char *other = malloc(size ? size : 1);
            memcpy(other, data, size);
            magic_json_req_t r = {0};
            CHECK(parse_top(other, size, &r, true, cut_mins[k]) == st);
            if (st == MAGIC_JSON_OK) {
                CHECK(same(r.filename, r.filename_len, req.filename, req.filename_len));
                CHECK((r.filename ? r.filename - other : -1) == (req.filename ? req.filename - body : -1));
                CHECK(same(r.image_b64, r.image_b64_len, req.image_b64, req.image_b64_len));
                CHECK((r.image_b64 ? r.image_b64 - other : -1) == (req.image_b64 ? req.image_b64 - body : -1));
                CHECK(same(r.image_url, r.image_url_len, req.image_url, req.image_url_len));
                CHECK((r.image_url ? r.image_url - other : -1) == (req.image_url ? req.image_url - body : -1));
            }
            free(other);
        }
    }
    if (st == MAGIC_JSON_OK) {
        CHECK(!req.filename || inside(req.filename, req.filename_len, body, size));
        CHECK(!req.image_b64 || inside(req.image_b64, req.image_b64_len, body, size));
        CHECK(!req.image_url || inside(req.image_url, req.image_url_len, body, size));
        if (req.filename) {
            CHECK(req.filename_len <= MAGIC_JSON_MAX_FILENAME);
            CHECK(!memchr(req.filename, 0, req.filename_len));
            CHECK(valid_utf8((const uint8_t *)req.filename, req.filename_len));
        }
        /* The reply echoes the name back intact and is itself a valid request body. */
        size_t ilen = size < 64 ? size : 64;
        size_t rlen = magic_json_reply_len(req.filename, req.filename_len, ilen);
        char *reply = malloc(rlen);
        CHECK(magic_json_reply(reply, req.filename, req.filename_len, data, ilen) == rlen);
        magic_json_req_t back;
        CHECK(magic_json_parse(reply, rlen, &back) == MAGIC_JSON_OK);
        CHECK(same(back.filename, back.filename_len, req.filename, req.filename_len));
        free(reply);
    }

    /* Escape round trip, and the same body double-encoded: identical outcome. */
    size_t elen = json_escaped_len((const char *)data, size);
    char *wrapped = malloc(elen + 2);
    wrapped[0] = '"';
    CHECK(json_escape(wrapped + 1, (const char *)data, size) == elen);
    wrapped[elen + 1] = '"';
    char *copy = malloc(elen ? elen : 1);
    memcpy(copy, wrapped + 1, elen);
    ssize_t ulen = json_unescape(copy, elen);
    CHECK(ulen >= 0);
    int utf8 = valid_utf8(data, size);
    CHECK(!utf8 || ((size_t)ulen == size && (size == 0 || memcmp(copy, data, size) == 0)));
    free(copy);

    size_t first = 0;
    while (first < size &&
           (data[first] == ' ' || data[first] == '\t' || data[first] == '\r' || data[first] == '\n'))
        first++;
    if (utf8 && first < size && data[first] == '{') {
        magic_json_req_t req2;
        magic_json_status_t st2 = magic_json_parse(wrapped, elen + 2, &req2);
        CHECK(st2 == st);
        if (st == MAGIC_JSON_OK) {
            CHECK(same(req2.filename, req2.filename_len, req.filename, req.filename_len));
            CHECK(same(req2.image_b64, req2.image_b64_len, req.image_b64, req.image_b64_len));
            CHECK(same(req2.image_url, req2.image_url_len, req.image_url, req.image_url_len));
        }
    }
    free(wrapped);
    free(body);
    return 0;
}
