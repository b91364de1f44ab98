#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/multipart.h"

#define LIT(s) s, sizeof(s) - 1
#define MAX_PARTS 8

static multipart_part_t parts[MAX_PARTS];
static size_t nparts;

/* Parses body (copied to an exactly sized heap block, so ASan sees any overread). */
static multipart_status_t parse_n(const char *body, size_t len, const char *boundary, size_t max_parts)
{
    static uint8_t *copy; /* kept until the next parse: parts point into it */
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    return multipart_parse(copy, len, boundary, strlen(boundary), parts, max_parts, &nparts);
}

static multipart_status_t parse(const char *body, size_t len, const char *boundary)
{
    return parse_n(body, len, boundary, MAX_PARTS);
}

static void assert_str(const char *got, size_t got_len, const char *want)
{
    assert_non_null(got);
    assert_int_equal(got_len, strlen(want));
    assert_memory_equal(got, want, got_len);
}

static void assert_part(size_t i, const char *name, const char *filename, const char *ctype, const char *data,
                        size_t data_len)
{
    assert_true(i < nparts);
    const multipart_part_t *p = &parts[i];
    assert_str(p->name, p->name_len, name);
    if (filename)
        assert_str(p->filename, p->filename_len, filename);
    else
        assert_null(p->filename);
    if (ctype)
        assert_str(p->content_type, p->content_type_len, ctype);
    else
        assert_null(p->content_type);
    assert_int_equal(p->data_len, data_len);
    if (data_len) assert_memory_equal(p->data, data, data_len);
}

/* Binary "JPEG" bytes with everything a careless parser trips on: CR, LF, CRLF, "--", NUL,
 * and near-misses of the delimiter. */
#define TRICKY "\xff\xd8\xff\xe0\r\n--\r\n\0JFIF\r\r\n\n--\r\n--7MA4\r\n--7MA4YWxkTrZu0gX--\r\n-"

/* --- boundary extraction -------------------------------------------------------------- */

static void expect_boundary(const char *value, const char *want)
{
    const char *b;
    size_t blen;
    assert_int_equal(multipart_boundary(value, strlen(value), &b, &blen), 0);
    assert_str(b, blen, want);
}

static void expect_no_boundary(const char *value)
{
    const char *b;
    size_t blen;
    assert_int_equal(multipart_boundary(value, strlen(value), &b, &blen), -1);
}

static void test_boundary_valid(void **state)
{
    expect_boundary("multipart/form-data; boundary=73a657d00d8f157316b854fbbe8beda0",
                    "73a657d00d8f157316b854fbbe8beda0"); /* requests */
    expect_boundary("multipart/form-data; boundary=------------------------e23ebf92678fbc6f",
                    "------------------------e23ebf92678fbc6f"); /* curl */
    expect_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                    "----WebKitFormBoundary7MA4YWxkTrZu0gW"); /* Chrome */
    expect_boundary("multipart/form-data; boundary=\"a b:c=d?\"", "a b:c=d?");
    expect_boundary("Multipart/Form-Data;BOUNDARY=abc", "abc");
    expect_boundary("  multipart/form-data ; charset=utf-8 ;  boundary = \"x\" ; foo=\"b;a\\r\" ", "x");
    expect_boundary("multipart/form-data; boundary=abc;", "abc");
    expect_boundary("multipart/form-data; boundary=----=_Part_0_123.456", "----=_Part_0_123.456");
    char v[128];
    snprintf(v, sizeof v, "multipart/form-data; boundary=%070d", 7);
    expect_boundary(v, v + strlen("multipart/form-data; boundary="));
}

static void test_boundary_invalid(void **state)
{
    expect_no_boundary("");
    expect_no_boundary("multipart/form-data");
    expect_no_boundary("multipart/form-data; charset=utf-8");
    expect_no_boundary("multipart/mixed; boundary=abc");
    expect_no_boundary("text/plain; boundary=abc");
    expect_no_boundary("multipart/form-data-x; boundary=abc");
    expect_no_boundary("multipart/form-data; boundary=");
    expect_no_boundary("multipart/form-data; boundary=\"\"");
    expect_no_boundary("multipart/form-data; boundary=\"abc");         /* unterminated */
    expect_no_boundary("multipart/form-data; boundary=\"abc \"");      /* trailing space */
    expect_no_boundary("multipart/form-data; boundary=a@b");           /* not a bchar */
    expect_no_boundary("multipart/form-data; boundary=a; boundary=b"); /* ambiguous */
    expect_no_boundary("multipart/form-data; boundary abc");
    expect_no_boundary("multipart/form-data boundary=abc");
    expect_no_boundary("multipart/form-data; boundary=\"a\"junk");
    char v[128];
    snprintf(v, sizeof v, "multipart/form-data; boundary=%071d", 7);
    expect_no_boundary(v);
}

/* --- valid bodies ---------------------------------------------------------------------- */

static void test_requests_body(void **state)
{
    static const char body[] = "--73a657d00d8f157316b854fbbe8beda0\r\n"
                               "Content-Disposition: form-data; name=\"filename\"\r\n"
                               "\r\n"
                               "3.jpeg\r\n"
                               "--73a657d00d8f157316b854fbbe8beda0\r\n"
                               "Content-Disposition: form-data; name=\"image\"; filename=\"3.jpeg\"\r\n"
                               "Content-Type: image/jpeg\r\n"
                               "\r\n" TRICKY "\r\n"
                               "--73a657d00d8f157316b854fbbe8beda0--\r\n";
    assert_int_equal(parse(LIT(body), "73a657d00d8f157316b854fbbe8beda0"), MULTIPART_OK);
    assert_int_equal(nparts, 2);
    assert_part(0, "filename", NULL, NULL, LIT("3.jpeg"));
    assert_part(1, "image", "3.jpeg", "image/jpeg", LIT(TRICKY));
    assert_ptr_equal(multipart_find(parts, nparts, "image"), &parts[1]);
    assert_ptr_equal(multipart_find(parts, nparts, "filename"), &parts[0]);
    assert_null(multipart_find(parts, nparts, "Image"));
    assert_null(multipart_find(parts, nparts, "imag"));
}

static void test_curl_body(void **state)
{
#define B "------------------------e23ebf92678fbc6f"
    static const char body[] = "--" B "\r\n"
                               "Content-Disposition: form-data; name=\"image\"; filename=\"3.jpeg\"\r\n"
                               "Content-Type: image/jpeg\r\n"
                               "\r\n" TRICKY "\r\n"
                               "--" B "\r\n"
                               "Content-Disposition: form-data; name=\"filename\"\r\n"
                               "\r\n"
                               "3.jpeg\r\n"
                               "--" B "--\r\n";
    assert_int_equal(parse(LIT(body), B), MULTIPART_OK);
#undef B
    assert_int_equal(nparts, 2);
    assert_part(0, "image", "3.jpeg", "image/jpeg", LIT(TRICKY));
    assert_part(1, "filename", NULL, NULL, LIT("3.jpeg"));
}

static void test_browser_body(void **state)
{
    /* Chrome: UTF-8 filename raw, '"' percent-encoded, an empty file input, no final CRLF
     * after the closing delimiter (some clients omit it). */
#define B "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    static const char body[] =
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"image\"; filename=\"\xc3\xa9t\xc3\xa9 %22x%22.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n"
        "\r\n"
        "\xff\xd8\xff\r\n"
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"other\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\r\n"
        "--" B "--";
    assert_int_equal(parse(LIT(body), B), MULTIPART_OK);
#undef B
    assert_int_equal(nparts, 2);
    assert_part(0, "image", "\xc3\xa9t\xc3\xa9 %22x%22.jpg", "image/jpeg", LIT("\xff\xd8\xff"));
    assert_part(1, "other", "", "application/octet-stream", "", 0);
}

static void test_preamble_epilogue_padding(void **state)
{
    static const char body[] = "This is the preamble.\r\n--notb\r\n"
                               "--b  \t\r\n"
                               "content-disposition:form-data;name=a\r\n"
                               "X-Other: ignored\r\n"
                               "Content-Transfer-Encoding: binary\r\n"
                               "\r\n"
                               "one\r\n"
                               "--b\t\r\n"
                               "CONTENT-DISPOSITION:   FORM-DATA ; NAME = \"b\" ; FileName = x.png ;  \r\n"
                               "CONTENT-TYPE:  image/png; charset=binary  \r\n"
                               "\r\n"
                               "two\r\n\r\n"
                               "--b-- \r\n"
                               "epilogue --b\r\n--b\r\n";
    assert_int_equal(parse(LIT(body), "b"), MULTIPART_OK);
    assert_int_equal(nparts, 2);
    assert_part(0, "a", NULL, NULL, LIT("one"));
    assert_part(1, "b", "x.png", "image/png; charset=binary", LIT("two\r\n"));
}

static void test_params_edge_cases(void **state)
{
    /* Windows path with backslashes stays literal; filename* is ignored; empty name; unknown
     * parameters skipped; a quoted ';' does not split. */
    static const char body[] =
        "--b\r\n"
        "Content-Disposition: form-data; name=\"img;1\"; filename=\"C:\\dir\\3.jpeg\"\r\n"
        "\r\n"
        "x\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"\"; filename*=UTF-8''%e2%82%ac.jpg; size=3\r\n"
        "\r\n"
        "y\r\n"
        "--b--\r\n";
    assert_int_equal(parse(LIT(body), "b"), MULTIPART_OK);
    assert_int_equal(nparts, 2);
    assert_part(0, "img;1", "C:\\dir\\3.jpeg", NULL, LIT("x"));
    assert_part(1, "", NULL, NULL, LIT("y"));
}

static void test_data_with_near_miss_delimiters(void **state)
{
    /* The part's data holds the boundary without CRLF before it, a prefix of it after CRLF,
     * and the boundary preceded by a bare LF: all data. */
    static const char data[] = "a--bound\r\n--boun\n--bound\r--bound-\r\n-bound\r\n";
    static const char body[] = "--bound\r\n"
                               "Content-Disposition: form-data; name=\"f\"\r\n"
                               "\r\n"
                               "a--bound\r\n--boun\n--bound\r--bound-\r\n-bound\r\n"
                               "\r\n"
                               "--bound--\r\n";
    assert_int_equal(parse(LIT(body), "bound"), MULTIPART_OK);
    assert_int_equal(nparts, 1);
    assert_part(0, "f", NULL, NULL, LIT(data));
}

static void test_large_binary_part(void **state)
{
    /* 1 MB of random bytes (CRs and LFs included) with an exact delimiter at the end. */
    const char *b = "xYz123";
    size_t n = 1 << 20;
    char head[] = "--xYz123\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.bin\"\r\n\r\n";
    char tail[] = "\r\n--xYz123--\r\n";
    size_t len = sizeof head - 1 + n + sizeof tail - 1;
    char *body = malloc(len);
    memcpy(body, head, sizeof head - 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        body[sizeof head - 1 + i] = (char)(x >> 24);
    }
    memcpy(body + sizeof head - 1 + n, tail, sizeof tail - 1);
    assert_int_equal(parse(body, len, b), MULTIPART_OK);
    assert_int_equal(nparts, 1);
    assert_int_equal(parts[0].data_len, n);
    assert_memory_equal(parts[0].data, body + sizeof head - 1, n);
    free(body);
}

static void test_limits_at_edge(void **state)
{
    /* Exactly MULTIPART_MAX_HEADERS lines and exactly max_parts parts are fine. */
    char body[4096];
    size_t o = 0;
    for (int p = 0; p < 2; p++) {
        o += (size_t)sprintf(body + o, "--b\r\nContent-Disposition: form-data; name=p%d\r\n", p);
        for (int h = 1; h < MULTIPART_MAX_HEADERS; h++)
            o += (size_t)sprintf(body + o, "X-H%d: v\r\n", h);
        o += (size_t)sprintf(body + o, "\r\ndata\r\n");
    }
    o += (size_t)sprintf(body + o, "--b--\r\n");
    assert_int_equal(parse_n(body, o, "b", 2), MULTIPART_OK);
    assert_int_equal(nparts, 2);
    assert_part(1, "p1", NULL, NULL, LIT("data"));
}

/* --- malformed bodies: each one checked for its own error ------------------------------ */

#define PART_A "Content-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n"

static void expect_error(const char *body, size_t len, multipart_status_t want)
{
    multipart_status_t st = parse(body, len, "b");
    if (st != want)
        fail_msg("got \"%s\", want \"%s\" for: %.*s", multipart_strerror(st), multipart_strerror(want),
                 (int)len, body);
}

static void test_malformed(void **state)
{
    /* the boundary */
    expect_error(LIT(""), MULTIPART_ERR_NO_DELIMITER);
    expect_error(LIT("no delimiter at all"), MULTIPART_ERR_NO_DELIMITER);
    expect_error(LIT("preamble--b\r\nx--b--\r\n"), MULTIPART_ERR_NO_DELIMITER); /* no CRLF before */
    expect_error(LIT("-b\r\nx\n--b--\r\n"), MULTIPART_ERR_NO_DELIMITER);
    /* Without a CRLF the opening "delimiter" is preamble: the closing one comes first. */
    expect_error(LIT("preamble--b\r\n" PART_A "--b--\r\n"), MULTIPART_ERR_NO_PARTS);
    /* delimiter lines */
    expect_error(LIT("--bx\r\n" PART_A "--b--\r\n"), MULTIPART_ERR_DELIMITER_LINE);
    expect_error(LIT("--b\r\n" PART_A "--bb\r\n" PART_A "--b--\r\n"), MULTIPART_ERR_DELIMITER_LINE);
    expect_error(LIT("--b\r\n" PART_A "--b--x\r\n"), MULTIPART_ERR_DELIMITER_LINE);
    expect_error(LIT("--b\r\n" PART_A "--b -\r\n"), MULTIPART_ERR_DELIMITER_LINE);
    expect_error(LIT("--b\rx" PART_A "--b--\r\n"), MULTIPART_ERR_DELIMITER_LINE);
    /* bare LF */
    expect_error(LIT("--b\n" PART_A "--b--\r\n"), MULTIPART_ERR_BARE_LF);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_BARE_LF);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\r\n\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_BARE_LF);
    expect_error(LIT("--b\r\n" PART_A "--b--\n"), MULTIPART_ERR_BARE_LF);
    /* truncation */
    expect_error(LIT("--b"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nA"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n" PART_A), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n" PART_A "--b"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n" PART_A "--b-"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n" PART_A "--b\r"), MULTIPART_ERR_TRUNCATED);
    expect_error(LIT("--b\r\n" PART_A "--b\r\n"), MULTIPART_ERR_TRUNCATED);
    /* no parts */
    expect_error(LIT("--b--\r\n"), MULTIPART_ERR_NO_PARTS);
    expect_error(LIT("preamble\r\n--b--"), MULTIPART_ERR_NO_PARTS);
    /* header lines */
    expect_error(LIT("--b\r\nContent-Disposition form-data; name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition : form-data; name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\n: form-data; name=a\r\n\r\nA\r\n--b--\r\n"), MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data;\r name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\0\"\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADER_FOLDED);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\r\n--b--\r\n"),
                 MULTIPART_ERR_HEADERS_UNTERMINATED);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\r\n--b\r\n" PART_A "--b--\r\n"),
                 MULTIPART_ERR_HEADERS_UNTERMINATED);
    /* which headers */
    expect_error(
        LIT("--b\r\nContent-Disposition: form-data; name=a\r\ncontent-disposition: form-data; name=b\r\n"
            "\r\nA\r\n--b--\r\n"),
        MULTIPART_ERR_DUP_HEADER);
    expect_error(LIT("--b\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n" PART_A "--b--\r\n"),
                 MULTIPART_ERR_DUP_HEADER);
    expect_error(LIT("--b\r\nContent-Transfer-Encoding: 8bit\r\nContent-Transfer-Encoding: 8bit\r\n" PART_A
                     "--b--\r\n"),
                 MULTIPART_ERR_DUP_HEADER);
    expect_error(LIT("--b\r\n\r\nA\r\n--b--\r\n"), MULTIPART_ERR_NO_DISPOSITION);
    expect_error(LIT("--b\r\nContent-Type: image/jpeg\r\n\r\nA\r\n--b--\r\n"), MULTIPART_ERR_NO_DISPOSITION);
    expect_error(LIT("--b\r\nContent-Transfer-Encoding: base64\r\n" PART_A "--b--\r\n"),
                 MULTIPART_ERR_ENCODING);
    expect_error(LIT("--b\r\nContent-Transfer-Encoding: quoted-printable\r\n" PART_A "--b--\r\n"),
                 MULTIPART_ERR_ENCODING);
    /* Content-Disposition */
    expect_error(LIT("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_NOT_FORM_DATA);
    expect_error(LIT("--b\r\nContent-Disposition: \r\n\r\nA\r\n--b--\r\n"), MULTIPART_ERR_NOT_FORM_DATA);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\"b\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data name=a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; =a\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DISPOSITION_SYNTAX);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; filename=\"x.jpg\"\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_NO_NAME);
    expect_error(LIT("--b\r\nContent-Disposition: form-data\r\n\r\nA\r\n--b--\r\n"), MULTIPART_ERR_NO_NAME);
    expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a; NAME=b\r\n\r\nA\r\n--b--\r\n"),
                 MULTIPART_ERR_DUP_PARAM);
    expect_error(
        LIT("--b\r\nContent-Disposition: form-data; name=a; filename=x; filename=y\r\n\r\nA\r\n--b--\r\n"),
        MULTIPART_ERR_DUP_PARAM);
}

static void test_malformed_limits(void **state)
{
    /* too many parts */
    static const char three[] = "--b\r\n" PART_A "--b\r\n" PART_A "--b\r\n" PART_A "--b--\r\n";
    assert_int_equal(parse_n(LIT(three), "b", 3), MULTIPART_OK);
    assert_int_equal(parse_n(LIT(three), "b", 2), MULTIPART_ERR_TOO_MANY_PARTS);
    assert_int_equal(nparts, 2);
    assert_int_equal(parse_n(LIT(three), "b", 0), MULTIPART_ERR_TOO_MANY_PARTS);

    /* too many header lines */
    char body[16384];
    size_t o = (size_t)sprintf(body, "--b\r\n");
    for (int h = 0; h < MULTIPART_MAX_HEADERS; h++)
        o += (size_t)sprintf(body + o, "X-H%d: v\r\n", h);
    o += (size_t)sprintf(body + o, PART_A "--b--\r\n");
    expect_error(body, o, MULTIPART_ERR_TOO_MANY_HEADERS);

    /* header block larger than the limit, with the blank line and a delimiter after it */
    o = (size_t)sprintf(body, "--b\r\nContent-Disposition: form-data; name=a\r\nX-Big: ");
    memset(body + o, 'v', MULTIPART_MAX_HEADER_BYTES);
    o += MULTIPART_MAX_HEADER_BYTES;
    o += (size_t)sprintf(body + o, "\r\n\r\nA\r\n--b--\r\n");
    expect_error(body, o, MULTIPART_ERR_HEADER_TOO_LARGE);
}

static void test_bad_boundary_argument(void **state)
{
    static const char body[] = "--b\r\n" PART_A "--b--\r\n";
    size_t n;
    assert_int_equal(multipart_parse((const uint8_t *)body, sizeof body - 1, "", 0, parts, MAX_PARTS, &n),
                     MULTIPART_ERR_BOUNDARY);
    assert_int_equal(multipart_parse((const uint8_t *)body, sizeof body - 1, "b\n", 2, parts, MAX_PARTS, &n),
                     MULTIPART_ERR_BOUNDARY);
    char big[72];
    memset(big, 'b', sizeof big);
    assert_int_equal(multipart_parse((const uint8_t *)body, sizeof body - 1, big, 71, parts, MAX_PARTS, &n),
                     MULTIPART_ERR_BOUNDARY);
    assert_int_equal(n, 0);
}

static void test_strerror(void **state)
{
    /* Every status has its own short reason. */
    const char *seen[MULTIPART_ERR_ENCODING + 1];
    for (int s = MULTIPART_OK; s <= MULTIPART_ERR_ENCODING; s++) {
        seen[s] = multipart_strerror((multipart_status_t)s);
        assert_true(strlen(seen[s]) > 1 && strlen(seen[s]) < 64);
        for (int t = 0; t < s; t++)
            assert_string_not_equal(seen[s], seen[t]);
    }
    assert_string_equal(multipart_strerror((multipart_status_t)999), "unknown multipart error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_valid),
        cmocka_unit_test(test_boundary_invalid),
        cmocka_unit_test(test_requests_body),
        cmocka_unit_test(test_curl_body),
        cmocka_unit_test(test_browser_body),
        cmocka_unit_test(test_preamble_epilogue_padding),
        cmocka_unit_test(test_params_edge_cases),
        cmocka_unit_test(test_data_with_near_miss_delimiters),
        cmocka_unit_test(test_large_binary_part),
        cmocka_unit_test(test_limits_at_edge),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_limits),
        cmocka_unit_test(test_bad_boundary_argument),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
