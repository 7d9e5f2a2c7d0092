/*
 * dk_sgemm: BLIS-style single-precision GEMM, C = alpha * op(A) * op(B) + beta * C. This file is the
 * driver (thread grid, packing buffers, the transposed trick); each code path's worker, in
 * gemm_kernel.h, runs the loops over one thread's rectangle.
 *
 * Layout: K is cut in blocks of at most KC, N in blocks of NC, M in blocks of MC (per code path,
 * from the caches: see blocking.c); each block of op(B) is packed into NR-column micro-panels (zero
 * padded at the right edge), and a register-blocked micro-kernel computes each tile of up to MR rows
 * by NR columns (6 x 16 on AVX2, 12 x 32 on AVX-512). Untransposed B is packed
 * by the first tile that reads each panel, as it goes, so it costs no pass of its own. When op(A) is cheap to
 * read in place (row-major with fewer than 512 columns, or small) it is not packed: the
 * micro-kernel broadcasts straight from A. Packing A costs as much as a 16-column slice of the product, which dominates the narrow
 * shapes of an MLP (N = 10 outputs, K = 10 inputs). Row panels are 6 high except at the bottom
 * edge, where exact heights replace zero padding (see panel_rows). A product with fewer than 16
 * columns is computed as its transpose, so that its few columns become rows, and so is one of few
 * columns whose row-major A could only be packed element by element (see sgemm).
 *
 * Determinism: threads split C into a grid of MR x NR-aligned rectangles and never split K. The
 * K blocks depend on K alone and every C element is accumulated in the same order whatever the
 * height of its panel or the side it is computed from, so the result is bitwise identical for
 * any thread count, grid, tile or MC and NC.
 *
 * Epilogue: dk_sgemm_bias_activation (a dense layer's forward) adds the bias and applies ReLU or
 * leaky ReLU in registers as the last K block's tiles are stored, and dk_sgemm_activation_backward
 * multiplies by their derivative the same way; the activations that need an exp run on each
 * worker's rectangle once it is done, on the thread that computed it.
 *
 * Memory: no heap. Each worker packs into a slot of a scratch pool (scratch.c), so concurrent
 * callers (several threads calling dk_sgemm at once) never share one.
 */
#include "gemm.h"

#include <stddef.h>

/* Shortest K for which a product with fewer than NR columns is computed transposed (see dk_sgemm). */
#define THIN_SWAP_MIN_K 32
/* Most columns for which a product with set-sharing rows of A is computed transposed (see sgemm). */
#define ALIASED_SWAP_MAX_N 256
/* Fewest columns for which row-major A is packed (see dk_sgemm; measured in BENCHMARKS.md). */
#define PACKED_A_MIN_N 512
/* Largest transposed A read in place (see dk_sgemm). */
#define DIRECT_A_MAX_BYTES (512 * 1024)
/* A tile packing op(B) prefetches B_PREFETCH_ROWS rows ahead where op(B) has at least
 * PREFETCHED_B_MIN_BYTES (see sgemm). */
#define B_PREFETCH_ROWS 16
#define PREFETCHED_B_MIN_BYTES ((size_t)512 * 1024)
/* Below this many multiply-adds, thread wake-up costs more than it saves. */
#define PARALLEL_MIN_WORK (48 * 1024)

#define SLOT_A_FLOATS ((size_t)DK_MC_MAX * DK_KC_MAX)
#define SLOT_B_FLOATS ((size_t)DK_KC_MAX * DK_NC_MAX)
/* A k_inner product packs all of B's K x NC block, no larger than A's MC x KC block, into B's room. */
_Static_assert(DK_MC_MAX <= DK_NC_MAX, "B's packing room must hold any A block");

/* Each worker's packing buffers, A's part then B's (see scratch.c); sized for the largest blocking
 * dk_set_blocking accepts. */
static dk_scratch_pool g_packing = {.floats = SLOT_A_FLOATS + SLOT_B_FLOATS};

static gemm_rect_fn rect_worker(void) {
    switch (dk__isa()) {
#ifdef DK_HAS_PATHS
    case DK_ISA_AVX512: return dk__gemm_rect_avx512;
    case DK_ISA_AVX2: return dk__gemm_rect_avx2;
#endif
    default: return dk__gemm_rect_portable;
    }
}

static void gemm_task(void *ctx, int t) {
    const gemm_problem *g = ctx;
    int mr = g->mr, nr = g->nr;
    int tiles_m = ceil_div(g->M, mr), tiles_n = ceil_div(g->N, nr);
    int ti = t / g->grid_n, tj = t % g->grid_n;
    int m0 = tiles_m * ti / g->grid_m * mr, m1 = min_int(g->M, tiles_m * (ti + 1) / g->grid_m * mr);
    int n0 = tiles_n * tj / g->grid_n * nr, n1 = min_int(g->N, tiles_n * (tj + 1) / g->grid_n * nr);
    if (m0 >= m1 || n0 >= n1) return;
    int slot;
    float *mem = dk__scratch_claim(&g_packing, t, &slot);
    rect_worker()(g, m0, m1, n0, n1, mem, mem + SLOT_A_FLOATS);
    dk__scratch_release(&g_packing, slot);
    if (g->epilogue && !g->epilogue_in_tiles) {
        /* The rectangle in C's own rows and columns (the problem's are swapped when transposed):
         * each worker finishes its own part while it is still in its cache. */
        int r0 = g->transposed_c ? n0 : m0, r1 = g->transposed_c ? n1 : m1;
        int c0 = g->transposed_c ? m0 : n0, c1 = g->transposed_c ? m1 : n1;
        float *c = g->C + r0 * g->ldc + c0;
        if (g->ep.gate)
            dk__activation_backward_block(c, g->ldc, r1 - r0, c1 - c0, g->ep.gate + (c - g->C),
                                          g->ep.act, g->ep.slope);
        else
            dk__bias_activation_block(c, g->ldc, r1 - r0, c1 - c0,
                                      g->ep.bias ? g->ep.bias + c0 : NULL, g->ep.act, g->ep.slope);
    }
}

/* Estimated cycles of the busiest thread for a grid: padded micro-kernel work plus packing. */
static double grid_cost(const gemm_problem *g, int gm, int gn) {
    int tiles_m = ceil_div(g->M, g->mr), tiles_n = ceil_div(g->N, g->nr);
    double rows = (double)ceil_div(tiles_m, gm) * g->mr, cols = (double)ceil_div(tiles_n, gn) * g->nr;
    double compute = rows * cols * g->K / 16.0;
    double packed = cols + (g->direct_a ? 0.0 : rows * ceil_div((int)cols, g->nc));
    return compute + packed * g->K * 0.5;
}

static void choose_grid(gemm_problem *g) {
    g->grid_m = g->grid_n = 1;
    double work = (double)g->M * g->N * g->K;
    int threads = dk__threads();
    if (threads <= 1 || work < PARALLEL_MIN_WORK) return;
    int most = (int)(work / PARALLEL_MIN_WORK);
    if (threads > most) threads = most;
    double best = grid_cost(g, 1, 1);
    for (int gm = 1; gm <= threads; gm++) {
        if (threads % gm) continue;
        int gn = threads / gm;
        if (gm > ceil_div(g->M, g->mr) || gn > ceil_div(g->N, g->nr)) continue;
        double cost = grid_cost(g, gm, gn);
        if (cost < best) {
            best = cost;
            g->grid_m = gm;
            g->grid_n = gn;
        }
    }
}

/* Whether a tile's rows of row-major A, read in place `stride` floats apart, all map to one set of
 * the L1 cache: a stride of a multiple of 4 KB does that on every x86 L1 (64 sets of 64 bytes).
 * With the AVX-512 tile's 12 rows, those lines and B's fill a 12-way set and evict each other
 * on every k step; packing A then pays (1024² NN, see BENCHMARKS.md). The 6-row tile fits. */
static int rows_share_l1_sets(ptrdiff_t stride, int rows) {
    return rows > 8 && (stride * (ptrdiff_t)sizeof(float)) % 4096 == 0;
}

/* C = beta * C for the degenerate cases (K == 0 or alpha == 0), as BLAS defines them. */
static void scale_c(float *C, int ldc, int M, int N, float beta) {
    for (int i = 0; i < M; i++) {
        float *c = C + (ptrdiff_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++) c[j] *= beta;
    }
}

/* dk_sgemm, with the epilogue of dk_sgemm_bias_activation when `epilogue` is set. */
static void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc, int epilogue,
                  const float *bias, const float *gate, dk_activation act, float act_alpha, int on_this_thread) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(C, ldc, M, N, beta);
        if (epilogue && gate)
            dk__activation_backward_block(C, ldc, M, N, gate, act, act_alpha);
        else if (epilogue)
            dk__bias_activation_block(C, ldc, M, N, bias, act, act_alpha);
        return;
    }
    gemm_problem g = {
        .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
        .A = A, .rsa = trans_a ? 1 : lda, .csa = trans_a ? lda : 1,
        .B = B, .rsb = trans_b ? 1 : ldb, .csb = trans_b ? ldb : 1,
        .C = C, .ldc = ldc,
        .epilogue = epilogue, .ep = {.bias = bias, .gate = gate, .c = C, .act = act, .slope = act_alpha},
    };
    dk_isa isa = dk__isa();
    dk_blocking blocking = dk__blocking(isa);
    dk_gemm_tile(isa, &g.mr, &g.nr);
    g.mc = blocking.mc;
    g.nc = blocking.nc;
    /* The activations without exp go into the tile stores; the others (a longer computation per
     * element, so a pass over data in cache costs little beside it) run on each worker's rectangle
     * afterwards. */
    g.epilogue_in_tiles =
        epilogue && (act == DK_ACT_IDENTITY || act == DK_ACT_RELU || act == DK_ACT_LEAKY_RELU);
    /* Fewer than NR columns (the MLP's last layer: N = 10) leave most of every tile idle.
     * The transposed product C^T = op(B)^T op(A)^T has those N as rows instead, and full tiles; its
     * op(A)^T must be packed, which pays from THIN_SWAP_MIN_K steps on. Each element's products and
     * their order are the same either way, so the result is too. */
    int thin = N < g.nr && M >= 2 * g.nr && K >= THIN_SWAP_MIN_K;
    /* Row-major A whose rows share L1 sets must be packed (see rows_share_l1_sets), a transpose made
     * element by element, which a product of few columns reads too seldom to repay (the `cnn` preset's
     * dense layer: 128 x 128 x 9216). With B row-major too, the transposed product packs both by their
     * fast paths: the new A is column-major, the new B transposed (8x8 register transposes). */
    int aliased = g.csa == 1 && rows_share_l1_sets(g.rsa, g.mr) && g.csb == 1 && N <= ALIASED_SWAP_MAX_N && M >= g.nr;
    if (thin || aliased) {
        gemm_problem t = g;
        t.M = N, t.N = M;
        t.A = B, t.rsa = g.csb, t.csa = g.rsb;
        t.B = A, t.rsb = g.csa, t.csb = g.rsa;
        t.transposed_c = 1;
        g = t;
    }
    /* Row-major A streams along each of the MR rows, until many column panels read each block of it:
     * then a contiguous copy, made once, is cheaper to read than MR streams. Column-major A touches
     * a new row of memory (often a new page) every k step, which only pays while all of A stays in L2. */
    g.direct_a = (g.csa == 1 && !rows_share_l1_sets(g.rsa, g.mr) && g.N < PACKED_A_MIN_N) ||
                 (g.csa != 1 && (size_t)K * (size_t)g.csa * sizeof(float) <= DIRECT_A_MAX_BYTES);
    /* The tile that packs a panel of row-major op(B) reads a line from each of its rows, a row stride
     * apart: across pages once B is wide, where no hardware prefetcher follows, so it waits on each
     * from L3. Prefetching rows ahead pays where B is too large to still be in L2 (NN 1024² 2-4 %
     * faster on Zen 4); a small B is there, and the prefetches cost (TN 256x128x10, computed
     * transposed, 13 % slower with them). */
    if (g.csb == 1 && (size_t)g.K * (size_t)g.N * sizeof(float) >= PREFETCHED_B_MIN_BYTES)
        g.b_prefetch = B_PREFETCH_ROWS * g.rsb;
    g.kblocks = ceil_div(K, blocking.kc);
    g.kc_step = ceil_div(K, g.kblocks);
    /* Several K blocks over a tall C: in the usual loop order each K block sweeps all of C, so C's
     * rows come back from L3 or memory once per K block. Where B's whole K x NC block is no larger
     * than A's block (which the blocking keeps in half of L2) and a row block of C no larger either,
     * each row block runs its K blocks back to back instead, its C staying in L2 between them (the
     * convolution-shaped NN 73728x288x64 at KC 160 on Zen 4, BENCHMARKS.md). Each element still gets
     * its K blocks in order, so the bits are the same. */
    size_t a_block = (size_t)g.mc * (size_t)blocking.kc;
    size_t b_columns = (size_t)ceil_div(min_int(g.N, g.nc), g.nr) * (size_t)g.nr;
    g.k_inner = g.kblocks > 1 && g.M > g.mc && (size_t)K * b_columns <= a_block &&
                (size_t)g.mc * b_columns <= a_block;
    if (on_this_thread) {
        g.grid_m = g.grid_n = 1;
        gemm_task(&g, 0);
        return;
    }
    choose_grid(&g);
    dk__run_tasks(g.grid_m * g.grid_n, gemm_task, &g);
}

void dk_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0, NULL, NULL, DK_ACT_IDENTITY, 0.0f, 0);
}

void dk_sgemm_bias_activation(int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const float *A, int lda, const float *B, int ldb, float beta, float *C,
                              int ldc, const float *bias, dk_activation act, float act_alpha) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1, bias, NULL, act, act_alpha, 0);
}

void dk_sgemm_activation_backward(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                                  int ldc, const float *out, dk_activation act, float act_alpha) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1, NULL, out, act, act_alpha, 0);
}

void dk__sgemm_on_this_thread(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                              int lda, const float *B, int ldb, float beta, float *C, int ldc,
                              const float *bias, dk_activation act, float act_alpha) {
    int epilogue = bias != NULL || act != DK_ACT_IDENTITY;
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue, bias, NULL, act, act_alpha, 1);
}
