// GEMM micro-kernels for the RNNRef engine, one per instruction set, chosen at
// run time. Every kernel is compiled with a per-function target attribute, so
// the package needs no compiler flags: a kernel this CPU (and OS) cannot run is
// compiled but never called.
//
// Layout: B (K x N, row-major) is packed once into column panels of the
// kernel's width NR (`rnn_gemm_panel_width_*`): panel p holds columns
// p*NR ..< p*NR+NR as K contiguous rows of NR scalars, zero-padded at the right
// edge. A packed B belongs to the kernel it was packed for.
//
// Product: C (+)= A x Bpacked[:, j0 ..< j1], all row-major with row strides
// lda, ldc; `c` points at C's element (0, 0), which receives column j0 of B.
// Single-threaded: callers split column ranges over their own threads (column
// ranges that do not overlap write disjoint elements of C).
#ifndef RNN_KERNELS_H
#define RNN_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel identifiers (stable values: tests and the env var use the names).
enum {
  RNN_GEMM_AUTO = 0,      ///< the process default (`rnn_gemm_default_kernel`)
  RNN_GEMM_PORTABLE = 1,  ///< plain C with the compiler's generic vectors: runs everywhere
  RNN_GEMM_AVX2 = 2,      ///< x86-64 AVX2 + FMA (6 x 16 float, 6 x 8 double)
  RNN_GEMM_AVX512 = 3,    ///< x86-64 AVX-512F (8 x 32 float, 8 x 16 double)
  RNN_GEMM_KERNEL_COUNT = 4,
  /// Test hook, never chosen: the AVX-512 kernels' geometry (panel width, rows per tile, K block,
  /// packing) built from generic vectors, so a CPU without AVX-512 still checks that code's indexing.
  /// Always supported; slow.
  RNN_GEMM_AVX512_GEOMETRY = 100
};

/// 1 when this CPU has the instructions and the OS saves their registers
/// (CPUID + XGETBV), else 0. RNN_GEMM_PORTABLE is always supported.
int rnn_gemm_kernel_supported(int kernel);
/// The fastest supported kernel by feature detection.
int rnn_gemm_detected_kernel(void);
/// The kernel RNN_GEMM_AUTO resolves to: the one set by `rnn_gemm_set_default_kernel`, else
/// the one named by the environment variable RNNCONF_GEMM_KERNEL ("portable", "avx2",
/// "avx512"; other values, and kernels this CPU lacks, are ignored), else the detected one.
int rnn_gemm_default_kernel(void);
/// The kernel a value of RNNCONF_GEMM_KERNEL selects: the named kernel when this CPU supports it,
/// else the detected one (also for NULL, "", "auto" and the Swift backend's "wide", "narrow",
/// "flat"). When a request is not honoured (a kernel this CPU lacks, an unknown name), `note`
/// (`note_size` bytes, may be NULL) receives the reason and the kernel used instead; else "".
/// The process default prints that note once on stderr.
int rnn_gemm_kernel_for_request(const char *requested, char *note, size_t note_size);
/// Sets the process default (RNN_GEMM_AUTO restores detection and the env var). Returns 0,
/// or -1 (nothing changed) when the kernel is unknown or not supported here. Thread-safe,
/// but products already under way keep the kernel their matrices were packed for.
int rnn_gemm_set_default_kernel(int kernel);
/// "portable", "avx2", "avx512", "auto"; NULL for an unknown id.
const char *rnn_gemm_kernel_name(int kernel);
/// The id for a name above, or -1.
int rnn_gemm_kernel_from_name(const char *name);
/// The kernel `kernel` resolves to (RNN_GEMM_AUTO -> the default), or -1 when unknown or
/// not supported here.
int rnn_gemm_resolve_kernel(int kernel);

/// Panel width NR of a (resolved) kernel; 0 when unknown or unsupported.
ptrdiff_t rnn_gemm_panel_width_f32(int kernel);
ptrdiff_t rnn_gemm_panel_width_f64(int kernel);
/// Scalars a packed (k x n) B takes for a (resolved) kernel: ceil(n / NR) * NR * k.
ptrdiff_t rnn_gemm_packed_count_f32(int kernel, ptrdiff_t k, ptrdiff_t n);
ptrdiff_t rnn_gemm_packed_count_f64(int kernel, ptrdiff_t k, ptrdiff_t n);

/// Packs B (k x n, row stride ldb) into `packed` (rnn_gemm_packed_count_* scalars).
/// Returns 0, or -1 when the kernel is unknown or unsupported (nothing written).
int rnn_gemm_pack_f32(int kernel, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb, float *packed);
int rnn_gemm_pack_f64(int kernel, ptrdiff_t k, ptrdiff_t n, const double *b, ptrdiff_t ldb, double *packed);

/// C[i, j - j0] (+)= sum_p A[i, p] * B[p, j] for i < m, j0 <= j < j1, where `packed` is B
/// (k x n) packed for `kernel`. `accumulate` = 0 overwrites C (also when k == 0).
/// Requires 0 <= j0 <= j1 <= n. Returns 0, or -1 when the kernel is unknown or
/// unsupported or the range is invalid (nothing written).
int rnn_gemm_f32(int kernel, ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1,
                 const float *a, ptrdiff_t lda, const float *packed, float *c, ptrdiff_t ldc, int accumulate);
int rnn_gemm_f64(int kernel, ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1,
                 const double *a, ptrdiff_t lda, const double *packed, double *c, ptrdiff_t ldc, int accumulate);

// MARK: - Activations

/// Vectorised activations (`rnn_act_*`): sigmoid and tanh, in place, by the kernel of the same id
/// (RNN_GEMM_PORTABLE, RNN_GEMM_AVX2, RNN_GEMM_AVX512, or the test hook RNN_GEMM_AVX512_GEOMETRY:
/// the AVX-512 instantiation's operations without its target attribute). Error bounds: see the
/// algorithm notes in src/act_template.h and the measured ulps in the tests. NaN in, NaN out.
enum {
  RNN_ACT_SIGMOID = 0,  ///< 1 / (1 + e^-x)
  RNN_ACT_TANH = 1
};

/// p[i] = f(p[i]) for i < n. Returns 0, or -1 (nothing written) when the kernel is unknown or
/// unsupported, the function unknown or n < 0.
int rnn_act_f32(int kernel, int function, float *p, ptrdiff_t n);
int rnn_act_f64(int kernel, int function, double *p, ptrdiff_t n);

#ifdef __cplusplus
}
#endif

// The backends' worker pool (its own header; included here so that a module cache built before the
// pool existed is rebuilt: this header changed).
#include "rnn_pool.h"

#endif
