/* auth: bearer tokens match exactly (scheme in any case, spaces); signed URLs cover method, uid
 * and every parameter, expire, survive key rotation while both keys are listed, and refuse
 * malformed or ambiguous queries; secret files skip comments and refuse weak or missing
 * secrets; the holder swaps while references stay usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/auth.h"

#define TOKEN1 "tok-0123456789abcdef"
#define TOKEN2 "another-token-ABCDEFGHIJ"
#define KEY_OLD "demo-key-0123456789abcdef"
#define KEY_NEW "new-key-ZYXWVUTSRQPONMLK"
#define NOW 1767000000 /* any time: every expiry below is relative to it */

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixd-test-auth-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* Writes a file under dir with this mode; its path in a static buffer (one per name). */
static const char *put(const char *name, const char *content, mode_t mode)
{
    static char paths[8][128];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 128, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static auth_t *load_ok(const char *tokens, const char *keys)
{
    char err[512];
    const char *tf = tokens ? put("tokens", tokens, 0600) : NULL, *kf = keys ? put("keys", keys, 0600) : NULL;
    auth_t *a = auth_load(tf, kf, err, sizeof err);
    if (!a)
        fail_msg("auth_load: %s", err);
    assert_string_equal(err, "");
    return a;
}

static bool bearer(const auth_t *a, const char *v)
{
    return auth_bearer_ok(a, v, strlen(v));
}

static void test_bearer(void **state)
{
    auth_t *a = load_ok("# admins\n\n" TOKEN1 "\n  " TOKEN2 "  \r\n", NULL);
    assert_true(bearer(a, "Bearer " TOKEN1));
    assert_true(bearer(a, "Bearer " TOKEN2));
    assert_true(bearer(a, "bearer " TOKEN1));
    assert_true(bearer(a, "BEARER " TOKEN1));
    assert_true(bearer(a, "Bearer    " TOKEN1));
    assert_true(bearer(a, "Bearer " TOKEN1 "  "));
    assert_false(bearer(a, "Bearer " TOKEN1 "x"));
    assert_false(bearer(a, "Bearer tok-0123456789abcde")); /* a prefix */
    assert_false(bearer(a, "Bearer tok"));
    assert_false(bearer(a, "Bearer TOK-0123456789ABCDEF")); /* tokens are case-sensitive */
    assert_false(bearer(a, "Bearer wrong-token-0123456789"));
    assert_false(bearer(a, "Basic " TOKEN1));
    assert_false(bearer(a, "Bearer" TOKEN1));
    assert_false(bearer(a, "Bearer "));
    assert_false(bearer(a, "Bearer"));
    assert_false(bearer(a, ""));
    assert_false(bearer(a, "Bearer " TOKEN1 " " TOKEN2));
    assert_false(auth_bearer_ok(a, "Bearer " TOKEN1, 10)); /* n counts, not the NUL */
    assert_false(bearer(NULL, "Bearer " TOKEN1));
    auth_unref(a);

    a = load_ok(NULL, KEY_OLD "\n"); /* keys only: no token works */
    assert_false(bearer(a, "Bearer " KEY_OLD));
    auth_unref(a);
}

/* Signs query (with the first key) and returns "query&sig=<hex>" in a static buffer. */
static const char *signed_query(const auth_t *a, const char *method, const char *uid, const char *query)
{
    static char out[4096];
    char sig[AUTH_SIG_HEX + 1];
    assert_int_equal(auth_sign(a, method, uid, strlen(uid), query, strlen(query), sig), 0);
    assert_int_equal(strlen(sig), AUTH_SIG_HEX);
    snprintf(out, sizeof out, "%s%ssig=%s", query, *query ? "&" : "", sig);
    return out;
}

static auth_status_t check(const auth_t *a, const char *method, const char *uid, const char *q, int64_t now)
{
    return auth_check_signed(a, method, uid, strlen(uid), q, strlen(q), now);
}

#define EXP "expires=1767003600" /* NOW + 1 hour */

/* The canonical string of auth.h, as docs/uploads.md's Python computes it:
 * hmac.new(KEY_OLD, b"PUT\n/alice\nemail=alice@example.com&expires=1767225600", sha256). */
static void test_known_vector(void **state)
{
    auth_t *a = load_ok(NULL, KEY_OLD "\n");
    const char *want = "38b4286d16d90e0b0bac63a85ae14a8ab7bca7fe4bee46600c956096cf23718e";
    char sig[AUTH_SIG_HEX + 1];
    const char *q = "expires=1767225600&email=alice%40example.com";
    assert_int_equal(auth_sign(a, "PUT", "alice", 5, q, strlen(q), sig), 0);
    assert_string_equal(sig, want);
    char url[256];
    snprintf(url, sizeof url, "%s&sig=%s", q, want);
    assert_int_equal(check(a, "PUT", "alice", url, 1767225600 - 3600), AUTH_OK);
    /* The same parameters in another order and another (equivalent) encoding. */
    snprintf(url, sizeof url, "sig=%s&email=alice@example.com&expires=1767225600", want);
    assert_int_equal(check(a, "PUT", "alice", url, 1767225600 - 3600), AUTH_OK);
    snprintf(url, sizeof url, "e%%6Dail=alice%%40example.com&sig=%s&expires=1767225600&", want);
    assert_int_equal(check(a, "PUT", "alice", url, 1767225600 - 3600), AUTH_OK);
    auth_unref(a);
}

static void test_signed(void **state)
{
    auth_t *a = load_ok(NULL, KEY_OLD "\n");
    const char *q = signed_query(a, "PUT", "alice", EXP "&email=alice%40example.com&crop=0,0,10,10");
    char buf[4096];
    assert_int_equal(check(a, "PUT", "alice", q, NOW), AUTH_OK);
    assert_int_equal(check(a, "DELETE", "alice", q, NOW), AUTH_BAD);
    assert_int_equal(check(a, "put", "alice", q, NOW), AUTH_BAD);
    assert_int_equal(check(a, "PUT", "alicf", q, NOW), AUTH_BAD);
    assert_int_equal(check(a, "PUT", "alice2", q, NOW), AUTH_BAD);
    assert_int_equal(check(a, "PUT", "alice/x", q, NOW), AUTH_BAD); /* not a uid */

    /* Every parameter counts: changed, added, removed. */
    snprintf(buf, sizeof buf, "%s", q);
    char *at = strstr(buf, "alice%40");
    at[0] = 'b';
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    snprintf(buf, sizeof buf, "%s&size=80", q);
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    snprintf(buf, sizeof buf, "%s&crop=", q); /* also a duplicate */
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    const char *crop = strstr(q, "&crop=");
    snprintf(buf, sizeof buf, "%.*s%s", (int)(crop - q), q, strstr(q, "&sig="));
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);

    /* A bad signature: one digit changed, cut short, not hex. Uppercase hex is the same MAC. */
    snprintf(buf, sizeof buf, "%s", q);
    char *sig = strstr(buf, "sig=") + 4;
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    snprintf(buf, sizeof buf, "%.*s", (int)strlen(q) - 1, q);
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    snprintf(buf, sizeof buf, "%s", q);
    sig = strstr(buf, "sig=") + 4;
    sig[0] = 'g';
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_BAD);
    snprintf(buf, sizeof buf, "%s", q);
    for (sig = strstr(buf, "sig=") + 4; *sig; sig++)
        if (*sig >= 'a' && *sig <= 'f')
            *sig -= 32;
    assert_int_equal(check(a, "PUT", "alice", buf, NOW), AUTH_OK);

    /* No signature at all, and no key to check one with. */
    assert_int_equal(check(a, "PUT", "alice", EXP "&email=x%40y", NOW), AUTH_MISSING);
    assert_int_equal(check(a, "PUT", "alice", "", NOW), AUTH_MISSING);
    assert_int_equal(check(NULL, "PUT", "alice", q, NOW), AUTH_BAD);
    auth_t *tokens_only = load_ok(TOKEN1 "\n", NULL);
    assert_int_equal(check(tokens_only, "PUT", "alice", q, NOW), AUTH_BAD);
    char sigbuf[AUTH_SIG_HEX + 1];
    assert_int_equal(auth_sign(tokens_only, "PUT", "alice", 5, EXP, strlen(EXP), sigbuf), -1);
    auth_unref(tokens_only);
    auth_unref(a);
}

static void test_expiry(void **state)
{
    auth_t *a = load_ok(NULL, KEY_OLD "\n");
    const char *q = signed_query(a, "PUT", "bob", EXP);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", q);
    assert_int_equal(check(a, "PUT", "bob", copy, 1767003599), AUTH_OK);
    assert_int_equal(check(a, "PUT", "bob", copy, 1767003600), AUTH_EXPIRED);
    assert_int_equal(check(a, "PUT", "bob", copy, 1767003600 + 86400), AUTH_EXPIRED);
    /* More than 7 days ahead: refused, whoever signed it. */
    assert_int_equal(check(a, "PUT", "bob", copy, 1767003600 - AUTH_EXPIRES_MAX), AUTH_OK);
    assert_int_equal(check(a, "PUT", "bob", copy, 1767003600 - AUTH_EXPIRES_MAX - 1), AUTH_EXPIRED);
    /* Signed, but without a usable expiry. */
    const char *bad[] = {"email=a%40b", "expires=", "expires=soon", "expires=-5", "expires=17670036OO",
                         "expires=1767003600.5", "expires=9999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(copy, sizeof copy, "%s", signed_query(a, "PUT", "bob", bad[i]));
        assert_int_equal(check(a, "PUT", "bob", copy, NOW), AUTH_EXPIRED);
    }
    /* A forged URL is told it is bad, not that it expired. */
    assert_int_equal(check(a, "PUT", "bob", "expires=1&sig=" "00000000000000000000000000000000"
                                            "00000000000000000000000000000000", NOW), AUTH_BAD);
    auth_unref(a);
}

static void test_key_rotation(void **state)
{
    auth_t *old = load_ok(NULL, KEY_OLD "\n");
    char q[512];
    snprintf(q, sizeof q, "%s", signed_query(old, "DELETE", "carol", EXP));
    auth_unref(old);

    auth_t *both = load_ok(NULL, "# new first: it signs\n" KEY_NEW "\n" KEY_OLD "\n");
    assert_int_equal(check(both, "DELETE", "carol", q, NOW), AUTH_OK);
    char q2[512];
    snprintf(q2, sizeof q2, "%s", signed_query(both, "DELETE", "carol", EXP));
    assert_string_not_equal(q, q2);
    assert_int_equal(check(both, "DELETE", "carol", q2, NOW), AUTH_OK);
    auth_unref(both);

    auth_t *new_only = load_ok(NULL, KEY_NEW "\n");
    assert_int_equal(check(new_only, "DELETE", "carol", q, NOW), AUTH_BAD);
    assert_int_equal(check(new_only, "DELETE", "carol", q2, NOW), AUTH_OK);
    auth_unref(new_only);
}

static void test_malformed_queries(void **state)
{
    auth_t *a = load_ok(NULL, KEY_OLD "\n");
    char sig[AUTH_SIG_HEX + 1];
    char buf[4096];
    const char *q = signed_query(a, "PUT", "dave", EXP);
    snprintf(buf, sizeof buf, "%s&", q);
    const char *good = buf; /* a trailing '&' is an empty parameter: skipped */
    assert_int_equal(check(a, "PUT", "dave", good, NOW), AUTH_OK);

    const char *bad[] = {
        "%zz=1&" EXP,         /* not hex */
        EXP "&email=a%4",     /* cut short */
        EXP "&email=a%",      /* cut shorter */
        EXP "&email=a%0Ab",   /* a control byte */
        EXP "&email=%00",     /* NUL */
        EXP "&flag",          /* no '=' */
        EXP "&=x",            /* empty key */
        "a=1%26b%3D2&" EXP,   /* would sign like a=1&b=2 */
        "a%3Db=1&" EXP,       /* would sign like a=b=1 */
        EXP "&" EXP,          /* duplicate expires */
        "e%78pires=1&" EXP,   /* duplicate after decoding */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "%s&sig=%s", bad[i], strstr(q, "sig=") + 4);
        assert_int_equal(check(a, "PUT", "dave", buf, NOW), AUTH_BAD);
        assert_int_equal(auth_sign(a, "PUT", "dave", 4, bad[i], strlen(bad[i]), sig), -1);
    }
    /* Even without a signature, a malformed query is bad, not missing. */
    assert_int_equal(check(a, "PUT", "dave", "%zz=1", NOW), AUTH_BAD);

    /* Duplicate sig, even the same twice. */
    snprintf(buf, sizeof buf, "%s&sig=%s", q, strstr(q, "sig=") + 4);
    assert_int_equal(check(a, "PUT", "dave", buf, NOW), AUTH_BAD);
    /* auth_sign refuses a query that already has one. */
    assert_int_equal(auth_sign(a, "PUT", "dave", 4, q, strlen(q), sig), -1);

    /* '+' is a space, as %20 is: the same signature. */
    snprintf(buf, sizeof buf, "%s", signed_query(a, "PUT", "dave", EXP "&name=Jane+Doe"));
    char *plus = strchr(buf, '+');
    memmove(plus + 3, plus + 1, strlen(plus + 1) + 1);
    memcpy(plus, "%20", 3);
    assert_int_equal(check(a, "PUT", "dave", buf, NOW), AUTH_OK);

    /* Bounds: parameters and bytes, the signature included: auth_sign refuses what its own
     * "&sig=..." would take past them, so every URL it mints checks. */
    size_t o = (size_t)snprintf(buf, sizeof buf, EXP);
    for (int i = 1; i < AUTH_PARAMS_MAX - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "&p%d=1", i);
    assert_int_equal(auth_sign(a, "PUT", "dave", 4, buf, strlen(buf), sig), 0); /* 15, and sig */
    assert_int_equal(check(a, "PUT", "dave", signed_query(a, "PUT", "dave", buf), NOW), AUTH_OK);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "&p16=1");
    assert_int_equal(auth_sign(a, "PUT", "dave", 4, buf, strlen(buf), sig), -1); /* 16, and sig */
    char *longq = malloc(AUTH_QUERY_MAX + 64);
    assert_non_null(longq);
    size_t room = AUTH_QUERY_MAX - 5 - AUTH_SIG_HEX; /* "&sig=" and the signature */
    o = (size_t)snprintf(longq, AUTH_QUERY_MAX + 64, EXP "&pad=");
    memset(longq + o, 'x', room - o);
    longq[room] = '\0';
    assert_int_equal(auth_sign(a, "PUT", "dave", 4, longq, room, sig), 0);
    assert_int_equal(check(a, "PUT", "dave", signed_query(a, "PUT", "dave", longq), NOW), AUTH_OK);
    longq[room] = 'x';
    longq[room + 1] = '\0';
    assert_int_equal(auth_sign(a, "PUT", "dave", 4, longq, room + 1, sig), -1);
    free(longq);
    auth_unref(a);
}

static void test_loading(void **state)
{
    char err[512];
    /* Comments, blank lines and whitespace around secrets. */
    auth_t *a = load_ok("# comment\n\n   \n\t" TOKEN1 "\t\n# " TOKEN2 "\n", "\n#x\n " KEY_OLD " ");
    assert_true(bearer(a, "Bearer " TOKEN1));
    assert_false(bearer(a, "Bearer " TOKEN2)); /* commented out */
    assert_false(bearer(a, "Bearer # " TOKEN2));
    auth_unref(a);

    /* A short token: refused, with its line. */
    assert_null(auth_load(put("t", "# x\n" TOKEN1 "\nshort-token\n", 0600), NULL, err, sizeof err));
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "shorter than 16 bytes"));
    assert_non_null(strstr(err, "token"));
    /* A short key likewise; and a key with a space inside. */
    assert_null(auth_load(NULL, put("k", "0123456789abcde\n", 0600), err, sizeof err));
    assert_non_null(strstr(err, "upload key file"));
    assert_non_null(strstr(err, "line 1"));
    assert_null(auth_load(NULL, put("k", "0123456789 abcdef0123\n", 0600), err, sizeof err));
    assert_non_null(strstr(err, "space"));
    /* Empty, or comments only. */
    assert_null(auth_load(put("t", "", 0600), NULL, err, sizeof err));
    assert_non_null(strstr(err, "no secret"));
    assert_null(auth_load(put("t", "# nothing\n\n", 0600), NULL, err, sizeof err));
    assert_non_null(strstr(err, "no secret"));
    /* Missing file: its path and why. */
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_null(auth_load(missing, NULL, err, sizeof err));
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, "No such file"));
    assert_null(auth_load(put("t", TOKEN1 "\n", 0600), missing, err, sizeof err));
    assert_non_null(strstr(err, "upload key file"));
    /* A folder is not a secret file. */
    assert_null(auth_load(dir, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));

    /* Open to others: loaded, with a warning. */
    a = auth_load(put("t", TOKEN1 "\n", 0644), NULL, err, sizeof err);
    assert_non_null(a);
    assert_non_null(strstr(err, "group or others"));
    auth_unref(a);

    /* A symlink to the secret (as /run/secrets) is followed. */
    const char *real = put("real", TOKEN2 "\n", 0600);
    char link[128];
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(real, link), 0);
    a = auth_load(link, NULL, err, sizeof err);
    assert_non_null(a);
    assert_true(bearer(a, "Bearer " TOKEN2));
    auth_unref(a);

    /* Neither file: an auth_t that accepts nothing. */
    a = auth_load(NULL, NULL, err, sizeof err);
    assert_non_null(a);
    assert_false(bearer(a, "Bearer " TOKEN1));
    assert_int_equal(check(a, "PUT", "x", EXP "&sig=00", NOW), AUTH_BAD);
    auth_unref(a);
}

static auth_holder_t holder;
static atomic_int stop_readers;

static void *reader(void *arg)
{
    long ok = 0;
    while (!stop_readers) {
        auth_t *a = auth_holder_get(&holder);
        ok += bearer(a, "Bearer " TOKEN1);
        auth_unref(a);
    }
    return (void *)ok;
}

static void test_holder(void **state)
{
    assert_int_equal(auth_holder_init(&holder, load_ok(TOKEN1 "\n", NULL)), 0);
    auth_t *old = auth_holder_get(&holder);
    auth_holder_set(&holder, load_ok(TOKEN2 "\n", NULL));
    /* The reference taken before the swap still works; the holder gives the new one. */
    assert_true(bearer(old, "Bearer " TOKEN1));
    auth_unref(old);
    auth_t *cur = auth_holder_get(&holder);
    assert_true(bearer(cur, "Bearer " TOKEN2));
    assert_false(bearer(cur, "Bearer " TOKEN1));
    auth_unref(cur);

    /* Readers on threads while the main thread swaps (ASan/TSan catch a use after free). */
    auth_t *one = load_ok(TOKEN1 "\n", NULL), *two = load_ok(TOKEN2 "\n", NULL);
    pthread_t t[3];
    stop_readers = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
    for (int i = 0; i < 2000; i++)
        auth_holder_set(&holder, auth_ref(i % 2 ? one : two));
    stop_readers = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    auth_unref(one);
    auth_unref(two);
    auth_holder_set(&holder, NULL);
    assert_null(auth_holder_get(&holder));
    auth_holder_destroy(&holder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_holder, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
