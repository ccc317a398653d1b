// rnnconf-bench: float32 inference time of the reference engine against
// PyTorch and ONNX Runtime on the same shapes, measured in the same run.
//
//   swift run -c release rnnconf-bench [--cells lstm,gru] [--batch 32] [--steps 128]
//       [--input 256] [--hidden 256] [--runs 7] [--warmup 2] [--threads 2] [--no-peers]
//       [--backends native,swift]
//
// Several backends are timed alternately (run r of each before run r + 1 of any), so load from
// other processes falls on all of them alike; each row also gives the process CPU time per run.
//
// Peers come from bench/peers.py run with $RNNCONF_PYTHON (default `python3`);
// a peer whose import fails is reported as "not installed". Not a test: no
// assertion on time. Weights are random (seeded); the numbers measure speed only.
import Foundation
import RNNRef
import _TestSupport

struct Options {
  var cells = ["lstm", "gru"]
  var batch = 32, steps = 128, input = 256, hidden = 256
  var runs = 7, warmup = 2
  var threads = 2
  var parallelThreshold: Int? = nil
  var peers = true
  var backends = [Matmul.defaultChoice]
  var python = ProcessInfo.processInfo.environment["RNNCONF_PYTHON"] ?? "python3"
  var script: String? = nil
}

func usage(exitCode: Int32 = 64) -> Never {
  print("""
    usage: rnnconf-bench [--cells lstm,gru] [--batch N] [--steps T] [--input I] [--hidden H]
                         [--runs R] [--warmup W] [--threads K] [--parallel-threshold MACS]
                         [--no-peers] [--peers-script PATH] [--backends native,swift]
    --parallel-threshold: products with fewer multiply-adds run on one thread (default 1048576).
    --backends: the engine's matrix backends to time, alternately (default: the process default,
      \(Matmul.environmentVariable) or native).
    Peers (PyTorch, ONNX Runtime) run through bench/peers.py with $RNNCONF_PYTHON or python3.
    """)
  exit(exitCode)
}

func parse() -> Options {
  var o = Options()
  var args = CommandLine.arguments.dropFirst()
  func int(_ flag: String) -> Int {
    guard let v = args.popFirst(), let n = Int(v), n > 0 else {
      print("rnnconf-bench: \(flag) needs a positive integer"); usage()
    }
    return n
  }
  while let a = args.popFirst() {
    switch a {
    case "--cells":
      o.cells = (args.popFirst() ?? "").split(separator: ",").map { String($0).lowercased() }
      if o.cells.isEmpty || !o.cells.allSatisfy({ $0 == "lstm" || $0 == "gru" }) {
        print("rnnconf-bench: --cells takes lstm and/or gru, comma-separated"); usage()
      }
    case "--batch": o.batch = int(a)
    case "--steps": o.steps = int(a)
    case "--input": o.input = int(a)
    case "--hidden": o.hidden = int(a)
    case "--runs": o.runs = int(a)
    case "--warmup": o.warmup = int(a)
    case "--threads": o.threads = int(a)
    case "--parallel-threshold": o.parallelThreshold = int(a)
    case "--no-peers": o.peers = false
    case "--backends":
      let names = (args.popFirst() ?? "").split(separator: ",").map { String($0).lowercased() }
      let choices = names.compactMap(Matmul.Choice.init(rawValue:))
      if choices.isEmpty || choices.count != names.count {
        print("rnnconf-bench: --backends takes \(Matmul.Choice.allCases.map(\.rawValue).joined(separator: ", ")), comma-separated")
        usage()
      }
      o.backends = choices
    case "--peers-script": o.script = args.popFirst()
    case "-h", "--help": usage(exitCode: 0)
    default: print("rnnconf-bench: unknown argument \(a)"); usage()
    }
  }
  return o
}

func random(_ shape: [Int], scale: Float, rng: inout SeededRNG) -> Tensor<Float> {
  Tensor.random(shape, scale: Double(scale), rng: &rng)
}

func makeLayer(_ cell: String, _ o: Options, rng: inout SeededRNG) -> RecurrentLayer<Float> {
  let g = cell == "lstm" ? 4 : 3, h = o.hidden
  let s = 1 / Float(h).squareRoot()
  let k = random([o.input, g * h], scale: s, rng: &rng), r = random([h, g * h], scale: s, rng: &rng)
  let bi = random([g * h], scale: s, rng: &rng), bh = random([g * h], scale: s, rng: &rng)
  let c: Cell<Float> = cell == "lstm"
    ? .lstm(LSTMCell(inputSize: o.input, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi, recurrentBias: bh))
    : .gru(GRUCell(inputSize: o.input, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi, recurrentBias: bh,
                   resetAfter: true))
  return RecurrentLayer(direction: .forward, cells: [c])
}

func milliseconds(_ d: Duration) -> Double {
  let c = d.components
  return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
}

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The engine's backend of kind `choice` with the benchmark's threads and threshold.
func makeBackend(_ choice: Matmul.Choice, _ o: Options) -> any MatmulBackend {
  switch choice {
  case .swift:
    var b = SwiftMatmul(threads: o.threads)
    if let t = o.parallelThreshold { b.parallelThreshold = t }
    return b
  case .native:
    // the process default kernel is always supported
    var b = try! NativeMatmul(threads: o.threads)
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

struct EngineTiming { var median: Double; var cpuMedian: Double }

/// Median wall and CPU ms of the engine on one cell, per backend, the backends' runs alternated.
func benchEngine(_ cell: String, _ o: Options) throws -> [Matmul.Choice: EngineTiming] {
  var rng = SeededRNG(seed: 42)
  let layer = makeLayer(cell, o, rng: &rng)
  let x = random([o.steps, o.batch, o.input], scale: 1, rng: &rng)
  let backends = o.backends.map { ($0, makeBackend($0, o)) }
  let clock = ContinuousClock()
  var sink: Float = 0
  for _ in 0..<o.warmup {
    for (_, b) in backends { sink += try Engine.run(layer, input: x, backend: b).merged.scalars[0] }
  }
  var wall: [Matmul.Choice: [Double]] = [:], cpu: [Matmul.Choice: [Double]] = [:]
  for r in 0..<o.runs {
    // alternate which backend goes first, so neither always follows the other
    for (choice, b) in (r % 2 == 0 ? backends : backends.reversed()) {
      var out: LayerOutput<Float>? = nil
      let c0 = processCPUms()
      let d = try clock.measure { out = try Engine.run(layer, input: x, backend: b) }
      cpu[choice, default: []].append(processCPUms() - c0)
      sink += out!.merged.scalars[0]
      wall[choice, default: []].append(milliseconds(d))
    }
  }
  if sink.isNaN { print("(NaN in output)") }
  var result: [Matmul.Choice: EngineTiming] = [:]
  for (choice, _) in backends { result[choice] = EngineTiming(median: median(wall[choice]!), cpuMedian: median(cpu[choice]!)) }
  return result
}

struct PeerResult { var status: String; var ms: Double?; var cpuMs: Double?; var version: String? }

func findScript(_ o: Options) -> String? {
  if let s = o.script { return s }
  let candidates = [
    FileManager.default.currentDirectoryPath + "/bench/peers.py",
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("bench/peers.py").path,
  ]
  return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

/// Runs bench/peers.py; results keyed by "peer/cell".
func runPeers(_ o: Options) -> (results: [String: PeerResult], problem: String?) {
  guard let script = findScript(o) else { return ([:], "bench/peers.py not found (run from the repository root or pass --peers-script)") }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = [o.python, script, "--cells", o.cells.joined(separator: ","), "--batch", "\(o.batch)",
                 "--steps", "\(o.steps)", "--input", "\(o.input)", "--hidden", "\(o.hidden)",
                 "--runs", "\(o.runs)", "--warmup", "\(o.warmup)", "--threads", "\(o.threads)"]
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  do { try p.run() } catch { return ([:], "cannot start \(o.python): \(error)") }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  var results: [String: PeerResult] = [:]
  for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let peer = obj["peer"] as? String, let cell = obj["cell"] as? String else { continue }
    results["\(peer)/\(cell)"] = PeerResult(status: obj["status"] as? String ?? "?", ms: obj["median_ms"] as? Double,
                                            cpuMs: obj["cpu_median_ms"] as? Double, version: obj["version"] as? String)
  }
  if p.terminationStatus != 0 || results.isEmpty {
    let tail = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
    return (results, "\(o.python) \(script) exited with \(p.terminationStatus): \(tail)")
  }
  return (results, nil)
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

func runBench() {
  let o = parse()
  print("rnnconf-bench: float32 inference, one forward layer, B=\(o.batch) T=\(o.steps) I=\(o.input) H=\(o.hidden); "
        + "median of \(o.runs) runs after \(o.warmup) warm-up; \(o.threads) threads")
  var engine: [String: [Matmul.Choice: EngineTiming]] = [:]
  for cell in o.cells {
    do {
      engine[cell] = try benchEngine(cell, o)
    } catch {
      print("rnnconf-bench: engine failed on \(cell): \(error)"); exit(1)
    }
  }
  var peers: [String: PeerResult] = [:]
  if o.peers {
    let (r, problem) = runPeers(o)
    peers = r
    if let problem { print("peers: \(problem)") }
  }
  func peerCell(_ peer: String, _ cell: String) -> String {
    guard o.peers else { return "skipped" }
    guard let r = peers["\(peer)/\(cell)"] else { return "unavailable" }
    if let ms = r.ms { return fmt(ms) }
    return r.status
  }
  func ratio(_ peer: String, _ cell: String, _ mine: Double) -> String {
    guard let ms = peers["\(peer)/\(cell)"]?.ms else { return "-" }
    return fmt(ms / mine, 2) + "x"
  }
  let widths = [13, 11, 11, 11, 11, 16, 12, 8]
  print([pad("cell/backend", widths[0]), lpad("rnnconf ms", widths[1]), lpad("CPU ms", widths[2]),
         lpad("PyTorch ms", widths[3]), lpad("ORT ms", widths[4]), lpad("PyTorch/rnnconf", widths[5]),
         lpad("ORT/rnnconf", widths[6]), lpad("GFLOP/s", widths[7])].joined(separator: " "))
  for cell in o.cells {
    let g = cell == "lstm" ? 4 : 3
    // multiply-adds of the input projection and the recurrent products
    let flops = 2.0 * Double(o.steps * o.batch * g * o.hidden) * Double(o.input + o.hidden)
    for choice in o.backends {
      let t = engine[cell]![choice]!
      print([pad(cell.uppercased() + " " + choice.rawValue, widths[0]), lpad(fmt(t.median, 2), widths[1]),
             lpad(fmt(t.cpuMedian, 2), widths[2]), lpad(peerCell("torch", cell), widths[3]),
             lpad(peerCell("onnxruntime", cell), widths[4]), lpad(ratio("torch", cell, t.median), widths[5]),
             lpad(ratio("onnxruntime", cell, t.median), widths[6]), lpad(fmt(flops / t.median / 1e6), widths[7])]
              .joined(separator: " "))
    }
    if o.backends.count == 2, let a = engine[cell]![o.backends[0]], let b = engine[cell]![o.backends[1]] {
      print("  \(cell.uppercased()) \(o.backends[1].rawValue)/\(o.backends[0].rawValue): wall "
            + fmt(b.median / a.median, 2) + "x, CPU " + fmt(b.cpuMedian / a.cpuMedian, 2) + "x")
    }
  }
  for cell in o.cells {
    for peer in ["torch", "onnxruntime"] {
      guard let r = peers["\(peer)/\(cell)"], let cpu = r.cpuMs else { continue }
      let mine = o.backends.map { "\($0.rawValue) " + fmt(cpu / engine[cell]![$0]!.cpuMedian, 2) + "x" }
      print("  \(cell.uppercased()) \(peer) CPU ms " + fmt(cpu, 2) + "; \(peer) CPU / rnnconf CPU: " + mine.joined(separator: ", "))
    }
  }
  let versions = ["torch", "onnxruntime"].compactMap { p in peers.first { $0.key.hasPrefix(p + "/") }?.value.version.map { "\(p) \($0)" } }
  if !versions.isEmpty { print("peers: " + versions.joined(separator: ", ") + "; ratios > 1 mean rnnconf is faster") }
  print("rnnconf backends: native = C kernel \(NativeKernel.default) (detected \(NativeKernel.detected)); "
        + "swift = SwiftMatmul kernel \(SwiftMatmul.kernelShape)")
  if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
    let one = load.split(separator: " ").first.map(String.init) ?? "?"
    print("load average (1 min): \(one) on \(ProcessInfo.processInfo.activeProcessorCount) cores"
          + " (other processes sharing the cores make every column slower and noisier)")
  }
}

runBench()
