/* avatar store: uids without a file stay within their share of the byte budget and never push
 * out cached files; symlinks are refused (a user's counts as no file, a default's as no
 * default); several threads share the striped store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/loop.h"
#include "server/avatar.h"
#include "server/server.h"

#define ENTRY_COST 160 /* ENTRY_OVERHEAD in avatar.c: what a negative entry is charged */

static char root[64], dir[96];

static void put_file(const char *folder, const char *name, const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    fclose(f);
}

static void put_link(const char *name, const char *target)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/pixd-test-avatar-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(dir, sizeof dir, "%s/avatars", root);
    return mkdir(dir, 0700);
}

static void empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

static int teardown(void **state)
{
    (void)state;
    empty_dir(dir);
    rmdir(dir);
    empty_dir(root);
    return rmdir(root);
}

static avatar_store_t *open_store(uint64_t cache_bytes)
{
    server_config_t cfg;
    server_config_defaults(&cfg);
    snprintf(cfg.avatars, sizeof cfg.avatars, "%s", dir);
    cfg.cache_bytes = cache_bytes;
    char err[256];
    avatar_store_t *s = avatar_store_new(&cfg, err, sizeof err);
    assert_non_null(s);
    return s;
}

/* What the server does: avatar_get, and avatar_load when the file must be read off the loop. */
static avatar_file_t *get(avatar_store_t *s, const char *uid)
{
    avatar_file_t *f = NULL;
    avatar_slow_t slow;
    if (avatar_get(s, uid, strlen(uid), &f, &slow) == AVATAR_SLOW)
        f = avatar_load(s, &slow);
    return f;
}

/* The body served for uid, as a string (the test files are text). */
static void assert_serves(avatar_store_t *s, const char *uid, const char *want)
{
    avatar_file_t *f = get(s, uid);
    if (!want) {
        assert_null(f);
        return;
    }
    assert_non_null(f);
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(f->body, want, f->len);
    avatar_put(f);
}

static void test_unknown_uids_stay_bounded(void **state)
{
    (void)state;
    const uint64_t cap = 8u << 20;
    put_file(dir, "-1.png", "default");
    char uid[32], body[32];
    for (int i = 0; i < 20; i++) {
        snprintf(uid, sizeof uid, "known%d.png", i);
        snprintf(body, sizeof body, "file %d", i);
        put_file(dir, uid, body);
    }
    avatar_store_t *s = open_store(cap);
    /* Watched, as pixd runs it: unwatched entries expire after a second, and the flood below
     * may take longer. The loop never runs: the events are not needed here. */
    loop_t *loop = loop_new();
    assert_non_null(loop);
    assert_int_equal(avatar_store_watch(s, loop), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(uid, sizeof uid, "known%d", i);
        snprintf(body, sizeof body, "file %d", i);
        assert_serves(s, uid, body);
    }
    /* Far more unknown uids than the negative share can hold. */
    const int flood = (int)(cap / ENTRY_COST);
    for (int i = 0; i < flood; i++) {
        snprintf(uid, sizeof uid, "rnd%08x%d", (unsigned)random(), i);
        assert_serves(s, uid, "default");
    }
    avatar_stats_t st;
    avatar_store_stats(s, &st);
    assert_true(st.bytes <= cap);
    assert_true(st.negative > 0);
    assert_true(st.negative * ENTRY_COST <= cap / 8);
    assert_int_equal(st.entries, st.negative + 20);
    assert_int_equal(st.misses, 20 + (uint64_t)flood);

    /* The files are still cached: every lookup is a hit. */
    for (int i = 0; i < 20; i++) {
        snprintf(uid, sizeof uid, "known%d", i);
        snprintf(body, sizeof body, "file %d", i);
        assert_serves(s, uid, body);
    }
    avatar_stats_t after;
    avatar_store_stats(s, &after);
    assert_int_equal(after.hits, st.hits + 20);
    assert_int_equal(after.misses, st.misses);
    avatar_store_free(s);
    loop_free(loop);
}

static void test_symlinks_refused(void **state)
{
    (void)state;
    put_file(root, "secret.txt", "secret");
    put_file(dir, "-1.png", "default");
    put_file(dir, "ok.png", "ok");
    char target[160];
    snprintf(target, sizeof target, "%s/secret.txt", root);
    put_link("evil.png", target);
    put_link("rel.jpg", "../secret.txt");
    put_link("inside.png", "ok.png"); /* even inside the folder: one rule, no path checks */
    avatar_store_t *s = open_store(1u << 20);
    assert_serves(s, "ok", "ok");
    assert_serves(s, "evil", "default");
    assert_serves(s, "rel", "default");
    assert_serves(s, "inside", "default");
    avatar_store_free(s);
}

static void test_default_symlink_refused(void **state)
{
    (void)state;
    put_file(root, "secret.txt", "secret");
    put_file(dir, "ok.png", "ok");
    put_link("-1.png", "../secret.txt");
    avatar_store_t *s = open_store(1u << 20);
    assert_serves(s, "nobody", NULL); /* no default: 404 */
    assert_serves(s, "-1", NULL);
    assert_serves(s, "ok", "ok");
    avatar_store_free(s);
}

static void test_no_cache(void **state)
{
    (void)state;
    put_file(dir, "-1.png", "default");
    put_file(dir, "a.gif", "a");
    avatar_store_t *s = open_store(0);
    for (int i = 0; i < 3; i++) {
        assert_serves(s, "a", "a");
        assert_serves(s, "b", "default");
    }
    avatar_stats_t st;
    avatar_store_stats(s, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    avatar_store_free(s);
}

/* Threads on the sharded store: under ASan/TSan this is where a locking slip would show. */
static avatar_store_t *shared;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    char uid[32];
    for (int i = 0; i < 4000; i++) {
        int k = (int)(rand_r(&seed) % 64);
        if (k < 8)
            snprintf(uid, sizeof uid, "known%d", k);
        else
            snprintf(uid, sizeof uid, "u%d", k + (int)(rand_r(&seed) % 2000));
        avatar_file_t *f = get(shared, uid);
        if (!f || f->len == 0)
            return (void *)1;
        avatar_put(f);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    put_file(dir, "-1.png", "default");
    char name[32];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "known%d.webp", i);
        put_file(dir, name, name);
    }
    shared = open_store(64u << 20); /* 16 shards */
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    avatar_stats_t st;
    avatar_store_stats(shared, &st);
    assert_int_equal(st.hits + st.misses, 4 * 4000);
    assert_true(st.entries <= 8 + 2000 + 64);
    avatar_store_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_uids_stay_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
