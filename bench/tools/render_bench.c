/* render_bench FILE SIZE FORMAT ITERATIONS [QUALITY]
 * Times pixd's avatar render of FILE: decode (scaled to at least SIZE when the format allows),
 * centre square SIZE x SIZE, encode as FORMAT (jpeg, png, webp, avif) at QUALITY (0 or
 * absent: the format's default), ITERATIONS times in a row after one untimed render (which
 * warms the caches and the allocator). Prints one line:
 *   render_bench ns_per_render=N cpu_ns_per_render=N renders_per_s=N decode_ns=N resize_ns=N encode_ns=N
 * bytes=N (wall and process CPU time per render; the phases are wall time). Used by
 * bench/render_vs_pillow.sh. Exit status: 0 ok, 1 usage or I/O error, 2 a render failed. */
#include "image/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)end)))
            n = fread(buf, 1, (size_t)end, f);
        if (buf && n != (size_t)end) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static uint64_t ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One render; adds each phase's wall time to phase[0..2]. */
static img_status_t render(const uint8_t *in, size_t len, uint32_t size, img_format_t fmt, int quality,
                           uint64_t phase[3], size_t *out_len)
{
    img_pixels_t p;
    uint8_t *out;
    uint64_t t0 = ns(CLOCK_MONOTONIC);
    img_status_t st = img_decode_pixels(in, len, NULL, size, &p, NULL);
    if (st != IMG_OK) return st;
    uint64_t t1 = ns(CLOCK_MONOTONIC);
    st = img_square(&p, size);
    uint64_t t2 = ns(CLOCK_MONOTONIC);
    if (st == IMG_OK) st = img_encode(&p, fmt, quality, &out, out_len);
    uint64_t t3 = ns(CLOCK_MONOTONIC);
    img_pixels_free(&p);
    if (st != IMG_OK) return st;
    free(out);
    phase[0] += t1 - t0, phase[1] += t2 - t1, phase[2] += t3 - t2;
    return IMG_OK;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        img_format_t fmt;
    } formats[] = {
        {"jpeg", IMG_FMT_JPEG}, {"png", IMG_FMT_PNG}, {"webp", IMG_FMT_WEBP}, {"avif", IMG_FMT_AVIF}};
    img_format_t fmt = IMG_FMT_UNKNOWN;
    for (size_t i = 0; argc >= 5 && i < sizeof formats / sizeof *formats; i++)
        if (strcmp(argv[3], formats[i].name) == 0) fmt = formats[i].fmt;
    long size = argc >= 5 ? strtol(argv[2], NULL, 10) : 0,
         iterations = argc >= 5 ? strtol(argv[4], NULL, 10) : 0;
    int quality = argc >= 6 ? atoi(argv[5]) : 0;
    if (fmt == IMG_FMT_UNKNOWN || size <= 0 || size > (long)IMG_RENDER_MAX_SIDE || iterations <= 0) {
        fprintf(stderr, "usage: %s FILE SIZE jpeg|png|webp|avif ITERATIONS [QUALITY]\n", argv[0]);
        return 1;
    }
    size_t len, out_len = 0;
    uint8_t *in = read_file(argv[1], &len);
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    uint64_t phase[3] = {0};
    img_status_t st = render(in, len, (uint32_t)size, fmt, quality, phase, &out_len);
    memset(phase, 0, sizeof phase);
    uint64_t wall0 = ns(CLOCK_MONOTONIC), cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < iterations && st == IMG_OK; i++)
        st = render(in, len, (uint32_t)size, fmt, quality, phase, &out_len);
    uint64_t wall = ns(CLOCK_MONOTONIC) - wall0, cpu = ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    free(in);
    if (st != IMG_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], img_status_str(st));
        return 2;
    }
    uint64_t n = (uint64_t)iterations;
    printf("render_bench ns_per_render=%llu cpu_ns_per_render=%llu renders_per_s=%.0f decode_ns=%llu "
           "resize_ns=%llu "
           "encode_ns=%llu bytes=%zu\n",
           (unsigned long long)(wall / n), (unsigned long long)(cpu / n), 1e9 * (double)n / (double)wall,
           (unsigned long long)(phase[0] / n), (unsigned long long)(phase[1] / n),
           (unsigned long long)(phase[2] / n), out_len);
    return 0;
}
