/*
 * Batch normalization over the last dimension of (rows, channels) buffers: per-channel statistics,
 * the normalizing forward pass, and the backward pass with batch statistics.
 * Reductions sum in double over a fixed number of row bands (one below BN_SPLIT_MIN_ROWS rows),
 * each band's rows in order, and add the bands' partial sums in band order: threads split the bands,
 * never the order, so results do not depend on the thread count. Each thread streams its rows whole
 * (a channel-block split read every row's cache lines once per block). Elementwise passes split rows.
 * The running (moving) averages and 1/sqrt(var + eps) are the caller's: a few floats per channel.
 */
#include "internal.h"

#include <stddef.h>

/* Rows at which the reductions are cut into BN_ROW_BANDS bands (a convolution's 73728 x 64); both are
 * constants, not the thread count. */
#define BN_SPLIT_MIN_ROWS 8192
#define BN_ROW_BANDS 32
/* Channels whose partial sums a band holds at once (its two sums stay in L1/L2). */
#define BN_CHANNEL_CHUNK 1024

typedef struct {
    float *out, *dgamma, *dbeta;
    const float *inp, *dout, *mean, *invstd, *gamma, *beta;
    size_t rows, channels;
    /* Reductions: channels [c0, c0 + cw) of this pass, BN_ROW_BANDS x cw partial sums of each kind. */
    size_t c0, cw, bands;
    double *first, *second;
    const double *mean_d;
} bn_args;

static dk_scratch_pool g_bn_partials = {.floats = 2 * 2 * BN_ROW_BANDS * BN_CHANNEL_CHUNK};

static size_t row_bands(size_t rows) { return rows >= BN_SPLIT_MIN_ROWS ? BN_ROW_BANDS : 1; }
static size_t band_start(const bn_args *a, size_t b) { return a->rows * b / a->bands; }

/* Band b's sums of x (first) and, once the mean is known (mean_d), of (x - mean)^2 (second). */
DK_KERNEL(static, statistics_bands, (void *p, size_t b0, size_t b1), (p, b0, b1)) {
    const bn_args *a = p;
    const size_t C = a->channels, cw = a->cw;
    for (size_t b = b0; b < b1; b++) {
        double *restrict acc = (a->mean_d ? a->second : a->first) + b * cw;
        for (size_t j = 0; j < cw; j++) acc[j] = 0.0;
        for (size_t r = band_start(a, b); r < band_start(a, b + 1); r++) {
            const float *restrict x = a->inp + r * C + a->c0;
            if (!a->mean_d) {
                for (size_t j = 0; j < cw; j++) acc[j] += (double)x[j];
            } else {
                const double *restrict mean = a->mean_d;
                for (size_t j = 0; j < cw; j++) {
                    double d = (double)x[j] - mean[j];
                    acc[j] += d * d;
                }
            }
        }
    }
}

/* Band b's sums of dout (first) and of dout * xhat (second). */
DK_KERNEL(static, backward_bands, (void *p, size_t b0, size_t b1), (p, b0, b1)) {
    const bn_args *a = p;
    const size_t C = a->channels, cw = a->cw;
    const float *restrict mean = a->mean + a->c0, *restrict invstd = a->invstd + a->c0;
    for (size_t b = b0; b < b1; b++) {
        double *restrict sd = a->first + b * cw, *restrict sdx = a->second + b * cw;
        for (size_t j = 0; j < cw; j++) sd[j] = sdx[j] = 0.0;
        for (size_t r = band_start(a, b); r < band_start(a, b + 1); r++) {
            const float *restrict x = a->inp + r * C + a->c0, *restrict d = a->dout + r * C + a->c0;
            for (size_t j = 0; j < cw; j++) {
                sd[j] += (double)d[j];
                sdx[j] += (double)(d[j] * ((x[j] - mean[j]) * invstd[j]));
            }
        }
    }
}

/* total[j] = the bands' partial sums (cw apart) added in band order. */
static void add_bands(double *total, const double *partial, size_t bands, size_t cw) {
    for (size_t j = 0; j < cw; j++) total[j] = partial[j];
    for (size_t b = 1; b < bands; b++)
        for (size_t j = 0; j < cw; j++) total[j] += partial[b * cw + j];
}

/* fn over every band of the current chunk of channels, split between threads when a band is worth it. */
static void over_bands(bn_args *a, dk_range_fn fn) {
    size_t per_band = a->rows / a->bands * a->cw;
    dk__parallel_for(a->bands, per_band >= 32 * 1024 ? 1 : a->bands, 1, fn, a);
}

/* Runs fn over the bands of each chunk of channels, then finish(a, chunk) with the partial sums. */
static void reduce_bands(bn_args *a, dk_range_fn fn, void (*finish)(bn_args *a)) {
    int slot;
    double *mem = (double *)dk__scratch_claim(&g_bn_partials, 0, &slot);
    a->bands = row_bands(a->rows);
    a->first = mem;
    a->second = mem + BN_ROW_BANDS * BN_CHANNEL_CHUNK;
    for (a->c0 = 0; a->c0 < a->channels; a->c0 += BN_CHANNEL_CHUNK) {
        a->cw = a->channels - a->c0 < BN_CHANNEL_CHUNK ? a->channels - a->c0 : BN_CHANNEL_CHUNK;
        over_bands(a, fn);
        finish(a);
    }
    dk__scratch_release(&g_bn_partials, slot);
}

/* mean (a->out) and variance (a->dgamma): two passes, the mean first, then squares of deviations. */
static void finish_statistics(bn_args *a) {
    double mean[BN_CHANNEL_CHUNK], squares[BN_CHANNEL_CHUNK];
    add_bands(mean, a->first, a->bands, a->cw);
    for (size_t j = 0; j < a->cw; j++) mean[j] /= (double)a->rows;
    a->mean_d = mean;
    over_bands(a, statistics_bands);
    a->mean_d = NULL;
    add_bands(squares, a->second, a->bands, a->cw);
    for (size_t j = 0; j < a->cw; j++) {
        a->out[a->c0 + j] = (float)mean[j];
        a->dgamma[a->c0 + j] = (float)(squares[j] / (double)a->rows);
    }
}

void dk_batchnorm_statistics(float *mean, float *variance, const float *inp, int rows, int channels) {
    if (rows <= 0 || channels <= 0) return;
    bn_args a = {.out = mean, .dgamma = variance, .inp = inp, .rows = (size_t)rows, .channels = (size_t)channels};
    reduce_bands(&a, statistics_bands, finish_statistics);
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

static void finish_backward_sums(bn_args *a) {
    double sd[BN_CHANNEL_CHUNK], sdx[BN_CHANNEL_CHUNK];
    add_bands(sd, a->first, a->bands, a->cw);
    add_bands(sdx, a->second, a->bands, a->cw);
    for (size_t j = 0; j < a->cw; j++) {
        a->dgamma[a->c0 + j] = (float)sdx[j];
        a->dbeta[a->c0 + j] = (float)sd[j];
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
    reduce_bands(&a, backward_bands, finish_backward_sums);
    dk__parallel_for((size_t)rows, 1 + (64 * 1024) / (size_t)channels, 1, backward_rows, &a);
}
