#include "tensor_kernels.h"

/* Whether the AVX2+FMA versions of the kernels run: decided once at load time, before any
 * thread can call a kernel, and changed afterwards only by tests (fm_kernels_use_avx2). */
static int avx2_fma = 0;

__attribute__((constructor)) static void detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

int fm_kernels_avx2_enabled(void) { return avx2_fma; }

int fm_kernels_use_avx2(int enabled) {
    int before = avx2_fma;
#if defined(__x86_64__) || defined(__i386__)
    avx2_fma = enabled && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return before;
}
