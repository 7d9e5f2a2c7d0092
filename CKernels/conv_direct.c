/*
 * Direct kernels for thin convolutions on one input channel (a greyscale image's first layer, as in
 * LeNet-5: 6 filters of 5x5). As a GEMM, such a layer multiplies a 25-float field by 6 columns: the
 * micro-kernel's 32-wide tile is 81 % idle, its rows end in scalar edge stores, and unfolding the input
 * (one short run per window row) costs more than the products.
 *   forward: 16 output pixels of a row sit in the lanes of a vector, each filter has its own
 *     accumulator (4, 8 or 16 of them, the fewest that hold the filters), and the input rows are read
 *     from a zero-padded copy of the image: every input value feeds all filters at once.
 *   weight gradient: the filters sit in the lanes, each of up to 16 field positions has its own
 *     accumulator, and each pixel's window is read from a zero-padded copy of its image. The GEMM's K
 *     blocks of pixels are split between threads, each block summed into its own partial sums; the
 *     partial sums are then added into dweight in block order, as the GEMM adds its blocks.
 * Pixels are walked by stepping (image, row, column) counters: a division per pixel cost more than
 * its multiply-adds (BENCHMARKS.md).
 *
 * Bits: each output is accumulated in the GEMM's order, one multiply-add per term, padding included as
 * zeros, from zero within each of the GEMM's K blocks (the forward: one block over the field; the weight
 * gradient: dk_sgemm's blocks of pixels, each added to dweight as the GEMM adds them), and finished by
 * the same epilogue arithmetic; so the results equal dk_im2col + dk_sgemm(_bias_activation) bit for bit,
 * for any thread count.
 */
#include "internal.h"

#include <stddef.h>

#define LANES 16        /* output pixels per accumulator (forward), filters per vector (weight gradient) */
#define MAX_FILTERS 16
#define SCRATCH_FLOATS ((size_t)1 << 20)

/* Vector types (as in gemm_kernel.h), so each accumulator is one vector on every path rather than
 * whatever the auto-vectorizer makes of a 2-D array. */
typedef float lanes_vec __attribute__((vector_size(LANES * 4)));
typedef float lanes_vecu __attribute__((vector_size(LANES * 4), aligned(4), __may_alias__));

static dk_scratch_pool g_direct = {.floats = SCRATCH_FLOATS};

/* A padded image row of the forward: every LANES-wide load of an output block, at any kx, stays inside it. */
static size_t forward_span(const dk_window *w) { return (size_t)(w->out_w + LANES - 1) / LANES * LANES + w->kernel_w; }
/* Rows of a padded image: those the windows reach. */
static size_t padded_height(const dk_window *w) { return (size_t)(w->out_h - 1) * w->stride_h + w->kernel_h; }

int dk__conv2d_direct_applies(const dk_window *w, int out_channels) {
    size_t field = (size_t)w->kernel_h * w->kernel_w;
    size_t scratch = (field + 1) * MAX_FILTERS + padded_height(w) * forward_span(w);
    return w->channels == 1 && w->stride_w == 1 && out_channels >= 1 && out_channels <= MAX_FILTERS &&
           field <= (size_t)dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
}

/* Image `image` of inp, zero-padded into dst (rows of `span` floats): row y, column x of dst is input
 * row y - pad_top, column x - pad_left, or zero outside the input. */
DK_INLINE void pad_image(float *restrict dst, size_t span, const float *inp, size_t image, const dk_window *w) {
    const float *in = inp + image * (size_t)w->height * w->width;
    const size_t rows = padded_height(w);
    for (size_t y = 0; y < rows; y++) {
        int iy = (int)y - w->pad_top;
        for (size_t x = 0; x < span; x++) {
            int ix = (int)x - w->pad_left;
            dst[y * span + x] = iy >= 0 && iy < w->height && ix >= 0 && ix < w->width ? in[(size_t)iy * w->width + ix] : 0.0f;
        }
    }
}

/* ---------------------------------------------------------------- forward */

typedef int lanes_ivec __attribute__((vector_size(LANES * 4)));

/* The sums of filters [0, nf) for output pixels ox0 .. ox0 + LANES - 1 of one row, whose window rows
 * start at `rows` (each `span` floats), into sums[f]; with the GEMM's tile-store epilogue when `act`
 * is one it applies there (see gemm_kernel.h): + bias, then ReLU or leaky ReLU, elementwise as it does.
 * nf is a constant at each call, so the accumulators stay in registers. */
DK_INLINE void forward_block(float sums[][LANES], const float *rows, size_t span, const float *filters,
                             const float *bias, dk_activation act, float slope, int kh, int kw, const int nf) {
    lanes_vec acc[MAX_FILTERS];
    for (int f = 0; f < nf; f++) acc[f] = (lanes_vec){0};
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            lanes_vec v = *(const lanes_vecu *)(rows + (size_t)ky * span + kx);
            const float *restrict wk = filters + (size_t)(ky * kw + kx) * MAX_FILTERS;
            for (int f = 0; f < nf; f++) acc[f] += wk[f] * v;
        }
    for (int f = 0; f < nf; f++) {
        lanes_vec x = acc[f];
        if (bias) x = x + bias[f];
        lanes_ivec negative = x < 0.0f;
        if (act == DK_ACT_RELU) x = (lanes_vec)((lanes_ivec)x & ~negative);
        if (act == DK_ACT_LEAKY_RELU) x = (lanes_vec)(((lanes_ivec)(slope * x) & negative) | ((lanes_ivec)x & ~negative));
        *(lanes_vecu *)sums[f] = x;
    }
}

/* Output rows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, direct_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const dk__conv_forward *a = p;
    const dk_window *w = a->w;
    const int kh = w->kernel_h, kw = w->kernel_w, ow = w->out_w, n = a->oc;
    const size_t span = forward_span(w), field = (size_t)kh * kw;
    const int in_tiles = a->act == DK_ACT_IDENTITY || a->act == DK_ACT_RELU || a->act == DK_ACT_LEAKY_RELU;
    /* Bias and activation in the tiles, or (the exp-based activations) on the stored rows afterwards. */
    const dk_activation act = in_tiles ? a->act : DK_ACT_IDENTITY;
    int slot;
    float *mem = dk__scratch_claim(&g_direct, (int)r0, &slot);
    float *restrict filters = mem;                          /* field x MAX_FILTERS, zeros past n */
    float *restrict biases = mem + field * MAX_FILTERS;     /* MAX_FILTERS, zeros past n */
    float *restrict padded = biases + MAX_FILTERS;          /* the current image */
    for (size_t k = 0; k < field; k++)
        for (int f = 0; f < MAX_FILTERS; f++) filters[k * MAX_FILTERS + f] = f < n ? a->weight[k * n + f] : 0.0f;
    for (int f = 0; f < MAX_FILTERS; f++) biases[f] = f < n && a->bias ? a->bias[f] : 0.0f;
    const float *bias = in_tiles && a->bias ? biases : NULL;
    size_t image = r0 / (size_t)w->out_h;
    int oy = (int)(r0 % (size_t)w->out_h);
    pad_image(padded, span, a->inp, image, w);
    for (size_t row = r0; row < r1; row++) {
        if (oy == w->out_h) {
            oy = 0;
            pad_image(padded, span, a->inp, ++image, w);
        }
        const float *rows = padded + (size_t)oy * w->stride_h * span;
        float *out_row = a->out + row * (size_t)ow * n;
        for (int ox0 = 0; ox0 < ow; ox0 += LANES) {
            float sums[MAX_FILTERS][LANES];
            if (n <= 4) forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, 4);
            else if (n <= 8) forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, 8);
            else forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, MAX_FILTERS);
            /* Written pixel by pixel, filters contiguous: plain copies (vectorized, the loop reads the
             * sums with gathers, which took half the time). */
            int lanes = ow - ox0 < LANES ? ow - ox0 : LANES;
            for (int l = 0; l < lanes; l++) {
                float *o = out_row + (size_t)(ox0 + l) * n;
#pragma clang loop vectorize(disable)
                for (int f = 0; f < n; f++) o[f] = sums[f][l];
            }
        }
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        if (!in_tiles) dk__bias_activation_block(out_row, n, ow, n, a->bias, a->act, a->act_alpha);
        oy++;
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_forward_direct(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, direct_rows, (void *)a);
}

/* ---------------------------------------------------------------- weight gradient */

#define FIELD_GROUP 16  /* field positions per pass over a block's pixels: one accumulator each */
/* Partial sums held at once (a pass of K blocks): they stay in L2 until they are added up. */
#define PARTIAL_FLOATS ((size_t)32 * 1024)

static dk_scratch_pool g_partials = {.floats = PARTIAL_FLOATS};

typedef struct {
    const dk__conv_weight *a;
    float *partials; /* per block of the pass: groups x FIELD_GROUP x LANES floats */
    size_t first_block;
} weight_pass;

/* How a group's accumulators map to field positions. With a kernel 3 or 5 wide (the usual), a group is
 * FIELD_GROUP / kernel_w whole kernel rows: each position is one of a few row offsets, held in registers,
 * plus a constant. Otherwise a group is FIELD_GROUP consecutive positions, each at an offset of its own
 * read from a table every pixel. */
static int group_kernel_width(const dk_window *w) { return w->kernel_w == 3 || w->kernel_w == 5 ? w->kernel_w : 0; }
static size_t group_rows(const dk_window *w) { return FIELD_GROUP / (size_t)group_kernel_width(w); }

static size_t field_groups(const dk_window *w) {
    if (group_kernel_width(w)) return ((size_t)w->kernel_h + group_rows(w) - 1) / group_rows(w);
    return ((size_t)w->kernel_h * w->kernel_w + FIELD_GROUP - 1) / FIELD_GROUP;
}

/* The field position of group g's first accumulator (the others follow it). */
static size_t group_first(const dk_window *w, size_t g) {
    return g * (group_kernel_width(w) ? group_rows(w) * (size_t)w->kernel_w : FIELD_GROUP);
}

/* Adds pixels [p0, p1) of one image (dout rows from `dout`, `n` floats each, loaded whole below
 * `full_rows`) into the accumulators of one group. With row_kw (a constant: 3, 5, or 0 for the
 * table), offset holds the group's row offsets into the padded image, else each position's offset. */
DK_INLINE void weight_segment(lanes_vec acc[FIELD_GROUP], const float *padded, size_t span, const int *offset,
                              const int row_kw, const dk_window *w, size_t p0, size_t p1, const float *dout,
                              int n, size_t full_rows) {
    const size_t ow = (size_t)w->out_w, row_step = (size_t)w->stride_h * span;
    size_t ox = p0 % ow;
    const float *line = padded + p0 / ow * row_step;
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
        const float *window = line + ox;
        if (row_kw)
            for (int r = 0; r < FIELD_GROUP / row_kw; r++)
                for (int kx = 0; kx < row_kw; kx++) acc[r * row_kw + kx] += window[offset[r] + kx] * d;
        else
            for (int j = 0; j < FIELD_GROUP; j++) acc[j] += window[offset[j]] * d;
        if (++ox == ow) {
            ox = 0;
            line += row_step;
        }
    }
}

/* Blocks [first_block + i0, first_block + i1): each block's sums, from zero, into its partials. */
DK_KERNEL(static, direct_weight_blocks, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const weight_pass *pass = p;
    const dk__conv_weight *a = pass->a;
    const dk_window *w = a->w;
    const int kw = w->kernel_w, n = a->oc;
    const size_t field = (size_t)w->kernel_h * kw, per_image = (size_t)w->out_h * w->out_w;
    const size_t m = (size_t)w->batch * per_image, groups = field_groups(w);
    const size_t span = (size_t)w->out_w + kw - 1;
    /* Pixels whose dout row can be loaded as a whole vector without reading past the end. */
    const size_t full_rows = m * n >= LANES ? (m * n - LANES) / n + 1 : 0;
    /* Group g's offsets from offset + g * FIELD_GROUP: rows or positions past the field repeat the last
     * one, so every read stays in the padded image; their sums are never added to dweight. */
    const int row_kw = group_kernel_width(w);
    const int size = row_kw ? FIELD_GROUP / row_kw * row_kw : FIELD_GROUP; /* accumulators per group */
    int offset[DK_KC_MAX];
    for (size_t g = 0; g < groups; g++)
        for (size_t j = 0; j < FIELD_GROUP; j++) {
            size_t k = row_kw ? g * group_rows(w) + j : group_first(w, g) + j; /* a row, or a position */
            size_t last = row_kw ? (size_t)w->kernel_h - 1 : field - 1;
            if (k > last) k = last;
            offset[g * FIELD_GROUP + j] = row_kw ? (int)(k * span) : (int)(k / (size_t)kw * span + k % (size_t)kw);
        }
    int slot;
    float *restrict padded = dk__scratch_claim(&g_direct, (int)i0, &slot);
    size_t image = (size_t)-1;
    for (size_t i = i0; i < i1; i++) {
        size_t b = pass->first_block + i;
        size_t r0 = b * a->step, r1 = r0 + a->step < m ? r0 + a->step : m;
        float *partial = pass->partials + i * groups * FIELD_GROUP * LANES;
        for (size_t s0 = r0; s0 < r1;) {
            /* The block's pixels in image s0 / per_image. */
            size_t img = s0 / per_image, s1 = (img + 1) * per_image < r1 ? (img + 1) * per_image : r1;
            if (img != image) pad_image(padded, span, a->inp, image = img, w);
            for (size_t g = 0; g < groups; g++) {
                lanes_vec acc[FIELD_GROUP];
                lanes_vecu *saved = (lanes_vecu *)(partial + group_first(w, g) * LANES);
                for (int j = 0; j < FIELD_GROUP; j++) acc[j] = s0 == r0 || j >= size ? (lanes_vec){0} : saved[j];
                const int *at = offset + g * FIELD_GROUP;
                size_t q0 = s0 - img * per_image, q1 = s1 - img * per_image;
                const float *d = a->dout + s0 * (size_t)n;
                size_t full = full_rows > s0 ? full_rows - img * per_image : 0;
                if (row_kw == 5) weight_segment(acc, padded, span, at, 5, w, q0, q1, d, n, full);
                else if (row_kw == 3) weight_segment(acc, padded, span, at, 3, w, q0, q1, d, n, full);
                else weight_segment(acc, padded, span, at, 0, w, q0, q1, d, n, full);
                for (int j = 0; j < FIELD_GROUP; j++)
                    if (j < size) saved[j] = acc[j];
            }
            s0 = s1;
        }
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_backward_weight_direct(const dk__conv_weight *a) {
    const size_t field = (size_t)a->w->kernel_h * a->w->kernel_w, n = (size_t)a->oc;
    const size_t per_block = field_groups(a->w) * FIELD_GROUP * LANES;
    const size_t pass_blocks = PARTIAL_FLOATS / per_block < 1 ? 1 : PARTIAL_FLOATS / per_block;
    int slot;
    float *partials = dk__scratch_claim(&g_partials, 0, &slot);
    for (size_t b0 = 0; b0 < a->blocks; b0 += pass_blocks) {
        size_t count = a->blocks - b0 < pass_blocks ? a->blocks - b0 : pass_blocks;
        weight_pass pass = {a, partials, b0};
        dk__parallel_for(count, 1, 1, direct_weight_blocks, &pass);
        /* As the GEMM stores its K blocks, in order: C = beta * C + block for the first (never reading C
         * when beta is 0), C + block for every later one. */
        for (size_t i = 0; i < count; i++) {
            const float *block = partials + i * per_block;
            float beta = b0 + i == 0 ? a->beta : 1.0f;
            for (size_t k = 0; k < field; k++) {
                float *c = a->dweight + k * n;
                const float *s = block + k * LANES;
                for (size_t f = 0; f < n; f++)
                    c[f] = beta == 0.0f ? s[f] : (beta == 1.0f ? c[f] + s[f] : s[f] + beta * c[f]);
            }
        }
    }
    dk__scratch_release(&g_partials, slot);
}
