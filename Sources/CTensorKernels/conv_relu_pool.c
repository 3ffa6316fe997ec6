#include "tensor_kernels.h"
#include "kernels_internal.h"

/* Each kernel exists twice: a baseline version over plain loops of 8 channels, and an
 * AVX2+FMA version in intrinsics; the public entry point picks one by the CPU (cpu.c). */

/* Top-left input element of pooled cell (b, py, px)'s first window position. 32-bit
 * division: cells are counted per batch, far below 2^31, and 64-bit idiv costs twice as
 * much on the CPUs this runs on. */
ALWAYS_INLINE const float *cell_origin(const float *inp, long cell, long ph, long pw,
                                       long height, long width, long channels) {
    unsigned c = (unsigned)cell, per_image = (unsigned)(ph * pw);
    unsigned b = c / per_image, r = c - b * per_image;
    unsigned py = r / (unsigned)pw, px = r - py * (unsigned)pw;
    return inp + (((long)b * height + 2 * (long)py) * width + 2 * (long)px) * channels;
}

/* The four patches (window positions, row-major) of pooled cell `cell`, K elements each. */
ALWAYS_INLINE void gather_window(const float *inp, long cell, const long *offsets, long k,
                                 long height, long width, long channels, long ph, long pw,
                                 float x[4][32]) {
    const float *origin = cell_origin(inp, cell, ph, pw, height, width, channels);
    const long row_step = width * channels, col_step = channels;
    for (int q = 0; q < 4; q++) {
        const float *base = origin + (q >> 1) * row_step + (q & 1) * col_step;
        for (long j = 0; j < k; j++) x[q][j] = base[offsets[j]];
    }
}

static void forward_generic(const float *inp, const float *weight, const float *bias,
                            float *pooled, int *winner, const long *offsets,
                            long k, long n, long height, long width, long channels,
                            long ph, long pw, long begin, long end) {
    float x[4][32];
    for (long cell = begin; cell < end; cell++) {
        gather_window(inp, cell, offsets, k, height, width, channels, ph, pw, x);
        for (long n0 = 0; n0 < n; n0 += 8) {
            float a[4][8];
            for (int q = 0; q < 4; q++)
                for (int c = 0; c < 8; c++) a[q][c] = bias[n0 + c];
            for (long j = 0; j < k; j++) {
                const float *w = weight + j * n + n0;
                for (int q = 0; q < 4; q++)
                    for (int c = 0; c < 8; c++) a[q][c] += x[q][j] * w[c];
            }
            float best[8];
            int index[8];
            for (int c = 0; c < 8; c++) {
                best[c] = a[0][c] > 0 ? a[0][c] : 0;
                index[c] = 0;
            }
            for (int q = 1; q < 4; q++)
                for (int c = 0; c < 8; c++) {
                    float v = a[q][c] > 0 ? a[q][c] : 0;
                    int wins = v > best[c];
                    best[c] = wins ? v : best[c];
                    index[c] = wins ? q : index[c];
                }
            for (int c = 0; c < 8; c++) {
                pooled[cell * n + n0 + c] = best[c];
                winner[cell * n + n0 + c] = index[c];
            }
        }
    }
}

#define BLOCK_CELLS 16

static void gradient_generic(const float *inp, const float *dpooled, const float *pooled,
                             const int *winner, const long *offsets, float *acc,
                             long k, long n, long height, long width, long channels,
                             long ph, long pw, long begin, long end) {
    /* A block's patches and its gradient split by window position, laid out contiguously,
     * so that every (k, 8 channels) sum stays in registers over the block, in four
     * independent chains (one per window position). */
    float xs[BLOCK_CELLS][4][32];
    float ds[BLOCK_CELLS][4][8];
    for (long first = begin; first < end; first += BLOCK_CELLS) {
        long count = end - first < BLOCK_CELLS ? end - first : BLOCK_CELLS;
        for (long t = 0; t < count; t++) {
            long cell = first + t;
            gather_window(inp, cell, offsets, k, height, width, channels, ph, pw, xs[t]);
        }
        for (long n0 = 0; n0 < n; n0 += 8) {
            for (long t = 0; t < count; t++) {
                long cell = first + t;
                for (int c = 0; c < 8; c++) {
                    long i = cell * n + n0 + c;
                    float g = pooled[i] > 0 ? dpooled[i] : 0;
                    acc[k * n + n0 + c] += g;
                    for (int q = 0; q < 4; q++) ds[t][q][c] = winner[i] == q ? g : 0;
                }
            }
            for (long j = 0; j < k; j++) {
                float s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
                for (long t = 0; t < count; t++)
                    for (int c = 0; c < 8; c++) {
                        s0[c] += xs[t][0][j] * ds[t][0][c];
                        s1[c] += xs[t][1][j] * ds[t][1][c];
                        s2[c] += xs[t][2][j] * ds[t][2][c];
                        s3[c] += xs[t][3][j] * ds[t][3][c];
                    }
                float *w = acc + j * n + n0;
                for (int c = 0; c < 8; c++) w[c] += (s0[c] + s1[c]) + (s2[c] + s3[c]);
            }
        }
    }
}

#if HAVE_AVX2_PATH

/* relu(a) against the running max of a window: where it is strictly greater, it wins. */
#define POOL_STEP(best, index, a, q) { \
    __m256 v_ = _mm256_max_ps(a, _mm256_setzero_ps()), w_ = _mm256_cmp_ps(v_, best, _CMP_GT_OQ); \
    best = _mm256_blendv_ps(best, v_, w_); \
    index = _mm256_blendv_epi8(index, _mm256_set1_epi32(q), _mm256_castps_si256(w_)); }

/* Two window positions (input pointers p, r) x 32 channels [n0, n0 + 32): eight sums,
 * each broadcast input value feeding four weight vectors. */
#define TWO_POSITIONS(p, r) \
    a0 = _mm256_loadu_ps(bias + n0); a1 = _mm256_loadu_ps(bias + n0 + 8); \
    a2 = _mm256_loadu_ps(bias + n0 + 16); a3 = _mm256_loadu_ps(bias + n0 + 24); \
    c0 = a0; c1 = a1; c2 = a2; c3 = a3; \
    for (long j = 0; j < k; j++) { \
        const float *wj = weight + j * n + n0; \
        __m256 w0 = _mm256_loadu_ps(wj), w1 = _mm256_loadu_ps(wj + 8); \
        __m256 w2 = _mm256_loadu_ps(wj + 16), w3 = _mm256_loadu_ps(wj + 24); \
        __m256 xp = _mm256_broadcast_ss(p + offsets[j]), xr = _mm256_broadcast_ss(r + offsets[j]); \
        a0 = _mm256_fmadd_ps(xp, w0, a0); a1 = _mm256_fmadd_ps(xp, w1, a1); \
        a2 = _mm256_fmadd_ps(xp, w2, a2); a3 = _mm256_fmadd_ps(xp, w3, a3); \
        c0 = _mm256_fmadd_ps(xr, w0, c0); c1 = _mm256_fmadd_ps(xr, w1, c1); \
        c2 = _mm256_fmadd_ps(xr, w2, c2); c3 = _mm256_fmadd_ps(xr, w3, c3); \
    }

/* The same loops with AVX2 intrinsics. Blocks of 32 channels take the window positions two
 * at a time straight from the input (8 accumulators, 4 weight vectors, 2 broadcasts per
 * patch element); the rest 8 channels at a time from a gathered copy of the window. */
__attribute__((target("avx2,fma")))
static void forward_avx2(const float *inp, const float *weight, const float *bias, float *pooled, int *winner,
                         const long *offsets, long k, long n, long height, long width, long channels,
                         long ph, long pw, long begin, long end) {
    float x[4][32];
    const __m256 zero = _mm256_setzero_ps();
    const long row_step = width * channels, col_step = channels;
    for (long cell = begin; cell < end; cell++) {
        const float *p0 = cell_origin(inp, cell, ph, pw, height, width, channels);
        const float *p1 = p0 + col_step, *p2 = p0 + row_step, *p3 = p2 + col_step;
        long n0 = 0;
        for (; n0 + 32 <= n; n0 += 32) {
            __m256 a0, a1, a2, a3, c0, c1, c2, c3, b0, b1, b2, b3;
            __m256i i0 = _mm256_setzero_si256(), i1 = i0, i2 = i0, i3 = i0;
            TWO_POSITIONS(p0, p1)
            b0 = _mm256_max_ps(a0, zero); b1 = _mm256_max_ps(a1, zero);
            b2 = _mm256_max_ps(a2, zero); b3 = _mm256_max_ps(a3, zero);
            POOL_STEP(b0, i0, c0, 1) POOL_STEP(b1, i1, c1, 1) POOL_STEP(b2, i2, c2, 1) POOL_STEP(b3, i3, c3, 1)
            TWO_POSITIONS(p2, p3)
            POOL_STEP(b0, i0, a0, 2) POOL_STEP(b1, i1, a1, 2) POOL_STEP(b2, i2, a2, 2) POOL_STEP(b3, i3, a3, 2)
            POOL_STEP(b0, i0, c0, 3) POOL_STEP(b1, i1, c1, 3) POOL_STEP(b2, i2, c2, 3) POOL_STEP(b3, i3, c3, 3)
            float *out = pooled + cell * n + n0;
            int *win = winner + cell * n + n0;
            _mm256_storeu_ps(out, b0); _mm256_storeu_ps(out + 8, b1);
            _mm256_storeu_ps(out + 16, b2); _mm256_storeu_ps(out + 24, b3);
            _mm256_storeu_si256((__m256i *)win, i0); _mm256_storeu_si256((__m256i *)(win + 8), i1);
            _mm256_storeu_si256((__m256i *)(win + 16), i2); _mm256_storeu_si256((__m256i *)(win + 24), i3);
        }
        if (n0 == n) continue;
        gather_window(inp, cell, offsets, k, height, width, channels, ph, pw, x);
        for (; n0 < n; n0 += 8) {
            __m256 a0 = _mm256_loadu_ps(bias + n0), a1 = a0, a2 = a0, a3 = a0;
            for (long j = 0; j < k; j++) {
                __m256 w = _mm256_loadu_ps(weight + j * n + n0);
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(x[0][j]), w, a0);
                a1 = _mm256_fmadd_ps(_mm256_set1_ps(x[1][j]), w, a1);
                a2 = _mm256_fmadd_ps(_mm256_set1_ps(x[2][j]), w, a2);
                a3 = _mm256_fmadd_ps(_mm256_set1_ps(x[3][j]), w, a3);
            }
            __m256 best = _mm256_max_ps(a0, zero);
            __m256i index = _mm256_setzero_si256();
            POOL_STEP(best, index, a1, 1) POOL_STEP(best, index, a2, 2) POOL_STEP(best, index, a3, 3)
            _mm256_storeu_ps(pooled + cell * n + n0, best);
            _mm256_storeu_si256((__m256i *)(winner + cell * n + n0), index);
        }
    }
}

/* The pooled gradient of channels [i, i + 8) where the ReLU let it through (returned, for
 * the bias sum), split by window position: out[q * stride] holds it where position q won,
 * else 0. */
__attribute__((target("avx2,fma")))
static inline __m256 split_gradient(const float *dpooled, const float *pooled, const int *winner, long i,
                                    __m256 *out, long stride) {
    __m256 g = _mm256_loadu_ps(dpooled + i);
    g = _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(pooled + i), _mm256_setzero_ps(), _CMP_GT_OQ));
    __m256i win = _mm256_loadu_si256((const __m256i *)(winner + i));
    for (int q = 0; q < 4; q++)
        out[q * stride] = _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(win, _mm256_set1_epi32(q))));
    return g;
}

/* w[0..32) += a0 | a1 | a2 | a3. */
__attribute__((target("avx2,fma")))
static inline void add32(float *w, __m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    _mm256_storeu_ps(w, _mm256_add_ps(_mm256_loadu_ps(w), a0));
    _mm256_storeu_ps(w + 8, _mm256_add_ps(_mm256_loadu_ps(w + 8), a1));
    _mm256_storeu_ps(w + 16, _mm256_add_ps(_mm256_loadu_ps(w + 16), a2));
    _mm256_storeu_ps(w + 24, _mm256_add_ps(_mm256_loadu_ps(w + 24), a3));
}

/* Blocks of 32 channels: the block's gradient split by window position, ds[t][q][v] (the
 * gradient where position q won, else 0), then for two patch elements at a time one
 * broadcast input value per cell and position feeds four channel vectors of each: eight
 * independent sums in registers, 6 loads per 8 FMAs. */
__attribute__((target("avx2,fma")))
static void gradient_avx2_by32(const float *inp, const float *dpooled, const float *pooled, const int *winner,
                               const long *offsets, float *acc, long k, long n, long n0, long height, long width,
                               long channels, long ph, long pw, long first, long count) {
    __m256 ds[BLOCK_CELLS][4][4];
    const float *origin[BLOCK_CELLS][4];
    const __m256 zero = _mm256_setzero_ps();
    const long row_step = width * channels, col_step = channels;
    for (long t = 0; t < count; t++) {
        const float *p0 = cell_origin(inp, first + t, ph, pw, height, width, channels);
        origin[t][0] = p0; origin[t][1] = p0 + col_step; origin[t][2] = p0 + row_step; origin[t][3] = p0 + row_step + col_step;
    }
    for (int v = 0; v < 4; v++) {
        __m256 dbias = _mm256_loadu_ps(acc + k * n + n0 + 8 * v);
        for (long t = 0; t < count; t++)
            dbias = _mm256_add_ps(dbias, split_gradient(dpooled, pooled, winner, (first + t) * n + n0 + 8 * v, &ds[t][0][v], 4));
        _mm256_storeu_ps(acc + k * n + n0 + 8 * v, dbias);
    }
    long j = 0;
    for (; j + 2 <= k; j += 2) {
        __m256 a0 = zero, a1 = zero, a2 = zero, a3 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero;
        long o0 = offsets[j], o1 = offsets[j + 1];
        for (long t = 0; t < count; t++)
            for (int q = 0; q < 4; q++) {
                __m256 x0 = _mm256_broadcast_ss(origin[t][q] + o0), x1 = _mm256_broadcast_ss(origin[t][q] + o1);
                a0 = _mm256_fmadd_ps(x0, ds[t][q][0], a0); a1 = _mm256_fmadd_ps(x0, ds[t][q][1], a1);
                a2 = _mm256_fmadd_ps(x0, ds[t][q][2], a2); a3 = _mm256_fmadd_ps(x0, ds[t][q][3], a3);
                b0 = _mm256_fmadd_ps(x1, ds[t][q][0], b0); b1 = _mm256_fmadd_ps(x1, ds[t][q][1], b1);
                b2 = _mm256_fmadd_ps(x1, ds[t][q][2], b2); b3 = _mm256_fmadd_ps(x1, ds[t][q][3], b3);
            }
        add32(acc + j * n + n0, a0, a1, a2, a3);
        add32(acc + (j + 1) * n + n0, b0, b1, b2, b3);
    }
    for (; j < k; j++) {
        __m256 a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        long o0 = offsets[j];
        for (long t = 0; t < count; t++)
            for (int q = 0; q < 4; q++) {
                __m256 x0 = _mm256_broadcast_ss(origin[t][q] + o0);
                a0 = _mm256_fmadd_ps(x0, ds[t][q][0], a0); a1 = _mm256_fmadd_ps(x0, ds[t][q][1], a1);
                a2 = _mm256_fmadd_ps(x0, ds[t][q][2], a2); a3 = _mm256_fmadd_ps(x0, ds[t][q][3], a3);
            }
        add32(acc + j * n + n0, a0, a1, a2, a3);
    }
}

__attribute__((target("avx2,fma")))
static void gradient_avx2(const float *inp, const float *dpooled, const float *pooled, const int *winner,
                          const long *offsets, float *acc, long k, long n, long height, long width, long channels,
                          long ph, long pw, long begin, long end) {
    float xs[BLOCK_CELLS][4][32];
    __m256 ds[BLOCK_CELLS][4];
    const __m256 zero = _mm256_setzero_ps();
    for (long first = begin; first < end; first += BLOCK_CELLS) {
        long count = end - first < BLOCK_CELLS ? end - first : BLOCK_CELLS;
        long n0 = 0;
        for (; n0 + 32 <= n; n0 += 32)
            gradient_avx2_by32(inp, dpooled, pooled, winner, offsets, acc, k, n, n0, height, width, channels,
                               ph, pw, first, count);
        if (n0 == n) continue;
        for (long t = 0; t < count; t++) {
            long cell = first + t;
            gather_window(inp, cell, offsets, k, height, width, channels, ph, pw, xs[t]);
        }
        for (; n0 < n; n0 += 8) {
            __m256 dbias = _mm256_loadu_ps(acc + k * n + n0);
            for (long t = 0; t < count; t++)
                dbias = _mm256_add_ps(dbias, split_gradient(dpooled, pooled, winner, (first + t) * n + n0, &ds[t][0], 1));
            _mm256_storeu_ps(acc + k * n + n0, dbias);
            for (long j = 0; j < k; j++) {
                __m256 s0 = zero, s1 = zero, s2 = zero, s3 = zero;
                for (long t = 0; t < count; t++) {
                    s0 = _mm256_fmadd_ps(_mm256_set1_ps(xs[t][0][j]), ds[t][0], s0);
                    s1 = _mm256_fmadd_ps(_mm256_set1_ps(xs[t][1][j]), ds[t][1], s1);
                    s2 = _mm256_fmadd_ps(_mm256_set1_ps(xs[t][2][j]), ds[t][2], s2);
                    s3 = _mm256_fmadd_ps(_mm256_set1_ps(xs[t][3][j]), ds[t][3], s3);
                }
                float *w = acc + j * n + n0;
                _mm256_storeu_ps(w, _mm256_add_ps(_mm256_loadu_ps(w),
                                 _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))));
            }
        }
    }
}
#endif

void fm_conv_relu_pool_forward(const float *inp, const float *weight, const float *bias,
                               float *pooled, int *winner, const long *offsets,
                               long k, long n, long height, long width, long channels,
                               long ph, long pw, long begin, long end) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled())
        forward_avx2(inp, weight, bias, pooled, winner, offsets, k, n, height, width, channels, ph, pw, begin, end);
    else
#endif
        forward_generic(inp, weight, bias, pooled, winner, offsets, k, n, height, width, channels, ph, pw, begin, end);
}

void fm_conv_relu_pool_weight_gradient(const float *inp, const float *dpooled, const float *pooled,
                                       const int *winner, const long *offsets, float *acc,
                                       long k, long n, long height, long width, long channels,
                                       long ph, long pw, long begin, long end) {
#if HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled())
        gradient_avx2(inp, dpooled, pooled, winner, offsets, acc, k, n, height, width, channels, ph, pw, begin, end);
    else
#endif
        gradient_generic(inp, dpooled, pooled, winner, offsets, acc, k, n, height, width, channels, ph, pw, begin, end);
}
