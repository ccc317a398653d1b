import ArgumentParser
import Foundation
import HDF5
import KerasImport
import RNNRef

#if canImport(Glibc)
import Glibc
#endif

/// `predict` in slices of the batch, so resident memory stays near one slice's work plus the
/// output (issue 11: a 256 x 2000 x 20 input to a GRU(80) took 1.44 GB whole). Rows of a batch
/// are independent in every layer `KerasModel` runs, so a slice's outputs are those rows of
/// the whole batch's, bit for bit (`PredictTests` checks it). Stateful layers start each slice
/// from the states the whole batch would start from (none: the CLI loads a fresh model), so
/// slicing never carries one slice's states into the next.
enum PredictStreaming {
  /// One model input: its file, shape and a way to read rows of its first (batch) axis.
  struct Input {
    var path: String
    var shape: [Int]
    var rows: (Range<Int>) throws -> Tensor<Double>

    /// Opens `path`: an HDF5 file (its dataset `dataset`, read by hyperslab) or a `.npy` (read
    /// by rows). Only the header or the dataset's shape is read here.
    static func open(_ path: String, dataset: String) throws -> Input {
      switch FileKind.sniff(path: path) {
      case .hdf5:
        let f = try HDF5.File(path: path)
        guard try f.exists(dataset) else {
          throw ValidationError("\(path) has no dataset `\(dataset)`; pass --dataset with the name of the input array")
        }
        let ds = try f.dataset(dataset)
        let shape = try ds.shape
        return Input(path: path, shape: shape) { r in
          let count = [r.count] + shape.dropFirst()
          let values = try withExtendedLifetime(f) {
            try ds.read(offset: [r.lowerBound] + Array(repeating: 0, count: shape.count - 1), count: count, as: Double.self)
          }
          return try Tensor(shape: count, scalars: values)
        }
      case .missing:
        throw ValidationError("input \(path) does not exist")
      default:
        let npy = try NPY.Rows(URL(fileURLWithPath: path))
        return Input(path: path, shape: npy.shape) { try npy.rows($0) }
      }
    }
  }

  /// Checks the inputs against the model before anything runs: shapes (batch axis free, the
  /// same batch size for every input); errors name the file.
  static func check(_ inputs: [Input], model m: KerasModel) throws -> Int {
    for (k, x) in inputs.enumerated() {
      let s = m.inputShapes[k]
      let ok = x.shape.count == s.count && zip(x.shape, s).enumerated().allSatisfy { i, p in i == 0 || p.1 == nil || p.0 == p.1! }
      guard ok, !x.shape.isEmpty else {
        throw ValidationError("input \(k) (`\(m.inputNames[k])`) `\(x.path)` has shape \(dims(x.shape)), the model expects \(dims(s)) (None = any size, the first axis is the batch)")
      }
    }
    let n = inputs[0].shape[0]
    if let other = inputs.firstIndex(where: { $0.shape[0] != n }) {
      throw ValidationError("the inputs hold different batch sizes: `\(inputs[0].path)` has \(n) rows, `\(inputs[other].path)` has \(inputs[other].shape[0]); give every input the same number of rows")
    }
    return n
  }

  static func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
  static func dims(_ s: [Int?]) -> String { "(" + s.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")" }

  /// Input elements per slice when `--batch-size` is not given: about 4 MB of float32 input,
  /// in whole rows (at least one). The engine's working set is a small multiple of this.
  static let sliceElements = 1 << 20

  /// Rows per slice: `batchSize` when given (> 0), else `sliceElements` worth of input rows,
  /// a multiple of 8 when more than 8 rows fit.
  static func rowsPerSlice(_ inputs: [Input], batch n: Int, batchSize: Int?) -> Int {
    if let b = batchSize, b > 0 { return max(1, min(b, n)) }
    let perRow = max(1, inputs.reduce(0) { $0 + $1.shape.dropFirst().reduce(1, *) })
    var rows = max(1, sliceElements / perRow)
    if rows > 8 { rows -= rows % 8 }
    return max(1, min(rows, n))
  }

  /// Runs the model on rows `0..<n` in slices of `rows`, handing each slice's outputs (batch
  /// first) to `each` with the slice's first row. Non-finite inputs are refused naming the file
  /// and the element. `S`: Double when the model computes in float64, else Float.
  static func run<S: PredictScalar>(_ m: KerasModel, _ inputs: [Input], batch n: Int, rows: Int, as _: S.Type,
                                    progress: Progress?, _ each: (Int, [Tensor<S>]) throws -> Void) throws {
    var r0 = 0
    while r0 < n || (n == 0 && r0 == 0) {
      let range = r0..<min(n, r0 + rows)
      let xs = try inputs.map { x -> Tensor<Double> in
        let t = try x.rows(range)
        if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
          let perRow = max(1, t.shape.dropFirst().reduce(1, *))
          var index = [range.lowerBound + bad / perRow]
          var rest = bad % perRow
          for d in t.shape.dropFirst().reversed() { index.insert(rest % d, at: 1); rest /= d }
          throw ValidationError("input `\(x.path)` holds a non-finite value (\(t.scalars[bad])) at index \(dims(index)); the model would return NaN")
        }
        return t
      }
      m.resetStates()  // each slice starts as the whole batch would: from no carried state
      let ys = try S.predict(m, xs)
      for (k, y) in ys.enumerated() where y.shape.first != range.count {
        throw ValidationError("output \(k) has shape \(dims(y.shape)) for \(range.count) input rows: the model does not keep the batch axis first, so it cannot be predicted in slices; pass --batch-size \(max(n, 1)) to predict the batch in one piece")
      }
      try each(range.lowerBound, ys)
      progress?.update(range.upperBound)
      if n == 0 { break }
      r0 = range.upperBound
    }
    progress?.finish()
  }

  /// Rows done, on stderr when it is a terminal and the batch takes more than one slice
  /// (at most ten updates a second, cleared at the end).
  final class Progress {
    let total: Int
    var last = Date.distantPast
    var shown = false
    init?(total: Int, slices: Int) {
      guard slices > 1, isatty(STDERR_FILENO) != 0 else { return nil }
      self.total = total
    }
    func update(_ done: Int) {
      let now = Date()
      guard now.timeIntervalSince(last) >= 0.1 || done == total else { return }
      last = now
      shown = true
      let pct = total > 0 ? done * 100 / total : 100
      FileHandle.standardError.write(Data("\rpredict: \(done)/\(total) rows (\(pct)%)".utf8))
    }
    func finish() {
      if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
  }

  /// Predicts and writes or prints, slice by slice. `.npy`: streamed into the atomic temporary
  /// file (header, then each slice); `.h5`: the outputs gathered, then written as before;
  /// no output: the shape and first values of each output.
  static func predict(_ m: KerasModel, inputs: [Input], output: String?, float64: Bool, batchSize: Int?) throws {
    let n = try check(inputs, model: m)
    let rows = rowsPerSlice(inputs, batch: n, batchSize: batchSize)
    let slices = n == 0 ? 1 : (n + rows - 1) / rows
    let progress = Progress(total: n, slices: slices)
    if m.precision == .float64 {
      try write(m, inputs, n: n, rows: rows, as: Double.self, progress: progress, output: output, float64: float64)
    } else {
      try write(m, inputs, n: n, rows: rows, as: Float.self, progress: progress, output: output, float64: float64)
    }
  }

  static func write<S: PredictScalar>(_ m: KerasModel, _ inputs: [Input], n: Int, rows: Int, as: S.Type,
                                      progress: Progress?, output: String?, float64: Bool) throws {
    func fullShape(_ y: Tensor<S>) -> [Int] { [n] + y.shape.dropFirst() }
    guard let o = output else {
      var first: [(shape: [Int], values: [Double])] = []
      try run(m, inputs, batch: n, rows: rows, as: S.self, progress: progress) { r0, ys in
        if r0 == 0 { first = ys.map { (fullShape($0), []) } }
        for (k, y) in ys.enumerated() where first[k].values.count < 8 {
          first[k].values += y.scalars.prefix(8 - first[k].values.count).map { Double($0) }
        }
      }
      for (k, y) in first.enumerated() {
        let text = y.values.map { String(format: "%.6g", $0) }.joined(separator: ", ")
        print("output_\(k) \(m.outputNames[k]): shape \(y.shape), first values [\(text)\(y.shape.reduce(1, *) > 8 ? ", ..." : "")]")
      }
      return
    }
    if o.hasSuffix(".npy") {
      guard m.outputNames.count == 1 else {
        throw ValidationError("the model has \(m.outputNames.count) outputs (\(m.outputNames.joined(separator: ", "))); write them to an .h5 file")
      }
      // A failing write is a FileIOError naming `o` ("<path>: cannot write (...)").
      try AtomicFile.write(to: o) { append in
        try run(m, inputs, batch: n, rows: rows, as: S.self, progress: progress) { r0, ys in
          if r0 == 0 { try NPY.header(shape: fullShape(ys[0]), float64: float64).withUnsafeBytes { try append($0) } }
          try NPY.bytes(ys[0].scalars, float64: float64).withUnsafeBytes { try append($0) }
        }
      }
    } else {
      var shapes: [[Int]] = [], values: [[S]] = []
      try run(m, inputs, batch: n, rows: rows, as: S.self, progress: progress) { r0, ys in
        if r0 == 0 {
          shapes = ys.map(fullShape)
          values = shapes.map { s in var v = [S](); v.reserveCapacity(s.reduce(1, *)); return v }
        }
        for (k, y) in ys.enumerated() { values[k] += y.scalars }
      }
      try HDF5.File.createAtomically(path: o) { f in
        for k in values.indices {
          let ds: Dataset
          if float64 { ds = try f.root.createDataset("output_\(k)", shape: shapes[k], values: values[k].map { Double($0) }) }
          else { ds = try f.root.createDataset("output_\(k)", shape: shapes[k], values: values[k].map { Float($0) }) }
          try ds.setAttribute("name", m.outputNames[k])
          values[k] = []  // freed as soon as it is in the image
        }
      }
    }
    print("wrote \(m.outputNames.count) output(s) to \(o)")
  }
}

/// The scalar types `predict` computes in, with the `KerasModel.predict` overload for each.
protocol PredictScalar: RNNScalar {
  static func predict(_ m: KerasModel, _ xs: [Tensor<Double>]) throws -> [Tensor<Self>]
}
extension Float: PredictScalar {
  static func predict(_ m: KerasModel, _ xs: [Tensor<Double>]) throws -> [Tensor<Float>] { try m.predict(xs.map { Tensor<Float>($0) }) }
}
extension Double: PredictScalar {
  static func predict(_ m: KerasModel, _ xs: [Tensor<Double>]) throws -> [Tensor<Double>] { try m.predict(xs) }
}
