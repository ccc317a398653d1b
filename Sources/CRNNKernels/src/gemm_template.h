// One GEMM driver and micro-kernel, instantiated once per (instruction set,
// scalar type) by gemm_kernels.c. Not a public header: it has no include guard
// on purpose. Before including, define:
//   KT            scalar type (float, double)
//   KV            vector type
//   KVL, KNV      lanes per vector, vectors per tile row (panel width NR = KVL * KNV)
//   KMR           rows per register tile
//   KKC           K block (a kc x NR panel slice stays in L1)
//   KATTR         function attributes (the target attribute of the instruction set)
//   KNAME(x)      name of this instantiation's function x
//   VZERO(), VLOADU(p), VSTOREU(p, v), VBCAST(x), VFMA(acc, a, b) (= acc + a * b), VADD(x, y)
// It undefines the per-type macros (KT, KV, KVL, KNAME, V*) at its end, so the next
// instantiation defines them afresh; KMR, KKC, KATTR and KNV are per instruction set and
// stay defined until gemm_kernels.c undefines them.

#define KNR (KVL * KNV)

// C[0 ..< rows, lo ..< hi] (+)= A[0 ..< rows, 0 ..< kc] x Bpanel[0 ..< kc, lo ..< hi]; `c`
// points at C's element for panel column `lo`. Inlined with a constant `rows`, so the
// accumulators live in registers.
static inline __attribute__((always_inline)) KATTR void KNAME(tile)(
    const int rows, ptrdiff_t kc, const KT *restrict a, ptrdiff_t lda, const KT *restrict b,
    KT *restrict c, ptrdiff_t ldc, ptrdiff_t lo, ptrdiff_t hi, int accumulate) {
  KV s[KMR][KNV];
  for (int r = 0; r < KMR; r++)
    for (int v = 0; v < KNV; v++) s[r][v] = VZERO();
  for (ptrdiff_t p = 0; p < kc; p++) {
    KV bv[KNV];
    for (int v = 0; v < KNV; v++) bv[v] = VLOADU(b + p * KNR + v * KVL);
    for (int r = 0; r < KMR; r++) {
      if (r < rows) {
        const KV ar = VBCAST(a[r * lda + p]);
        for (int v = 0; v < KNV; v++) s[r][v] = VFMA(s[r][v], ar, bv[v]);
      }
    }
  }
  if (lo == 0 && hi == KNR) {
    for (int r = 0; r < KMR; r++) {
      if (r < rows) {
        for (int v = 0; v < KNV; v++) {
          KT *cp = c + r * ldc + v * KVL;
          VSTOREU(cp, accumulate ? VADD(VLOADU(cp), s[r][v]) : s[r][v]);
        }
      }
    }
  } else {
    KT tmp[KNR];
    for (int r = 0; r < KMR; r++) {
      if (r < rows) {
        for (int v = 0; v < KNV; v++) VSTOREU(tmp + v * KVL, s[r][v]);
        KT *cr = c + r * ldc;
        for (ptrdiff_t j = lo; j < hi; j++) cr[j - lo] = accumulate ? cr[j - lo] + tmp[j] : tmp[j];
      }
    }
  }
}

// One row against up to four whole panels at once (the recurrent product with batch 1): 4 * KNV
// independent accumulators hide the FMA latency that a single 1 x NR tile would wait on. Same
// products, same order per element as `tile`.
static inline __attribute__((always_inline)) KATTR void KNAME(row4)(
    ptrdiff_t kc, ptrdiff_t kfull, const KT *restrict a, const KT *restrict b, KT *restrict c, int accumulate) {
  KV s[4][KNV];
  for (int q = 0; q < 4; q++)
    for (int v = 0; v < KNV; v++) s[q][v] = VZERO();
  for (ptrdiff_t p = 0; p < kc; p++) {
    const KV ar = VBCAST(a[p]);
    for (int q = 0; q < 4; q++)
      for (int v = 0; v < KNV; v++) s[q][v] = VFMA(s[q][v], ar, VLOADU(b + (q * kfull + p) * KNR + v * KVL));
  }
  for (int q = 0; q < 4; q++)
    for (int v = 0; v < KNV; v++) {
      KT *cp = c + q * KNR + v * KVL;
      VSTOREU(cp, accumulate ? VADD(VLOADU(cp), s[q][v]) : s[q][v]);
    }
}

#define KTAIL(R)                                                                                  \
  case R:                                                                                         \
    if (R < KMR) KNAME(tile)(R, kc, ap + i * lda, lda, bp, cp + i * ldc, ldc, lo, hi, acc);      \
    break;

static KATTR void KNAME(gemm)(ptrdiff_t m, ptrdiff_t k, ptrdiff_t j0, ptrdiff_t j1, const KT *a, ptrdiff_t lda,
                              const KT *packed, KT *c, ptrdiff_t ldc, int accumulate) {
  const ptrdiff_t mcBlock = 96;
  const ptrdiff_t pfirst = j0 / KNR, plast = (j1 - 1) / KNR;
  for (ptrdiff_t k0 = 0; k0 < k; k0 += KKC) {
    const ptrdiff_t kc = k - k0 < KKC ? k - k0 : KKC;
    const int acc = accumulate || k0 > 0;
    const KT *ap = a + k0;
    if (m == 1) {
      // batch 1: whole panels four at a time, then one by one
      ptrdiff_t jp = pfirst;
      while (jp <= plast) {
        const ptrdiff_t base = jp * KNR;
        if (jp + 3 <= plast && base >= j0 && base + 4 * KNR <= j1) {
          KNAME(row4)(kc, k, ap, packed + (jp * k + k0) * KNR, c + (base - j0), acc);
          jp += 4;
          continue;
        }
        const ptrdiff_t lo = (j0 > base ? j0 : base) - base, hi = (j1 < base + KNR ? j1 : base + KNR) - base;
        KNAME(tile)(1, kc, ap, lda, packed + (jp * k + k0) * KNR, c + (base + lo - j0), ldc, lo, hi, acc);
        jp += 1;
      }
      continue;
    }
    for (ptrdiff_t i0 = 0; i0 < m; i0 += mcBlock) {
      const ptrdiff_t end = m - i0 < mcBlock ? m : i0 + mcBlock;
      for (ptrdiff_t jp = pfirst; jp <= plast; jp++) {
        const ptrdiff_t base = jp * KNR;
        const ptrdiff_t lo = (j0 > base ? j0 : base) - base, hi = (j1 < base + KNR ? j1 : base + KNR) - base;
        const KT *bp = packed + (jp * k + k0) * KNR;
        KT *cp = c + (base + lo - j0);
        ptrdiff_t i = i0;
        for (; i + KMR <= end; i += KMR) KNAME(tile)(KMR, kc, ap + i * lda, lda, bp, cp + i * ldc, ldc, lo, hi, acc);
        switch (end - i) {
          KTAIL(1) KTAIL(2) KTAIL(3) KTAIL(4) KTAIL(5) KTAIL(6) KTAIL(7)
          KTAIL(8) KTAIL(9) KTAIL(10) KTAIL(11) KTAIL(12) KTAIL(13) KTAIL(14) KTAIL(15)
          default: break;
        }
      }
    }
  }
}

#undef KTAIL
#undef KNR
#undef KT
#undef KV
#undef KVL
#undef KNAME
#undef VZERO
#undef VLOADU
#undef VSTOREU
#undef VBCAST
#undef VFMA
#undef VADD
