// rnnconf-bench: float32 inference time of the reference engine against
// PyTorch and ONNX Runtime on the same shapes, measured in the same run.
//
//   swift run -c release rnnconf-bench [--cells lstm,gru] [--batch 32] [--steps 128]
//       [--input 256] [--hidden 256] [--runs 7] [--warmup 2] [--threads 2] [--no-peers]
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
  var python = ProcessInfo.processInfo.environment["RNNCONF_PYTHON"] ?? "python3"
  var script: String? = nil
}

func usage(exitCode: Int32 = 64) -> Never {
  print("""
    usage: rnnconf-bench [--cells lstm,gru] [--batch N] [--steps T] [--input I] [--hidden H]
                         [--runs R] [--warmup W] [--threads K] [--parallel-threshold MACS]
                         [--no-peers] [--peers-script PATH]
    --parallel-threshold: products with fewer multiply-adds run on one thread (default 1048576).
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

/// Median ms of the engine on one cell.
func benchEngine(_ cell: String, _ o: Options) throws -> (median: Double, runs: [Double]) {
  var rng = SeededRNG(seed: 42)
  let layer = makeLayer(cell, o, rng: &rng)
  let x = random([o.steps, o.batch, o.input], scale: 1, rng: &rng)
  var backend = SwiftMatmul(threads: o.threads)
  if let t = o.parallelThreshold { backend.parallelThreshold = t }
  let clock = ContinuousClock()
  var sink: Float = 0
  for _ in 0..<o.warmup { sink += try Engine.run(layer, input: x, backend: backend).merged.scalars[0] }
  var times: [Double] = []
  for _ in 0..<o.runs {
    var out: LayerOutput<Float>? = nil
    let d = try clock.measure { out = try Engine.run(layer, input: x, backend: backend) }
    sink += out!.merged.scalars[0]
    times.append(milliseconds(d))
  }
  if sink.isNaN { print("(NaN in output)") }
  return (median(times), times)
}

struct PeerResult { var status: String; var ms: Double?; var version: String? }

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
                                            version: obj["version"] as? String)
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
  var engine: [String: Double] = [:]
  for cell in o.cells {
    do {
      engine[cell] = try benchEngine(cell, o).median
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
  func ratio(_ peer: String, _ cell: String) -> String {
    guard let ms = peers["\(peer)/\(cell)"]?.ms, let mine = engine[cell] else { return "-" }
    return fmt(ms / mine, 2) + "x"
  }
  let widths = [6, 12, 12, 12, 16, 14, 10]
  print([pad("cell", widths[0]), lpad("rnnconf ms", widths[1]), lpad("PyTorch ms", widths[2]), lpad("ORT ms", widths[3]),
         lpad("PyTorch/rnnconf", widths[4]), lpad("ORT/rnnconf", widths[5]), lpad("GFLOP/s", widths[6])].joined(separator: " "))
  for cell in o.cells {
    let g = cell == "lstm" ? 4 : 3
    // multiply-adds of the input projection and the recurrent products
    let flops = 2.0 * Double(o.steps * o.batch * g * o.hidden) * Double(o.input + o.hidden)
    let mine = engine[cell]!
    print([pad(cell.uppercased(), widths[0]), lpad(fmt(mine), widths[1]), lpad(peerCell("torch", cell), widths[2]),
           lpad(peerCell("onnxruntime", cell), widths[3]), lpad(ratio("torch", cell), widths[4]),
           lpad(ratio("onnxruntime", cell), widths[5]), lpad(fmt(flops / mine / 1e6), widths[6])].joined(separator: " "))
  }
  let versions = ["torch", "onnxruntime"].compactMap { p in peers.first { $0.key.hasPrefix(p + "/") }?.value.version.map { "\(p) \($0)" } }
  if !versions.isEmpty { print("peers: " + versions.joined(separator: ", ") + "; ratios > 1 mean rnnconf is faster") }
  print("rnnconf GEMM kernel: \(SwiftMatmul.kernelShape) (wide needs AVX: build with -Xswiftc -target-cpu -Xswiftc native)")
  if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
    let one = load.split(separator: " ").first.map(String.init) ?? "?"
    print("load average (1 min): \(one) on \(ProcessInfo.processInfo.activeProcessorCount) cores"
          + " (other processes sharing the cores make every column slower and noisier)")
  }
}

runBench()
