/*
 * A/B timing of two builds of CKernels loaded into one process (each a shared library opened with
 * RTLD_LOCAL, so their symbols stay apart), on the MLP's shapes and 1024², one thread count.
 * Samples alternate between the builds, so a machine that speeds up or slows down mid-run moves
 * both alike; the new/old ratio of the medians is the figure to read.
 * Usage (via scripts/matmul-ab.sh): matmul-ab OLD.so NEW.so THREADS [TA TB M N K]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ab-timing.h"

typedef void sgemm_fn(int, int, int, int, int, float, const float *, int, const float *, int, float,
                      float *, int);
static sgemm_fn *dk_sgemm_old, *dk_sgemm_new;

/* Opens a build and sets its thread count; returns its dk_sgemm. */
static sgemm_fn *load(const char *path, int threads) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); exit(1); }
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "dk_set_num_threads");
    sgemm_fn *sgemm = (sgemm_fn *)dlsym(lib, "dk_sgemm");
    if (!set_threads || !sgemm) { fprintf(stderr, "%s: no dk_sgemm or dk_set_num_threads\n", path); exit(1); }
    set_threads(threads);
    return sgemm;
}

typedef struct { int ta, tb, m, n, k; } shape;

/* Seconds per call of `calls` back-to-back calls. */
static double time_calls(sgemm_fn *f, shape s, int calls, const float *a, const float *b, float *c) {
    int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    double start = now();
    for (int i = 0; i < calls; i++) f(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a, lda, b, ldb, 0.0f, c, s.n);
    return (now() - start) / calls;
}

static void compare(shape s) {
    enum { SAMPLES = 31 };
    size_t na = (size_t)s.m * s.k, nb = (size_t)s.k * s.n, nc = (size_t)s.m * s.n;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < na; i++) a[i] = (float)(i % 13) * 0.1f - 0.6f;
    for (size_t i = 0; i < nb; i++) b[i] = (float)(i % 7) * 0.1f - 0.3f;
    double flops = 2.0 * s.m * s.n * s.k, t_old[SAMPLES], t_new[SAMPLES];
    int calls = (int)(2e8 / flops) + 1; /* about 2 ms per sample */
    time_calls(dk_sgemm_old, s, calls, a, b, c);
    time_calls(dk_sgemm_new, s, calls, a, b, c);
    for (int i = 0; i < SAMPLES; i++) {
        t_old[i] = time_calls(dk_sgemm_old, s, calls, a, b, c);
        t_new[i] = time_calls(dk_sgemm_new, s, calls, a, b, c);
    }
    qsort(t_old, SAMPLES, sizeof *t_old, by_value);
    qsort(t_new, SAMPLES, sizeof *t_new, by_value);
    double old = t_old[SAMPLES / 2], new = t_new[SAMPLES / 2];
    printf("%c%c M=%-5d N=%-5d K=%-5d old %6.1f GFLOP/s  new %6.1f GFLOP/s  new/old %.3f\n",
           s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, flops / old * 1e-9, flops / new * 1e-9,
           old / new);
    free(a), free(b), free(c);
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 9) {
        fprintf(stderr, "usage: %s OLD.so NEW.so THREADS [TA TB M N K]\n", argv[0]);
        return 2;
    }
    dk_sgemm_old = load(argv[1], atoi(argv[3]));
    dk_sgemm_new = load(argv[2], atoi(argv[3]));
    if (argc == 9) {
        compare((shape){atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8])});
        return 0;
    }
    /* The MLP's forward (NN), weight-gradient (TN) and input-gradient (NT) products, and 1024². */
    const shape shapes[] = {
        {0, 0, 128, 256, 784}, {0, 0, 128, 256, 256}, {0, 0, 128, 10, 256}, {1, 0, 784, 256, 128},
        {1, 0, 256, 256, 128}, {1, 0, 256, 10, 128},  {0, 1, 128, 256, 256}, {0, 1, 128, 256, 10},
        {0, 0, 1024, 1024, 1024}, {0, 0, 2048, 2048, 2048}, {0, 0, 73728, 64, 288},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) compare(shapes[i]);
    return 0;
}
