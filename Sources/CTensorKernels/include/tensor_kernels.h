#ifndef TENSOR_KERNELS_H
#define TENSOR_KERNELS_H
/* Element-wise kernels that the Swift compiler does not vectorise (it lowers
 * Float.squareRoot() to a libm call per element). Internal to the Tensor module. */

/* Keras's Adam update over [begin, end) of the flat arrays:
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  w -= m * alpha / (sqrt(v) + eps)
 * with c1 = 1 - beta1 and c2 = 1 - beta2. */
void fm_adam_update(float *restrict w, const float *restrict g, float *restrict m,
                    float *restrict v, long begin, long end,
                    float alpha, float c1, float c2, float eps);

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

/* Turns the AVX2+FMA versions off (0) or back on where the CPU has them (1); returns the
 * previous setting. For tests of the baseline versions. */
int fm_kernels_use_avx2(int enabled);

#endif
