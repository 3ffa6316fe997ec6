#include "tensor_kernels.h"
#include "kernels_internal.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void fm_adam_update(float *restrict w, const float *restrict g, float *restrict m,
                    float *restrict v, long begin, long end,
                    float alpha, float c1, float c2, float eps) {
    long i = begin;
#if defined(__SSE2__)
    /* Four lanes with sqrtps: sqrtf itself cannot be vectorised while it may set errno. */
    const __m128 a4 = _mm_set1_ps(alpha), c14 = _mm_set1_ps(c1), c24 = _mm_set1_ps(c2), e4 = _mm_set1_ps(eps);
    for (; i + 4 <= end; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mi = _mm_loadu_ps(m + i), vi = _mm_loadu_ps(v + i);
        mi = _mm_add_ps(mi, _mm_mul_ps(_mm_sub_ps(gi, mi), c14));
        vi = _mm_add_ps(vi, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(gi, gi), vi), c24));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 step = _mm_div_ps(_mm_mul_ps(mi, a4), _mm_add_ps(_mm_sqrt_ps(vi), e4));
        _mm_storeu_ps(w + i, _mm_sub_ps(_mm_loadu_ps(w + i), step));
    }
#endif
    for (; i < end; i++) adam_scalar(w + i, m + i, v + i, g[i], alpha, c1, c2, eps);
}

/* PyTorch's AdamW over [begin, end) (docs/transformer.md, "Training text models"):
 * w *= decay; m += (g - m) c1; v = v beta2 + (c2 g) g; w -= step * m / (sqrt(v) / bc2 + eps).
 * The four-lane body and the scalar tail round alike (every operation is IEEE, none fused). */
void fm_adamw_update(float *restrict w, const float *restrict g, float *restrict m,
                     float *restrict v, long begin, long end,
                     float step, float bc2, float decay, float beta2, float c1, float c2, float eps) {
    long i = begin;
#if defined(__SSE2__)
    const __m128 s4 = _mm_set1_ps(step), b4 = _mm_set1_ps(bc2), d4 = _mm_set1_ps(decay), beta24 = _mm_set1_ps(beta2);
    const __m128 c14 = _mm_set1_ps(c1), c24 = _mm_set1_ps(c2), e4 = _mm_set1_ps(eps);
    for (; i + 4 <= end; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mi = _mm_loadu_ps(m + i), vi = _mm_loadu_ps(v + i);
        mi = _mm_add_ps(mi, _mm_mul_ps(_mm_sub_ps(gi, mi), c14));
        vi = _mm_add_ps(_mm_mul_ps(vi, beta24), _mm_mul_ps(_mm_mul_ps(c24, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 wi = _mm_mul_ps(_mm_loadu_ps(w + i), d4);
        __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), b4), e4);
        _mm_storeu_ps(w + i, _mm_sub_ps(wi, _mm_mul_ps(s4, _mm_div_ps(mi, denom))));
    }
#endif
    for (; i < end; i++) {
        float gi = g[i];
        float mi = m[i] + (gi - m[i]) * c1;
        float vi = v[i] * beta2 + (c2 * gi) * gi;
        m[i] = mi;
        v[i] = vi;
        float wi = w[i] * decay;
        w[i] = wi - step * (mi / (sqrtf(vi) / bc2 + eps));
    }
}
