#include "load/latlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/errmsg.h"

struct latlog {
    FILE *f;
    char *path;
    char **names; /* escaped for the log */
    size_t nnames;
    uint64_t mono0;
    double wall0;
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    latlog_chunk_t *queue, *queue_tail; /* full chunks, oldest first */
    latlog_chunk_t *free_list;
    bool stopping;
    bool write_error;
    int write_errno;
    uint64_t lost; /* chunks that could not be had: records dropped */
    char *text;    /* the writer's formatting buffer */
};

/* A name with \t \n \r \\ escaped. */
static char *escape_name(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += strchr("\t\n\r\\", *p) ? 2 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '\t':
            *o++ = '\\', *o++ = 't';
            break;
        case '\n':
            *o++ = '\\', *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\', *o++ = 'r';
            break;
        case '\\':
            *o++ = '\\', *o++ = '\\';
            break;
        default:
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* Writes the chunk's lines. */
static void write_chunk(latlog_t *l, const latlog_chunk_t *c)
{
    size_t cap = 0;
    for (size_t i = 0; i < l->nnames; i++) {
        size_t len = strlen(l->names[i]);
        if (len > cap) cap = len;
    }
    /* per line: time (20) + latency (20) + name + status (6) + error (10) + tabs */
    size_t line_max = 64 + cap;
    size_t o = 0, room = 256 * 1024 > line_max * 4 ? 256 * 1024 : line_max * 4;
    char *buf = realloc(l->text, room);
    if (!buf) {
        l->write_error = true;
        l->write_errno = ENOMEM;
        return;
    }
    l->text = buf;
    for (size_t i = 0; i < c->n; i++) {
        const latlog_rec_t *r = &c->rec[i];
        if (room - o < line_max) {
            if (fwrite(buf, 1, o, l->f) != o && !l->write_error) {
                l->write_error = true;
                l->write_errno = errno;
            }
            o = 0;
        }
        int64_t rel = (int64_t)(r->start_ns - l->mono0);
        /* whole µs since the epoch: exact, no float formatting */
        int64_t us = (int64_t)(l->wall0 * 1e6 + 0.5) + rel / 1000;
        const char *name = r->stat < l->nnames ? l->names[r->stat] : "?";
        int k;
        if (r->latency_us == STATS_NO_LATENCY)
            k = snprintf(buf + o, room - o, "%lld.%06lld\t-\t%s\t%d\t%s\n", (long long)(us / 1000000),
                         (long long)(us % 1000000), name, r->status,
                         r->err < 0 ? "ok" : stats_err_name((stats_err_t)r->err));
        else
            k = snprintf(buf + o, room - o, "%lld.%06lld\t%llu\t%s\t%d\t%s\n", (long long)(us / 1000000),
                         (long long)(us % 1000000), (unsigned long long)r->latency_us, name, r->status,
                         r->err < 0 ? "ok" : stats_err_name((stats_err_t)r->err));
        if (k > 0) o += (size_t)k < room - o ? (size_t)k : room - o - 1;
    }
    if (o && fwrite(buf, 1, o, l->f) != o && !l->write_error) {
        l->write_error = true;
        l->write_errno = errno;
    }
}

static void *writer_main(void *arg)
{
    latlog_t *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->queue && !l->stopping)
            pthread_cond_wait(&l->cond, &l->lock);
        latlog_chunk_t *c = l->queue;
        if (!c) break; /* stopping, and nothing left */
        l->queue = c->next;
        if (!l->queue) l->queue_tail = NULL;
        pthread_mutex_unlock(&l->lock);
        write_chunk(l, c);
        c->n = 0;
        pthread_mutex_lock(&l->lock);
        c->next = l->free_list;
        l->free_list = c;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

latlog_t *latlog_open(const char *path, const char *const *names, size_t nnames, char *err, size_t errlen)
{
    latlog_t *l = calloc(1, sizeof *l);
    if (!l) {
        errmsg_set(err, errlen, "out of memory");
        return NULL;
    }
    l->f = fopen(path, "w");
    if (!l->f) {
        errmsg_set(err, errlen, "--latency-log: %s: %s", path, strerror(errno));
        free(l);
        return NULL;
    }
    l->path = strdup(path);
    l->names = calloc(nnames ? nnames : 1, sizeof *l->names);
    l->nnames = nnames;
    bool ok = l->path && l->names;
    for (size_t i = 0; ok && i < nnames; i++)
        ok = (l->names[i] = escape_name(names[i])) != NULL;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    if (ok) fputs("# pixload latency log: start_unix_s latency_us name status error (tab-separated)\n", l->f);
    if (!ok || pthread_create(&l->writer, NULL, writer_main, l) != 0) {
        errmsg_set(err, errlen, "--latency-log: out of memory");
        fclose(l->f);
        for (size_t i = 0; l->names && i < nnames; i++)
            free(l->names[i]);
        free(l->names);
        free(l->path);
        free(l);
        return NULL;
    }
    return l;
}

void latlog_set_clock(latlog_t *l, uint64_t mono_ns, double wall_s)
{
    l->mono0 = mono_ns;
    l->wall0 = wall_s;
}

/* A chunk from the free list, or a new one. Under no lock: takes it. */
static latlog_chunk_t *get_chunk(latlog_t *l)
{
    pthread_mutex_lock(&l->lock);
    latlog_chunk_t *c = l->free_list;
    if (c) l->free_list = c->next;
    pthread_mutex_unlock(&l->lock);
    if (!c) c = malloc(sizeof *c);
    if (c) {
        c->n = 0;
        c->next = NULL;
    }
    return c;
}

static void hand_over(latlog_t *l, latlog_chunk_t *c)
{
    pthread_mutex_lock(&l->lock);
    c->next = NULL;
    if (l->queue_tail)
        l->queue_tail->next = c;
    else
        l->queue = c;
    l->queue_tail = c;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

int latlog_thread_init(latlog_thread_t *t, latlog_t *l)
{
    t->log = l;
    t->cur = l ? get_chunk(l) : NULL;
    return !l || t->cur ? 0 : -1;
}

void latlog__swap(latlog_thread_t *t)
{
    latlog_t *l = t->log;
    hand_over(l, t->cur);
    t->cur = get_chunk(l);
    if (!t->cur) {
        pthread_mutex_lock(&l->lock);
        l->lost++;
        pthread_mutex_unlock(&l->lock);
    }
}

void latlog_thread_done(latlog_thread_t *t)
{
    if (t->log && t->cur) {
        if (t->cur->n)
            hand_over(t->log, t->cur);
        else
            free(t->cur);
    }
    t->cur = NULL;
}

int latlog_close(latlog_t *l, char *err, size_t errlen)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->writer, NULL);
    int rc = 0;
    if (fflush(l->f) != 0 && !l->write_error) {
        l->write_error = true;
        l->write_errno = errno;
    }
    if (fclose(l->f) != 0 && !l->write_error) {
        l->write_error = true;
        l->write_errno = errno;
    }
    if (l->write_error)
        rc = errmsg_set(err, errlen, "--latency-log: %s: %s", l->path, strerror(l->write_errno));
    else if (l->lost)
        rc = errmsg_set(err, errlen, "--latency-log: %s: out of memory, samples were lost", l->path);
    while (l->free_list) {
        latlog_chunk_t *c = l->free_list;
        l->free_list = c->next;
        free(c);
    }
    for (size_t i = 0; i < l->nnames; i++)
        free(l->names[i]);
    free(l->names);
    free(l->path);
    free(l->text);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
    return rc;
}
