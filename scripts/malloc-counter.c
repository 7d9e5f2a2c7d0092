/*
 * An LD_PRELOAD shim that counts heap allocation calls (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc) and prints the total to stderr at exit. scripts/count-allocations.sh runs training for
 * one and for two epochs under it: the difference is what the extra epoch's steps allocated.
 * Calls go on to glibc's own entry points (__libc_*), so no dlsym bootstrapping is needed.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;

void *malloc(size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t c, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_calloc(c, n); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "malloc-counter: %ld allocations\n", atomic_load(&allocations));
}
