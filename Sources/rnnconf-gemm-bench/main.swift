// rnnconf-gemm-bench: GFLOP/s of the engine's matrix products, C = A (M, K) x B (K, N), in one run:
// the pure-Swift `SwiftMatmul`, the C micro-kernels (`NativeMatmul`, every kernel this CPU runs)
// and, when libopenblas.so.0 can be loaded, OpenBLAS' cblas_sgemm/dgemm (loaded at run time: the
// package does not depend on it), measured in child processes with and without the
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE variables. Every result is checked against Double dot
// products on sampled entries. B is prepared once outside the timing for our backends (the engine
// packs its weights once); OpenBLAS packs B inside every call, as its API requires.
//
//   swift run -c release rnnconf-gemm-bench [--runs 9] [--threads 1,2] [--no-openblas]
import Foundation
import RNNRef

#if canImport(Glibc)
import Glibc
#endif

let shapes = [(m: 4096, k: 256, n: 1024), (m: 32, k: 256, n: 1024), (m: 1, k: 128, n: 512)]

struct Options {
  var runs = 9
  var threads = [1, 2]
  var openblas = true
  var child: String? = nil  // internal: measure OpenBLAS only, under this label
}

func parseOptions() -> Options {
  var o = Options()
  var args = CommandLine.arguments.dropFirst()
  while let a = args.popFirst() {
    switch a {
    case "--runs": o.runs = args.popFirst().flatMap { Int($0) }.map { max(1, $0) } ?? o.runs
    case "--threads": o.threads = (args.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
    case "--no-openblas": o.openblas = false
    case "--openblas-child": o.child = args.popFirst() ?? "openblas"
    default:
      print("usage: rnnconf-gemm-bench [--runs R] [--threads 1,2] [--no-openblas]")
      exit(64)
    }
  }
  if o.threads.isEmpty { o.threads = [1, 2] }
  return o
}

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
  var ts = timespec()
  clock_gettime(clock, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

struct Rates { var best: Double, median: Double, cpu: Double }

/// Best and median GFLOP/s over `runs` runs of `reps` products each (wall clock), and the best by
/// this thread's CPU time (meaningful with one thread: time other processes take from us is not counted).
func measure(m: Int, k: Int, n: Int, runs: Int, _ body: () -> Void) -> Rates {
  let flops = 2.0 * Double(m * k * n)
  let reps = max(1, Int(4e7 / flops))
  body()  // warm-up: first-touch of C, thread pools, lazy kernel choice
  var rates = [Double](), cpu = 0.0
  for _ in 0..<runs {
    let t0 = now(), c0 = now(CLOCK_THREAD_CPUTIME_ID)
    for _ in 0..<reps { body() }
    let c1 = now(CLOCK_THREAD_CPUTIME_ID), t1 = now()
    rates.append(flops * Double(reps) / (t1 - t0) * 1e-9)
    cpu = max(cpu, flops * Double(reps) / (c1 - c0) * 1e-9)
  }
  rates.sort()
  return Rates(best: rates.last!, median: rates[rates.count / 2], cpu: cpu)
}

/// Largest |C - exact| / sum|a||b| over 97 sampled entries (exact: Double dot products).
func sampledError<S: RNNScalar>(m: Int, k: Int, n: Int, a: [S], b: [S], c: [S]) -> Double {
  var worst = 0.0
  for s in 0..<97 {
    let i = (s * 7919) % m, j = (s * 104_729) % n
    var exact = 0.0, mag = 0.0
    for p in 0..<k {
      let t = Double(a[i * k + p]) * Double(b[p * n + j])
      exact += t; mag += abs(t)
    }
    worst = max(worst, abs(Double(c[i * n + j]) - exact) / max(mag, .leastNormalMagnitude))
  }
  return worst
}

func operands<S: RNNScalar>(_: S.Type, m: Int, k: Int, n: Int) -> ([S], [S]) {
  var state: UInt64 = 0x2545F4914F6CDD1D
  func next() -> S {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return S(Double(state >> 11) / Double(1 << 53) * 2 - 1)
  }
  return ((0..<(m * k)).map { _ in next() }, (0..<(k * n)).map { _ in next() })
}

func row(_ label: String, _ type: String, _ shape: (m: Int, k: Int, n: Int), _ threads: Int,
         _ r: Rates, _ err: Double) {
  let s = "\(shape.m)x\(shape.k)x\(shape.n)"
  let cpu = threads == 1 ? String(format: "%.1f", r.cpu) : "-"
  print(String(format: "| %@ | %@ | %@ | %d | %.1f | %.1f | %@ | %.1e |", label, type, s, threads, r.best, r.median,
               cpu, err))
}

func benchBackend<S: RNNScalar>(_ label: String, _: S.Type, _ backend: any MatmulBackend, threads: Int, runs: Int) {
  for shape in shapes {
    let (m, k, n) = shape
    let (a, b) = operands(S.self, m: m, k: k, n: n)
    let prepared = backend.prepare(Tensor(uncheckedShape: [k, n], scalars: b))
    var c = [S](repeating: 0, count: m * n)
    let r = a.withUnsafeBufferPointer { ap in
      c.withUnsafeMutableBufferPointer { cp in
        measure(m: m, k: k, n: n, runs: runs) {
          backend.multiply(m: m, a: ap.baseAddress!, lda: k, b: prepared, c: cp.baseAddress!, ldc: n, accumulate: false)
        }
      }
    }
    row(label, S.self == Float.self ? "f32" : "f64", shape, threads, r, sampledError(m: m, k: k, n: n, a: a, b: b, c: c))
  }
}

// MARK: - OpenBLAS, loaded at run time

typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>, Int32,
                                  UnsafePointer<Float>, Int32, Float, UnsafeMutablePointer<Float>, Int32) -> Void
typealias DGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Double, UnsafePointer<Double>, Int32,
                                  UnsafePointer<Double>, Int32, Double, UnsafeMutablePointer<Double>, Int32) -> Void

func benchOpenBLAS(label: String, threadCounts: [Int], runs: Int) {
  guard let lib = dlopen("libopenblas.so.0", RTLD_NOW),
        let sgemm = dlsym(lib, "cblas_sgemm"), let dgemm = dlsym(lib, "cblas_dgemm"),
        let setThreads = dlsym(lib, "openblas_set_num_threads")
  else {
    print("| \(label) | - | - | - | not installed (libopenblas.so.0) | | | |")
    return
  }
  let sg = unsafeBitCast(sgemm, to: SGEMM.self), dg = unsafeBitCast(dgemm, to: DGEMM.self)
  let set = unsafeBitCast(setThreads, to: (@convention(c) (Int32) -> Void).self)
  var core = "?"
  if let f = dlsym(lib, "openblas_get_corename") {
    core = String(cString: unsafeBitCast(f, to: (@convention(c) () -> UnsafePointer<CChar>).self)())
  }
  let name = "\(label) (core \(core))"
  let rowMajor: Int32 = 101, noTrans: Int32 = 111
  for threads in threadCounts {
    set(Int32(threads))
    for shape in shapes {
      let (m, k, n) = shape
      let (a, b) = operands(Float.self, m: m, k: k, n: n)
      var c = [Float](repeating: 0, count: m * n)
      let r = measure(m: m, k: k, n: n, runs: runs) {
        sg(rowMajor, noTrans, noTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
      }
      row(name, "f32", shape, threads, r, sampledError(m: m, k: k, n: n, a: a, b: b, c: c))
    }
    for shape in shapes {
      let (m, k, n) = shape
      let (a, b) = operands(Double.self, m: m, k: k, n: n)
      var c = [Double](repeating: 0, count: m * n)
      let r = measure(m: m, k: k, n: n, runs: runs) {
        dg(rowMajor, noTrans, noTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
      }
      row(name, "f64", shape, threads, r, sampledError(m: m, k: k, n: n, a: a, b: b, c: c))
    }
  }
}

/// Runs this executable again for OpenBLAS with `environment` (the variables OpenBLAS reads at load time).
func openBLASChild(label: String, environment: [String: String], options: Options) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
  if !FileManager.default.isExecutableFile(atPath: p.executableURL!.path),
     let found = Bundle.main.executableURL { p.executableURL = found }
  p.arguments = ["--openblas-child", label, "--runs", "\(options.runs)",
                 "--threads", options.threads.map(String.init).joined(separator: ",")]
  p.environment = environment
  fflush(nil)  // our rows first: the child writes to the same stdout
  do {
    try p.run()
    p.waitUntilExit()
  } catch {
    print("| \(label) | - | - | - | could not start: \(error) | | | |")
  }
}

func loadAverage() -> String {
  (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
    .map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "unknown"
}

// MARK: - Main

let options = parseOptions()

if let label = options.child {
  benchOpenBLAS(label: label, threadCounts: options.threads, runs: options.runs)
  fflush(nil)
  exit(0)
}

let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last
  .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
let simd = Set((cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " ")
  .map(String.init).filter { $0 == "avx2" || $0 == "fma" || $0.hasPrefix("avx512") }).sorted()
print("CPU: \(model), \(ProcessInfo.processInfo.activeProcessorCount) processors, SIMD flags: \(simd.joined(separator: " "))")
print("native kernels supported: \(NativeKernel.supported.map(\.rawValue).joined(separator: ", ")); "
      + "default: \(NativeKernel.default); SwiftMatmul kernel: \(SwiftMatmul.kernelShape)")
print("load average before: \(loadAverage())")
print("runs: \(options.runs) (best and median GFLOP/s by wall clock; with 1 thread also the best by thread CPU time);"
      + " error: max |C - exact| / sum|a||b| on 97 entries\n")
print("| backend | type | M x K x N | threads | best GFLOP/s | median GFLOP/s | best by CPU time | rel. error |")
print("|---|---|---|---|---|---|---|---|")

for threads in options.threads {
  let swift = SwiftMatmul(threads: threads)
  benchBackend("SwiftMatmul (\(SwiftMatmul.kernelShape))", Float.self, swift, threads: threads, runs: options.runs)
  benchBackend("SwiftMatmul", Double.self, swift, threads: threads, runs: options.runs)
  for kernel in NativeKernel.supported {
    let native = try NativeMatmul(kernel: kernel, threads: threads)
    benchBackend("native \(kernel)", Float.self, native, threads: threads, runs: options.runs)
    benchBackend("native \(kernel)", Double.self, native, threads: threads, runs: options.runs)
  }
}

if options.openblas {
  let env = ProcessInfo.processInfo.environment
  let vars = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]
  let set = vars.filter { env[$0] != nil }
  if set.isEmpty {
    openBLASChild(label: "OpenBLAS, variables unset", environment: env, options: options)
    var haswell = env
    haswell["OPENBLAS_CORETYPE"] = "Haswell"
    openBLASChild(label: "OpenBLAS, OPENBLAS_CORETYPE=Haswell", environment: haswell, options: options)
  } else {
    let given = set.map { "\($0)=\(env[$0]!)" }.joined(separator: " ")
    openBLASChild(label: "OpenBLAS, \(given)", environment: env, options: options)
    var unset = env
    for v in vars { unset[v] = nil }
    openBLASChild(label: "OpenBLAS, variables unset", environment: unset, options: options)
  }
}
print("\nload average after: \(loadAverage())")
