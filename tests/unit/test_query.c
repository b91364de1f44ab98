/* query: pair iteration (slices into the input), percent-decoding and its refusals, the key
 * test with and without escapes, and that nothing is read past the length given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/query.h"

#define MAX_PARAMS 16

/* Every pair of q, checked to lie inside it. Returns the count. */
static size_t collect(const char *q, http_qparam_t *out)
{
    size_t n = strlen(q), count = 0;
    http_query_iter_t it;
    http_query_iter(&it, q, n);
    while (count < MAX_PARAMS && http_query_next(&it, &out[count])) {
        const http_qparam_t *p = &out[count++];
        assert_true(p->key >= q && p->key + p->key_len <= q + n);
        assert_true(p->val >= p->key + p->key_len && p->val + p->val_len <= q + n);
    }
    assert_false(http_query_next(&it, &out[0])); /* and it stays at the end */
    return count;
}

static void assert_slice(const char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void assert_pair(const http_qparam_t *p, const char *key, const char *val)
{
    assert_slice(p->key, p->key_len, key);
    if (val) {
        assert_true(p->has_val);
        assert_slice(p->val, p->val_len, val);
    } else {
        assert_false(p->has_val);
        assert_int_equal(p->val_len, 0);
        assert_ptr_equal(p->val, p->key + p->key_len);
    }
}

static void test_gravatar_queries(void **state)
{
    http_qparam_t p[MAX_PARAMS];
    const char *q = "s=80&d=https%3A%2F%2Fexample.com%2Fimg.png&r=g";
    assert_int_equal(collect(q, p), 3);
    assert_pair(&p[0], "s", "80");
    assert_ptr_equal(p[0].key, q);
    assert_pair(&p[1], "d", "https%3A%2F%2Fexample.com%2Fimg.png");
    assert_pair(&p[2], "r", "g");

    assert_int_equal(collect("size=80&default=mm", p), 2);
    assert_pair(&p[0], "size", "80");
    assert_pair(&p[1], "default", "mm");

    assert_int_equal(collect("forcedefault=y", p), 1);
    assert_pair(&p[0], "forcedefault", "y");

    assert_int_equal(collect("name=Jane+Doe&s=40", p), 2);
    assert_pair(&p[0], "name", "Jane+Doe");
}

static void test_empty_and_odd_pairs(void **state)
{
    http_qparam_t p[MAX_PARAMS];
    http_query_iter_t it;
    http_query_iter(&it, NULL, 0); /* no '?' at all */
    assert_false(http_query_next(&it, &p[0]));

    assert_int_equal(collect("", p), 0);
    assert_int_equal(collect("&", p), 0);
    assert_int_equal(collect("&&&", p), 0);

    assert_int_equal(collect("=", p), 1);
    assert_pair(&p[0], "", "");
    assert_int_equal(collect("=x&&=", p), 2);
    assert_pair(&p[0], "", "x");
    assert_pair(&p[1], "", "");

    assert_int_equal(collect("forcedefault", p), 1);
    assert_pair(&p[0], "forcedefault", NULL);
    assert_int_equal(collect("k=", p), 1);
    assert_pair(&p[0], "k", "");

    assert_int_equal(collect("&&a=1&&b&c=&", p), 3);
    assert_pair(&p[0], "a", "1");
    assert_pair(&p[1], "b", NULL);
    assert_pair(&p[2], "c", "");

    /* The key ends at the first '='; ';' is data. */
    assert_int_equal(collect("a==b=c&x;y=1", p), 2);
    assert_pair(&p[0], "a", "=b=c");
    assert_pair(&p[1], "x;y", "1");
}

/* http_pct_decode into a buffer of exactly cap bytes; returns the result, out NUL-terminated
 * when it succeeded. */
static ssize_t decode(const char *in, size_t n, size_t cap, bool plus, char *out)
{
    ssize_t r = http_pct_decode(in, n, out, cap, plus);
    if (r >= 0) {
        assert_true((size_t)r <= n && (size_t)r <= cap);
        out[r] = '\0';
    }
    return r;
}

static void assert_decodes(const char *in, bool plus, const char *want)
{
    char out[128];
    assert_int_equal(decode(in, strlen(in), sizeof out - 1, plus, out), (ssize_t)strlen(want));
    assert_string_equal(out, want);
}

static void test_decode(void **state)
{
    assert_decodes("https%3A%2F%2Fexample.com%2Fimg.png", true, "https://example.com/img.png");
    assert_decodes("Jane+Doe", true, "Jane Doe");
    assert_decodes("Jane+Doe", false, "Jane+Doe");
    assert_decodes("a%2Bb", true, "a+b"); /* an escaped '+' stays a '+' */
    assert_decodes("%20%2f%2F%7e", true, " //~");
    assert_decodes("%C3%A9t%C3%A9", true, "\xc3\xa9t\xc3\xa9");
    assert_decodes("%25zz", true, "%zz");
    assert_decodes("plain-._~", false, "plain-._~");
    assert_decodes("", true, "");

    char out[8];
    assert_int_equal(http_pct_decode(NULL, 0, out, sizeof out, true), 0);
    assert_int_equal(http_pct_decode(NULL, 0, NULL, 0, true), 0);

    /* In place. */
    char buf[] = "a%41+%42";
    assert_int_equal(http_pct_decode(buf, strlen(buf), buf, sizeof buf, true), 4);
    assert_memory_equal(buf, "aA B", 4);
}

static void test_decode_refusals(void **state)
{
    static const char *const bad[] = {"%",  "%2",   "a%",  "ab%4", "%zz", "%g0", "%0g",
                                      "%%", "%%41", "%-1", "% 41", "%+1", "x%4G"};
    char out[32];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(decode(bad[i], strlen(bad[i]), sizeof out - 1, true, out), -1);

    /* No NUL ever comes out, escaped or raw. */
    assert_int_equal(decode("a%00b", 5, sizeof out - 1, true, out), -1);
    assert_int_equal(decode("a\0b", 3, sizeof out - 1, true, out), -1);

    /* Output over cap, at the exact boundary. */
    assert_int_equal(decode("abcd", 4, 4, true, out), 4);
    assert_int_equal(decode("abcd", 4, 3, true, out), -1);
    assert_int_equal(decode("%41%42%43", 9, 3, true, out), 3);
    assert_string_equal(out, "ABC");
    assert_int_equal(decode("%41%42%43", 9, 2, true, out), -1);
    assert_int_equal(decode("a", 1, 0, true, out), -1);
}

static http_qparam_t one(const char *q)
{
    http_qparam_t p[MAX_PARAMS];
    assert_int_equal(collect(q, p), 1);
    return p[0];
}

static void test_key(void **state)
{
    http_qparam_t p = one("size=80");
    assert_true(http_qparam_key(&p, "size"));
    assert_false(http_qparam_key(&p, "s"));
    assert_false(http_qparam_key(&p, "sizes"));
    assert_false(http_qparam_key(&p, "Size"));

    p = one("s=80");
    assert_true(http_qparam_key(&p, "s"));
    assert_false(http_qparam_key(&p, "size"));
    assert_false(http_qparam_key(&p, "d"));

    p = one("forcedefault");
    assert_true(http_qparam_key(&p, "forcedefault"));

    /* Escaped keys match their decoded form, up to every byte escaped. */
    p = one("%73ize=1");
    assert_true(http_qparam_key(&p, "size"));
    assert_false(http_qparam_key(&p, "s"));
    p = one("%73");
    assert_true(http_qparam_key(&p, "s"));
    p = one("si%7Ae");
    assert_true(http_qparam_key(&p, "size"));
    p = one("%73%69%7a%65=2");
    assert_true(http_qparam_key(&p, "size"));
    p = one("%73%69"); /* decodes to a prefix: not a match */
    assert_true(http_qparam_key(&p, "si"));
    assert_false(http_qparam_key(&p, "siz"));
    p = one("%53ize"); /* 'S': keys are case-sensitive */
    assert_false(http_qparam_key(&p, "size"));

    /* A '+' is a space, which no plain name holds; a bad escape matches nothing. */
    p = one("s+=1");
    assert_false(http_qparam_key(&p, "s"));
    p = one("%zzze");
    assert_false(http_qparam_key(&p, "size"));
    p = one("si%7");
    assert_false(http_qparam_key(&p, "siz"));
    p = one("%00ize");
    assert_false(http_qparam_key(&p, "size"));

    p = one("=x");
    assert_true(http_qparam_key(&p, ""));
    assert_false(http_qparam_key(&p, "s"));
}

/* What the avatar handler does: switch on keys, decode the values it keeps. */
static void test_avatar_options(void **state)
{
    const char *q = "s=120&d=https%3A%2F%2Fe.com%2Fa.png&forcedefault=y&name=Jane+Doe&x=%zz";
    long size = 0;
    char def[64] = "", name[32] = "";
    bool force = false;
    http_query_iter_t it;
    http_qparam_t p;
    http_query_iter(&it, q, strlen(q));
    while (http_query_next(&it, &p)) {
        if (http_qparam_key(&p, "s") || http_qparam_key(&p, "size")) {
            char num[8];
            ssize_t n = http_pct_decode(p.val, p.val_len, num, sizeof num - 1, true);
            assert_true(n > 0);
            num[n] = '\0';
            size = strtol(num, NULL, 10);
        } else if (http_qparam_key(&p, "d") || http_qparam_key(&p, "default")) {
            ssize_t n = http_pct_decode(p.val, p.val_len, def, sizeof def - 1, true);
            assert_true(n > 0);
            def[n] = '\0';
        } else if (http_qparam_key(&p, "f") || http_qparam_key(&p, "forcedefault")) {
            force = p.val_len == 1 && (p.val[0] == 'y' || p.val[0] == 'Y');
        } else if (http_qparam_key(&p, "name")) {
            ssize_t n = http_pct_decode(p.val, p.val_len, name, sizeof name - 1, true);
            assert_true(n > 0);
            name[n] = '\0';
        } else {
            assert_true(http_qparam_key(&p, "x"));
            assert_int_equal(http_pct_decode(p.val, p.val_len, name, sizeof name, true), -1);
        }
    }
    assert_int_equal(size, 120);
    assert_string_equal(def, "https://e.com/a.png");
    assert_true(force);
    assert_string_equal(name, "Jane Doe");
}

/* Inputs that end right before an unmapped page: any read past the length faults. */
static void test_no_overread(void **state)
{
    static const char *const inputs[] = {"a=%4", "%", "a&b=c%41", "k=v&", "%7", "x+%2B%"};
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) { /* every prefix */
            char *s = map + page - k, out[16];
            memcpy(s, inputs[i], k);
            http_query_iter_t it;
            http_qparam_t p;
            http_query_iter(&it, s, k);
            while (http_query_next(&it, &p)) {
                (void)http_qparam_key(&p, "a");
                (void)http_pct_decode(p.val, p.val_len, out, sizeof out, true);
            }
            (void)http_pct_decode(s, k, out, sizeof out, false);
        }
    }
    munmap(map, 2 * page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gravatar_queries),
        cmocka_unit_test(test_empty_and_odd_pairs),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_avatar_options),
        cmocka_unit_test(test_no_overread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
