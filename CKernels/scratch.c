/*
 * Scratch pools: per-worker buffers for kernels that need working memory (GEMM's packing buffers,
 * the implicit-GEMM convolutions' unfolded chunks) without touching the heap. A pool holds up to
 * DK_SCRATCH_SLOTS slots of one size; a worker claims a free slot with an atomic flag, so that
 * concurrent callers (several threads calling a kernel at once) never share one. A slot's pages are
 * mapped on its first use and never returned: mapping is not heap allocation, it happens once per
 * slot (never in a steady-state training step), and untouched pages cost only address space.
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static float *slot_memory(dk_scratch_pool *pool, int s) {
    float *mem = atomic_load_explicit(&pool->memory[s], memory_order_acquire);
    if (mem) return mem;
    void *p = mmap(NULL, pool->floats * sizeof(float), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        /* A kernel has no way to report failure; without address space there is nothing to do. */
        fprintf(stderr, "dendrite: cannot map %zu MB of kernel scratch memory\n",
                pool->floats * sizeof(float) >> 20);
        abort();
    }
    atomic_store_explicit(&pool->memory[s], (float *)p, memory_order_release);
    return p;
}

float *dk__scratch_claim(dk_scratch_pool *pool, int hint, int *slot) {
    for (;;) {
        for (int i = 0; i < DK_SCRATCH_SLOTS; i++) {
            int s = (hint + i) % DK_SCRATCH_SLOTS;
            if (atomic_load_explicit(&pool->busy[s], memory_order_relaxed) == 0 &&
                atomic_exchange_explicit(&pool->busy[s], 1, memory_order_acquire) == 0) {
                *slot = s;
                return slot_memory(pool, s);
            }
        }
        sched_yield();
    }
}

void dk__scratch_release(dk_scratch_pool *pool, int slot) {
    atomic_store_explicit(&pool->busy[slot], 0, memory_order_release);
}
