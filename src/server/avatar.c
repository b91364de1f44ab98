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

#include "http/date.h"
#include "image/image.h"

#define AVATAR_FILE_MAX (32u << 20) /* larger files are refused, not served */
#define ENTRY_OVERHEAD 160          /* what an entry costs beyond its file, for the byte bound */
#define UNWATCHED_TTL_MS 1000       /* without inotify, re-read files this often */
#define SENDFILE_MIN 16384          /* from this size the kernel copy is worth avoiding (lwan's cut) */

static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".webp"};

typedef struct entry {
    struct entry *chain;            /* hash bucket */
    struct entry *lru_prev, *lru_next;
    avatar_file_t *file;            /* NULL: the user has no file, serve the default */
    uint64_t cost;
    uint64_t loaded_ms;
    uint32_t hash;
    uint8_t klen;
    char key[AVATAR_UID_MAX];
} entry_t;

struct avatar_store {
    pthread_mutex_t lock;
    int dirfd;
    char dir[4096];
    char default_name[256];
    int max_age;
    uint64_t cap, bytes;
    uint64_t gen;                   /* bumped by every invalidation: stale loads are not cached */
    entry_t **buckets;
    uint32_t nbuckets, nentries;
    entry_t lru;                    /* sentinel: lru.lru_next is the most recent */
    avatar_file_t *deflt;
    bool watching;
    loop_watch_t inotify_w;
    uint64_t hits, misses;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t hash_key(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
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

/* Reads name from the folder. Returns NULL when it does not exist or cannot be served. */
static avatar_file_t *load_file(avatar_store_t *s, const char *name)
{
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    avatar_file_t *f = NULL;
    uint8_t *body = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AVATAR_FILE_MAX)
        goto out;
    body = malloc(st.st_size ? (size_t)st.st_size : 1);
    f = calloc(1, sizeof *f);
    if (!body || !f)
        goto fail;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, body + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* truncated under us: serve what is there; inotify reloads it */
        got += (size_t)n;
    }
    f->_refs = 1;
    f->body = body;
    f->len = got;
    f->fd = -1;
    f->mtime = st.st_mtim.tv_sec;

    /* A strong validator from the bytes themselves (FNV-1a 64), not from mtime and size,
     * which a same-second, same-size replacement would not change. */
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < got; i++)
        h = (h ^ body[i]) * 1099511628211ull;
    f->etag_len = (size_t)snprintf(f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long)h);

    char date[HTTP_DATE_LEN + 1];
    http_date_format(f->mtime, date);
    const char *mime = img_format_mime(img_sniff(body, got));
    int ct = snprintf(f->hdrs, sizeof f->hdrs, "Content-Type: %s\r\n", mime);
    int rest = snprintf(f->hdrs + ct, sizeof f->hdrs - (size_t)ct,
                        "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: public, max-age=%d\r\n", f->etag,
                        date, s->max_age);
    f->ct_len = (size_t)ct;
    f->hdrs_len = (size_t)(ct + rest);
    if (got >= SENDFILE_MIN)
        to_memfd(f);
    goto out;
fail:
    free(body);
    free(f);
    f = NULL;
out:
    close(fd);
    return f;
}

static avatar_file_t *load_uid(avatar_store_t *s, const char *uid, size_t n)
{
    char name[AVATAR_UID_MAX + 8];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(name, sizeof name, "%.*s%s", (int)n, uid, exts[i]);
        avatar_file_t *f = load_file(s, name);
        if (f)
            return f;
    }
    return NULL;
}

/* ---- the cache (callers hold s->lock) -------------------------------------------------- */

static void lru_unlink(entry_t *e)
{
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
}

static void lru_push(avatar_store_t *s, entry_t *e)
{
    e->lru_next = s->lru.lru_next;
    e->lru_prev = &s->lru;
    s->lru.lru_next->lru_prev = e;
    s->lru.lru_next = e;
}

static entry_t **find_slot(avatar_store_t *s, const char *k, size_t n, uint32_t h)
{
    entry_t **pp = &s->buckets[h & (s->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == n && memcmp((*pp)->key, k, n) == 0))
        pp = &(*pp)->chain;
    return pp;
}

static void entry_remove(avatar_store_t *s, entry_t *e)
{
    entry_t **pp = find_slot(s, e->key, e->klen, e->hash);
    *pp = e->chain;
    lru_unlink(e);
    s->bytes -= e->cost;
    s->nentries--;
    avatar_put(e->file);
    free(e);
}

static void grow(avatar_store_t *s)
{
    uint32_t n = s->nbuckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (uint32_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e) {
            entry_t *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void insert(avatar_store_t *s, const char *k, size_t n, uint32_t h, avatar_file_t *f)
{
    uint64_t cost = ENTRY_OVERHEAD + (f ? f->len : 0);
    if (cost > s->cap / 4) /* one huge file must not flush the whole cache */
        return;
    entry_t **slot = find_slot(s, k, n, h);
    if (*slot)
        return; /* another thread loaded it meanwhile */
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    memcpy(e->key, k, n);
    e->klen = (uint8_t)n;
    e->hash = h;
    e->file = file_ref(f);
    e->cost = cost;
    e->loaded_ms = now_ms();
    *slot = e;
    lru_push(s, e);
    s->bytes += cost;
    s->nentries++;
    while (s->bytes > s->cap && s->lru.lru_prev != e)
        entry_remove(s, s->lru.lru_prev);
    if (s->nentries > s->nbuckets)
        grow(s);
}

avatar_file_t *avatar_get(avatar_store_t *s, const char *uid, size_t n)
{
    uint32_t h = hash_key(uid, n);
    pthread_mutex_lock(&s->lock);
    entry_t *e = *find_slot(s, uid, n, h);
    if (e && !s->watching && now_ms() - e->loaded_ms > UNWATCHED_TTL_MS) {
        entry_remove(s, e);
        e = NULL;
    }
    if (e) {
        s->hits++;
        lru_unlink(e);
        lru_push(s, e);
        avatar_file_t *f = file_ref(e->file ? e->file : s->deflt);
        pthread_mutex_unlock(&s->lock);
        return f;
    }
    s->misses++;
    uint64_t gen = s->gen;
    pthread_mutex_unlock(&s->lock);

    /* Disk reads happen outside the lock; a change seen meanwhile (gen moved) means what
     * was read may be stale, so it is served once but not cached. */
    avatar_file_t *f = load_uid(s, uid, n);
    pthread_mutex_lock(&s->lock);
    if (gen == s->gen && s->cap)
        insert(s, uid, n, h, f);
    avatar_file_t *out = f ? f : file_ref(s->deflt);
    pthread_mutex_unlock(&s->lock);
    return out;
}

/* ---- invalidation -------------------------------------------------------------------- */

static void drop_all(avatar_store_t *s)
{
    while (s->lru.lru_next != &s->lru)
        entry_remove(s, s->lru.lru_next);
}

static void reload_default(avatar_store_t *s)
{
    avatar_file_t *f = load_file(s, s->default_name);
    pthread_mutex_lock(&s->lock);
    avatar_file_t *old = s->deflt;
    s->deflt = f;
    s->gen++;
    pthread_mutex_unlock(&s->lock);
    avatar_put(old);
}

/* A name in the folder changed: forget the user it belongs to. */
static void invalidate_name(avatar_store_t *s, const char *name)
{
    if (strcmp(name, s->default_name) == 0)
        reload_default(s);
    const char *dot = strrchr(name, '.');
    if (!dot)
        return;
    size_t n = (size_t)(dot - name);
    if (!avatar_uid_valid(name, n))
        return;
    pthread_mutex_lock(&s->lock);
    s->gen++;
    entry_t *e = *find_slot(s, name, n, hash_key(name, n));
    if (e)
        entry_remove(s, e);
    pthread_mutex_unlock(&s->lock);
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
                pthread_mutex_lock(&s->lock);
                drop_all(s);
                pthread_mutex_unlock(&s->lock);
            } else if (ev->len) {
                invalidate_name(s, ev->name);
            }
        }
    }
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
    pthread_mutex_lock(&s->lock);
    s->watching = true;
    drop_all(s); /* anything read before the watch started could already be stale */
    pthread_mutex_unlock(&s->lock);
    reload_default(s);
    return 0;
}

avatar_store_t *avatar_store_new(const server_config_t *cfg, char *err, size_t errlen)
{
    avatar_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->dirfd = open(cfg->avatars, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(err, errlen, "cannot open avatar folder %s: %s", cfg->avatars, strerror(errno));
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->dir, sizeof s->dir, "%s", cfg->avatars);
    snprintf(s->default_name, sizeof s->default_name, "%s", cfg->default_avatar);
    s->max_age = cfg->max_age;
    s->cap = cfg->cache_bytes;
    s->nbuckets = 256;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    s->lru.lru_next = s->lru.lru_prev = &s->lru;
    s->inotify_w.fd = -1;
    s->deflt = load_file(s, s->default_name);
    if (!s->deflt)
        fprintf(stderr, "pixd: warning: default avatar %s/%s not found: unknown users get 404\n", s->dir,
                s->default_name);
    return s;
}

void avatar_store_free(avatar_store_t *s)
{
    if (!s)
        return;
    drop_all(s);
    avatar_put(s->deflt);
    if (s->inotify_w.fd >= 0)
        close(s->inotify_w.fd);
    close(s->dirfd);
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void avatar_store_stats(avatar_store_t *s, avatar_stats_t *out)
{
    pthread_mutex_lock(&s->lock);
    out->hits = s->hits;
    out->misses = s->misses;
    out->entries = s->nentries;
    out->bytes = s->bytes;
    pthread_mutex_unlock(&s->lock);
}
