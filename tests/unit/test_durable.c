/* durable: a replace leaves the new bytes with the asked mode and no temporary file; a failed one
 * leaves the old file and no temporary file; a symlink is replaced, never written through;
 * clean_temps removes only temporary names; batches end with one folder fsync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/durable.h"

static char dir[64];
static int dfd = -1;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixd-test-durable-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return dfd < 0 ? -1 : 0;
}

static void remove_all(int fd)
{
    DIR *d = fdopendir(dup(fd));
    if (d)
        rewinddir(d); /* the dup shares the offset of earlier reads */
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && unlinkat(fd, de->d_name, 0) < 0)
            unlinkat(fd, de->d_name, AT_REMOVEDIR);
    if (d)
        closedir(d);
}

static int teardown(void **state)
{
    remove_all(dfd);
    close(dfd);
    return rmdir(dir);
}

static void put(const char *name, const char *data)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

/* The content of name, NUL-terminated, in a static buffer. */
static const char *get(const char *name)
{
    static char buf[8192];
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

/* How many names the folder holds that start with ".tmp-". */
static int count_temps(void)
{
    DIR *d = fdopendir(dup(dfd));
    assert_non_null(d);
    rewinddir(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strncmp(de->d_name, ".tmp-", 5) == 0;
    closedir(d);
    return n;
}

static void test_replace_content_and_mode(void **state)
{
    mode_t old = umask(077); /* the mode must not depend on the umask */
    assert_int_equal(durable_replace(dfd, "alice.png", "first", 5, 0644), 0);
    assert_string_equal(get("alice.png"), "first");
    assert_int_equal(durable_replace(dfd, "alice.png", "second!", 7, 0640), 0);
    umask(old);
    assert_string_equal(get("alice.png"), "second!");
    struct stat st;
    assert_int_equal(fstatat(dfd, "alice.png", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(count_temps(), 0);

    assert_int_equal(durable_replace(dfd, "empty", "", 0, 0600), 0);
    assert_string_equal(get("empty"), "");
    assert_int_equal(count_temps(), 0);
}

static void test_replace_large(void **state)
{
    size_t n = 3 << 20;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    assert_int_equal(durable_replace(dfd, "big", big, n, 0644), 0);
    int fd = openat(dfd, "big", O_RDONLY);
    char *back = malloc(n + 1);
    assert_non_null(back);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, back + got, n + 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    assert_int_equal(got, n);
    assert_memory_equal(back, big, n);
    free(back);
    free(big);
}

static void test_bad_names(void **state)
{
    assert_int_equal(durable_replace(dfd, "a/b", "x", 1, 0644), -EINVAL);
    assert_int_equal(durable_replace(dfd, "", "x", 1, 0644), -EINVAL);
    assert_int_equal(durable_replace(dfd, "..", "x", 1, 0644), -EINVAL);
    char longname[DURABLE_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(durable_replace(dfd, longname, "x", 1, 0644), -ENAMETOOLONG);
    longname[DURABLE_NAME_MAX] = '\0'; /* the longest name that works */
    assert_int_equal(durable_replace(dfd, longname, "x", 1, 0644), 0);
    assert_int_equal(count_temps(), 0);
}

/* rename() cannot put a file over a folder: the temporary file must go, the folder stay. */
static void test_failure_over_directory(void **state)
{
    assert_int_equal(mkdirat(dfd, "bob.png", 0755), 0);
    int r = durable_replace(dfd, "bob.png", "data", 4, 0644);
    assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
    assert_int_equal(count_temps(), 0);
    struct stat st;
    assert_int_equal(fstatat(dfd, "bob.png", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* A write that fails half-way (the file size limit) leaves the old file whole. */
static void test_failure_short_write(void **state)
{
    put("carol.png", "old bytes");
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char data[4096];
    memset(data, 'x', sizeof data);
    int r = durable_replace(dfd, "carol.png", data, sizeof data, 0644);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(r, -EFBIG);
    assert_string_equal(get("carol.png"), "old bytes");
    assert_int_equal(count_temps(), 0);
}

/* Root writes into read-only folders; everyone else must see EACCES and no temporary file. */
static void test_failure_read_only_dir(void **state)
{
    if (geteuid() == 0)
        skip();
    assert_int_equal(mkdirat(dfd, "ro", 0500), 0);
    int ro = openat(dfd, "ro", O_RDONLY | O_DIRECTORY);
    assert_true(ro >= 0);
    assert_int_equal(durable_replace(ro, "x.png", "d", 1, 0644), -EACCES);
    close(ro);
    fchmodat(dfd, "ro", 0700, 0);
}

/* A symlink at the name is replaced by the file; its target is never written. */
static void test_symlink_replaced_not_followed(void **state)
{
    put("target", "secret");
    assert_int_equal(symlinkat("target", dfd, "dave.png"), 0);
    assert_int_equal(durable_replace(dfd, "dave.png", "avatar", 6, 0644), 0);
    struct stat st;
    assert_int_equal(fstatat(dfd, "dave.png", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(get("dave.png"), "avatar");
    assert_string_equal(get("target"), "secret");
    /* A dangling link too: nothing is created where it points. */
    assert_int_equal(symlinkat("nowhere", dfd, "erin.png"), 0);
    assert_int_equal(durable_replace(dfd, "erin.png", "e", 1, 0644), 0);
    assert_null(get("nowhere"));
    assert_string_equal(get("erin.png"), "e");
}

static void test_unlink(void **state)
{
    put("frank.png", "x");
    assert_int_equal(durable_unlink(dfd, "frank.png"), 1);
    assert_null(get("frank.png"));
    assert_int_equal(durable_unlink(dfd, "frank.png"), 0);
    assert_int_equal(durable_unlink(dfd, "a/b"), -EINVAL);
    assert_int_equal(mkdirat(dfd, "sub", 0755), 0);
    assert_int_equal(durable_unlink(dfd, "sub"), -EISDIR);
}

/* The upload order: the new file first, then the old one goes, then one folder fsync. */
static void test_batch(void **state)
{
    put("gina.png", "old");
    assert_int_equal(durable_replace_batch(dfd, "gina.jpg", "new", 3, 0644), 0);
    assert_string_equal(get("gina.jpg"), "new");
    assert_int_equal(durable_unlink_batch(dfd, "gina.png"), 1);
    assert_int_equal(durable_unlink_batch(dfd, "gina.gif"), 0);
    assert_int_equal(durable_sync_dir(dfd), 0);
    assert_null(get("gina.png"));
    assert_int_equal(count_temps(), 0);
    assert_int_equal(durable_sync_dir(-1), -EBADF);
}

static void test_clean_temps(void **state)
{
    put(".tmp-alice.png-Ab3dEf9hIjKl", "left over");
    put(".tmp-.pixd-index-000000000000", "left over");
    put(".tmp-short-abc", "not ours: suffix too short");
    put(".tmp-alice.png-Ab3dEf9hIj_l", "not ours: '_' in the suffix");
    put(".tmpx-alice.png-Ab3dEf9hIjKl", "not ours: prefix");
    put("alice.png", "a stored file");
    put(".pixd-index", "an index");
    assert_int_equal(mkdirat(dfd, ".tmp-dir-Ab3dEf9hIjKl", 0755), 0);
    assert_int_equal(symlinkat("alice.png", dfd, ".tmp-link-Ab3dEf9hIjKl"), 0);

    assert_int_equal(durable_clean_temps(dfd), 2);
    assert_null(get(".tmp-alice.png-Ab3dEf9hIjKl"));
    assert_null(get(".tmp-.pixd-index-000000000000"));
    assert_non_null(get(".tmp-short-abc"));
    assert_non_null(get(".tmp-alice.png-Ab3dEf9hIj_l"));
    assert_non_null(get(".tmpx-alice.png-Ab3dEf9hIjKl"));
    assert_string_equal(get("alice.png"), "a stored file");
    assert_string_equal(get(".pixd-index"), "an index");
    struct stat st;
    assert_int_equal(fstatat(dfd, ".tmp-dir-Ab3dEf9hIjKl", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(fstatat(dfd, ".tmp-link-Ab3dEf9hIjKl", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(durable_clean_temps(dfd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replace_content_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_over_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_read_only_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_replaced_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_temps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
