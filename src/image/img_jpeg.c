/* JPEG in and out through libjpeg-turbo, set up the way Pillow 9.4 sets it up.
 *
 * Decoding (Pillow's JpegDecode.c): default decompression parameters (JDCT_ISLOW, fancy
 * upsampling), output JCS_GRAYSCALE for 1 component (mode L), JCS_EXT_RGBX for 3 (mode RGB;
 * Pillow asks libjpeg-turbo for RGBX too) and JCS_CMYK for 4 (mode CMYK, read as Adobe's
 * inverted "CMYK;I", which convert() turns into RGB with cmyk2rgb). Pillow's data source
 * suspends when the data runs out and then fails with "image file is truncated"; ours
 * suspends the same way over the whole buffer, so whatever would make Pillow wait for more
 * data is IMG_ERR_CORRUPT, while a missing EOI after the last scanline is accepted as in
 * Pillow. Warnings are ignored (Pillow's output_message is empty); errors longjmp out.
 *
 * Colour mode (img_decode_pixels) uses the same source with RGB output (gray and CMYK
 * expanded), optional DCT scaling, and the EXIF orientation from the first Exif APP1.
 *
 * Encoding (Pillow's JpegEncode.c with save()'s defaults): grayscale input, jpeg_set_defaults
 * (quality 75, JFIF 1.01 with 1:1 density, Huffman tables not optimized), then the comment as
 * a COM marker right after the JFIF header. The RGB encoder of img_encode shares it, with its
 * own quality and optimized Huffman tables. */
#include "image/img_internal.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* IMG_JPEG_MAX_SCANS: a hostile file can declare hundreds of scans in a few bytes each, and
 * every scan is a pass over the whole coefficient buffer, so the time is scans x pixels (490
 * scans took 2.5 s). Encoders write about ten: jpeg_simple_progression 10 (6 for gray), a
 * sequential file one per component. libjpeg-turbo's tools stop at 500 (-maxscans), which
 * still costs seconds; 100 is ten times what encoders write and bounds the work to about a
 * fifth of that. The scans are counted in the data before anything is decoded (count_scans),
 * and the progress monitor checks the same bound as a backstop. Pillow has no limit: a
 * deliberate difference, and it can only refuse a file. */
_Static_assert(IMG_JPEG_MAX_SCANS >= 10, "real progressive files must pass");

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    img_status_t status; /* what a longjmp means when it is not a libjpeg error */
} jerr_t;

static void jerr_exit(j_common_ptr cinfo)
{
    longjmp(((jerr_t *)cinfo->err)->jmp, 1);
}

static void jerr_silent(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jerr_init(jerr_t *e)
{
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jerr_exit;
    e->pub.output_message = jerr_silent;
    e->status = IMG_OK;
}

/* What a libjpeg error means for the caller. */
static img_status_t jerr_status(const jerr_t *e)
{
    if (e->status != IMG_OK) return e->status;
    switch (e->pub.msg_code) {
    case JERR_OUT_OF_MEMORY:
        return IMG_ERR_NOMEM;
    case JERR_NO_BACKING_STORE: /* its virtual arrays would pass max_memory_to_use */
        return IMG_ERR_MEMORY;
    case JERR_BAD_PRECISION: /* 12-bit: Pillow refuses "cannot handle 12-bit layers" */
        return IMG_ERR_UNSUPPORTED;
    default:
        return IMG_ERR_CORRUPT;
    }
}

/* ---- decoding ---- */

typedef struct {
    img_source_t base;
    struct jpeg_decompress_struct cinfo;
    jerr_t jerr;
    struct jpeg_source_mgr src;
    struct jpeg_progress_mgr progress;
    int cmyk;
    uint8_t *cmyk_row;
} jpeg_src_t;

/* Suspends: all data is already there, so running out means the file is truncated. */
static boolean src_fill(j_decompress_ptr cinfo)
{
    (void)cinfo;
    return FALSE;
}

static void src_skip(j_decompress_ptr cinfo, long n)
{
    struct jpeg_source_mgr *src = cinfo->src;
    if (n <= 0) return;
    size_t skip = (size_t)n < src->bytes_in_buffer ? (size_t)n : src->bytes_in_buffer;
    src->next_input_byte += skip;
    src->bytes_in_buffer -= skip;
}

static void src_noop(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

/* Called before each step of input, so before a scan past the bound is decoded. */
static void progress_scans(j_common_ptr cinfo)
{
    if (((j_decompress_ptr)cinfo)->input_scan_number > IMG_JPEG_MAX_SCANS) {
        ((jerr_t *)cinfo->err)->status = IMG_ERR_TOO_MANY_SCANS;
        ERREXIT(cinfo, JERR_BAD_SCAN_SCRIPT);
    }
}

/* Scans from `p` (just past the first SOS segment) to EOI: 1 + the SOS markers found the
 * way libjpeg's reader finds markers (next_marker, and the entropy decoder's view of 0xFF):
 * 0xFF, any further 0xFF fill, then a byte that is not 0 (0xFF00 is a stuffed data byte).
 * RSTn, TEM and SOI stand alone; every other marker has a 16-bit length, skipped whole.
 * Stops at EOI, at the end of the data, or once past IMG_JPEG_MAX_SCANS. */
static unsigned count_scans(const uint8_t *p, const uint8_t *end)
{
    unsigned scans = 1;
    while (scans <= IMG_JPEG_MAX_SCANS) {
        const uint8_t *ff = memchr(p, 0xFF, (size_t)(end - p));
        if (!ff) break;
        for (p = ff + 1; p < end && *p == 0xFF; p++)
            ;
        if (p == end) break;
        uint8_t m = *p++;
        if (m == 0 || (m >= 0xD0 && m <= 0xD8) || m == 0x01) continue; /* data, RSTn, SOI, TEM */
        if (m == 0xD9 || end - p < 2) break;                           /* EOI */
        size_t seg = (size_t)p[0] << 8 | p[1];                         /* with its own 2 bytes */
        if (m == 0xDA) scans++;
        p += seg < (size_t)(end - p) ? seg : (size_t)(end - p);
    }
    return scans;
}

/* Fixed allowance for libjpeg's tables and state (Huffman, IDCT, range limit, structs). */
#define JPEG_FIXED_BYTES (128u << 10)
/* MCU rows of output-width samples libjpeg keeps: its main buffer with the context rows of
 * fancy upsampling, the upsampler's rows (measured: under half of this for 4:2:0). */
#define JPEG_ROW_BUFFERS 2

/* libjpeg's peak from the header: a multi-scan file (progressive, or a scan per component)
 * keeps every DCT coefficient of the image (one 128-byte JBLOCK per 8x8 block, each
 * component padded to whole MCUs, jdcoefct.c) before the first row comes out; every file
 * also streams through a few MCU rows of samples. */
static uint64_t jpeg_memory(j_decompress_ptr c)
{
    uint64_t need = JPEG_FIXED_BYTES, row = (uint64_t)c->image_width * 4; /* RGBX/CMYK out */
    need += row * (uint64_t)c->max_v_samp_factor * DCTSIZE * JPEG_ROW_BUFFERS;
    if (jpeg_has_multiple_scans(c)) {
        for (int i = 0; i < c->num_components; i++) {
            const jpeg_component_info *ci = &c->comp_info[i];
            uint64_t h = ci->h_samp_factor, v = ci->v_samp_factor;
            uint64_t w = (ci->width_in_blocks + h - 1) / h * h, hb = (ci->height_in_blocks + v - 1) / v * v;
            need += w * hb * sizeof(JBLOCK);
        }
    }
    return need;
}

/* The largest libjpeg DCT scaling 1/d (d = 8, 4, 2) that keeps both sides >= min_side;
 * 1 for none. The sizes are libjpeg's: ceil(side / d). */
static unsigned jpeg_scale_denom(const struct jpeg_decompress_struct *c, uint32_t min_side)
{
    unsigned d = min_side ? 8 : 1;
    while (d > 1 && ((c->image_width + d - 1) / d < min_side || (c->image_height + d - 1) / d < min_side))
        d /= 2;
    return d;
}

/* The Orientation of the first APP1 that holds Exif (colour mode saves APP1). */
static unsigned jpeg_orientation(const struct jpeg_decompress_struct *c)
{
    for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return img_exif_orientation(m->data + 6, m->data_length - 6);
    return 1;
}

static void jpeg_src_destroy(img_source_t *base)
{
    jpeg_src_t *s = (jpeg_src_t *)base;
    jpeg_destroy_decompress(&s->cinfo);
    free(s->cmyk_row);
    free(s);
}

#define MULDIV255(a, b) ((((a) * (b) + 128) + (((a) * (b) + 128) >> 8)) >> 8)

/* Pillow's "CMYK;I" unpacker followed by cmyk2rgb, into RGBX (alpha byte kept as padding,
 * `out_bytes` 4) or RGB (3). */
static void cmyk_inverted_to_rgb(const uint8_t *in, uint8_t *out, uint32_t width, unsigned out_bytes)
{
    for (uint32_t x = 0; x < width; x++, in += 4, out += out_bytes) {
        int nk = in[3]; /* 255 - (255 - k) */
        for (int c = 0; c < 3; c++) {
            int v = nk - MULDIV255(255 - in[c], nk);
            out[c] = (uint8_t)(v < 0 ? 0 : v);
        }
        if (out_bytes == 4) out[3] = 255;
    }
}

static img_status_t jpeg_src_read(img_source_t *base, uint8_t *const *rows, unsigned n)
{
    jpeg_src_t *s = (jpeg_src_t *)base;
    if (setjmp(s->jerr.jmp)) return jerr_status(&s->jerr);
    for (unsigned i = 0; i < n;) {
        JDIMENSION got = s->cmyk ? jpeg_read_scanlines(&s->cinfo, &s->cmyk_row, 1)
                                 : jpeg_read_scanlines(&s->cinfo, (JSAMPARRAY)rows + i, n - i);
        if (got == 0) return IMG_ERR_CORRUPT; /* suspended: truncated */
        if (s->cmyk) cmyk_inverted_to_rgb(s->cmyk_row, rows[i], base->width, img_pix_bytes(base->pix));
        i += got;
    }
    /* Pillow then finishes: a suspension there (no EOI) is fine, an error is not */
    if (s->cinfo.output_scanline == s->cinfo.output_height) jpeg_finish_decompress(&s->cinfo);
    return IMG_OK;
}

/* Pillow keeps the last COM marker before the first scan as info["comment"]. */
static void find_comment(jpeg_src_t *s)
{
    for (jpeg_saved_marker_ptr m = s->cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_COM) {
            s->base.comment = m->data_length ? m->data : NULL;
            s->base.comment_len = m->data_length;
        }
    }
}

img_status_t img_jpeg_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                             img_source_t **out)
{
    jpeg_src_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ERR_NOMEM;
    s->base.read_rows = jpeg_src_read;
    s->base.destroy = jpeg_src_destroy;
    jerr_init(&s->jerr);
    s->cinfo.err = &s->jerr.pub;
    if (setjmp(s->jerr.jmp)) {
        img_status_t st = jerr_status(&s->jerr);
        jpeg_src_destroy(&s->base);
        return st;
    }
    jpeg_create_decompress(&s->cinfo);
    s->src.next_input_byte = in;
    s->src.bytes_in_buffer = len;
    s->src.init_source = src_noop;
    s->src.fill_input_buffer = src_fill;
    s->src.skip_input_data = src_skip;
    s->src.resync_to_restart = jpeg_resync_to_restart;
    s->src.term_source = src_noop;
    s->cinfo.src = &s->src;
    s->progress.progress_monitor = progress_scans;
    s->cinfo.progress = &s->progress;
    jpeg_save_markers(&s->cinfo, JPEG_COM, 0xFFFF);
    if (mode->colour) jpeg_save_markers(&s->cinfo, JPEG_APP0 + 1, 0xFFFF); /* bounded by the input */

    int ret;
    do /* as Pillow: skip tables-only datastreams */
        ret = jpeg_read_header(&s->cinfo, FALSE);
    while (ret == JPEG_HEADER_TABLES_ONLY);
    img_status_t st = IMG_ERR_CORRUPT;
    if (ret != JPEG_HEADER_OK) goto fail;
    st = img_check_size(s->cinfo.image_width, s->cinfo.image_height, lim->max_pixels);
    if (st != IMG_OK) goto fail;
    /* both before jpeg_start_decompress, which allocates the coefficient buffer and reads
     * every scan of a multi-scan file */
    st = IMG_ERR_TOO_MANY_SCANS;
    if (count_scans(s->src.next_input_byte, s->src.next_input_byte + s->src.bytes_in_buffer) >
        IMG_JPEG_MAX_SCANS)
        goto fail;
    unsigned denom = mode->colour ? jpeg_scale_denom(&s->cinfo, mode->min_side) : 1;
    uint64_t frame = img_mode_frame(mode, (s->cinfo.image_width + denom - 1) / denom,
                                    (s->cinfo.image_height + denom - 1) / denom, 3);
    if ((st = img_check_memory(jpeg_memory(&s->cinfo) + frame, lim)) != IMG_OK) goto fail;
    /* libjpeg's own count as a backstop: past it its virtual arrays would need a backing
     * store, which this build does not have (JERR_NO_BACKING_STORE) */
    if (lim->max_memory)
        s->cinfo.mem->max_memory_to_use = (long)(lim->max_memory > LONG_MAX ? LONG_MAX : lim->max_memory);
    switch (s->cinfo.num_components) {
    case 1: /* libjpeg-turbo expands gray to RGB itself */
        s->cinfo.out_color_space = mode->colour ? JCS_RGB : JCS_GRAYSCALE;
        s->base.pix = mode->colour ? IMG_PIX_RGB : IMG_PIX_GRAY;
        break;
    case 3:
        s->cinfo.out_color_space = mode->colour ? JCS_RGB : JCS_EXT_RGBX;
        s->base.pix = mode->colour ? IMG_PIX_RGB : IMG_PIX_RGBX;
        break;
    case 4:
        s->cinfo.out_color_space = JCS_CMYK;
        s->base.pix = mode->colour ? IMG_PIX_RGB : IMG_PIX_RGBX;
        s->cmyk = 1;
        s->cmyk_row = malloc((size_t)s->cinfo.image_width * 4);
        if (!s->cmyk_row) {
            st = IMG_ERR_NOMEM;
            goto fail;
        }
        break;
    default: /* Pillow: "cannot handle N-layer images" */
        st = IMG_ERR_UNSUPPORTED;
        goto fail;
    }
    if (denom > 1) {
        s->cinfo.scale_num = 1;
        s->cinfo.scale_denom = denom;
        /* as Pillow's draft mode: the picture is resized afterwards anyway, and merged
         * upsampling saves a pass over the chroma (the scaled IDCTs ignore dct_method) */
        s->cinfo.do_fancy_upsampling = FALSE;
    }
    s->base.orientation = mode->colour ? jpeg_orientation(&s->cinfo) : 1;
    find_comment(s);
    st = IMG_ERR_CORRUPT;
    if (!jpeg_start_decompress(&s->cinfo)) goto fail; /* a multi-scan file ran out of data */
    s->base.width = s->cinfo.output_width;
    s->base.height = s->cinfo.output_height;
    *out = &s->base;
    return IMG_OK;
fail:
    jpeg_src_destroy(&s->base);
    return st;
}

/* ---- encoding ---- */

struct img_jpeg_enc {
    struct jpeg_compress_struct cinfo;
    jerr_t jerr;
    struct jpeg_destination_mgr dest;
    uint8_t *buf;
    size_t cap;
};

static void dest_init(j_compress_ptr cinfo)
{
    (void)cinfo;
}

/* The buffer is full: double it and go on after what is written. */
static boolean dest_grow(j_compress_ptr cinfo)
{
    img_jpeg_enc_t *enc = (img_jpeg_enc_t *)cinfo;
    uint8_t *nb = realloc(enc->buf, enc->cap * 2);
    if (!nb) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    enc->dest.next_output_byte = nb + enc->cap;
    enc->dest.free_in_buffer = enc->cap;
    enc->buf = nb;
    enc->cap *= 2;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
    (void)cinfo;
}

void img_jpeg_enc_destroy(img_jpeg_enc_t *enc)
{
    if (!enc) return;
    jpeg_destroy_compress(&enc->cinfo);
    free(enc->buf);
    free(enc);
}

/* `components` 1 (gray) or 3 (RGB); quality 0 leaves jpeg_set_defaults as Pillow does,
 * else it is set and the Huffman tables are optimized. */
static img_status_t enc_start(img_jpeg_enc_t **out, uint32_t width, uint32_t height, int components,
                              int quality, const uint8_t *comment, size_t comment_len)
{
    *out = NULL;
    if (width == 0 || height == 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION)
        return IMG_ERR_UNSUPPORTED; /* Pillow fails to save these too */
    img_jpeg_enc_t *enc = calloc(1, sizeof *enc);
    if (!enc) return IMG_ERR_NOMEM;
    /* a dithered picture costs about 0.6 byte a pixel at quality 75 */
    enc->cap = (size_t)width * height / 2 + 4096;
    enc->buf = malloc(enc->cap);
    jerr_init(&enc->jerr);
    enc->cinfo.err = &enc->jerr.pub;
    if (!enc->buf) {
        free(enc);
        return IMG_ERR_NOMEM;
    }
    if (setjmp(enc->jerr.jmp)) {
        img_status_t st = jerr_status(&enc->jerr);
        img_jpeg_enc_destroy(enc);
        return st;
    }
    jpeg_create_compress(&enc->cinfo);
    enc->dest.next_output_byte = enc->buf;
    enc->dest.free_in_buffer = enc->cap;
    enc->dest.init_destination = dest_init;
    enc->dest.empty_output_buffer = dest_grow;
    enc->dest.term_destination = dest_term;
    enc->cinfo.dest = &enc->dest;
    enc->cinfo.image_width = width;
    enc->cinfo.image_height = height;
    enc->cinfo.input_components = components;
    enc->cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&enc->cinfo);
    if (quality) {
        jpeg_set_quality(&enc->cinfo, quality, TRUE);
        enc->cinfo.optimize_coding = TRUE;
    }
    jpeg_start_compress(&enc->cinfo, TRUE);
    /* Pillow writes a non-empty comment; a marker holds at most 65533 bytes, beyond that
     * Pillow's save fails and we leave the comment out */
    if (comment && comment_len > 0 && comment_len <= 65533)
        jpeg_write_marker(&enc->cinfo, JPEG_COM, comment, (unsigned)comment_len);
    *out = enc;
    return IMG_OK;
}

img_status_t img_jpeg_enc_start(img_jpeg_enc_t **out, uint32_t width, uint32_t height, const uint8_t *comment,
                                size_t comment_len)
{
    return enc_start(out, width, height, 1, 0, comment, comment_len);
}

img_status_t img_jpeg_enc_start_rgb(img_jpeg_enc_t **out, uint32_t width, uint32_t height, int quality)
{
    return enc_start(out, width, height, 3, quality, NULL, 0);
}

img_status_t img_jpeg_enc_rows(img_jpeg_enc_t *enc, uint8_t *const *rows, unsigned n)
{
    if (setjmp(enc->jerr.jmp)) return jerr_status(&enc->jerr);
    for (unsigned i = 0; i < n;)
        i += jpeg_write_scanlines(&enc->cinfo, (JSAMPARRAY)rows + i, n - i);
    return IMG_OK;
}

img_status_t img_jpeg_enc_finish(img_jpeg_enc_t *enc, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    if (setjmp(enc->jerr.jmp)) {
        img_status_t st = jerr_status(&enc->jerr);
        img_jpeg_enc_destroy(enc);
        return st;
    }
    jpeg_finish_compress(&enc->cinfo);
    *out_len = enc->cap - enc->dest.free_in_buffer;
    *out = enc->buf;
    enc->buf = NULL;
    img_jpeg_enc_destroy(enc);
    return IMG_OK;
}
