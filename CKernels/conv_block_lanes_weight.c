/*
 * Weight gradient of greyscale convolutions that keep the image's size (stride 1, padding "same") with at
 * most 8 filters, on the AVX-512 path: LeNet-5's first layer, 6 filters of 5x5. As a GEMM, dweight =
 * im2col(inp)^T dout has 150 elements, each summed over the batch's pixels in dk_sgemm's K blocks.
 * conv_narrow_weight.c holds the filters in a vector's lanes, which fills 6 of 8; here the lanes hold 16 K
 * blocks instead: lane l of an accumulator is one element's chain over block l's pixels, so every lane works
 * and each chain is the GEMM's.
 *
 * That needs the 16 blocks of a group to meet the same windows at the same step: blocks whose first pixel
 * lies in the same image column (block indices congruent modulo the column period). Then pixel p of each of
 * them sits at the same column, in the same row of its block, and
 *   - each lane's input rows (those its block's windows reach, zero-padded left and right) are transposed
 *     into lanes once per group, so a window position is one vector offset for all the lanes;
 *   - per output row and kernel row, a lane mask zeroes the rows above or below the lane's image (the
 *     vertical padding, where the flat rows run on into the neighbouring image of the batch);
 *   - each lane's dout (n floats per pixel, contiguous over the block) is transposed as the rows need it.
 * Each pixel then costs kernel_w + F vector loads for kernel_w x F multiply-adds (F ≤ 4 filters per pass),
 * into accumulators that stay in registers along an output row.
 *
 * Bits: each lane's chains run over its block's pixels in order from zero (a window position in the padding
 * adds 0 x dout, as im2col's zeros do), and the blocks' sums are added into dweight in block order as
 * dk_sgemm adds its K blocks; so the results equal dk_im2col + dk_sgemm's bit for bit, for any thread count.
 * A block shorter than the others (the last, when the pixels do not divide evenly) runs on past the end of
 * the batch, which ends at an image's last row: there its dout is zero and every window position reads
 * zeros, so it adds +0 to sums that are never -0 (they start at +0, and an exact zero sum rounds to +0),
 * which leaves them as they are.
 */
#include "conv_lanes.h"

#include <stddef.h>
#include <string.h>

#define MAX_FILTERS 8
#define MAX_KERNEL_H 7
/* Filters per pass over a row: 5 x 4 accumulators, 4 dout vectors and an input vector fit AVX-512's 32
 * registers. */
#define MAX_PASS_FILTERS 4
/* Partial sums of the blocks of one pass (field x filters floats each), added into dweight after it. */
#define PARTIAL_FLOATS ((size_t)128 * 1024)
/* A worker's transposed input rows, masked rows, transposed dout, accumulators, zeros and copies. */
#define WORK_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_partials = {.floats = PARTIAL_FLOATS};
static dk_scratch_pool g_work = {.floats = WORK_FLOATS};

typedef struct {
    size_t W, H, kh, kw, pt, pl, n, field;
    size_t m, step, blocks;
    size_t period; /* blocks whose indices are congruent modulo this start in the same image column */
    size_t rows;   /* output rows a block reaches at most */
    size_t line;   /* vectors (columns) per transposed input row: the padded row, whole chunks of 16 */
    size_t tail;   /* input floats at the end of the batch, from which 16 floats cannot be read in place */
    /* A worker's memory, in floats from its start: transposed input rows (from 0), masked rows, transposed
     * dout, accumulators, zeros, the short block's dout, the input's tail. */
    size_t at_s, at_d, at_acc, at_zeros, at_short, at_tail, work;
} geometry;

static size_t gcd(size_t a, size_t b) {
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}
static size_t round16(size_t x) { return (x + LANES - 1) / LANES * LANES; }

static geometry geometry_of(const dk_window *w, int n, size_t step, size_t blocks) {
    geometry g;
    g.W = (size_t)w->width, g.H = (size_t)w->height, g.kh = (size_t)w->kernel_h, g.kw = (size_t)w->kernel_w;
    g.pt = (size_t)w->pad_top, g.pl = (size_t)w->pad_left, g.n = (size_t)n, g.field = g.kh * g.kw;
    g.m = (size_t)w->batch * g.H * g.W, g.step = step, g.blocks = blocks;
    g.period = g.W / gcd(step, g.W);
    g.rows = (g.W - 1 + step - 1) / g.W + 1;
    size_t padded = g.W + g.kw - 1, chunks = g.pl + round16(g.W);
    g.line = padded > chunks ? padded : chunks;
    const size_t u = (g.rows + g.kh - 1) * g.line * LANES, s = g.kh * g.line * LANES;
    const size_t dout = round16(step * g.n) * LANES, acc = g.field * g.n * LANES;
    const size_t zeros = round16(step * g.n > g.W ? step * g.n : g.W) + LANES;
    g.at_s = u, g.at_d = g.at_s + s, g.at_acc = g.at_d + dout, g.at_zeros = g.at_acc + acc;
    g.tail = g.m < round16(g.W) + g.W ? g.m : round16(g.W) + g.W;
    g.at_short = g.at_zeros + zeros, g.at_tail = g.at_short + zeros, g.work = g.at_tail + g.tail + LANES;
    return g;
}

/* Blocks of [b0, b1) in residue class r modulo the period: the first, and how many. */
static size_t class_first(const geometry *g, size_t b0, size_t r) { return b0 + (r + g->period - b0 % g->period) % g->period; }
static size_t class_count(const geometry *g, size_t b0, size_t b1, size_t r) {
    size_t first = class_first(g, b0, r);
    return first < b1 ? (b1 - 1 - first) / g->period + 1 : 0;
}
/* Groups of up to LANES blocks of one class that cover [b0, b1). */
static size_t group_count(const geometry *g, size_t b0, size_t b1) {
    size_t groups = 0;
    for (size_t r = 0; r < g->period; r++) groups += (class_count(g, b0, b1, r) + LANES - 1) / LANES;
    return groups;
}

int dk__conv2d_block_lanes_weight_applies(const dk_window *w, int out_channels) {
    /* Only the AVX-512 path: with 8-float registers the filters-in-lanes kernel already fills whole vectors
     * (6 filters in 8 lanes) and measured faster (0.71-0.74 against 0.78-0.84 ms for LeNet-5's first layer on
     * 1 thread, AVX2 path of an Emerald Rapids; the portable path likewise). */
    if (dk__isa() != DK_ISA_AVX512) return 0;
    if (w->channels != 1 || w->stride_h != 1 || w->stride_w != 1 || w->out_h != w->height ||
        w->out_w != w->width || w->out_w <= 0 || w->out_h <= 0 || w->batch <= 0)
        return 0;
    if (out_channels < 1 || out_channels > MAX_FILTERS || (w->kernel_w != 3 && w->kernel_w != 5) ||
        w->kernel_h < 1 || w->kernel_h > MAX_KERNEL_H || w->pad_top < 0 || w->pad_left < 0 ||
        w->pad_top >= w->kernel_h || w->pad_left >= w->kernel_w)
        return 0;
    const size_t kc = (size_t)dk__blocking(dk__isa()).kc, field = (size_t)w->kernel_h * w->kernel_w;
    const size_t m = (size_t)w->batch * w->height * w->width, blocks = (m + kc - 1) / kc;
    if (field > kc || field * out_channels > PARTIAL_FLOATS) return 0;
    geometry g = geometry_of(w, out_channels, (m + blocks - 1) / blocks, blocks);
    if (g.work > WORK_FLOATS) return 0;
    /* With half its lanes holding a block it is about level with the filters-in-lanes kernel (6 filters of
     * 5x5, AVX-512: 0.40 against 0.73 ms on one thread with 7 in 8 lanes used). */
    return 2 * blocks >= group_count(&g, 0, blocks) * LANES;
}

/* Transposes 16 x 16 floats in registers: lane j of r[i] becomes lane i of r[j]. Each round sends the
 * element at (row, column), as the 8 bits row:column, to the rotation of those bits left by one (rows i and
 * i + 8 interleaved into rows 2i and 2i + 1); four rounds swap row and column. */
DK_INLINE void transpose16(lanes_vec r[LANES]) {
    for (int round = 0; round < 4; round++) {
        lanes_vec t[LANES];
        for (int i = 0; i < 8; i++) {
            t[2 * i] = __builtin_shufflevector(r[i], r[i + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            t[2 * i + 1] =
                __builtin_shufflevector(r[i], r[i + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        }
        for (int i = 0; i < LANES; i++) r[i] = t[i];
    }
}

/* dst[i] lane l = src[l][at + i] for i < count: whole chunks of 16 through transpose16 while `whole` says
 * 16 floats from src[l] + at can be read, the rest element by element. */
DK_INLINE void transpose_into_lanes(lanes_vec *restrict dst, const float *const src[LANES], size_t at, size_t count,
                                    size_t whole) {
    size_t i = 0;
    for (; i + LANES <= count && at + i + LANES <= whole; i += LANES) {
        lanes_vec r[LANES];
        for (int l = 0; l < LANES; l++) r[l] = *(const lanes_vecu *)(src[l] + at + i);
        transpose16(r);
        for (int j = 0; j < LANES; j++) dst[i + j] = r[j];
    }
    for (; i < count; i++) {
        float lanes[LANES];
        for (int l = 0; l < LANES; l++) lanes[l] = src[l][at + i];
        dst[i] = *(const lanes_vecu *)lanes;
    }
}

/* One output row's pixels for one kernel row and F filters: acc[kx * n + f] += s[i + kx] * d[i * n + f] for
 * each pixel i < count, held in registers across the row. */
DK_INLINE void row_pass(lanes_vec *restrict acc, size_t n, const lanes_vec *restrict s, const lanes_vec *restrict d,
                        size_t count, const int KW, const int F) {
    lanes_vec a[5][MAX_PASS_FILTERS];
    for (int kx = 0; kx < KW; kx++)
        for (int f = 0; f < F; f++) a[kx][f] = acc[(size_t)kx * n + f];
    for (size_t i = 0; i < count; i++, s++, d += n)
        for (int f = 0; f < F; f++) {
            const lanes_vec dv = d[f];
            for (int kx = 0; kx < KW; kx++) a[kx][f] += s[kx] * dv;
        }
    for (int kx = 0; kx < KW; kx++)
        for (int f = 0; f < F; f++) acc[(size_t)kx * n + f] = a[kx][f];
}

typedef struct {
    const dk__conv_weight *a;
    geometry g;
    size_t b0, b1;   /* the pass's blocks */
    float *partials; /* per block of the pass: field x n floats */
} lanes_pass;

/* The sums of one group's blocks (first, first + period, ... ; `lanes` of them) into their partials. */
DK_INLINE void group_sums(const lanes_pass *pass, float *work, size_t first, int lanes) {
    const dk__conv_weight *a = pass->a;
    const geometry *g = &pass->g;
    const size_t W = g->W, n = g->n, step = g->step, line = g->line, flat_rows = g->m / W;
    lanes_vec *U = (lanes_vec *)work, *S = (lanes_vec *)(work + g->at_s), *D = (lanes_vec *)(work + g->at_d);
    lanes_vec *acc = (lanes_vec *)(work + g->at_acc);
    const float *zeros = work + g->at_zeros, *tail = work + g->at_tail;
    float *short_dout = work + g->at_short;

    const float *dsrc[LANES], *rsrc[LANES];
    long flat0[LANES];
    for (int l = 0; l < LANES; l++) {
        size_t b = first + (size_t)l * g->period;
        if (l >= lanes) {
            dsrc[l] = zeros, flat0[l] = -(long)(g->rows + g->kh);
            continue;
        }
        size_t q0 = b * step, len = g->m - q0 < step ? g->m - q0 : step;
        flat0[l] = (long)(q0 / W);
        if (len < step) {
            /* The last block: its dout ends with the array, so it is read from a zero-padded copy. */
            memcpy(short_dout, a->dout + q0 * n, len * n * sizeof(float));
            memset(short_dout + len * n, 0, (step - len) * n * sizeof(float));
            dsrc[l] = short_dout;
        } else {
            dsrc[l] = a->dout + q0 * n;
        }
    }
    const size_t x0 = first * step % W, rows = (x0 + step - 1) / W + 1;

    /* Each lane's input rows flat0 - pt ... (zeros outside the batch), padded: U[j * line + column]. Whole
     * chunks of 16 columns are read, the last running on into the next row (or, at the end of the batch, the
     * tail's zeros); the columns past the row are zeroed after. */
    for (size_t j = 0; j < rows + g->kh - 1; j++) {
        for (int l = 0; l < LANES; l++) {
            long fr = flat0[l] + (long)j - (long)g->pt;
            size_t at = (size_t)fr * W;
            rsrc[l] = fr < 0 || (size_t)fr >= flat_rows ? zeros
                      : at + g->tail < g->m     ? a->inp + at
                                                : tail + (at - (g->m - g->tail));
        }
        lanes_vec *row = U + j * line;
        for (size_t c = 0; c < g->pl; c++) row[c] = (lanes_vec){0};
        transpose_into_lanes(row + g->pl, rsrc, 0, round16(W), round16(W));
        for (size_t c = g->pl + W; c < line; c++) row[c] = (lanes_vec){0};
    }
    for (size_t e = 0; e < g->field * n; e++) acc[e] = (lanes_vec){0};

    const int filter_groups = (int)(n + MAX_PASS_FILTERS - 1) / MAX_PASS_FILTERS;
    size_t transposed = 0; /* dout floats of the block transposed so far */
    for (size_t r = 0; r < rows; r++) {
        const size_t p_begin = r == 0 ? 0 : r * W - x0, row_end = (r + 1) * W - x0;
        const size_t p_end = row_end < step ? row_end : step, x_begin = r == 0 ? x0 : 0, count = p_end - p_begin;
        if (transposed < p_end * n) {
            size_t upto = round16(p_end * n) < step * n ? round16(p_end * n) : step * n;
            /* 16 floats at a time while they stay in the block (a short block reads its padded copy). */
            transpose_into_lanes(D + transposed, dsrc, transposed, upto - transposed, step * n);
            transposed = upto;
        }
        /* The rows each kernel row reads, zero in the lanes whose image they are not in. */
        int y[LANES] __attribute__((aligned(64)));
        for (int l = 0; l < LANES; l++) y[l] = flat0[l] < 0 ? 0 : (int)(((size_t)flat0[l] + r) % g->H);
        const size_t columns = count + g->kw - 1;
        const lanes_vec *rows_of[MAX_KERNEL_H];
        for (size_t ky = 0; ky < g->kh; ky++) {
            const lanes_vec *src = U + (r + ky) * line + x_begin;
            int all_inside = 1;
            for (int l = 0; l < LANES; l++) all_inside &= (unsigned)(y[l] + (int)ky - (int)g->pt) < (unsigned)g->H;
            if (all_inside) {
                rows_of[ky] = src;
                continue;
            }
            lanes_ivec t = *(const lanes_ivec *)y + (int)ky - (int)g->pt;
            lanes_ivec inside = (t >= 0) & (t < (int)g->H);
            lanes_vec *dst = S + ky * line;
            for (size_t c = 0; c < columns; c++) dst[c] = (lanes_vec)((lanes_ivec)src[c] & inside);
            rows_of[ky] = dst;
        }
        for (size_t ky = 0; ky < g->kh; ky++)
            for (int fg = 0; fg < filter_groups; fg++) {
                const int f0 = (int)((size_t)fg * n / filter_groups), F = (int)((size_t)(fg + 1) * n / filter_groups) - f0;
                lanes_vec *at = acc + ky * g->kw * n + f0;
                const lanes_vec *s = rows_of[ky], *d = D + p_begin * n + f0;
#define ROW_PASS(KW, FF) row_pass(at, n, s, d, count, KW, FF)
#define ROW_PASS_F(KW)                                                                                             \
    switch (F) {                                                                                                   \
    case 4: ROW_PASS(KW, 4); break;                                                                                \
    case 3: ROW_PASS(KW, 3); break;                                                                                \
    case 2: ROW_PASS(KW, 2); break;                                                                                \
    default: ROW_PASS(KW, 1); break;                                                                               \
    }
                if (g->kw == 5) ROW_PASS_F(5) else ROW_PASS_F(3)
#undef ROW_PASS_F
#undef ROW_PASS
            }
    }

    /* Lane l of the accumulators is block first + l * period's sums: out through the same transposes. */
    const size_t E = g->field * n, E16 = E / LANES * LANES;
    for (size_t e0 = 0; e0 < E16; e0 += LANES) {
        lanes_vec v[LANES];
        for (int i = 0; i < LANES; i++) v[i] = acc[e0 + i];
        transpose16(v);
        for (int l = 0; l < lanes; l++)
            *(lanes_vecu *)(pass->partials + (first + (size_t)l * g->period - pass->b0) * E + e0) = v[l];
    }
    for (size_t e = E16; e < E; e++) {
        float lanes_of[LANES];
        *(lanes_vecu *)lanes_of = acc[e];
        for (int l = 0; l < lanes; l++) pass->partials[(first + (size_t)l * g->period - pass->b0) * E + e] = lanes_of[l];
    }
}

/* Groups [g0, g1) of the pass, numbered class by class. */
DK_KERNEL(static, block_lanes_groups, (void *p, size_t g0, size_t g1), (p, g0, g1)) {
    const lanes_pass *pass = p;
    const geometry *g = &pass->g;
    int slot;
    float *work = dk__scratch_claim(&g_work, (int)g0, &slot);
    memset(work + g->at_zeros, 0, (g->at_short - g->at_zeros) * sizeof(float));
    /* The batch's last input floats, then zeros: rows there are read 16 floats at a time from this copy. */
    memcpy(work + g->at_tail, pass->a->inp + (g->m - g->tail), g->tail * sizeof(float));
    memset(work + g->at_tail + g->tail, 0, LANES * sizeof(float));
    size_t index = 0;
    for (size_t r = 0; r < g->period && index < g1; r++) {
        const size_t count = class_count(g, pass->b0, pass->b1, r), first = class_first(g, pass->b0, r);
        for (size_t j = 0; j * LANES < count; j++, index++) {
            if (index < g0 || index >= g1) continue;
            size_t left = count - j * LANES;
            group_sums(pass, work, first + j * LANES * g->period, left < LANES ? (int)left : LANES);
        }
    }
    dk__scratch_release(&g_work, slot);
}

void dk__conv2d_backward_weight_block_lanes(const dk__conv_weight *a) {
    lanes_pass pass = {a, geometry_of(a->w, a->oc, a->step, a->blocks), 0, 0, NULL};
    const size_t E = pass.g.field * pass.g.n, pass_blocks = PARTIAL_FLOATS / E;
    int slot;
    pass.partials = dk__scratch_claim(&g_partials, 0, &slot);
    for (size_t b0 = 0; b0 < a->blocks; b0 += pass_blocks) {
        pass.b0 = b0;
        pass.b1 = a->blocks - b0 < pass_blocks ? a->blocks : b0 + pass_blocks;
        dk__parallel_for(group_count(&pass.g, pass.b0, pass.b1), 1, 1, block_lanes_groups, &pass);
        for (size_t b = pass.b0; b < pass.b1; b++)
            lanes_add_block(a->dweight, pass.partials + (b - pass.b0) * E, E, b == 0 ? a->beta : 1.0f);
    }
    dk__scratch_release(&g_partials, slot);
}
