#include "tensor_kernels.h"
#include "kernels_internal.h"

/* Dense backward fused with Keras's Adam update of the kernel, one sweep over the kernel's
 * rows. For each block of rows of the kernel (input features i):
 *   1. dx[b, i] = sum_o dy[b, o] * w[i, o]      (the input gradient, from the old weights)
 *   2. g[i, o]  = sum_b x[b, i] * dy[b, o]      (the weight gradient, kept in registers)
 *   3. Adam on w[i, o], m[i, o], v[i, o] with g  (while the rows are in cache)
 * The weight gradient is never written to memory and the kernel, m and v are streamed once
 * per step instead of four times (gradient GEMM, input-gradient GEMM, Adam's read and write).
 * With `dw` given (m and v then unused), step 3 stores g in dw instead: the same sweep for a
 * step whose gradients must be whole before the update (a gradient hook). Rows are
 * independent, so threads take disjoint row ranges (and so disjoint columns of dx). */

/* The baseline: the same three steps one row at a time, in plain loops. */
static void dense_adam_generic(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v,
                               float *dw, float *dx, long batch, long in, long out, long padded,
                               long row_begin, long row_end, float alpha, float c1, float c2, float eps) {
    (void)dyt; (void)padded;
    for (long i = row_begin; i < row_end; i++) {
        float *wr = w + i * out, *mr = dw ? 0 : m + i * out, *vr = dw ? 0 : v + i * out;
        if (dx) {
            for (long b = 0; b < batch; b++) {
                float s = 0;
                for (long o = 0; o < out; o++) s += dy[b * out + o] * wr[o];
                dx[b * in + i] = s;
            }
        }
        for (long o = 0; o < out; o++) {
            float g = 0;
            for (long b = 0; b < batch; b++) g += x[b * in + i] * dy[b * out + o];
            if (dw) dw[i * out + o] = g;
            else adam_scalar(wr + o, mr + o, vr + o, g, alpha, c1, c2, eps);
        }
    }
}

#if HAVE_AVX2_PATH

/* Keras's Adam on 8 consecutive kernel elements whose gradient is g. */
AVX2 ALWAYS_INLINE void adam8(float *w, float *m, float *v, __m256 g, __m256 alpha, __m256 c1, __m256 c2, __m256 eps) {
    __m256 mi = _mm256_loadu_ps(m), vi = _mm256_loadu_ps(v);
    mi = _mm256_fmadd_ps(_mm256_sub_ps(g, mi), c1, mi);
    vi = _mm256_fmadd_ps(_mm256_fmsub_ps(g, g, vi), c2, vi);
    _mm256_storeu_ps(m, mi);
    _mm256_storeu_ps(v, vi);
    __m256 step = _mm256_div_ps(_mm256_mul_ps(mi, alpha), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
    _mm256_storeu_ps(w, _mm256_sub_ps(_mm256_loadu_ps(w), step));
}

/* The micro-kernels below keep a tile of sums in registers, written out by hand (the
 * compiler spills arrays of vectors indexed in loops): 6 rows x 2 vectors is twelve
 * accumulators, two loaded vectors and one broadcast, 15 of the 16 AVX registers, and
 * 12 FMAs per 8 loads. */
#define TILE_ROWS 6
#define FMA2(a0, a1, s, d0, d1) a0 = _mm256_fmadd_ps(s, d0, a0); a1 = _mm256_fmadd_ps(s, d1, a1);
#define ZERO12 \
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00; \
    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
/* One step of the sum: rows' scalars at p[0], p[stride], ..., times the vectors d0, d1. */
#define STEP6x2(p, stride, d0, d1) { \
    __m256 s; \
    s = _mm256_broadcast_ss(p);              FMA2(a00, a01, s, d0, d1) \
    s = _mm256_broadcast_ss(p + (stride));     FMA2(a10, a11, s, d0, d1) \
    s = _mm256_broadcast_ss(p + 2 * (stride)); FMA2(a20, a21, s, d0, d1) \
    s = _mm256_broadcast_ss(p + 3 * (stride)); FMA2(a30, a31, s, d0, d1) \
    s = _mm256_broadcast_ss(p + 4 * (stride)); FMA2(a40, a41, s, d0, d1) \
    s = _mm256_broadcast_ss(p + 5 * (stride)); FMA2(a50, a51, s, d0, d1) }

/* dx[b, i + r] for r < 6 and b in [b0, b0 + 16): sum over outputs of w[i + r, o] * dyt[o, b]. */
AVX2 static inline void input_gradient_6x16(const float *dyt, const float *w, float *dx, long batch, long in,
                                            long out, long padded, long i, long b0) {
    ZERO12
    const float *wr = w + i * out;
    for (long o = 0; o < out; o++) {
        const float *d = dyt + o * padded + b0;
        __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
        STEP6x2(wr + o, out, d0, d1)
    }
    float t[6][16];
    _mm256_storeu_ps(t[0], a00); _mm256_storeu_ps(t[0] + 8, a01);
    _mm256_storeu_ps(t[1], a10); _mm256_storeu_ps(t[1] + 8, a11);
    _mm256_storeu_ps(t[2], a20); _mm256_storeu_ps(t[2] + 8, a21);
    _mm256_storeu_ps(t[3], a30); _mm256_storeu_ps(t[3] + 8, a31);
    _mm256_storeu_ps(t[4], a40); _mm256_storeu_ps(t[4] + 8, a41);
    _mm256_storeu_ps(t[5], a50); _mm256_storeu_ps(t[5] + 8, a51);
    long count = batch - b0 < 16 ? batch - b0 : 16;
    for (long b = 0; b < count; b++) {
        float *row = dx + (b0 + b) * in + i;
        for (int r = 0; r < 6; r++) row[r] = t[r][b];
    }
}

/* Weight gradient of rows [i, i + 6) and outputs [o0, o0 + 16), and Adam on them (or, with
 * dw, the gradient stored there). */
AVX2 static inline void weight_update_6x16(const float *x, const float *dy, float *w, float *m, float *v, float *dw,
                                           long batch, long in, long out, long i, long o0,
                                           __m256 alpha, __m256 c1, __m256 c2, __m256 eps) {
    ZERO12
    for (long b = 0; b < batch; b++) {
        const float *d = dy + b * out + o0;
        __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
        STEP6x2(x + b * in + i, 1, d0, d1)
    }
    if (dw) {
        float *d = dw + i * out + o0;
#define STORE_ROW(r, g0, g1) _mm256_storeu_ps(d + (r) * out, g0); _mm256_storeu_ps(d + (r) * out + 8, g1);
        STORE_ROW(0, a00, a01) STORE_ROW(1, a10, a11) STORE_ROW(2, a20, a21)
        STORE_ROW(3, a30, a31) STORE_ROW(4, a40, a41) STORE_ROW(5, a50, a51)
#undef STORE_ROW
        return;
    }
    float *wk = w + i * out + o0, *mk = m + i * out + o0, *vk = v + i * out + o0;
#define ADAM_ROW(r, g0, g1) \
    adam8(wk + (r) * out, mk + (r) * out, vk + (r) * out, g0, alpha, c1, c2, eps); \
    adam8(wk + (r) * out + 8, mk + (r) * out + 8, vk + (r) * out + 8, g1, alpha, c1, c2, eps);
    ADAM_ROW(0, a00, a01) ADAM_ROW(1, a10, a11) ADAM_ROW(2, a20, a21)
    ADAM_ROW(3, a30, a31) ADAM_ROW(4, a40, a41) ADAM_ROW(5, a50, a51)
#undef ADAM_ROW
}

/* One row i (the tails of a range): the input gradient over 8 batch columns at a time,
 * then gradient and update over 8 outputs at a time. */
AVX2 static inline void row_update(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v,
                                   float *dw, float *dx, long batch, long in, long out, long padded, long i,
                                   __m256 alpha, __m256 c1, __m256 c2, __m256 eps) {
    float *wr = w + i * out, *mr = dw ? 0 : m + i * out, *vr = dw ? 0 : v + i * out;
    float *dr = dw ? dw + i * out : 0;
    if (dx) {
        for (long b0 = 0; b0 < padded; b0 += 8) {
            __m256 a = _mm256_setzero_ps();
            for (long o = 0; o < out; o++)
                a = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + o), _mm256_loadu_ps(dyt + o * padded + b0), a);
            float t[8];
            _mm256_storeu_ps(t, a);
            for (long b = b0; b < batch && b < b0 + 8; b++) dx[b * in + i] = t[b - b0];
        }
    }
    long o0 = 0;
    for (; o0 + 8 <= out; o0 += 8) {
        __m256 a = _mm256_setzero_ps();
        for (long b = 0; b < batch; b++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(x + b * in + i), _mm256_loadu_ps(dy + b * out + o0), a);
        if (dr) _mm256_storeu_ps(dr + o0, a);
        else adam8(wr + o0, mr + o0, vr + o0, a, alpha, c1, c2, eps);
    }
    float a1 = alpha[0], k1 = c1[0], k2 = c2[0], e = eps[0];
    for (; o0 < out; o0++) {
        float g = 0;
        for (long b = 0; b < batch; b++) g += x[b * in + i] * dy[b * out + o0];
        if (dr) dr[o0] = g;
        else adam_scalar(wr + o0, mr + o0, vr + o0, g, a1, k1, k2, e);
    }
}

AVX2 static void dense_adam_avx2(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v,
                                 float *dw, float *dx, long batch, long in, long out, long padded,
                                 long row_begin, long row_end, float alpha, float c1, float c2, float eps) {
    __m256 va = _mm256_set1_ps(alpha), v1 = _mm256_set1_ps(c1), v2 = _mm256_set1_ps(c2), ve = _mm256_set1_ps(eps);
    long i = row_begin;
    /* Blocks of 6 rows while the outputs and the padded batch split into 16s; otherwise
     * (and for the last rows) one row at a time. */
    int blocks = out % 16 == 0 && padded % 16 == 0;
    for (; blocks && i + TILE_ROWS <= row_end; i += TILE_ROWS) {
        /* The next block's rows of w, m and v, fetched while this block computes: the three
         * arrays (8 MB for the reference CNN) stream from L3 and otherwise stall the update. */
        if (i + 2 * TILE_ROWS <= row_end) {
            long next = (i + TILE_ROWS) * out;
            for (long e = 0; e < TILE_ROWS * out; e += 16) {
                _mm_prefetch((const char *)(w + next + e), _MM_HINT_T0);
                if (!dw) {
                    _mm_prefetch((const char *)(m + next + e), _MM_HINT_T0);
                    _mm_prefetch((const char *)(v + next + e), _MM_HINT_T0);
                }
            }
        }
        /* The input gradient first: it needs the rows before their update. */
        if (dx)
            for (long b0 = 0; b0 < padded; b0 += 16) input_gradient_6x16(dyt, w, dx, batch, in, out, padded, i, b0);
        for (long o0 = 0; o0 < out; o0 += 16) weight_update_6x16(x, dy, w, m, v, dw, batch, in, out, i, o0, va, v1, v2, ve);
    }
    for (; i < row_end; i++) row_update(x, dy, dyt, w, m, v, dw, dx, batch, in, out, padded, i, va, v1, v2, ve);
}
#endif

void fm_transpose_pad(const float *src, long rows, long columns, float *dst, long padded_rows) {
    for (long c = 0; c < columns; c++) {
        float *d = dst + c * padded_rows;
        for (long r = 0; r < rows; r++) d[r] = src[r * columns + c];
        for (long r = rows; r < padded_rows; r++) d[r] = 0;
    }
}

static void dense_sweep(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v, float *dw,
                        float *dx, long batch, long in, long out, long padded,
                        long row_begin, long row_end, float alpha, float c1, float c2, float eps) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled())
        dense_adam_avx2(x, dy, dyt, w, m, v, dw, dx, batch, in, out, padded, row_begin, row_end, alpha, c1, c2, eps);
    else
#endif
        dense_adam_generic(x, dy, dyt, w, m, v, dw, dx, batch, in, out, padded, row_begin, row_end, alpha, c1, c2, eps);
}

void fm_dense_backward_adam(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v,
                            float *dx, long batch, long in, long out, long padded,
                            long row_begin, long row_end, float alpha, float c1, float c2, float eps) {
    dense_sweep(x, dy, dyt, w, m, v, 0, dx, batch, in, out, padded, row_begin, row_end, alpha, c1, c2, eps);
}

void fm_dense_backward(const float *x, const float *dy, const float *dyt, const float *w, float *dw, float *dx,
                       long batch, long in, long out, long padded, long row_begin, long row_end) {
    dense_sweep(x, dy, dyt, (float *)w, 0, 0, dw, dx, batch, in, out, padded, row_begin, row_end, 0, 0, 0, 0);
}
