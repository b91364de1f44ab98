/* hashindex: an address gives its uid Gravatar's MD5 and Libravatar's SHA-256 names (known
 * values), normalised by trimming and lowercasing; a uid keeps one address and an address names
 * one uid; the index survives reopening, skips malformed lines, refuses another version, and
 * loses no update when threads register at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "server/hashindex.h"

#define MD5_TEST "55502f40dc8b7c769880b10874abc9d0" /* md5("test@example.com") */
#define SHA_TEST "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"

static char dir[64];
static int dfd = -1;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixd-test-hashindex-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    close(dfd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static hashindex_t *open_ok(void)
{
    char err[256];
    hashindex_t *x = hashindex_open(dfd, err, sizeof err);
    if (!x)
        fail_msg("hashindex_open: %s", err);
    assert_string_equal(err, "");
    return x;
}

static int reg(hashindex_t *x, const char *email, const char *uid)
{
    return hashindex_register(x, email, strlen(email), uid, strlen(uid));
}

/* The uid hash names, or "" when none (static buffer). */
static const char *look(hashindex_t *x, const char *hash)
{
    static char uid[65];
    return hashindex_lookup(x, hash, strlen(hash), uid) ? uid : "";
}

static void hex_digest(const EVP_MD *md, const char *s, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), d, &n, md, NULL), 1);
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void put_index(const char *content)
{
    int fd = openat(dfd, HASHINDEX_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void test_register_lookup(void **state)
{
    hashindex_t *x = open_ok();
    assert_int_equal(hashindex_count(x), 0);
    assert_string_equal(look(x, MD5_TEST), "");
    assert_int_equal(reg(x, "test@example.com", "alice"), 0);
    assert_string_equal(look(x, MD5_TEST), "alice");
    assert_string_equal(look(x, SHA_TEST), "alice");
    assert_int_equal(hashindex_count(x), 2);
    /* Any case of hex digits. */
    assert_string_equal(look(x, "55502F40DC8B7C769880B10874ABC9D0"), "alice");
    assert_string_equal(look(x, "973DFE463EC85785F5F95AF5BA3906EEDB2D931C24E69824A89EA65DBA4E813B"), "alice");
    /* Not a name: wrong length, not hex. */
    assert_string_equal(look(x, "55502f40dc8b7c769880b10874abc9d"), "");
    assert_string_equal(look(x, "55502f40dc8b7c769880b10874abc9d00"), "");
    assert_string_equal(look(x, "55502f40dc8b7c769880b10874abc9dg"), "");
    assert_string_equal(look(x, ""), "");
    assert_string_equal(look(x, "x55502f40dc8b7c769880b10874abc9d0"), "");
    char uid[65];
    assert_false(hashindex_lookup(x, MD5_TEST, 31, uid));
    hashindex_free(x);
}

static void test_normalise_and_validate(void **state)
{
    hashindex_t *x = open_ok();
    assert_int_equal(reg(x, "  Test@Example.COM \t\r\n", "bob"), 0);
    assert_string_equal(look(x, MD5_TEST), "bob");
    assert_string_equal(look(x, SHA_TEST), "bob");

    assert_int_equal(reg(x, "", "bob"), -EINVAL);
    assert_int_equal(reg(x, "  \t ", "bob"), -EINVAL);
    assert_int_equal(reg(x, "no-at-sign.example.com", "bob"), -EINVAL);
    assert_int_equal(reg(x, "a\x01@example.com", "bob"), -EINVAL);
    assert_int_equal(reg(x, "a@example.com\x7f", "bob"), -EINVAL);
    assert_int_equal(hashindex_register(x, "a\0@b", 4, "bob", 3), -EINVAL);
    assert_int_equal(reg(x, "test@example.com", "bad uid"), -EINVAL);
    assert_int_equal(reg(x, "test@example.com", ""), -EINVAL);
    char addr[300];
    memset(addr, 'a', sizeof addr);
    memcpy(addr + 200, "@example.com", 12);
    assert_int_equal(hashindex_register(x, addr, 254, "carl", 4), 0); /* the longest */
    assert_int_equal(hashindex_register(x, addr, 255, "carl", 4), -EINVAL);
    assert_string_equal(look(x, MD5_TEST), "bob"); /* failures changed nothing */
    assert_int_equal(hashindex_count(x), 4);
    /* the check alone, by the same rule */
    assert_true(hashindex_email_valid(" A@b ", 5));
    assert_true(hashindex_email_valid(addr, 254));
    assert_false(hashindex_email_valid(addr, 255));
    assert_false(hashindex_email_valid("no-at-sign", 10));
    assert_false(hashindex_email_valid("a\0@b", 4));
    assert_false(hashindex_email_valid(" \t", 2));
    assert_int_equal(hashindex_count(x), 4);
    hashindex_free(x);
}

static void test_moves_and_drop(void **state)
{
    hashindex_t *x = open_ok();
    char md5_new[65], sha_new[65];
    hex_digest(EVP_md5(), "new@example.com", md5_new);
    hex_digest(EVP_sha256(), "new@example.com", sha_new);

    /* A uid has one address: a new one replaces the old names. */
    assert_int_equal(reg(x, "test@example.com", "alice"), 0);
    assert_int_equal(reg(x, "new@example.com", "alice"), 0);
    assert_string_equal(look(x, MD5_TEST), "");
    assert_string_equal(look(x, SHA_TEST), "");
    assert_string_equal(look(x, md5_new), "alice");
    assert_string_equal(look(x, sha_new), "alice");
    assert_int_equal(hashindex_count(x), 2);

    /* An address names one uid: registering it elsewhere moves it. */
    assert_int_equal(reg(x, "new@example.com", "bob"), 0);
    assert_string_equal(look(x, md5_new), "bob");
    assert_string_equal(look(x, sha_new), "bob");
    assert_int_equal(hashindex_count(x), 2);

    /* The bound: however often a uid registers, it holds two names. */
    for (int i = 0; i < 50; i++) {
        char a[64];
        snprintf(a, sizeof a, "user%d@example.com", i);
        assert_int_equal(reg(x, a, "carol"), 0);
    }
    assert_int_equal(hashindex_count(x), 4);
    assert_int_equal(reg(x, "test@example.com", "carol"), 0);
    assert_string_equal(look(x, MD5_TEST), "carol");

    /* Drop: the names go; an unknown uid is no error. */
    assert_int_equal(hashindex_drop_uid(x, "bob", 3), 0);
    assert_string_equal(look(x, md5_new), "");
    assert_string_equal(look(x, sha_new), "");
    assert_int_equal(hashindex_count(x), 2);
    assert_int_equal(hashindex_drop_uid(x, "nobody", 6), 0);
    assert_int_equal(hashindex_drop_uid(x, "a/b", 3), -EINVAL);
    hashindex_free(x);

    /* Everything above reached the file. */
    x = open_ok();
    assert_string_equal(look(x, MD5_TEST), "carol");
    assert_string_equal(look(x, SHA_TEST), "carol");
    assert_string_equal(look(x, md5_new), "");
    assert_int_equal(hashindex_count(x), 2);
    hashindex_free(x);
}

static void test_persistence(void **state)
{
    hashindex_t *x = open_ok();
    assert_int_equal(reg(x, "test@example.com", "alice"), 0);
    assert_int_equal(reg(x, "other@example.com", "bob_2"), 0);
    hashindex_free(x);

    struct stat st;
    assert_int_equal(fstatat(dfd, HASHINDEX_FILE, &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char buf[1024];
    int fd = openat(dfd, HASHINDEX_FILE, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_memory_equal(buf, "pixd-hashindex 1\n", 17);
    assert_non_null(strstr(buf, "\n" MD5_TEST " alice\n"));
    assert_non_null(strstr(buf, "\n" SHA_TEST " alice\n"));
    assert_int_equal(buf[n - 1], '\n');

    x = open_ok();
    assert_string_equal(look(x, MD5_TEST), "alice");
    assert_string_equal(look(x, SHA_TEST), "alice");
    char md5_other[65];
    hex_digest(EVP_md5(), "other@example.com", md5_other);
    assert_string_equal(look(x, md5_other), "bob_2");
    assert_int_equal(hashindex_count(x), 4);
    hashindex_free(x);
}

static void test_corrupt_lines(void **state)
{
    put_index("pixd-hashindex 1\n"
              MD5_TEST " alice\n"
              "\n"
              "55502F40DC8B7C769880B10874ABC9D0 upper\n" /* we never write uppercase */
              "55502f40dc8b7c769880b10874abc9 short\n"
              "nospace\n"
              SHA_TEST " bad/uid\n"
              SHA_TEST " two words\n"
              SHA_TEST "  doublespace\n"
              SHA_TEST " alice"); /* the last line may lack its newline */
    char err[256];
    hashindex_t *x = hashindex_open(dfd, err, sizeof err);
    assert_non_null(x);
    assert_non_null(strstr(err, "6 malformed lines skipped"));
    assert_string_equal(look(x, MD5_TEST), "alice");
    assert_string_equal(look(x, SHA_TEST), "alice");
    assert_int_equal(hashindex_count(x), 2);
    /* The next change rewrites a clean file. */
    assert_int_equal(reg(x, "x@example.com", "zed"), 0);
    hashindex_free(x);
    x = open_ok();
    assert_int_equal(hashindex_count(x), 4);
    hashindex_free(x);
}

static void test_refused_files(void **state)
{
    char err[256];
    put_index("pixd-hashindex 2\n" MD5_TEST " alice\n");
    assert_null(hashindex_open(dfd, err, sizeof err));
    assert_non_null(strstr(err, "version"));
    put_index("garbage\n");
    assert_null(hashindex_open(dfd, err, sizeof err));
    /* A symlink in the avatar folder is never followed. */
    assert_int_equal(unlinkat(dfd, HASHINDEX_FILE, 0), 0);
    assert_int_equal(symlinkat("/etc/passwd", dfd, HASHINDEX_FILE), 0);
    assert_null(hashindex_open(dfd, err, sizeof err));
    assert_non_null(strstr(err, HASHINDEX_FILE));
    /* An empty file is an empty index. */
    assert_int_equal(unlinkat(dfd, HASHINDEX_FILE, 0), 0);
    put_index("");
    hashindex_t *x = open_ok();
    assert_int_equal(hashindex_count(x), 0);
    hashindex_free(x);
}

#define THREADS 8
#define PER_THREAD 40

static hashindex_t *shared;

static void *registrar(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char addr[64], uid[32];
        snprintf(addr, sizeof addr, "User%ld.%d@Example.org", t, i);
        snprintf(uid, sizeof uid, "u%ld_%d", t, i);
        if (reg(shared, addr, uid) != 0)
            return (void *)1;
        /* Lookups run meanwhile, as on the event loops. */
        char md5[65], got[65];
        for (char *p = addr; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        hex_digest(EVP_md5(), addr, md5);
        if (!hashindex_lookup(shared, md5, 32, got) || strcmp(got, uid))
            return (void *)2;
    }
    return NULL;
}

static void test_concurrent_registers(void **state)
{
    shared = open_ok();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, registrar, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    hashindex_free(shared);

    /* No update lost on the way to the file. */
    hashindex_t *x = open_ok();
    assert_int_equal(hashindex_count(x), 2 * THREADS * PER_THREAD);
    for (int t2 = 0; t2 < THREADS; t2++)
        for (int i = 0; i < PER_THREAD; i++) {
            char addr[64], uid[32], md5[65], sha[65];
            snprintf(addr, sizeof addr, "user%d.%d@example.org", t2, i);
            snprintf(uid, sizeof uid, "u%d_%d", t2, i);
            hex_digest(EVP_md5(), addr, md5);
            hex_digest(EVP_sha256(), addr, sha);
            assert_string_equal(look(x, md5), uid);
            assert_string_equal(look(x, sha), uid);
        }
    hashindex_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normalise_and_validate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moves_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_registers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
