/* json: string escaping as Python's json.dumps(ensure_ascii=False) writes it, unescaping
 * (every escape, surrogate pairs, rejections), UTF-8 validation (RFC 3629's invalid forms),
 * and the round trip unescape(escape(x)) == x for UTF-8 (U+FFFD for the rest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http/json.h"

#define LIT(s) s, sizeof(s) - 1

static void test_escape(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"", ""},
                 {"plain", "plain"},
                 {"\"\\", "\\\"\\\\"},
                 {"\b\f\n\r\t", "\\b\\f\\n\\r\\t"},
                 {"\x01\x1f", "\\u0001\\u001f"},
                 {"/ \x7f \xe2\x82\xac", "/ \x7f \xe2\x82\xac"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        size_t n = json_escape(out, cases[i].in, strlen(cases[i].in));
        assert_int_equal(n, json_escaped_len(cases[i].in, strlen(cases[i].in)));
        assert_int_equal(n, strlen(cases[i].out));
        assert_memory_equal(out, cases[i].out, n);
    }
    /* A NUL byte is data, not an end. */
    char out[16];
    assert_int_equal(json_escape(out, "a\0b", 3), 8);
    assert_memory_equal(out, "a\\u0000b", 8);
}

static void test_escape_invalid_utf8(void **state)
{
    const char mixed[] = "\"quoted\" \\ \x01\x1f\x7f \xc3\xa9 \xf0\x9f\x98\x80 / \xe6\x97";
    char esc[256];
    size_t n = json_escape(esc, LIT(mixed));
    assert_int_equal(n, json_escaped_len(LIT(mixed)));
    assert_memory_equal(
        esc, "\\\"quoted\\\" \\\\ \\u0001\\u001f\x7f \xc3\xa9 \xf0\x9f\x98\x80 / \\ufffd\\ufffd", n);
}

static void test_unescape(void **state)
{
    char s[64];
    memcpy(s, "a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti", 25);
    assert_int_equal(json_unescape(s, 25), 17);
    assert_memory_equal(s, "a\"b\\c/d\be\ff\ng\rh\ti", 17);
    memcpy(s, "\\u00e9\\u20AC\\ud83d\\ude00\\u0000.", 31);
    assert_int_equal(json_unescape(s, 31), 2 + 3 + 4 + 1 + 1);
    assert_memory_equal(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0.", 11);
    /* A long plain run after an escape is moved down intact (the word-at-a-time path). */
    memcpy(s, "\\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 38);
    assert_int_equal(json_unescape(s, 38), 37);
    assert_memory_equal(s, "\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 37);
    memcpy(s, "plain text", 10);
    assert_int_equal(json_unescape(s, 10), 10);
    assert_int_equal(json_unescape(s, 0), 0);
}

static void test_unescape_rejects(void **state)
{
    static const char *const bad[] = {
        "\\",             /* escape cut short */
        "\\u12",          /* \u cut short */
        "\\u12g4",        /* not hex */
        "\\q",            /* unknown escape */
        "\\ud83d",        /* lone high surrogate */
        "\\ud83d\\ude0",  /* its pair cut short */
        "\\ud83d\\u0041", /* high surrogate + not a low one */
        "\\ude00",        /* lone low surrogate */
        "a\nb",           /* raw control byte */
        "12345678\x1f",   /* raw control byte after a whole word */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char s[32];
        size_t n = strlen(bad[i]);
        memcpy(s, bad[i], n);
        assert_int_equal(json_unescape(s, n), -1);
    }
}

static void test_round_trip(void **state)
{
    /* Every single byte: escaped, then unescaped again. */
    for (int c = 0; c < 256; c++) {
        char raw = (char)c, esc[8];
        size_t n = json_escaped_len(&raw, 1);
        assert_int_equal(json_escape(esc, &raw, 1), n);
        ssize_t back = json_unescape(esc, n);
        if (c < 0x80) {
            assert_int_equal(back, 1);
            assert_int_equal((unsigned char)esc[0], c);
        } else { /* a lone high byte is not UTF-8: it becomes U+FFFD */
            assert_int_equal(back, 3);
            assert_memory_equal(esc, "\xef\xbf\xbd", 3);
        }
    }
    const char text[] = "caf\xc3\xa9 \"\\/\t\x01 \xf0\x9f\x98\x80";
    char esc[128];
    size_t n = json_escape(esc, LIT(text));
    assert_int_equal(json_unescape(esc, n), sizeof text - 1);
    assert_memory_equal(esc, text, sizeof text - 1);
}

static void test_utf8_valid(void **state)
{
    assert_true(json_utf8_valid("", 0));
    assert_true(json_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    assert_true(json_utf8_valid("a\0b", 3));
    assert_true(json_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_true(json_utf8_valid("\xed\x9f\xbf", 3));      /* U+D7FF, just below surrogates */
    assert_false(json_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(json_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(json_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(json_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(json_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
    assert_false(json_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(json_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(json_utf8_valid("\xff", 1));
    assert_false(json_utf8_valid("\x80", 1)); /* lone continuation byte */
    assert_false(json_utf8_valid("\xc3(", 2));
}

static void test_primitive_valid(void **state)
{
    static const char *good[] = {"true", "false", "null", "0", "-0", "12", "-3.5", "1e9", "2.5E-3", "0.0e+1"};
    static const char *bad[] = {"", "tru", "nul", "True", "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x1", "1 ", "NaN"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(json_primitive_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(json_primitive_valid(bad[i], strlen(bad[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),           cmocka_unit_test(test_escape_invalid_utf8),
        cmocka_unit_test(test_unescape),         cmocka_unit_test(test_unescape_rejects),
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_primitive_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
