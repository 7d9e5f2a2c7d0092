/*
 * Batch normalization over the last dimension of (rows, channels) buffers: per-channel statistics,
 * the normalizing forward pass, and the backward pass with batch statistics.
 * Reductions give each thread a block of channels and sum every channel over the rows in order, in
 * double, so results do not depend on the thread count; elementwise passes split rows.
 * The running (moving) averages and 1/sqrt(var + eps) are the caller's: a few floats per channel.
 */
#include "internal.h"

#include <stddef.h>

/* Channels summed together: one 64-byte line of floats per row, double accumulators in registers. */
#define BN_BLOCK 16

typedef struct {
    float *out, *dgamma, *dbeta;
    const float *inp, *dout, *mean, *invstd, *gamma, *beta;
    size_t rows, channels;
} bn_args;

/* mean and variance (two passes: the mean first, then squares of deviations) for channels [c0, c1). */
DK_KERNEL(static, statistics_channels, (void *p, size_t c0, size_t c1), (p, c0, c1)) {
    const bn_args *a = p;
    const size_t C = a->channels, rows = a->rows;
    for (size_t cb = c0; cb < c1; cb += BN_BLOCK) {
        size_t w = c1 - cb < BN_BLOCK ? c1 - cb : BN_BLOCK;
        double sum[BN_BLOCK] = {0}, squares[BN_BLOCK] = {0}, mean[BN_BLOCK];
        for (size_t r = 0; r < rows; r++) {
            const float *restrict x = a->inp + r * C + cb;
            for (size_t j = 0; j < w; j++) sum[j] += (double)x[j];
        }
        for (size_t j = 0; j < w; j++) mean[j] = sum[j] / (double)rows;
        for (size_t r = 0; r < rows; r++) {
            const float *restrict x = a->inp + r * C + cb;
            for (size_t j = 0; j < w; j++) {
                double d = (double)x[j] - mean[j];
                squares[j] += d * d;
            }
        }
        for (size_t j = 0; j < w; j++) {
            a->out[cb + j] = (float)mean[j];
            a->dgamma[cb + j] = (float)(squares[j] / (double)rows);
        }
    }
}

/* Threads for a per-channel reduction: blocks of channels, at least ~64K elements each. */
static void over_channels(bn_args *a, dk_range_fn fn) {
    size_t grain = (64 * 1024) / (a->rows ? a->rows : 1);
    dk__parallel_for(a->channels, grain < BN_BLOCK ? BN_BLOCK : grain, BN_BLOCK, fn, a);
}

void dk_batchnorm_statistics(float *mean, float *variance, const float *inp, int rows, int channels) {
    if (rows <= 0 || channels <= 0) return;
    bn_args a = {.out = mean, .dgamma = variance, .inp = inp, .rows = (size_t)rows, .channels = (size_t)channels};
    over_channels(&a, statistics_channels);
}

DK_KERNEL(static, forward_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const bn_args *a = p;
    const size_t C = a->channels;
    const float *restrict mean = a->mean, *restrict invstd = a->invstd, *restrict gamma = a->gamma;
    const float *restrict beta = a->beta;
    for (size_t r = r0; r < r1; r++) {
        float *out = a->out + r * C;  /* may equal inp: each element is read before it is written */
        const float *x = a->inp + r * C;
        for (size_t c = 0; c < C; c++) out[c] = (x[c] - mean[c]) * invstd[c] * gamma[c] + beta[c];
    }
}

void dk_batchnorm_forward(float *out, const float *inp, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int rows, int channels) {
    if (rows <= 0 || channels <= 0) return;
    bn_args a = {.out = out, .inp = inp, .mean = mean, .invstd = invstd, .gamma = gamma, .beta = beta,
                 .rows = (size_t)rows, .channels = (size_t)channels};
    dk__parallel_for((size_t)rows, 1 + (64 * 1024) / (size_t)channels, 1, forward_rows, &a);
}

/* ---------------------------------------------------------------- backward */

DK_KERNEL(static, backward_sums, (void *p, size_t c0, size_t c1), (p, c0, c1)) {
    const bn_args *a = p;
    const size_t C = a->channels, rows = a->rows;
    for (size_t cb = c0; cb < c1; cb += BN_BLOCK) {
        size_t w = c1 - cb < BN_BLOCK ? c1 - cb : BN_BLOCK;
        double sd[BN_BLOCK] = {0}, sdx[BN_BLOCK] = {0};
        const float *restrict mean = a->mean + cb, *restrict invstd = a->invstd + cb;
        for (size_t r = 0; r < rows; r++) {
            const float *restrict x = a->inp + r * C + cb, *restrict d = a->dout + r * C + cb;
            for (size_t j = 0; j < w; j++) {
                sd[j] += (double)d[j];
                sdx[j] += (double)(d[j] * ((x[j] - mean[j]) * invstd[j]));
            }
        }
        for (size_t j = 0; j < w; j++) {
            a->dgamma[cb + j] = (float)sdx[j];
            a->dbeta[cb + j] = (float)sd[j];
        }
    }
}

DK_KERNEL(static, backward_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const bn_args *a = p;
    const size_t C = a->channels;
    const float n = (float)a->rows;
    const float *restrict mean = a->mean, *restrict invstd = a->invstd, *restrict gamma = a->gamma;
    const float *restrict dgamma = a->dgamma, *restrict dbeta = a->dbeta;
    for (size_t r = r0; r < r1; r++) {
        float *dx = a->out + r * C;  /* may equal dout */
        const float *x = a->inp + r * C, *d = a->dout + r * C;
        for (size_t c = 0; c < C; c++) {
            float xhat = (x[c] - mean[c]) * invstd[c];
            dx[c] = gamma[c] * invstd[c] * (d[c] - dbeta[c] / n - xhat * (dgamma[c] / n));
        }
    }
}

void dk_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                           const float *mean, const float *invstd, const float *gamma, int rows, int channels) {
    if (rows <= 0 || channels <= 0) return;
    bn_args a = {.out = dinp, .dgamma = dgamma, .dbeta = dbeta, .inp = inp, .dout = dout, .mean = mean,
                 .invstd = invstd, .gamma = gamma, .rows = (size_t)rows, .channels = (size_t)channels};
    over_channels(&a, backward_sums);
    dk__parallel_for((size_t)rows, 1 + (64 * 1024) / (size_t)channels, 1, backward_rows, &a);
}
