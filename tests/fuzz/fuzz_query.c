/* query.h and accept.h on arbitrary bytes. The input is split at its first '\n': before it a
 * query string, after it an Accept value (no '\n': all query). Each part is an exactly sized
 * heap copy, so ASan catches any read past its length. Checked beyond the sanitizers:
 *   - every pair lies inside the query, the key holds no '&' or '=', the value no '&',
 *     has_val says whether an '=' follows the key, and the pairs joined by '&' give the
 *     query with its runs of '&' collapsed and trimmed (nothing lost, nothing invented);
 *   - http_pct_decode agrees with a slow reference decoder on every key, value and on the
 *     whole query (both '+' modes), never writes a NUL, fails with a cap one byte short of
 *     the result and decodes in place to the same bytes;
 *   - http_qparam_key agrees with comparing the decoded key, for the avatar service's keys
 *     and for the key's own decoded form;
 *   - http_accept_q is in [-1, 1000], ignores letter case, and a type that is named gets
 *     the same weight with or without explicit_only (the named range always wins);
 *   - avatar_params_parse (the avatar URLs' parameters) either fails with a reason or gives a
 *     size in 1..2048 (or none), a d= URL that is plain http(s) with no byte a header could be
 *     split by, and a name within its buffer; avatar_negotiate then picks a format that was
 *     a candidate, and says Vary unless fm= forced it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/accept.h"
#include "http/query.h"
#include "server/avatar_params.h"
#include "fuzz_check.h"

static bool inside(const char *p, size_t n, const char *s, size_t len)
{
    return p >= s && (size_t)(p - s) <= len && n <= len - (size_t)(p - s);
}

static int ref_hex(char c)
{
    const char *digits = "0123456789abcdef0123456789ABCDEF";
    const char *p = c ? strchr(digits, c) : NULL;
    return p ? (int)(p - digits) % 16 : -1;
}

/* query.h's rules the slow way: the decoded length, or -1 (no cap). */
static ssize_t ref_decode(const char *in, size_t n, char *out, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= n || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0) return -1;
            c = ref_hex(in[i + 1]) * 16 + ref_hex(in[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0) return -1;
        out[o++] = (char)c;
    }
    return (ssize_t)o;
}

/* Decodes s[0..n) both ways and in place; returns the reference result, decoded into ref. */
static ssize_t check_decode(const char *s, size_t n, bool plus, char *ref)
{
    ssize_t want = ref_decode(s, n, ref, plus);
    char *out = malloc(n ? n : 1);
    ssize_t got = http_pct_decode(s, n, out, n, plus);
    CHECK(got == want);
    if (got >= 0) {
        CHECK((size_t)got <= n && memcmp(out, ref, (size_t)got) == 0);
        CHECK(memchr(out, '\0', (size_t)got) == NULL);
        if (got > 0) CHECK(http_pct_decode(s, n, out, (size_t)got - 1, plus) == -1);
    }
    memcpy(out, s, n);
    CHECK(http_pct_decode(out, n, out, n, plus) == got);
    CHECK(got < 0 || memcmp(out, ref, (size_t)got) == 0);
    free(out);
    return want;
}

static bool plain_name(const char *s, size_t n)
{
    return !memchr(s, '%', n) && !memchr(s, '+', n) && !memchr(s, ' ', n);
}

static void check_query(const char *q, size_t n)
{
    static const char *const keys[] = {"s", "size",   "d",    "default", "f",   "forcedefault",
                                       "r", "rating", "name", "expires", "sig", ""};
    char *joined = malloc(n + 1), *ref = malloc(n + 1), *expect = malloc(n + 1);
    size_t jn = 0, en = 0;
    http_query_iter_t it;
    http_qparam_t p;
    http_query_iter(&it, n ? q : NULL, n);
    while (http_query_next(&it, &p)) {
        CHECK(p.key_len + p.val_len > 0 || p.has_val);
        CHECK(inside(p.key, p.key_len, q, n) && inside(p.val, p.val_len, q, n));
        CHECK(!memchr(p.key, '&', p.key_len) && !memchr(p.key, '=', p.key_len));
        CHECK(!memchr(p.val, '&', p.val_len));
        if (p.has_val)
            CHECK(p.val == p.key + p.key_len + 1 && p.val[-1] == '=');
        else
            CHECK(p.val == p.key + p.key_len && p.val_len == 0);
        CHECK(p.val + p.val_len == q + n || p.val[p.val_len] == '&');

        if (jn) joined[jn++] = '&';
        memcpy(joined + jn, p.key, p.key_len);
        jn += p.key_len;
        if (p.has_val) joined[jn++] = '=';
        memcpy(joined + jn, p.val, p.val_len);
        jn += p.val_len;

        check_decode(p.val, p.val_len, true, ref);
        ssize_t kn = check_decode(p.key, p.key_len, true, ref);
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            size_t len = strlen(keys[k]);
            bool same = kn == (ssize_t)len && memcmp(ref, keys[k], len) == 0;
            CHECK(http_qparam_key_eq(&p, keys[k], len) == same);
        }
        if (kn >= 0 && plain_name(ref, (size_t)kn)) CHECK(http_qparam_key_eq(&p, ref, (size_t)kn));
    }
    CHECK(!http_query_next(&it, &p));

    for (size_t i = 0; i < n; i++) /* the query, '&' runs collapsed, trimmed */
        if (q[i] != '&' || (en && expect[en - 1] != '&')) expect[en++] = q[i];
    if (en && expect[en - 1] == '&') en--;
    CHECK(jn == en && memcmp(joined, expect, jn) == 0);

    check_decode(q, n, true, ref);
    check_decode(q, n, false, ref);
    free(expect);
    free(ref);
    free(joined);
}

static void check_accept(const char *v, size_t n)
{
    static const char *const types[] = {"image/webp", "image/avif", "image/png", "text/html", "a/b"};
    char *upper = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        upper[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 32) : v[i];
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        int any = http_accept_q(v, n, types[t], false), named = http_accept_q(v, n, types[t], true);
        CHECK(any >= -1 && any <= 1000 && named >= -1 && named <= 1000);
        CHECK(named == -1 || named == any);
        CHECK(any != -1 || named == -1);
        CHECK(http_accept_q(upper, n, types[t], false) == any);
        CHECK(http_accept_q(upper, n, types[t], true) == named);
    }
    free(upper);
}

static void check_avatar_params(const char *q, size_t qn, const char *a, size_t an)
{
    static avatar_params_t p; /* 2 KiB: not on the fuzzer's stack */
    const char *reason = NULL;
    if (avatar_params_parse(q, qn, &p, &reason) != 0) {
        CHECK(reason && *reason);
        return;
    }
    CHECK(p.size <= AVATAR_SIZE_MAX);
    CHECK(p.text_len <= sizeof p.text);
    CHECK((p.d == AVATAR_D_URL) == (p.url != NULL));
    if (p.url) {
        CHECK(p.url_len <= AVATAR_URL_MAX && p.url_len > 7);
        for (size_t i = 0; i < p.url_len; i++)
            CHECK((unsigned char)p.url[i] > 0x20 && (unsigned char)p.url[i] < 0x7f);
    }
    for (int avif = 0; avif < 2; avif++) {
        bool vary;
        img_format_t f = avatar_negotiate(&p, an ? a : NULL, an, IMG_FMT_JPEG, avif, &vary);
        CHECK(vary == (p.fm == IMG_FMT_UNKNOWN));
        if (vary)
            CHECK(f == IMG_FMT_JPEG || f == IMG_FMT_WEBP || (avif && f == IMG_FMT_AVIF));
        else
            CHECK(f == p.fm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qn = nl ? (size_t)(nl - data) : size, an = nl ? size - qn - 1 : 0;
    char *q = malloc(qn ? qn : 1), *a = malloc(an ? an : 1);
    memcpy(q, data, qn);
    if (an) memcpy(a, nl + 1, an);
    check_query(q, qn);
    check_accept(a, an);
    check_avatar_params(q, qn, a, an);
    free(a);
    free(q);
    return 0;
}
