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

#endif
