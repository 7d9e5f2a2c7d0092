/*
 * Weight gradient of convolutions with at most 16 filters (LeNet-5's two layers: 6 filters over one
 * channel, 16 over six). As a GEMM, dweight = im2col(inp)^T dout is at most 16 columns wide and its K
 * runs over every pixel of the batch, through an unfolded copy of the input. Here the filters sit in
 * the lanes of a vector and each field position of a group has its own accumulator: for each pixel,
 * its dout row is one vector and each position's input value is broadcast against it. Windows are
 * read where they lie, or from a zero-padded copy of the image when the layer pads.
 *
 * Groups of field positions (GROUP accumulators):
 *   segments: 16 consecutive floats of a kernel row (kernel_w * C of them): one offset per group, the
 *     positions at constant distances from it. The last segment of a row overlaps the one before
 *     when the row is not a multiple of 16 floats; each group keeps its own partial sums, and the
 *     positions both hold are added to dweight from the earlier one.
 *   rows: for rows shorter than 16 floats 3 or 5 wide (greyscale 3x3 and 5x5 kernels), whole kernel
 *     rows, each row's offset held in a register.
 *   table: otherwise 16 consecutive positions, each at an offset of its own read every pixel.
 *
 * Threads split the GEMM's K blocks of pixels; each block is summed from zero into partial sums of its
 * own, which are then added into dweight in block order, as the GEMM adds its blocks. Pixels are walked
 * by stepping (image, row, column) counters: a division per pixel cost more than its multiply-adds.
 *
 * Bits: each element of each block is one multiply-add chain over the block's pixels in order, from
 * zero, and the blocks are added as dk_sgemm adds them; so the results equal dk_im2col + dk_sgemm bit
 * for bit, for any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

#define GROUP 16  /* field positions per pass over a block's pixels: one accumulator each */
#define SCRATCH_FLOATS ((size_t)1 << 20)
/* Partial sums held at once (a pass of K blocks): they stay in L2 until they are added up. */
#define PARTIAL_FLOATS ((size_t)32 * 1024)

static dk_scratch_pool g_images = {.floats = SCRATCH_FLOATS};
static dk_scratch_pool g_partials = {.floats = PARTIAL_FLOATS};

typedef enum { GROUP_SEGMENTS, GROUP_ROWS, GROUP_TABLE } group_kind;

static size_t kernel_run(const dk_window *w) { return (size_t)w->kernel_w * w->channels; }
static size_t field_floats(const dk_window *w) { return (size_t)w->kernel_h * kernel_run(w); }

static group_kind kind_of(const dk_window *w) {
    if (kernel_run(w) >= GROUP) return GROUP_SEGMENTS;
    if (w->channels == 1 && (w->kernel_w == 3 || w->kernel_w == 5)) return GROUP_ROWS;
    return GROUP_TABLE;
}

static size_t segments_per_row(const dk_window *w) { return (kernel_run(w) + GROUP - 1) / GROUP; }
static size_t rows_per_group(const dk_window *w) { return GROUP / (size_t)w->kernel_w; }

static size_t group_count(const dk_window *w) {
    switch (kind_of(w)) {
    case GROUP_SEGMENTS: return (size_t)w->kernel_h * segments_per_row(w);
    case GROUP_ROWS: return ((size_t)w->kernel_h + rows_per_group(w) - 1) / rows_per_group(w);
    default: return (field_floats(w) + GROUP - 1) / GROUP;
    }
}

/* The field position of group g's first accumulator (the others follow it). A row's last segment may
 * begin inside the one before; group_overlap says how many of its first positions that one holds. */
static size_t group_first(const dk_window *w, size_t g) {
    switch (kind_of(w)) {
    case GROUP_SEGMENTS: {
        size_t run = kernel_run(w), per_row = segments_per_row(w), start = g % per_row * GROUP;
        return g / per_row * run + (start + GROUP <= run ? start : run - GROUP);
    }
    case GROUP_ROWS: return g * rows_per_group(w) * (size_t)w->kernel_w;
    default: return g * GROUP;
    }
}

/* Accumulators a group stores: a segment or table group all 16, a row group its whole rows. */
static size_t group_size(const dk_window *w) {
    return kind_of(w) == GROUP_ROWS ? rows_per_group(w) * (size_t)w->kernel_w : GROUP;
}

static size_t group_overlap(const dk_window *w, size_t g) {
    if (kind_of(w) != GROUP_SEGMENTS || g % segments_per_row(w) != segments_per_row(w) - 1) return 0;
    return segments_per_row(w) * GROUP - kernel_run(w);
}

int dk__conv2d_narrow_weight_applies(const dk_window *w, int out_channels) {
    size_t image = dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
    return out_channels >= 1 && out_channels <= LANES && w->out_w > 0 && w->out_h > 0 &&
           field_floats(w) <= (size_t)dk__blocking(dk__isa()).kc && image <= SCRATCH_FLOATS &&
           group_count(w) * GROUP <= DK_KC_MAX && group_count(w) * GROUP * LANES <= PARTIAL_FLOATS;
}

typedef struct {
    const dk__conv_weight *a;
    float *partials; /* per block of the pass: group_count x GROUP x LANES floats, group by group */
    size_t first_block;
} weight_pass;

/* Adds pixels [p0, p1) of one image (dout rows from `dout`, `n` floats each, loaded whole below
 * `full_rows`) into the accumulators of one group. kind and row_kw are constants at each call:
 * segments take offset[0], rows take offset[r] per kernel row of row_kw positions, the table offset[j]
 * per position. */
DK_INLINE void group_pixels(lanes_vec acc[GROUP], image_view v, const int *offset, const group_kind kind,
                            const int row_kw, const dk_window *w, size_t p0, size_t p1, const float *dout, int n,
                            size_t full_rows) {
    const size_t ow = (size_t)w->out_w, row_step = (size_t)w->stride_h * v.line;
    size_t ox = p0 % ow;
    const float *line = v.top + p0 / ow * row_step;
    for (size_t p = p0; p < p1; p++, dout += n) {
        lanes_vec d;
        if (p < full_rows) {
            /* Lanes past n hold the next pixels' gradients: they feed only lanes that are never stored. */
            d = *(const lanes_vecu *)dout;
        } else {
            float row[LANES] = {0};
            for (int f = 0; f < n; f++) row[f] = dout[f];
            d = *(const lanes_vecu *)row;
        }
        const float *window = line + ox * v.pixel_step;
        if (kind == GROUP_SEGMENTS)
            for (int j = 0; j < GROUP; j++) acc[j] += window[offset[0] + j] * d;
        else if (kind == GROUP_ROWS)
            for (int r = 0; r < GROUP / row_kw; r++)
                for (int kx = 0; kx < row_kw; kx++) acc[r * row_kw + kx] += window[offset[r] + kx] * d;
        else
            for (int j = 0; j < GROUP; j++) acc[j] += window[offset[j]] * d;
        if (++ox == ow) {
            ox = 0;
            line += row_step;
        }
    }
}

/* Blocks [first_block + i0, first_block + i1): each block's sums, from zero, into its partials. */
DK_KERNEL(static, narrow_weight_blocks, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const weight_pass *pass = p;
    const dk__conv_weight *a = pass->a;
    const dk_window *w = a->w;
    const int n = a->oc, padding = dk__window_reads_padding(w);
    const size_t C = (size_t)w->channels, run = kernel_run(w), field = field_floats(w);
    const size_t per_image = (size_t)w->out_h * w->out_w, m = (size_t)w->batch * per_image;
    const size_t groups = group_count(w);
    const group_kind kind = kind_of(w);
    const int row_kw = kind == GROUP_ROWS ? w->kernel_w : 0;
    const int size = (int)group_size(w);
    image_view view = {NULL, (padding ? dk__window_reach_w(w) : (size_t)w->width) * C, (size_t)w->stride_w * C};
    /* Pixels whose dout row can be loaded as a whole vector without reading past the end. */
    const size_t full_rows = m * n >= LANES ? (m * n - LANES) / n + 1 : 0;
    /* Group g's offsets from offset + g * GROUP; rows or positions past the field repeat the last one,
     * so that every read stays in the image. */
    int offset[DK_KC_MAX];
    for (size_t g = 0; g < groups; g++)
        for (size_t j = 0; j < GROUP; j++) {
            size_t k;
            if (kind == GROUP_ROWS) {
                size_t ky = g * rows_per_group(w) + j;
                k = (ky < (size_t)w->kernel_h ? ky : (size_t)w->kernel_h - 1) * run;
            } else {
                k = group_first(w, g) + (kind == GROUP_TABLE ? j : 0);
                if (k >= field) k = field - 1;
            }
            offset[g * GROUP + j] = (int)(k / run * view.line + k % run);
        }
    int slot;
    float *restrict padded = padding ? dk__scratch_claim(&g_images, (int)i0, &slot) : NULL;
    size_t image = (size_t)-1;
    for (size_t i = i0; i < i1; i++) {
        size_t b = pass->first_block + i;
        size_t r0 = b * a->step, r1 = r0 + a->step < m ? r0 + a->step : m;
        float *partial = pass->partials + i * groups * GROUP * LANES;
        for (size_t s0 = r0; s0 < r1;) {
            /* The block's pixels in one image. */
            size_t q0, q1, img = lanes_image_part(w, a->inp, padded, &view, &image, s0, r1, &q0, &q1);
            size_t s1 = img * per_image + q1;
            const float *d = a->dout + s0 * (size_t)n;
            size_t full = full_rows > s0 ? full_rows - img * per_image : 0;
            for (size_t g = 0; g < groups; g++) {
                lanes_vec acc[GROUP];
                lanes_vecu *saved = (lanes_vecu *)(partial + g * GROUP * LANES);
                for (int j = 0; j < GROUP; j++) acc[j] = s0 == r0 || j >= size ? (lanes_vec){0} : saved[j];
                const int *at = offset + g * GROUP;
                if (kind == GROUP_SEGMENTS) group_pixels(acc, view, at, GROUP_SEGMENTS, 0, w, q0, q1, d, n, full);
                else if (row_kw == 5) group_pixels(acc, view, at, GROUP_ROWS, 5, w, q0, q1, d, n, full);
                else if (row_kw == 3) group_pixels(acc, view, at, GROUP_ROWS, 3, w, q0, q1, d, n, full);
                else group_pixels(acc, view, at, GROUP_TABLE, 0, w, q0, q1, d, n, full);
                for (int j = 0; j < GROUP; j++)
                    if (j < size) saved[j] = acc[j];
            }
            s0 = s1;
        }
    }
    if (padding) dk__scratch_release(&g_images, slot);
}

void dk__conv2d_backward_weight_narrow(const dk__conv_weight *a) {
    const size_t field = field_floats(a->w), n = (size_t)a->oc, groups = group_count(a->w);
    const size_t per_block = groups * GROUP * LANES, pass_blocks = PARTIAL_FLOATS / per_block;
    const size_t size = group_size(a->w);
    int slot;
    float *partials = dk__scratch_claim(&g_partials, 0, &slot);
    for (size_t b0 = 0; b0 < a->blocks; b0 += pass_blocks) {
        size_t count = a->blocks - b0 < pass_blocks ? a->blocks - b0 : pass_blocks;
        weight_pass pass = {a, partials, b0};
        dk__parallel_for(count, 1, 1, narrow_weight_blocks, &pass);
        /* As the GEMM stores its K blocks, in order: C = beta * C + block for the first (never reading C
         * when beta is 0), C + block for every later one. */
        for (size_t i = 0; i < count; i++) {
            const float *block = partials + i * per_block;
            float beta = b0 + i == 0 ? a->beta : 1.0f;
            for (size_t g = 0; g < groups; g++)
                for (size_t j = group_overlap(a->w, g); j < size && group_first(a->w, g) + j < field; j++) {
                    float *c = a->dweight + (group_first(a->w, g) + j) * n;
                    const float *s = block + (g * GROUP + j) * LANES;
                    for (size_t f = 0; f < n; f++)
                        c[f] = beta == 0.0f ? s[f] : (beta == 1.0f ? c[f] + s[f] : s[f] + beta * c[f]);
                }
        }
    }
    dk__scratch_release(&g_partials, slot);
}
