// Vectorised sigmoid and tanh for the RNNRef engine, one instantiation per instruction set
// (src/act_template.h), chosen at run time with the GEMM kernels' feature detection. Like
// gemm_kernels.c, the AVX2 and AVX-512 instantiations carry `target` attributes, so the file
// compiles with the package's default flags.
#include "rnn_kernels.h"

#include <stdint.h>
#include <string.h>

// The template's helpers pass 32- and 64-byte vectors by value; they are always inlined, so no
// call with the AVX calling convention (which -Wpsabi warns about) is ever emitted.
#pragma clang diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) || defined(_M_X64)
#define RNN_ACT_X86_64 1
#else
#define RNN_ACT_X86_64 0
#endif

// Portable: 32-byte generic vectors (two SSE2 registers on x86-64, two NEON registers on arm64),
// a multiply and an add where the others fuse.
#define KATTR
#define KBYTES 32
#define KNAME(x) act_portable_##x
#define KFMA32(a, b, c) ((a) * (b) + (c))
#define KFMA64(a, b, c) ((a) * (b) + (c))
#include "src/act_template.h"

// Test hook: the AVX-512 instantiation's text (16 floats / 8 doubles per vector, fused multiply-adds)
// without its target attribute, so any CPU runs the same operations with the same roundings (the
// fused multiply-adds through libm's fma when the CPU lacks them: slow, same bits).
#define KATTR
#define KBYTES 64
#define KNAME(x) act_geometry512_##x
#define KFMA32(a, b, c) __builtin_elementwise_fma(a, b, c)
#define KFMA64(a, b, c) __builtin_elementwise_fma(a, b, c)
#include "src/act_template.h"

#if RNN_ACT_X86_64
#define KATTR __attribute__((target("avx2,fma")))
#define KBYTES 32
#define KNAME(x) act_avx2_##x
#define KFMA32(a, b, c) __builtin_elementwise_fma(a, b, c)
#define KFMA64(a, b, c) __builtin_elementwise_fma(a, b, c)
#include "src/act_template.h"

#define KATTR __attribute__((target("avx512f")))
#define KBYTES 64
#define KNAME(x) act_avx512_##x
#define KFMA32(a, b, c) __builtin_elementwise_fma(a, b, c)
#define KFMA64(a, b, c) __builtin_elementwise_fma(a, b, c)
#include "src/act_template.h"
#endif

#if RNN_ACT_X86_64
#define RNN_ACT_X86_CASES(FN)                     \
  case RNN_GEMM_AVX2: act_avx2_##FN(p, n); break; \
  case RNN_GEMM_AVX512: act_avx512_##FN(p, n); break;
#else
#define RNN_ACT_X86_CASES(FN)
#endif

#define RNN_DEFINE_ACT(NAME, T, SUFFIX)                                                         \
  int NAME(int kernel, int function, T *p, ptrdiff_t n) {                                       \
    if (function != RNN_ACT_SIGMOID && function != RNN_ACT_TANH) return -1;                     \
    const int kr = rnn_gemm_resolve_kernel(kernel);                                              \
    if (kr < 0 || n < 0) return -1;                                                              \
    if (n == 0) return 0;                                                                        \
    if (function == RNN_ACT_SIGMOID) {                                                           \
      switch (kr) {                                                                              \
        case RNN_GEMM_PORTABLE: act_portable_sigmoid_##SUFFIX(p, n); break;                     \
        case RNN_GEMM_AVX512_GEOMETRY: act_geometry512_sigmoid_##SUFFIX(p, n); break;           \
        RNN_ACT_X86_CASES(sigmoid_##SUFFIX)                                                      \
        default: return -1;                                                                      \
      }                                                                                          \
    } else {                                                                                     \
      switch (kr) {                                                                              \
        case RNN_GEMM_PORTABLE: act_portable_tanh_##SUFFIX(p, n); break;                        \
        case RNN_GEMM_AVX512_GEOMETRY: act_geometry512_tanh_##SUFFIX(p, n); break;              \
        RNN_ACT_X86_CASES(tanh_##SUFFIX)                                                         \
        default: return -1;                                                                      \
      }                                                                                          \
    }                                                                                            \
    return 0;                                                                                    \
  }

RNN_DEFINE_ACT(rnn_act_f32, float, f32)
RNN_DEFINE_ACT(rnn_act_f64, double, f64)
