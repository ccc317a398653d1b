// Vectorised sigmoid and tanh, instantiated once per instruction set by
// activation_kernels.c. Not a public header: no include guard on purpose. Before including, define:
//   KATTR       function attributes (the instruction set's target attribute, or nothing)
//   KBYTES      vector size in bytes (32: 8 floats / 4 doubles; 64: 16 / 8)
//   KNAME(x)    this instantiation's name for x
//   KFMA32(a, b, c), KFMA64(a, b, c)   a * b + c on float / double vectors: one rounding where the
//               instruction set has FMA, two (a multiply, then an add) where it has not
// Everything is written with the compiler's generic vectors, so one text serves every instruction
// set; the target attribute decides the instructions. The per-instantiation macros are undefined at
// the end.
//
// Algorithms (both precisions, the same steps):
//   exp(x):   n = round(x / ln 2), r = x - n ln2_hi - n ln2_lo (|r| <= ln2 / 2), e^r - 1 = r + r^2 P(r)
//             (float: Cephes expf's degree-5 P; double: Taylor to r^13, truncation < 0.1 ulp), and
//             2^n as two factors 2^n1 * 2^n2, so results down to the subnormals come out right.
//   sigmoid:  e = exp(-|x|), then 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (no overflow,
//             relative accuracy in both tails).
//   tanh:     e = expm1(2|x|) = 2^n (e^r - 1) + (2^n - 1) (no cancellation near 0), tanh|x| = e / (e + 2),
//             the sign of x put back (tanh(-0) = -0); |x| clamped where tanh rounds to 1.
//   NaN in, NaN out; sigmoid(+-inf) = 1, 0; tanh(+-inf) = +-1.
// Measured error against long-double libm: see ActivationKernelTests (a dense sweep per kernel).

typedef float KNAME(vf) __attribute__((vector_size(KBYTES)));
typedef int32_t KNAME(vi) __attribute__((vector_size(KBYTES)));
typedef double KNAME(vd) __attribute__((vector_size(KBYTES)));
typedef int64_t KNAME(vl) __attribute__((vector_size(KBYTES)));

#define KVF KNAME(vf)
#define KVI KNAME(vi)
#define KVD KNAME(vd)
#define KVL KNAME(vl)
#define KLANES32 ((ptrdiff_t)(KBYTES / 4))
#define KLANES64 ((ptrdiff_t)(KBYTES / 8))
#define KINLINE static inline __attribute__((always_inline)) KATTR

// MARK: float

// bit-select: m (all ones / zeros per lane) ? a : b
KINLINE KVF KNAME(self)(KVI m, KVF a, KVF b) { return (KVF)(((KVI)a & m) | ((KVI)b & ~m)); }

// e^r - 1 for |r| <= ln2/2 and the 2^n factors of exp(x) (x already clamped)
KINLINE KVF KNAME(expm1_reduced_f)(KVF x, KVF *n_out) {
  const KVF magic = (KVF){0} + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const KVF n = (KFMA32(x, (KVF){0} + 1.44269504088896341f, magic)) - magic;
  KVF r = KFMA32(n, (KVF){0} - 0.693359375f, x);
  r = KFMA32(n, (KVF){0} + 2.12194440e-4f, r);
  KVF p = (KVF){0} + 1.9875691500e-4f;
  p = KFMA32(p, r, (KVF){0} + 1.3981999507e-3f);
  p = KFMA32(p, r, (KVF){0} + 8.3334519073e-3f);
  p = KFMA32(p, r, (KVF){0} + 4.1665795894e-2f);
  p = KFMA32(p, r, (KVF){0} + 1.6666665459e-1f);
  p = KFMA32(p, r, (KVF){0} + 5.0000001201e-1f);
  *n_out = n;
  return KFMA32(p, r * r, r);
}

// 2^n for an integer-valued n with -126 <= n <= 127
KINLINE KVF KNAME(pow2_f)(KVF n) {
  const KVF magic = (KVF){0} + 12582912.0f;
  const KVI bits = ((KVI)(n + magic) - 0x4B400000 + 127) << 23;
  return (KVF)bits;
}

KINLINE KVF KNAME(sigmoid_f)(KVF x) {
  const KVI sign = (KVI){0} + (int32_t)0x80000000;
  const KVF ax = (KVF)((KVI)x & ~sign);
  KVF m = (KVF){0} - ax;                       // -|x| <= 0
  const KVF lo = (KVF){0} - 104.5f;            // e^-104.5 rounds to 0
  m = KNAME(self)(m < lo, lo, m);
  KVF n;
  const KVF q = KNAME(expm1_reduced_f)(m, &n);
  const KVF magic = (KVF){0} + 12582912.0f;
  const KVF n1 = (n * 0.5f + magic) - magic, n2 = n - n1;  // both within the normal exponents
  const KVF e = ((q + 1.0f) * KNAME(pow2_f)(n1)) * KNAME(pow2_f)(n2);
  const KVF num = KNAME(self)(x < (KVF){0}, e, (KVF){0} + 1.0f);
  const KVF y = num / (e + 1.0f);
  return KNAME(self)(x != x, x, y);
}

KINLINE KVF KNAME(tanh_f)(KVF x) {
  const KVI sign = (KVI){0} + (int32_t)0x80000000;
  KVF ax = (KVF)((KVI)x & ~sign);
  const KVF hi = (KVF){0} + 9.5f;              // tanh(9.5) rounds to 1
  ax = KNAME(self)(ax > hi, hi, ax);
  KVF n;
  const KVF q = KNAME(expm1_reduced_f)(ax + ax, &n);
  const KVF s = KNAME(pow2_f)(n);
  const KVF e = KFMA32(s, q, s - 1.0f);        // expm1(2|x|)
  const KVF t = e / (e + 2.0f);
  const KVF y = (KVF)((KVI)t | ((KVI)x & sign));
  return KNAME(self)(x != x, x, y);
}

// MARK: double

KINLINE KVD KNAME(seld)(KVL m, KVD a, KVD b) { return (KVD)(((KVL)a & m) | ((KVL)b & ~m)); }

KINLINE KVD KNAME(expm1_reduced_d)(KVD x, KVD *n_out) {
  const KVD magic = (KVD){0} + 6755399441055744.0;  // 1.5 * 2^52
  const KVD n = (KFMA64(x, (KVD){0} + 1.4426950408889634074, magic)) - magic;
  // fdlibm's ln2 split: n * ln2_hi is exact for |n| < 2^11
  KVD r = KFMA64(n, (KVD){0} - 6.93147180369123816490e-01, x);
  r = KFMA64(n, (KVD){0} - 1.90821492927058770002e-10, r);
  KVD p = (KVD){0} + 1.0 / 6227020800.0;  // 1/13!
  p = KFMA64(p, r, (KVD){0} + 1.0 / 479001600.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 39916800.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 3628800.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 362880.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 40320.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 5040.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 720.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 120.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 24.0);
  p = KFMA64(p, r, (KVD){0} + 1.0 / 6.0);
  p = KFMA64(p, r, (KVD){0} + 0.5);
  *n_out = n;
  return KFMA64(p, r * r, r);
}

KINLINE KVD KNAME(pow2_d)(KVD n) {
  const KVD magic = (KVD){0} + 6755399441055744.0;
  const KVL bits = ((KVL)(n + magic) - 0x4338000000000000LL + 1023) << 52;
  return (KVD)bits;
}

KINLINE KVD KNAME(sigmoid_d)(KVD x) {
  const KVL sign = (KVL){0} + (int64_t)0x8000000000000000ULL;
  const KVD ax = (KVD)((KVL)x & ~sign);
  KVD m = (KVD){0} - ax;
  const KVD lo = (KVD){0} - 746.0;             // e^-746 rounds to 0
  m = KNAME(seld)(m < lo, lo, m);
  KVD n;
  const KVD q = KNAME(expm1_reduced_d)(m, &n);
  const KVD magic = (KVD){0} + 6755399441055744.0;
  const KVD n1 = (n * 0.5 + magic) - magic, n2 = n - n1;
  const KVD e = ((q + 1.0) * KNAME(pow2_d)(n1)) * KNAME(pow2_d)(n2);
  const KVD num = KNAME(seld)(x < (KVD){0}, e, (KVD){0} + 1.0);
  const KVD y = num / (e + 1.0);
  return KNAME(seld)(x != x, x, y);
}

KINLINE KVD KNAME(tanh_d)(KVD x) {
  const KVL sign = (KVL){0} + (int64_t)0x8000000000000000ULL;
  KVD ax = (KVD)((KVL)x & ~sign);
  const KVD hi = (KVD){0} + 20.0;              // tanh(20) rounds to 1
  ax = KNAME(seld)(ax > hi, hi, ax);
  KVD n;
  const KVD q = KNAME(expm1_reduced_d)(ax + ax, &n);
  const KVD s = KNAME(pow2_d)(n);
  const KVD e = KFMA64(s, q, s - 1.0);
  const KVD t = e / (e + 2.0);
  const KVD y = (KVD)((KVL)t | ((KVL)x & sign));
  return KNAME(seld)(x != x, x, y);
}

// MARK: drivers: whole vectors, then the tail through a zero-padded vector

#define KDRIVER(NAME, T, V, LANES, F)                                                  \
  static KATTR void KNAME(NAME)(T *p, ptrdiff_t count) {                               \
    ptrdiff_t i = 0;                                                                   \
    for (; i + LANES <= count; i += LANES) {                                           \
      V v;                                                                             \
      memcpy(&v, p + i, sizeof v);                                                     \
      v = KNAME(F)(v);                                                                 \
      memcpy(p + i, &v, sizeof v);                                                     \
    }                                                                                  \
    if (i < count) {                                                                   \
      V v = (V){0};                                                                    \
      memcpy(&v, p + i, (size_t)(count - i) * sizeof(T));                             \
      v = KNAME(F)(v);                                                                 \
      memcpy(p + i, &v, (size_t)(count - i) * sizeof(T));                              \
    }                                                                                  \
  }

KDRIVER(sigmoid_f32, float, KVF, KLANES32, sigmoid_f)
KDRIVER(tanh_f32, float, KVF, KLANES32, tanh_f)
KDRIVER(sigmoid_f64, double, KVD, KLANES64, sigmoid_d)
KDRIVER(tanh_f64, double, KVD, KLANES64, tanh_d)

#undef KDRIVER
#undef KVF
#undef KVI
#undef KVD
#undef KVL
#undef KLANES32
#undef KLANES64
#undef KINLINE
#undef KATTR
#undef KBYTES
#undef KNAME
#undef KFMA32
#undef KFMA64
