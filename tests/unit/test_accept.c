/* accept: real browser and client values, precedence, weights and their malformed forms,
 * parameters and quoting, hostile values, and that nothing is read past the length given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/accept.h"

static const char chrome[] = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
static const char firefox[] = "image/avif,image/webp,*/*";
static const char safari[] = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
                             "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";

static int q(const char *v, const char *type)
{
    return http_accept_q(v, strlen(v), type, false);
}

static int qx(const char *v, const char *type)
{
    return http_accept_q(v, strlen(v), type, true);
}

static void test_browsers(void **state)
{
    assert_int_equal(q(chrome, "image/avif"), 1000);
    assert_int_equal(q(chrome, "image/webp"), 1000);
    assert_int_equal(q(chrome, "image/png"), 1000); /* the image wildcard */
    assert_int_equal(q(chrome, "text/html"), 800);  /* the full wildcard */
    assert_int_equal(qx(chrome, "image/webp"), 1000);
    assert_int_equal(qx(chrome, "image/png"), -1);
    assert_int_equal(qx(chrome, "image/jxl"), -1);

    assert_int_equal(q(firefox, "image/webp"), 1000);
    assert_int_equal(q(firefox, "image/jpeg"), 1000);
    assert_int_equal(qx(firefox, "image/avif"), 1000);
    assert_int_equal(qx(firefox, "image/jpeg"), -1);

    assert_int_equal(q(safari, "image/webp"), 1000);
    assert_int_equal(q(safari, "image/jxl"), 1000);
    assert_int_equal(q(safari, "image/png"), 1000);
    assert_int_equal(q(safari, "image/gif"), 800); /* the image wildcard, q=0.8 */
    assert_int_equal(q(safari, "video/mp4"), 800);
    assert_int_equal(q(safari, "text/html"), 500);
    assert_int_equal(qx(safari, "image/gif"), -1);
    assert_int_equal(qx(safari, "image/heic"), 1000);

    assert_int_equal(q("*/*", "image/webp"), 1000); /* curl */
    assert_int_equal(qx("*/*", "image/webp"), -1);

    /* Java's HttpURLConnection: ".2" is not a qvalue, so only the named types count. */
    const char *java = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2";
    assert_int_equal(q(java, "image/gif"), 1000);
    assert_int_equal(q(java, "image/webp"), -1);
}

static void test_weights(void **state)
{
    static const struct {
        const char *v;
        int want;
    } cases[] = {
        {"image/webp;q=0.8", 800},
        {"image/webp;q=1", 1000},
        {"image/webp;q=1.000", 1000},
        {"image/webp;q=1.", 1000},
        {"image/webp;q=1.0", 1000},
        {"image/webp;q=0", 0},
        {"image/webp;q=0.", 0},
        {"image/webp;q=0.000", 0},
        {"image/webp;q=0.001", 1},
        {"image/webp;q=0.05", 50},
        {"image/webp;q=0.999", 999},
        {"image/webp;Q=0.5", 500},
        {"image/webp", 1000},
        {"image/webp;q=0.5 ", 500},
        {"image/webp;q=0.5,", 500},
        /* malformed: the element is ignored */
        {"image/webp;q=1.001", -1},
        {"image/webp;q=1.5", -1},
        {"image/webp;q=2", -1},
        {"image/webp;q=.5", -1},
        {"image/webp;q=abc", -1},
        {"image/webp;q=0.1234", -1},
        {"image/webp;q=", -1},
        {"image/webp;q=\"0.5\"", -1},
        {"image/webp;q=-0", -1},
        {"image/webp;q=0.5x", -1},
        {"image/webp;q=0.5;q=0.9", -1},
        {"image/webp;q", -1},
        {"image/webp;q=1.0000", -1},
        {"image/webp;q=00", -1},
        {"image/webp;q=0 .5", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = q(cases[i].v, "image/webp");
        if (got != cases[i].want) fail_msg("\"%s\": %d, want %d", cases[i].v, got, cases[i].want);
    }
    /* A malformed element hides nothing after it. */
    assert_int_equal(q("image/webp;q=abc, image/*;q=0.3", "image/webp"), 300);
    assert_int_equal(q("image/webp;q=abc, image/webp;q=0.3", "image/webp"), 300);
}

static void test_precedence(void **state)
{
    const char *v = "*/*;q=0.1, image/*;q=0.5, image/webp;q=0.9";
    const char *r = "image/webp;q=0.9,image/*;q=0.5,*/*;q=0.1";
    assert_int_equal(q(v, "image/webp"), 900);
    assert_int_equal(q(v, "image/png"), 500);
    assert_int_equal(q(v, "text/html"), 100);
    assert_int_equal(q(r, "image/webp"), 900);
    assert_int_equal(q(r, "image/png"), 500);
    assert_int_equal(q(r, "text/html"), 100);

    /* A named refusal beats a wildcard's welcome, and a wildcard's refusal a lower one. */
    assert_int_equal(q("image/webp;q=0, */*", "image/webp"), 0);
    assert_int_equal(qx("image/webp;q=0, */*", "image/webp"), 0);
    assert_int_equal(q("image/*;q=0, */*", "image/webp"), 0);
    assert_int_equal(q("image/*;q=0, */*", "text/plain"), 1000);

    /* Equally specific: the highest weight. */
    assert_int_equal(q("image/webp;q=0.2, image/webp;q=0.7", "image/webp"), 700);
    assert_int_equal(q("image/webp, image/webp;q=0", "image/webp"), 1000);
    assert_int_equal(q("text/html;level=1;q=0.2, text/html;q=0.9", "text/html"), 900);

    /* Case-insensitive, on both sides; a prefix is not a match. */
    assert_int_equal(q("IMAGE/WebP;Q=0.5", "image/webp"), 500);
    assert_int_equal(q("image/webp", "Image/WEBP"), 1000);
    assert_int_equal(q("Image/*", "image/png"), 1000);
    assert_int_equal(q("image/web, image/webpx, imag/*, image2/*", "image/webp"), -1);
    assert_int_equal(q("image/webp", "image/web"), -1);

    assert_int_equal(q("", "image/webp"), -1);
    assert_int_equal(http_accept_q(NULL, 0, "image/webp", false), -1);
    assert_int_equal(q("text/html", "image/webp"), -1);
}

static void test_params_and_whitespace(void **state)
{
    assert_int_equal(q(" image/webp ; q = 0.5 , text/html", "image/webp"), 500);
    assert_int_equal(q("\timage/webp\t;\tq=0.4\t,\t", "image/webp"), 400);
    assert_int_equal(q("image/webp;foo=bar;q=0.3", "image/webp"), 300);
    assert_int_equal(q("image/webp;q=0.3;foo=bar", "image/webp"), 300);
    assert_int_equal(q("image/webp;;;;", "image/webp"), 1000);
    assert_int_equal(q("image/webp;;q=0.6;;", "image/webp"), 600);
    assert_int_equal(q(",,, ,image/webp;q=0.2,,", "image/webp"), 200);

    /* Quoted strings are data: a ',' inside one does not start an element. */
    const char *quoted = "image/png;x=\"a,image/webp;q=1\";q=0.5";
    assert_int_equal(q(quoted, "image/webp"), -1);
    assert_int_equal(q(quoted, "image/png"), 500);
    assert_int_equal(q("image/png;x=\"a\\\",image/webp\", image/gif", "image/webp"), -1);
    assert_int_equal(q("image/png;x=\"a\\\",image/webp\", image/gif", "image/gif"), 1000);
    assert_int_equal(q("image/png;x=\"\", image/webp;q=0.1", "image/webp"), 100);

    /* Parameter names and values must be tokens. */
    assert_int_equal(q("image/webp;=1", "image/webp"), -1);
    assert_int_equal(q("image/webp;x=", "image/webp"), -1);
    assert_int_equal(q("image/webp;x", "image/webp"), -1);
    assert_int_equal(q("image/webp;x=a b", "image/webp"), -1);
    assert_int_equal(q("image/webp x", "image/webp"), -1);
}

static void test_hostile(void **state)
{
    static const char *const no_match[] = {
        ";;;;",
        ",,,,",
        "=",
        ";q=1",
        "\"",
        "\"image/webp\"",
        "*/webp",
        "image",
        "/webp",
        "image/",
        "image//webp",
        "image/webp/x",
        "image /webp",
        "image/ webp",
        "image/webp;x=\"abc",
        "image/webp;x=\"a\\",
        "image/webp;x=\"a\x01\"",
        "image/webp;x=\"a\x7f\"",
        "image/we\"bp",
        "image/webp\x7f",
        "image/webp;q=0.5;x=\"",
        "image/webp;x=\"a\"b",
    };
    for (size_t i = 0; i < sizeof no_match / sizeof *no_match; i++)
        if (q(no_match[i], "image/webp") != -1) fail_msg("\"%s\" matched", no_match[i]);

    /* A broken element is skipped up to the next ',', quotes no longer counted. */
    assert_int_equal(q(";;;;,image/webp", "image/webp"), 1000);
    assert_int_equal(q("image/\"webp, image/webp;q=0.4", "image/webp"), 400);
    assert_int_equal(q("image/png;x=1 \"y,z\", image/webp;q=0.3", "image/webp"), 300);
    /* ... but a well-formed unterminated quoted string runs to the end. */
    assert_int_equal(q("image/png;x=\"abc, image/webp", "image/webp"), -1);

    /* NULs are bytes like any other: never a terminator, never a token. */
    static const char nul1[] = "image/webp\0;q=0.1, image/png";
    assert_int_equal(http_accept_q(nul1, sizeof nul1 - 1, "image/webp", false), -1);
    assert_int_equal(http_accept_q(nul1, sizeof nul1 - 1, "image/png", false), 1000);
    static const char nul2[] = "image/we\0bp, image/webp;q=0.2";
    assert_int_equal(http_accept_q(nul2, sizeof nul2 - 1, "image/webp", false), 200);

    /* A huge list: 100000 elements, the match at the end. */
    const char *elem = "image/x-unknown;q=0.1;foo=\"bar,baz\", ";
    size_t elen = strlen(elem), count = 100000;
    const char *tail = "image/webp;q=0.7";
    char *big = malloc(elen * count + strlen(tail));
    for (size_t i = 0; i < count; i++)
        memcpy(big + i * elen, elem, elen);
    memcpy(big + count * elen, tail, strlen(tail));
    size_t blen = count * elen + strlen(tail);
    assert_int_equal(http_accept_q(big, blen, "image/webp", true), 700);
    assert_int_equal(http_accept_q(big, blen, "image/png", false), -1);
    /* ... and as many broken elements: empty parameters, then a stray quote. */
    static const char broken[] = "a/b;;;;;\"q,";
    for (size_t i = 0; i < blen; i++)
        big[i] = broken[i % (sizeof broken - 1)];
    assert_int_equal(http_accept_q(big, blen, "image/webp", false), -1);
    assert_int_equal(http_accept_q(big, blen, "a/b", false), -1);
    free(big);
}

/* Values that end right before an unmapped page: any read past the length faults. */
static void test_no_overread(void **state)
{
    static const char *const inputs[] = {
        "image/webp;q=0.5", "image/webp;x=\"a\\\"b\"", "*/*;q=1.000", "image/*;p=\"",
        "a/b;x=\"\\",       "image/webp , ;q",
    };
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) { /* every prefix */
            char *s = map + page - k;
            memcpy(s, inputs[i], k);
            int r = http_accept_q(s, k, "image/webp", false);
            assert_true(r >= -1 && r <= 1000);
        }
    }
    munmap(map, 2 * page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browsers),   cmocka_unit_test(test_weights),
        cmocka_unit_test(test_precedence), cmocka_unit_test(test_params_and_whitespace),
        cmocka_unit_test(test_hostile),    cmocka_unit_test(test_no_overread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
