// rnnconf-bench: inference time of the reference engine against PyTorch and ONNX Runtime on the
// same layers, measured in the same run.
//
//   swift run -c release rnnconf-bench [--matrix] [--json OUT.json]
//       [--cells rnn,lstm,gru,gru-rb,bilstm2] [--batch 32] [--steps 128] [--input 256] [--hidden 256]
//       [--threads 1,2] [--precision float32,float64] [--runs 7] [--warmup 2] [--no-peers]
//       [--backends native,swift] [--threading pool,dispatch] [--phases]
//
// `--matrix` is issue 10's matrix: every cell, shapes (B=1 T=128 I=H=128), (B=32 T=128 I=H=256),
// (B=64 T=256 I=H=512) (the 2-layer bidirectional LSTM at the second only), 1 and 2 threads,
// float32 and float64. Rows are grouped by (shape, precision): the engine's rows of a group, then the
// peers' (bench/peers.py with $RNNCONF_PYTHON, default `python3`) for the same group, so the load of
// the same minutes falls on both. Several backends are timed alternately (run r of each before run
// r + 1 of any), and so are several threading policies (`--threading`: each backend under each
// policy); each row also gives the process CPU time per run. `--phases` times the phases of one step
// instead (see `phaseReport`). Not a test: no assertion on time.
// Weights are random (seeded); the numbers measure speed only.
import Foundation
import RNNRef
import _TestSupport

enum BenchCell: String, CaseIterable {
  case rnn, lstm, gru, gruRB = "gru-rb", bilstm2
  var gates: Int {
    switch self {
    case .rnn: 1
    case .lstm, .bilstm2: 4
    case .gru, .gruRB: 3
    }
  }
}

enum Precision: String, CaseIterable { case float32, float64 }

struct Shape: Hashable {
  var batch: Int, steps: Int, input: Int, hidden: Int
  var text: String { "B=\(batch) T=\(steps) I=\(input) H=\(hidden)" }
}

struct Options {
  var cells: [BenchCell] = [.lstm, .gru]
  var shape = Shape(batch: 32, steps: 128, input: 256, hidden: 256)
  var matrix = false
  var runs = 7, warmup = 2
  var threads = [2]
  var precisions: [Precision] = [.float32]
  var parallelThreshold: Int? = nil
  var peers = true
  var backends = [Matmul.defaultChoice]
  var threading = [ThreadingPolicy.default]
  var phases = false
  var python = ProcessInfo.processInfo.environment["RNNCONF_PYTHON"] ?? "python3"
  var script: String? = nil
  var json: String? = nil
}

func usage(exitCode: Int32 = 64) -> Never {
  print("""
    usage: rnnconf-bench [--matrix] [--json OUT.json] [--cells rnn,lstm,gru,gru-rb,bilstm2]
                         [--batch N] [--steps T] [--input I] [--hidden H] [--threads 1,2]
                         [--precision float32,float64] [--runs R] [--warmup W]
                         [--parallel-threshold MACS] [--no-peers] [--peers-script PATH]
                         [--backends native,swift] [--threading pool,dispatch] [--phases]
    --matrix: every cell, shapes B=1 T=128 I=H=128, B=32 T=128 I=H=256, B=64 T=256 I=H=512
      (bilstm2, two bidirectional LSTM layers, at the second only), threads 1 and 2, float32 and
      float64; --runs defaults to 5 and --warmup to 1 there.
    --json: also write every row (engine and peers) and the machine (CPU, load average) as JSON.
    --parallel-threshold: products with fewer multiply-adds run on one thread (default 1048576).
    --backends: the engine's matrix backends to time, alternately (default: the process default,
      \(Matmul.environmentVariable) or native).
    --threading: the backends' threading policies to time, alternately like the backends (default:
      \(ThreadingPolicy.environmentVariable) or pool); pool = persistent workers, dispatch = one
      DispatchQueue.concurrentPerform per job.
    --phases: instead of the table, per cell and thread count the time of each phase of the run
      (input projection blocks, recurrent products, cell math) on one thread, from a timed replica of
      the engine's step loop.
    Peers (PyTorch, ONNX Runtime) run through bench/peers.py with $RNNCONF_PYTHON or python3.
    """)
  exit(exitCode)
}

func parse() -> Options {
  var o = Options()
  var args = CommandLine.arguments.dropFirst()
  var runsGiven = false, warmupGiven = false
  func int(_ flag: String) -> Int {
    guard let v = args.popFirst(), let n = Int(v), n > 0 else {
      print("rnnconf-bench: \(flag) needs a positive integer"); usage()
    }
    return n
  }
  func list(_ flag: String) -> [String] {
    let v = (args.popFirst() ?? "").split(separator: ",").map { String($0).lowercased() }
    if v.isEmpty { print("rnnconf-bench: \(flag) needs a comma-separated list"); usage() }
    return v
  }
  while let a = args.popFirst() {
    switch a {
    case "--matrix": o.matrix = true
    case "--json": o.json = args.popFirst() ?? { print("rnnconf-bench: --json needs a path"); usage() }()
    case "--cells":
      let names = list(a)
      o.cells = names.compactMap(BenchCell.init(rawValue:))
      if o.cells.count != names.count {
        print("rnnconf-bench: --cells takes \(BenchCell.allCases.map(\.rawValue).joined(separator: ", "))"); usage()
      }
    case "--batch": o.shape.batch = int(a)
    case "--steps": o.shape.steps = int(a)
    case "--input": o.shape.input = int(a)
    case "--hidden": o.shape.hidden = int(a)
    case "--runs": o.runs = int(a); runsGiven = true
    case "--warmup": o.warmup = int(a); warmupGiven = true
    case "--threads":
      let v = list(a).compactMap { Int($0) }.filter { $0 > 0 }
      if v.isEmpty { print("rnnconf-bench: --threads takes positive integers"); usage() }
      o.threads = v
    case "--precision":
      let names = list(a)
      o.precisions = names.compactMap(Precision.init(rawValue:))
      if o.precisions.count != names.count { print("rnnconf-bench: --precision takes float32, float64"); usage() }
    case "--parallel-threshold": o.parallelThreshold = int(a)
    case "--no-peers": o.peers = false
    case "--backends":
      let names = list(a)
      let choices = names.compactMap(Matmul.Choice.init(rawValue:))
      if choices.count != names.count {
        print("rnnconf-bench: --backends takes \(Matmul.Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        usage()
      }
      o.backends = choices
    case "--threading":
      let names = list(a)
      let policies = names.compactMap(ThreadingPolicy.init(rawValue:))
      if policies.count != names.count {
        print("rnnconf-bench: --threading takes \(ThreadingPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        usage()
      }
      o.threading = policies
    case "--phases": o.phases = true
    case "--peers-script": o.script = args.popFirst()
    case "-h", "--help": usage(exitCode: 0)
    default: print("rnnconf-bench: unknown argument \(a)"); usage()
    }
  }
  if o.matrix {
    o.cells = BenchCell.allCases
    o.threads = [1, 2]
    o.precisions = [.float32, .float64]
    if !runsGiven { o.runs = 5 }
    if !warmupGiven { o.warmup = 1 }
  }
  return o
}

/// The row groups: (shape, precision, cells).
func groups(_ o: Options) -> [(Shape, Precision, [BenchCell])] {
  let shapes = o.matrix
    ? [Shape(batch: 1, steps: 128, input: 128, hidden: 128), Shape(batch: 32, steps: 128, input: 256, hidden: 256),
       Shape(batch: 64, steps: 256, input: 512, hidden: 512)]
    : [o.shape]
  var out: [(Shape, Precision, [BenchCell])] = []
  for shape in shapes {
    // the 2-layer bidirectional LSTM is the matrix's row at B=32 T=128 H=256 only
    let cells = o.matrix && shape != shapes[1] ? o.cells.filter { $0 != .bilstm2 } : o.cells
    for p in o.precisions { out.append((shape, p, cells)) }
  }
  return out
}

func oneCell<S: RNNScalar>(_ kind: BenchCell, input i: Int, hidden h: Int, rng: inout SeededRNG) -> Cell<S> {
  let g = kind.gates, s = 1 / Double(h).squareRoot()
  let k = Tensor<S>.random([i, g * h], scale: s, rng: &rng), r = Tensor<S>.random([h, g * h], scale: s, rng: &rng)
  let bi = Tensor<S>.random([g * h], scale: s, rng: &rng), bh = Tensor<S>.random([g * h], scale: s, rng: &rng)
  switch kind {
  case .rnn:
    return .simple(SimpleRNNCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi,
                                 recurrentBias: bh))
  case .lstm, .bilstm2:
    return .lstm(LSTMCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi, recurrentBias: bh))
  case .gru, .gruRB:
    return .gru(GRUCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi, recurrentBias: bh,
                        resetAfter: kind == .gru))
  }
}

func makeNetwork<S: RNNScalar>(_ kind: BenchCell, _ s: Shape, rng: inout SeededRNG) -> Network<S> {
  if kind == .bilstm2 {
    let l0 = RecurrentLayer<S>(direction: .bidirectional, cells: [
      oneCell(kind, input: s.input, hidden: s.hidden, rng: &rng), oneCell(kind, input: s.input, hidden: s.hidden, rng: &rng)])
    let l1 = RecurrentLayer<S>(direction: .bidirectional, cells: [
      oneCell(kind, input: 2 * s.hidden, hidden: s.hidden, rng: &rng),
      oneCell(kind, input: 2 * s.hidden, hidden: s.hidden, rng: &rng)])
    return Network(layers: [l0, l1])
  }
  return Network(layers: [RecurrentLayer(direction: .forward, cells: [oneCell(kind, input: s.input, hidden: s.hidden,
                                                                              rng: &rng)])])
}

/// Floating-point operations of the products (2 per multiply-add): input projections and recurrent products.
func flops(_ kind: BenchCell, _ s: Shape) -> Double {
  let tb = Double(s.steps * s.batch), gh = Double(kind.gates * s.hidden)
  if kind == .bilstm2 {
    return 2 * tb * gh * (2 * Double(s.input + s.hidden) + 2 * Double(2 * s.hidden + s.hidden))
  }
  return 2 * tb * gh * Double(s.input + s.hidden)
}

func milliseconds(_ d: Duration) -> Double {
  let c = d.components
  return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
}

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// One engine configuration timed: a backend kind under a threading policy.
struct Variant: Hashable {
  var choice: Matmul.Choice, threading: ThreadingPolicy
  /// "native", or "native/pool" when several policies are timed.
  func label(_ o: Options) -> String { o.threading.count > 1 ? "\(choice.rawValue)/\(threading.rawValue)" : choice.rawValue }
}

func variants(_ o: Options) -> [Variant] {
  o.backends.flatMap { c in o.threading.map { Variant(choice: c, threading: $0) } }
}

/// The engine's backend of `variant` with `threads` workers and the benchmark's threshold.
func makeBackend(_ variant: Variant, threads: Int, _ o: Options) -> any MatmulBackend {
  switch variant.choice {
  case .swift:
    var b = SwiftMatmul(threads: threads, threading: variant.threading)
    if let t = o.parallelThreshold { b.parallelThreshold = t }
    return b
  case .native:
    // the process default kernel is always supported
    var b = try! NativeMatmul(threads: threads, threading: variant.threading)
    if let t = o.parallelThreshold { b.parallelThreshold = t }
    return b
  }
}

/// Process CPU time (all threads) in ms.
func processCPUms() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
  return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

struct EngineTiming { var median: Double; var cpuMedian: Double; var runs: [Double] }

/// Median wall and CPU ms of the engine on one network, per backend, the backends' runs alternated.
func timeEngine<S: RNNScalar>(_ net: Network<S>, input x: Tensor<S>, backends: [(Variant, any MatmulBackend)],
                              _ o: Options) throws -> [Variant: EngineTiming] {
  let clock = ContinuousClock()
  var sink = 0.0
  for _ in 0..<o.warmup {
    for (_, b) in backends {
      sink += Double(try Engine.run(net, input: x, backend: b).layers.last!.merged.scalars[0])
    }
  }
  var wall: [Variant: [Double]] = [:], cpu: [Variant: [Double]] = [:]
  for r in 0..<o.runs {
    for (choice, b) in (r % 2 == 0 ? backends : backends.reversed()) {
      var out: NetworkOutput<S>?
      let c0 = processCPUms()
      let d = try clock.measure { out = try Engine.run(net, input: x, backend: b) }
      cpu[choice, default: []].append(processCPUms() - c0)
      sink += Double(out!.layers.last!.merged.scalars[0])
      wall[choice, default: []].append(milliseconds(d))
    }
  }
  if sink.isNaN { print("(NaN in output)") }
  var result: [Variant: EngineTiming] = [:]
  for (choice, _) in backends {
    result[choice] = EngineTiming(median: median(wall[choice]!), cpuMedian: median(cpu[choice]!), runs: wall[choice]!)
  }
  return result
}

func timeEngine(_ kind: BenchCell, _ s: Shape, _ p: Precision, threads: Int, _ o: Options) throws
  -> [Variant: EngineTiming] {
  var rng = SeededRNG(seed: 42)
  let backends = variants(o).map { ($0, makeBackend($0, threads: threads, o)) }
  switch p {
  case .float32:
    let net: Network<Float> = makeNetwork(kind, s, rng: &rng)
    let x = Tensor<Float>.random([s.steps, s.batch, s.input], scale: 1, rng: &rng)
    return try timeEngine(net, input: x, backends: backends, o)
  case .float64:
    let net: Network<Double> = makeNetwork(kind, s, rng: &rng)
    let x = Tensor<Double>.random([s.steps, s.batch, s.input], scale: 1, rng: &rng)
    return try timeEngine(net, input: x, backends: backends, o)
  }
}

struct PeerResult {
  var status: String, ms: Double?, cpuMs: Double?, version: String?, error: String?, runs: [Double]
}

func findScript(_ o: Options) -> String? {
  if let s = o.script { return s }
  let candidates = [
    FileManager.default.currentDirectoryPath + "/bench/peers.py",
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("bench/peers.py").path,
  ]
  return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

/// "peer/cell/threads/precision"
func peerKey(_ peer: String, _ cell: BenchCell, _ threads: Int, _ p: Precision) -> String {
  "\(peer)/\(cell.rawValue)/\(threads)/\(p.rawValue)"
}

/// Runs bench/peers.py for one group.
func runPeers(_ o: Options, _ s: Shape, _ p: Precision, _ cells: [BenchCell]) -> (results: [String: PeerResult], problem: String?) {
  guard let script = findScript(o) else { return ([:], "bench/peers.py not found (run from the repository root or pass --peers-script)") }
  let proc = Process()
  proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  proc.arguments = [o.python, script, "--cells", cells.map(\.rawValue).joined(separator: ","),
                    "--batch", "\(s.batch)", "--steps", "\(s.steps)", "--input", "\(s.input)", "--hidden", "\(s.hidden)",
                    "--runs", "\(o.runs)", "--warmup", "\(o.warmup)",
                    "--threads", o.threads.map(String.init).joined(separator: ","), "--precision", p.rawValue]
  let out = Pipe(), err = Pipe()
  proc.standardOutput = out
  proc.standardError = err
  do { try proc.run() } catch { return ([:], "cannot start \(o.python): \(error)") }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  proc.waitUntilExit()
  var results: [String: PeerResult] = [:]
  for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let peer = obj["peer"] as? String, let cell = (obj["cell"] as? String).flatMap(BenchCell.init(rawValue:)),
          let threads = obj["threads"] as? Int,
          let precision = (obj["precision"] as? String).flatMap(Precision.init(rawValue:)) else { continue }
    results[peerKey(peer, cell, threads, precision)] = PeerResult(
      status: obj["status"] as? String ?? "?", ms: obj["median_ms"] as? Double, cpuMs: obj["cpu_median_ms"] as? Double,
      version: obj["version"] as? String, error: obj["error"] as? String, runs: obj["runs_ms"] as? [Double] ?? [])
  }
  if proc.terminationStatus != 0 || results.isEmpty {
    let tail = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
    return (results, "\(o.python) \(script) exited with \(proc.terminationStatus): \(tail)")
  }
  return (results, nil)
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

func loadAverage() -> [Double] {
  guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
  return s.split(separator: " ").prefix(3).compactMap { Double($0) }
}

func cpuModel() -> String {
  guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
  let name = s.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last
  let flags = s.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
  let simd = ["avx2", "fma", "avx512f"].filter { flags.contains($0) }.joined(separator: " ")
  return (name.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown") + " (\(simd.isEmpty ? "no AVX" : simd))"
}

/// Writes the JSON document (after every group, so a long matrix stopped midway keeps what it measured).
func writeJSON(_ path: String, rows: [[String: Any]], versions: [String: String], load0: [Double], _ o: Options) {
  var doc: [String: Any] = [
    "date": ISO8601DateFormatter().string(from: Date()), "cpu": cpuModel(),
    "cores": ProcessInfo.processInfo.activeProcessorCount, "load_average_before": load0,
    "load_average_after": loadAverage(), "native_kernel": NativeKernel.default.rawValue,
    "activation_kernel": ActivationKernel.default.rawValue, "runs": o.runs, "warmup": o.warmup,
    "peer_versions": versions, "rows": rows,
  ]
  // SwiftMatmul times its micro-kernels on first use (~0.1 s): only when it is one of the backends
  if o.backends.contains(.swift) { doc["swift_kernel"] = SwiftMatmul.kernelShape }
  do {
    let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
    try data.write(to: URL(fileURLWithPath: path))
  } catch {
    print("rnnconf-bench: cannot write \(path): \(error)"); exit(1)
  }
}

/// A and C handed to the replayed products' workers (disjoint columns of C).
struct BenchPointers: @unchecked Sendable {
  let a: UnsafePointer<Float>
  let c: UnsafeMutablePointer<Float>
}

/// `--phases`: where one forward layer's time goes, float32, per cell and thread count. The engine's
/// products replayed through the public backend API on the same weights and shapes: the input
/// projection in the engine's blocks of steps (`Engine.projectionBlock`'s rule: about 256 KiB of
/// pre-activations per block, at least 64 rows), and T recurrent products `(B, H) x (H, G*H)` (the
/// reset-before GRU: `(B, H) x (H, 2H)` and `(B, H) x (H, H)`) split over the workers as the fused step
/// splits them (hidden units; H a multiple of the column granularity); the whole `Engine.run` timed
/// alternately with them. "rest" = run - projection - recurrent: the gate loop (bias, activations,
/// state update), the step loop's copies, and what the fused step costs beyond its products (data
/// moving between cores). Medians of `--runs` rounds.
func phaseReport(_ o: Options) {
  let s = o.shape
  print("rnnconf-bench --phases: \(s.text) float32, median of \(o.runs) rounds after \(o.warmup) warm-up; per-step us")
  print([pad("cell", 8), lpad("thr", 3), pad("variant", 15), lpad("run ms", 9), lpad("proj ms", 9), lpad("rec ms", 9),
         lpad("rest ms", 9), lpad("proj/step", 10), lpad("rec/step", 9), lpad("rest/step", 10)].joined(separator: " "))
  let clock = ContinuousClock()
  for threads in o.threads {
    for cell in o.cells where cell != .bilstm2 {
      for variant in variants(o) {
        let backend = makeBackend(variant, threads: threads, o)
        var rng = SeededRNG(seed: 42)
        let net: Network<Float> = makeNetwork(cell, s, rng: &rng)
        let x = Tensor<Float>.random([s.steps, s.batch, s.input], scale: 1, rng: &rng)
        guard case .some(let c) = net.layers.first?.cells.first else { continue }
        let (kernel, recurrent): (Tensor<Float>, Tensor<Float>) = switch c {
        case .simple(let c): (c.kernel, c.recurrentKernel)
        case .lstm(let c): (c.kernel, c.recurrentKernel)
        case .gru(let c): (c.kernel, c.recurrentKernel)
        }
        let H = s.hidden, W = cell.gates * H, N = s.batch, T = s.steps, I = s.input
        let pk = backend.prepare(kernel)
        let recs: [PreparedMatrix<Float>] = cell == .gruRB
          ? { let b = recurrent.split(3, axis: 1)
              return [backend.prepare(Tensor.concatenate([b[0], b[1]], axis: 1)), backend.prepare(b[2])] }()
          : [backend.prepare(recurrent)]
        // the engine's rule (Engine.projectionBlock)
        let bySize = max(1, (256 << 10) / max(1, N * W * 4)), byRows = (64 + N - 1) / max(1, N)
        let block = max(1, min(T, max(bySize, byRows)))
        var pre = [Float](repeating: 0, count: block * N * W), ws = [Float](repeating: 0, count: N * W)
        let h = Tensor<Float>.random([N, H], scale: 0.5, rng: &rng).scalars
        func projection() {
          x.scalars.withUnsafeBufferPointer { xp in
            pre.withUnsafeMutableBufferPointer { pp in
              var k = 0
              while k < T {
                let steps = min(block, T - k)
                backend.multiply(m: steps * N, a: xp.baseAddress! + k * N * I, lda: I, b: pk, c: pp.baseAddress!,
                                 ldc: W, accumulate: false)
                k += steps
              }
            }
          }
        }
        // split as the engine's fused step splits them: hidden units over the workers, each worker its
        // units' columns of every gate block (one job per step; the reset-before GRU two)
        func recurrentProducts() {
          h.withUnsafeBufferPointer { hp in
            ws.withUnsafeMutableBufferPointer { wp in
              let ptrs = BenchPointers(a: hp.baseAddress!, c: wp.baseAddress!)
              for _ in 0..<T {
                for r in recs {
                  let g = r.columnGranularity, blocks = r.cols / H
                  backend.forEachSlice(of: H / g, multiplyAdds: N * H * r.cols) { slice in
                    for q in 0..<blocks {
                      backend.multiply(m: N, a: ptrs.a, lda: H, b: r,
                                       columns: (q * H + slice.lowerBound * g)..<(q * H + slice.upperBound * g),
                                       c: ptrs.c, ldc: r.cols, accumulate: false)
                    }
                  }
                }
              }
            }
          }
        }
        var run: [Double] = [], proj: [Double] = [], rec: [Double] = []
        var sink: Float = 0
        for round in 0..<(o.warmup + o.runs) {
          var out: NetworkOutput<Float>?
          let dRun = clock.measure { out = try? Engine.run(net, input: x, backend: backend) }
          sink += out?.layers.last?.merged.scalars.first ?? 0
          let dProj = clock.measure { projection() }
          let dRec = clock.measure { recurrentProducts() }
          sink += pre[0] + ws[0]
          if round >= o.warmup {
            run.append(milliseconds(dRun)); proj.append(milliseconds(dProj)); rec.append(milliseconds(dRec))
          }
        }
        if sink.isNaN { print("(NaN)") }
        let mr = median(run), mp = median(proj), mq = median(rec), rest = mr - mp - mq
        let us = { (v: Double) in fmt(v * 1000 / Double(T), 2) }
        print([pad(cell.rawValue, 8), lpad("\(threads)", 3), pad(variant.label(o), 15), lpad(fmt(mr, 3), 9),
               lpad(fmt(mp, 3), 9), lpad(fmt(mq, 3), 9), lpad(fmt(rest, 3), 9), lpad(us(mp), 10), lpad(us(mq), 9),
               lpad(us(rest), 10)].joined(separator: " "))
        fflush(nil)
      }
    }
  }
  print("CPU: \(cpuModel()); native kernel \(NativeKernel.default); load average \(loadAverage().map { fmt($0, 2) }.joined(separator: " "))")
}

func runBench() {
  let o = parse()
  if o.phases { phaseReport(o); return }
  let load0 = loadAverage()
  print("rnnconf-bench: inference of one layer (bilstm2: two bidirectional layers), time-major input; median of "
        + "\(o.runs) runs after \(o.warmup) warm-up; engine backends \(o.backends.map(\.rawValue).joined(separator: ", "))"
        + "; threading \(o.threading.map(\.rawValue).joined(separator: ", "))")
  let widths = [22, 8, 3, o.threading.count > 1 ? 15 : 8, 11, 10, 10, 10, 9, 8]
  print([pad("shape", widths[0]), pad("cell", widths[1]), lpad("thr", widths[2]), pad("backend", widths[3]),
         lpad("rnnconf ms", widths[4]), lpad("CPU ms", widths[5]), lpad("torch ms", widths[6]), lpad("ORT ms", widths[7]),
         lpad("peer/us", widths[8]), lpad("GFLOP/s", widths[9])].joined(separator: " ") + "  precision")
  var jsonRows: [[String: Any]] = []
  var versions: [String: String] = [:]
  for (shape, precision, cells) in groups(o) {
    var engine: [String: [Variant: EngineTiming]] = [:]
    for threads in o.threads {
      for cell in cells {
        do {
          engine["\(cell.rawValue)/\(threads)"] = try timeEngine(cell, shape, precision, threads: threads, o)
        } catch {
          print("rnnconf-bench: engine failed on \(cell.rawValue) \(shape.text): \(error)"); exit(1)
        }
      }
    }
    var peers: [String: PeerResult] = [:]
    if o.peers {
      let (r, problem) = runPeers(o, shape, precision, cells)
      peers = r
      if let problem { print("peers: \(problem)") }
      for (k, v) in r { if let ver = v.version { versions[String(k.split(separator: "/")[0])] = ver } }
    }
    for threads in o.threads {
      for cell in cells {
        func peerText(_ peer: String) -> String {
          guard o.peers else { return "skipped" }
          guard let r = peers[peerKey(peer, cell, threads, precision)] else { return "-" }
          if let ms = r.ms { return fmt(ms, 2) }
          return r.status == "not installed" ? "n/i" : r.status == "unsupported" ? "unsup" : r.status
        }
        let peerMs = ["torch", "onnxruntime"].compactMap { peers[peerKey($0, cell, threads, precision)]?.ms }
        for variant in variants(o) {
          let t = engine["\(cell.rawValue)/\(threads)"]![variant]!
          let best = peerMs.min()
          print([pad(shape.text, widths[0]), pad(cell.rawValue, widths[1]), lpad("\(threads)", widths[2]),
                 pad(variant.label(o), widths[3]), lpad(fmt(t.median, 2), widths[4]), lpad(fmt(t.cpuMedian, 2), widths[5]),
                 lpad(peerText("torch"), widths[6]), lpad(peerText("onnxruntime"), widths[7]),
                 lpad(best.map { fmt($0 / t.median, 2) + "x" } ?? "-", widths[8]),
                 lpad(fmt(flops(cell, shape) / t.median / 1e6), widths[9])].joined(separator: " ")
                + "  \(precision.rawValue)")
          var row: [String: Any] = [
            "cell": cell.rawValue, "batch": shape.batch, "steps": shape.steps, "input": shape.input,
            "hidden": shape.hidden, "threads": threads, "precision": precision.rawValue, "backend": variant.choice.rawValue,
            "threading": variant.threading.rawValue,
            "median_ms": t.median, "cpu_median_ms": t.cpuMedian, "runs_ms": t.runs,
            "gflops": flops(cell, shape) / t.median / 1e6,
          ]
          var peerRows: [String: Any] = [:]
          for peer in ["torch", "onnxruntime"] {
            guard let r = peers[peerKey(peer, cell, threads, precision)] else { continue }
            var pr: [String: Any] = ["status": r.status]
            if let ms = r.ms { pr["median_ms"] = ms; pr["ratio_peer_over_rnnconf"] = ms / t.median }
            if let c = r.cpuMs { pr["cpu_median_ms"] = c }
            if let e = r.error { pr["error"] = e }
            if !r.runs.isEmpty { pr["runs_ms"] = r.runs }
            peerRows[peer] = pr
          }
          row["peers"] = peerRows
          jsonRows.append(row)
        }
      }
    }
    if let path = o.json { writeJSON(path, rows: jsonRows, versions: versions, load0: load0, o) }
    fflush(nil)  // each group's rows as they are measured, also into a file or pipe
  }
  let load1 = loadAverage()
  if !versions.isEmpty {
    print("peers: " + versions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
          + "; peer/us = fastest peer ms / rnnconf ms (> 1: rnnconf is faster); n/i = not installed, "
          + "unsup = the peer has no such layer or precision")
  }
  print("rnnconf backends: native = C kernel \(NativeKernel.default) (detected \(NativeKernel.detected))"
        + (o.backends.contains(.swift) ? "; swift = SwiftMatmul kernel \(SwiftMatmul.kernelShape)" : "")
        + "; sigmoid/tanh: \(ActivationKernel.default) (\(ActivationKernel.environmentVariable))")
  print("CPU: \(cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) cores; load average (1, 5, 15 min) "
        + "before \(load0.map { fmt($0, 2) }.joined(separator: " ")), after \(load1.map { fmt($0, 2) }.joined(separator: " "))")
  if let path = o.json {
    writeJSON(path, rows: jsonRows, versions: versions, load0: load0, o)
    print("wrote \(path)")
  }
}

runBench()
