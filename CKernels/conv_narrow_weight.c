/*
 * Weight gradient of convolutions with at most 16 filters (LeNet-5's two layers: 6 filters over one
 * channel, 16 over six). As a GEMM, dweight = im2col(inp)^T dout is at most 16 columns wide and its K
 * runs over every pixel of the batch, through an unfolded copy of the input. Here the filters sit in
 * the lanes of a vector (16 lanes, or 8 for at most 8 filters: the pixel loops are a template,
 * conv_narrow_weight_lanes.h) and each field position of a group has its own accumulator: for each
 * pixel, its dout row is one vector and each position's input value is broadcast against it. Windows
 * are read where they lie, or from a zero-padded copy of the image when the layer pads.
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
/* Partial sums held at once (a pass of K blocks): they stay in L2 until they are added up. 512 KB holds all
 * of LeNet-5's second layer at batch 128 (50 blocks of 160 x 16 floats) in one pass: in five, the forks and
 * joins and the uneven last pass took a quarter of its 2-thread time. */
#define PARTIAL_FLOATS ((size_t)128 * 1024)

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
/* The kernel rows row group g holds: rows_per_group, or fewer in the last group. */
static size_t group_rows(const dk_window *w, size_t g) {
    size_t first = g * rows_per_group(w), left = (size_t)w->kernel_h - first;
    return left < rows_per_group(w) ? left : rows_per_group(w);
}

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
    float *partials; /* per block of the pass: group_count x GROUP x (the worker's lanes) floats, group by group */
    size_t first_block, count; /* the pass's blocks */
} weight_pass;

/* Filters in 16 lanes, or in 8 for at most 8 filters: an 8-lane FMA does as much useful work as a 16-lane
 * one then, and where a 512-bit FMA runs as two 256-bit halves (Zen 4) it costs half as much. */
#define NW_LANES 16
#define NW_VEC lanes_vec
#define NW_VECU lanes_vecu
#include "conv_narrow_weight_lanes.h"
#undef NW_LANES
#undef NW_VEC
#undef NW_VECU

typedef float half_vec __attribute__((vector_size(32)));
typedef float half_vecu __attribute__((vector_size(32), aligned(4), __may_alias__));
#define NW_LANES 8
#define NW_VEC half_vec
#define NW_VECU half_vecu
#include "conv_narrow_weight_lanes.h"
#undef NW_LANES
#undef NW_VEC
#undef NW_VECU

/* The pass's blocks added into dweight for groups [g0, g1), in block order as the GEMM stores its K blocks
 * (see lanes_add_block). Each element of dweight belongs to one group (a position two segments hold is
 * added from the earlier), so the groups split between threads. */
DK_KERNEL(static, narrow_weight_add, (void *p, size_t g0, size_t g1), (p, g0, g1)) {
    const weight_pass *pass = p;
    const dk__conv_weight *a = pass->a;
    const size_t field = field_floats(a->w), n = (size_t)a->oc, groups = group_count(a->w);
    const size_t lanes = n <= 8 ? 8 : LANES, per_block = groups * GROUP * lanes, size = group_size(a->w);
    for (size_t i = 0; i < pass->count; i++) {
        const float *block = pass->partials + i * per_block;
        float beta = pass->first_block + i == 0 ? a->beta : 1.0f;
        for (size_t g = g0; g < g1; g++) {
            /* (Bounds worked out once per group: a block adds a few hundred floats, so a division
             * per position took as long as the additions.) */
            const size_t first = group_first(a->w, g), end = field - first < size ? field - first : size;
            for (size_t j = group_overlap(a->w, g); j < end; j++)
                lanes_add_block(a->dweight + (first + j) * n, block + (g * GROUP + j) * lanes, n, beta);
        }
    }
}

void dk__conv2d_backward_weight_narrow(const dk__conv_weight *a) {
    const size_t n = (size_t)a->oc, groups = group_count(a->w);
    const size_t lanes = n <= 8 ? 8 : LANES;
    const size_t per_block = groups * GROUP * lanes, pass_blocks = PARTIAL_FLOATS / per_block;
    int slot;
    float *partials = dk__scratch_claim(&g_partials, 0, &slot);
    for (size_t b0 = 0; b0 < a->blocks; b0 += pass_blocks) {
        size_t count = a->blocks - b0 < pass_blocks ? a->blocks - b0 : pass_blocks;
        weight_pass pass = {a, partials, b0, count};
        dk__parallel_for(count, 1, 1, lanes == 8 ? narrow_weight_blocks8 : narrow_weight_blocks16, &pass);
        dk__parallel_for(groups, 1, 1, narrow_weight_add, &pass);
    }
    dk__scratch_release(&g_partials, slot);
}
