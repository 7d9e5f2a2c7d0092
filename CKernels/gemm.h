/*
 * What matmul.c's driver hands each code path's GEMM worker (gemm_kernel.h): one product, already
 * cut into a thread grid, with its blocking and epilogue.
 */
#ifndef DENDRITE_CKERNELS_GEMM_H
#define DENDRITE_CKERNELS_GEMM_H

#include "internal.h"

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
    int mr, nr;           /* the path's micro-kernel tile */
    int mc, nc;           /* the path's row and column blocks (dk_blocking) */
    int kblocks, kc_step; /* K blocking: a function of K and KC only */
    int direct_a;         /* micro-kernel broadcasts from A in place instead of a packed copy */
    ptrdiff_t b_prefetch; /* floats ahead of its row that a tile packing op(B) prefetches; 0: none */
    int k_inner;          /* each row block runs all K blocks before the next (see sgemm) */
    int grid_m, grid_n;   /* thread grid over C */
    int epilogue;          /* then ep's function of C (see tile_epilogue): */
    int epilogue_in_tiles; /* as each tile is stored, or else on each worker's rectangle */
    tile_epilogue ep;
} gemm_problem;

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Computes the rows [m0,m1) x columns [n0,n1) rectangle of g's C on the calling thread, with
 * packing buffers pa (MC*KC floats) and pb (KC*NC floats). One per code path. */
typedef void (*gemm_rect_fn)(const gemm_problem *g, int m0, int m1, int n0, int n1, float *pa, float *pb);
void dk__gemm_rect_portable(const gemm_problem *g, int m0, int m1, int n0, int n1, float *pa, float *pb);
void dk__gemm_rect_avx2(const gemm_problem *g, int m0, int m1, int n0, int n1, float *pa, float *pb);
void dk__gemm_rect_avx512(const gemm_problem *g, int m0, int m1, int n0, int n1, float *pa, float *pb);

#endif
