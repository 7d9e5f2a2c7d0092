/*
 * A/B timing of two builds of CKernels' implicit-GEMM convolutions (dk_conv2d_*, from commit 99d7623 on),
 * loaded into one process as in matmul-ab.c, on the presets' convolutions at batch 128: forward (with
 * ReLU), weight gradient and input gradient. Samples alternate between the builds; the new/old ratio of
 * the medians is the figure to read.
 * Usage (via scripts/conv-ab.sh): conv-ab OLD.so NEW.so THREADS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ab-timing.h"

/* CKernels.h's dk_window, field for field. */
typedef struct {
    int batch, height, width, channels, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, out_h, out_w;
} window;
typedef void forward_fn(float *, const float *, const float *, const float *, int, const window *, int, float);
typedef void weight_fn(float *, const float *, const float *, int, const window *, float);
typedef void input_fn(float *, const float *, const float *, int, const window *);
typedef struct {
    forward_fn *forward;
    weight_fn *weight;
    input_fn *input;
} build;

static build load(const char *path, int threads) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); exit(1); }
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "dk_set_num_threads");
    build b = {(forward_fn *)dlsym(lib, "dk_conv2d_forward"), (weight_fn *)dlsym(lib, "dk_conv2d_backward_weight"),
               (input_fn *)dlsym(lib, "dk_conv2d_backward_input")};
    if (!set_threads || !b.forward || !b.weight || !b.input) {
        fprintf(stderr, "%s: no dk_conv2d_* (a revision before the implicit GEMM?)\n", path);
        exit(1);
    }
    set_threads(threads);
    return b;
}

typedef struct {
    const char *name;
    window w;
    int filters;
} layer;

/* Seconds of one call of part 0 (forward), 1 (weight gradient) or 2 (input gradient). */
static double time_part(build b, int part, const layer *l, float *x, float *weight, float *bias, float *y,
                        float *dweight, float *dx) {
    double start = now();
    if (part == 0) b.forward(y, x, weight, bias, l->filters, &l->w, 1 /* ReLU */, 0.0f);
    else if (part == 1) b.weight(dweight, y, x, l->filters, &l->w, 0.0f);
    else b.input(dx, y, weight, l->filters, &l->w);
    return now() - start;
}

static void compare(build old, build new, const layer *l) {
    enum { SAMPLES = 15 };
    const window *w = &l->w;
    size_t xs = (size_t)w->batch * w->height * w->width * w->channels;
    size_t k = (size_t)w->kernel_h * w->kernel_w * w->channels, m = (size_t)w->batch * w->out_h * w->out_w;
    float *x = malloc(xs * sizeof *x), *dx = malloc(xs * sizeof *dx), *weight = malloc(k * l->filters * sizeof *weight);
    float *dweight = malloc(k * l->filters * sizeof *dweight), *bias = calloc(l->filters, sizeof *bias);
    float *y = malloc(m * l->filters * sizeof *y);
    if (!x || !dx || !weight || !dweight || !bias || !y) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < xs; i++) x[i] = (float)(i % 13) * 0.1f - 0.6f;
    for (size_t i = 0; i < k * l->filters; i++) weight[i] = (float)(i % 7) * 0.05f - 0.15f;
    const char *parts[] = {"forward", "weight gradient", "input gradient"};
    for (int part = 0; part < 3; part++) {
        double t_old[SAMPLES], t_new[SAMPLES];
        time_part(old, part, l, x, weight, bias, y, dweight, dx);
        time_part(new, part, l, x, weight, bias, y, dweight, dx);
        for (int i = 0; i < SAMPLES; i++) {
            t_old[i] = time_part(old, part, l, x, weight, bias, y, dweight, dx);
            t_new[i] = time_part(new, part, l, x, weight, bias, y, dweight, dx);
        }
        qsort(t_old, SAMPLES, sizeof *t_old, by_value);
        qsort(t_new, SAMPLES, sizeof *t_new, by_value);
        double a = t_old[SAMPLES / 2], b = t_new[SAMPLES / 2], flops = 2.0 * m * k * l->filters;
        printf("%-13s %-16s old %7.3f ms  new %7.3f ms (%6.1f GFLOP/s)  new/old %.3f\n", l->name, parts[part],
               a * 1e3, b * 1e3, flops / b * 1e-9, b / a);
    }
    free(x), free(dx), free(weight), free(dweight), free(bias), free(y);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s OLD.so NEW.so THREADS\n", argv[0]);
        return 2;
    }
    build old = load(argv[1], atoi(argv[3])), new = load(argv[2], atoi(argv[3]));
    const layer layers[] = {
        {"cnn conv1", {128, 28, 28, 1, 3, 3, 1, 1, 0, 0, 26, 26}, 32},
        {"cnn conv2", {128, 26, 26, 32, 3, 3, 1, 1, 0, 0, 24, 24}, 64},
        {"lenet5 conv1", {128, 28, 28, 1, 5, 5, 1, 1, 2, 2, 28, 28}, 6},
        {"lenet5 conv2", {128, 14, 14, 6, 5, 5, 1, 1, 0, 0, 10, 10}, 16},
    };
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) compare(old, new, &layers[i]);
    return 0;
}
