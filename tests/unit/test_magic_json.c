#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/base64.h"
/* The .c itself: the tests reach parse_top() to compare cutting long strings with not. */
#include "server/magic_json.c"

#define LIT(s) s, sizeof(s) - 1

static magic_json_req_t req;

/* A field of r as an offset into its body (or -1) and its bytes: comparable across copies. */
static void assert_same_field(const char *a, size_t alen, const char *abody, const char *b, size_t blen,
                              const char *bbody)
{
    assert_int_equal(a ? a - abody : -1, b ? b - bbody : -1);
    assert_int_equal(alen, blen);
    if (a) assert_memory_equal(a, b, alen);
}

/* Parses a copy of body in an exactly sized heap block (ASan sees overreads); the copy lives
 * until the next call, since req points into it. Every body is also parsed with every string
 * cut out of jsmn's view (cut_min 1) and with none (jsmn alone): all three must agree. */
static magic_json_status_t parse(const char *body, size_t len)
{
    static char *copy;
    free(copy);
    copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    magic_json_status_t st = magic_json_parse(copy, len, &req);
    size_t cut_mins[] = {1, SIZE_MAX};
    for (size_t k = 0; k < 2; k++) {
        char *other = malloc(len ? len : 1);
        memcpy(other, body, len);
        magic_json_req_t r = {0};
        magic_json_status_t st2 = parse_top(other, len, &r, true, cut_mins[k]); /* len < INT_MAX here */
        if (st2 != st)
            fail_msg("cut_min %zu: \"%s\", default: \"%s\" for: %.*s", cut_mins[k], magic_json_strerror(st2),
                     magic_json_strerror(st), (int)len, body);
        if (st == MAGIC_JSON_OK) {
            assert_same_field(r.filename, r.filename_len, other, req.filename, req.filename_len, copy);
            assert_same_field(r.image_b64, r.image_b64_len, other, req.image_b64, req.image_b64_len, copy);
            assert_same_field(r.image_url, r.image_url_len, other, req.image_url, req.image_url_len, copy);
            assert_same_field(r.email, r.email_len, other, req.email, req.email_len, copy);
            assert_same_field(r.crop, r.crop_len, other, req.crop, req.crop_len, copy);
        }
        free(other);
    }
    return st;
}

static void assert_str(const char *got, size_t got_len, const char *want, size_t want_len)
{
    assert_non_null(got);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static void expect_status(const char *body, size_t len, magic_json_status_t want)
{
    magic_json_status_t st = parse(body, len);
    if (st != want)
        fail_msg("got \"%s\", want \"%s\" for: %.*s", magic_json_strerror(st), magic_json_strerror(want),
                 (int)len, body);
}

/* --- request shapes -------------------------------------------------------------------- */

static void test_base64_request(void **state)
{
    assert_int_equal(parse(LIT("{\"filename\": \"3.jpeg\", \"image\": \"/9j/4AAQ\"}")), MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, LIT("3.jpeg"));
    assert_str(req.image_b64, req.image_b64_len, LIT("/9j/4AAQ"));
    assert_null(req.image_url);

    assert_int_equal(parse(LIT("{\"encoded_image\":\"QUJD\",\"filename\":\"a.png\"}")), MAGIC_JSON_OK);
    assert_str(req.image_b64, req.image_b64_len, LIT("QUJD"));
    assert_str(req.filename, req.filename_len, LIT("a.png"));
}

static void test_image_url_request(void **state)
{
    assert_int_equal(parse(LIT("{\"image_url\": \"http:\\/\\/127.0.0.1:8000\\/3.jpeg?a=1&b=\\u00e9\"}")),
                     MAGIC_JSON_OK);
    assert_str(req.image_url, req.image_url_len, LIT("http://127.0.0.1:8000/3.jpeg?a=1&b=\xc3\xa9"));
    assert_null(req.filename);
    assert_null(req.image_b64);
}

static void test_upload_request(void **state)
{
    assert_int_equal(
        parse(LIT("{\"image\": \"/9j/4AAQ\", \"email\": \"Jane\\u0040example.com\", \"crop\": \"1,2,3,4\"}")),
        MAGIC_JSON_OK);
    assert_str(req.image_b64, req.image_b64_len, LIT("/9j/4AAQ"));
    assert_str(req.email, req.email_len, LIT("Jane@example.com"));
    assert_str(req.crop, req.crop_len, LIT("1,2,3,4"));
    assert_int_equal(parse(LIT("{\"image\": \"QUJD\", \"email\": null}")), MAGIC_JSON_OK);
    assert_null(req.email);
    assert_null(req.crop);
    expect_status(LIT("{\"image\": \"QUJD\", \"crop\": [1, 2, 3, 4]}"), MAGIC_JSON_ERR_FIELD_TYPE);
    expect_status(LIT("{\"email\": \"a@b\", \"email\": \"c@d\"}"), MAGIC_JSON_ERR_DUP_FIELD);
}

static void test_double_encoded(void **state)
{
    /* requests.post(url, json=json.dumps({"filename": ..., "image": ...})) */
    assert_int_equal(parse(LIT(" \"{\\\"filename\\\": \\\"3.jpeg\\\", \\\"image\\\": \\\"QUJD\\\"}\" \n")),
                     MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, LIT("3.jpeg"));
    assert_str(req.image_b64, req.image_b64_len, LIT("QUJD"));
    /* Escapes at both levels: \\\" in the outer string is \" in the inner one. */
    assert_int_equal(
        parse(LIT("\"{\\\"filename\\\": \\\"a\\\\\\\"b.jpg\\\", \\\"image_url\\\": \\\"x\\\\/y\\\"}\"")),
        MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, LIT("a\"b.jpg"));
    assert_str(req.image_url, req.image_url_len, LIT("x/y"));
}

static void test_escaped_base64(void **state)
{
    /* JS/PHP clients escape '/'; base64.encodebytes() line breaks arrive as \n escapes. */
    assert_int_equal(parse(LIT("{\"image\": \"\\/9j\\/4AAQ\\nSkZJ\\r\\nRg==\\n\"}")), MAGIC_JSON_OK);
    assert_str(req.image_b64, req.image_b64_len, LIT("/9j/4AAQ\nSkZJ\r\nRg==\n"));
    uint8_t out[32];
    assert_int_equal(base64_decode(out, req.image_b64, req.image_b64_len), 10);
}

static void test_unicode_filenames(void **state)
{
    assert_int_equal(parse(LIT("{\"filename\": \"\\u00e9t\\u00E9 \\u65e5\\u672c.jpg\"}")), MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, LIT("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.jpg"));
    assert_int_equal(parse(LIT("{\"filename\": \"\\ud83d\\ude00.png\"}")), MAGIC_JSON_OK); /* U+1F600 */
    assert_str(req.filename, req.filename_len, LIT("\xf0\x9f\x98\x80.png"));
    assert_int_equal(parse(LIT("{\"filename\": \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80.jpg\"}")),
                     MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, LIT("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80.jpg"));
    assert_int_equal(parse(LIT("{\"filename\": \"\\u007f\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff\"}")),
                     MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len,
               LIT("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf"));
    assert_int_equal(parse(LIT("{\"filename\": \"\"}")), MAGIC_JSON_OK);
    assert_str(req.filename, req.filename_len, "", 0);
}

static void test_nulls_unknown_keys_whitespace(void **state)
{
    assert_int_equal(
        parse(LIT("\r\n\t {\n\"filename\" :\tnull ,\"meta\": {\"a\": [1, 2.5e3, -1, true, false, null,"
                  " {\"image\": 5}]}, \"image\" : \"QUJD\", \"x\": \"\\u0000\"\r\n}\n\n")),
        MAGIC_JSON_OK);
    assert_null(req.filename);
    assert_str(req.image_b64, req.image_b64_len, LIT("QUJD"));
    assert_int_equal(parse(LIT("{}")), MAGIC_JSON_OK);
    assert_null(req.filename);
    assert_null(req.image_b64);
    assert_null(req.image_url);
    /* A key spelled with escapes is still that key. */
    assert_int_equal(parse(LIT("{\"\\u0069mage\": \"QUJD\"}")), MAGIC_JSON_OK);
    assert_str(req.image_b64, req.image_b64_len, LIT("QUJD"));
    /* Keys are case-sensitive: these are unknown keys. */
    assert_int_equal(parse(LIT("{\"Image\": \"QUJD\", \"FILENAME\": 3}")), MAGIC_JSON_OK);
    assert_null(req.image_b64);
}

static void test_large_body_is_linear(void **state)
{
    /* 10 MB of base64 with no escapes: found, untouched, in place. */
    size_t n = 10u << 20;
    const char head[] = "{\"filename\": \"big.jpg\", \"image\": \"";
    const char tail[] = "\"}";
    size_t len = sizeof head - 1 + n + sizeof tail - 1;
    char *body = malloc(len);
    memcpy(body, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++)
        body[sizeof head - 1 + i] = "ABCDEFGHabcdefgh0123456789+/"[i % 28];
    memcpy(body + len - 2, tail, 2);
    assert_int_equal(magic_json_parse(body, len, &req), MAGIC_JSON_OK);
    assert_ptr_equal(req.image_b64, body + sizeof head - 1);
    assert_int_equal(req.image_b64_len, n);
    free(body);

    /* A skeleton too large for the stack buffer: a cut string, then 2000 bytes of space. */
    char big[2400];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"image\": \"");
    memset(big + o, 'A', 300);
    o += 300;
    o += (size_t)snprintf(big + o, sizeof big - o, "\"");
    memset(big + o, ' ', 2000);
    o += 2000;
    big[o++] = '}';
    assert_int_equal(parse(big, o), MAGIC_JSON_OK);
    assert_int_equal(req.image_b64_len, 300);
}

/* --- malformed -------------------------------------------------------------------------- */

static void test_malformed(void **state)
{
    expect_status(LIT(""), MAGIC_JSON_ERR_EMPTY);
    expect_status(LIT(" \r\n\t"), MAGIC_JSON_ERR_EMPTY);
    expect_status(LIT("\"  \""), MAGIC_JSON_ERR_EMPTY); /* a string holding nothing */

    expect_status(LIT("[{\"image\": \"x\"}]"), MAGIC_JSON_ERR_NOT_OBJECT);
    expect_status(LIT("123"), MAGIC_JSON_ERR_NOT_OBJECT);
    expect_status(LIT("null"), MAGIC_JSON_ERR_NOT_OBJECT);
    expect_status(LIT("\"abc\""), MAGIC_JSON_ERR_NOT_OBJECT);
    expect_status(LIT("\"\\\"{}\\\"\""), MAGIC_JSON_ERR_NOT_OBJECT); /* encoded twice over */
    expect_status(LIT("image=QUJD"), MAGIC_JSON_ERR_NOT_OBJECT);     /* a form post */

    /* A quote inside a primitive opens no string (jsmn takes `1"b"` as one primitive): the
     * long-string cut must see the text as jsmn does (every parse() compares the two). */
    expect_status(LIT("{\"a\": 1\"b\", \"image\": \"QUJD\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("\"{}\"1\"x\\\", \\\"image\\\": \\\"QUJD\\\"}\"1"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{"), MAGIC_JSON_ERR_TRUNCATED);
    expect_status(LIT("{\"image\": \"QUJD"), MAGIC_JSON_ERR_TRUNCATED);
    expect_status(LIT("{\"image\": \"QUJD\""), MAGIC_JSON_ERR_TRUNCATED);
    expect_status(LIT("\"{\\\"image\\\": 1"), MAGIC_JSON_ERR_TRUNCATED);

    expect_status(LIT("{\"image\" \"QUJD\"}"), MAGIC_JSON_ERR_SYNTAX); /* no ':' */
    expect_status(LIT("{\"image\":: \"QUJD\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 1 \"image\": \"x\"}"), MAGIC_JSON_ERR_SYNTAX); /* no ',' */
    expect_status(LIT("{\"a\": 1,, \"image\": \"x\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{, \"image\": \"x\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": \"x\",}"), MAGIC_JSON_ERR_SYNTAX); /* trailing comma */
    expect_status(LIT("{\"image\": \"x\" ,}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\":1:2}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\":\"b\":\"c\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{image: \"x\"}"), MAGIC_JSON_ERR_SYNTAX); /* unquoted key */
    expect_status(LIT("{1: \"x\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": \"x\"}}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": \"x\"} {}"), MAGIC_JSON_ERR_SYNTAX); /* two values */
    expect_status(LIT("{\"image\": \"x\"} x"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": \"x\"}\0"), MAGIC_JSON_ERR_SYNTAX); /* NUL after */
    expect_status(LIT("{\"image\": \"x\0\"}"), MAGIC_JSON_ERR_SYNTAX); /* NUL inside */
    expect_status(LIT("{\"image\": 'x'}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": \"\\x41\"}"), MAGIC_JSON_ERR_SYNTAX); /* jsmn rejects \x */
    expect_status(LIT("{\"image\": \"\\u00zz\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("\"{\\\"image\\\": \\\"x\\\"} junk\""),
                  MAGIC_JSON_ERR_SYNTAX); /* inner trailing junk */
    /* What jsmn lets through, nested in values we do not even use. */
    expect_status(LIT("{\"a\": [1,,2], \"image\": \"x\"}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": [1 2]}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": [1,]}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": [,1]}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": [\"x\": 1]}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": {\"b\" \"c\"}}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": {\"b\": 1,}}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"image\": nul}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": tru}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 01}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 1.}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": .5}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 1e}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": -}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": +1}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 0x10}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": 1:2}"), MAGIC_JSON_ERR_SYNTAX);
    expect_status(LIT("{\"a\": [-0.5e+10, 0, 1E-2, -0, true, false, null, [], {}]}"), MAGIC_JSON_OK);

    expect_status(LIT("{\"image\": 5}"), MAGIC_JSON_ERR_FIELD_TYPE);
    expect_status(LIT("{\"image\": true}"), MAGIC_JSON_ERR_FIELD_TYPE);
    expect_status(LIT("{\"image\": [\"QUJD\"]}"), MAGIC_JSON_ERR_FIELD_TYPE);
    expect_status(LIT("{\"filename\": {\"a\": \"b\"}, \"image\": \"QUJD\"}"), MAGIC_JSON_ERR_FIELD_TYPE);
    expect_status(LIT("{\"image_url\": 1}"), MAGIC_JSON_ERR_FIELD_TYPE);

    expect_status(LIT("{\"image\": \"a\", \"encoded_image\": \"b\"}"), MAGIC_JSON_ERR_DUP_FIELD);
    expect_status(LIT("{\"filename\": \"a\", \"filename\": \"b\"}"), MAGIC_JSON_ERR_DUP_FIELD);
    expect_status(LIT("{\"image_url\": null, \"image_url\": \"b\"}"), MAGIC_JSON_ERR_DUP_FIELD);

    expect_status(LIT("{\"image\": \"a\nb\"}"), MAGIC_JSON_ERR_STRING); /* raw control byte */
    expect_status(LIT("{\"filename\": \"a\tb\"}"), MAGIC_JSON_ERR_STRING);
    expect_status(LIT("{\"image\": \"\\ud800\"}"), MAGIC_JSON_ERR_STRING); /* lone high surrogate */
    expect_status(LIT("{\"image\": \"\\ud800x\"}"), MAGIC_JSON_ERR_STRING);
    expect_status(LIT("{\"image\": \"\\ud800\\u0041\"}"), MAGIC_JSON_ERR_STRING);
    expect_status(LIT("{\"image\": \"\\ud800\\ud800\"}"), MAGIC_JSON_ERR_STRING);
    expect_status(LIT("{\"image\": \"\\udc00\"}"), MAGIC_JSON_ERR_STRING); /* lone low surrogate */
    expect_status(LIT("{\"\\ud800\": 1}"), MAGIC_JSON_ERR_STRING);         /* in a key */
    expect_status(LIT("\"{\\\"image\\\": \\\"\\\\ud800\\\"}\""), MAGIC_JSON_ERR_STRING);
    expect_status(LIT("\"\\ud800{}\""), MAGIC_JSON_ERR_STRING); /* outer string */

    expect_status(LIT("{\"filename\": \"a\\u0000b\"}"), MAGIC_JSON_ERR_FILENAME);
    expect_status(LIT("{\"filename\": \"\xff.jpg\"}"), MAGIC_JSON_ERR_FILENAME);
    expect_status(LIT("{\"filename\": \"\xc0\xae.jpg\"}"), MAGIC_JSON_ERR_FILENAME);     /* overlong */
    expect_status(LIT("{\"filename\": \"\xed\xa0\x80.jpg\"}"), MAGIC_JSON_ERR_FILENAME); /* raw surrogate */
    expect_status(LIT("{\"filename\": \"\xf4\x90\x80\x80.jpg\"}"), MAGIC_JSON_ERR_FILENAME); /* > U+10FFFF */
    expect_status(LIT("{\"filename\": \"ab\xe6\x97\"}"), MAGIC_JSON_ERR_FILENAME);           /* truncated */
}

static void test_limits(void **state)
{
    char body[8192];
    int n = sprintf(body, "{\"filename\": \"");
    memset(body + n, 'f', MAGIC_JSON_MAX_FILENAME);
    n += MAGIC_JSON_MAX_FILENAME;
    n += sprintf(body + n, "\"}");
    assert_int_equal(parse(body, (size_t)n), MAGIC_JSON_OK);
    assert_int_equal(req.filename_len, MAGIC_JSON_MAX_FILENAME);

    n = sprintf(body, "{\"filename\": \"");
    memset(body + n, 'f', MAGIC_JSON_MAX_FILENAME + 1);
    n += MAGIC_JSON_MAX_FILENAME + 1;
    n += sprintf(body + n, "\"}");
    expect_status(body, (size_t)n, MAGIC_JSON_ERR_FILENAME);

    /* Escapes count after decoding: 1024 "\u00e9" is 2048 bytes, too long. */
    n = sprintf(body, "{\"filename\": \"");
    for (int i = 0; i < 1024 && n < 7000; i++)
        n += sprintf(body + n, "\\u00e9");
    n += sprintf(body + n, "\"}");
    expect_status(body, (size_t)n, MAGIC_JSON_ERR_FILENAME);

    /* Token budget: an array of MAGIC_JSON_MAX_TOKENS numbers under an unknown key. */
    n = sprintf(body, "{\"a\": [");
    for (int i = 0; i < MAGIC_JSON_MAX_TOKENS; i++)
        n += sprintf(body + n, "%s%d", i ? "," : "", i);
    n += sprintf(body + n, "], \"image\": \"QUJD\"}");
    expect_status(body, (size_t)n, MAGIC_JSON_ERR_TOO_COMPLEX);
    /* ... and just within it. */
    n = sprintf(body, "{\"a\": [");
    for (int i = 0; i < MAGIC_JSON_MAX_TOKENS - 5; i++)
        n += sprintf(body + n, "%s%d", i ? "," : "", i);
    n += sprintf(body + n, "], \"image\": \"QUJD\"}");
    expect_status(body, (size_t)n, MAGIC_JSON_OK);
    /* Deep nesting is bounded by the same budget. */
    n = sprintf(body, "{\"a\": ");
    for (int i = 0; i < 1000; i++)
        body[n++] = '[';
    expect_status(body, (size_t)n, MAGIC_JSON_ERR_TOO_COMPLEX);
}

/* --- the reply -------------------------------------------------------------- */

static void test_reply(void **state)
{
    const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00};
    char out[256];
    size_t n = magic_json_reply_len(LIT("3.jpeg"), sizeof jpeg);
    assert_int_equal(magic_json_reply(out, LIT("3.jpeg"), jpeg, sizeof jpeg), n);
    assert_memory_equal(out, "{\"filename\": \"3.jpeg\", \"encoded_img\": \"/9j/4AA=\"}", n);

    n = magic_json_reply_len(NULL, 0, 0);
    assert_int_equal(magic_json_reply(out, NULL, 0, NULL, 0), n);
    assert_memory_equal(out, "{\"filename\": null, \"encoded_img\": \"\"}", n);
}

static void test_reply_round_trip(void **state)
{
    /* Whatever the name (quotes, controls, UTF-8, invalid bytes), the reply is JSON that
     * parses back to the same name (invalid bytes as U+FFFD) and the same image. */
    static const struct {
        const char *name, *back;
    } names[] = {
        {"3.jpeg", "3.jpeg"},
        {"a \"quoted\" \\ name\n\t.jpg", "a \"quoted\" \\ name\n\t.jpg"},
        {"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80.png", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80.png"},
        {"bad \xff\xfe.jpg", "bad \xef\xbf\xbd\xef\xbf\xbd.jpg"},
    };
    uint8_t jpeg[300];
    for (size_t i = 0; i < sizeof jpeg; i++)
        jpeg[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t flen = strlen(names[i].name), n = magic_json_reply_len(names[i].name, flen, sizeof jpeg);
        char *out = malloc(n);
        assert_int_equal(magic_json_reply(out, names[i].name, flen, jpeg, sizeof jpeg), n);
        /* "encoded_img" is not a request key: the parse sees only the filename. */
        assert_int_equal(magic_json_parse(out, n, &req), MAGIC_JSON_OK);
        assert_str(req.filename, req.filename_len, names[i].back, strlen(names[i].back));
        const char *img = strstr(out, "\"encoded_img\": \"") + 16;
        uint8_t back[300];
        assert_int_equal(base64_decode(back, img, (size_t)(out + n - 2 - img)), sizeof jpeg);
        assert_memory_equal(back, jpeg, sizeof jpeg);
        free(out);
    }
}

static void test_strerror(void **state)
{
    const char *seen[MAGIC_JSON_ERR_FILENAME + 1];
    for (int s = MAGIC_JSON_OK; s <= MAGIC_JSON_ERR_FILENAME; s++) {
        seen[s] = magic_json_strerror((magic_json_status_t)s);
        assert_true(strlen(seen[s]) > 1 && strlen(seen[s]) < 64);
        for (int t = 0; t < s; t++)
            assert_string_not_equal(seen[s], seen[t]);
    }
    assert_string_equal(magic_json_strerror((magic_json_status_t)999), "unknown json error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_request),
        cmocka_unit_test(test_image_url_request),
        cmocka_unit_test(test_upload_request),
        cmocka_unit_test(test_double_encoded),
        cmocka_unit_test(test_escaped_base64),
        cmocka_unit_test(test_unicode_filenames),
        cmocka_unit_test(test_nulls_unknown_keys_whitespace),
        cmocka_unit_test(test_large_body_is_linear),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
