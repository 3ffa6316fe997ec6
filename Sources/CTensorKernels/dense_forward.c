#include "tensor_kernels.h"
#include "kernels_internal.h"

/* Dense forward y (batch, out) = x (batch, in) w (in, out) + bias, ReLU optional, over the
 * output columns [col_begin, col_end). A small-M GEMM (the batch is the M): OpenBLAS packs
 * both operands for every call and spends as long packing as multiplying at batch 32, while
 * here the weights are read in place, in strips of 16 columns by KC rows that stay in L1
 * while every block of batch rows passes over them. */

#define KC 256

static void dense_forward_generic(const float *x, const float *w, const float *bias, float *y,
                                  long batch, long in, long out, int relu, long col_begin, long col_end) {
    for (long b = 0; b < batch; b++)
        for (long o = col_begin; o < col_end; o++) {
            float s = bias ? bias[o] : 0;
            for (long k = 0; k < in; k++) s += x[b * in + k] * w[k * out + o];
            y[b * out + o] = relu && !(s > 0) ? 0 : s;
        }
}

#if HAVE_AVX2_PATH

/* Rows [b0, b0 + R) and columns [o0, o0 + 8 NV) over input features [k0, k1): R x NV
 * accumulators (R <= 6, NV <= 2, so at most 12 registers), started from y (or the bias on
 * the first strip) and stored back (with the ReLU on the last). */
AVX2 ALWAYS_INLINE void tile(const float *x, const float *w, const float *bias, float *y, long in, long out,
                             long b0, long o0, long k0, long k1, int first, int last_relu, const int R, const int NV) {
    __m256 acc[6][2];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int t = 0; t < NV; t++)
            acc[r][t] = first ? (bias ? _mm256_loadu_ps(bias + o0 + 8 * t) : _mm256_setzero_ps())
                              : _mm256_loadu_ps(y + (b0 + r) * out + o0 + 8 * t);
    const float *xr = x + b0 * in;
    for (long k = k0; k < k1; k++) {
        __m256 d[2];
        _Pragma("unroll") for (int t = 0; t < NV; t++) d[t] = _mm256_loadu_ps(w + k * out + o0 + 8 * t);
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            __m256 s = _mm256_broadcast_ss(xr + r * in + k);
            _Pragma("unroll") for (int t = 0; t < NV; t++) acc[r][t] = _mm256_fmadd_ps(s, d[t], acc[r][t]);
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int t = 0; t < NV; t++) {
            __m256 a = last_relu ? _mm256_max_ps(acc[r][t], _mm256_setzero_ps()) : acc[r][t];
            _mm256_storeu_ps(y + (b0 + r) * out + o0 + 8 * t, a);
        }
}

/* Every batch row of columns [o0, o0 + 8 NV), input features [k0, k1): blocks of 6 rows,
 * then 4, 2 and 1 for the rest. */
AVX2 ALWAYS_INLINE void column_strip(const float *x, const float *w, const float *bias, float *y, long batch, long in,
                                     long out, long o0, long k0, long k1, int first, int last_relu, const int NV) {
    long b = 0;
    for (; b + 6 <= batch; b += 6) tile(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 6, NV);
    if (b + 4 <= batch) { tile(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 4, NV); b += 4; }
    if (b + 2 <= batch) { tile(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 2, NV); b += 2; }
    if (b < batch) tile(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 1, NV);
}

AVX2 static void dense_forward_avx2(const float *x, const float *w, const float *bias, float *y,
                                    long batch, long in, long out, int relu, long col_begin, long col_end) {
    long vector_end = col_begin + (col_end - col_begin) / 8 * 8;
    if (in == 0) {
        dense_forward_generic(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
        return;
    }
    for (long k0 = 0; k0 < in; k0 += KC) {
        long k1 = k0 + KC < in ? k0 + KC : in;
        int first = k0 == 0, last_relu = relu && k1 == in;
        long o0 = col_begin;
        for (; o0 + 16 <= vector_end; o0 += 16) column_strip(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 2);
        for (; o0 < vector_end; o0 += 8) column_strip(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 1);
    }
    if (vector_end < col_end) dense_forward_generic(x, w, bias, y, batch, in, out, relu, vector_end, col_end);
}
#endif

#if HAVE_AVX2_PATH

/* AVX-512F version (docs/transformer.md, "Kernel notes"): 16 columns per register, up to 24
 * accumulators of the 32 registers (R x NV: 6 x 4, 12 x 2 or 12 x 1), and a masked last
 * vector for a column count that is not a multiple of 16, so no column falls to the scalar
 * loop. The right operand's strip (KC512 rows of 16 NV columns, at most 32 KB) stays in L1
 * while every block of rows passes over it. */

#define KC512 128

/* Rows [b0, b0 + R), columns [o0, o0 + 16 NV) of which the last vector keeps the lanes of
 * `tail`, input features [k0, k1). */
AVX512 ALWAYS_INLINE void tile512(const float *x, const float *w, const float *bias, float *y, long in, long out,
                                  long b0, long o0, long k0, long k1, int first, int last_relu, const int R,
                                  const int NV, const __mmask16 tail) {
    __m512 acc[12][4];
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int t = 0; t < NV; t++) {
            __mmask16 m = t == NV - 1 ? tail : (__mmask16)0xFFFF;
            acc[r][t] = first ? (bias ? _mm512_maskz_loadu_ps(m, bias + o0 + 16 * t) : _mm512_setzero_ps())
                              : _mm512_maskz_loadu_ps(m, y + (b0 + r) * out + o0 + 16 * t);
        }
    const float *xr = x + b0 * in;
    for (long k = k0; k < k1; k++) {
        __m512 d[4];
        _Pragma("unroll") for (int t = 0; t < NV; t++)
            d[t] = _mm512_maskz_loadu_ps(t == NV - 1 ? tail : (__mmask16)0xFFFF, w + k * out + o0 + 16 * t);
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            __m512 s = _mm512_set1_ps(xr[r * in + k]);
            _Pragma("unroll") for (int t = 0; t < NV; t++) acc[r][t] = _mm512_fmadd_ps(s, d[t], acc[r][t]);
        }
    }
    _Pragma("unroll") for (int r = 0; r < R; r++)
        _Pragma("unroll") for (int t = 0; t < NV; t++) {
            __m512 a = last_relu ? _mm512_max_ps(acc[r][t], _mm512_setzero_ps()) : acc[r][t];
            _mm512_mask_storeu_ps(y + (b0 + r) * out + o0 + 16 * t, t == NV - 1 ? tail : (__mmask16)0xFFFF, a);
        }
}

/* Every row of one column strip: blocks of RM rows, then 8 (when RM is 12), 4, 2 and 1. */
AVX512 ALWAYS_INLINE void column_strip512(const float *x, const float *w, const float *bias, float *y, long batch,
                                          long in, long out, long o0, long k0, long k1, int first, int last_relu,
                                          const int RM, const int NV, const __mmask16 tail) {
    long b = 0;
    for (; b + RM <= batch; b += RM) tile512(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, RM, NV, tail);
    if (RM > 8 && b + 8 <= batch) { tile512(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 8, NV, tail); b += 8; }
    if (b + 4 <= batch) { tile512(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 4, NV, tail); b += 4; }
    if (b + 2 <= batch) { tile512(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 2, NV, tail); b += 2; }
    if (b < batch) tile512(x, w, bias, y, in, out, b, o0, k0, k1, first, last_relu, 1, NV, tail);
}

AVX512 static void dense_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                        long batch, long in, long out, int relu, long col_begin, long col_end) {
    if (in == 0) {
        dense_forward_generic(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
        return;
    }
    const __mmask16 full = 0xFFFF;
    for (long k0 = 0; k0 < in; k0 += KC512) {
        long k1 = k0 + KC512 < in ? k0 + KC512 : in;
        int first = k0 == 0, last_relu = relu && k1 == in;
        long o0 = col_begin;
        for (; o0 + 64 <= col_end; o0 += 64) column_strip512(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 6, 4, full);
        for (; o0 + 32 <= col_end; o0 += 32) column_strip512(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 12, 2, full);
        for (; o0 + 16 <= col_end; o0 += 16) column_strip512(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 12, 1, full);
        if (o0 < col_end) {
            __mmask16 tail = (__mmask16)((1u << (col_end - o0)) - 1);
            column_strip512(x, w, bias, y, batch, in, out, o0, k0, k1, first, last_relu, 12, 1, tail);
        }
    }
}
#endif

void fm_dense_forward(const float *x, const float *w, const float *bias, float *y,
                      long batch, long in, long out, int relu, long col_begin, long col_end) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx512_enabled())
        dense_forward_avx512(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
    else if (fm_kernels_avx2_enabled())
        dense_forward_avx2(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
    else
#endif
        dense_forward_generic(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
}
