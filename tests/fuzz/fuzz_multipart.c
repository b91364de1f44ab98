/* multipart: input = Content-Type value, '\n', body. Every result points inside the body;
 * a body that parses, written out again from its parts, parses to the same parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

#define CHECK(x)                                                                                             \
    do {                                                                                                     \
        if (!(x)) abort();                                                                                   \
    } while (0)
#define MAX_PARTS 16

static int inside(const void *p, size_t n, const void *base, size_t len)
{
    const uint8_t *q = p, *b = base;
    return q >= b && q <= b + len && n <= (size_t)(b + len - q);
}

static void put(uint8_t *buf, size_t *o, const void *s, size_t n)
{
    memcpy(buf + *o, s, n);
    *o += n;
}

/* Writes the parts back out as a body with the same boundary. */
static size_t rebuild(uint8_t *buf, const multipart_part_t *parts, size_t n, const char *b, size_t blen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        put(buf, &o, "--", 2);
        put(buf, &o, b, blen);
        put(buf, &o, "\r\nContent-Disposition: form-data; name=\"", 40);
        put(buf, &o, parts[i].name, parts[i].name_len);
        put(buf, &o, "\"", 1);
        if (parts[i].filename) {
            put(buf, &o, "; filename=\"", 12);
            put(buf, &o, parts[i].filename, parts[i].filename_len);
            put(buf, &o, "\"", 1);
        }
        if (parts[i].content_type) {
            put(buf, &o, "\r\nContent-Type: ", 16);
            put(buf, &o, parts[i].content_type, parts[i].content_type_len);
        }
        put(buf, &o, "\r\n\r\n", 4);
        put(buf, &o, parts[i].data, parts[i].data_len);
        put(buf, &o, "\r\n", 2);
    }
    put(buf, &o, "--", 2);
    put(buf, &o, b, blen);
    put(buf, &o, "--\r\n", 4);
    return o;
}

static int same_str(const char *a, size_t alen, const char *b, size_t blen)
{
    return (a == NULL) == (b == NULL) && alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t clen = nl ? (size_t)(nl - data) : size;
    char *ctype = malloc(clen ? clen : 1);
    memcpy(ctype, data, clen);
    size_t len = nl ? size - clen - 1 : 0;
    uint8_t *body = malloc(len ? len : 1);
    memcpy(body, nl ? nl + 1 : data, len);

    const char *b;
    size_t blen;
    if (multipart_boundary(ctype, clen, &b, &blen) == 0) {
        CHECK(inside(b, blen, ctype, clen) && blen >= 1 && blen <= MULTIPART_BOUNDARY_MAX);
    } else {
        b = "boundary"; /* still exercise the body parser */
        blen = 8;
    }

    multipart_part_t parts[MAX_PARTS];
    size_t n = 99;
    multipart_status_t st = multipart_parse(body, len, b, blen, parts, MAX_PARTS, &n);
    CHECK(n <= MAX_PARTS && multipart_strerror(st) != NULL);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const multipart_part_t *p = &parts[i];
        CHECK(p->name && inside(p->name, p->name_len, body, len));
        CHECK(!p->filename || inside(p->filename, p->filename_len, body, len));
        CHECK(!p->content_type || inside(p->content_type, p->content_type_len, body, len));
        CHECK(inside(p->data, p->data_len, body, len));
        CHECK(multipart_find(parts, n, "image") == NULL || multipart_find(parts, n, "image")->name_len == 5);
        total += p->name_len + p->filename_len + p->content_type_len + p->data_len + blen + 100;
    }

    if (st == MULTIPART_OK && total < MULTIPART_MAX_HEADER_BYTES) {
        CHECK(n >= 1);
        uint8_t *again = malloc(total + blen + 8);
        size_t alen = rebuild(again, parts, n, b, blen);
        multipart_part_t parts2[MAX_PARTS];
        size_t n2;
        CHECK(multipart_parse(again, alen, b, blen, parts2, MAX_PARTS, &n2) == MULTIPART_OK && n2 == n);
        for (size_t i = 0; i < n; i++) {
            CHECK(same_str(parts[i].name, parts[i].name_len, parts2[i].name, parts2[i].name_len));
            CHECK(same_str(parts[i].filename, parts[i].filename_len, parts2[i].filename,
                           parts2[i].filename_len));
            CHECK(same_str(parts[i].content_type, parts[i].content_type_len, parts2[i].content_type,
                           parts2[i].content_type_len));
            CHECK(parts[i].data_len == parts2[i].data_len &&
                  (parts[i].data_len == 0 || memcmp(parts[i].data, parts2[i].data, parts[i].data_len) == 0));
        }
        free(again);
    }
    free(body);
    free(ctype);
    return 0;
}
