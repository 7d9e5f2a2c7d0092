/*
 * When kernels stream their stores (see internal.h): outputs larger than the last-level cache the
 * CPU reports, read once. Where the caches cannot be read, 32 MB, a common server L3.
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
