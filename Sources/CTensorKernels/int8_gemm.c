/* int8 x int8 -> int32 GEMM for quantised inference (docs/compress.md).
 *
 * C (M, N) int32 = A (M, K) uint8 * B (K, N) int8, where A holds activations quantised with a
 * zero point (the caller subtracts zero_point * column sums of B afterwards) and B symmetric
 * per-output-channel weights. The packed kernels read B packed once as [Kp/4][Np][4]: for each
 * group of four consecutive k, the four values of one column lie together, which is the operand
 * order of AVX-512 VNNI's vpdpbusd (four u8 x s8 products summed into one int32 lane, no
 * intermediate saturation). Kp and Np are K and N rounded up to 4 and 16; the padding is zero.
 * A is read with row stride lda >= Kp; its columns K..<Kp may hold anything (B's are zero).
 *
 * Kernels: fm_i8_gemm_reference (plain loops over unpacked B: the twin), fm_i8_gemm_portable
 * (plain C over the packed layout, compiled for the baseline and for AVX2), fm_i8_gemm_vnni512
 * (intrinsics, only where the CPU has AVX-512 VNNI). */
#include "tensor_kernels.h"
#include "kernels_internal.h"
#include <stdint.h>
#include <string.h>

static int has_vnni512 = 0;

__attribute__((constructor)) static void detect_vnni(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    has_vnni512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
#endif
}

int fm_i8_vnni512_available(void) { return has_vnni512; }

long fm_i8_packed_k(long k) { return (k + 3) / 4 * 4; }
long fm_i8_packed_n(long n) { return (n + 15) / 16 * 16; }

void fm_i8_pack_b(const int8_t *b, long k, long n, int8_t *packed) {
    long kp = fm_i8_packed_k(k), np = fm_i8_packed_n(n);
    memset(packed, 0, (size_t)(kp * np));
    for (long kk = 0; kk < k; kk++)
        for (long j = 0; j < n; j++)
            packed[((kk / 4) * np + j) * 4 + kk % 4] = b[kk * n + j];
}

void fm_i8_column_sums(const int8_t *b, long k, long n, int32_t *sums) {
    for (long j = 0; j < n; j++) sums[j] = 0;
    for (long kk = 0; kk < k; kk++)
        for (long j = 0; j < n; j++) sums[j] += b[kk * n + j];
}

void fm_i8_gemm_reference(long m, long n, long k, const uint8_t *a, long lda, const int8_t *b,
                          int32_t *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            int32_t s = 0;
            for (long kk = 0; kk < k; kk++) s += (int32_t)a[i * lda + kk] * (int32_t)b[kk * n + j];
            c[i * ldc + j] = s;
        }
}

/* Rows [row_begin, row_end) and 16-column tiles [tile_begin, tile_end). */
#define PORTABLE_BODY                                                                          \
    long kq = fm_i8_packed_k(k) / 4, np = fm_i8_packed_n(n);                                   \
    for (long i = row_begin; i < row_end; i++) {                                               \
        const uint8_t *ai = a + i * lda;                                                       \
        for (long t = tile_begin; t < tile_end; t++) {                                         \
            int32_t acc[16] = {0};                                                             \
            const int8_t *bt = packed + t * 16 * 4;                                            \
            for (long q = 0; q < kq; q++) {                                                    \
                const int8_t *bq = bt + q * np * 4;                                            \
                int32_t a0 = ai[4 * q], a1 = ai[4 * q + 1], a2 = ai[4 * q + 2], a3 = ai[4 * q + 3]; \
                for (int j = 0; j < 16; j++)                                                   \
                    acc[j] += a0 * bq[4 * j] + a1 * bq[4 * j + 1] + a2 * bq[4 * j + 2] + a3 * bq[4 * j + 3]; \
            }                                                                                  \
            long j0 = t * 16, cols = n - j0 < 16 ? n - j0 : 16;                                \
            for (long j = 0; j < cols; j++) c[i * ldc + j0 + j] = acc[j];                      \
        }                                                                                      \
    }

static void portable_base(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                          int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
    (void)m;
    PORTABLE_BODY
}

#ifdef HAVE_AVX2_PATH
AVX2 static void portable_avx2(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                               int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
    (void)m;
    PORTABLE_BODY
}
#endif

void fm_i8_gemm_portable(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                         int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
#ifdef HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled()) {
        portable_avx2(m, n, k, a, lda, packed, c, ldc, row_begin, row_end, tile_begin, tile_end);
        return;
    }
#endif
    portable_base(m, n, k, a, lda, packed, c, ldc, row_begin, row_end, tile_begin, tile_end);
}

#if defined(__x86_64__)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

static inline int32_t load32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/* The float epilogue of the fused VNNI kernel: y = input_scale * weight_scale[j] *
 * (acc - correction[j]) + bias[j], ReLU when relu. */
struct i8_epilogue {
    float input_scale;
    const float *weight_scale;
    const int32_t *correction;
    const float *bias;
    int relu;
    float *y;
    long ldy;
};

/* One row's accumulator to its output: int32 stored, or the epilogue applied (e != NULL). */
VNNI static inline void vnni_store(__m512i acc, int32_t *c, const struct i8_epilogue *e, float *y,
                                   __m512i corr, __m512 scale, __m512 bias, __mmask16 mask) {
    if (!e) { _mm512_mask_storeu_epi32(c, mask, acc); return; }
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, corr)), scale, bias);
    if (e->relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y, mask, v);
}

/* Up to 8 rows against one 16-column tile: 8 accumulators, one B load per k group. */
VNNI static inline void vnni_tile(long rows, long kq, long np, const uint8_t *a, long lda,
                                  const int8_t *bt, int32_t *c, long ldc, __mmask16 mask,
                                  const struct i8_epilogue *e, long i0, long j0) {
    __m512i corr = _mm512_setzero_si512();
    __m512 scale = _mm512_setzero_ps(), bias = _mm512_setzero_ps();
    float *y = 0;
    if (e) {
        corr = _mm512_maskz_loadu_epi32(mask, e->correction + j0);
        scale = _mm512_mul_ps(_mm512_set1_ps(e->input_scale), _mm512_maskz_loadu_ps(mask, e->weight_scale + j0));
        if (e->bias) bias = _mm512_maskz_loadu_ps(mask, e->bias + j0);
        y = e->y + i0 * e->ldy + j0;
    }
    long ldy = e ? e->ldy : 0;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    __m512i acc4 = acc0, acc5 = acc0, acc6 = acc0, acc7 = acc0;
    if (rows == 8) {
        for (long q = 0; q < kq; q++) {
            __m512i b = _mm512_loadu_si512((const void *)(bt + q * np * 4));
            const uint8_t *aq = a + 4 * q;
#define STEP(r, acc) acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(load32(aq + (r) * lda)), b)
            STEP(0, acc0); STEP(1, acc1); STEP(2, acc2); STEP(3, acc3);
            STEP(4, acc4); STEP(5, acc5); STEP(6, acc6); STEP(7, acc7);
#undef STEP
        }
        __m512i accs[8] = {acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7};
        for (int r = 0; r < 8; r++) vnni_store(accs[r], c + r * ldc, e, y + r * ldy, corr, scale, bias, mask);
        return;
    }
    /* Fewer than 8 rows (batch 1, the last rows): four accumulators over k per row, so that
     * the dependency chain of vpdpbusd does not set the pace. */
    for (long r = 0; r < rows; r++) {
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        const uint8_t *ar = a + r * lda;
        long q = 0;
        for (; q + 4 <= kq; q += 4) {
            s0 = _mm512_dpbusd_epi32(s0, _mm512_set1_epi32(load32(ar + 4 * q)), _mm512_loadu_si512((const void *)(bt + q * np * 4)));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_set1_epi32(load32(ar + 4 * q + 4)), _mm512_loadu_si512((const void *)(bt + (q + 1) * np * 4)));
            s2 = _mm512_dpbusd_epi32(s2, _mm512_set1_epi32(load32(ar + 4 * q + 8)), _mm512_loadu_si512((const void *)(bt + (q + 2) * np * 4)));
            s3 = _mm512_dpbusd_epi32(s3, _mm512_set1_epi32(load32(ar + 4 * q + 12)), _mm512_loadu_si512((const void *)(bt + (q + 3) * np * 4)));
        }
        for (; q < kq; q++)
            s0 = _mm512_dpbusd_epi32(s0, _mm512_set1_epi32(load32(ar + 4 * q)), _mm512_loadu_si512((const void *)(bt + q * np * 4)));
        __m512i acc = _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3));
        vnni_store(acc, c + r * ldc, e, y + r * ldy, corr, scale, bias, mask);
    }
}

VNNI static void vnni_run(long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                          int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end,
                          const struct i8_epilogue *e) {
    long kq = fm_i8_packed_k(k) / 4, np = fm_i8_packed_n(n);
    for (long i = row_begin; i < row_end; i += 8) {
        long rows = row_end - i < 8 ? row_end - i : 8;
        for (long t = tile_begin; t < tile_end; t++) {
            long j0 = t * 16, cols = n - j0 < 16 ? n - j0 : 16;
            __mmask16 mask = (__mmask16)((1u << cols) - 1u);
            vnni_tile(rows, kq, np, a + i * lda, lda, packed + t * 64, c ? c + i * ldc + j0 : 0, ldc, mask, e, i, j0);
        }
    }
}
#endif

#if defined(__x86_64__)
/* AVX2 without VNNI: vpmaddubsw multiplies u8 x s8 and sums pairs into int16, which saturates
 * (255 * 127 * 2 > 32767). Splitting each activation into nibbles, a = 16 * hi + lo, keeps
 * every pair sum within 2 * 15 * 127: vpmaddwd then widens the low nibbles' sums with 1 and
 * the high nibbles' with 16, exactly. 4 rows x 16 columns per tile. */
AVX2 static void avx2_run(long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                          int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
    long kq = fm_i8_packed_k(k) / 4, np = fm_i8_packed_n(n);
    const __m256i nibble = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    for (long i = row_begin; i < row_end; i += 4) {
        long rows = row_end - i < 4 ? row_end - i : 4;
        for (long t = tile_begin; t < tile_end; t++) {
            __m256i acc[4][2];
            for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
            const int8_t *bt = packed + t * 64;
            for (long q = 0; q < kq; q++) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(bt + q * np * 4));
                __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(bt + q * np * 4 + 32));
                for (long r = 0; r < rows; r++) {
                    __m256i av = _mm256_set1_epi32(load32(a + (i + r) * lda + 4 * q));
                    __m256i lo = _mm256_and_si256(av, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(av, 4), nibble);
                    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, b0), one),
                                                                             _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b0), sixteen)));
                    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, b1), one),
                                                                             _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b1), sixteen)));
                }
            }
            long j0 = t * 16, cols = n - j0 < 16 ? n - j0 : 16;
            for (long r = 0; r < rows; r++) {
                int32_t out[16];
                _mm256_storeu_si256((__m256i *)(void *)out, acc[r][0]);
                _mm256_storeu_si256((__m256i *)(void *)(out + 8), acc[r][1]);
                memcpy(c + (i + r) * ldc + j0, out, (size_t)cols * sizeof(int32_t));
            }
        }
    }
}
#endif

int fm_i8_gemm_avx2(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                    int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
    (void)m;
#if defined(__x86_64__)
    if (!fm_kernels_avx2_enabled()) return 0;
    avx2_run(n, k, a, lda, packed, c, ldc, row_begin, row_end, tile_begin, tile_end);
    return 1;
#else
    (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc;
    (void)row_begin; (void)row_end; (void)tile_begin; (void)tile_end;
    return 0;
#endif
}

int fm_i8_gemm_vnni512(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                       int32_t *c, long ldc, long row_begin, long row_end, long tile_begin, long tile_end) {
    (void)m;
#if defined(__x86_64__)
    if (!has_vnni512) return 0;
    vnni_run(n, k, a, lda, packed, c, ldc, row_begin, row_end, tile_begin, tile_end, 0);
    return 1;
#else
    (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc;
    (void)row_begin; (void)row_end; (void)tile_begin; (void)tile_end;
    return 0;
#endif
}

int fm_i8_gemm_vnni512_fused(long m, long n, long k, const uint8_t *a, long lda, const int8_t *packed,
                             long row_begin, long row_end, long tile_begin, long tile_end,
                             float input_scale, const float *weight_scale, const int32_t *correction,
                             const float *bias, int relu, float *y, long ldy) {
    (void)m;
#if defined(__x86_64__)
    if (!has_vnni512) return 0;
    struct i8_epilogue e = {input_scale, weight_scale, correction, bias, relu, y, ldy};
    vnni_run(n, k, a, lda, packed, 0, 0, row_begin, row_end, tile_begin, tile_end, &e);
    return 1;
#else
    (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)row_begin; (void)row_end; (void)tile_begin;
    (void)tile_end; (void)input_scale; (void)weight_scale; (void)correction; (void)bias; (void)relu; (void)y; (void)ldy;
    return 0;
#endif
}

#define QUANTIZE_BODY                                                                          \
    for (long i = 0; i < rows; i++) {                                                          \
        const float *xi = x + i * ldx;                                                         \
        uint8_t *qi = q + i * ldq;                                                             \
        for (long j = 0; j < cols; j++) {                                                      \
            float v = __builtin_nearbyintf(xi[j] * inverse_scale) + (float)zero_point;         \
            v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);                                   \
            qi[j] = (uint8_t)(int)v;                                                           \
        }                                                                                      \
        for (long j = cols; j < ldq; j++) qi[j] = 0;                                           \
    }

static void quantize_base(const float *x, long rows, long cols, long ldx, float inverse_scale, int zero_point,
                          uint8_t *q, long ldq) { QUANTIZE_BODY }
#ifdef HAVE_AVX2_PATH
AVX2 static void quantize_avx2(const float *x, long rows, long cols, long ldx, float inverse_scale, int zero_point,
                               uint8_t *q, long ldq) { QUANTIZE_BODY }
#endif

void fm_quantize_u8(const float *x, long rows, long cols, long ldx, float inverse_scale, int zero_point,
                    uint8_t *q, long ldq) {
#ifdef HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled()) { quantize_avx2(x, rows, cols, ldx, inverse_scale, zero_point, q, ldq); return; }
#endif
    quantize_base(x, rows, cols, ldx, inverse_scale, zero_point, q, ldq);
}

void fm_im2col_u8(const uint8_t *x, long batch, long h, long w, long cin, long kh, long kw, long sh, long sw,
                  long oh, long ow, long pad_top, long pad_left, uint8_t pad_value, uint8_t *cols, long ldcols) {
    long patch = kh * kw * cin;
    for (long b = 0; b < batch; b++)
        for (long oy = 0; oy < oh; oy++)
            for (long ox = 0; ox < ow; ox++) {
                uint8_t *row = cols + ((b * oh + oy) * ow + ox) * ldcols;
                long p = 0;
                for (long ky = 0; ky < kh; ky++) {
                    long y = oy * sh + ky - pad_top;
                    long x0 = ox * sw - pad_left;
                    if (y >= 0 && y < h && x0 >= 0 && x0 + kw <= w) {
                        /* The whole kernel row is inside: kw * cin contiguous bytes. */
                        const uint8_t *src = x + ((b * h + y) * w + x0) * cin;
                        for (long t = 0; t < kw * cin; t++) row[p + t] = src[t];
                        p += kw * cin;
                        continue;
                    }
                    for (long kx = 0; kx < kw; kx++) {
                        long xx = x0 + kx;
                        if (y < 0 || y >= h || xx < 0 || xx >= w) {
                            memset(row + p, pad_value, (size_t)cin);
                        } else {
                            memcpy(row + p, x + ((b * h + y) * w + xx) * cin, (size_t)cin);
                        }
                        p += cin;
                    }
                }
                for (long j = patch; j < ldcols; j++) row[j] = 0;
            }
}

#define DEQUANTIZE_BODY                                                                        \
    for (long i = 0; i < m; i++) {                                                             \
        const int32_t *ci = c + i * ldc;                                                       \
        float *yi = y + i * ldy;                                                               \
        for (long j = 0; j < n; j++)                                                           \
            yi[j] = input_scale * weight_scale[j] * (float)(ci[j] - correction[j]) + bias[j];  \
        if (relu)                                                                              \
            for (long j = 0; j < n; j++) yi[j] = yi[j] < 0.0f ? 0.0f : yi[j];                  \
    }

static void dequantize_base(const int32_t *c, long m, long n, long ldc, float input_scale, const float *weight_scale,
                            const int32_t *correction, const float *bias, int relu, float *y, long ldy) { DEQUANTIZE_BODY }
#ifdef HAVE_AVX2_PATH
AVX2 static void dequantize_avx2(const int32_t *c, long m, long n, long ldc, float input_scale, const float *weight_scale,
                                 const int32_t *correction, const float *bias, int relu, float *y, long ldy) { DEQUANTIZE_BODY }
#endif

void fm_i8_dequantize(const int32_t *c, long m, long n, long ldc, float input_scale, const float *weight_scale,
                      const int32_t *correction, const float *bias, int relu, float *y, long ldy) {
#ifdef HAVE_AVX2_PATH
    if (fm_kernels_avx2_enabled()) { dequantize_avx2(c, m, n, ldc, input_scale, weight_scale, correction, bias, relu, y, ldy); return; }
#endif
    dequantize_base(c, m, n, ldc, input_scale, weight_scale, correction, bias, relu, y, ldy);
}
