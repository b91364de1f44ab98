/* bench_pipeline FILE [-n ITERATIONS] [--stages]
 * Times pixd's image pipeline (decode -> convert('1') -> JPEG) on one file, in process, on
 * the calling thread: the work one /magic request does. Prints one line
 *     pipeline_ms=0.6512 cpu_ms=0.6498 images_per_s=1535.6 iterations=2000 size=299x168
 * (wall time and this process's CPU time per image; on a shared machine cpu_ms leaves out the
 * time other processes had the core) and with --stages the split, each stage timed alone
 * over the same iterations (CPU time):
 *     decode_ms=...  dither_ms=... (decode+dither minus decode)  encode_ms=...
 * Input is read once; every iteration decodes from memory like a request body. */
#include "image/image.h"
#include "image/img_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

static void fail(const char *what, img_status_t st)
{
    fprintf(stderr, "bench_pipeline: %s: %s\n", what, img_status_str(st));
    exit(1);
}

/* Decoding alone: every row pulled out of the source and dropped. */
static img_status_t decode_only(const uint8_t *in, size_t len)
{
    img_source_t *src;
    img_status_t st = img_source_open(in, len, NULL, &src);
    if (st != IMG_OK) return st;
    size_t row = (size_t)src->width * img_pix_bytes(src->pix);
    uint8_t *buf = malloc(row * IMG_STRIP_ROWS);
    uint8_t *rows[IMG_STRIP_ROWS];
    for (unsigned k = 0; k < IMG_STRIP_ROWS; k++)
        rows[k] = buf + k * row;
    for (uint32_t y = 0; buf && st == IMG_OK && y < src->height; y += IMG_STRIP_ROWS) {
        unsigned n = src->height - y < IMG_STRIP_ROWS ? src->height - y : IMG_STRIP_ROWS;
        st = src->read_rows(src, rows, n);
    }
    free(buf);
    src->destroy(src);
    return st;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long iters = 1000;
    int stages = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            iters = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--stages") == 0)
            stages = 1;
        else
            path = argv[i];
    }
    size_t len;
    uint8_t *in = path ? read_file(path, &len) : NULL;
    if (!in || iters < 1) {
        fprintf(stderr, "usage: bench_pipeline FILE [-n ITERATIONS] [--stages]\n");
        return 1;
    }
    uint8_t *out, *bitmap;
    size_t out_len;
    uint32_t w, h;
    img_status_t st = img_bw_bitmap(in, len, NULL, &bitmap, &w, &h); /* warm-up, and size */
    if (st != IMG_OK) fail(path, st);

    double wall = clock_ms(CLOCK_MONOTONIC), cpu = now_ms();
    for (long i = 0; i < iters; i++) {
        if ((st = img_bw_jpeg(in, len, NULL, &out, &out_len)) != IMG_OK) fail("pipeline", st);
        free(out);
    }
    cpu = (now_ms() - cpu) / iters;
    wall = (clock_ms(CLOCK_MONOTONIC) - wall) / iters;
    printf("pipeline_ms=%.4f cpu_ms=%.4f images_per_s=%.1f iterations=%ld size=%ux%u\n", wall, cpu,
           1e3 / wall, iters, w, h);

    if (stages) {
        double decode = now_ms();
        for (long i = 0; i < iters; i++)
            if ((st = decode_only(in, len)) != IMG_OK) fail("decode", st);
        decode = (now_ms() - decode) / iters;
        double dither = now_ms();
        for (long i = 0; i < iters; i++) {
            uint8_t *b;
            if ((st = img_bw_bitmap(in, len, NULL, &b, &w, &h)) != IMG_OK) fail("dither", st);
            free(b);
        }
        dither = (now_ms() - dither) / iters - decode;
        double encode = now_ms();
        for (long i = 0; i < iters; i++) {
            if ((st = img_gray_jpeg(bitmap, w, h, NULL, 0, &out, &out_len)) != IMG_OK) fail("encode", st);
            free(out);
        }
        encode = (now_ms() - encode) / iters;
        printf("decode_ms=%.4f dither_ms=%.4f encode_ms=%.4f\n", decode, dither, encode);
    }
    free(bitmap);
    free(in);
    return 0;
}
