#include "tensor_kernels.h"

/* The best kernel level the CPU has: 0 baseline, 1 AVX2+FMA, 2 AVX-512F (with AVX2+FMA):
 * decided once at load time, before any thread can call a kernel. A thread may choose a lower
 * level for itself (tests do: fm_kernels_use_avx2, fm_kernels_use_level); the choice holds
 * for that thread and for the pool workers running its parallel kernels (pool.c hands it over
 * with each job), so tests running side by side do not see each other's choice. */
static int avx2_fma = 0;
static int best_level = 0;
static _Thread_local int thread_choice = -1;   /* -1: what the CPU has, else a level */

__attribute__((constructor)) static void detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    best_level = avx2_fma ? (__builtin_cpu_supports("avx512f") ? 2 : 1) : 0;
#endif
}

static int level(void) { return thread_choice < 0 ? best_level : thread_choice; }

int fm_kernels_avx2_enabled(void) { return level() >= 1; }

int fm_kernels_avx512_enabled(void) { return level() >= 2; }

int fm_kernels_use_avx2(int enabled) {
    int before = fm_kernels_avx2_enabled();
    thread_choice = enabled ? -1 : 0;
    return before;
}

int fm_kernels_use_level(int wanted) {
    int before = thread_choice;
    thread_choice = wanted < 0 ? -1 : wanted < best_level ? wanted : best_level;
    return before;
}

int fm_kernels_best_level(void) { return best_level; }

int fm_kernels_thread_choice(void) { return thread_choice; }

void fm_kernels_set_thread_choice(int choice) { thread_choice = choice; }

/* Whether the CPU and the OS support the AVX-512 subsets OpenBLAS's SkylakeX kernels use
 * (F, CD, BW, DQ, VL). The compiler's check reads CPUID and whether the OS saves the AVX-512
 * state (XGETBV). */
int fm_cpu_has_avx512_skylakex(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

/* Whether the CPU has AVX2 and FMA (OpenBLAS's Haswell kernels). */
int fm_cpu_has_avx2_fma(void) { return avx2_fma; }
