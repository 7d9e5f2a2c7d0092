/*
 * A/B timing of two versions of CKernels/matmul.c linked into one process (their dk_sgemm renamed
 * dk_sgemm_old and dk_sgemm_new by scripts/matmul-ab.sh), on the MLP's shapes and 1024², one thread
 * count. Samples alternate between the versions, so a machine that speeds up or slows down mid-run
 * moves both alike; the new/old ratio of the medians is the figure to read.
 * Usage (via the script): matmul-ab THREADS [TA TB M N K]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void dk_set_num_threads(int n);
typedef void sgemm_fn(int, int, int, int, int, float, const float *, int, const float *, int, float,
                      float *, int);
sgemm_fn dk_sgemm_old, dk_sgemm_new;

typedef struct { int ta, tb, m, n, k; } shape;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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
    if (argc != 2 && argc != 7) {
        fprintf(stderr, "usage: %s THREADS [TA TB M N K]\n", argv[0]);
        return 2;
    }
    dk_set_num_threads(atoi(argv[1]));
    if (argc == 7) {
        compare((shape){atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6])});
        return 0;
    }
    /* The MLP's forward (NN), weight-gradient (TN) and input-gradient (NT) products, and 1024². */
    const shape shapes[] = {
        {0, 0, 128, 256, 784}, {0, 0, 128, 256, 256}, {0, 0, 128, 10, 256}, {1, 0, 784, 256, 128},
        {1, 0, 256, 256, 128}, {1, 0, 256, 10, 128},  {0, 1, 128, 256, 256}, {0, 1, 128, 256, 10},
        {0, 0, 1024, 1024, 1024},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) compare(shapes[i]);
    return 0;
}
