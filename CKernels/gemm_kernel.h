/*
 * The register-tiled inner part of dk_sgemm (see matmul.c for the whole algorithm): packing, the
 * micro-kernel and the loops over one thread's rectangle of C. A template: a code path's file
 * defines, then includes this header once:
 *   GEMM_VEC, GEMM_VL   the vector type of GEMM_VL floats that holds half a tile row
 *   GEMM_MR, GEMM_NR    the tile (GEMM_NR = 2 * GEMM_VL), from internal.h's DK_MR_* and DK_NR_*
 *   GEMM_TARGET         the path's target attribute (empty on the portable path)
 *   GEMM_AHEAD_MAX_ROWS the tallest tile whose registers leave room to pack a panel ahead (see
 *                       micro_kernel's PACK_AHEAD), 0 for none
 *   GEMM_RECT           the name of the worker it defines (declared in gemm.h)
 * Every element of C is accumulated over k in the same order whatever the tile, so each path's
 * results depend on the K blocking (KC) only: the AVX2 and AVX-512 paths give the same bits.
 */
#include "gemm.h"

#define MR GEMM_MR
#define NR GEMM_NR
#define AHEAD_MAX_ROWS GEMM_AHEAD_MAX_ROWS
#define VL GEMM_VL
typedef GEMM_VEC vec;
typedef float vecu __attribute__((vector_size(GEMM_VL * 4), aligned(4), __may_alias__));
typedef int veci __attribute__((vector_size(GEMM_VL * 4)));
#define LOADV(p) (*(const vecu *)(p))
#define STOREV(p, v) (*(vecu *)(p) = (v))
/* 8-float vectors for B's 8x8 transposes, on every path. */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), __may_alias__));
#define LOAD8(p) (*(const v8u *)(p))
#define STORE8(p, v) (*(v8u *)(p) = (v))
/* Shortest K block for which edge panels borrow rows from the last full one (see panel_rows). */
#define BORROW_MIN_KC 32
/* Shortest K block whose tiles prefetch their part of C (see micro_kernel). */
#define PREFETCH_C_MIN_KC 64
/* Smallest block of transposed B packed a panel at a time (see GEMM_RECT). */
#define PANEL_AT_A_TIME_MIN_BYTES ((size_t)512 * 1024)


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

/* epilogue_scalar in place on VL columns from `column` on; a lane-wise select keeps -0 and NaN as it
 * does. (By pointer: a vector passed by value would change the ABI of the non-AVX clone.) */
DK_INLINE void epilogue_vector(vec *v, const tile_epilogue *ep, int column, const float *at) {
    vec x = *v;
    if (ep->gate) {
        if (ep->act != DK_ACT_IDENTITY) {
            veci keep = LOADV(ep->gate + (at - ep->c)) > (vec){0};
            vec y = ep->act == DK_ACT_RELU ? (vec){0} : x * ep->slope;
            *v = (vec)(((veci)x & keep) | ((veci)y & ~keep));
        }
        return;
    }
    if (ep->bias) x = x + LOADV(ep->bias + column);
    if (ep->act != DK_ACT_IDENTITY) {
        veci negative = x < (vec){0};
        vec y = ep->act == DK_ACT_RELU ? (vec){0} : x * ep->slope;
        x = (vec)(((veci)x & ~negative) | ((veci)y & negative));
    }
    *v = x;
}

/* out[p][j] = r[j][p] for j, p < 8: interleave pairs of rows, then pairs of pairs, then swap
 * 128-bit halves (three rounds of shuffles). */
DK_INLINE void transpose8x8(const v8 r[8], v8 out[8]) {
    v8 t[8], u[8];
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
        out[h] = __builtin_shufflevector(u[h], u[h + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        out[h + 4] = __builtin_shufflevector(u[h], u[h + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* Transposes the 8x8 block src[j*cs + p] (j, p < 8) into dst[p*NR + j]: eight row loads, the
 * register transpose, eight row stores, instead of 64 scattered element copies. */
DK_INLINE void transpose8x8_into_panel(float *restrict dst, const float *restrict src, ptrdiff_t cs) {
    v8 r[8], out[8];
    for (int j = 0; j < 8; j++) r[j] = LOAD8(src + j * cs);
    transpose8x8(r, out);
    for (int p = 0; p < 8; p++) STORE8(dst + p * NR, out[p]);
}

/* Copies rows i < ROWS (a constant from 1 to 8) of src, elements p < 8, into dst[p*ld + i]: a row
 * load each (the rows past ROWS are zeros, never read), the register transpose, and ROWS floats
 * stored per p. */
DK_INLINE void transpose_rows_into_panel(float *restrict dst, ptrdiff_t ld, const float *restrict src,
                                         ptrdiff_t rs, const int ROWS) {
    v8 r[8], out[8];
    for (int j = 0; j < 8; j++) r[j] = j < ROWS ? LOAD8(src + j * rs) : (v8){0};
    transpose8x8(r, out);
    for (int p = 0; p < 8; p++) __builtin_memcpy(dst + p * ld, &out[p], ROWS * sizeof(float));
}

/* Transposes rows j < 8 of src, elements p < 4, into dst[p*NR + j]: eight 4-float loads paired
 * into four vectors, two rounds of in-lane shuffles, four vector stores. It needs 8 vector registers
 * where transpose8x8_into_panel needs 16, so a micro-kernel's accumulators can stay in theirs beside
 * it (see micro_kernel's PACK_AHEAD). The rows are cs1 bytes apart, and cs3 = 3 * cs1. */
DK_INLINE void transpose8x4_into_panel(float *restrict dst, const char *src, ptrdiff_t cs1, ptrdiff_t cs3) {
    typedef float v4u __attribute__((vector_size(16), aligned(4), __may_alias__));
    const char *low = src, *high = src + 4 * cs1;
#define PAIR(OFFSET)                                                                                   \
    __builtin_shufflevector(*(const v4u *)(low + (OFFSET)), *(const v4u *)(high + (OFFSET)), 0, 1, 2, 3, 4, \
                            5, 6, 7)
    /* r[j]'s halves are rows j and j + 4. */
    v8 r0 = PAIR(0), r1 = PAIR(cs1), r2 = PAIR(2 * cs1), r3 = PAIR(cs3);
#undef PAIR
    v8 t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);
    v8 t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8 t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);
    v8 t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    STORE8(dst, __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13));
    STORE8(dst + NR, __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15));
    STORE8(dst + 2 * NR, __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13));
    STORE8(dst + 3 * NR, __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15));
}

/* Height of the row panel that starts `left` rows before the end of a block: MR, except near the
 * end, where a tail of up to MR/2 rows borrows from the last full panel to make two of about
 * equal height (MR 6: 6+1 -> 4+3, 6+2 -> 4+4, 6+3 -> 5+4). A thin panel has few accumulators, so its FMAs wait on each other's latency, and
 * padding it to MR rows wastes the rest (128 rows = 21 x 6 + 2 lost 3 % that way). Below
 * BORROW_MIN_KC steps a tile is mostly fixed cost, so one more tile costs more than a thin one. */
DK_INLINE int panel_rows(int left, int kc) {
    if (left <= MR || kc < BORROW_MIN_KC) return min_int(left, MR);
    if (left <= MR + MR / 2) return (left + 1) / 2;
    return MR;
}

/* Packs an mc x kc block of op(A) into row panels of panel_rows() rows: panel-major, then k,
 * then row, so the panel starting at row ir begins at dst + ir * kc. Used for a large transposed
 * A, and for row-major A whose rows share L1 sets (see matmul.c); other row-major A is read in
 * place. */
DK_INLINE void pack_a(float *restrict dst, const float *restrict a, ptrdiff_t rs, ptrdiff_t cs,
                      int mc, int kc) {
    if (rs == 1 && cs - mc < 16) {
        /* Column-major op(A) (a transposed A) whose block spans its whole columns: each step of k is
         * a run of mc contiguous floats, and the runs follow each other. Copying run after run, each
         * scattered to its panels, reads A as one stream the hardware prefetcher follows; panel after
         * panel would walk the block mc/MR times, one line every cs floats, a miss at a time. Where
         * the runs leave gaps (another thread's rows, or another row block's), the prefetcher fetches
         * the gaps too, and the panel-by-panel walk is faster (BENCHMARKS.md, twenty-third session). */
        for (int p = 0; p < kc; p++) {
            const float *src = a + p * cs;
            for (int ir = 0; ir < mc;) {
                int mr = panel_rows(mc - ir, kc);
                float *panel = dst + ir * kc + p * mr;
                /* A full panel's copy has a constant length, so it compiles to a few vector moves. */
                if (mr == MR)
                    for (int i = 0; i < MR; i++) panel[i] = src[ir + i];
                else
                    for (int i = 0; i < mr; i++) panel[i] = src[ir + i];
                ir += mr;
            }
        }
        return;
    }
    for (int ir = 0; ir < mc;) {
        int mr = panel_rows(mc - ir, kc);
        const float *src = a + ir * rs;
        float *panel = dst + ir * kc;
        if (mr == MR && rs == 1) {
            for (int p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++) panel[p * MR + i] = src[p * cs + i];
        } else if (mr == MR && cs == 1) {
            /* Row-major A: 8 k steps of up to 8 rows at a time through the register transpose, where
             * copying element by element kept the tiles waiting on the pack (NN 512²). */
            int kc8 = kc / 8 * 8;
            for (int p = 0; p < kc8; p += 8)
                for (int i = 0; i < MR; i += 8) {
                    if (MR - i >= 8)
                        transpose_rows_into_panel(panel + p * MR + i, MR, src + i * rs + p, rs, 8);
                    else
                        transpose_rows_into_panel(panel + p * MR + i, MR, src + i * rs + p, rs, MR % 8);
                }
            for (int p = kc8; p < kc; p++)
                for (int i = 0; i < MR; i++) panel[p * MR + i] = src[i * rs + p];
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

/* C row = alpha * acc + beta * C row for the first nr (< NR) columns: a whole vector if VL fit,
 * lanes after that, never reading C if beta == 0; then the epilogue ep, if any, on C's columns from
 * `column` on. The lanes go through a small array so the accumulators themselves are never indexed
 * by a variable (which would keep them in memory). */
DK_INLINE void store_row_edge(float *c, const vec acc[2], int nr, float alpha, float beta,
                              const tile_epilogue *ep, int column) {
    float rest[VL];
    int j = 0;
    if (nr >= VL) {
        vec r = acc[0] * alpha;
        if (beta == 1.0f)
            r = LOADV(c) + r;
        else if (beta != 0.0f)
            r = r + LOADV(c) * beta;
        if (ep) epilogue_vector(&r, ep, column, c);
        STOREV(c, r);
        STOREV(rest, acc[1]);
        j = VL;
    } else {
        STOREV(rest, acc[0]);
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

/* A panel of transposed B that a tile packs while it computes (micro_kernel's PACK_AHEAD): kc x NR
 * floats of op(B), whose column j is src + j*cs, into dst. kc is at most the tile's own. */
typedef struct {
    const float *src;
    ptrdiff_t cs;
    float *dst;
    int kc;
} panel_ahead;

/* One ROWS x NR tile over kc steps, ROWS a constant from 1 to MR, stored to C's tile at c (or to
 * its transpose when the constant TRANSPOSED_C is set). op(A)'s tile element (i, p) is
 * a[i*rsa + p*csa]: called with (1, ROWS) on a packed panel, or with the matrix's own strides to
 * broadcast straight from A. B's row p is b + p*rsb: NR on a packed panel. With the constant
 * PACK_B set, b is op(B) itself and each row is also copied to the packed panel `pack`: the B loads
 * and stores fit beside the FMAs, so the panel is packed for free by its first tile; unless b_ahead
 * is 0, the row b_ahead floats ahead is prefetched as it goes (see gemm_problem's b_prefetch). With the
 * constant PACK_AHEAD set, the tile also packs the panel of transposed B `ahead`, 8 columns by 4 k
 * steps every 32 / NR steps of its own: the shuffles and stores of those transposes go to ports the FMAs
 * leave idle, where packing all of B before the tiles costs a third of a product with a single row
 * of tiles (the MLP's N = 10 products, BENCHMARKS.md, twelfth session).
 * Only the first nr columns of C are written; with an epilogue `ep`, as f(value + bias), C's
 * columns starting at `column` (the tile's first one; its first row's, for a transposed C). */
DK_INLINE void micro_kernel(int kc, const float *restrict a, ptrdiff_t rsa, ptrdiff_t csa,
                            const float *restrict b, ptrdiff_t rsb, float *restrict pack, ptrdiff_t b_ahead,
                            float *c, ptrdiff_t ldc, const int ROWS, const int TRANSPOSED_C,
                            const int PACK_B, const int PACK_AHEAD, const panel_ahead *ahead, int nr,
                            float alpha, float beta, const tile_epilogue *ep, int column) {
    /* Every loop over the tile's rows is unrolled: an accumulator indexed by a variable, or whose
     * address is taken, lives in memory (zeroed by a memset and reloaded before the k loop). */
#define EACH_ROW _Pragma("clang loop unroll(full)") for (int i = 0; i < ROWS; i++)
    vec acc[MR][2];
    EACH_ROW acc[i][0] = acc[i][1] = (vec){0};
    /* C's rows lie a row stride apart, in other pages, where no hardware prefetcher follows them: the
     * tile's store would wait on each of its lines from L3 or memory. Asked for into L2 now, they
     * arrive during the k loop (BENCHMARKS.md, fourth Ice Lake session). A short k loop would not
     * cover the fetch, and the prefetches cost more than they save there. */
    if (!TRANSPOSED_C && kc >= PREFETCH_C_MIN_KC) EACH_ROW {
        __builtin_prefetch(c + i * ldc, 1, 2);
        __builtin_prefetch(c + i * ldc + NR - 1, 1, 2);
    }
    /* Each row's element is a plus a few strides held in registers (see row_at): one pointer to
     * advance per k step. Where the compiler may derive the rows from each other instead, it chains
     * eleven additions per step, as long as the step's FMAs (BENCHMARKS.md, fourth Ice Lake session). */
    ptrdiff_t r1 = rsa * (ptrdiff_t)sizeof(float), r3 = 3 * r1, r5 = 5 * r1, r7 = 7 * r1;
    /* One k step. Opaque to the optimizer, r1...r7 cannot derive one row from another; a constant
     * rsa (a packed panel's) is better left to it: the rows become fixed offsets. */
#define K_STEP()                                                                                       \
    do {                                                                                               \
        if (rsa != 1) __asm__("" : "+r"(r1), "+r"(r3), "+r"(r5), "+r"(r7));                           \
        vec b0 = LOADV(b), b1 = LOADV(b + VL);                                                         \
        if (PACK_B) {                                                                                  \
            if (b_ahead) {                                                                             \
                __builtin_prefetch(b + b_ahead);                                                       \
                __builtin_prefetch(b + b_ahead + NR - 1);                                              \
            }                                                                                          \
            STOREV(pack, b0);                                                                          \
            STOREV(pack + VL, b1);                                                                     \
            pack += NR;                                                                                \
        }                                                                                              \
        EACH_ROW {                                                                                     \
            float x = *row_at(a, r1, r3, r5, r7, i); /* broadcast to a vector, shared by two FMAs */   \
            acc[i][0] += x * b0;                                                                       \
            acc[i][1] += x * b1;                                                                       \
        }                                                                                              \
        a += csa;                                                                                      \
        b += rsb;                                                                                      \
    } while (0)
    int p = 0;
    if (PACK_AHEAD) {
        /* 8 k steps of the ahead panel at a time, as 2 x NR / 8 blocks of 4 steps by 8 columns: one
         * block every SPACING steps of this tile. */
        enum { SPACING = 32 / NR };
        _Static_assert(NR == 16 || NR == 32, "8 k steps take the 2 x NR / 8 blocks in whole steps");
        int ahead8 = ahead->kc / 8 * 8; /* no more than kc */
        ptrdiff_t cs1 = ahead->cs * (ptrdiff_t)sizeof(float), cs3 = 3 * cs1;
        for (; p < ahead8; p += 8) {
            const char *src = (const char *)(ahead->src + p); /* the current group's first column */
            float *dst = ahead->dst + p * NR;
            _Pragma("clang loop unroll(full)") for (int q = 0; q < 8; q++) {
                K_STEP();
                if (q % SPACING == 0) {
                    int block = q / SPACING, group = block / 2, half = block % 2;
                    /* Opaque, like r1...r7: the NR columns' addresses, precomputed, would take the
                     * general registers the k step needs. */
                    __asm__("" : "+r"(src), "+r"(cs1), "+r"(cs3));
                    transpose8x4_into_panel(dst + half * 4 * NR + group * 8, src + half * 4 * sizeof(float),
                                            cs1, cs3);
                    if (half) src += 8 * cs1;
                }
            }
        }
        /* Its last kc % 8 steps, element by element: vectorized, this loop's alias checks cost the
         * products that never pack ahead 4 % (TN 256x128x10). */
        _Pragma("clang loop vectorize(disable) unroll(disable)") for (int pp = ahead8; pp < ahead->kc; pp++)
            for (int j = 0; j < NR; j++) ahead->dst[pp * NR + j] = ahead->src[j * ahead->cs + pp];
    }
    if (MR == 6 && rsa == 1 && !PACK_B) {
        /* Four steps per iteration on the 6-row tile with A's rows at fixed offsets: its 12 FMAs per
         * step leave little room for the loop's own instructions. Where rsa is a variable, the
         * unrolled body was slower (NN 128x256x784); the 12-row tile's 24 FMAs gained nothing. */
        _Pragma("clang loop unroll_count(4)") for (; p < kc; p++) K_STEP();
    } else {
        for (; p < kc; p++) K_STEP();
    }
#undef K_STEP
    /* Separate row loops (not one with the tests inside) keep the accumulators in registers. */
    if (TRANSPOSED_C) {
        float t[MR][NR];
        EACH_ROW {
            STOREV(t[i], acc[i][0]);
            STOREV(t[i] + VL, acc[i][1]);
        }
        store_tile_transposed(c, ldc, t, ROWS, nr, alpha, beta, ep, column);
    } else if (nr == NR) {
        EACH_ROW {
            float *ci = c + i * ldc;
            for (int h = 0; h < 2; h++) {
                vec r = acc[i][h] * alpha;
                if (beta == 1.0f)
                    r = LOADV(ci + VL * h) + r;
                else if (beta != 0.0f)
                    r = r + LOADV(ci + VL * h) * beta;
                if (ep) epilogue_vector(&r, ep, column + VL * h, ci + VL * h);
                STOREV(ci + VL * h, r);
            }
        }
    } else {
        vec edge[MR][2]; /* a copy whose rows store_row_edge may take by address */
        EACH_ROW {
            edge[i][0] = acc[i][0];
            edge[i][1] = acc[i][1];
        }
        for (int i = 0; i < ROWS; i++) store_row_edge(c + i * ldc, edge[i], nr, alpha, beta, ep, column);
    }
#undef EACH_ROW
}

/* micro_kernel with its row count made a constant, so each height gets its own unrolled body. */
DK_INLINE void tile(int rows, int kc, const float *restrict a, ptrdiff_t rsa, ptrdiff_t csa,
                    const float *restrict b, ptrdiff_t rsb, float *restrict pack, ptrdiff_t b_ahead, float *c,
                    ptrdiff_t ldc, const int TRANSPOSED_C, const int PACK_B, const int PACK_AHEAD,
                    const panel_ahead *ahead, int nr, float alpha, float beta, const tile_epilogue *ep,
                    int column) {
/* A packed panel (and a small column-major A) has rsa == 1: as a constant, the rows' elements are
 * fixed offsets from one pointer, where a variable stride costs a chain of address additions that
 * is as long as the FMAs of a k step. The first tile of each B panel, which packs it, does without:
 * one tile in MC / MR, and this file's compile time doubled with it. A tile that packs a panel ahead
 * has rsa == 1 (block_tiles sees to it). */
#define DK_TILE(R)                                                                                     \
    do {                                                                                               \
        if (PACK_AHEAD && (R) > AHEAD_MAX_ROWS)                                                        \
            __builtin_unreachable(); /* no such tile is compiled (block_tiles calls none) */          \
        else if (PACK_AHEAD || (rsa == 1 && !PACK_B))                                                  \
            micro_kernel(kc, a, 1, csa, b, rsb, pack, b_ahead, c, ldc, R, TRANSPOSED_C, PACK_B,        \
                         PACK_AHEAD, ahead, nr, alpha, beta, ep, column);                              \
        else                                                                                           \
            micro_kernel(kc, a, rsa, csa, b, rsb, pack, b_ahead, c, ldc, R, TRANSPOSED_C, PACK_B, 0,   \
                         NULL, nr, alpha, beta, ep, column);                                           \
    } while (0)
    switch (rows) {
#if MR == 12
        DK_CASES_7_TO_12(DK_TILE)
#elif MR != 6
#error "tile() has cases for MR 6 and 12"
#endif
        DK_CASES_1_TO_6(DK_TILE)
    }
#undef DK_TILE
}

/* The tiles of one K block (kb) of one row block: rows [ic, ic+mc) x columns [jc, jc+nc) of C. B's
 * block is at pb, NR x kc floats per panel, already packed, or, for untransposed B, packed there as
 * it goes by the tiles of the rectangle's first row block (`first`). With a single row block
 * (`single`), the tiles right after a panel's packing are its only readers, so one panel's room
 * serves every panel: it stays in L1, and the block's other panels take no room in L2 (+1 % on NN
 * 128x784x256, scripts/matmul-ab.sh). With `ahead` (see packs_ahead), the tile of each full panel
 * packs the next one, and that of the last full panel the next K block's first (into the first
 * panel's room, read by then). */
DK_INLINE void block_tiles(const gemm_problem *g, int ic, int mc, int jc, int nc, int kb, int first,
                           int single, int ahead, float *restrict pa, float *restrict pb,
                           const int TRANSPOSED_C, const int EPILOGUE, const int PANEL_AT_A_TIME) {
    int pc = kb * g->kc_step;
    int kc = min_int(g->kc_step, g->K - pc);
    /* Later K blocks accumulate onto what the first one wrote; the last one finishes C. */
    float beta = kb == 0 ? g->beta : 1.0f;
    const tile_epilogue *ep = EPILOGUE && kb == g->kblocks - 1 ? &g->ep : NULL;
    const float *ablk = g->A + ic * g->rsa + pc * g->csa;
    if (!g->direct_a) pack_a(pa, ablk, g->rsa, g->csa, mc, kc);
    /* Steps between the problem's C rows and columns: C's own, or its transpose's. */
    ptrdiff_t c_row = TRANSPOSED_C ? 1 : g->ldc, c_col = TRANSPOSED_C ? g->ldc : 1;
    float *cblk = g->C + ic * c_row + jc * c_col;
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = min_int(NR, nc - jr);
        /* Full panels of untransposed B are packed by the first tile that reads them, unless that tile
         * is their only reader (a single row block no taller than a tile: the MLP's N = 10 products,
         * computed transposed); then it reads them in place, without the packing stores. */
        int one_reader = single && mc <= MR;
        int packing = g->csb == 1 && first && nr == NR && !one_reader;
        int in_place = g->csb == 1 && nr == NR && one_reader;
        const float *bsrc = g->B + pc * g->rsb + (jc + jr) * g->csb;
        float *panel = (packing || PANEL_AT_A_TIME) && single ? pb : pb + jr * kc;
        if (PANEL_AT_A_TIME) pack_b_transposed(pb, bsrc, g->csb, kc, nr);
        panel_ahead next = {NULL, 0, NULL, 0};
        if (TRANSPOSED_C && ahead) {
            int full = nc / NR * NR;
            if (jr + NR < full)
                next = (panel_ahead){bsrc + NR * g->csb, g->csb, pb + (jr + NR) * kc, kc};
            else if (jr + NR == full && kb + 1 < g->kblocks)
                next = (panel_ahead){g->B + (pc + kc) * g->rsb + jc * g->csb, g->csb, pb,
                                     min_int(g->kc_step, g->K - pc - kc)};
        }
        for (int ir = 0; ir < mc;) {
            int mr = panel_rows(mc - ir, kc);
            float *ctile = cblk + ir * c_row + jr * c_col;
            const float *at = g->direct_a ? ablk + ir * g->rsa : pa + ir * kc;
            ptrdiff_t rs = g->direct_a ? g->rsa : 1, cs = g->direct_a ? g->csa : mr;
            /* C's column of the tile's first element: the problem's row when transposed. */
            int column = TRANSPOSED_C ? ic + ir : jc + jr;
            if (packing && ir == 0)
                tile(mr, kc, at, rs, cs, bsrc, g->rsb, panel, g->b_prefetch, ctile, g->ldc, TRANSPOSED_C, 1, 0,
                     NULL, nr, g->alpha, beta, ep, column);
            else if (in_place)
                tile(mr, kc, at, rs, cs, bsrc, g->rsb, NULL, 0, ctile, g->ldc, TRANSPOSED_C, 0, 0, NULL, nr,
                     g->alpha, beta, ep, column);
            else if (TRANSPOSED_C && AHEAD_MAX_ROWS > 0 && next.src && ir == 0)
                tile(mr, kc, at, 1, cs, panel, NR, NULL, 0, ctile, g->ldc, TRANSPOSED_C, 0, 1, &next, nr,
                     g->alpha, beta, ep, column);
            else
                tile(mr, kc, at, rs, cs, panel, NR, NULL, 0, ctile, g->ldc, TRANSPOSED_C, 0, 0, NULL, nr,
                     g->alpha, beta, ep, column);
            ir += mr;
        }
    }
}

/* Packs the ragged edge (untransposed B: its full panels are packed by the tiles) or all (transposed B)
 * of K block kb of the columns [jc, jc+nc) of B into pb. */
DK_INLINE void pack_b_block(const gemm_problem *g, int jc, int nc, int kb, float *restrict pb) {
    int pc = kb * g->kc_step;
    int kc = min_int(g->kc_step, g->K - pc);
    const float *bblk = g->B + pc * g->rsb + jc * g->csb;
    if (g->csb == 1)
        pack_b_edge(pb, bblk, g->rsb, 1, kc, nc);
    else
        pack_b_transposed(pb, bblk, g->csb, kc, nc);
}

/* Whether the tiles pack transposed B themselves (block_tiles' `ahead`): where C's transpose is one
 * row of tiles short enough to leave the registers for it (the thin products matmul.c swaps), whose
 * single reader per panel makes packing B beforehand a third of the time. It takes two full panels
 * (the first panel's room takes the next K block's), and tiles that broadcast from a packed A or a
 * column-major one (rsa == 1), which micro_kernel's PACK_AHEAD body assumes. */
DK_INLINE int packs_ahead(const gemm_problem *g, int rows, int nc, const int TRANSPOSED_C) {
    return TRANSPOSED_C && rows <= AHEAD_MAX_ROWS && g->csb != 1 && (!g->direct_a || g->rsa == 1) &&
           nc >= 2 * NR;
}

/* What the tiles that pack ahead leave for before K block kb: its ragged edge, and, for the first
 * K block, its first panel. */
DK_INLINE void pack_ahead_start(const gemm_problem *g, int jc, int nc, int kb, float *restrict pb) {
    int pc = kb * g->kc_step;
    int kc = min_int(g->kc_step, g->K - pc);
    const float *bblk = g->B + pc * g->rsb + jc * g->csb;
    if (kb == 0) pack_b_transposed(pb, bblk, g->csb, kc, NR);
    pack_b_edge(pb, bblk, 1, g->csb, kc, nc);
}

/* Computes the rows [m0,m1) x columns [n0,n1) rectangle of C on one thread. */
DK_INLINE void gemm_rect(const gemm_problem *g, int m0, int m1, int n0, int n1, float *restrict pa,
                         float *restrict pb, const int TRANSPOSED_C, const int EPILOGUE, const int PANEL_AT_A_TIME) {
    int single = m1 - m0 <= g->mc;
    for (int jc = n0; jc < n1; jc += g->nc) {
        int nc = min_int(g->nc, n1 - jc);
        if (g->k_inner && !single) {
            /* Each row block runs all its K blocks (see gemm_problem's k_inner): B's whole K x nc
             * block is packed, K block after K block, by the first. */
            ptrdiff_t block_floats = (ptrdiff_t)ceil_div(nc, NR) * NR;
            for (int kb = 0; kb < g->kblocks; kb++)
                pack_b_block(g, jc, nc, kb, pb + kb * g->kc_step * block_floats);
            for (int ic = m0; ic < m1; ic += g->mc)
                for (int kb = 0; kb < g->kblocks; kb++)
                    block_tiles(g, ic, min_int(g->mc, m1 - ic), jc, nc, kb, ic == m0, 0, 0, pa,
                                pb + kb * g->kc_step * block_floats, TRANSPOSED_C, EPILOGUE, 0);
            continue;
        }
        int ahead = packs_ahead(g, m1 - m0, nc, TRANSPOSED_C);
        for (int kb = 0; kb < g->kblocks; kb++) {
            if (ahead)
                pack_ahead_start(g, jc, nc, kb, pb);
            else if (!PANEL_AT_A_TIME)
                pack_b_block(g, jc, nc, kb, pb);
            for (int ic = m0; ic < m1; ic += g->mc)
                block_tiles(g, ic, min_int(g->mc, m1 - ic), jc, nc, kb, ic == m0, single, ahead, pa, pb,
                            TRANSPOSED_C, EPILOGUE, PANEL_AT_A_TIME);
        }
    }
}

/* The two C layouts, with and without the tile epilogue, as separate copies of the loops, so that
 * none pays for the others' tests in every tile (a plain product lost 1 % to the epilogue's, and
 * K = 10 ones 4 %). */
GEMM_TARGET void GEMM_RECT(const gemm_problem *g, int m0, int m1, int n0, int n1, float *restrict pa,
                           float *restrict pb) {
    /* Transposed B is packed a block at a time (KC x NC floats), unless each panel's tiles follow one
     * another (a single row block) and the block would outgrow L2 (4 MB with NC 8192 on the `cnn` preset's
     * dense input gradient, 128 x 9216 x 128): then a panel at a time, right before its tiles, into one
     * panel's room that stays in L1. (A separate copy of the loops: the test alone in the small products'
     * loops cost them up to 7 %, scripts/matmul-ab.sh.) */
    size_t block_bytes = (size_t)g->kc_step * (size_t)min_int(g->nc, n1 - n0) * sizeof(float);
    int panels = g->csb != 1 && m1 - m0 <= g->mc && block_bytes > PANEL_AT_A_TIME_MIN_BYTES;
    if (g->epilogue_in_tiles) {
        if (g->transposed_c)
            gemm_rect(g, m0, m1, n0, n1, pa, pb, 1, 1, 0);
        else if (panels)
            gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 1, 1);
        else
            gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 1, 0);
    } else if (g->transposed_c) {
        gemm_rect(g, m0, m1, n0, n1, pa, pb, 1, 0, 0);
    } else if (panels) {
        gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 0, 1);
    } else {
        gemm_rect(g, m0, m1, n0, n1, pa, pb, 0, 0, 0);
    }
}
