/*
 * The GEMM's cache blocking per code path, resolved on first use: DENDRITE_BLOCKING=MC,KC,NC when
 * set and usable, else sizes derived from the caches the CPU reports (Linux sysfs), else the
 * built-in constants. dk_set_blocking replaces a path's blocking (the CLI applies a stored tuning
 * result that way).
 *
 * The derivation follows BLIS's analytical model (Low et al., "Analytical modeling is enough for
 * high-performance BLIS", 2016), for dk_sgemm's loop order (NC, KC, MC, NR, MR):
 *  - KC: the micro-kernel streams an MR x KC sliver of A and a KC x NR micro-panel of B, which
 *    stays in L1 across the MC/MR tiles that reuse it; both fit in 11/12 of L1d (the rest for C's
 *    tile and the next panel's first lines). Rounded down to a multiple of 32. On a core that
 *    splits each 512-bit FMA in two (dk_cpu_splits_512bit_fma), a k step of the AVX-512 tile takes
 *    twice the cycles of a full-rate core's, so half of each sliver can arrive from L2 while the
 *    other half is used: the budget is twice 11/12 of L1d. (AMD's BLIS for Zen 4 streams from L2
 *    further still: KC 480 on a 32 KB L1d.)
 *  - MC: the MC x KC block of A, read once per NR columns of B, stays in half of L2 (the other
 *    half streams B's micro-panels and C).
 *  - NC: the KC x NC block of B, packed once per block and read once per MC rows, stays in half
 *    of one core's share of L3 (L3 divided by the logical CPUs sharing it).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const dk_blocking g_fallback = {.mc = 144, .kc = 512, .nc = 256};

static dk_blocking g_blocking[DK_ISA_COUNT];
static dk_blocking_source g_source[DK_ISA_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_env_error[256];

dk_blocking dk_fallback_blocking(void) { return g_fallback; }

void dk_gemm_tile(dk_isa isa, int *rows, int *cols) {
    *rows = isa == DK_ISA_AVX512 ? DK_MR_AVX512 : DK_MR_AVX2;
    *cols = isa == DK_ISA_AVX512 ? DK_NR_AVX512 : DK_NR_AVX2;
}

/* ---------------------------------------------------------------- caches (sysfs) */

/* The first line of a sysfs file, or 0 when it cannot be read. */
static int read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    return ok;
}

/* "48K", "1280K", "32M" -> bytes. */
static size_t parse_size(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'K') v <<= 10;
    else if (*end == 'M') v <<= 20;
    else if (*end == 'G') v <<= 30;
    return (size_t)v;
}

/* "0-1", "0,2,4-7" -> the number of CPUs listed. */
static int count_cpus(const char *list) {
    int count = 0;
    for (const char *p = list; *p >= '0' && *p <= '9';) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (*end == '-') hi = strtol(end + 1, &end, 10);
        count += (int)(hi - lo + 1);
        p = *end == ',' ? end + 1 : end;
    }
    return count;
}

dk_caches dk_cpu_caches(void) {
    dk_caches c = {0, 0, 0, 1};
    for (int i = 0; i < 8; i++) {
        char path[96], level[16], type[32], size[32], shared[256];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!read_line(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!read_line(path, type, sizeof type) || strncmp(type, "Instruction", 11) == 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!read_line(path, size, sizeof size)) continue;
        size_t bytes = parse_size(size);
        switch (atoi(level)) {
        case 1: c.l1d = bytes; break;
        case 2: c.l2 = bytes; break;
        case 3:
            c.l3 = bytes;
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_list", i);
            if (read_line(path, shared, sizeof shared) && count_cpus(shared) > 0) c.l3_sharing = count_cpus(shared);
            break;
        }
    }
    return c;
}

/* ---------------------------------------------------------------- choosing */

static int clamp(long v, long lo, long hi) { return (int)(v < lo ? lo : (v > hi ? hi : v)); }

int dk_cpu_splits_512bit_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
    /* "AuthenticAMD", as cpuid spells it in ebx, edx, ecx. */
    if (ebx != 0x68747541u || edx != 0x69746e65u || ecx != 0x444d4163u) return 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    unsigned family = ((eax >> 8) & 0xfu) + ((eax >> 20) & 0xffu);
    /* Family 19h is Zen 3 and Zen 4; only Zen 4 has AVX-512, and all of it runs at half width. */
    return family == 0x19 && dk_isa_supported(DK_ISA_AVX512);
#else
    return 0;
#endif
}

int dk_blocking_from_caches(dk_isa isa, dk_caches c, int splits_512bit_fma, dk_blocking *b) {
    if ((unsigned)isa >= DK_ISA_COUNT || c.l1d == 0 || c.l2 == 0) return 0;
    int mr, nr;
    dk_gemm_tile(isa, &mr, &nr);
    size_t l1_budget = c.l1d * 11 / 12 * (isa == DK_ISA_AVX512 && splits_512bit_fma ? 2 : 1);
    long kc = (long)(l1_budget / ((size_t)(mr + nr) * sizeof(float))) / 32 * 32;
    b->kc = clamp(kc, 64, DK_KC_MAX);
    long mc = (long)(c.l2 / 2 / ((size_t)b->kc * sizeof(float))) / mr * mr;
    b->mc = clamp(mc, mr, DK_MC_MAX / mr * mr);
    /* Without an L3, B's block shares L2 with A's: what A leaves of 7/8 of L2. */
    size_t b_bytes = c.l3 ? c.l3 / (size_t)(c.l3_sharing > 0 ? c.l3_sharing : 1) / 2
                          : c.l2 * 7 / 8 - (size_t)b->mc * (size_t)b->kc * sizeof(float);
    long nc = (long)(b_bytes / ((size_t)b->kc * sizeof(float))) / nr * nr;
    b->nc = clamp(nc, nr, DK_NC_MAX / nr * nr);
    return 1;
}

static int check(dk_isa isa, dk_blocking b, char *error, size_t size) {
    int mr, nr;
    dk_gemm_tile(isa, &mr, &nr);
    const char *name = dk_isa_name(isa) ? dk_isa_name(isa) : "?";
    if (b.mc < mr || b.mc > DK_MC_MAX || b.mc % mr != 0) {
        if (error) snprintf(error, size, "MC=%d: the %s path needs a multiple of %d (its tile height) from %d to %d",
                            b.mc, name, mr, mr, DK_MC_MAX / mr * mr);
        return -1;
    }
    if (b.kc < 1 || b.kc > DK_KC_MAX) {
        if (error) snprintf(error, size, "KC=%d: must be from 1 to %d", b.kc, DK_KC_MAX);
        return -1;
    }
    if (b.nc < nr || b.nc > DK_NC_MAX || b.nc % nr != 0) {
        if (error) snprintf(error, size, "NC=%d: the %s path needs a multiple of %d (its tile width) from %d to %d",
                            b.nc, name, nr, nr, DK_NC_MAX / nr * nr);
        return -1;
    }
    return 0;
}

/* "MC,KC,NC" as three decimal integers and nothing else. */
static int parse_blocking(const char *s, dk_blocking *b) {
    int *fields[3] = {&b->mc, &b->kc, &b->nc};
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*s < '0' || *s > '9') return 0;
        long v = strtol(s, &end, 10);
        if (v > 1 << 20) return 0;
        *fields[i] = (int)v;
        if (*end != (i < 2 ? ',' : '\0')) return 0;
        s = end + 1;
    }
    return 1;
}

static void resolve(void) {
    dk_caches caches = dk_cpu_caches();
    int splits_512bit_fma = dk_cpu_splits_512bit_fma();
    const char *env = getenv("DENDRITE_BLOCKING");
    dk_blocking requested;
    int have_env = env && *env;
    if (have_env && !parse_blocking(env, &requested)) {
        snprintf(g_env_error, sizeof g_env_error,
                 "DENDRITE_BLOCKING='%s' is not MC,KC,NC (three positive integers, e.g. 144,512,256)", env);
        have_env = 0;
    }
    for (int i = 0; i < DK_ISA_COUNT; i++) {
        dk_isa isa = (dk_isa)i;
        char error[160];
        if (have_env && check(isa, requested, error, sizeof error) == 0) {
            g_blocking[i] = requested;
            g_source[i] = DK_BLOCKING_ENVIRONMENT;
            continue;
        }
        /* Reported for the path in use only: another path may need other multiples. */
        if (have_env && isa == dk__isa())
            snprintf(g_env_error, sizeof g_env_error, "DENDRITE_BLOCKING=%s: %s", env, error);
        if (dk_blocking_from_caches(isa, caches, splits_512bit_fma, &g_blocking[i])) {
            g_source[i] = DK_BLOCKING_CACHES;
        } else {
            g_blocking[i] = g_fallback;
            g_source[i] = DK_BLOCKING_FALLBACK;
        }
    }
}

dk_blocking dk__blocking(dk_isa isa) {
    pthread_once(&g_once, resolve);
    return g_blocking[isa];
}

dk_blocking dk_get_blocking(dk_isa isa, dk_blocking_source *source) {
    if ((unsigned)isa >= DK_ISA_COUNT) isa = DK_ISA_PORTABLE;
    pthread_once(&g_once, resolve);
    if (source) *source = g_source[isa];
    return g_blocking[isa];
}

int dk_set_blocking(dk_isa isa, dk_blocking blocking, dk_blocking_source source, char *error,
                    size_t error_size) {
    if ((unsigned)isa >= DK_ISA_COUNT) {
        if (error) snprintf(error, error_size, "no code path %d", (int)isa);
        return -1;
    }
    if (check(isa, blocking, error, error_size) != 0) return -1;
    pthread_once(&g_once, resolve);
    g_blocking[isa] = blocking;
    g_source[isa] = source == DK_BLOCKING_WISDOM ? DK_BLOCKING_WISDOM : DK_BLOCKING_CALLER;
    return 0;
}

const char *dk_environment_error(void) {
    const char *isa_error = dk__isa_environment_error();
    if (isa_error) return isa_error;
    const char *winograd_error = dk__winograd_environment_error();
    if (winograd_error) return winograd_error;
    pthread_once(&g_once, resolve);
    return g_env_error[0] ? g_env_error : NULL;
}
