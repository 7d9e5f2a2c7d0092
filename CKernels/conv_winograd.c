/*
 * 3x3 stride-1 convolutions by Winograd's minimal filtering, F(4x4, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015). Each 4x4 block of output pixels ("tile") is
 *     y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * for the tile's 6x6 input patch d and each 3x3 filter g: 36 products per input/output channel pair
 * where the direct form takes 144, so the step's arithmetic falls by 4x on these layers. Summed over
 * input channels, each of the 36 points of the transformed tile is a small matrix product
 *     M[p] (tiles x K) = V[p] (tiles x C) . U[p] (C x K),
 * which runs on register tiles as the GEMM's do. The transforms are additions and small constant
 * multiples, done 16 channels at a time.
 *
 * The three passes of training:
 *   forward          as above, bias and ReLU applied as each tile is written;
 *   input gradient   the forward of dout with the filters turned 180 degrees and input and output
 *                    channels swapped, padded by 2 - pad (a "full" convolution);
 *   weight gradient  dg = G^T [ sum over tiles (A dY A^T) (.) (B^T d B) ] G: 36 products of
 *                    (C x tiles) . (tiles x K), each accumulated over the tiles in order.
 *
 * Cache use: the forward works on blocks of tiles whose transformed inputs and products fit in about
 * a third of L2, transforms them, multiplies, and writes the block's output before the next (an output
 * too large for the caches with streaming stores, see internal.h: the next layer reads it from memory
 * either way, and the lines are not read first). The
 * weight gradient sums the tiles in WEIGHT_PARTS fixed parts (a quarter of the tiles each, whatever
 * the thread count) and adds the parts' sums in order at the end; a task is one part's tiles for
 * some rows of the 6x6 points, so that two threads read disjoint halves of the images.
 *
 * Bits: not those of im2col + GEMM (the sums are taken in another basis); the same for any thread
 * count (each output depends on its own tile, each weight-gradient point is summed over each part's
 * tiles in order, then over the parts in order). Rounding: the transforms' constants (1/6, 1/24, up to 8 and 25/4 in B^T) cost about a
 * decimal digit against the direct form; tests bound it against a Double-precision reference.
 */
#include "conv_lanes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_SIDE 4     /* output pixels per tile side */
#define PATCH_SIDE 6   /* input pixels per patch side, and points per transformed tile side */
#define POINTS 36      /* points of a transformed tile */
/* Tiles per block are a multiple of this, the product's row groups (3, 6 or 12 rows). */
#define ROW_GROUP 12
/* Floats of transformed input and products one block keeps (about a third of a 1 MB L2). */
#define BLOCK_FLOATS (96 * 1024)

/* ---------------------------------------------------------------- when it applies, and the switch */

static _Thread_local int tl_allowed __attribute__((tls_model("initial-exec"))) = -1;
static int g_allowed = 1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_error[160];

/* DENDRITE_WINOGRAD: 1/on (the default) or 0/off; anything else is kept as an error for the caller to
 * report (dk_environment_error), Winograd staying on. */
static void resolve(void) {
    const char *v = getenv("DENDRITE_WINOGRAD");
    if (!v || !*v || strcmp(v, "1") == 0 || strcmp(v, "on") == 0) return;
    if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
        g_allowed = 0;
    else
        snprintf(g_error, sizeof g_error, "DENDRITE_WINOGRAD='%.64s' is not 1, on, 0 or off", v);
}

static int allowed_by_environment(void) {
    pthread_once(&g_once, resolve);
    return g_allowed;
}

const char *dk__winograd_environment_error(void) {
    pthread_once(&g_once, resolve);
    return g_error[0] ? g_error : NULL;
}

void dk_conv2d_set_winograd(int allowed) { tl_allowed = allowed < 0 ? -1 : allowed != 0; }

int dk_conv2d_winograd_allowed(void) { return tl_allowed >= 0 ? tl_allowed : allowed_by_environment(); }

int dk_conv2d_uses_winograd(const dk_window *w, int out_channels) {
    /* Below 16 channels each side the products are too thin to pay for the transforms; the direct
     * kernels take the narrowest layers anyway. */
    return dk_conv2d_winograd_allowed() && w->kernel_h == 3 && w->kernel_w == 3 && w->stride_h == 1 &&
           w->stride_w == 1 && w->pad_top >= 0 && w->pad_top <= 2 && w->pad_left >= 0 && w->pad_left <= 2 &&
           w->channels >= 16 && w->channels <= DK_WINOGRAD_MAX_CHANNELS && out_channels >= 16 &&
           out_channels <= DK_WINOGRAD_MAX_CHANNELS && w->batch > 0 && w->out_h > 0 && w->out_w > 0;
}

/* ---------------------------------------------------------------- the transforms, a row at a time */

/* Row i of B^T applied to d0..d5 (the input transform, along either axis). */
DK_INLINE void input_row(lanes_vec *r, int i, const lanes_vec *d) {
    switch (i) {
    case 0: *r = 4.0f * d[0] - 5.0f * d[2] + d[4]; break;
    case 1: *r = d[3] + d[4] - 4.0f * (d[1] + d[2]); break;
    case 2: *r = d[4] - d[3] + 4.0f * (d[1] - d[2]); break;
    case 3: *r = d[4] - d[2] + 2.0f * (d[3] - d[1]); break;
    case 4: *r = d[4] - d[2] + 2.0f * (d[1] - d[3]); break;
    default: *r = 4.0f * d[1] - 5.0f * d[3] + d[5]; break;
    }
}

/* Row p of A^T applied to m0..m5 (the output transform). */
DK_INLINE void output_row(lanes_vec *r, int p, const lanes_vec *m) {
    switch (p) {
    case 0: *r = m[0] + m[1] + m[2] + m[3] + m[4]; break;
    case 1: *r = m[1] - m[2] + 2.0f * (m[3] - m[4]); break;
    case 2: *r = m[1] + m[2] + 4.0f * (m[3] + m[4]); break;
    default: *r = m[1] - m[2] + 8.0f * (m[3] - m[4]) + m[5]; break;
    }
}

/* Row i of A applied to v0..v3 (the output gradient's transform, A dY A^T). */
DK_INLINE void gradient_row(lanes_vec *r, int i, const lanes_vec *v) {
    switch (i) {
    case 0: *r = v[0]; break;
    case 1: *r = v[0] + v[1] + v[2] + v[3]; break;
    case 2: *r = v[0] - v[1] + v[2] - v[3]; break;
    case 3: *r = v[0] + 2.0f * v[1] + 4.0f * v[2] + 8.0f * v[3]; break;
    case 4: *r = v[0] - 2.0f * v[1] + 4.0f * v[2] - 8.0f * v[3]; break;
    default: *r = v[3]; break;
    }
}

/* Row i of G applied to g0..g2 (the filter transform), scalar. */
static float filter_row(int i, float g0, float g1, float g2) {
    switch (i) {
    case 0: return g0 / 4.0f;
    case 1: return -(g0 + g1 + g2) / 6.0f;
    case 2: return -(g0 - g1 + g2) / 6.0f;
    case 3: return g0 / 24.0f + g1 / 12.0f + g2 / 6.0f;
    case 4: return g0 / 24.0f - g1 / 12.0f + g2 / 6.0f;
    default: return g2;
    }
}

/* Column a of G applied to u0..u5 (G^T u: the weight gradient back from the points), scalar. */
static float filter_column(int a, const float *u) {
    switch (a) {
    case 0: return u[0] / 4.0f - (u[1] + u[2]) / 6.0f + (u[3] + u[4]) / 24.0f;
    case 1: return (u[2] - u[1]) / 6.0f + (u[3] - u[4]) / 12.0f;
    default: return (u[3] + u[4] - u[1] - u[2]) / 6.0f + u[5];
    }
}

/* ---------------------------------------------------------------- geometry */

static int round_up(int n, int to) { return (n + to - 1) / to * to; }

typedef struct {
    const dk_window *w; /* input (batch, height, width, channels), the windows and the output size */
    int in_channels, out_channels, in_padded, out_padded; /* C, K, and both rounded up to LANES */
    int tiles_h, tiles_w;
    size_t tiles, block; /* all tiles; tiles per block */
} geometry;

static geometry geometry_of(const dk_window *w, int out_channels) {
    geometry g = {w, w->channels, out_channels, round_up(w->channels, LANES), round_up(out_channels, LANES),
                  (w->out_h + OUT_SIDE - 1) / OUT_SIDE, (w->out_w + OUT_SIDE - 1) / OUT_SIDE, 0, 0};
    g.tiles = (size_t)w->batch * g.tiles_h * g.tiles_w;
    size_t per_tile = (size_t)POINTS * (g.in_padded + g.out_padded);
    size_t block = BLOCK_FLOATS / per_tile / ROW_GROUP * ROW_GROUP;
    g.block = block < ROW_GROUP ? ROW_GROUP : block;
    return g;
}

/* Where tile t lies: its image, and its top-left output pixel. */
typedef struct {
    size_t image;
    int oy, ox;
} tile_place;

static tile_place place_of(const geometry *g, size_t t) {
    size_t per_image = (size_t)g->tiles_h * g->tiles_w, local = t % per_image;
    return (tile_place){t / per_image, (int)(local / (size_t)g->tiles_w) * OUT_SIDE,
                        (int)(local % (size_t)g->tiles_w) * OUT_SIDE};
}

/* Scratch: transformed filters (POINTS x C x K, shared by a call's workers),
 * and each worker's block of transformed tiles and products. */
static dk_scratch_pool g_points = {.floats = (size_t)POINTS * DK_WINOGRAD_MAX_CHANNELS * DK_WINOGRAD_MAX_CHANNELS};
/* The weight gradient's parts (see above): fixed, so that the bits do not depend on the thread count. */
#define WEIGHT_PARTS 4
static dk_scratch_pool g_parts = {.floats = (size_t)WEIGHT_PARTS * POINTS * DK_WINOGRAD_MAX_CHANNELS *
                                            DK_WINOGRAD_MAX_CHANNELS};
static dk_scratch_pool g_blocks = {.floats = 2 * POINTS * LANES + ((size_t)POINTS * ROW_GROUP * 2 * DK_WINOGRAD_MAX_CHANNELS > BLOCK_FLOATS
                                                 ? (size_t)POINTS * ROW_GROUP * 2 * DK_WINOGRAD_MAX_CHANNELS
                                                 : BLOCK_FLOATS)};

/* The distance between two points' rows of tiles in a block of `rows` tiles of `width` floats: one
 * cache line more than the rows, so that a tile's 36 points (read or written together) fall in
 * different sets of L1 rather than in two to four of them, which 36 lines in a power-of-two-like
 * stride would. */
static size_t point_stride(size_t rows, size_t width) { return rows * width + LANES; }

/* ---------------------------------------------------------------- the tile transforms */

/* Points of rows [i0, i1) of the transformed input patch whose top-left pixel is (iy0, ix0) of `image`
 * (zeros outside it): point (i, j), channels c, to v[((i - i0) * 6 + j) * point_stride + c], for every
 * channel up to in_padded (zeros past the input's). */
DK_INLINE void transform_patch(float *v, size_t point_stride, const float *image, const geometry *g, int iy0,
                               int ix0, int i0, int i1) {
    const dk_window *w = g->w;
    const int C = g->in_channels;
    int row_in[PATCH_SIDE], col_in[PATCH_SIDE];
    for (int a = 0; a < PATCH_SIDE; a++) {
        row_in[a] = iy0 + a >= 0 && iy0 + a < w->height;
        col_in[a] = ix0 + a >= 0 && ix0 + a < w->width;
    }
    const int inside = iy0 >= 0 && iy0 + PATCH_SIDE <= w->height && ix0 >= 0 && ix0 + PATCH_SIDE <= w->width;
    for (int c0 = 0; c0 < g->in_padded; c0 += LANES) {
        const int n = C - c0 < LANES ? C - c0 : LANES;
        lanes_vec rows[PATCH_SIDE][PATCH_SIDE]; /* B^T d: rows[i][b] */
        for (int b = 0; b < PATCH_SIDE; b++) {
            lanes_vec d[PATCH_SIDE];
            for (int a = 0; a < PATCH_SIDE; a++) {
                if (inside && n == LANES)
                    d[a] = *(const lanes_vecu *)(image + ((size_t)(iy0 + a) * w->width + (size_t)(ix0 + b)) * C + c0);
                else if (row_in[a] && col_in[b])
                    lanes_load_first(&d[a], image + ((size_t)(iy0 + a) * w->width + (size_t)(ix0 + b)) * C + c0, n);
                else
                    d[a] = (lanes_vec){0};
            }
            for (int i = i0; i < i1; i++) input_row(&rows[i][b], i, d);
        }
        for (int i = i0; i < i1; i++)
            for (int j = 0; j < PATCH_SIDE; j++) {
                lanes_vec r;
                input_row(&r, j, rows[i]);
                *(lanes_vecu *)(v + (size_t)((i - i0) * PATCH_SIDE + j) * point_stride + c0) = r;
            }
    }
}

/* The output tile at (oy0, ox0) of `image` from its products m (point p's at m + p * point_stride): the
 * pixels inside the output, bias added and activation applied. */
DK_INLINE void write_tile(float *image, const geometry *g, int oy0, int ox0, const float *m, size_t point_stride,
                          const float *bias, dk_activation act, float slope, int stream) {
    const dk_window *w = g->w;
    const int K = g->out_channels, inside = oy0 + OUT_SIDE <= w->out_h && ox0 + OUT_SIDE <= w->out_w;
    for (int k0 = 0; k0 < K; k0 += LANES) {
        const int n = K - k0 < LANES ? K - k0 : LANES;
        lanes_vec cols[OUT_SIDE][PATCH_SIDE]; /* A^T M: cols[p][j] */
        for (int j = 0; j < PATCH_SIDE; j++) {
            lanes_vec column[PATCH_SIDE];
            for (int i = 0; i < PATCH_SIDE; i++)
                column[i] = *(const lanes_vecu *)(m + (size_t)(i * PATCH_SIDE + j) * point_stride + k0);
            for (int p = 0; p < OUT_SIDE; p++) output_row(&cols[p][j], p, column);
        }
        lanes_vec b = {0};
        if (bias) lanes_load_first(&b, bias + k0, n);
        if (inside && n == LANES) {
            /* Constant loop bounds: cols stays in registers. */
            for (int p = 0; p < OUT_SIDE; p++)
                for (int q = 0; q < OUT_SIDE; q++) {
                    lanes_vec y;
                    output_row(&y, q, cols[p]);
                    if (bias) y += b;
                    lanes_activate(&y, act, slope);
                    float *at = image + ((size_t)(oy0 + p) * w->out_w + (size_t)(ox0 + q)) * K + k0;
                    if (stream)
                        __builtin_nontemporal_store(y, (lanes_vec *)at);
                    else
                        *(lanes_vecu *)at = y;
                }
            continue;
        }
        for (int p = 0; p < OUT_SIDE && oy0 + p < w->out_h; p++)
            for (int q = 0; q < OUT_SIDE && ox0 + q < w->out_w; q++) {
                lanes_vec y;
                output_row(&y, q, cols[p]);
                if (bias) y += b;
                lanes_activate(&y, act, slope);
                lanes_store_first(image + ((size_t)(oy0 + p) * w->out_w + (size_t)(ox0 + q)) * K + k0, &y, n);
            }
    }
}

/* Rows [i0, i1) of the points of A dY A^T for the output-gradient tile at (oy0, ox0) of `image` (zeros
 * outside the output), as transform_patch lays them out, for every channel up to out_padded. */
DK_INLINE void transform_gradient(float *v, size_t point_stride, const float *image, const geometry *g, int oy0,
                                  int ox0, int i0, int i1) {
    const dk_window *w = g->w;
    const int K = g->out_channels, inside = oy0 + OUT_SIDE <= w->out_h && ox0 + OUT_SIDE <= w->out_w;
    for (int k0 = 0; k0 < g->out_padded; k0 += LANES) {
        const int n = K - k0 < LANES ? K - k0 : LANES;
        lanes_vec rows[PATCH_SIDE][OUT_SIDE]; /* A dY: rows[i][q] */
        for (int q = 0; q < OUT_SIDE; q++) {
            lanes_vec d[OUT_SIDE];
            for (int p = 0; p < OUT_SIDE; p++) {
                if (inside && n == LANES)
                    d[p] = *(const lanes_vecu *)(image + ((size_t)(oy0 + p) * w->out_w + (size_t)(ox0 + q)) * K + k0);
                else if (oy0 + p < w->out_h && ox0 + q < w->out_w)
                    lanes_load_first(&d[p], image + ((size_t)(oy0 + p) * w->out_w + (size_t)(ox0 + q)) * K + k0, n);
                else
                    d[p] = (lanes_vec){0};
            }
            for (int i = i0; i < i1; i++) gradient_row(&rows[i][q], i, d);
        }
        for (int i = i0; i < i1; i++)
            for (int j = 0; j < PATCH_SIDE; j++) {
                lanes_vec r;
                gradient_row(&r, j, rows[i]);
                *(lanes_vecu *)(v + (size_t)((i - i0) * PATCH_SIDE + j) * point_stride + k0) = r;
            }
    }
}

/* ---------------------------------------------------------------- the products */

/* c[r][v] (+)= sum over s < steps of a[r * a_row + s * a_step] * b[s * b_step + v lanes], for R rows
 * and NV vectors of LANES columns held in registers. */
#define REGISTER_TILE(NAME, R, NV)                                                                           \
    DK_INLINE void NAME(const float *a, size_t a_row, size_t a_step, const float *b, size_t b_step, float *c,  \
                        size_t ldc, size_t steps, int accumulate) {                                          \
        lanes_vec acc[R][NV];                                                                                \
        for (int r = 0; r < R; r++)                                                                          \
            for (int v = 0; v < NV; v++)                                                                     \
                acc[r][v] = accumulate ? *(const lanes_vecu *)(c + r * ldc + v * LANES) : (lanes_vec){0};    \
        for (size_t s = 0; s < steps; s++, a += a_step, b += b_step) {                                       \
            lanes_vec bv[NV];                                                                                \
            for (int v = 0; v < NV; v++) bv[v] = *(const lanes_vecu *)(b + v * LANES);                       \
            for (int r = 0; r < R; r++)                                                                      \
                for (int v = 0; v < NV; v++) acc[r][v] += a[r * a_row] * bv[v];                              \
        }                                                                                                    \
        for (int r = 0; r < R; r++)                                                                          \
            for (int v = 0; v < NV; v++) *(lanes_vecu *)(c + r * ldc + v * LANES) = acc[r][v];               \
    }

REGISTER_TILE(tile_6x4, 6, 4)
REGISTER_TILE(tile_12x2, 12, 2)
REGISTER_TILE(tile_12x1, 12, 1)
REGISTER_TILE(tile_4x4, 4, 4)
REGISTER_TILE(tile_8x2, 8, 2)
REGISTER_TILE(tile_16x1, 16, 1)
REGISTER_TILE(tile_3x2, 3, 2)
REGISTER_TILE(tile_6x1, 6, 1)
REGISTER_TILE(tile_4x1, 4, 1)
REGISTER_TILE(tile_3x1, 3, 1)
REGISTER_TILE(tile_2x1, 2, 1)
REGISTER_TILE(tile_1x1, 1, 1)

/* The register tiles for a path and a width of `cols` (a multiple of LANES): as many accumulators as
 * the path's registers hold with room for the row's vectors (24 zmm on AVX-512, 12 ymm on AVX2, 12 xmm
 * on the portable path), as few rows per vector as that allows (each row is a broadcast load). Forward
 * tiles' row counts divide ROW_GROUP, so the blocks take no single-row tiles; `transposed` products
 * (the weight gradient's, whose rows are channels, a multiple of LANES) take row counts dividing 16. */
typedef enum { T6x4, T12x2, T12x1, T4x4, T8x2, T16x1, T3x2, T6x1, T4x1, T3x1, T2x1 } tile_kind;

static const int g_tile_rows[] = {6, 12, 12, 4, 8, 16, 3, 6, 4, 3, 2};
static const int g_tile_vecs[] = {4, 2, 1, 4, 2, 1, 2, 1, 1, 1, 1};

static tile_kind choose_tile(size_t cols, int transposed) {
    switch (dk__isa()) {
    case DK_ISA_AVX512:
        if (transposed) return cols % 64 == 0 ? T4x4 : cols % 32 == 0 ? T8x2 : T16x1;
        return cols % 64 == 0 ? T6x4 : cols % 32 == 0 ? T12x2 : T12x1;
    case DK_ISA_AVX2:
        if (transposed) return T4x1;
        return cols % 32 == 0 ? T3x2 : T6x1;
    default: return transposed ? T2x1 : T3x1;
    }
}

/* One register tile of the kind given (a switch, not a function pointer: the tiles must be inlined
 * into each code path's copy of the caller to get its instructions). */
DK_INLINE void run_tile(tile_kind kind, const float *a, size_t a_row, size_t a_step, const float *b, size_t b_step,
                        float *c, size_t ldc, size_t steps, int accumulate) {
    switch (kind) {
    case T6x4: tile_6x4(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T12x2: tile_12x2(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T12x1: tile_12x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T4x4: tile_4x4(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T8x2: tile_8x2(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T16x1: tile_16x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T3x2: tile_3x2(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T6x1: tile_6x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T4x1: tile_4x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    case T3x1: tile_3x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    default: tile_2x1(a, a_row, a_step, b, b_step, c, ldc, steps, accumulate); break;
    }
}

/* c (rows x cols, cols a multiple of LANES) (+)= the product as REGISTER_TILE describes, on tiles of
 * the kind given; rows left over take single-row tiles. */
DK_INLINE void product(tile_kind kind, const float *a, size_t a_row, size_t a_step, const float *b, size_t b_step,
                       float *c, size_t ldc, size_t rows, size_t cols, size_t steps, int accumulate) {
    const size_t rows_per = (size_t)g_tile_rows[kind], width = (size_t)g_tile_vecs[kind] * LANES;
    size_t r = 0;
    for (; r + rows_per <= rows; r += rows_per)
        for (size_t k = 0; k < cols; k += width)
            run_tile(kind, a + r * a_row, a_row, a_step, b + k, b_step, c + r * ldc + k, ldc, steps, accumulate);
    for (; r < rows; r++)
        for (size_t k = 0; k < cols; k += LANES)
            tile_1x1(a + r * a_row, a_row, a_step, b + k, b_step, c + r * ldc + k, ldc, steps, accumulate);
}

/* ---------------------------------------------------------------- filters into points */

typedef struct {
    float *points;
    const float *weight;
    const geometry *g;
    int turned; /* the input gradient's filters: turned 180 degrees, input and output channels swapped */
} filter_args;

/* Channels [c0, c1) of U[p][c][k] = (G g G^T)[p] for every output channel (zeros past the real ones). */
static void filter_rows(void *p, size_t c0, size_t c1) {
    const filter_args *f = p;
    const geometry *g = f->g;
    const size_t C = (size_t)g->in_channels, K = (size_t)g->out_channels, Kp = (size_t)g->out_padded;
    for (size_t c = c0; c < c1; c++)
        for (size_t k = 0; k < Kp; k++) {
            float taps[3][3] = {{0}};
            if (c < C && k < K)
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 3; x++)
                        /* weight is (3, 3, in, out) of the layer; turned, this convolution's input channel c
                         * is the layer's output channel and its output channel k the layer's input one. */
                        taps[y][x] = f->turned ? f->weight[((size_t)((2 - y) * 3 + (2 - x)) * K + k) * C + c]
                                               : f->weight[((size_t)(y * 3 + x) * C + c) * K + k];
            float rows[PATCH_SIDE][3]; /* G g */
            for (int i = 0; i < PATCH_SIDE; i++)
                for (int x = 0; x < 3; x++) rows[i][x] = filter_row(i, taps[0][x], taps[1][x], taps[2][x]);
            for (int i = 0; i < PATCH_SIDE; i++)
                for (int j = 0; j < PATCH_SIDE; j++)
                    f->points[((size_t)(i * PATCH_SIDE + j) * g->in_padded + c) * Kp + k] =
                        filter_row(j, rows[i][0], rows[i][1], rows[i][2]);
        }
}

static void transform_filters(float *points, const float *weight, const geometry *g, int turned) {
    filter_args f = {points, weight, g, turned};
    dk__parallel_for((size_t)g->in_padded, 16, 1, filter_rows, &f);
}

/* ---------------------------------------------------------------- forward */

typedef struct {
    float *out;
    const float *inp, *points, *bias;
    const geometry *g;
    dk_activation act;
    float slope;
    int stream; /* whole tiles' lines go to memory with streaming stores (see forward_with_points) */
} forward_args;

DK_KERNEL(static, forward_block, (const forward_args *a, float *scratch, size_t t0, size_t t1),
          (a, scratch, t0, t1)) {
    const geometry *g = a->g;
    const dk_window *w = g->w;
    const size_t Cp = (size_t)g->in_padded, Kp = (size_t)g->out_padded;
    const size_t rows = (size_t)round_up((int)(t1 - t0), ROW_GROUP);
    const size_t v_stride = point_stride(rows, Cp), m_stride = point_stride(rows, Kp);
    float *v = scratch, *m = scratch + POINTS * v_stride; /* V[p][t][c], M[p][t][k] */
    const size_t image_in = (size_t)w->height * w->width * g->in_channels;
    const size_t image_out = (size_t)w->out_h * w->out_w * g->out_channels;
    for (size_t t = t0; t < t1; t++) {
        tile_place at = place_of(g, t);
        transform_patch(v + (t - t0) * Cp, v_stride, a->inp + at.image * image_in, g, at.oy - w->pad_top,
                        at.ox - w->pad_left, 0, PATCH_SIDE);
    }
    for (int p = 0; p < POINTS; p++)
        memset(v + (size_t)p * v_stride + (t1 - t0) * Cp, 0, (rows - (t1 - t0)) * Cp * sizeof(float));
    const tile_kind tile = choose_tile(Kp, 0);
    for (int p = 0; p < POINTS; p++)
        product(tile, v + (size_t)p * v_stride, Cp, 1, a->points + (size_t)p * Cp * Kp, Kp, m + (size_t)p * m_stride,
                Kp, rows, Kp, Cp, 0);
    for (size_t t = t0; t < t1; t++) {
        tile_place at = place_of(g, t);
        write_tile(a->out + at.image * image_out, g, at.oy, at.ox, m + (t - t0) * Kp, m_stride, a->bias, a->act,
                   a->slope, a->stream);
    }
}

static void forward_tiles(void *p, size_t t0, size_t t1) {
    const forward_args *a = p;
    int slot;
    float *scratch = dk__scratch_claim(&g_blocks, (int)(t0 / a->g->block), &slot);
    for (size_t t = t0; t < t1; t += a->g->block)
        forward_block(a, scratch, t, t1 - t < a->g->block ? t1 : t + a->g->block);
    if (a->stream) dk__stream_fence();
    dk__scratch_release(&g_blocks, slot);
}

/* The forward of window w with transformed filters `points`. */
static void forward_with_points(float *out, const float *inp, const float *points, const float *bias,
                                const geometry *g, dk_activation act, float slope) {
    const dk_window *w = g->w;
    const size_t out_count = (size_t)w->batch * w->out_h * w->out_w * g->out_channels;
    const size_t in_count = (size_t)w->batch * w->height * w->width * g->in_channels;
    /* A whole tile's stores fill cache lines where the channels are whole vectors and the output starts a
     * line: then a large output goes straight to memory, without each line read first. */
    const int lines = g->out_channels % LANES == 0 && ((uintptr_t)out & 63) == 0;
    forward_args a = {out, inp, points, bias, g, act, slope,
                      lines && dk__streams_output(out, out_count, inp, in_count, NULL, 0)};
    dk__parallel_for(g->tiles, g->block, 1, forward_tiles, &a);
}

void dk__conv2d_forward_winograd(float *out, const float *inp, const float *weight, const float *bias,
                                 int out_channels, const dk_window *w, dk_activation act, float act_alpha) {
    geometry g = geometry_of(w, out_channels);
    int slot;
    float *points = dk__scratch_claim(&g_points, 0, &slot);
    transform_filters(points, weight, &g, 0);
    forward_with_points(out, inp, points, bias, &g, act, act_alpha);
    dk__scratch_release(&g_points, slot);
}

/* ---------------------------------------------------------------- input gradient */

void dk__conv2d_backward_input_winograd(float *dinp, const float *dout, const float *weight, int out_channels,
                                        const dk_window *w) {
    /* The full convolution of dout: its output is the layer's input. */
    dk_window full = {w->batch, w->out_h, w->out_w, out_channels, 3, 3, 1, 1, 2 - w->pad_top, 2 - w->pad_left,
                      w->height, w->width};
    geometry g = geometry_of(&full, w->channels);
    int slot;
    float *points = dk__scratch_claim(&g_points, 0, &slot);
    transform_filters(points, weight, &g, 1);
    forward_with_points(dinp, dout, points, NULL, &g, DK_ACT_IDENTITY, 0.0f);
    dk__scratch_release(&g_points, slot);
}

/* ---------------------------------------------------------------- weight gradient */

typedef struct {
    float *parts; /* per part, the sum over its tiles of (A dY A^T) (.) V: POINTS x in_padded x out_padded */
    const float *dout, *inp;
    const geometry *g;
} weight_args;

static size_t part_floats(const geometry *g) { return (size_t)POINTS * g->in_padded * g->out_padded; }

/* Rows [i0, i1) of part `part`'s points, over its tiles in order, a block of tiles at a time. */
DK_KERNEL(static, weight_point_rows, (const weight_args *a, float *scratch, int part, int i0, int i1),
          (a, scratch, part, i0, i1)) {
    const geometry *g = a->g;
    const dk_window *w = g->w;
    const size_t Cp = (size_t)g->in_padded, Kp = (size_t)g->out_padded, block = g->block;
    const size_t points = (size_t)(i1 - i0) * PATCH_SIDE;
    const size_t v_stride = point_stride(block, Cp), d_stride = point_stride(block, Kp);
    float *v = scratch, *d = scratch + points * v_stride; /* V[p][t][c], D[p][t][k] */
    float *sums = a->parts + (size_t)part * part_floats(g) + (size_t)i0 * PATCH_SIDE * Cp * Kp;
    const size_t image_in = (size_t)w->height * w->width * g->in_channels;
    const size_t image_out = (size_t)w->out_h * w->out_w * g->out_channels;
    const size_t first = g->tiles * (size_t)part / WEIGHT_PARTS, end = g->tiles * (size_t)(part + 1) / WEIGHT_PARTS;
    if (first == end) memset(sums, 0, points * Cp * Kp * sizeof(float));
    const tile_kind tile = choose_tile(Kp, 1);
    for (size_t t0 = first; t0 < end; t0 += block) {
        const size_t t1 = end - t0 < block ? end : t0 + block;
        for (size_t t = t0; t < t1; t++) {
            tile_place at = place_of(g, t);
            transform_patch(v + (t - t0) * Cp, v_stride, a->inp + at.image * image_in, g, at.oy - w->pad_top,
                            at.ox - w->pad_left, i0, i1);
            transform_gradient(d + (t - t0) * Kp, d_stride, a->dout + at.image * image_out, g, at.oy, at.ox, i0, i1);
        }
        for (size_t p = 0; p < points; p++)
            product(tile, v + p * v_stride, 1, Cp, d + p * d_stride, Kp, sums + p * Cp * Kp, Kp, Cp, Kp,
                    t1 - t0, t0 > first);
    }
}

/* Tasks [k0, k1) of WEIGHT_PARTS x 6: task k is part k / 6's row k % 6 of points; each part's rows in
 * the range are done together, transforming its tiles once. */
static void weight_tasks(void *p, size_t k0, size_t k1) {
    const weight_args *a = p;
    int slot;
    float *scratch = dk__scratch_claim(&g_blocks, (int)k0, &slot);
    for (size_t k = k0; k < k1;) {
        const size_t part = k / PATCH_SIDE, rows_end = (part + 1) * PATCH_SIDE < k1 ? (part + 1) * PATCH_SIDE : k1;
        weight_point_rows(a, scratch, (int)part, (int)(k % PATCH_SIDE), (int)(rows_end - part * PATCH_SIDE));
        k = rows_end;
    }
    dk__scratch_release(&g_blocks, slot);
}

typedef struct {
    float *dweight;
    const float *parts;
    const geometry *g;
    float beta;
} weight_out_args;

/* Input channels [c0, c1) of dweight = G^T (the parts' points, added in order) G + beta * dweight. */
static void weight_from_points(void *p, size_t c0, size_t c1) {
    const weight_out_args *a = p;
    const geometry *g = a->g;
    const size_t C = (size_t)g->in_channels, K = (size_t)g->out_channels, Cp = (size_t)g->in_padded,
                 Kp = (size_t)g->out_padded;
    for (size_t c = c0; c < c1; c++)
        for (size_t k = 0; k < K; k++) {
            float u[PATCH_SIDE][PATCH_SIDE], cols[3][PATCH_SIDE]; /* G^T u: cols[y][j] */
            for (int i = 0; i < PATCH_SIDE; i++)
                for (int j = 0; j < PATCH_SIDE; j++) {
                    const float *at = a->parts + ((size_t)(i * PATCH_SIDE + j) * Cp + c) * Kp + k;
                    float sum = at[0];
                    for (int part = 1; part < WEIGHT_PARTS; part++) sum += at[(size_t)part * part_floats(g)];
                    u[i][j] = sum;
                }
            for (int j = 0; j < PATCH_SIDE; j++) {
                float column[PATCH_SIDE];
                for (int i = 0; i < PATCH_SIDE; i++) column[i] = u[i][j];
                for (int y = 0; y < 3; y++) cols[y][j] = filter_column(y, column);
            }
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) {
                    float *at = a->dweight + ((size_t)(y * 3 + x) * C + c) * K + k;
                    float grad = filter_column(x, cols[y]);
                    *at = a->beta == 0.0f ? grad : grad + a->beta * *at;
                }
        }
}

void dk__conv2d_backward_weight_winograd(float *dweight, const float *dout, const float *inp, int out_channels,
                                         const dk_window *w, float beta) {
    geometry g = geometry_of(w, out_channels);
    int slot;
    float *parts = dk__scratch_claim(&g_parts, 0, &slot);
    weight_args a = {parts, dout, inp, &g};
    dk__parallel_for((size_t)WEIGHT_PARTS * PATCH_SIDE, 1, 1, weight_tasks, &a);
    weight_out_args o = {dweight, parts, &g, beta};
    dk__parallel_for((size_t)g.in_channels, 8, 1, weight_from_points, &o);
    dk__scratch_release(&g_parts, slot);
}
