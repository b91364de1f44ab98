/* avatar_params: Gravatar's parameters as its client libraries spell them, the bounds that make
 * a 400, the hash of /avatar/<hash>, and which format a variant gets from fm= and Accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/avatar_params.h"

static avatar_params_t p;
static const char *reason;

static int parse(const char *q)
{
    reason = NULL;
    return avatar_params_parse(q, q ? strlen(q) : 0, &p, &reason);
}

static void test_sizes(void **state)
{
    assert_int_equal(parse(NULL), 0);
    assert_int_equal(p.size, 0);
    assert_int_equal(parse("s=80"), 0);
    assert_int_equal(p.size, 80);
    assert_int_equal(parse("size=2048&r=g"), 0);
    assert_int_equal(p.size, 2048);
    assert_int_equal(parse("s=1"), 0);
    assert_int_equal(p.size, 1);
    assert_int_equal(parse("s=80&s=40"), 0); /* the last one counts */
    assert_int_equal(p.size, 40);
    const char *bad[] = {"s=0", "s=2049", "s=", "s=80px", "s=-1", "s=+80", "s=00080", "s=%38%30", "size=1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i]), -1);
        assert_non_null(reason);
    }
}

static void test_defaults(void **state)
{
    struct {
        const char *q;
        avatar_default_t d;
        img_gen_t gen;
    } ok[] = {
        {"d=404", AVATAR_D_404, 0},
        {"d=mp", AVATAR_D_PICTURE, IMG_GEN_MP},
        {"default=mm", AVATAR_D_PICTURE, IMG_GEN_MP},
        {"d=identicon", AVATAR_D_PICTURE, IMG_GEN_IDENTICON},
        {"d=robohash", AVATAR_D_PICTURE, IMG_GEN_IDENTICON},
        {"d=retro", AVATAR_D_PICTURE, IMG_GEN_RETRO},
        {"d=monsterid", AVATAR_D_PICTURE, IMG_GEN_RETRO},
        {"d=wavatar", AVATAR_D_PICTURE, IMG_GEN_RETRO},
        {"d=blank", AVATAR_D_PICTURE, IMG_GEN_BLANK},
        {"d=initials&name=Jane+Doe", AVATAR_D_PICTURE, IMG_GEN_INITIALS},
        {"d=color", AVATAR_D_PICTURE, IMG_GEN_COLOR},
        {"d=", AVATAR_D_NONE, 0}, /* empty: absent, as gravatar.com takes it */
        {"default", AVATAR_D_NONE, 0},
        {"d=404&d=", AVATAR_D_NONE, 0},
        {"d=https%3A%2F%2Fa.example&d=", AVATAR_D_NONE, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(parse(ok[i].q), 0);
        assert_int_equal(p.d, ok[i].d);
        if (p.d == AVATAR_D_PICTURE)
            assert_int_equal(p.gen, ok[i].gen);
        if (p.d != AVATAR_D_URL)
            assert_null(p.url);
    }
    assert_int_equal(parse("d=initials&name=Jane+Doe"), 0);
    assert_int_equal(p.text_len, 8);
    assert_memory_equal(p.text, "Jane Doe", 8);
    assert_int_equal(parse("initials=JD&d=initials"), 0);
    assert_memory_equal(p.text, "JD", 2);

    assert_int_equal(parse("d=https%3A%2F%2Fexample.com%2Fa.png%3Fx%3D1"), 0);
    assert_int_equal(p.d, AVATAR_D_URL);
    assert_int_equal(p.url_len, strlen("https://example.com/a.png?x=1"));
    assert_memory_equal(p.url, "https://example.com/a.png?x=1", p.url_len);
    assert_int_equal(parse("d=https%3A%2F%2Fa.example&default=retro"), 0); /* the last d= counts */
    assert_int_equal(p.d, AVATAR_D_PICTURE);
    assert_null(p.url);
    const char *bad[] = {"d=nonsense",   "d=javascript%3Aalert(1)", "d=http%3A%2F%2Fa%0D%0AX%3A+y",
                         "d=http%3A%2F%2F", "d=%zz", "d=http%3A%2F%2Fa+b", "d=ftp%3A%2F%2Fx",
                         "d=Identicon"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(bad[i]), -1);
    char longurl[4200] = "d=http%3A%2F%2Fa%2F";
    memset(longurl + strlen(longurl), 'x', 2100);
    assert_int_equal(parse(longurl), -1);
}

static void test_forcedefault_format_and_name(void **state)
{
    assert_int_equal(parse("f=y"), 0);
    assert_true(p.forcedefault);
    assert_int_equal(parse("forcedefault=y&f=n"), 0);
    assert_false(p.forcedefault);
    assert_int_equal(parse("f=maybe"), -1);
    assert_int_equal(parse("fm=webp"), 0);
    assert_int_equal(p.fm, IMG_FMT_WEBP);
    assert_int_equal(parse("fm=JPG"), 0);
    assert_int_equal(p.fm, IMG_FMT_JPEG);
    assert_int_equal(parse("fm=gif"), -1);
    assert_int_equal(parse("name=%ZZ"), -1);
    char longname[400] = "name=";
    memset(longname + 5, 'a', 300);
    assert_int_equal(parse(longname), -1);
    assert_int_equal(parse("unknown=1&another&&=x"), 0); /* ignored, as gravatar.com does */
}

static void test_hash(void **state)
{
    char out[65];
    const char *md5 = "55502f40dc8b7c769880b10874abc9d0";
    assert_int_equal(avatar_hash_parse(md5, 32, out), 32);
    assert_string_equal(out, md5);
    assert_int_equal(avatar_hash_parse("55502F40DC8B7C769880B10874ABC9D0.jpg", 36, out), 32);
    assert_string_equal(out, md5);
    char sha[70];
    memset(sha, 'A', 64);
    memcpy(sha + 64, ".png", 5);
    assert_int_equal(avatar_hash_parse(sha, 68, out), 64);
    assert_int_equal(out[0], 'a');
    assert_int_equal(avatar_hash_parse(md5, 31, out), 0);
    assert_int_equal(avatar_hash_parse("55502f40dc8b7c769880b10874abc9dg", 32, out), 0);
    assert_int_equal(avatar_hash_parse("55502f40dc8b7c769880b10874abc9d0.bmp", 36, out), 0);
    assert_int_equal(avatar_hash_parse("", 0, out), 0);
}

static img_format_t nego(const char *q, const char *accept, img_format_t natural, bool avif, bool *vary)
{
    assert_int_equal(parse(q), 0);
    return avatar_negotiate(&p, accept, accept ? strlen(accept) : 0, natural, avif, vary);
}

static void test_negotiation(void **state)
{
    bool vary;
    const char *chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    assert_int_equal(nego("s=80", NULL, IMG_FMT_JPEG, true, &vary), IMG_FMT_JPEG);
    assert_true(vary);
    assert_int_equal(nego("s=80", chrome, IMG_FMT_JPEG, false, &vary), IMG_FMT_WEBP);
    assert_int_equal(nego("s=80", chrome, IMG_FMT_JPEG, true, &vary), IMG_FMT_AVIF);
    assert_int_equal(nego("s=80", "*/*", IMG_FMT_PNG, true, &vary), IMG_FMT_PNG);
    assert_int_equal(nego("s=80", "image/*", IMG_FMT_PNG, true, &vary), IMG_FMT_PNG);
    assert_int_equal(nego("s=80", "image/webp;q=0, */*", IMG_FMT_JPEG, true, &vary), IMG_FMT_JPEG);
    assert_int_equal(nego("s=80", "image/jpeg, image/webp;q=0.5", IMG_FMT_JPEG, true, &vary), IMG_FMT_JPEG);
    assert_int_equal(nego("s=80", "image/jpeg;q=0.5, image/webp", IMG_FMT_JPEG, true, &vary), IMG_FMT_WEBP);
    assert_int_equal(nego("s=80", "image/avif;q=0.9, image/webp", IMG_FMT_JPEG, true, &vary), IMG_FMT_WEBP);
    assert_int_equal(nego("s=80", "text/html", IMG_FMT_JPEG, true, &vary), IMG_FMT_JPEG); /* no 406 */
    assert_int_equal(nego("s=80&fm=png", chrome, IMG_FMT_JPEG, true, &vary), IMG_FMT_PNG);
    assert_false(vary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_forcedefault_format_and_name),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_negotiation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
