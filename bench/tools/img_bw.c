/* img_bw IN OUT.jpg [--bitmap OUT.pgm] [--max-pixels N]
 * Runs pixd's image pipeline on a file: OUT.jpg is what pixd would answer, OUT.pgm the 1-bit
 * bitmap before encoding (0/255, binary PGM). Used by the Pillow conformance tests.
 * Exit status: 0 ok, 1 usage or I/O error, 2 + img_status_t on a pipeline error. */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_file(const char *path, const char *head, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fputs(head, f) >= 0 && fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL, *pgm_path = NULL;
    img_limits_t lim = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bitmap") == 0 && i + 1 < argc)
            pgm_path = argv[++i];
        else if (strcmp(argv[i], "--max-pixels") == 0 && i + 1 < argc)
            lim.max_pixels = strtoull(argv[++i], NULL, 10);
        else if (!in_path)
            in_path = argv[i];
        else if (!out_path)
            out_path = argv[i];
        else
            in_path = NULL, i = argc;
    }
    if (!in_path || !out_path) {
        fprintf(stderr, "usage: %s IN OUT.jpg [--bitmap OUT.pgm] [--max-pixels N]\n", argv[0]);
        return 1;
    }
    size_t len;
    uint8_t *in = read_file(in_path, &len);
    if (!in) {
        perror(in_path);
        return 1;
    }
    uint8_t *out;
    size_t out_len;
    img_status_t st = img_bw_jpeg(in, len, &lim, &out, &out_len);
    if (st == IMG_OK) {
        if (write_file(out_path, "", out, out_len) != 0) {
            perror(out_path);
            return 1;
        }
        free(out);
    }
    if (st == IMG_OK && pgm_path) {
        uint32_t w, h;
        st = img_bw_bitmap(in, len, &lim, &out, &w, &h);
        char head[64];
        snprintf(head, sizeof head, "P5\n%u %u\n255\n", w, h);
        if (st == IMG_OK && write_file(pgm_path, head, out, (size_t)w * h) != 0) {
            perror(pgm_path);
            return 1;
        }
        free(out);
    }
    free(in);
    if (st != IMG_OK) {
        fprintf(stderr, "%s: %s\n", in_path, img_status_str(st));
        return 2 + (int)st;
    }
    return 0;
}
