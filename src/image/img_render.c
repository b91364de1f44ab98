/* render.h's decoding (the pipeline's sources in colour mode, then the EXIF orientation),
 * cropping, and resizing with libvips. Why libvips and how it is set up:
 * docs/decisions/008-resizing.md. */
#include "image/render.h"

#include "image/img_internal.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>
#include <vips/vector.h> /* vips_vector_set_enabled, not in vips.h */

/* ---- decoding ---- */

/* Where the pixels of a w x h source row go in the upright frame for EXIF orientation o:
 * pixel (x, y) lands at base + x * step_x + y * step_y, in pixels. Orientations 5..8 swap
 * the sides. */
typedef struct {
    ptrdiff_t base, step_x, step_y;
} orient_t;

static orient_t orient(unsigned o, uint32_t w, uint32_t h)
{
    ptrdiff_t uw = o >= 5 ? h : w, wm = (ptrdiff_t)w - 1, hm = (ptrdiff_t)h - 1; /* uw: upright width */
    switch (o) {
    case 2: /* mirrored left-right */
        return (orient_t){wm, -1, uw};
    case 3: /* turned 180 degrees */
        return (orient_t){hm * uw + wm, -1, -uw};
    case 4: /* mirrored top-bottom */
        return (orient_t){hm * uw, 1, -uw};
    case 5: /* transposed */
        return (orient_t){0, uw, 1};
    case 6: /* needs turning 90 degrees clockwise */
        return (orient_t){hm, uw, -1};
    case 7: /* transversed */
        return (orient_t){wm * uw + hm, -uw, -1};
    case 8: /* needs turning 90 degrees anticlockwise */
        return (orient_t){wm * uw, -uw, 1};
    default:
        return (orient_t){0, 1, uw};
    }
}

/* Pulls every row of `src` into a new upright frame. Upright sources decode straight into
 * it; others through a strip of rows that is then scattered into place. */
static img_status_t read_frame(img_source_t *src, img_pixels_t *out)
{
    uint32_t w = src->width, h = src->height;
    unsigned o = src->orientation >= 1 && src->orientation <= 8 ? src->orientation : 1;
    unsigned bands = img_pix_bytes(src->pix);
    size_t row_bytes = (size_t)w * bands;
    uint8_t *px = malloc(row_bytes * h);
    uint8_t *strip = o == 1 ? NULL : malloc(row_bytes * IMG_STRIP_ROWS);
    if (!px || (o != 1 && !strip)) {
        free(px);
        free(strip);
        return IMG_ERR_NOMEM;
    }
    orient_t m = orient(o, w, h);
    img_status_t st = IMG_OK;
    uint8_t *rows[IMG_STRIP_ROWS];
    for (uint32_t y = 0; y < h && st == IMG_OK; y += IMG_STRIP_ROWS) {
        unsigned n = h - y < IMG_STRIP_ROWS ? h - y : IMG_STRIP_ROWS;
        for (unsigned k = 0; k < n; k++)
            rows[k] = o == 1 ? px + (y + k) * row_bytes : strip + k * row_bytes;
        st = src->read_rows(src, rows, n);
        for (unsigned k = 0; k < n && o != 1 && st == IMG_OK; k++) {
            uint8_t *dst = px + (m.base + (ptrdiff_t)(y + k) * m.step_y) * (ptrdiff_t)bands;
            ptrdiff_t step = m.step_x * (ptrdiff_t)bands;
            for (uint32_t x = 0; x < w; x++, dst += step)
                memcpy(dst, rows[k] + (size_t)x * bands, bands);
        }
    }
    free(strip);
    if (st != IMG_OK) {
        free(px);
        return st;
    }
    *out =
        (img_pixels_t){.px = px, .width = o >= 5 ? h : w, .height = o >= 5 ? w : h, .bands = (uint8_t)bands};
    return IMG_OK;
}

img_status_t img_decode_pixels(const void *in, size_t len, const img_limits_t *lim, uint32_t min_side,
                               img_pixels_t *out, img_format_t *src_fmt)
{
    *out = (img_pixels_t){0};
    const img_mode_t mode = {.colour = 1, .min_side = min_side};
    img_source_t *src;
    img_status_t st = img_source_open_as(in, len, lim, &mode, &src);
    if (st != IMG_OK) return st;
    st = read_frame(src, out);
    src->destroy(src);
    if (st == IMG_OK && src_fmt) *src_fmt = img_sniff(in, len);
    return st;
}

img_status_t img_crop(img_pixels_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    if (!img_pixels_ok(p) || w == 0 || h == 0 || (uint64_t)x + w > p->width || (uint64_t)y + h > p->height)
        return IMG_ERR_ARGUMENT;
    size_t b = p->bands, from = (size_t)p->width * b, to = (size_t)w * b;
    /* each row moves to an address at or before where it was, so in order is safe */
    for (uint32_t r = 0; r < h; r++)
        memmove(p->px + r * to, p->px + (size_t)(y + r) * from + (size_t)x * b, to);
    p->width = w;
    p->height = h;
    uint8_t *smaller = realloc(p->px, to * h);
    if (smaller) p->px = smaller; /* else the bigger block serves as well */
    return IMG_OK;
}

/* ---- resizing (libvips) ---- */

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_ready;

/* libvips is only ever given pixels, never bytes to load; blocking its untrusted loaders
 * (ImageMagick, PDF, ...) is a second fence should that ever change. No operation cache:
 * every job is new pixels, and a cache would only keep them alive. Pipelines are pulled on
 * the caller's thread (pull()), so libvips starts no threads of its own; concurrency 1 holds
 * anything that would still use its thread pool to one worker. No run-time generated SIMD
 * code (orc): compiling it costs more than it saves at avatar sizes (008-resizing.md). */
static void vips_setup(void)
{
    if (VIPS_INIT("pixd") != 0) return;
    vips_block_untrusted_set(TRUE);
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_vector_set_enabled(FALSE);
    vips_ready = 1;
}

img_status_t img_render_init(void)
{
    return pthread_once(&vips_once, vips_setup) == 0 && vips_ready ? IMG_OK : IMG_ERR_INTERNAL;
}

/* Rows computed per vips_region_prepare: few enough that every operation's buffers stay in
 * cache, enough that the per-call overhead does not show (32 was fastest from 80 to 1024
 * pixels, 008-resizing.md). */
#define PULL_ROWS 32

/* Computes `im` (uchar, p's bands) on this thread, strip by strip, into a malloc'd frame. */
static uint8_t *pull(VipsImage *im)
{
    size_t row = VIPS_IMAGE_SIZEOF_LINE(im);
    VipsRegion *region = vips_region_new(im);
    uint8_t *px = region ? malloc(row * (size_t)im->Ysize) : NULL;
    for (int y = 0; px && y < im->Ysize; y += PULL_ROWS) {
        VipsRect strip = {0, y, im->Xsize, VIPS_MIN(PULL_ROWS, im->Ysize - y)};
        if (vips_region_prepare(region, &strip) != 0) {
            free(px);
            px = NULL;
            break;
        }
        for (int k = y; k < y + strip.height; k++)
            memcpy(px + row * (size_t)k, VIPS_REGION_ADDR(region, 0, k), row);
    }
    if (region) g_object_unref(region);
    return px;
}

/* Resizes the w x h box at (x, y) of `p` to out_w x out_h (Catmull-Rom, alpha premultiplied
 * meanwhile); the result replaces p's pixels. */
static img_status_t resize(img_pixels_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t out_w,
                           uint32_t out_h)
{
    if (p->width > VIPS_MAX_COORD || p->height > VIPS_MAX_COORD) return IMG_ERR_TOO_LARGE;
    if (img_render_init() != IMG_OK) return IMG_ERR_INTERNAL;
    /* each step's image, unreferenced at the end; `in` is the latest */
    enum { MEM, BOX, PREMUL, RESIZED, UNPREMUL, UCHAR, STEPS };
    VipsImage *t[STEPS] = {0}, *in;
    int alpha = p->bands == 4, fail;
    in = t[MEM] = vips_image_new_from_memory(p->px, (size_t)p->width * p->height * p->bands, (int)p->width,
                                             (int)p->height, p->bands, VIPS_FORMAT_UCHAR);
    fail = !in;
    if (!fail && (w != p->width || h != p->height))
        fail = vips_extract_area(in, &t[BOX], (int)x, (int)y, (int)w, (int)h, NULL) || !(in = t[BOX]);
    if (!fail && alpha) fail = vips_premultiply(in, &t[PREMUL], NULL) || !(in = t[PREMUL]);
    /* gap 4: reducing by up to 8 is one convolution; libvips' box pre-shrink, which "gap"
     * starts at, is slower than the convolution it saves below that (008-resizing.md) */
    if (!fail)
        fail = vips_resize(in, &t[RESIZED], (double)out_w / w, "vscale", (double)out_h / h, "kernel",
                           VIPS_KERNEL_CUBIC, "gap", 4.0, NULL) ||
               !(in = t[RESIZED]);
    if (!fail && alpha) fail = vips_unpremultiply(in, &t[UNPREMUL], NULL) || !(in = t[UNPREMUL]);
    if (!fail && in->BandFmt != VIPS_FORMAT_UCHAR)
        fail = vips_cast(in, &t[UCHAR], VIPS_FORMAT_UCHAR, NULL) || !(in = t[UCHAR]);
    uint8_t *px = NULL;
    if (!fail && in->Xsize == (int)out_w && in->Ysize == (int)out_h && in->Bands == p->bands) px = pull(in);
    for (int i = 0; i < STEPS; i++)
        if (t[i]) g_object_unref(t[i]);
    if (!px) vips_error_clear();
    /* what libvips keeps for this thread (buffers) would otherwise wait for the next job */
    vips_thread_shutdown();
    if (!px) return IMG_ERR_INTERNAL;
    free(p->px);
    *p = (img_pixels_t){.px = px, .width = out_w, .height = out_h, .bands = p->bands};
    return IMG_OK;
}

img_status_t img_square(img_pixels_t *p, uint32_t n)
{
    if (!img_pixels_ok(p) || n == 0) return IMG_ERR_ARGUMENT;
    if (n > IMG_RENDER_MAX_SIDE) return IMG_ERR_TOO_LARGE;
    /* the centre square first: resizing the whole picture to cover n x n and then cropping
     * (as vips_thumbnail_image's crop does) costs as much as the picture is long */
    uint32_t side = p->width < p->height ? p->width : p->height;
    uint32_t x = (p->width - side) / 2, y = (p->height - side) / 2;
    if (side == n) return img_crop(p, x, y, side, side);
    return resize(p, x, y, side, side, n, n);
}

img_status_t img_fit(img_pixels_t *p, uint32_t max_side)
{
    if (!img_pixels_ok(p) || max_side == 0) return IMG_ERR_ARGUMENT;
    uint32_t w = p->width, h = p->height, longer = w > h ? w : h;
    if (longer <= max_side) return IMG_OK;
    /* the longer side exactly max_side, the other in proportion, rounded, at least 1 */
    uint32_t out_w = w == longer ? max_side : (uint32_t)(((uint64_t)w * max_side + longer / 2) / longer);
    uint32_t out_h = h == longer ? max_side : (uint32_t)(((uint64_t)h * max_side + longer / 2) / longer);
    return resize(p, 0, 0, w, h, out_w ? out_w : 1, out_h ? out_h : 1);
}
