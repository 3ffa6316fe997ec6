#include "tensor_kernels.h"
#include "kernels_internal.h"

/* The attention row kernels of one (sample, head) pair in AVX-512F (docs/transformer.md,
 * "Kernel notes"): the same arithmetic as Tensor's `AttentionJob.rowsForward/rowsBackward`
 * (Sources/Tensor/Kernels/Attention.swift), which stay the version for other CPUs and for
 * dropout. One query row at a time, a causal row touching only its first i+1 keys. The scores
 * q k^T (and backward's dO v^T) run against a transposed copy of the pair's keys (values),
 * d x t in the caller's scratch, so 16 keys take one FMA per head column and no horizontal
 * sum; P v, dS k and the dK/dV updates are AXPYs over the head's columns, 16 per register
 * (a masked last one). Return 0 when the AVX-512 version is not enabled for the thread (the
 * caller runs its own). */

#if HAVE_AVX2_PATH

ALWAYS_INLINE __mmask16 lanes(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n > 0 ? n : 0)) - 1); }

/* out[j] = scale * sum_c x[c] * mt[c * t + j] for j in [0, n): 64 keys a pass. */
AVX512 static void row_scores(const float *x, const float *mt, long t, long d, long n, float scale, float *out) {
    for (long j0 = 0; j0 < n; j0 += 64) {
        long m = n - j0 < 64 ? n - j0 : 64;
        __mmask16 k0 = lanes(m), k1 = lanes(m - 16), k2 = lanes(m - 32), k3 = lanes(m - 48);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *col = mt + j0;
        if (m > 32) {
            for (long c = 0; c < d; c++, col += t) {
                __m512 s = _mm512_set1_ps(x[c]);
                a0 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k0, col), a0);
                a1 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k1, col + 16), a1);
                a2 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k2, col + 32), a2);
                a3 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k3, col + 48), a3);
            }
        } else {
            /* Two chains per 16 keys (even and odd columns) for the FMA latency. */
            __m512 b0 = a0, b1 = a0;
            long c = 0;
            for (; c + 2 <= d; c += 2, col += 2 * t) {
                __m512 s = _mm512_set1_ps(x[c]), u = _mm512_set1_ps(x[c + 1]);
                a0 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k0, col), a0);
                a1 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k1, col + 16), a1);
                b0 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(k0, col + t), b0);
                b1 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(k1, col + t + 16), b1);
            }
            if (c < d) {
                __m512 s = _mm512_set1_ps(x[c]);
                a0 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k0, col), a0);
                a1 = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(k1, col + 16), a1);
            }
            a0 = _mm512_add_ps(a0, b0);
            a1 = _mm512_add_ps(a1, b1);
        }
        __m512 sc = _mm512_set1_ps(scale);
        _mm512_mask_storeu_ps(out + j0, k0, _mm512_mul_ps(a0, sc));
        _mm512_mask_storeu_ps(out + j0 + 16, k1, _mm512_mul_ps(a1, sc));
        _mm512_mask_storeu_ps(out + j0 + 32, k2, _mm512_mul_ps(a2, sc));
        _mm512_mask_storeu_ps(out + j0 + 48, k3, _mm512_mul_ps(a3, sc));
    }
}

/* dst (d x t) = the transpose of rows [0, t) of src (row stride rs), columns [0, d). */
static void transpose_rows(const float *src, long rs, long t, long d, float *dst) {
    for (long j = 0; j < t; j++)
        for (long c = 0; c < d; c++) dst[c * t + j] = src[j * rs + c];
}

/* Softmax of p[0, n) in place, the row maximum subtracted (libm's expf, as the Swift kernel). */
static void softmax_row(float *p, long n) {
    float m = -INFINITY, sum = 0;
    for (long j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
    for (long j = 0; j < n; j++) { float e = expf(p[j] - m); p[j] = e; sum += e; }
    float inv = 1 / sum;
    for (long j = 0; j < n; j++) p[j] *= inv;
}

AVX512 static void forward512(const float *q, const float *k, const float *v, long rs, float *o, long os,
                              float *p, float *kt, long t, long d, int causal, float scale) {
    transpose_rows(k, rs, t, d, kt);
    for (long i = 0; i < t; i++) {
        long n = causal ? i + 1 : t;
        float *pi = p + i * t;
        row_scores(q + i * rs, kt, t, d, n, scale, pi);
        softmax_row(pi, n);
        float *oi = o + i * os;
        for (long c0 = 0; c0 < d; c0 += 16) {
            __mmask16 mk = lanes(d - c0);
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            const float *vc = v + c0;
            long j = 0;
            for (; j + 4 <= n; j += 4) {
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(pi[j]), _mm512_maskz_loadu_ps(mk, vc + j * rs), a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(pi[j + 1]), _mm512_maskz_loadu_ps(mk, vc + (j + 1) * rs), a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(pi[j + 2]), _mm512_maskz_loadu_ps(mk, vc + (j + 2) * rs), a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(pi[j + 3]), _mm512_maskz_loadu_ps(mk, vc + (j + 3) * rs), a3);
            }
            for (; j < n; j++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(pi[j]), _mm512_maskz_loadu_ps(mk, vc + j * rs), a0);
            _mm512_mask_storeu_ps(oi + c0, mk, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        }
    }
}

AVX512 static void backward512(const float *q, const float *k, const float *v, long rs, float *dq, float *dk, float *dv,
                               const float *dout, long os, const float *p, float *vt, float *dp, long t, long d,
                               int causal, float scale) {
    for (long i = 0; i < t; i++)
        for (long c = 0; c < d; c++) { dk[i * rs + c] = 0; dv[i * rs + c] = 0; }
    transpose_rows(v, rs, t, d, vt);
    for (long i = 0; i < t; i++) {
        long n = causal ? i + 1 : t;
        const float *pi = p + i * t, *doi = dout + i * os, *qi = q + i * rs;
        /* dP = dO v^T; dS = P (dP - rowsum(dP P)) times the score scale, into dp. */
        row_scores(doi, vt, t, d, n, 1, dp);
        float r = 0;
        for (long j = 0; j < n; j++) r += dp[j] * pi[j];
        for (long j = 0; j < n; j++) dp[j] = pi[j] * (dp[j] - r) * scale;
        /* dV += P^T dO, dK += dS^T q, dQ = dS K, 16 head columns at a time. */
        for (long c0 = 0; c0 < d; c0 += 16) {
            __mmask16 mk = lanes(d - c0);
            __m512 g = _mm512_maskz_loadu_ps(mk, doi + c0), x = _mm512_maskz_loadu_ps(mk, qi + c0);
            __m512 a0 = _mm512_setzero_ps(), a1 = a0;
            long j = 0;
            for (; j + 2 <= n; j += 2) {
                __m512 p0 = _mm512_set1_ps(pi[j]), p1 = _mm512_set1_ps(pi[j + 1]);
                __m512 s0 = _mm512_set1_ps(dp[j]), s1 = _mm512_set1_ps(dp[j + 1]);
                float *v0 = dv + j * rs + c0, *v1 = v0 + rs, *k0 = dk + j * rs + c0, *k1 = k0 + rs;
                _mm512_mask_storeu_ps(v0, mk, _mm512_fmadd_ps(p0, g, _mm512_maskz_loadu_ps(mk, v0)));
                _mm512_mask_storeu_ps(v1, mk, _mm512_fmadd_ps(p1, g, _mm512_maskz_loadu_ps(mk, v1)));
                _mm512_mask_storeu_ps(k0, mk, _mm512_fmadd_ps(s0, x, _mm512_maskz_loadu_ps(mk, k0)));
                _mm512_mask_storeu_ps(k1, mk, _mm512_fmadd_ps(s1, x, _mm512_maskz_loadu_ps(mk, k1)));
                a0 = _mm512_fmadd_ps(s0, _mm512_maskz_loadu_ps(mk, k + j * rs + c0), a0);
                a1 = _mm512_fmadd_ps(s1, _mm512_maskz_loadu_ps(mk, k + (j + 1) * rs + c0), a1);
            }
            if (j < n) {
                __m512 p0 = _mm512_set1_ps(pi[j]), s0 = _mm512_set1_ps(dp[j]);
                float *v0 = dv + j * rs + c0, *k0 = dk + j * rs + c0;
                _mm512_mask_storeu_ps(v0, mk, _mm512_fmadd_ps(p0, g, _mm512_maskz_loadu_ps(mk, v0)));
                _mm512_mask_storeu_ps(k0, mk, _mm512_fmadd_ps(s0, x, _mm512_maskz_loadu_ps(mk, k0)));
                a0 = _mm512_fmadd_ps(s0, _mm512_maskz_loadu_ps(mk, k + j * rs + c0), a0);
            }
            _mm512_mask_storeu_ps(dq + i * rs + c0, mk, _mm512_add_ps(a0, a1));
        }
    }
}
#endif

int fm_attention_rows_forward(const float *q, const float *k, const float *v, long rs, float *o, long os,
                              float *p, float *scratch, long t, long d, int causal, float scale) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled()) {
        forward512(q, k, v, rs, o, os, p, scratch, t, d, causal, scale);
        return 1;
    }
#endif
    (void)q; (void)k; (void)v; (void)rs; (void)o; (void)os; (void)p; (void)scratch;
    (void)t; (void)d; (void)causal; (void)scale;
    return 0;
}

int fm_attention_rows_backward(const float *q, const float *k, const float *v, long rs, float *dq, float *dk,
                               float *dv, const float *dout, long os, const float *p, float *scratch, long t, long d,
                               int causal, float scale) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled()) {
        backward512(q, k, v, rs, dq, dk, dv, dout, os, p, scratch, scratch + d * t, t, d, causal, scale);
        return 1;
    }
#endif
    (void)q; (void)k; (void)v; (void)rs; (void)dq; (void)dk; (void)dv; (void)dout; (void)os; (void)p;
    (void)scratch; (void)t; (void)d; (void)causal; (void)scale;
    return 0;
}

/* The sgemm kernel's row passes over one pair's t x t block, in AVX-512 with the polynomial
 * e^x (kernels_internal.h): the softmax of each row's scores in place, the row maximum
 * subtracted (a causal row i over its first i+1 entries, the rest set to 0), and backward's
 * dS = P * (dP - rowsum(dP * P)) over dP in place. */
#if HAVE_AVX2_PATH
AVX512 static void softmax_rows512(float *p, long t, int causal) {
    for (long i = 0; i < t; i++) {
        float *row = p + i * t;
        long n = causal ? i + 1 : t;
        __m512 mv = _mm512_set1_ps(-INFINITY);
        for (long j = 0; j < n; j += 16) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), lanes(n - j), row + j));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
        __m512 sv = _mm512_setzero_ps();
        for (long j = 0; j < n; j += 16) {
            __mmask16 k = lanes(n - j);
            __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), m)));
            _mm512_mask_storeu_ps(row + j, k, e);
            sv = _mm512_add_ps(sv, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
        for (long j = 0; j < n; j += 16) {
            __mmask16 k = lanes(n - j);
            _mm512_mask_storeu_ps(row + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), inv));
        }
        for (long j = n; j < t; j++) row[j] = 0;
    }
}

AVX512 static void softmax_backward_rows512(float *dp, const float *p, long t, int causal) {
    for (long i = 0; i < t; i++) {
        float *row = dp + i * t;
        const float *pi = p + i * t;
        long n = causal ? i + 1 : t;
        __m512 rv = _mm512_setzero_ps();
        for (long j = 0; j < n; j += 16) {
            __mmask16 k = lanes(n - j);
            rv = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, row + j), _mm512_maskz_loadu_ps(k, pi + j), rv);
        }
        __m512 r = _mm512_set1_ps(_mm512_reduce_add_ps(rv));
        for (long j = 0; j < n; j += 16) {
            __mmask16 k = lanes(n - j);
            __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), r);
            _mm512_mask_storeu_ps(row + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, pi + j), d));
        }
        for (long j = n; j < t; j++) row[j] = 0;
    }
}
#endif

int fm_attention_softmax_rows(float *p, long t, int causal) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled()) {
        softmax_rows512(p, t, causal);
        return 1;
    }
#endif
    (void)p; (void)t; (void)causal;
    return 0;
}

int fm_attention_softmax_backward_rows(float *dp, const float *p, long t, int causal) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled()) {
        softmax_backward_rows512(dp, p, t, causal);
        return 1;
    }
#endif
    (void)dp; (void)p; (void)t; (void)causal;
    return 0;
}
