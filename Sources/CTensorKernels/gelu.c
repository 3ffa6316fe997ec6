#include "tensor_kernels.h"
#include "kernels_internal.h"

/* GELU forward and backward (docs/transformer.md), exact (erf) or tanh form, over
 * [begin, end). The AVX2 version runs 8 lanes with a polynomial e^x and Abramowitz and
 * Stegun's erfc (7.1.26, absolute error < 1.5e-7); a tail shorter than 8 goes through the
 * same lanes from a padded copy, so an element's value never depends on where it sits in
 * the array (one decoded row equals that row of a whole batch). The AVX-512 version is the
 * same arithmetic on 16 lanes. The baseline uses libm. */

#define SQRT_HALF 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define SQRT_2_OVER_PI 0.79788456080286536f
#define GELU_CUBIC 0.044715f

static void gelu_generic(const float *x, const float *dy, float *out, long begin, long end, int approximate, int backward) {
    for (long i = begin; i < end; i++) {
        float v = x[i], r;
        if (approximate) {
            float u = SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v);
            float s = 1.0f / (1.0f + expf(-2.0f * u)); /* 0.5 (1 + tanh u) */
            r = backward ? s + 2.0f * v * s * (1.0f - s) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * v * v) : v * s;
        } else {
            float phi2 = 1.0f + erff(v * SQRT_HALF);
            r = backward ? 0.5f * phi2 + v * INV_SQRT_2PI * expf(-0.5f * v * v) : 0.5f * v * phi2;
        }
        out[i] = backward ? dy[i] * r : r;
    }
}

#if HAVE_AVX2_PATH

/* 1 + erf(z): erfc(|z|) = poly(t) t e^(-z^2), t = 1 / (1 + 0.3275911 |z|); 2 - erfc for
 * z >= 0, erfc itself below (the left tail keeps its relative accuracy). */
AVX2 ALWAYS_INLINE __m256 one_plus_erf8(__m256 z) {
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    __m256 erfc = _mm256_mul_ps(_mm256_mul_ps(p, t), exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a))));
    __m256 positive = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(erfc, _mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), positive);
}

/* The forward value (backward = 0) or the derivative (backward = 1) of 8 inputs. */
AVX2 ALWAYS_INLINE __m256 gelu8(__m256 v, int approximate, int backward) {
    if (approximate) {
        __m256 v2 = _mm256_mul_ps(v, v);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(SQRT_2_OVER_PI), _mm256_fmadd_ps(_mm256_mul_ps(v2, v), _mm256_set1_ps(GELU_CUBIC), v));
        __m256 one = _mm256_set1_ps(1.0f);
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_mul_ps(u, _mm256_set1_ps(-2.0f)))));
        if (!backward) return _mm256_mul_ps(v, s);
        __m256 du = _mm256_mul_ps(_mm256_set1_ps(SQRT_2_OVER_PI), _mm256_fmadd_ps(v2, _mm256_set1_ps(3.0f * GELU_CUBIC), one));
        __m256 ss = _mm256_mul_ps(s, _mm256_sub_ps(one, s));
        return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), v), ss), du, s);
    }
    __m256 phi2 = one_plus_erf8(_mm256_mul_ps(v, _mm256_set1_ps(SQRT_HALF)));
    if (!backward) return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), phi2);
    __m256 density = _mm256_mul_ps(_mm256_set1_ps(INV_SQRT_2PI), exp8(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(v, v))));
    return _mm256_fmadd_ps(v, density, _mm256_mul_ps(_mm256_set1_ps(0.5f), phi2));
}

AVX2 static void gelu_avx2(const float *x, const float *dy, float *out, long begin, long end, int approximate, int backward) {
    long i = begin;
#define GELU_LOOP(A, B)                                                                 \
    for (; i + 8 <= end; i += 8) {                                                      \
        __m256 r = gelu8(_mm256_loadu_ps(x + i), A, B);                                 \
        _mm256_storeu_ps(out + i, B ? _mm256_mul_ps(_mm256_loadu_ps(dy + i), r) : r);   \
    }
    if (approximate) {
        if (backward) { GELU_LOOP(1, 1) } else { GELU_LOOP(1, 0) }
    } else {
        if (backward) { GELU_LOOP(0, 1) } else { GELU_LOOP(0, 0) }
    }
#undef GELU_LOOP
    if (i < end) {
        float xs[8] = {0}, ds[8] = {0}, rs[8];
        for (long k = 0; k < end - i; k++) { xs[k] = x[i + k]; if (backward) ds[k] = dy[i + k]; }
        __m256 r = gelu8(_mm256_loadu_ps(xs), approximate, backward);
        if (backward) r = _mm256_mul_ps(_mm256_loadu_ps(ds), r);
        _mm256_storeu_ps(rs, r);
        for (long k = 0; k < end - i; k++) out[i + k] = rs[k];
    }
}

/* The AVX-512 version: the same operations on 16 lanes (the same value for each element as
 * the AVX2 version, which the tests check), the tail through one masked vector. */
AVX512 ALWAYS_INLINE __m512 one_plus_erf16(__m512 z) {
    __m512 a = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    __m512 erfc = _mm512_mul_ps(_mm512_mul_ps(p, t), exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a))));
    __mmask16 positive = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mask_blend_ps(positive, erfc, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc));
}

AVX512 ALWAYS_INLINE __m512 gelu16(__m512 v, int approximate, int backward) {
    if (approximate) {
        __m512 v2 = _mm512_mul_ps(v, v);
        __m512 u = _mm512_mul_ps(_mm512_set1_ps(SQRT_2_OVER_PI), _mm512_fmadd_ps(_mm512_mul_ps(v2, v), _mm512_set1_ps(GELU_CUBIC), v));
        __m512 one = _mm512_set1_ps(1.0f);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_mul_ps(u, _mm512_set1_ps(-2.0f)))));
        if (!backward) return _mm512_mul_ps(v, s);
        __m512 du = _mm512_mul_ps(_mm512_set1_ps(SQRT_2_OVER_PI), _mm512_fmadd_ps(v2, _mm512_set1_ps(3.0f * GELU_CUBIC), one));
        __m512 ss = _mm512_mul_ps(s, _mm512_sub_ps(one, s));
        return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), v), ss), du, s);
    }
    __m512 phi2 = one_plus_erf16(_mm512_mul_ps(v, _mm512_set1_ps(SQRT_HALF)));
    if (!backward) return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), phi2);
    __m512 density = _mm512_mul_ps(_mm512_set1_ps(INV_SQRT_2PI), exp16(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(v, v))));
    return _mm512_fmadd_ps(v, density, _mm512_mul_ps(_mm512_set1_ps(0.5f), phi2));
}

AVX512 static void gelu_avx512(const float *x, const float *dy, float *out, long begin, long end, int approximate, int backward) {
    long i = begin;
#define GELU_LOOP(A, B)                                                                 \
    for (; i + 16 <= end; i += 16) {                                                    \
        __m512 r = gelu16(_mm512_loadu_ps(x + i), A, B);                                \
        _mm512_storeu_ps(out + i, B ? _mm512_mul_ps(_mm512_loadu_ps(dy + i), r) : r);   \
    }
    if (approximate) {
        if (backward) { GELU_LOOP(1, 1) } else { GELU_LOOP(1, 0) }
    } else {
        if (backward) { GELU_LOOP(0, 1) } else { GELU_LOOP(0, 0) }
    }
#undef GELU_LOOP
    if (i < end) {
        __mmask16 m = (__mmask16)((1u << (end - i)) - 1);
        __m512 r = gelu16(_mm512_maskz_loadu_ps(m, x + i), approximate, backward);
        if (backward) r = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), r);
        _mm512_mask_storeu_ps(out + i, m, r);
    }
}
#endif

void fm_gelu(const float *x, const float *dy, float *out, long begin, long end, int approximate, int backward) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled())
        gelu_avx512(x, dy, out, begin, end, approximate, backward);
    else if (fm_kernels_avx2_enabled())
        gelu_avx2(x, dy, out, begin, end, approximate, backward);
    else
#endif
        gelu_generic(x, dy, out, begin, end, approximate, backward);
}
