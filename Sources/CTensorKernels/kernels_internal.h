/* What the kernel files share and the public header (include/tensor_kernels.h) does not export. */
#ifndef FM_KERNELS_INTERNAL_H
#define FM_KERNELS_INTERNAL_H

#include <math.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* On x86-64 each kernel has an AVX2+FMA version beside the baseline; cpu.c picks one at run
 * time (fm_kernels_avx2_enabled); the dense forward kernel also
 * has an AVX-512F one (fm_kernels_avx512_enabled). */
#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

/* Keras's Adam on one element whose gradient is g: c1 = 1 - beta1, c2 = 1 - beta2, alpha the
 * step's bias-corrected learning rate, IEEE square root and division. */
ALWAYS_INLINE void adam_scalar(float *w, float *m, float *v, float g, float alpha, float c1, float c2, float eps) {
    float mi = *m + (g - *m) * c1;
    float vi = *v + (g * g - *v) * c2;
    *m = mi;
    *v = vi;
    *w -= mi * alpha / (sqrtf(vi) + eps);
}

#endif
