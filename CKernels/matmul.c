/*
 * dk_sgemm: BLIS-style single-precision GEMM, C = alpha * op(A) * op(B) + beta * C.
 *
 * Layout: K is cut in blocks of at most KC, N in blocks of NC, M in blocks of MC; each block of
 * op(B) is packed into NR-column micro-panels (zero padded at the right edge), and a register-
 * blocked micro-kernel computes each tile of up to 6 rows by 16 columns. Untransposed B is packed
 * by the first tile that reads each panel, as it goes, so it costs no pass of its own. When op(A) is cheap to
 * read in place (row-major, or small) it is not packed: the micro-kernel broadcasts straight from
 * A. Packing A costs as much as a 16-column slice of the product, which dominates the narrow
 * shapes of an MLP (N = 10 outputs, K = 10 inputs). Row panels are 6 high except at the bottom
 * edge, where exact heights replace zero padding (see panel_rows). A product with fewer than 16
 * columns is computed as its transpose, so that its few columns become rows (see dk_sgemm).
 *
 * Determinism: threads split C into a grid of MR x NR-aligned rectangles and never split K. The
 * K blocks depend on K alone and every C element is accumulated in the same order whatever the
 * height of its panel or the side it is computed from, so the result is bitwise identical for
 * any thread count or grid.
 *
 * Epilogue: dk_sgemm_bias_activation (a dense layer's forward) adds the bias and applies ReLU or
 * leaky ReLU in registers as the last K block's tiles are stored, and dk_sgemm_activation_backward
 * multiplies by their derivative the same way; the activations that need an exp run on each
 * worker's rectangle once it is done, on the thread that computed it.
 *
 * Memory: no heap. Packing buffers are static slots, claimed per worker with an atomic flag so
 * that concurrent callers (several threads calling dk_sgemm at once) never share one.
 */
#include "internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Register tile: 12 ymm accumulators (6 rows x 2 vectors of 8) + 2 B vectors + 1 broadcast. */
#define MR 6
#define NR 16
/* Cache blocking. KC: an A and a B micro-panel (MR*KC + NR*KC floats, 44 KB) stay in L1 (48 KB
 * here). MC, NC: the A block (MC*KC) and the packed B block (KC*NC) stay in L2 together (800 KB of
 * 1 MB). KC 512 over 256 (K = 784 in 2 blocks, not 4): fewer passes over C, fewer tile set-ups. */
#define KC 512
#define MC 144
#define NC 256
/* One slot per worker of every concurrent call; a worker waits if all are taken. Untouched
 * slots cost only address space (zero pages are mapped lazily). */
#define PACK_SLOTS 64
/* Shortest K for which a product with fewer than NR columns is computed transposed (see dk_sgemm). */
#define THIN_SWAP_MIN_K 32
/* Shortest K block for which edge panels borrow rows from the last full one (see panel_rows). */
#define BORROW_MIN_KC 32
/* Largest transposed A read in place (see dk_sgemm). */
#define DIRECT_A_MAX_BYTES (512 * 1024)
/* Below this many multiply-adds, thread wake-up costs more than it saves. */
#define PARALLEL_MIN_WORK (48 * 1024)

typedef struct {
    _Alignas(64) float a[MC * KC];
    _Alignas(64) float b[KC * NC];
} pack_slot;

static pack_slot g_slots[PACK_SLOTS];
static atomic_int g_slot_busy[PACK_SLOTS];

static int claim_slot(int hint) {
    for (;;) {
        for (int i = 0; i < PACK_SLOTS; i++) {
            int s = (hint + i) % PACK_SLOTS;
            if (atomic_load_explicit(&g_slot_busy[s], memory_order_relaxed) == 0 &&
                atomic_exchange_explicit(&g_slot_busy[s], 1, memory_order_acquire) == 0)
                return s;
        }
        sched_yield();
    }
}

static void release_slot(int s) { atomic_store_explicit(&g_slot_busy[s], 0, memory_order_release); }

/* An epilogue applied to each tile as it is stored, for the activations that need no exp:
 * C = f(C + bias) (dk_sgemm_bias_activation), or, with a gate, C = C * f'(x) where gate = f(x)
 * (dk_sgemm_activation_backward). The arithmetic is that of dk_bias_activation_forward and
 * dk_activation_backward, so the bits are the same. */
typedef struct {
    const float *bias; /* indexed by C's column; NULL: no bias */
    const float *gate; /* with C's row stride, the element of C at c + i at gate + i; NULL: none */
    const float *c;
    dk_activation act; /* DK_ACT_IDENTITY, DK_ACT_RELU or DK_ACT_LEAKY_RELU */
    float slope;       /* leaky ReLU's */
} tile_epilogue;

/* op(A) and op(B) as (row stride, column stride) views, so transposes are just stride changes. */
typedef struct {
    int M, N, K;
    float alpha, beta;
    const float *A;
    ptrdiff_t rsa, csa;
    const float *B;
    ptrdiff_t rsb, csb;
    float *C;
    ptrdiff_t ldc;
    int transposed_c;     /* computing C's transpose: element (i, j) is C[i + j*ldc] (see dk_sgemm) */
    int kblocks, kc_step; /* K blocking: a function of K only */
    int direct_a;         /* micro-kernel broadcasts from A in place instead of a packed copy */
    int grid_m, grid_n;   /* thread grid over C */
    int epilogue;          /* then ep's function of C (see tile_epilogue): */
    int epilogue_in_tiles; /* as each tile is stored, or else on each worker's rectangle */
    tile_epilogue ep;
} gemm_problem;

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* The micro-kernel is written with 8-float vector types: as plain loops over a float[6][16]
 * accumulator, clang vectorizes the loop but leaves the array in memory around it, costing a
 * round trip per tile (and a memcpy call on edge tiles), which matters for small K. */
typedef float v8 __attribute__((vector_size(32)));
/* Unaligned, aliasing view used for loads and stores (as the intrinsics headers do). */
typedef float v8u __attribute__((vector_size(32), aligned(4), __may_alias__));
#define LOAD8(p) (*(const v8u *)(p))
#define STORE8(p, v) (*(v8u *)(p) = (v))
typedef int v8i __attribute__((vector_size(32)));

/* The epilogue of the C element at `at`, in C's column `column`, whose value is x. */
DK_INLINE float epilogue_scalar(float x, const tile_epilogue *ep, int column, const float *at) {
    if (ep->gate) {
        float y = ep->gate[at - ep->c];
        if (ep->act == DK_ACT_RELU) return y > 0.0f ? x : 0.0f;
        if (ep->act == DK_ACT_LEAKY_RELU) return y > 0.0f ? x : ep->slope * x;
        return x;
    }
    if (ep->bias) x = x + ep->bias[column];
    if (ep->act == DK_ACT_RELU) return x < 0.0f ? 0.0f : x;
    if (ep->act == DK_ACT_LEAKY_RELU) return x < 0.0f ? ep->slope * x : x;
    return x;
}

/* epilogue_scalar in place on 8 columns from `column` on; a lane-wise select keeps -0 and NaN as it
 * does. (By pointer: a vector passed by value would change the ABI of the non-AVX clone.) */
DK_INLINE void epilogue_vector(v8 *v, const tile_epilogue *ep, int column, const float *at) {
    v8 x = *v;
    if (ep->gate) {
        if (ep->act != DK_ACT_IDENTITY) {
            v8i keep = LOAD8(ep->gate + (at - ep->c)) > (v8){0};
            v8 y = ep->act == DK_ACT_RELU ? (v8){0} : x * ep->slope;
            *v = (v8)(((v8i)x & keep) | ((v8i)y & ~keep));
        }
        return;
    }
    if (ep->bias) x = x + LOAD8(ep->bias + column);
    if (ep->act != DK_ACT_IDENTITY) {
        v8i negative = x < (v8){0};
        v8 y = ep->act == DK_ACT_RELU ? (v8){0} : x * ep->slope;
        x = (v8)(((v8i)x & ~negative) | ((v8i)y & negative));
    }
    *v = x;
}

/* Transposes the 8x8 block src[j*cs + p] (j, p < 8) into dst[p*NR + j]: eight row loads, three
 * rounds of shuffles, eight row stores, instead of 64 scattered element copies. */
DK_INLINE void transpose8x8_into_panel(float *restrict dst, const float *restrict src, ptrdiff_t cs) {
    v8 r[8], t[8], u[8];
    for (int j = 0; j < 8; j++) r[j] = LOAD8(src + j * cs);
    /* Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves. */
    for (int j = 0; j < 8; j += 2) {
        t[j] = __builtin_shufflevector(r[j], r[j + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[j + 1] = __builtin_shufflevector(r[j], r[j + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int j = 0; j < 8; j += 4)
        for (int h = 0; h < 2; h++) {
            u[j + 2 * h] = __builtin_shufflevector(t[j + h], t[j + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[j + 2 * h + 1] =
                __builtin_shufflevector(t[j + h], t[j + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int h = 0; h < 4; h++) {
        STORE8(dst + h * NR, __builtin_shufflevector(u[h], u[h + 4], 0, 1, 2, 3, 8, 9, 10, 11));
        STORE8(dst + (h + 4) * NR, __builtin_shufflevector(u[h], u[h + 4], 4, 5, 6, 7, 12, 13, 14, 15));
    }
}

/* Height of the row panel that starts `left` rows before the end of a block: MR, except near the
 * end, where a tail of 1 to 3 rows borrows from the last full panel (6+1 -> 4+3, 6+2 -> 4+4,
 * 6+3 -> 5+4). A thin panel has few accumulators, so its FMAs wait on each other's latency, and
 * padding it to MR rows wastes the rest (128 rows = 21 x 6 + 2 would do 132 rows of work). Below
 * BORROW_MIN_KC steps a tile is mostly fixed cost, so one more tile costs more than a thin one. */
DK_INLINE int panel_rows(int left, int kc) {
    if (left <= MR || kc < BORROW_MIN_KC) return min_int(left, MR);
    if (left <= MR + 2) return 4;
    if (left == MR + 3) return 5;
    return MR;
}

/* Packs an mc x kc block of op(A) into row panels of panel_rows() rows: panel-major, then k,
 * then row, so the panel starting at row ir begins at dst + ir * kc. Used for a large transposed
 * A only; row-major A is always read in place. */
DK_INLINE void pack_a(float *restrict dst, const float *restrict a, ptrdiff_t rs, ptrdiff_t cs,
                      int mc, int kc) {
    for (int ir = 0; ir < mc;) {
        int mr = panel_rows(mc - ir, kc);
        const float *src = a + ir * rs;
        float *panel = dst + ir * kc;
        if (mr == MR && rs == 1) {
            for (int p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++) panel[p * MR + i] = src[p * cs + i];
        } else {
            for (int p = 0; p < kc; p++)
                for (int i = 0; i < mr; i++) panel[p * mr + i] = src[i * rs + p * cs];
        }
        ir += mr;
    }
}

/* Packs the ragged last panel of a kc x nc block of op(B) (if nc is not a multiple of NR), zero
 * padded to NR columns. */
DK_INLINE void pack_b_edge(float *restrict dst, const float *restrict b, ptrdiff_t rs, ptrdiff_t cs,
                           int kc, int nc) {
    int full = nc / NR * NR;
    if (full < nc) {
        int nr = nc - full;
        float *panel = dst + full * kc;
        for (int p = 0; p < kc; p++) {
            for (int j = 0; j < nr; j++) panel[p * NR + j] = b[p * rs + (full + j) * cs];
            for (int j = nr; j < NR; j++) panel[p * NR + j] = 0.0f;
        }
    }
}

/* Packs a kc x nc block of transposed B (rs == 1) into NR-column micro-panels: panel-major, then
 * k, then column, through 8x8 register transposes. (Untransposed B is packed by the first tile that
 * reads each panel, see micro_kernel; only its ragged edge comes here, through pack_b_edge.) */
DK_INLINE void pack_b_transposed(float *restrict dst, const float *restrict b, ptrdiff_t cs, int kc,
                                 int nc) {
    int full = nc / NR * NR, kc8 = kc / 8 * 8;
    for (int jr = 0; jr < full; jr += NR)
        for (int j0 = 0; j0 < NR; j0 += 8) {
            const float *src = b + (jr + j0) * cs;
            float *panel = dst + jr * kc + j0;
            for (int p = 0; p < kc8; p += 8) transpose8x8_into_panel(panel + p * NR, src + p, cs);
            for (int p = kc8; p < kc; p++)
                for (int j = 0; j < 8; j++) panel[p * NR + j] = src[j * cs + p];
        }
    pack_b_edge(dst, b, 1, cs, kc, nc);
}

/* C row = alpha * acc + beta * C row for the first nr (< NR) columns: a whole vector if 8 fit,
 * lanes after that, never reading C if beta == 0; then the epilogue ep, if any, on C's columns from
 * `column` on. The lanes go through a small array so the accumulators themselves are never indexed
 * by a variable (which would keep them in memory). */
DK_INLINE void store_row_edge(float *c, const v8 acc[2], int nr, float alpha, float beta,
                              const tile_epilogue *ep, int column) {
    float rest[8];
    int j = 0;
    if (nr >= 8) {
        v8 r = acc[0] * alpha;
        if (beta == 1.0f)
            r = LOAD8(c) + r;
        else if (beta != 0.0f)
            r = r + LOAD8(c) * beta;
        if (ep) epilogue_vector(&r, ep, column, c);
        STORE8(c, r);
        STORE8(rest, acc[1]);
        j = 8;
    } else {
        STORE8(rest, acc[0]);
    }
    for (int l = 0; j < nr; j++, l++) {
        float v = alpha * rest[l];
        v = beta == 0.0f ? v : (beta == 1.0f ? c[j] + v : v + beta * c[j]);
        c[j] = ep ? epilogue_scalar(v, ep, column + j, c + j) : v;
    }
}

/* Writes the rows x nr tile t of the transposed problem, whose element (i, j) is c[i + j*ldc]:
 * C = alpha*t + beta*C, never reading C if beta == 0, then the epilogue ep, if any (C's column of
 * element (i, j) is column + i). i runs fastest, so each of the real C's rows gets `rows` contiguous
 * elements. */
DK_INLINE void store_tile_transposed(float *c, ptrdiff_t ldc, const float t[MR][NR], int rows, int nr,
                                     float alpha, float beta, const tile_epilogue *ep, int column) {
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < rows; i++) {
            float *cij = c + i + j * ldc;
            float v = alpha * t[i][j];
            v = beta == 0.0f ? v : (beta == 1.0f ? *cij + v : v + beta * *cij);
            *cij = ep ? epilogue_scalar(v, ep, column + i, cij) : v;
        }
}

/* One ROWS x NR tile over kc steps, ROWS a constant from 1 to MR, stored to C's tile at c (or to
 * its transpose when the constant TRANSPOSED_C is set). op(A)'s tile element (i, p) is
 * a[i*rsa + p*csa]: called with (1, ROWS) on a packed panel, or with the matrix's own strides to
 * broadcast straight from A. B's row p is b + p*rsb: NR on a packed panel. With the constant
 * PACK_B set, b is op(B) itself and each row is also copied to the packed panel `pack`: the B loads
 * and stores fit beside the FMAs, so the panel is packed for free by its first tile.
 * Only the first nr columns of C are written; with an epilogue `ep`, as f(value + bias), C's
 * columns starting at `column` (the tile's first one; its first row's, for a transposed C). */
DK_INLINE void micro_kernel(int kc, const float *restrict a, ptrdiff_t rsa, ptrdiff_t csa,
                            const float *restrict b, ptrdiff_t rsb, float *restrict pack, float *c,
                            ptrdiff_t ldc, const int ROWS, const int TRANSPOSED_C, const int PACK_B,
                            int nr, float alpha, float beta, const tile_epilogue *ep, int column) {
    v8 acc[MR][2];
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = (v8){0};
    for (int p = 0; p < kc; p++) {
        v8 b0 = LOAD8(b), b1 = LOAD8(b + 8);
        if (PACK_B) {
            STORE8(pack, b0);
            STORE8(pack + 8, b1);
            pack += NR;
        }
        for (int i = 0; i < ROWS; i++) {
            float x = a[i * rsa];
            v8 ai = {x, x, x, x, x, x, x, x};
            acc[i][0] += ai * b0;
            acc[i][1] += ai * b1;
        }
        a += csa;
        b += rsb;
    }
    /* Separate row loops (not one with the tests inside) keep the accumulators in registers. */
    if (TRANSPOSED_C) {
        float t[MR][NR];
        for (int i = 0; i < ROWS; i++) {
            STORE8(t[i], acc[i][0]);
            STORE8(t[i] + 8, acc[i][1]);
        }
        store_tile_transposed(c, ldc, t, ROWS, nr, alpha, beta, ep, column);
    } else if (nr == NR) {
        for (int i = 0; i < ROWS; i++) {
            float *ci = c + i * ldc;
            for (int h = 0; h < 2; h++) {
                v8 r = acc[i][h] * alpha;
                if (beta == 1.0f)
                    r = LOAD8(ci + 8 * h) + r;
                else if (beta != 0.0f)
                    r = r + LOAD8(ci + 8 * h) * beta;
                if (ep) epilogue_vector(&r, ep, column + 8 * h, ci + 8 * h);
                STORE8(ci + 8 * h, r);
            }
        }
    } else {
        for (int i = 0; i < ROWS; i++)
            store_row_edge(c + i * ldc, acc[i], nr, alpha, beta, ep, column);
    }
}

/* micro_kernel with its row count made a constant, so each height gets its own unrolled body. */
DK_INLINE void tile(int rows, int kc, const float *restrict a, ptrdiff_t rsa, ptrdiff_t csa,
                    const float *restrict b, ptrdiff_t rsb, float *restrict pack, float *c,
                    ptrdiff_t ldc, const int TRANSPOSED_C, const int PACK_B, int nr, float alpha,
                    float beta, const tile_epilogue *ep, int column) {
#define DK_TILE(R) \
    micro_kernel(kc, a, rsa, csa, b, rsb, pack, c, ldc, R, TRANSPOSED_C, PACK_B, nr, alpha, beta, ep, column)
    switch (rows) {
    case 6: DK_TILE(6); break;
    case 5: DK_TILE(5); break;
    case 4: DK_TILE(4); break;
    case 3: DK_TILE(3); break;
    case 2: DK_TILE(2); break;
    default: DK_TILE(1); break;
    }
#undef DK_TILE
}

/* Computes the rows [m0,m1) x columns [n0,n1) rectangle of C on one thread. */
DK_INLINE void gemm_rect(const gemm_problem *g, int m0, int m1, int n0, int n1, float *restrict pa,
                         float *restrict pb, const int TRANSPOSED_C, const int EPILOGUE) {
    for (int jc = n0; jc < n1; jc += NC) {
        int nc = min_int(NC, n1 - jc);
        for (int kb = 0; kb < g->kblocks; kb++) {
            int pc = kb * g->kc_step;
            int kc = min_int(g->kc_step, g->K - pc);
            /* Later K blocks accumulate onto what the first one wrote; the last one finishes C. */
            float beta = kb == 0 ? g->beta : 1.0f;
            const tile_epilogue *ep = EPILOGUE && kb == g->kblocks - 1 ? &g->ep : NULL;
            const float *bblk = g->B + pc * g->rsb + jc * g->csb;
            if (g->csb == 1)
                pack_b_edge(pb, bblk, g->rsb, 1, kc, nc);
            else
                pack_b_transposed(pb, bblk, g->csb, kc, nc);
            for (int ic = m0; ic < m1; ic += MC) {
                int mc = min_int(MC, m1 - ic);
                const float *ablk = g->A + ic * g->rsa + pc * g->csa;
                if (!g->direct_a) pack_a(pa, ablk, g->rsa, g->csa, mc, kc);
                /* Steps between the problem's C rows and columns: C's own, or its transpose's. */
                ptrdiff_t c_row = TRANSPOSED_C ? 1 : g->ldc, c_col = TRANSPOSED_C ? g->ldc : 1;
                float *cblk = g->C + ic * c_row + jc * c_col;
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = min_int(NR, nc - jr);
                    /* Full panels of untransposed B are packed by the first tile that reads them. */
                    int packing = g->csb == 1 && ic == m0 && nr == NR;
                    const float *bsrc = g->B + pc * g->rsb + (jc + jr) * g->csb;
                    /* With a single row block, the tiles right after a panel's packing are its only
                     * readers, so one panel's room serves every panel: it stays in L1, and the block's
                     * other panels take no room in L2. */
                    float *panel = packing && m1 - m0 <= MC ? pb : pb + jr * kc;
                    for (int ir = 0; ir < mc;) {
                        int mr = panel_rows(mc - ir, kc);
                        float *ctile = cblk + ir * c_row + jr * c_col;
                        const float *at = g->direct_a ? ablk + ir * g->rsa : pa + ir * kc;
                        ptrdiff_t rs = g->direct_a ? g->rsa : 1, cs = g->direct_a ? g->csa : mr;
                        /* C's column of the tile's first element: the problem's row when transposed. */
                        int column = TRANSPOSED_C ? ic + ir : jc + jr;
                        if (packing && ir == 0)
                            tile(mr, kc, at, rs, cs, bsrc, g->rsb, panel, ctile, g->ldc,
                                 TRANSPOSED_C, 1, nr, g->alpha, beta, ep, column);
                        else
                            tile(mr, kc, at, rs, cs, panel, NR, NULL, ctile, g->ldc,
                                 TRANSPOSED_C, 0, nr, g->alpha, beta, ep, column);
                        ir += mr;
                    }
                }
            }
        }
    }
}

/* The two C layouts, with and without the tile epilogue, as separate workers, so that none pays for
 * the others' tests in every tile. */
DK_KERNEL static void gemm_rect_c(const gemm_problem *g, int m0, int m1, int n0, int n1,
                                  float *restrict pa, float *restrict pb) {
    gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 0);
}

DK_KERNEL static void gemm_rect_transposed_c(const gemm_problem *g, int m0, int m1, int n0, int n1,
                                             float *restrict pa, float *restrict pb) {
    gemm_rect(g, m0, m1, n0, n1, pa, pb, 1, 0);
}

DK_KERNEL static void gemm_rect_c_epilogue(const gemm_problem *g, int m0, int m1, int n0, int n1,
                                           float *restrict pa, float *restrict pb) {
    gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 1);
}

DK_KERNEL static void gemm_rect_transposed_c_epilogue(const gemm_problem *g, int m0, int m1, int n0,
                                                      int n1, float *restrict pa, float *restrict pb) {
    gemm_rect(g, m0, m1, n0, n1, pa, pb, 1, 1);
}

static void gemm_task(void *ctx, int t) {
    const gemm_problem *g = ctx;
    int tiles_m = ceil_div(g->M, MR), tiles_n = ceil_div(g->N, NR);
    int ti = t / g->grid_n, tj = t % g->grid_n;
    int m0 = tiles_m * ti / g->grid_m * MR, m1 = min_int(g->M, tiles_m * (ti + 1) / g->grid_m * MR);
    int n0 = tiles_n * tj / g->grid_n * NR, n1 = min_int(g->N, tiles_n * (tj + 1) / g->grid_n * NR);
    if (m0 >= m1 || n0 >= n1) return;
    int s = claim_slot(t);
    float *pa = g_slots[s].a, *pb = g_slots[s].b;
    if (g->epilogue_in_tiles) {
        if (g->transposed_c)
            gemm_rect_transposed_c_epilogue(g, m0, m1, n0, n1, pa, pb);
        else
            gemm_rect_c_epilogue(g, m0, m1, n0, n1, pa, pb);
    } else if (g->transposed_c) {
        gemm_rect_transposed_c(g, m0, m1, n0, n1, pa, pb);
    } else {
        gemm_rect_c(g, m0, m1, n0, n1, pa, pb);
    }
    release_slot(s);
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
    int tiles_m = ceil_div(g->M, MR), tiles_n = ceil_div(g->N, NR);
    double rows = (double)ceil_div(tiles_m, gm) * MR, cols = (double)ceil_div(tiles_n, gn) * NR;
    double compute = rows * cols * g->K / 16.0;
    double packed = cols + (g->direct_a ? 0.0 : rows * ceil_div((int)cols, NC));
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
        if (gm > ceil_div(g->M, MR) || gn > ceil_div(g->N, NR)) continue;
        double cost = grid_cost(g, gm, gn);
        if (cost < best) {
            best = cost;
            g->grid_m = gm;
            g->grid_n = gn;
        }
    }
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
                  const float *bias, const float *gate, dk_activation act, float act_alpha) {
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
    /* The activations without exp go into the tile stores; the others (a longer computation per
     * element, so a pass over data in cache costs little beside it) run on each worker's rectangle
     * afterwards. */
    g.epilogue_in_tiles =
        epilogue && (act == DK_ACT_IDENTITY || act == DK_ACT_RELU || act == DK_ACT_LEAKY_RELU);
    /* Fewer than NR columns (the MLP's last layer: N = 10) leave most of every 16-wide tile idle.
     * The transposed product C^T = op(B)^T op(A)^T has those N as rows instead, and full tiles; its
     * op(A)^T must be packed, which pays from THIN_SWAP_MIN_K steps on. Each element's products and
     * their order are the same either way, so the result is too. */
    if (N < NR && M >= 2 * NR && K >= THIN_SWAP_MIN_K) {
        gemm_problem t = g;
        t.M = N, t.N = M;
        t.A = B, t.rsa = g.csb, t.csa = g.rsb;
        t.B = A, t.rsb = g.csa, t.csb = g.rsa;
        t.transposed_c = 1;
        g = t;
    }
    /* Row-major A streams along each of the 6 rows. Column-major A touches a new row of memory
     * (often a new page) every k step, which only pays while all of A stays in L2. */
    g.direct_a = g.csa == 1 || (size_t)K * (size_t)g.csa * sizeof(float) <= DIRECT_A_MAX_BYTES;
    g.kblocks = ceil_div(K, KC);
    g.kc_step = ceil_div(K, g.kblocks);
    choose_grid(&g);
    dk__run_tasks(g.grid_m * g.grid_n, gemm_task, &g);
}

void dk_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0, NULL, NULL, DK_ACT_IDENTITY, 0.0f);
}

void dk_sgemm_bias_activation(int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const float *A, int lda, const float *B, int ldb, float beta, float *C,
                              int ldc, const float *bias, dk_activation act, float act_alpha) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1, bias, NULL, act, act_alpha);
}

void dk_sgemm_activation_backward(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                                  int ldc, const float *out, dk_activation act, float act_alpha) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1, NULL, out, act, act_alpha);
}
