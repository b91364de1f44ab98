/* Generated avatars: the seed's bits, the palette, and the pictures drawn without a font
 * (mp, identicon, retro, blank, color). Integers only, so every compiler and machine draws the same
 * pixels; docs/generated-avatars.md is the specification. */
#include "image/gen.h"

#include "image/img_initials.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the seed ---- */

/* FNV-1a 64 of the seed starts a splitmix64 sequence: any seed length, even 0, gives
 * well-mixed bits, and both functions are short enough to specify in the docs. */
typedef struct {
    uint64_t state;
} rng_t;

static void rng_init(rng_t *r, const uint8_t *seed, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= seed[i];
        h *= 0x100000001b3ull;
    }
    r->state = h;
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Every seeded kind takes its hue from the first draw's high half: one user, one hue. */
static unsigned draw_hue(uint64_t first)
{
    return (unsigned)((first >> 32) % 360);
}

/* ---- colours ---- */

/* HSL (h in degrees 0..359, s and l in percent) to 8-bit RGB, exact in units of 1/600000,
 * then scaled down to luma (Rec. 709 weights: 2126R+7152G+722B, /10000) luma_max where it is
 * lighter: at one HSL lightness green and yellow are far lighter than blue, and the cap keeps
 * the contrast with white letters or a light background on every hue. */
static void colour(unsigned h, unsigned s, unsigned l, unsigned luma_max, uint8_t rgb[3])
{
    int c = (100 - abs(2 * (int)l - 100)) * (int)s; /* chroma, 1/10000 */
    int c6 = c * 60, x6 = c * (60 - abs((int)(h % 120) - 60)), m6 = (int)l * 6000 - c * 30;
    /* which of (C, X, 0) each of R, G, B is, per 60 degrees of hue */
    static const uint8_t pick[6][3] = {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}};
    const int v[3] = {c6, x6, 0};
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)(((v[pick[h / 60][k]] + m6) * 255 + 300000) / 600000);
    unsigned luma = (2126u * rgb[0] + 7152u * rgb[1] + 722u * rgb[2] + 5000) / 10000;
    if (luma > luma_max)
        for (int k = 0; k < 3; k++)
            rgb[k] = (uint8_t)((rgb[k] * luma_max + luma / 2) / luma);
}

static void grey(uint8_t v, uint8_t rgb[3])
{
    rgb[0] = rgb[1] = rgb[2] = v;
}

/* ---- grids of cells (identicon, retro) ---- */

/* Cell boundaries are kept in 1/GRID_UNIT px: exact for the fractions below. */
#define GRID_UNIT 60u
#define GRID_MAX 8

typedef struct {
    unsigned g;                          /* cells a side */
    uint32_t xb[GRID_MAX + 1];           /* column boundaries, 1/GRID_UNIT px */
    uint32_t yb[GRID_MAX + 1];           /* row boundaries */
    uint8_t cell[GRID_MAX][GRID_MAX][3]; /* [row][column] colour */
    uint8_t bg[3];                       /* the margin */
} grid_t;

/* Boundaries of g cells a side inside a margin of (u - g) / 2 cells. Where a cell is at least
 * 2 px every boundary is a pixel edge: cells of c = n / u px, margins of m = (n - g c) / 2,
 * mirrored about the centre so that the middle cell (g odd) or pair (g even) takes the 0-1 px
 * left over. Columns are then exactly symmetric and crisp (for g even and n odd the middle
 * boundary is a half pixel, unseen since the two middle columns are mirrors of one colour);
 * an even grid's middle row boundary is rounded down to a pixel edge instead. Smaller
 * pictures use the exact fractions n (u - g + 2k) / 2u, blended by coverage. */
static void grid_layout(grid_t *gr, uint32_t n, unsigned g, unsigned u)
{
    uint32_t c = n / u, m = (n - g * c) / 2;
    gr->g = g;
    for (unsigned k = 0; k <= g; k++) {
        if (c >= 2)
            gr->xb[k] = GRID_UNIT * (2 * k < g ? m + k * c : n - m - (g - k) * c);
        else
            gr->xb[k] = GRID_UNIT * n * (u - g + 2 * k) / (2 * u);
        gr->yb[k] = gr->xb[k];
    }
    if (c >= 2 && g % 2 == 0) {
        gr->xb[g / 2] = GRID_UNIT * n / 2;
        gr->yb[g / 2] = GRID_UNIT * (n / 2);
    }
}

static uint32_t overlap(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1)
{
    uint32_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* Each pixel takes every colour in proportion to the area of it that colour covers. Rows
 * covering the cell rows alike are copies of the row above, so only the few rows along
 * boundaries are computed. */
static void grid_draw(const grid_t *gr, uint32_t n, uint8_t *px)
{
    const uint32_t area = GRID_UNIT * GRID_UNIT;
    uint32_t prev[GRID_MAX] = {0};
    for (uint32_t y = 0; y < n; y++) {
        uint8_t *row = px + (size_t)y * n * 3;
        uint32_t cov_y[GRID_MAX];
        for (unsigned r = 0; r < gr->g; r++)
            cov_y[r] = overlap(y * GRID_UNIT, (y + 1) * GRID_UNIT, gr->yb[r], gr->yb[r + 1]);
        if (y > 0 && memcmp(cov_y, prev, gr->g * sizeof cov_y[0]) == 0) {
            memcpy(row, row - (size_t)n * 3, (size_t)n * 3);
            continue;
        }
        memcpy(prev, cov_y, gr->g * sizeof cov_y[0]);
        for (uint32_t x = 0; x < n; x++) {
            uint32_t acc[3] = {0, 0, 0}, covered = 0;
            for (unsigned r = 0; r < gr->g; r++) {
                if (!cov_y[r]) continue;
                for (unsigned c = 0; c < gr->g; c++) {
                    uint32_t a =
                        cov_y[r] * overlap(x * GRID_UNIT, (x + 1) * GRID_UNIT, gr->xb[c], gr->xb[c + 1]);
                    covered += a;
                    for (int k = 0; k < 3; k++)
                        acc[k] += a * gr->cell[r][c][k];
                }
            }
            for (int k = 0; k < 3; k++)
                row[3 * x + k] = (uint8_t)((acc[k] + (area - covered) * gr->bg[k] + area / 2) / area);
        }
    }
}

/* Sets column c of the left half and its mirror g - 1 - c. */
static void grid_set(grid_t *gr, unsigned r, unsigned c, const uint8_t rgb[3])
{
    memcpy(gr->cell[r][c], rgb, 3);
    memcpy(gr->cell[r][gr->g - 1 - c], rgb, 3);
}

/* ---- identicon ---- */

/* 5x5 cells, half a cell of margin; columns 0-2 from the seed, 3-4 their mirrors. */
static void draw_identicon(const uint8_t *seed, size_t seed_len, uint32_t n, uint8_t *px)
{
    rng_t rng;
    rng_init(&rng, seed, seed_len);
    uint64_t w = rng_next(&rng);
    grid_t gr;
    uint8_t fg[3];
    grey(240, gr.bg);
    colour(draw_hue(w), 60, 55, 130, fg);
    grid_layout(&gr, n, 5, 6);
    for (unsigned c = 0; c < 3; c++)
        for (unsigned r = 0; r < 5; r++)
            grid_set(&gr, r, c, w >> (5 * c + r) & 1 ? fg : gr.bg);
    grid_draw(&gr, n, px);
}

/* ---- retro ---- */

/* An 8x8 mirrored face, one cell of margin: random hair, ears and chin around a head of rows
 * 2-5 and columns 1-6, two dark eyes and a dark mouth whose places and width the seed picks. */
static void draw_retro(const uint8_t *seed, size_t seed_len, uint32_t n, uint8_t *px)
{
    rng_t rng;
    rng_init(&rng, seed, seed_len);
    uint64_t w1 = rng_next(&rng), w2 = rng_next(&rng);
    unsigned hue = draw_hue(w1);
    uint8_t pal[4][3], dark[3];
    grid_t gr;
    colour(hue, 30, 93, 255, gr.bg);
    memcpy(pal[0], gr.bg, 3);
    colour(hue, 60, 55, 140, pal[1]);
    memcpy(pal[2], pal[1], 3);
    colour((hue + 90 + (unsigned)(w1 >> 8 & 0xff) % 180) % 360, 60, 35, 100, pal[3]);
    grey(40, dark);
    grid_layout(&gr, n, 8, 10);
    for (unsigned r = 0; r < 8; r++)
        for (unsigned c = 0; c < 4; c++) {
            unsigned v = (unsigned)(w2 >> (2 * (4 * r + c)) & 3);
            grid_set(&gr, r, c, r >= 2 && r <= 5 && c >= 1 ? pal[1] : pal[v]);
        }
    grid_set(&gr, 2 + (unsigned)(w1 & 1), 1 + (unsigned)(w1 >> 1 & 1), dark);
    static const uint8_t mouths[4] = {0xc, 0x8, 0xe, 0xa}; /* bit c: column c of row 5 */
    for (unsigned c = 1; c < 4; c++)
        if (mouths[w1 >> 2 & 3] >> c & 1) grid_set(&gr, 5, c, dark);
    grid_draw(&gr, n, px);
}

/* ---- mp ---- */

/* Supersampling: SS x SS samples a pixel. A sample at a (in 1/(2 SS) px, odd) lies 1000 a -
 * 2 SS n c from a centre at c thousandths of the picture: "dx" and "dy" below. */
#define SS 8
#define PIXEL_D (1000 * 2 * SS) /* a pixel's width in dx units */

/* An ellipse in thousandths of the picture: centre (cx, cy), horizontal radius r, vertical
 * radius r q / p (small p and q keep the squares below 2^63 at n = 2048). A point is inside
 * when (dx q)^2 + (dy p)^2 <= (r q 2 SS n)^2. */
typedef struct {
    int64_t cx, cy, r, p, q;
} ellipse_t;

/* The mystery person: a head, and the top of a wide ellipse for the shoulders. */
static const ellipse_t mp_shapes[2] = {
    {500, 390, 200, 1, 1},
    {500, 1000, 360, 6, 5},
};

/* Integer square root, exact: the double is only a first guess. */
static int64_t isqrt(int64_t v)
{
    int64_t s = (int64_t)sqrt((double)v);
    while (s * s > v)
        s--;
    while ((s + 1) * (s + 1) <= v)
        s++;
    return s;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* max |dx| with |dx| q <= sqrt(K) at this dy, -1 where the line misses the ellipse */
static int64_t ellipse_half(const ellipse_t *e, int64_t scale, int64_t dy)
{
    int64_t rq = e->r * e->q * scale, k = rq * rq - dy * e->p * dy * e->p;
    return k < 0 ? -1 : isqrt(k) / e->q;
}

/* One ellipse across one row of pixels. */
typedef struct {
    int64_t cx;       /* cx 2 SS n */
    int64_t half[SS]; /* per sample row: ellipse_half */
    int64_t in0, in1; /* pixels [in0, in1) are wholly inside */
    int64_t on0, on1; /* pixels [on0, on1) may touch it, the others are wholly outside */
} ellipse_row_t;

static int64_t clamp(int64_t v, uint32_t n)
{
    return v < 0 ? 0 : v > n ? n : v;
}

/* The shapes are convex: a pixel whose corners are inside is inside, and one whose nearest
 * point is outside is outside. */
static void ellipse_row(const ellipse_t *e, uint32_t n, uint32_t y, ellipse_row_t *er)
{
    int64_t scale = 2 * SS * (int64_t)n, cx = e->cx * scale;
    int64_t dy0 = (int64_t)PIXEL_D * y - e->cy * scale, dy1 = dy0 + PIXEL_D;
    int64_t far = llabs(dy0) > llabs(dy1) ? llabs(dy0) : llabs(dy1);
    int64_t near = dy0 <= 0 && dy1 >= 0 ? 0 : llabs(dy0) < llabs(dy1) ? llabs(dy0) : llabs(dy1);
    int64_t in = ellipse_half(e, scale, far), on = ellipse_half(e, scale, near);
    er->cx = cx;
    er->in0 = er->in1 = er->on0 = er->on1 = 0;
    if (in >= 0) {
        er->in0 = clamp(-floor_div(in - cx, PIXEL_D), n);
        er->in1 = clamp(floor_div(cx + in, PIXEL_D), n);
    }
    if (on >= 0) {
        er->on0 = clamp(-floor_div(on - cx, PIXEL_D) - 1, n);
        er->on1 = clamp(floor_div(cx + on, PIXEL_D) + 1, n);
    }
    for (int j = 0; j < SS; j++)
        er->half[j] = ellipse_half(e, scale, dy0 + 1000 * (2 * j + 1));
}

/* A grey figure on a lighter grey. Per row: the background, the runs wholly inside a shape,
 * then the pixels along the edges by counting their SS x SS samples inside any shape. */
static void draw_mp(uint32_t n, uint8_t *px)
{
    enum { NSHAPES = sizeof mp_shapes / sizeof mp_shapes[0] };
    const unsigned bg = 228, fg = 166;
    for (uint32_t y = 0; y < n; y++) {
        ellipse_row_t er[NSHAPES];
        uint8_t *row = px + (size_t)y * n * 3;
        memset(row, bg, (size_t)n * 3);
        for (int s = 0; s < NSHAPES; s++) {
            ellipse_row(&mp_shapes[s], n, y, &er[s]);
            if (er[s].in1 > er[s].in0) memset(row + 3 * er[s].in0, fg, (size_t)(er[s].in1 - er[s].in0) * 3);
        }
        for (int s = 0; s < NSHAPES; s++)
            for (int64_t x = er[s].on0; x < er[s].on1; x++) {
                if (er[s].in1 > er[s].in0 && x == er[s].in0) x = er[s].in1; /* skip its inside */
                if (x >= er[s].on1) break;
                int done = 0; /* inside another shape, or an edge of an earlier one */
                for (int t = 0; t < NSHAPES && !done; t++)
                    done = (x >= er[t].in0 && x < er[t].in1) || (t < s && x >= er[t].on0 && x < er[t].on1);
                if (done) continue;
                unsigned hits = 0;
                for (int i = 0; i < SS; i++) {
                    int64_t a = 2 * SS * x + 2 * i + 1;
                    for (int j = 0; j < SS; j++) {
                        int hit = 0;
                        for (int t = 0; t < NSHAPES && !hit; t++)
                            hit = llabs(1000 * a - er[t].cx) <= er[t].half[j];
                        hits += (unsigned)hit;
                    }
                }
                memset(row + 3 * x, (int)((bg * (SS * SS - hits) + fg * hits + SS * SS / 2) / (SS * SS)), 3);
            }
    }
}

/* ---- the API ---- */

/* The background of the initials, which color is too: one user, one colour. */
static void initials_bg(const uint8_t *seed, size_t seed_len, uint8_t bg[3])
{
    rng_t rng;
    rng_init(&rng, seed, seed_len);
    colour(draw_hue(rng_next(&rng)), 55, 50, 115, bg);
}

static void draw_color(const uint8_t *seed, size_t seed_len, uint32_t n, uint8_t *px)
{
    uint8_t bg[3];
    initials_bg(seed, seed_len, bg);
    for (size_t i = 0; i < (size_t)n * n; i++)
        memcpy(px + 3 * i, bg, 3);
}

img_status_t img_generate(img_gen_t kind, const uint8_t *seed, size_t seed_len, const char *text,
                          size_t text_len, uint32_t n, img_pixels_t *out)
{
    *out = (img_pixels_t){0};
    if (n == 0 || n > IMG_GEN_MAX_SIZE) return IMG_ERR_TOO_LARGE;
    if (kind == IMG_GEN_INITIALS) {
        uint8_t bg[3];
        initials_bg(seed, seed_len, bg);
        return img_initials_draw(text, text_len, bg, n, out);
    }
    if (kind != IMG_GEN_MP && kind != IMG_GEN_IDENTICON && kind != IMG_GEN_RETRO && kind != IMG_GEN_BLANK &&
        kind != IMG_GEN_COLOR)
        return IMG_ERR_UNSUPPORTED;
    uint8_t bands = kind == IMG_GEN_BLANK ? 4 : 3;
    uint8_t *px = kind == IMG_GEN_BLANK ? calloc((size_t)n * n, bands) : malloc((size_t)n * n * bands);
    if (!px) return IMG_ERR_NOMEM;
    if (kind == IMG_GEN_MP)
        draw_mp(n, px);
    else if (kind == IMG_GEN_IDENTICON)
        draw_identicon(seed, seed_len, n, px);
    else if (kind == IMG_GEN_RETRO)
        draw_retro(seed, seed_len, n, px);
    else if (kind == IMG_GEN_COLOR)
        draw_color(seed, seed_len, n, px);
    *out = (img_pixels_t){.px = px, .width = n, .height = n, .bands = bands};
    return IMG_OK;
}

int img_gen_from_name(const char *name, size_t len, img_gen_t *kind)
{
    static const struct {
        const char *name;
        img_gen_t kind;
    } names[] = {
        {"mp", IMG_GEN_MP},
        {"mm", IMG_GEN_MP},
        {"identicon", IMG_GEN_IDENTICON},
        {"retro", IMG_GEN_RETRO},
        {"blank", IMG_GEN_BLANK},
        {"initials", IMG_GEN_INITIALS},
        {"color", IMG_GEN_COLOR},
        {"monsterid", IMG_GEN_RETRO},
        {"wavatar", IMG_GEN_RETRO},
        {"pagan", IMG_GEN_RETRO},
        {"robohash", IMG_GEN_IDENTICON},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0) {
            *kind = names[i].kind;
            return 0;
        }
    return -1;
}
