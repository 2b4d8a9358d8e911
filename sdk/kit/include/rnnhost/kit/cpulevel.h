/* rnnhost cell kit: the CPU kernel levels of every plugin built on the kit, and the one switch that forces
 * a level.
 *
 * The kit compiles its kernels three times: plain C, AVX2 (with FMA and F16C) and
 * AVX-512 (AVX512F). It runs the best level the CPU has, or the level named by the environment variable
 * RNNHOST_CPU ("plain", "avx2" or "avx512") when the CPU has that one, so that every level can be tested
 * on any machine that can run it. A plugin never runs a level the CPU lacks: asked for one, it uses the
 * best it has; the host, the tests and the benchmarks check the request first (cpu_level_request) and
 * refuse it in one line, so nobody measures or tests another level than the one they named.
 *
 * Header-only, so that the kit, the host, the tests and bench/ decide alike; nothing here is ABI. C99. */
#ifndef RNNHOST_KIT_CPULEVEL_H
#define RNNHOST_KIT_CPULEVEL_H

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define CPU_LEVEL_X86 1
#endif

#define CPU_LEVEL_ENV "RNNHOST_CPU"

typedef enum cpu_level { CPU_PLAIN = 0, CPU_AVX2 = 1, CPU_AVX512 = 2, CPU_LEVELS = 3 } cpu_level;

static inline const char *cpu_level_name(cpu_level level)
{
    static const char *const names[CPU_LEVELS] = {"plain", "avx2", "avx512"};
    return (unsigned)level < CPU_LEVELS ? names[level] : "?";
}

/* 1 when this CPU (and its operating system, which must save the wider registers) can run level. */
static inline int cpu_level_supported(cpu_level level)
{
    if (level == CPU_PLAIN)
        return 1;
#ifdef CPU_LEVEL_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx || !fma || !f16c)
        return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    if ((xcr0_lo & 0x6u) != 0x6u) // XMM and YMM state
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (level == CPU_AVX2)
        return avx2;
    if (level == CPU_AVX512)
        return avx2 && avx512f && (xcr0_lo & 0xe0u) == 0xe0u; // opmask, ZMM0-15 upper, ZMM16-31
#endif
    return 0;
}

/* The best level this CPU runs. */
static inline cpu_level cpu_level_best(void)
{
    cpu_level best = CPU_PLAIN;
    for (int l = CPU_PLAIN + 1; l < CPU_LEVELS; l++)
        if (cpu_level_supported((cpu_level)l))
            best = (cpu_level)l;
    return best;
}

/* Reads RNNHOST_CPU into *level. 0: not set or empty (*level = the best); 1: set to a level this CPU runs;
 * -1: not a level name; -2: a level this CPU lacks (*level holds the one asked for either way). */
static inline int cpu_level_request(cpu_level *level)
{
    const char *s = getenv(CPU_LEVEL_ENV);
    *level = cpu_level_best();
    if (s == NULL || *s == '\0')
        return 0;
    for (int l = CPU_PLAIN; l < CPU_LEVELS; l++)
        if (strcmp(s, cpu_level_name((cpu_level)l)) == 0) {
            *level = (cpu_level)l;
            return cpu_level_supported(*level) ? 1 : -2;
        }
    return -1;
}

/* The level the plugins run: the one asked for when the CPU runs it, else the best. */
static inline cpu_level cpu_level_chosen(void)
{
    cpu_level level;
    return cpu_level_request(&level) == 1 ? level : cpu_level_best();
}

#endif /* RNNHOST_KIT_CPULEVEL_H */
