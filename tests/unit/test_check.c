/* check: whole-body digests (fed in any pieces), sha256:HEX, and JSON fields compared by their
 * base64-decoded bytes whatever the JSON's layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "load/check.h"

static char err[256];

/* Feeds data in pieces of `step` bytes. */
static bool check_pieces(const check_t *ck, const char *data, size_t len, size_t step)
{
    check_run_t r = {0};
    bool ok = true;
    for (int round = 0; round < 2; round++) { /* a run is reusable */
        check_begin(&r, ck);
        for (size_t i = 0; i < len; i += step)
            check_feed(&r, ck, data + i, len - i < step ? len - i : step);
        bool got = check_end(&r, ck);
        ok = round ? ok && got == ok : got;
    }
    check_run_free(&r);
    return ok;
}

static void test_body(void **state)
{
    check_t ck;
    const char *want = "hello, world";
    assert_int_equal(check_expect_bytes(&ck, want, strlen(want), NULL), 0);
    assert_int_equal(ck.mode, CHECK_BODY);
    for (size_t step = 1; step <= 13; step++)
        assert_true(check_pieces(&ck, want, strlen(want), step));
    assert_false(check_body(&ck, "hello, World", 12));
    assert_false(check_body(&ck, "hello, world!", 13)); /* longer: stops hashing at once */
    assert_false(check_body(&ck, "hello", 5));
    assert_false(check_pieces(&ck, "hello, worlD", 12, 5));

    assert_int_equal(check_expect_bytes(&ck, NULL, 0, NULL), 0);
    assert_true(check_body(&ck, "", 0));
    assert_false(check_body(&ck, "x", 1));
}

static void test_sha256(void **state)
{
    check_t ck;
    /* sha256("abc"), FIPS 180-2's example */
    assert_int_equal(
        check_expect_sha256(&ck, "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", NULL,
                            err, sizeof err),
        0);
    assert_false(ck.len_known);
    assert_true(check_body(&ck, "abc", 3));
    assert_false(check_body(&ck, "abd", 3));
    assert_true(check_is_digest("sha256:00"));
    assert_false(check_is_digest("expected/"));
    assert_int_equal(check_expect_sha256(&ck, "sha256:ba78", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    assert_int_equal(
        check_expect_sha256(&ck, "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL,
                            err, sizeof err),
        -1);
}

static void test_field(void **state)
{
    check_t ck;
    const char img[] = "\xff\xd8\xff\xe0 not quite a JPEG \x00\x01";
    assert_int_equal(check_expect_bytes(&ck, img, sizeof img - 1, "encoded_img"), 0);
    assert_int_equal(ck.mode, CHECK_FIELD);
    /* base64 of img: the same bytes however the JSON is laid out or escaped. */
    static const char *const same[] = {
        "{\"filename\": \"a.jpg\", \"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB\"}",
        "{\"encoded_img\":\"\\/9j\\/4CBub3QgcXVpdGUgYSBKUEVHIAAB\",\"filename\":null}",
        "{ \"encoded_img\" : \"/9j/4CBub3Qg\\ncXVpdGUgYSBKUEVHIAAB\" }\n",
        "{\"x\": {\"encoded_img\": \"AAAA\"}, \"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB\"}",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        for (size_t step = 1; step < 8; step += 3)
            if (!check_pieces(&ck, same[i], strlen(same[i]), step)) fail_msg("not the same: %s", same[i]);
    }
    static const char *const differ[] = {
        "{\"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAC\"}", /* one byte off */
        "{\"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVH\"}",     /* shorter */
        "{\"filename\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB\"}",    /* another member */
        "{\"encoded_img\": 12}",
        "{\"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB",     /* truncated */
        "[\"encoded_img\", \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB\"]",
        "{\"encoded_img\": \"/9j-4CBub3QgcXVpdGUgYSBKUEVHIAAB\"}", /* url-safe alphabet */
        "",
        "not json",
    };
    for (size_t i = 0; i < sizeof differ / sizeof *differ; i++)
        if (check_body(&ck, differ[i], strlen(differ[i]))) fail_msg("taken as the same: %s", differ[i]);

    /* An answer longer than any JSON holding the expected bytes is not kept. */
    char big[4096];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"encoded_img\": \"/9j/4CBub3QgcXVpdGUgYSBKUEVHIAAB\"}", 52);
    assert_true(check_body(&ck, big, sizeof big));
    assert_true(check_json_limit(&ck) < (1u << 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
