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

void fm_dense_forward(const float *x, const float *w, const float *bias, float *y,
                      long batch, long in, long out, int relu, long col_begin, long col_end) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled())
        dense_forward_avx2(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
    else
#endif
        dense_forward_generic(x, w, bias, y, batch, in, out, relu, col_begin, col_end);
}
