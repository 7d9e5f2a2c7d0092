/*
 * A/B timing of two builds of CKernels' row kernels (softmax and log-softmax, forward and backward),
 * loaded into one process as in matmul-ab.c, at the harness's 4096 × 4096: samples alternate between
 * the builds; the new/old ratio of the medians is the figure to read.
 * Usage (via scripts/rows-ab.sh): rows-ab OLD.so NEW.so THREADS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "ab-timing.h"

typedef void forward_fn(float *out, const float *inp, int rows, int cols);
typedef void backward_fn(float *dinp, const float *dout, const float *out, int rows, int cols);
enum { KERNELS = 4 };
static const char *names[KERNELS] = {"softmax_forward", "softmax_backward", "log_softmax_forward",
                                     "log_softmax_backward"};

typedef struct {
    void *fn[KERNELS];
} build;

static build load(const char *path, int threads) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); exit(1); }
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "dk_set_num_threads");
    build b;
    char symbol[64];
    for (int k = 0; k < KERNELS; k++) {
        snprintf(symbol, sizeof symbol, "dk_%s", names[k]);
        if (!(b.fn[k] = dlsym(lib, symbol))) { fprintf(stderr, "%s: no %s\n", path, symbol); exit(1); }
    }
    if (!set_threads) { fprintf(stderr, "%s: no dk_set_num_threads\n", path); exit(1); }
    set_threads(threads);
    return b;
}

/* Seconds of one call of kernel k: forwards map x to y, backwards map (g, y) to d. */
static double time_kernel(build b, int k, int n, float *x, float *y, float *g, float *d) {
    double start = now();
    if (k % 2 == 0) ((forward_fn *)b.fn[k])(y, x, n, n);
    else ((backward_fn *)b.fn[k])(d, g, y, n, n);
    return now() - start;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s OLD.so NEW.so THREADS\n", argv[0]);
        return 2;
    }
    build old = load(argv[1], atoi(argv[3])), new = load(argv[2], atoi(argv[3]));
    enum { N = 4096, SAMPLES = 21 };
    size_t count = (size_t)N * N;
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y), *g = malloc(count * sizeof *g);
    float *d = malloc(count * sizeof *d);
    if (!x || !y || !g || !d) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < count; i++) x[i] = (float)(i % 97) * 0.1f - 5.0f, g[i] = (float)(i % 13) * 0.01f;
    for (int k = 0; k < KERNELS; k++) {
        /* Each backward reads its own forward's output. */
        if (k % 2) time_kernel(old, k - 1, N, x, y, g, d);
        double t_old[SAMPLES], t_new[SAMPLES];
        time_kernel(old, k, N, x, y, g, d);
        time_kernel(new, k, N, x, y, g, d);
        for (int i = 0; i < SAMPLES; i++) {
            t_old[i] = time_kernel(old, k, N, x, y, g, d);
            t_new[i] = time_kernel(new, k, N, x, y, g, d);
        }
        qsort(t_old, SAMPLES, sizeof *t_old, by_value);
        qsort(t_new, SAMPLES, sizeof *t_new, by_value);
        double a = t_old[SAMPLES / 2], b = t_new[SAMPLES / 2];
        printf("%-22s old %7.3f ms  new %7.3f ms  new/old %.3f\n", names[k], a * 1e3, b * 1e3, b / a);
    }
    free(x), free(y), free(g), free(d);
    return 0;
}
