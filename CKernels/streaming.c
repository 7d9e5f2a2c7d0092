/*
 * When kernels stream their stores (see internal.h): outputs larger than the last-level cache the
 * CPU reports (read once; where the caches cannot be read, 32 MB, a common server L3) that overlap
 * none of the kernel's inputs.
 */
#include "internal.h"

#include <pthread.h>

static size_t g_min_bytes;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void resolve(void) {
    dk_caches c = dk_cpu_caches();
    size_t last_level = c.l3 ? c.l3 : c.l2;
    g_min_bytes = last_level ? last_level : (size_t)32 << 20;
}

size_t dk_streaming_min_bytes(void) {
    pthread_once(&g_once, resolve);
    return g_min_bytes;
}

static int overlaps(const float *a, size_t a_count, const float *b, size_t b_count) {
    return (uintptr_t)a < (uintptr_t)(b + b_count) && (uintptr_t)b < (uintptr_t)(a + a_count);
}

int dk__streams_output(const float *out, size_t count, const float *in1, size_t in1_count,
                       const float *in2, size_t in2_count) {
    return count * sizeof(float) >= dk_streaming_min_bytes() && !overlaps(out, count, in1, in1_count) &&
           !(in2_count && overlaps(out, count, in2, in2_count));
}
