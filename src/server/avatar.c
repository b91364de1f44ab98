#include "server/avatar.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/hashtab.h"
#include "core/list.h"
#include "core/siphash.h"
#include "http/date.h"
#include "image/image.h"

#define AVATAR_FILE_MAX (32u << 20) /* larger files are refused, not served */
#define SLOW_MIN (1u << 20)         /* from this size a file is read off the loop (avatar_load) */
#define ENTRY_OVERHEAD 160          /* what an entry costs beyond its file, for the byte bound */
#define UNWATCHED_TTL_MS 1000       /* without inotify, re-read files this often */
#define SENDFILE_MIN 16384          /* from this size the kernel copy is worth avoiding (lwan's cut) */
#define SHARDS_MAX 16               /* independent locks: lookups of different uids rarely meet */
/* Each shard caches files up to a quarter of its budget: 64 MiB keeps the 16 MiB cut-off of the
 * default cache (one shard); larger caches, on larger machines, spread the lock. */
#define SHARD_MIN_BYTES (64u << 20)
#define NEG_SHARE 8                 /* negative entries may use 1/NEG_SHARE of a shard's budget */

static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".webp"};

typedef struct entry {
    struct entry *chain;            /* hash bucket */
    list_t lru;                     /* in its shard's lru or neg list */
    avatar_file_t *file;            /* NULL: the user has no file, serve the default */
    uint64_t cost;
    uint64_t loaded_ms;
    uint64_t hash;
    uint8_t klen;
    char key[AVATAR_UID_MAX];
} entry_t;

/* The byte bound is honest only if ENTRY_OVERHEAD covers the entry, its malloc header and its
 * share of the bucket array (fewer than 2 pointers per entry, see HASHTAB_GROW). */
_Static_assert(sizeof(entry_t) + 16 + 2 * sizeof(entry_t *) <= ENTRY_OVERHEAD, "ENTRY_OVERHEAD too small");

/* One independent cache: the old single-lock store, on 1/nshards of the uids and the budget. */
typedef struct {
    pthread_mutex_t lock;
    uint64_t cap, neg_cap;          /* byte budget; negative entries' share of it */
    uint64_t bytes, neg_bytes;
    uint64_t gen;                   /* bumped by every invalidation: stale loads are not cached */
    entry_t **buckets;
    uint32_t nbuckets, nentries, nneg;
    list_t lru, neg;                /* files and negatives, each most recent first */
    uint64_t hits, misses, evictions;
} __attribute__((aligned(64))) shard_t; /* no false sharing between neighbouring locks */

/* A snapshot of a file too large for the cache (over a quarter of a shard), kept so that it is
 * read, hashed and copied once per version of the file, not once per request. The version is
 * the file's identity and times: a rewrite in place changes its mtime and ctime. */
typedef struct large {
    struct large *next; /* most recent first */
    char name[AVATAR_UID_MAX + 8];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    avatar_file_t *file;
} large_t;

struct avatar_store {
    shard_t *shards;
    uint32_t nshards;
    siphash_key_t key;
    int dirfd;
    char dir[4096];
    char default_name[256];
    int max_age;
    /* Written under every shard lock (lock_all), so read under any one. */
    avatar_file_t *deflt;
    bool watching;
    loop_watch_t inotify_w;
    void (*on_change)(void *arg, const char *uid, size_t n);
    void *on_change_arg;
    /* Large files: their own byte bound (the cache's size), their own lock; few entries. */
    pthread_mutex_t large_lock;
    large_t *large;
    uint64_t large_bytes, large_cap, slow_loads;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t hash_key(const avatar_store_t *s, const char *k, size_t n)
{
    return siphash24(&s->key, k, n);
}

/* The shard takes high bits, the bucket low ones: independent within a shard. */
static shard_t *shard_of(avatar_store_t *s, uint64_t h)
{
    return &s->shards[(h >> 40) & (s->nshards - 1)];
}

static void lock_all(avatar_store_t *s)
{
    for (uint32_t i = 0; i < s->nshards; i++) /* always in index order: no deadlock */
        pthread_mutex_lock(&s->shards[i].lock);
}

static void unlock_all(avatar_store_t *s)
{
    for (uint32_t i = s->nshards; i-- > 0;)
        pthread_mutex_unlock(&s->shards[i].lock);
}

int avatar_uid_valid(const char *uid, size_t n)
{
    if (n == 0 || n > AVATAR_UID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = uid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* ---- files --------------------------------------------------------------------------- */

void avatar_put(void *p)
{
    avatar_file_t *f = p;
    if (f && __atomic_sub_fetch(&f->_refs, 1, __ATOMIC_ACQ_REL) == 0) {
        if (f->fd >= 0) {
            munmap((void *)f->body, f->len);
            close(f->fd);
        } else {
            free((void *)f->body);
        }
        free(f);
    }
}

static avatar_file_t *file_ref(avatar_file_t *f)
{
    if (f)
        __atomic_add_fetch(&f->_refs, 1, __ATOMIC_RELAXED);
    return f;
}

/* Moves a large body into a memfd, a snapshot that sendfile can send without a user-space
 * copy and that no later write to the original file can change under a response in flight.
 * On failure the heap copy stays (fd -1): served with writev instead. */
static void to_memfd(avatar_file_t *f)
{
    int fd = memfd_create("pixd-avatar", MFD_CLOEXEC);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < f->len) {
        ssize_t n = write(fd, f->body + done, f->len - done);
        if (n <= 0)
            goto fail;
        done += (size_t)n;
    }
    void *map = mmap(NULL, f->len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        goto fail;
    free((void *)f->body);
    f->body = map;
    f->fd = fd;
    return;
fail:
    close(fd);
}

/* Opens name in the folder for reading. -1 when it does not exist or cannot be served: a
 * symlink fails with ELOOP (O_NOFOLLOW), which counts as no file; names never hold a '/'.
 * O_NONBLOCK: a FIFO planted in the folder must not hang the thread. */
static int open_file(avatar_store_t *s, const char *name, struct stat *st)
{
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > AVATAR_FILE_MAX) {
        close(fd);
        return -1;
    }
    return fd;
}

avatar_file_t *avatar_file_new(uint8_t *body, size_t len, const char *mime, int64_t mtime, int max_age)
{
    avatar_file_t *f = calloc(1, sizeof *f);
    if (!f) {
        free(body);
        return NULL;
    }
    f->_refs = 1;
    f->body = body;
    f->len = len;
    f->fd = -1;
    f->mtime = mtime;

    /* A strong validator from the bytes themselves (FNV-1a 64), not from mtime and size,
     * which a same-second, same-size replacement would not change. */
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ body[i]) * 1099511628211ull;
    f->etag_len = (size_t)snprintf(f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long)h);

    char date[HTTP_DATE_LEN + 1];
    http_date_format(f->mtime, date);
    if (!mime)
        mime = img_format_mime(img_sniff(body, len));
    int ct = snprintf(f->hdrs, sizeof f->hdrs, "Content-Type: %s\r\n", mime);
    int rest = snprintf(f->hdrs + ct, sizeof f->hdrs - (size_t)ct,
                        "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: public, max-age=%d\r\n", f->etag,
                        date, max_age);
    /* The lines above fit with room to spare; a cut header must never go out all the same. */
    if (ct < 0 || rest < 0 || (size_t)(ct + rest) >= sizeof f->hdrs) {
        free(body);
        free(f);
        return NULL;
    }
    f->ct_len = (size_t)ct;
    f->hdrs_len = (size_t)(ct + rest);
    if (len >= SENDFILE_MIN)
        to_memfd(f);
    return f;
}

/* Reads the open file into a snapshot with its headers (fd stays open). NULL when out of memory. */
static avatar_file_t *snapshot(avatar_store_t *s, int fd, const struct stat *st)
{
    uint8_t *body = malloc(st->st_size ? (size_t)st->st_size : 1);
    if (!body)
        return NULL;
    size_t got = 0;
    while (got < (size_t)st->st_size) {
        ssize_t n = pread(fd, body + got, (size_t)st->st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* truncated under us: serve what is there; inotify reloads it */
        got += (size_t)n;
    }
    return avatar_file_new(body, got, NULL, st->st_mtim.tv_sec, s->max_age);
}

static avatar_file_t *load_file(avatar_store_t *s, const char *name)
{
    struct stat st;
    int fd = open_file(s, name, &st);
    if (fd < 0)
        return NULL;
    avatar_file_t *f = snapshot(s, fd, &st);
    close(fd);
    return f;
}

/* ---- large files --------------------------------------------------------------------- */

static bool too_large_to_cache(const avatar_store_t *s, off_t size)
{
    return (uint64_t)size + ENTRY_OVERHEAD + 16 + sizeof(avatar_file_t) > s->shards[0].cap / 4;
}

static bool same_version(const large_t *l, const struct stat *st)
{
    return l->dev == st->st_dev && l->ino == st->st_ino && l->size == st->st_size &&
           l->mtime.tv_sec == st->st_mtim.tv_sec && l->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           l->ctime.tv_sec == st->st_ctim.tv_sec && l->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void large_unlink(avatar_store_t *s, large_t **pp)
{
    large_t *l = *pp;
    *pp = l->next;
    s->large_bytes -= l->file->len;
    avatar_put(l->file);
    free(l);
}

/* The snapshot of this version of name, if one is kept (a reference). */
static avatar_file_t *large_find(avatar_store_t *s, const char *name, const struct stat *st)
{
    avatar_file_t *f = NULL;
    pthread_mutex_lock(&s->large_lock);
    for (large_t **pp = &s->large; *pp; pp = &(*pp)->next) {
        large_t *l = *pp;
        if (strcmp(l->name, name) != 0)
            continue;
        if (same_version(l, st)) {
            f = file_ref(l->file);
            *pp = l->next; /* to the front: most recent */
            l->next = s->large;
            s->large = l;
        } else {
            large_unlink(s, pp);
        }
        break;
    }
    pthread_mutex_unlock(&s->large_lock);
    return f;
}

static void large_keep(avatar_store_t *s, const char *name, const struct stat *st, avatar_file_t *f)
{
    if (f->len > s->large_cap)
        return; /* served from a snapshot of its own each time, never kept */
    large_t *l = calloc(1, sizeof *l);
    if (!l)
        return;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->dev = st->st_dev;
    l->ino = st->st_ino;
    l->size = st->st_size;
    l->mtime = st->st_mtim;
    l->ctime = st->st_ctim;
    l->file = file_ref(f);
    pthread_mutex_lock(&s->large_lock);
    for (large_t **pp = &s->large; *pp;) /* an older version, or one loaded twice meanwhile */
        if (strcmp((*pp)->name, name) == 0)
            large_unlink(s, pp);
        else
            pp = &(*pp)->next;
    l->next = s->large;
    s->large = l;
    s->large_bytes += f->len;
    while (s->large_bytes > s->large_cap) { /* drop the least recent */
        large_t **pp = &s->large;
        while ((*pp)->next)
            pp = &(*pp)->next;
        large_unlink(s, pp);
    }
    pthread_mutex_unlock(&s->large_lock);
}

static void large_drop(avatar_store_t *s, const char *name)
{
    pthread_mutex_lock(&s->large_lock);
    for (large_t **pp = &s->large; *pp;)
        if (!name || strcmp((*pp)->name, name) == 0)
            large_unlink(s, pp);
        else
            pp = &(*pp)->next;
    pthread_mutex_unlock(&s->large_lock);
}

/* The uid's file: read here when small, found among the large snapshots, or left open in *slow
 * for avatar_load() when it must be read off the loop. */
static avatar_result_t load_uid(avatar_store_t *s, const char *uid, size_t n, avatar_file_t **out,
                                avatar_slow_t *slow)
{
    char name[AVATAR_UID_MAX + 8];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(name, sizeof name, "%.*s%s", (int)n, uid, exts[i]);
        struct stat st;
        int fd = open_file(s, name, &st);
        if (fd < 0)
            continue;
        if (st.st_size >= SLOW_MIN) {
            if (too_large_to_cache(s, st.st_size) && (*out = large_find(s, name, &st))) {
                close(fd);
                return AVATAR_FOUND;
            }
            slow->fd = fd;
            slow->st = st;
            snprintf(slow->name, sizeof slow->name, "%s", name);
            return AVATAR_SLOW;
        }
        *out = snapshot(s, fd, &st);
        close(fd);
        if (*out)
            return AVATAR_FOUND;
    }
    *out = NULL;
    return AVATAR_NONE;
}

/* ---- the cache (callers hold the shard's lock) ---------------------------------------- */

static entry_t *lru_entry(list_t *l)
{
    return LIST_ENTRY(l, entry_t, lru);
}

static entry_t **find_slot(shard_t *sh, const char *k, size_t n, uint64_t h)
{
    entry_t **pp = &sh->buckets[h & (sh->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == n && memcmp((*pp)->key, k, n) == 0))
        pp = &(*pp)->chain;
    return pp;
}

static void entry_remove(shard_t *sh, entry_t *e)
{
    entry_t **pp = find_slot(sh, e->key, e->klen, e->hash);
    *pp = e->chain;
    list_unlink(&e->lru);
    sh->bytes -= e->cost;
    if (!e->file) {
        sh->neg_bytes -= e->cost;
        sh->nneg--;
    }
    sh->nentries--;
    avatar_put(e->file);
    free(e);
}

static void insert(shard_t *sh, const char *k, size_t n, uint64_t h, avatar_file_t *f)
{
    uint64_t cost = ENTRY_OVERHEAD + (f ? 16 + sizeof *f + f->len : 0);
    if (cost > (f ? sh->cap / 4 : sh->neg_cap)) /* one huge file must not flush the whole shard */
        return;
    if (*find_slot(sh, k, n, h))
        return; /* another thread loaded it meanwhile */
    /* Make room first. A negative entry only ever displaces older negatives, so uids without a
     * file cannot push out files; a file displaces negatives first (a few failed openat()s
     * rebuild one), then the least recent files. */
    while (!f && (sh->neg_bytes + cost > sh->neg_cap || sh->bytes + cost > sh->cap)) {
        if (list_empty(&sh->neg))
            return; /* files fill the budget */
        entry_remove(sh, lru_entry(sh->neg.prev));
        sh->evictions++;
    }
    while (f && sh->bytes + cost > sh->cap) { /* cost <= cap/4: something is there to evict */
        entry_remove(sh, lru_entry(!list_empty(&sh->neg) ? sh->neg.prev : sh->lru.prev));
        sh->evictions++;
    }
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    memcpy(e->key, k, n);
    e->klen = (uint8_t)n;
    e->hash = h;
    e->file = file_ref(f);
    e->cost = cost;
    e->loaded_ms = now_ms();
    entry_t **slot = find_slot(sh, k, n, h); /* evictions may have moved the chain's end */
    *slot = e;
    list_push_front(f ? &sh->lru : &sh->neg, &e->lru);
    sh->bytes += cost;
    sh->nentries++;
    if (!f) {
        sh->neg_bytes += cost;
        sh->nneg++;
    }
    if (sh->nentries > sh->nbuckets)
        HASHTAB_GROW(sh->buckets, sh->nbuckets, entry_t);
}

avatar_result_t avatar_get(avatar_store_t *s, const char *uid, size_t n, avatar_file_t **out, avatar_slow_t *slow)
{
    uint64_t h = hash_key(s, uid, n);
    shard_t *sh = shard_of(s, h);
    pthread_mutex_lock(&sh->lock);
    entry_t *e = *find_slot(sh, uid, n, h);
    if (e && !s->watching && now_ms() - e->loaded_ms > UNWATCHED_TTL_MS) {
        entry_remove(sh, e);
        e = NULL;
    }
    if (e) {
        sh->hits++;
        list_move_front(e->file ? &sh->lru : &sh->neg, &e->lru);
        *out = file_ref(e->file ? e->file : s->deflt);
        pthread_mutex_unlock(&sh->lock);
        return *out ? AVATAR_FOUND : AVATAR_NONE;
    }
    sh->misses++;
    uint64_t gen = sh->gen;
    pthread_mutex_unlock(&sh->lock);

    /* Disk reads happen outside the lock; a change seen meanwhile (gen moved) means what
     * was read may be stale, so it is served once but not cached. */
    avatar_file_t *f;
    avatar_result_t r = load_uid(s, uid, n, &f, slow);
    if (r == AVATAR_SLOW) {
        slow->gen = gen;
        slow->hash = h;
        slow->ulen = (uint8_t)n;
        memcpy(slow->uid, uid, n);
        return r;
    }
    pthread_mutex_lock(&sh->lock);
    if (gen == sh->gen && sh->cap && !(f && too_large_to_cache(s, (off_t)f->len)))
        insert(sh, uid, n, h, f);
    *out = f ? f : file_ref(s->deflt);
    pthread_mutex_unlock(&sh->lock);
    return *out ? AVATAR_FOUND : AVATAR_NONE;
}

avatar_file_t *avatar_default(avatar_store_t *s)
{
    pthread_mutex_lock(&s->shards[0].lock);
    avatar_file_t *f = file_ref(s->deflt);
    pthread_mutex_unlock(&s->shards[0].lock);
    return f;
}

avatar_file_t *avatar_load(avatar_store_t *s, avatar_slow_t *slow)
{
    avatar_file_t *f = snapshot(s, slow->fd, &slow->st);
    close(slow->fd);
    slow->fd = -1;
    if (!f)
        return NULL;
    __atomic_add_fetch(&s->slow_loads, 1, __ATOMIC_RELAXED);
    if (too_large_to_cache(s, slow->st.st_size)) {
        large_keep(s, slow->name, &slow->st, f);
        return f;
    }
    shard_t *sh = shard_of(s, slow->hash);
    pthread_mutex_lock(&sh->lock);
    if (slow->gen == sh->gen && sh->cap)
        insert(sh, slow->uid, slow->ulen, slow->hash, f);
    pthread_mutex_unlock(&sh->lock);
    return f;
}

void avatar_slow_release(avatar_slow_t *slow)
{
    if (slow->fd >= 0)
        close(slow->fd);
    slow->fd = -1;
}

/* ---- invalidation -------------------------------------------------------------------- */

static void shard_empty(shard_t *sh)
{
    while (!list_empty(&sh->lru))
        entry_remove(sh, lru_entry(sh->lru.next));
    while (!list_empty(&sh->neg))
        entry_remove(sh, lru_entry(sh->neg.next));
}

/* Empties every shard; loads in flight are not cached either (gen). Callers hold lock_all. */
static void drop_all(avatar_store_t *s)
{
    for (uint32_t i = 0; i < s->nshards; i++) {
        shard_empty(&s->shards[i]);
        s->shards[i].gen++;
    }
}

static void reload_default(avatar_store_t *s)
{
    avatar_file_t *f = load_file(s, s->default_name);
    if (f)
        f->is_default = true;
    lock_all(s);
    avatar_file_t *old = s->deflt;
    s->deflt = f;
    for (uint32_t i = 0; i < s->nshards; i++)
        s->shards[i].gen++;
    unlock_all(s);
    avatar_put(old);
}

static void changed(avatar_store_t *s, const char *uid, size_t n)
{
    if (s->on_change)
        s->on_change(s->on_change_arg, uid, n);
}

/* A name in the folder changed: forget the user it belongs to. */
static void invalidate_name(avatar_store_t *s, const char *name)
{
    if (strcmp(name, s->default_name) == 0) {
        reload_default(s);
        changed(s, NULL, 0);
    }
    large_drop(s, name);
    const char *dot = strrchr(name, '.');
    if (!dot)
        return;
    size_t n = (size_t)(dot - name);
    if (!avatar_uid_valid(name, n))
        return;
    changed(s, name, n);
    uint64_t h = hash_key(s, name, n);
    shard_t *sh = shard_of(s, h);
    pthread_mutex_lock(&sh->lock);
    sh->gen++;
    entry_t *e = *find_slot(sh, name, n, h);
    if (e)
        entry_remove(sh, e);
    pthread_mutex_unlock(&sh->lock);
}

void avatar_forget(avatar_store_t *s, const char *uid, size_t n)
{
    char name[AVATAR_UID_MAX + 8];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(name, sizeof name, "%.*s%s", (int)n, uid, exts[i]);
        invalidate_name(s, name);
    }
}

static void on_inotify(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    avatar_store_t *s = (avatar_store_t *)((char *)w - offsetof(avatar_store_t, inotify_w));
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: trust nothing cached */
                reload_default(s);
                large_drop(s, NULL);
                lock_all(s);
                drop_all(s);
                unlock_all(s);
                changed(s, NULL, 0);
            } else if (ev->len) {
                invalidate_name(s, ev->name);
            }
        }
    }
}

void avatar_store_on_change(avatar_store_t *s, void (*fn)(void *arg, const char *uid, size_t n), void *arg)
{
    s->on_change = fn;
    s->on_change_arg = arg;
}

int avatar_store_watch(avatar_store_t *s, loop_t *loop)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return -1;
    if (inotify_add_watch(fd, s->dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |
                                          IN_CLOSE_WRITE | IN_ATTRIB) < 0 ||
        loop_watch_add(loop, &s->inotify_w, fd, EPOLLIN, on_inotify) != 0) {
        close(fd);
        return -1;
    }
    lock_all(s);
    s->watching = true;
    drop_all(s); /* anything read before the watch started could already be stale */
    unlock_all(s);
    reload_default(s);
    return 0;
}

/* Shards for a cache of cap bytes: a power of two, each shard at least SHARD_MIN_BYTES. */
static uint32_t shard_count(uint64_t cap)
{
    uint32_t n = 1;
    while (n < SHARDS_MAX && cap / (n * 2) >= SHARD_MIN_BYTES)
        n *= 2;
    return n;
}

avatar_store_t *avatar_store_new(const server_config_t *cfg, char *err, size_t errlen)
{
    avatar_store_t *s = calloc(1, sizeof *s);
    uint32_t nshards = shard_count(cfg->cache_bytes);
    shard_t *shards = aligned_alloc(_Alignof(shard_t), nshards * sizeof *shards);
    if (!s || !shards) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memset(shards, 0, nshards * sizeof *shards);
    s->shards = shards;
    s->dirfd = s->inotify_w.fd = -1; /* for avatar_store_free on the way out */
    pthread_mutex_init(&s->large_lock, NULL);
    s->large_cap = cfg->cache_bytes;
    int r = siphash_key_random(&s->key);
    if (r != 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-r));
        goto fail;
    }
    for (uint32_t i = 0; i < nshards; i++) {
        shard_t *sh = &shards[i];
        sh->cap = cfg->cache_bytes / nshards;
        sh->neg_cap = sh->cap / NEG_SHARE;
        sh->nbuckets = 16;
        sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
        list_init(&sh->lru);
        list_init(&sh->neg);
        if (!sh->buckets) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        pthread_mutex_init(&sh->lock, NULL);
        s->nshards = i + 1; /* what avatar_store_free must undo */
    }
    s->dirfd = open(cfg->avatars, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(err, errlen, "cannot open avatar folder %s: %s", cfg->avatars, strerror(errno));
        goto fail;
    }
    snprintf(s->dir, sizeof s->dir, "%s", cfg->avatars);
    snprintf(s->default_name, sizeof s->default_name, "%s", cfg->default_avatar);
    s->max_age = cfg->max_age;
    s->deflt = load_file(s, s->default_name);
    if (s->deflt)
        s->deflt->is_default = true;
    struct stat st;
    if (!s->deflt && fstatat(s->dirfd, s->default_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        fprintf(stderr, "pixd: warning: default avatar %s/%s is a symlink, refused: unknown users get 404\n",
                s->dir, s->default_name);
    else if (!s->deflt)
        fprintf(stderr, "pixd: warning: default avatar %s/%s not found: unknown users get 404\n", s->dir,
                s->default_name);
    return s;
fail:
    if (s && s->shards)
        avatar_store_free(s);
    else {
        free(s);
        free(shards);
    }
    return NULL;
}

void avatar_store_free(avatar_store_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nshards; i++) {
        shard_t *sh = &s->shards[i];
        shard_empty(sh);
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    avatar_put(s->deflt);
    large_drop(s, NULL);
    pthread_mutex_destroy(&s->large_lock);
    if (s->inotify_w.fd >= 0)
        close(s->inotify_w.fd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->shards);
    free(s);
}

void avatar_store_stats(avatar_store_t *s, avatar_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < s->nshards; i++) {
        shard_t *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->hits += sh->hits;
        out->misses += sh->misses;
        out->evictions += sh->evictions;
        out->entries += sh->nentries;
        out->negative += sh->nneg;
        out->bytes += sh->bytes;
        pthread_mutex_unlock(&sh->lock);
    }
    pthread_mutex_lock(&s->large_lock);
    for (large_t *l = s->large; l; l = l->next)
        out->large_entries++;
    out->large_bytes = s->large_bytes;
    pthread_mutex_unlock(&s->large_lock);
    out->slow_loads = __atomic_load_n(&s->slow_loads, __ATOMIC_RELAXED);
}

uint64_t avatar_store_max_fds(const server_config_t *cfg)
{
    return 2 + cfg->cache_bytes / (ENTRY_OVERHEAD + 16 + sizeof(avatar_file_t) + SENDFILE_MIN);
}
