/*
 * Weight gradient of convolutions with 17 to 64 filters, on the AVX-512 path (the `cnn` preset's second
 * layer: 64 filters of 3x3 over 32 channels). As a GEMM, dweight = im2col(inp)^T dout runs its K over
 * every pixel of the batch, and each K block of pixels is first unfolded into a copy as large as the
 * block's reads. Here each window is read where it lies. A tile holds SEGMENT consecutive field
 * positions of one kernel row (consecutive floats of the image: one pointer per pixel) by one group of
 * 32 filters: 24 accumulators, of AVX-512's 32 registers; or, for a greyscale 3x3 kernel (the `cnn`
 * preset's first layer), the whole field's 9 positions, 3 in each of 3 image rows. For each pixel, the
 * group's dout floats are two vector loads and each position's input value is broadcast against them.
 *
 * Threads split the tiles (disjoint parts of dweight) and each walks the GEMM's K blocks in order: a
 * block's sums start from zero and are added to the tile's running totals as the GEMM adds its blocks
 * into C; the totals go to dweight once, after the last block. A kernel row whose
 * length is not a multiple of SEGMENT ends in a segment that overlaps the one before; both compute the
 * positions they share alike, and only the earlier one stores them.
 *
 * Bits: each element of each block is one multiply-add chain over the block's pixels in order, from
 * zero, and the blocks are added as dk_sgemm adds them; so the results equal dk_im2col + dk_sgemm bit for
 * bit, for any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

#define SEGMENT 12                /* field positions of a tile */
#define GREY_SIDE 3               /* a greyscale kernel's side, whose whole field is one tile */
#define GREY_FIELD (GREY_SIDE * GREY_SIDE)
#define GROUP_FILTERS (2 * LANES) /* filters of a tile */
#define MIN_FILTERS (LANES + 1)   /* fewer run in one vector (conv_narrow_weight.c) */
#define MAX_FILTERS (2 * GROUP_FILTERS)
#define TILE_FLOATS ((size_t)SEGMENT * GROUP_FILTERS)
#define CHUNK_PIXELS 64            /* pixels that every tile of a thread takes in turn */
#define SCRATCH_FLOATS ((size_t)1 << 20)
#define PARTIAL_FLOATS ((size_t)128 * 1024) /* a thread's tiles' chunk sums, then their running totals */

static dk_scratch_pool g_images = {.floats = SCRATCH_FLOATS};
static dk_scratch_pool g_partials = {.floats = PARTIAL_FLOATS};

static size_t kernel_run(const dk_window *w) { return (size_t)w->kernel_w * w->channels; }
static int greyscale_field(const dk_window *w) {
    return w->channels == 1 && w->kernel_h == GREY_SIDE && w->kernel_w == GREY_SIDE;
}
/* Tiles per kernel row (a greyscale field's one tile counts as its first row's). */
static size_t segments_per_row(const dk_window *w) {
    return greyscale_field(w) ? 1 : (kernel_run(w) + SEGMENT - 1) / SEGMENT;
}
static size_t tile_rows(const dk_window *w) { return greyscale_field(w) ? 1 : (size_t)w->kernel_h; }
static size_t filter_groups(int out_channels) { return ((size_t)out_channels + GROUP_FILTERS - 1) / GROUP_FILTERS; }
static size_t tile_count(const dk_window *w, int out_channels) {
    return tile_rows(w) * segments_per_row(w) * filter_groups(out_channels);
}

int dk__conv2d_wide_weight_applies(const dk_window *w, int out_channels) {
    size_t image = dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
    return dk__isa() == DK_ISA_AVX512 && out_channels >= MIN_FILTERS && out_channels <= MAX_FILTERS &&
           w->out_w > 0 && w->out_h > 0 && (kernel_run(w) >= SEGMENT || greyscale_field(w)) && image <= SCRATCH_FLOATS &&
           2 * tile_count(w, out_channels) * TILE_FLOATS <= PARTIAL_FLOATS;
}

/* Tile t: kernel row ky, segment s of it (positions [first, first + size) of the row; the field's, for a
 * greyscale one), filter group fg. The filter group varies slowest, so that a
 * thread's tiles share one group's dout floats (when it has more than one, those of few groups). */
typedef struct {
    size_t ky, first, size, overlap, fg;
} tile_place;

static tile_place place_of(const dk_window *w, int out_channels, size_t t) {
    size_t groups = filter_groups(out_channels), per_row = segments_per_row(w), run = kernel_run(w);
    size_t per_group = tile_rows(w) * per_row;
    size_t fg = t / per_group, s = t % per_group % per_row, ky = t % per_group / per_row, start = s * SEGMENT;
    if (greyscale_field(w)) return (tile_place){0, 0, GREY_FIELD, 0, fg};
    tile_place p = {ky, start + SEGMENT <= run ? start : run - SEGMENT, SEGMENT, 0, fg};
    p.overlap = start + SEGMENT <= run ? 0 : start + SEGMENT - run;
    return p;
}

/* Adds local pixels [q0, q1) of one image into a tile's accumulators: the group's dout floats from `dout`
 * on (a row of oc per pixel, the group's n <= 32 first; pixels below `full` load whole vectors, their
 * lanes past the group's filters feeding lanes never stored), the tile's positions from `offset` floats into each window on:
 * SEGMENT consecutive ones, or (constant `grey`) a greyscale 3x3 field's. */
DK_INLINE void tile_pixels(lanes_vec acc[SEGMENT][2], image_view v, size_t offset, const dk_window *w, size_t q0,
                           size_t q1, const float *dout, size_t oc, int n, size_t full, const int grey) {
    const size_t ow = (size_t)w->out_w, row_step = (size_t)w->stride_h * v.line;
    size_t ox = q0 % ow;
    const float *line = v.top + q0 / ow * row_step + offset;
    for (size_t q = q0; q < q1; q++, dout += oc) {
        lanes_vec d0, d1;
        if (q < full) {
            d0 = *(const lanes_vecu *)dout;
            d1 = *(const lanes_vecu *)(dout + LANES);
        } else {
            float row[GROUP_FILTERS] = {0};
            for (int f = 0; f < n; f++) row[f] = dout[f];
            d0 = *(const lanes_vecu *)row;
            d1 = *(const lanes_vecu *)(row + LANES);
        }
        const float *src = line + ox * v.pixel_step;
        _Pragma("clang loop unroll(full)") for (int j = 0; j < (grey ? GREY_FIELD : SEGMENT); j++) {
            float x = grey ? src[(size_t)(j / GREY_SIDE) * v.line + j % GREY_SIDE] : src[j];
            acc[j][0] += x * d0;
            acc[j][1] += x * d1;
        }
        if (++ox == ow) {
            ox = 0;
            line += row_step;
        }
    }
}

/* A block's sums of one tile into its running totals, as the GEMM adds a K block into C: beta * C + sums
 * for the first block (never reading C when beta is 0), totals + sums for every later one. The totals
 * stay in the thread's scratch until the last block: the threads' tiles interleave within dweight's
 * rows, and writing them there block after block made the two cores trade those lines. */
DK_INLINE void add_block(const dk__conv_weight *a, tile_place p, const float *sums, float *totals, int first) {
    const size_t oc = (size_t)a->oc;
    const int n = a->oc - (int)p.fg * GROUP_FILTERS;
    for (size_t j = p.overlap; j < p.size; j++) {
        const float *c = a->dweight + (p.ky * kernel_run(a->w) + p.first + j) * oc + p.fg * GROUP_FILTERS;
        for (int v = 0; v < 2 && n - v * LANES > 0; v++) {
            size_t at = (j * 2 + (size_t)v) * LANES;
            lanes_vec x = *(const lanes_vec *)(sums + at), old;
            if (!first) {
                x = *(const lanes_vec *)(totals + at) + x;
            } else if (a->beta != 0.0f) {
                lanes_load_first(&old, c + v * LANES, n - v * LANES);
                x = a->beta == 1.0f ? old + x : x + old * a->beta;
            }
            *(lanes_vec *)(totals + at) = x;
        }
    }
}

/* A tile's totals into dweight: the positions it computes alone (see place_of), its filters only. */
DK_INLINE void store_tile(const dk__conv_weight *a, tile_place p, const float *totals) {
    const size_t oc = (size_t)a->oc;
    const int n = a->oc - (int)p.fg * GROUP_FILTERS;
    for (size_t j = p.overlap; j < p.size; j++) {
        float *c = a->dweight + (p.ky * kernel_run(a->w) + p.first + j) * oc + p.fg * GROUP_FILTERS;
        for (int v = 0; v < 2 && n - v * LANES > 0; v++)
            lanes_store_first(c + v * LANES, (const lanes_vec *)(totals + (j * 2 + (size_t)v) * LANES), n - v * LANES);
    }
}

/* Tiles [t0, t1), over every K block in order. */
DK_KERNEL(static, wide_weight_tiles, (void *p, size_t t0, size_t t1), (p, t0, t1)) {
    const dk__conv_weight *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, oc = (size_t)a->oc;
    const size_t per_image = (size_t)w->out_h * w->out_w, m = (size_t)w->batch * per_image;
    const int padding = dk__window_reads_padding(w);
    image_view view = {NULL, (padding ? dk__window_reach_w(w) : (size_t)w->width) * C, (size_t)w->stride_w * C};
    int image_slot, partial_slot;
    float *restrict padded = padding ? dk__scratch_claim(&g_images, (int)t0, &image_slot) : NULL;
    float *restrict partials = dk__scratch_claim(&g_partials, (int)t0, &partial_slot);
    float *restrict totals = partials + (t1 - t0) * TILE_FLOATS;
    size_t image = (size_t)-1;
    for (size_t b = 0; b < a->blocks; b++) {
        size_t r0 = b * a->step, r1 = r0 + a->step < m ? r0 + a->step : m;
        for (size_t s0 = r0; s0 < r1;) {
            /* The block's next pixels in one image, a chunk whose dout rows and windows all the thread's
             * tiles read while they are in L1. */
            size_t q0, q1, img = lanes_image_part(w, a->inp, padded, &view, &image, s0, r1, &q0, &q1);
            if (q1 - q0 > CHUNK_PIXELS) q1 = q0 + CHUNK_PIXELS;
            for (size_t t = t0; t < t1; t++) {
                tile_place place = place_of(w, a->oc, t);
                size_t group_offset = place.fg * GROUP_FILTERS;
                /* Pixels whose 32 dout floats from the group's first lie inside dout. */
                size_t end = m * oc >= group_offset + GROUP_FILTERS ? (m * oc - group_offset - GROUP_FILTERS) / oc + 1 : 0;
                size_t full = end > img * per_image ? end - img * per_image : 0;
                lanes_vec acc[SEGMENT][2];
                lanes_vecu *saved = (lanes_vecu *)(partials + (t - t0) * TILE_FLOATS);
                for (int j = 0; j < SEGMENT; j++)
                    for (int v = 0; v < 2; v++) acc[j][v] = s0 == r0 ? (lanes_vec){0} : saved[j * 2 + v];
                const float *d = a->dout + s0 * oc + group_offset;
                size_t offset = place.ky * view.line + place.first;
                int n = a->oc - (int)group_offset < GROUP_FILTERS ? a->oc - (int)group_offset : GROUP_FILTERS;
                if (greyscale_field(w))
                    tile_pixels(acc, view, offset, w, q0, q1, d, oc, n, full, 1);
                else
                    tile_pixels(acc, view, offset, w, q0, q1, d, oc, n, full, 0);
                for (int j = 0; j < SEGMENT; j++)
                    for (int v = 0; v < 2; v++) saved[j * 2 + v] = acc[j][v];
            }
            s0 = img * per_image + q1;
        }
        for (size_t t = t0; t < t1; t++)
            add_block(a, place_of(w, a->oc, t), partials + (t - t0) * TILE_FLOATS, totals + (t - t0) * TILE_FLOATS,
                      b == 0);
    }
    for (size_t t = t0; t < t1; t++) store_tile(a, place_of(w, a->oc, t), totals + (t - t0) * TILE_FLOATS);
    dk__scratch_release(&g_partials, partial_slot);
    if (padding) dk__scratch_release(&g_images, image_slot);
}

void dk__conv2d_backward_weight_wide(const dk__conv_weight *a) {
    dk__parallel_for(tile_count(a->w, a->oc), 1, 1, wide_weight_tiles, (void *)a);
}
