#include "server/variant.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/hashtab.h"
#include "core/list.h"
#include "core/siphash.h"
#include "server/pool.h"

#define ENTRY_OVERHEAD 192 /* an entry beyond its bytes: struct, key, file header, malloc */
#define CLIENT_BUCKETS 64

typedef struct flight flight_t;
typedef struct group group_t;

typedef struct entry {
    list_t lru; /* ready entries, in the cache's LRU order */
    struct entry *chain;
    struct entry *grp_prev, *grp_next; /* ready entries of the same group, most recent first */
    group_t *grp;
    avatar_file_t *file;               /* NULL while its flight is under way */
    flight_t *flight;
    uint64_t hash, cost;
    uint16_t klen, glen;
    char key[]; /* then, while pending, the group's name */
} entry_t;

struct group {
    group_t *chain;
    entry_t *head;
    uint64_t hash;
    unsigned count;
    uint16_t glen;
    char name[];
};

/* A client address (IPv4 as such, also when mapped into IPv6) and its renders under way. */
typedef struct client {
    struct client *chain;
    uint8_t addr[16], alen;
    unsigned renders;
} client_t;

typedef struct waiter {
    struct waiter *next;
    req_t *r;
    loop_t *loop;
    variant_cache_t *c;
    flight_t *f;        /* NULL once the flight has ended (under the cache lock) */
    bool gone;
    variant_serve_fn serve;
    unsigned flags;
    /* the outcome, for the waiter's own loop */
    avatar_file_t *file;
    int status;
    const char *reason;
} waiter_t;

struct flight {
    pool_job_t pj; /* first: the pool hands it back */
    variant_cache_t *c;
    entry_t *e;    /* pending in the table */
    client_t *client;
    const variant_ops_t *ops;
    void *spec;
    waiter_t *waiters;
    unsigned interested; /* waiters whose client is still there */
    avatar_file_t *out;
    int status;
    const char *reason;
};

struct variant_cache {
    pthread_mutex_t lock;
    siphash_key_t key;
    pool_t *pool;
    uint64_t cap, bytes;
    unsigned per_group, per_client;
    entry_t **buckets;
    uint32_t nbuckets, nentries;
    group_t **gbuckets;
    uint32_t ngbuckets, ngroups;
    client_t *clients[CLIENT_BUCKETS];
    list_t lru; /* ready entries, most recent first */
    variant_stats_t st;
};

static uint64_t hash_of(const variant_cache_t *c, const char *k, size_t n)
{
    return siphash24(&c->key, k, n);
}

static entry_t **find_slot(variant_cache_t *c, const char *k, size_t n, uint64_t h)
{
    entry_t **pp = &c->buckets[h & (c->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == n && memcmp((*pp)->key, k, n) == 0))
        pp = &(*pp)->chain;
    return pp;
}

static group_t **group_slot(variant_cache_t *c, const char *g, size_t n, uint64_t h)
{
    group_t **pp = &c->gbuckets[h & (c->ngbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->glen == n && memcmp((*pp)->name, g, n) == 0))
        pp = &(*pp)->chain;
    return pp;
}

/* ---- ready entries (callers hold the lock) -------------------------------------------- */

static entry_t *lru_entry(list_t *l)
{
    return LIST_ENTRY(l, entry_t, lru);
}

static void unlink_entry(variant_cache_t *c, entry_t *e)
{
    entry_t **pp = find_slot(c, e->key, e->klen, e->hash);
    *pp = e->chain;
    c->nentries--;
}

static void group_release(variant_cache_t *c, group_t *g)
{
    if (--g->count)
        return;
    group_t **pp = group_slot(c, g->name, g->glen, g->hash);
    *pp = g->chain;
    c->ngroups--;
    free(g);
}

static void group_unlink(entry_t *e)
{
    if (e->grp_prev)
        e->grp_prev->grp_next = e->grp_next;
    else
        e->grp->head = e->grp_next;
    if (e->grp_next)
        e->grp_next->grp_prev = e->grp_prev;
}

static void group_push(group_t *grp, entry_t *e)
{
    e->grp = grp;
    e->grp_prev = NULL;
    e->grp_next = grp->head;
    if (grp->head)
        grp->head->grp_prev = e;
    grp->head = e;
}

/* Removes a ready entry from everything and frees it. */
static void evict(variant_cache_t *c, entry_t *e)
{
    unlink_entry(c, e);
    list_unlink(&e->lru);
    group_unlink(e);
    group_release(c, e->grp);
    c->bytes -= e->cost;
    avatar_put(e->file);
    free(e);
}

static group_t *group_get(variant_cache_t *c, const char *g, size_t n)
{
    uint64_t h = hash_of(c, g, n);
    group_t **pp = group_slot(c, g, n, h);
    if (*pp)
        return *pp;
    group_t *grp = calloc(1, sizeof *grp + n);
    if (!grp)
        return NULL;
    grp->hash = h;
    grp->glen = (uint16_t)n;
    memcpy(grp->name, g, n);
    *pp = grp;
    if (++c->ngroups > c->ngbuckets)
        HASHTAB_GROW(c->gbuckets, c->ngbuckets, group_t);
    return grp;
}

/* Turns the pending entry e into a ready one holding f, making room first; frees e instead
 * when f cannot be kept. The group is looked up before any eviction, so it cannot vanish. */
static void keep(variant_cache_t *c, entry_t *e, const char *g, size_t glen, avatar_file_t *f)
{
    uint64_t cost = ENTRY_OVERHEAD + e->klen + f->len;
    group_t *grp = cost <= c->cap / 4 ? group_get(c, g, glen) : NULL;
    if (!grp) { /* one huge variant must not flush the cache */
        unlink_entry(c, e);
        free(e);
        return;
    }
    grp->count++; /* held while evicting below */
    while (grp->count > c->per_group) {
        entry_t *old = grp->head;
        while (old->grp_next)
            old = old->grp_next;
        evict(c, old);
        c->st.evictions++;
        c->st.group_evictions++;
    }
    while (c->bytes + cost > c->cap && !list_empty(&c->lru)) {
        evict(c, lru_entry(c->lru.prev));
        c->st.evictions++;
    }
    e->file = f;
    __atomic_add_fetch(&f->_refs, 1, __ATOMIC_RELAXED);
    e->flight = NULL;
    e->cost = cost;
    group_push(grp, e);
    list_push_front(&c->lru, &e->lru);
    c->bytes += cost;
}

/* ---- client addresses (callers hold the lock) ------------------------------------------ */

static void client_addr(const sock_addr_t *peer, uint8_t out[16], uint8_t *len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *len = 0;
    if (!peer)
        return;
    if (peer->addr.ss_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)&peer->addr)->sin_addr, 4);
        *len = 4;
    } else if (peer->addr.ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)&peer->addr)->sin6_addr.s6_addr;
        bool v4 = memcmp(a, mapped, sizeof mapped) == 0;
        memcpy(out, v4 ? a + 12 : a, v4 ? 4 : 16);
        *len = v4 ? 4 : 16;
    }
}

static client_t **client_slot(variant_cache_t *c, const uint8_t *a, uint8_t n)
{
    client_t **pp = &c->clients[siphash24(&c->key, a, n) % CLIENT_BUCKETS];
    while (*pp && !((*pp)->alen == n && memcmp((*pp)->addr, a, n) == 0))
        pp = &(*pp)->chain;
    return pp;
}

/* The client's record with one more render counted; NULL when it has per_client already
 * (*busy) or memory is short. Records exist only while renders do: at most one per flight. */
static client_t *client_take(variant_cache_t *c, const sock_addr_t *peer, bool *busy)
{
    uint8_t a[16], n;
    client_addr(peer, a, &n);
    client_t **pp = client_slot(c, a, n);
    client_t *cl = *pp;
    *busy = cl && c->per_client && cl->renders >= c->per_client;
    if (*busy)
        return NULL;
    if (!cl) {
        if (!(cl = calloc(1, sizeof *cl)))
            return NULL;
        memcpy(cl->addr, a, n);
        cl->alen = n;
        *pp = cl;
        c->st.clients++;
    }
    cl->renders++;
    return cl;
}

static void client_give(variant_cache_t *c, client_t *cl)
{
    if (--cl->renders)
        return;
    client_t **pp = client_slot(c, cl->addr, cl->alen);
    *pp = cl->chain;
    c->st.clients--;
    free(cl);
}

/* ---- flights --------------------------------------------------------------------------- */

static void answer(waiter_t *w)
{
    w->serve(w->r, w->file, w->status, w->reason, w->flags);
    free(w);
}

static void answer_posted(loop_t *loop, void *arg)
{
    answer(arg);
}

/* Ends a flight: keeps its variant, and answers every waiter on its own loop (here when it is
 * this one). Runs on the loop that submitted the flight. */
static void land(flight_t *f, loop_t *here)
{
    variant_cache_t *c = f->c;
    pthread_mutex_lock(&c->lock);
    if (f->out && c->cap) {
        keep(c, f->e, f->e->key + f->e->klen, f->e->glen, f->out);
    } else {
        unlink_entry(c, f->e);
        free(f->e);
    }
    if (!f->out)
        c->st.failed += f->pj.outcome == POOL_RAN;
    client_give(c, f->client);
    c->st.in_flight--;
    waiter_t *ws = f->waiters;
    for (waiter_t *w = ws; w; w = w->next)
        w->f = NULL; /* a cancel from now on finds nothing to do */
    pthread_mutex_unlock(&c->lock);

    for (waiter_t *w = ws, *next; w; w = next) {
        next = w->next;
        w->file = f->out;
        if (f->out)
            __atomic_add_fetch(&f->out->_refs, 1, __ATOMIC_RELAXED);
        w->status = f->status;
        w->reason = f->reason;
        if (w->loop == here)
            answer(w);
        else if (loop_post(w->loop, answer_posted, w) != 0)
            abort(); /* a dozen bytes: as the pool does */
    }
    avatar_put(f->out);
    f->ops->free(f->spec);
    free(f);
}

static void flight_run(pool_job_t *pj)
{
    flight_t *f = (flight_t *)pj;
    f->out = f->ops->render(f->spec, &f->status, &f->reason);
}

static void flight_done(loop_t *loop, void *arg)
{
    flight_t *f = arg;
    if (f->pj.outcome == POOL_DROPPED) {
        /* Every client had gone when the pool looked; one that came since still wants it. */
        pthread_mutex_lock(&f->c->lock);
        bool wanted = f->interested > 0;
        pthread_mutex_unlock(&f->c->lock);
        int e = wanted ? pool_submit(f->c->pool, &f->pj) : -ECANCELED;
        if (e == 0)
            return;
        f->status = 503;
        f->reason = e == -ECANCELED ? "client went away" : pool_refusal(e);
    } else if (f->pj.outcome == POOL_SHUTDOWN) {
        f->status = 503;
        f->reason = "server is shutting down";
    }
    land(f, loop);
}

static void waiter_cancel(void *arg)
{
    waiter_t *w = arg;
    variant_cache_t *c = w->c;
    pthread_mutex_lock(&c->lock);
    if (w->f && !w->gone) {
        w->gone = true;
        if (--w->f->interested == 0)
            pool_cancel(&w->f->pj);
    }
    pthread_mutex_unlock(&c->lock);
}

static waiter_t *waiter_new(variant_cache_t *c, req_t *r, variant_serve_fn serve, unsigned flags)
{
    waiter_t *w = calloc(1, sizeof *w);
    if (w)
        *w = (waiter_t){.r = r, .loop = r->wk->loop, .c = c, .serve = serve, .flags = flags};
    return w;
}

static void join(flight_t *f, waiter_t *w)
{
    w->f = f;
    w->next = f->waiters;
    f->waiters = w;
    f->interested++;
}

void variant_render(variant_cache_t *c, req_t *r, const char *key, size_t klen, const char *group, size_t glen,
                    const variant_ops_t *ops, void *spec, variant_serve_fn serve, unsigned flags)
{
    waiter_t *w = waiter_new(c, r, serve, flags);
    uint64_t h = hash_of(c, key, klen);
    pthread_mutex_lock(&c->lock);
    entry_t *e = w ? *find_slot(c, key, klen, h) : NULL;
    if (e && e->file) { /* made while this request was on its way here */
        avatar_file_t *f = e->file;
        __atomic_add_fetch(&f->_refs, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&c->lock);
        free(w);
        ops->free(spec);
        serve(r, f, 0, NULL, flags);
        return;
    }
    if (e) {
        join(e->flight, w);
        c->st.joined++;
        pthread_mutex_unlock(&c->lock);
        ops->free(spec);
        req_hold(r, waiter_cancel, w);
        return;
    }
    bool busy = false;
    client_t *cl = w ? client_take(c, r->peer, &busy) : NULL;
    flight_t *f = cl ? calloc(1, sizeof *f) : NULL;
    e = f ? calloc(1, sizeof *e + klen + glen) : NULL;
    if (!e) {
        c->st.refused += busy;
        if (cl)
            client_give(c, cl);
        pthread_mutex_unlock(&c->lock);
        free(f);
        free(w);
        ops->free(spec);
        if (busy)
            req_respond_error(r, 429, "too many renders in flight from this address");
        else
            req_respond_error(r, 503, "out of memory");
        return;
    }
    e->hash = h;
    e->klen = (uint16_t)klen;
    e->glen = (uint16_t)glen;
    memcpy(e->key, key, klen);
    memcpy(e->key + klen, group, glen);
    e->flight = f;
    *f = (flight_t){.pj = {.run = flight_run, .done = flight_done, .loop = r->wk->loop},
                    .c = c, .e = e, .client = cl, .ops = ops, .spec = spec};
    join(f, w);
    entry_t **slot = find_slot(c, key, klen, h);
    *slot = e;
    if (++c->nentries > c->nbuckets)
        HASHTAB_GROW(c->buckets, c->nbuckets, entry_t);
    c->st.renders++;
    c->st.in_flight++;
    pthread_mutex_unlock(&c->lock);

    req_hold(r, waiter_cancel, w);
    int err = pool_submit(c->pool, &f->pj);
    if (err != 0) { /* others may have joined meanwhile: all get the refusal */
        f->status = 503;
        f->reason = pool_refusal(err);
        land(f, r->wk->loop);
    }
}

avatar_file_t *variant_find(variant_cache_t *c, const char *key, size_t klen)
{
    uint64_t h = hash_of(c, key, klen);
    pthread_mutex_lock(&c->lock);
    entry_t *e = *find_slot(c, key, klen, h);
    avatar_file_t *f = e ? e->file : NULL;
    if (f) {
        __atomic_add_fetch(&f->_refs, 1, __ATOMIC_RELAXED);
        list_move_front(&c->lru, &e->lru); /* to the front, of the cache and of its group */
        group_unlink(e);
        group_push(e->grp, e);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return f;
}

void variant_drop_group(variant_cache_t *c, const char *group, size_t glen)
{
    pthread_mutex_lock(&c->lock);
    group_t *g = *group_slot(c, group, glen, hash_of(c, group, glen));
    while (g) { /* the last eviction frees the group */
        bool last = g->count == 1;
        evict(c, g->head);
        if (last)
            break;
    }
    pthread_mutex_unlock(&c->lock);
}

void variant_drop_all(variant_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    while (!list_empty(&c->lru))
        evict(c, lru_entry(c->lru.next));
    pthread_mutex_unlock(&c->lock);
}

variant_cache_t *variant_cache_new(uint64_t cap, unsigned per_group, unsigned per_client, pool_t *pool)
{
    variant_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = c->ngbuckets = 16;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    c->gbuckets = calloc(c->ngbuckets, sizeof *c->gbuckets);
    if (!c->buckets || !c->gbuckets || siphash_key_random(&c->key) != 0) {
        free(c->buckets);
        free(c->gbuckets);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->cap = cap;
    c->per_group = per_group ? per_group : 1;
    c->per_client = per_client;
    c->pool = pool;
    list_init(&c->lru);
    return c;
}

/* After the pool has drained and the loops have stopped: no flight is left. */
void variant_cache_free(variant_cache_t *c)
{
    if (!c)
        return;
    while (!list_empty(&c->lru))
        evict(c, lru_entry(c->lru.next));
    free(c->buckets);
    free(c->gbuckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void variant_cache_stats(variant_cache_t *c, variant_stats_t *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    out->entries = c->nentries - out->in_flight;
    out->bytes = c->bytes;
    out->groups = c->ngroups;
    /* A walk over the groups, at scrape time: nothing is kept up to date per request. */
    out->group_most = 0;
    for (uint32_t i = 0; i < c->ngbuckets; i++)
        for (const group_t *g = c->gbuckets[i]; g; g = g->chain)
            out->group_most = g->count > out->group_most ? g->count : out->group_most;
    pthread_mutex_unlock(&c->lock);
}
