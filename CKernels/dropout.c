/*
 * Dropout with inverted scaling: out[i] = keep(i) ? inp[i] / (1 - rate) : 0.
 * keep(i) hashes (key, i) with 32-bit integer arithmetic that vectorizes (murmur3's finalizer over
 * i mixed with the key's halves), so the mask needs no generator state: the caller derives the key
 * from (seed, step, layer), a resumed run draws the same masks, any thread split gives the same
 * bits, and the backward pass recomputes the mask instead of storing it. The Swift kernels use the
 * same hash, so both backends drop the same elements. Element i is hashed at index first + i (a
 * data-parallel rank passes where its share starts in the whole batch, so each row gets the mask one
 * process would give it). Indices are taken modulo 2^32.
 */
#include "internal.h"

#include <stddef.h>

typedef struct {
    float *out;
    const float *inp;
    uint32_t key_lo, key_hi, threshold, first;
    float scale;
} dropout_args;

DK_INLINE uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

DK_KERNEL(static, dropout_range, (void *p, size_t b, size_t e), (p, b, e)) {
    const dropout_args *a = p;
    /* out may equal inp: each element is read before it is written. */
    float *out = a->out;
    const float *inp = a->inp;
    const uint32_t lo = a->key_lo, hi = a->key_hi, threshold = a->threshold;
    const float scale = a->scale;
    for (size_t i = b; i < e; i++) {
        uint32_t h = fmix32(fmix32(((uint32_t)i + a->first) ^ lo) + hi);
        out[i] = (h >> 8) >= threshold ? inp[i] * scale : 0.0f;
    }
}

void dk_dropout(float *out, const float *inp, size_t n, float rate, uint64_t key, size_t first) {
    /* rate quantized to 24 bits; elements whose 24-bit hash is below it are dropped. */
    dropout_args a = {out, inp, (uint32_t)key, (uint32_t)(key >> 32), (uint32_t)(rate * 16777216.0f),
                      (uint32_t)first, 1.0f / (1.0f - rate)};
    dk__parallel_for(n, 64 * 1024, 16, dropout_range, &a);
}
