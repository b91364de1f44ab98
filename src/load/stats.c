#include "load/stats.h"

#include <stdlib.h>
#include <string.h>

static void entry_reset(stats_entry_t *e)
{
    memset(e, 0, sizeof *e);
    hist_reset(&e->latency);
}

int stats_init(stats_t *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->entries = malloc((n ? n : 1) * sizeof *s->entries);
    if (!s->entries) return -1;
    s->n = n;
    stats_reset(s);
    return 0;
}

void stats_free(stats_t *s)
{
    free(s->entries);
    memset(s, 0, sizeof *s);
}

void stats_reset(stats_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_reset(&s->entries[i]);
    s->bytes_read = s->bytes_written = s->connects = 0;
    hist_reset(&s->req_rate);
    hist_reset(&s->send_late);
}

void stats_entry_merge(stats_entry_t *dst, const stats_entry_t *src)
{
    dst->requests += src->requests;
    dst->failures += src->failures;
    dst->content_bytes += src->content_bytes;
    for (int k = 0; k < STATS_ERR_KINDS; k++)
        dst->errors[k] += src->errors[k];
    for (unsigned i = 0; i < STATS_STATUS_SLOTS; i++) {
        dst->status[i] += src->status[i];
        dst->status_failed[i] += src->status_failed[i];
    }
    hist_merge(&dst->latency, &src->latency);
}

void stats_merge(stats_t *dst, const stats_t *src)
{
    for (size_t i = 0; i < dst->n && i < src->n; i++)
        stats_entry_merge(&dst->entries[i], &src->entries[i]);
    dst->bytes_read += src->bytes_read;
    dst->bytes_written += src->bytes_written;
    dst->connects += src->connects;
    hist_merge(&dst->req_rate, &src->req_rate);
    hist_merge(&dst->send_late, &src->send_late);
}

void stats_sub(stats_t *dst, const stats_t *older)
{
    for (size_t i = 0; i < dst->n && i < older->n; i++) {
        stats_entry_t *d = &dst->entries[i];
        const stats_entry_t *o = &older->entries[i];
        d->requests -= o->requests;
        d->failures -= o->failures;
        d->content_bytes -= o->content_bytes;
        for (int k = 0; k < STATS_ERR_KINDS; k++)
            d->errors[k] -= o->errors[k];
        for (unsigned k = 0; k < STATS_STATUS_SLOTS; k++) {
            d->status[k] -= o->status[k];
            d->status_failed[k] -= o->status_failed[k];
        }
        hist_sub(&d->latency, &d->latency, &o->latency);
    }
    dst->bytes_read -= older->bytes_read;
    dst->bytes_written -= older->bytes_written;
    dst->connects -= older->connects;
    hist_sub(&dst->send_late, &dst->send_late, &older->send_late);
}

void stats_copy(stats_t *dst, const stats_t *src)
{
    size_t n = dst->n < src->n ? dst->n : src->n;
    memcpy(dst->entries, src->entries, n * sizeof *dst->entries);
    dst->bytes_read = src->bytes_read;
    dst->bytes_written = src->bytes_written;
    dst->connects = src->connects;
    dst->req_rate = src->req_rate;
    dst->send_late = src->send_late;
}

void stats_aggregate(const stats_t *s, stats_entry_t *out)
{
    entry_reset(out);
    for (size_t i = 0; i < s->n; i++)
        stats_entry_merge(out, &s->entries[i]);
}

const char *stats_err_name(stats_err_t err)
{
    static const char *const names[STATS_ERR_KINDS] = {"connect", "read",   "write",    "timeout",
                                                       "tls",     "status", "min-bytes", "refused", "body"};
    return err >= 0 && err < STATS_ERR_KINDS ? names[err] : "ok";
}
