/*
 * Checks shared by the HTTP fuzz targets. Besides what the sanitizers catch, each target
 * asserts the parser's contract, so a wrong answer fails like a crash:
 *   - a complete head's fields point inside the head and its framing facts are consistent;
 *   - an error names a rule and maps to an answer status;
 *   - prefixes (inputs up to PREFIX_MAX bytes): each prefix gives "incomplete", the whole
 *     input's error, or, once it holds the whole head, the same length. That is what a server
 *     that receives the head a byte per read() sees, and it needs no reference parser;
 *   - the chunked decoder gives the same bytes, status and trailing bytes in one call as a
 *     byte per call.
 * Every buffer handed to the parser is a heap copy of exactly the length passed, so ASan
 * reports any read past `len`. Failures abort(), so the plain replay build fails too.
 */
#ifndef PIXD_TESTS_FUZZ_HTTP_FUZZ_H
#define PIXD_TESTS_FUZZ_HTTP_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "fuzz_check.h"

#define PREFIX_MAX 512 /* the prefix check is quadratic: keep it to small inputs */


/* Parses buf[0..len) as one kind of head; returns the parse result and sets *err. */
typedef int (*fuzz_parse_fn)(const char *buf, size_t len, http_err_t *err);

static inline void fuzz_check_in(const char *p, size_t n, const char *buf, size_t len)
{
    CHECK(p >= buf && n <= len && (size_t)(p - buf) <= len - n);
}

/* What every parse result of buf[0..len) must satisfy. */
static inline void fuzz_check_head(int r, const http_head_t *h, const char *buf, size_t len)
{
    if (r == HTTP_PARSE_ERROR) {
        CHECK(h->error != HTTP_ERR_NONE);
        int st = http_err_status(h->error);
        CHECK(st == 400 || st == 417 || st == 431 || st == 501 || st == 505);
        CHECK(http_err_reason(h->error) != http_err_reason(HTTP_ERR_NONE));
        return;
    }
    CHECK(h->error == HTTP_ERR_NONE);
    if (r == HTTP_PARSE_INCOMPLETE)
        return;
    CHECK(r > 0 && (size_t)r <= len);
    CHECK(h->minor_version == 0 || h->minor_version == 1);
    CHECK(h->num_headers <= HTTP_MAX_HEADERS);
    CHECK(h->content_length >= -1);
    CHECK(!(h->chunked && h->content_length >= 0));
    for (size_t i = 0; i < h->num_headers; i++) {
        const http_header_t *hd = &h->headers[i];
        CHECK(hd->name_len > 0);
        fuzz_check_in(hd->name, hd->name_len, buf, (size_t)r);
        fuzz_check_in(hd->value, hd->value_len, buf, (size_t)r);
        CHECK(hd->name[hd->name_len] == ':');
        CHECK(http_find_header(h, hd->name, hd->name_len) <= hd);
        if (hd->value_len) {
            char first = hd->value[0], last = hd->value[hd->value_len - 1];
            CHECK(first != ' ' && first != '\t' && last != ' ' && last != '\t');
            CHECK(!memchr(hd->value, '\r', hd->value_len) && !memchr(hd->value, '\n', hd->value_len));
            CHECK(!memchr(hd->value, '\0', hd->value_len));
        }
    }
}

/* The prefix property above, for inputs up to PREFIX_MAX bytes. */
static inline void fuzz_check_prefixes(fuzz_parse_fn parse, const char *data, size_t size)
{
    if (size > PREFIX_MAX)
        return;
    char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    http_err_t full_err;
    int full = parse(copy, size, &full_err);
    for (size_t k = 0; k < size; k++) {
        /* the prefix ends where the allocation does */
        char *p = copy + size - k;
        memcpy(p, data, k);
        http_err_t err;
        int r = parse(p, k, &err);
        if (full > 0 && (size_t)full <= k)
            CHECK(r == full);
        else if (full == HTTP_PARSE_ERROR)
            CHECK(r == HTTP_PARSE_INCOMPLETE || (r == HTTP_PARSE_ERROR && err == full_err));
        else
            CHECK(r == HTTP_PARSE_INCOMPLETE);
    }
    free(copy);
}

/* Decodes body[0..n) in one call and a byte per call and compares the outcomes. */
static inline void fuzz_check_chunked(const char *body, size_t n)
{
    char *whole = malloc(n ? n : 1);
    memcpy(whole, body, n);
    http_chunked_t d = {0};
    size_t whole_len = n;
    ssize_t whole_r = http_chunked_decode(&d, whole, &whole_len);
    CHECK(whole_r == HTTP_PARSE_ERROR || whole_r == HTTP_PARSE_INCOMPLETE || whole_r >= 0);
    if (whole_r != HTTP_PARSE_ERROR)
        CHECK(whole_len <= n);
    if (whole_r >= 0) {
        CHECK((size_t)whole_r <= n - whole_len);
        CHECK(memcmp(whole + whole_len, body + n - (size_t)whole_r, (size_t)whole_r) == 0);
    }

    char *out = malloc(n ? n : 1);
    size_t out_len = 0, tail = 0;
    ssize_t r = HTTP_PARSE_INCOMPLETE;
    char *byte = malloc(1);
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < n; i++) {
        *byte = body[i];
        size_t len = 1;
        r = http_chunked_decode(&d, byte, &len);
        if (r != HTTP_PARSE_ERROR) {
            CHECK(len <= 1);
            memcpy(out + out_len, byte, len);
            out_len += len;
        }
        if (r == HTTP_PARSE_ERROR)
            break;
        if (r >= 0) {
            CHECK(r == 0 && len == 0); /* the byte that ends the body is not data */
            tail = n - i - 1;
            break;
        }
        CHECK(r == HTTP_PARSE_INCOMPLETE);
    }
    CHECK(r == HTTP_PARSE_ERROR ? whole_r == HTTP_PARSE_ERROR : (r >= 0) == (whole_r >= 0));
    if (whole_r != HTTP_PARSE_ERROR) {
        CHECK(out_len == whole_len && memcmp(out, whole, out_len) == 0);
        if (whole_r >= 0)
            CHECK(tail == (size_t)whole_r);
    }
    free(byte);
    free(out);
    free(whole);
}

#endif
