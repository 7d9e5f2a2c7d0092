/*
 * What the A/B drivers (matmul-ab.c, conv-ab.c, rows-ab.c) share: a monotonic clock and an order for qsort, to take
 * medians of interleaved samples.
 */
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
