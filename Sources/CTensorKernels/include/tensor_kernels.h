#ifndef TENSOR_KERNELS_H
#define TENSOR_KERNELS_H
#include <stdint.h>
/* Element-wise kernels that the Swift compiler does not vectorise (it lowers
 * Float.squareRoot() to a libm call per element). Internal to the Tensor module. */

/* Keras's Adam update over [begin, end) of the flat arrays:
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  w -= m * alpha / (sqrt(v) + eps)
 * with c1 = 1 - beta1 and c2 = 1 - beta2. */
void fm_adam_update(float *restrict w, const float *restrict g, float *restrict m,
                    float *restrict v, long begin, long end,
                    float alpha, float c1, float c2, float eps);

/* One AdamW step (PyTorch's form) over [begin, end): decay, moments, bias-corrected update
 * (adam.c); step = lr / (1 - beta1^t), bc2 = sqrt(1 - beta2^t), decay = 1 - lr * weight_decay
 * (1 for parameters that do not decay), c1 = 1 - beta1, c2 = 1 - beta2. */
void fm_adamw_update(float *restrict w, const float *restrict g, float *restrict m,
                     float *restrict v, long begin, long end,
                     float step, float bc2, float decay, float beta2, float c1, float c2, float eps);

/* The fused first block of an image model, Conv2D (stride 1, valid, ReLU) + 2x2 max-pool
 * with stride 2, on the pooled cells [cell_begin, cell_end) (cell = (b, py, px)); see
 * ConvReLUPool.swift for the shapes. Compiled twice, for AVX2+FMA and for the baseline,
 * and chosen at run time: Swift builds for the baseline x86-64 only.
 * inp (B,H,W,Cin); weight (K, N); offsets[K]: patch element offsets; pooled, winner
 * (B,PH,PW,N). k <= 32, n % 8 == 0. */
void fm_conv_relu_pool_forward(const float *inp, const float *weight, const float *bias,
                               float *pooled, int *winner, const long *offsets,
                               long k, long n, long height, long width, long channels,
                               long pooled_height, long pooled_width,
                               long cell_begin, long cell_end);

/* Adds the weight gradient (K, N) and bias gradient (N) of cells [cell_begin, cell_end)
 * to acc (K*N + N floats): dpooled flows to the winning window position where pooled > 0. */
void fm_conv_relu_pool_weight_gradient(const float *inp, const float *dpooled, const float *pooled,
                                       const int *winner, const long *offsets, float *acc,
                                       long k, long n, long height, long width, long channels,
                                       long pooled_height, long pooled_width,
                                       long cell_begin, long cell_end);

/* Dense backward fused with Keras's Adam update of the kernel (dense_adam.c), over kernel
 * rows [row_begin, row_end): dx[b, i] = sum_o dy[b, o] w[i, o] with the weights before the
 * update (skipped when dx is NULL), g[i, o] = sum_b x[b, i] dy[b, o], then Adam on w, m, v
 * with g (the constants as in fm_adam_update). The gradient is never stored.
 * x (batch, in), dy (batch, out), w, m, v (in, out), dx (batch, in);
 * dyt: dy transposed and zero-padded, (out, padded) with padded = batch rounded up to 8
 * (fm_transpose_pad). Disjoint row ranges may run on different threads. */
void fm_dense_backward_adam(const float *x, const float *dy, const float *dyt, float *w, float *m, float *v,
                            float *dx, long batch, long in, long out, long padded,
                            long row_begin, long row_end, float alpha, float c1, float c2, float eps);

/* The same sweep without the update: dw (in, out) = x^T * dy, stored, for a step whose
 * gradients must be whole before the optimiser runs (dense_adam.c). */
void fm_dense_backward(const float *x, const float *dy, const float *dyt, const float *w, float *dw, float *dx,
                       long batch, long in, long out, long padded, long row_begin, long row_end);

/* dst (columns, padded_rows) = src (rows, columns) transposed, rows [rows, padded_rows) zero. */
void fm_transpose_pad(const float *src, long rows, long columns, float *dst, long padded_rows);

/* Dense forward over output columns [col_begin, col_end) (dense_forward.c):
 * y (batch, out) = x (batch, in) w (in, out) + bias (NULL: none), then max(0, .) if relu. */
void fm_dense_forward(const float *x, const float *w, const float *bias, float *y,
                      long batch, long in, long out, int relu, long col_begin, long col_end);

/* Runs body(context, i) for i in [0, pieces) on the calling thread and up to threads - 1
 * persistent workers (pool.c), which take pieces as they come free; returns when all are
 * done. A call made while another is running runs its pieces on the calling thread. */
void fm_parallel_run(long pieces, int threads, void (*body)(void *, long), void *context);

/* Whether the AVX2+FMA versions run on this thread (the CPU has them and the thread did not
 * choose the baseline). */
/* GELU over [begin, end) (gelu.c): out = gelu(x) (backward 0) or out = dy * gelu'(x)
 * (backward 1; out may alias dy); exact erf form, or the tanh form when approximate. */
void fm_gelu(const float *x, const float *dy, float *out, long begin, long end, int approximate, int backward);

/* CPU features that decide which OpenBLAS kernels the CPU can run (Tensor's BLAS tuning). */
int fm_cpu_has_avx512_skylakex(void);
int fm_cpu_has_avx2_fma(void);
int fm_kernels_avx2_enabled(void);

/* Whether the calling thread runs the AVX-512 versions (the dense forward kernel has one). */
int fm_kernels_avx512_enabled(void);

/* Turns the vector versions off (0) or back to what the CPU has (1) for the calling thread
 * and the parallel kernels it runs; returns whether AVX2 was on before. For tests of the
 * baseline versions. */
int fm_kernels_use_avx2(int enabled);

/* Chooses a kernel level for the calling thread and the parallel kernels it runs: 0 baseline,
 * 1 AVX2+FMA, 2 AVX-512 (each capped at what the CPU has: fm_kernels_best_level), -1 what the
 * CPU has. Returns the previous raw choice, for fm_kernels_set_thread_choice. For tests of
 * each version. */
int fm_kernels_use_level(int level);
int fm_kernels_best_level(void);

/* The calling thread's raw choice (-1: none), and setting it: how pool.c hands a caller's
 * choice to the workers that run its pieces. */
int fm_kernels_thread_choice(void);
void fm_kernels_set_thread_choice(int choice);

/* int8 inference (int8_gemm.c, docs/compress.md): C (M, N) int32 = A (M, K) uint8 *
 * B (K, N) int8. Packed B is [Kp/4][Np][4] (fm_i8_packed_k/n: K and N rounded up to 4 and 16,
 * zero padded); A has row stride lda >= Kp. The packed kernels compute rows
 * [row_begin, row_end) and 16-column tiles [tile_begin, tile_end). */
int fm_i8_vnni512_available(void);
long fm_i8_packed_k(long k);
long fm_i8_packed_n(long n);
void fm_i8_pack_b(const int8_t *b, long k, long n, int8_t *packed);
void fm_i8_column_sums(const int8_t *b, long k, long n, int32_t *sums);
void fm_i8_gemm_reference(long m, long n, long k, const uint8_t *a, long lda, const int8_t *b,
                          int32_t *c, long ldc);
void fm_i8_gemm_portable(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                         int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end);
/* AVX2 vpmaddubsw with the activations split into nibbles (exact); returns 0 (and does
 * nothing) where AVX2 is off for this thread. */
int fm_i8_gemm_avx2(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                    int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end);
/* Returns 0 (and does nothing) where the CPU lacks AVX-512 VNNI. */
int fm_i8_gemm_vnni512(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                       int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end);
/* The VNNI kernel with the float epilogue of fm_i8_dequantize fused into its stores
 * (no int32 result is written); returns 0 where the CPU lacks AVX-512 VNNI. */
int fm_i8_gemm_vnni512_fused(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                             long row_begin, long row_end, long tile_begin, long tile_end,
                             float input_scale, const float *weight_scale, const int32_t *correction,
                             const float *bias, int relu, float *y, long ldy);
/* q = clamp(round(x * inverse_scale) + zero_point, 0, 255); columns cols..<ldq are zeroed. */
void fm_quantize_u8(const float *x, long rows, long cols, long ldx, float inverse_scale, int zero_point,
                    uint8_t *q, long ldq);
/* im2col of a uint8 NHWC batch, K ordered (kh, kw, cin), padding filled with pad_value (the
 * quantised zero), columns patch..<ldcols zeroed. */
void fm_im2col_u8(const uint8_t *x, long batch, long h, long w, long cin, long kh, long kw, long sh, long sw,
                  long oh, long ow, long pad_top, long pad_left, uint8_t pad_value, uint8_t *cols, long ldcols);
/* y = input_scale * weight_scale[j] * (c - correction[j]) + bias[j], then ReLU when relu. */
void fm_i8_dequantize(const int32_t *c, long m, long n, long ldc, float input_scale, const float *weight_scale,
                      const int32_t *correction, const float *bias, int relu, float *y, long ldy);
/* Attention row kernels of one (sample, head) pair without dropout, AVX-512 (attention.c;
 * the Swift kernels in Tensor/Kernels/Attention.swift are the others): q, k, v with row stride
 * rs, t rows, head width d; forward writes the probabilities p (t x t, a causal row i only
 * its first i+1 entries) and the head's output o (row stride os); backward overwrites dq, dk,
 * dv (row stride rs) from dout (row stride os) and p. scratch: d*t floats forward, d*t + t
 * backward. Return 0, doing nothing, when the AVX-512 version is not enabled. */
int fm_attention_rows_forward(const float *q, const float *k, const float *v, long rs, float *o, long os,
                              float *p, float *scratch, long t, long d, int causal, float scale);
int fm_attention_rows_backward(const float *q, const float *k, const float *v, long rs, float *dq, float *dk,
                               float *dv, const float *dout, long os, const float *p, float *scratch, long t, long d,
                               int causal, float scale);
/* The sgemm attention kernel's row passes over one pair's t x t block, AVX-512 (attention.c):
 * softmax of each row in place (a causal row i over its first i+1 entries, the rest set to 0;
 * a polynomial e^x), and dS = P * (dP - rowsum(dP * P)) over dp in place. Return 0, doing
 * nothing, when the AVX-512 version is not enabled. */
int fm_attention_softmax_rows(float *p, long t, int causal);
int fm_attention_softmax_backward_rows(float *dp, const float *p, long t, int causal);

#endif
