/*
 * Dropout with inverted scaling: out[i] = keep(i) ? inp[i] / (1 - rate) : 0.
 * keep(i) hashes (key, i) with 32-bit integer arithmetic that vectorizes (murmur3's finalizer, twice,
 * mixed with the key's halves), so the mask needs no generator state: the caller derives the key
 * from (seed, step, layer), a resumed run draws the same masks, any thread split gives the same
 * bits, and the backward pass recomputes the mask instead of storing it. The Swift kernels use the
 * same hash, so both backends drop the same elements. Element i is hashed at index first + i (a
 * data-parallel rank passes where its share starts in the whole batch, so each row gets the mask one
 * process would give it). Indices are taken modulo 2^32.
 *
 * The hash is the kernel's whole cost (four 32-bit multiplies per hash, the one slow vector integer
 * operation), so each hash serves two elements with 16 bits apiece: in every aligned block of 32
 * indices, lane l's hash decides element l by its low half and element 16 + l by its high half.
 * Both halves of a hash are full-avalanche bits, and 16 bits resolve the rate to 1/65536.
 */
#include "internal.h"

#include <stddef.h>

enum { BLOCK = 32, LANES = 16 };

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

DK_INLINE uint32_t pair_hash(uint32_t pair, const dropout_args *a) {
    return fmix32(fmix32(pair ^ a->key_lo) + a->key_hi);
}

/// The 16 bits that decide the element at (wrapped) index j.
DK_INLINE uint32_t keep_bits(uint32_t j, const dropout_args *a) {
    uint32_t h = pair_hash((j / BLOCK) * LANES + j % LANES, a);
    return (j & LANES) ? h >> 16 : h & 0xffffu;
}

DK_INLINE void drop_one(size_t i, const dropout_args *a) {
    a->out[i] = keep_bits((uint32_t)i + a->first, a) >= a->threshold ? a->inp[i] * a->scale : 0.0f;
}

DK_KERNEL(static, dropout_range, (void *p, size_t b, size_t e), (p, b, e)) {
    const dropout_args *a = p;
    /* out may equal inp: each element is read before it is written. */
    float *out = a->out;
    const float *inp = a->inp;
    const uint32_t threshold = a->threshold;
    const float scale = a->scale;
    size_t i = b;
    for (; i < e && ((uint32_t)i + a->first) % BLOCK != 0; i++) drop_one(i, a);
    for (; i + BLOCK <= e; i += BLOCK) {
        const uint32_t pair = ((uint32_t)i + a->first) / BLOCK * LANES;
        uint32_t h[LANES];
        float lo[LANES], hi[LANES];
        for (int l = 0; l < LANES; l++) {
            h[l] = pair_hash(pair + (uint32_t)l, a);
            lo[l] = inp[i + l];
            hi[l] = inp[i + LANES + l];
        }
        for (int l = 0; l < LANES; l++) {
            out[i + l] = (h[l] & 0xffffu) >= threshold ? lo[l] * scale : 0.0f;
            out[i + LANES + l] = (h[l] >> 16) >= threshold ? hi[l] * scale : 0.0f;
        }
    }
    for (; i < e; i++) drop_one(i, a);
}

void dk_dropout(float *out, const float *inp, size_t n, float rate, uint64_t key, size_t first) {
    /* rate quantized to 16 bits; elements whose 16 hash bits are below it are dropped. */
    dropout_args a = {out, inp, (uint32_t)key, (uint32_t)(key >> 32), (uint32_t)(rate * 65536.0f),
                      (uint32_t)first, 1.0f / (1.0f - rate)};
    dk__parallel_for(n, 64 * 1024, BLOCK, dropout_range, &a);
}
