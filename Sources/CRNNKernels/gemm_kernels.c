// Run-time dispatch over the GEMM micro-kernels declared in rnn_kernels.h.
// The AVX2 and AVX-512 instantiations carry `target` attributes, so this file
// compiles with the package's default flags; they run only after CPUID and
// XGETBV say the CPU has the instructions and the OS saves their registers.
#include "rnn_kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define RNN_X86_64 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define RNN_X86_64 0
#endif

// MARK: - Portable kernel: generic vectors (SSE2 on x86-64, NEON on arm64, scalars elsewhere)

typedef float rnn_v4f __attribute__((vector_size(16)));
typedef double rnn_v2d __attribute__((vector_size(16)));

static inline rnn_v4f rnn_load_v4f(const float *p) { rnn_v4f v; memcpy(&v, p, sizeof v); return v; }
static inline void rnn_store_v4f(float *p, rnn_v4f v) { memcpy(p, &v, sizeof v); }
static inline rnn_v2d rnn_load_v2d(const double *p) { rnn_v2d v; memcpy(&v, p, sizeof v); return v; }
static inline void rnn_store_v2d(double *p, rnn_v2d v) { memcpy(p, &v, sizeof v); }

#define KT float
#define KV rnn_v4f
#define KVL 4
#define KNV 2
#define KMR 4
#define KKC 256
#define KATTR
#define KNAME(x) portable_f32_##x
#define VZERO() ((rnn_v4f){0, 0, 0, 0})
#define VLOADU(p) rnn_load_v4f(p)
#define VSTOREU(p, v) rnn_store_v4f(p, v)
#define VBCAST(x) ((rnn_v4f){(x), (x), (x), (x)})
#define VFMA(acc, x, y) ((acc) + (x) * (y))
#define VADD(x, y) ((x) + (y))
#include "src/gemm_template.h"
#undef KNV

#define KT double
#define KV rnn_v2d
#define KVL 2
#define KNV 4
#define KNAME(x) portable_f64_##x
#define VZERO() ((rnn_v2d){0, 0})
#define VLOADU(p) rnn_load_v2d(p)
#define VSTOREU(p, v) rnn_store_v2d(p, v)
#define VBCAST(x) ((rnn_v2d){(x), (x)})
#define VFMA(acc, x, y) ((acc) + (x) * (y))
#define VADD(x, y) ((x) + (y))
#include "src/gemm_template.h"
#undef KNV
#undef KMR
#undef KKC
#undef KATTR

// MARK: - Test hook: the AVX-512 geometry with 64-byte generic vectors (any CPU)

typedef float rnn_v16f __attribute__((vector_size(64)));
typedef double rnn_v8d __attribute__((vector_size(64)));

// loads and stores as statement expressions: a 64-byte vector passed to a function without
// AVX-512 enabled would change the calling convention (-Wpsabi)
#define RNN_LOAD64(T, p) ({ T v_; memcpy(&v_, (p), sizeof v_); v_; })
#define RNN_STORE64(T, p, v) do { T t_ = (v); memcpy((p), &t_, sizeof t_); } while (0)

#define RNN_AVX512_MR 8
#define RNN_AVX512_KC 128
#define KMR RNN_AVX512_MR
#define KKC RNN_AVX512_KC
#define KATTR
#define KNV 2

#define KT float
#define KV rnn_v16f
#define KVL 16
#define KNAME(x) geometry512_f32_##x
#define VZERO() ((rnn_v16f){0})
#define VLOADU(p) RNN_LOAD64(rnn_v16f, p)
#define VSTOREU(p, v) RNN_STORE64(rnn_v16f, p, v)
#define VBCAST(x) ((rnn_v16f){0} + (x))
#define VFMA(acc, x, y) ((acc) + (x) * (y))
#define VADD(x, y) ((x) + (y))
#include "src/gemm_template.h"

#define KT double
#define KV rnn_v8d
#define KVL 8
#define KNAME(x) geometry512_f64_##x
#define VZERO() ((rnn_v8d){0})
#define VLOADU(p) RNN_LOAD64(rnn_v8d, p)
#define VSTOREU(p, v) RNN_STORE64(rnn_v8d, p, v)
#define VBCAST(x) ((rnn_v8d){0} + (x))
#define VFMA(acc, x, y) ((acc) + (x) * (y))
#define VADD(x, y) ((x) + (y))
#include "src/gemm_template.h"
#undef KMR
#undef KKC
#undef KATTR
#undef KNV

#if RNN_X86_64

// MARK: - AVX2 + FMA: 6 rows x 2 vectors (12 accumulators + 2 B + 1 broadcast = 15 of 16 registers)

#define KMR 6
#define KKC 256
#define KATTR __attribute__((target("avx2,fma")))
#define KNV 2

#define KT float
#define KV __m256
#define KVL 8
#define KNAME(x) avx2_f32_##x
#define VZERO() _mm256_setzero_ps()
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VBCAST(x) _mm256_set1_ps(x)
#define VFMA(acc, x, y) _mm256_fmadd_ps(x, y, acc)
#define VADD(x, y) _mm256_add_ps(x, y)
#include "src/gemm_template.h"

#define KT double
#define KV __m256d
#define KVL 4
#define KNAME(x) avx2_f64_##x
#define VZERO() _mm256_setzero_pd()
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VBCAST(x) _mm256_set1_pd(x)
#define VFMA(acc, x, y) _mm256_fmadd_pd(x, y, acc)
#define VADD(x, y) _mm256_add_pd(x, y)
#include "src/gemm_template.h"
#undef KMR
#undef KKC
#undef KATTR

// MARK: - AVX-512F: 8 rows x 2 vectors (16 accumulators of 32 registers)

#define KMR RNN_AVX512_MR
#define KKC RNN_AVX512_KC
#define KATTR __attribute__((target("avx512f")))

#define KT float
#define KV __m512
#define KVL 16
#define KNAME(x) avx512_f32_##x
#define VZERO() _mm512_setzero_ps()
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VBCAST(x) _mm512_set1_ps(x)
#define VFMA(acc, x, y) _mm512_fmadd_ps(x, y, acc)
#define VADD(x, y) _mm512_add_ps(x, y)
#include "src/gemm_template.h"

#define KT double
#define KV __m512d
#define KVL 8
#define KNAME(x) avx512_f64_##x
#define VZERO() _mm512_setzero_pd()
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VBCAST(x) _mm512_set1_pd(x)
#define VFMA(acc, x, y) _mm512_fmadd_pd(x, y, acc)
#define VADD(x, y) _mm512_add_pd(x, y)
#include "src/gemm_template.h"
#undef KMR
#undef KKC
#undef KATTR
#undef KNV

// MARK: - Feature detection

static unsigned long long rnn_xgetbv0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

static int rnn_detect(int kernel) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return 0;
  const unsigned long long xcr0 = rnn_xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return 0;  // the OS saves XMM and YMM state
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const int avx2 = (ebx >> 5) & 1, avx512f = (ebx >> 16) & 1;
  switch (kernel) {
    case RNN_GEMM_AVX2: return avx2 && fma;
    case RNN_GEMM_AVX512: return avx512f && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM0-15 upper, ZMM16-31
    default: return 0;
  }
}

#endif  // RNN_X86_64

// MARK: - Choice

static atomic_int rnn_supported_table[RNN_GEMM_KERNEL_COUNT];
static atomic_int rnn_detected_once = 0;
static atomic_int rnn_default = 0;  // 0: not chosen yet, else a kernel id

static void rnn_init_support(void) {
  if (atomic_load_explicit(&rnn_detected_once, memory_order_acquire)) return;
  int table[RNN_GEMM_KERNEL_COUNT] = {0, 1, 0, 0};
#if RNN_X86_64
  table[RNN_GEMM_AVX2] = rnn_detect(RNN_GEMM_AVX2);
  table[RNN_GEMM_AVX512] = rnn_detect(RNN_GEMM_AVX512);
#endif
  // several threads may get here at once: they compute and store the same values
  for (int i = 0; i < RNN_GEMM_KERNEL_COUNT; i++)
    atomic_store_explicit(&rnn_supported_table[i], table[i], memory_order_relaxed);
  atomic_store_explicit(&rnn_detected_once, 1, memory_order_release);
}

int rnn_gemm_kernel_supported(int kernel) {
  if (kernel == RNN_GEMM_AVX512_GEOMETRY) return 1;
  if (kernel <= RNN_GEMM_AUTO || kernel >= RNN_GEMM_KERNEL_COUNT) return 0;
  rnn_init_support();
  return atomic_load_explicit(&rnn_supported_table[kernel], memory_order_relaxed);
}

int rnn_gemm_detected_kernel(void) {
  if (rnn_gemm_kernel_supported(RNN_GEMM_AVX512)) return RNN_GEMM_AVX512;
  if (rnn_gemm_kernel_supported(RNN_GEMM_AVX2)) return RNN_GEMM_AVX2;
  return RNN_GEMM_PORTABLE;
}

static const char *const rnn_names[RNN_GEMM_KERNEL_COUNT] = {"auto", "portable", "avx2", "avx512"};

const char *rnn_gemm_kernel_name(int kernel) {
  if (kernel < 0 || kernel >= RNN_GEMM_KERNEL_COUNT) return NULL;
  return rnn_names[kernel];
}

int rnn_gemm_kernel_from_name(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < RNN_GEMM_KERNEL_COUNT; i++)
    if (strcmp(name, rnn_names[i]) == 0) return i;
  return -1;
}

int rnn_gemm_kernel_for_request(const char *requested, char *note, size_t note_size) {
  if (note && note_size) note[0] = 0;
  const int detected = rnn_gemm_detected_kernel();
  if (!requested || !requested[0]) return detected;
  const int named = rnn_gemm_kernel_from_name(requested);
  if (named > RNN_GEMM_AUTO && rnn_gemm_kernel_supported(named)) return named;
  if (named == RNN_GEMM_AUTO) return detected;
  // SwiftMatmul's kernel shapes share the variable; they leave the C kernel to detection
  if (!strcmp(requested, "wide") || !strcmp(requested, "narrow") || !strcmp(requested, "flat")) return detected;
  if (note && note_size) {
    if (named > RNN_GEMM_AUTO)
      snprintf(note, note_size,
               "RNNCONF_GEMM_KERNEL=%s: this CPU or OS lacks the %s kernel's instructions; using %s instead",
               requested, requested, rnn_names[detected]);
    else
      snprintf(note, note_size,
               "RNNCONF_GEMM_KERNEL=%s is not a kernel (portable, avx2, avx512; wide, narrow, flat for the Swift "
               "backend); using %s",
               requested, rnn_names[detected]);
  }
  return detected;
}

static atomic_int rnn_noted = 0;

static int rnn_environment_or_detected(void) {
  char note[256];
  const int k = rnn_gemm_kernel_for_request(getenv("RNNCONF_GEMM_KERNEL"), note, sizeof note);
  // said once per process, on stderr: the request is not silently dropped
  if (note[0] && !atomic_exchange(&rnn_noted, 1)) fprintf(stderr, "rnnconf: %s\n", note);
  return k;
}

int rnn_gemm_default_kernel(void) {
  int k = atomic_load_explicit(&rnn_default, memory_order_acquire);
  if (k != 0) return k;
  k = rnn_environment_or_detected();
  int expected = 0;
  // first caller wins; a concurrent `rnn_gemm_set_default_kernel` is not overwritten
  if (!atomic_compare_exchange_strong(&rnn_default, &expected, k)) k = expected;
  return k;
}

int rnn_gemm_set_default_kernel(int kernel) {
  if (kernel == RNN_GEMM_AUTO) {
    atomic_store_explicit(&rnn_default, rnn_environment_or_detected(), memory_order_release);
    return 0;
  }
  if (!rnn_gemm_kernel_supported(kernel)) return -1;
  atomic_store_explicit(&rnn_default, kernel, memory_order_release);
  return 0;
}

int rnn_gemm_resolve_kernel(int kernel) {
  if (kernel == RNN_GEMM_AUTO) return rnn_gemm_default_kernel();
  return rnn_gemm_kernel_supported(kernel) ? kernel : -1;
}

// MARK: - Packing and products

static ptrdiff_t rnn_width(int kernel, int f64) {
  switch (rnn_gemm_resolve_kernel(kernel)) {
    case RNN_GEMM_PORTABLE: return 8;
    case RNN_GEMM_AVX2: return f64 ? 8 : 16;
    case RNN_GEMM_AVX512:
    case RNN_GEMM_AVX512_GEOMETRY: return f64 ? 16 : 32;
    default: return 0;
  }
}

ptrdiff_t rnn_gemm_panel_width_f32(int kernel) { return rnn_width(kernel, 0); }
ptrdiff_t rnn_gemm_panel_width_f64(int kernel) { return rnn_width(kernel, 1); }

static ptrdiff_t rnn_packed_count(ptrdiff_t nr, ptrdiff_t k, ptrdiff_t n) {
  if (nr == 0 || k < 0 || n < 0) return 0;
  return (n + nr - 1) / nr * nr * k;
}

ptrdiff_t rnn_gemm_packed_count_f32(int kernel, ptrdiff_t k, ptrdiff_t n) {
  return rnn_packed_count(rnn_width(kernel, 0), k, n);
}
ptrdiff_t rnn_gemm_packed_count_f64(int kernel, ptrdiff_t k, ptrdiff_t n) {
  return rnn_packed_count(rnn_width(kernel, 1), k, n);
}

#define RNN_DEFINE_PACK(NAME, T, F64)                                                            \
  int NAME(int kernel, ptrdiff_t k, ptrdiff_t n, const T *b, ptrdiff_t ldb, T *packed) {        \
    const ptrdiff_t nr = rnn_width(kernel, F64);                                                 \
    if (nr == 0 || k < 0 || n < 0) return -1;                                                    \
    const ptrdiff_t panels = (n + nr - 1) / nr;                                                  \
    for (ptrdiff_t jp = 0; jp < panels; jp++) {                                                  \
      const ptrdiff_t j0 = jp * nr, cols = n - j0 < nr ? n - j0 : nr;                            \
      for (ptrdiff_t p = 0; p < k; p++) {                                                        \
        T *dst = packed + (jp * k + p) * nr;                                                     \
        const T *src = b + p * ldb + j0;                                                         \
        /* whole panel rows as fixed-size copies (the engine packs its weights every run) */     \
        if (cols == 8 && nr == 8) memcpy(dst, src, 8 * sizeof(T));                               \
        else if (cols == 16 && nr == 16) memcpy(dst, src, 16 * sizeof(T));                      \
        else if (cols == 32 && nr == 32) memcpy(dst, src, 32 * sizeof(T));                      \
        else {                                                                                   \
          for (ptrdiff_t j = 0; j < cols; j++) dst[j] = src[j];                                  \
          for (ptrdiff_t j = cols; j < nr; j++) dst[j] = 0;                                      \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
    return 0;                                                                                    \
  }

RNN_DEFINE_PACK(rnn_gemm_pack_f32, float, 0)
RNN_DEFINE_PACK(rnn_gemm_pack_f64, double, 1)

#define RNN_DEFINE_GEMM(NAME, T, SUFFIX)                                                          \
  int NAME(int kernel, ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1,        \
           const T *a, ptrdiff_t lda, const T *packed, T *c, ptrdiff_t ldc, int accumulate) {    \
    const int kr = rnn_gemm_resolve_kernel(kernel);                                               \
    if (kr < 0 || m < 0 || k < 0 || j0 < 0 || j1 < j0 || j1 > n) return -1;                       \
    if (m == 0 || j1 == j0) return 0;                                                             \
    if (k == 0) {                                                                                 \
      if (!accumulate)                                                                            \
        for (ptrdiff_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)(j1 - j0) * sizeof(T)); \
      return 0;                                                                                   \
    }                                                                                             \
    switch (kr) {                                                                                 \
      case RNN_GEMM_PORTABLE: portable_##SUFFIX##_gemm(m, k, j0, j1, a, lda, packed, c, ldc, accumulate); break; \
      case RNN_GEMM_AVX512_GEOMETRY:                                                              \
        geometry512_##SUFFIX##_gemm(m, k, j0, j1, a, lda, packed, c, ldc, accumulate);            \
        break;                                                                                    \
      RNN_X86_CASES(SUFFIX)                                                                       \
      default: return -1;                                                                         \
    }                                                                                             \
    return 0;                                                                                     \
  }

#if RNN_X86_64
#define RNN_X86_CASES(SUFFIX)                                                                    \
  case RNN_GEMM_AVX2: avx2_##SUFFIX##_gemm(m, k, j0, j1, a, lda, packed, c, ldc, accumulate); break; \
  case RNN_GEMM_AVX512: avx512_##SUFFIX##_gemm(m, k, j0, j1, a, lda, packed, c, ldc, accumulate); break;
#else
#define RNN_X86_CASES(SUFFIX)
#endif

RNN_DEFINE_GEMM(rnn_gemm_f32, float, f32)
RNN_DEFINE_GEMM(rnn_gemm_f64, double, f64)
