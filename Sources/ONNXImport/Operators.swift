import ONNXProto
import RNNRef

// The layout operations torch.onnx.export and tf2onnx put around recurrent nodes, evaluated on
// tensors with the ONNX operator spec's semantics for the model's opset (onnx/docs/Operators.md;
// where an operator changed form, both forms: Squeeze/Unsqueeze axes as an attribute before
// opset 13 and an input from 13, Slice's attributes before opset 10 and inputs from 10,
// Reshape's shape attribute before opset 5, Shape's start/end from 15).

extension Dense {
  /// Row-major strides.
  var strides: [Int] {
    var s = Array(repeating: 1, count: shape.count)
    var acc = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) { s[k] = acc; acc *= shape[k] }
    return s
  }

  /// out[i0, i1, ...] = data[sum_k index[k][i_k] * strides[k]]: slices, transposes and broadcasts.
  func take(_ index: [[Int]], strides st: [Int]) -> Dense {
    let outShape = index.map(\.count)
    var out: [Element] = []
    out.reserveCapacity(outShape.reduce(1, *))
    func rec(_ axis: Int, _ offset: Int) {
      if axis == index.count { out.append(data[offset]); return }
      for i in index[axis] { rec(axis + 1, offset + i * st[axis]) }
    }
    if outShape.allSatisfy({ $0 > 0 }) || index.isEmpty { rec(0, 0) }
    return Dense(shape: outShape, data: out)
  }

  func transposed(_ perm: [Int]) -> Dense {
    let st = strides
    return take(perm.map { Array(0..<shape[$0]) }, strides: perm.map { st[$0] })
  }

  /// Blocks of `inner` elements along `axis`: (outer, dim, inner).
  func blocks(axis: Int) -> (outer: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
  }
}

/// One node's view for the operators: its inputs' values, attributes and the messages' context.
struct NodeContext<Scalar: RNNScalar> {
  var opType: String
  var label: String  // `Slice node "/Slice_1"`
  var path: String
  var opset: Int
  var inputs: [Value<Scalar>?]
  var attributes: [String: Onnx_AttributeProto]

  func fail(_ detail: String) -> ONNXImportError {
    ONNXImportError(.invalidNode, path: path, "\(label): \(detail)")
  }

  /// Input `k`, required.
  func input(_ k: Int, _ what: String) throws -> Value<Scalar> {
    guard k < inputs.count, let v = inputs[k] else { throw fail("input \(k) (\(what)) is required") }
    return v
  }
  func optionalInput(_ k: Int) -> Value<Scalar>? { k < inputs.count ? inputs[k] : nil }

  /// An integer tensor's values (shapes, axes, indices, starts, ends, steps).
  func ints(_ v: Value<Scalar>, _ what: String, rank1: Bool = true) throws -> [Int] {
    guard case .integer(let d, _) = v else { throw fail("\(what) must be an integer tensor, got \(v.elementType.name)") }
    if rank1 { guard d.rank == 1 else { throw fail("\(what) must be 1-D, got shape \(d.shape)") } }
    return d.data.map { Int($0) }
  }

  func attrInt(_ name: String) throws -> Int? {
    guard let a = attributes[name] else { return nil }
    guard a.type == .int || a.type == .undefined else { throw fail("attribute `\(name)` must be an int") }
    return Int(a.i)
  }
  func attrInts(_ name: String) throws -> [Int]? {
    guard let a = attributes[name] else { return nil }
    guard a.type == .ints || a.type == .undefined else { throw fail("attribute `\(name)` must be a list of ints") }
    return a.ints.map { Int($0) }
  }

  /// `axis` in -r..<r made non-negative.
  func axis(_ a: Int, rank r: Int, _ what: String = "axis") throws -> Int {
    guard a >= -r, a < r else { throw fail("\(what) \(a) is outside -\(r)..<\(r) for a rank-\(r) input") }
    return a < 0 ? a + r : a
  }

  /// A list of distinct axes, normalised.
  func axes(_ list: [Int], rank r: Int, _ what: String) throws -> [Int] {
    let out = try list.map { try axis($0, rank: r, what) }
    guard Set(out).count == out.count else { throw fail("\(what) \(list) repeat an axis") }
    return out
  }

  func checkCount(_ shape: [Int]) throws {
    _ = try ONNXLimits.elementCount(shape, path: path, what: "\(label)'s output")
  }
}

/// Applies `f` to either kind of tensor (the layout operations do not look at values).
func mapDense<Scalar: RNNScalar>(_ v: Value<Scalar>, _ f: (Dense<Scalar>) throws -> Dense<Scalar>,
                                 _ g: (Dense<Int64>) throws -> Dense<Int64>) rethrows -> Value<Scalar> {
  switch v {
  case .real(let d, let t): .real(try f(d), t)
  case .integer(let d, let t): .integer(try g(d), t)
  }
}

enum LayoutOps {
  /// The operators this interpreter evaluates (besides LSTM, GRU and RNN).
  static let supported: Set<String> = [
    "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Reshape", "Shape", "Gather", "Constant",
    "Identity", "Cast", "Expand", "ConstantOfShape",
  ]

  /// Evaluates one layout node; returns its outputs in order.
  static func evaluate<Scalar: RNNScalar>(_ n: NodeContext<Scalar>) throws -> [Value<Scalar>] {
    switch n.opType {
    case "Identity": return [try n.input(0, "input")]
    case "Transpose": return [try transpose(n)]
    case "Squeeze": return [try squeeze(n)]
    case "Unsqueeze": return [try unsqueeze(n)]
    case "Concat": return [try concat(n)]
    case "Slice": return [try slice(n)]
    case "Reshape": return [try reshape(n)]
    case "Shape": return [try shape(n)]
    case "Gather": return [try gather(n)]
    case "Cast": return [try cast(n)]
    case "Expand": return [try expand(n)]
    case "ConstantOfShape": return [try constantOfShape(n)]
    case "Constant": return [try constant(n)]
    default: throw n.fail("not an operator of this interpreter")
    }
  }

  static func transpose<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let r = x.shape.count
    let perm = try n.attrInts("perm") ?? Array((0..<r).reversed())
    guard perm.count == r, Set(perm) == Set(0..<r) else {
      throw n.fail("perm \(perm) is not a permutation of the \(r) axes of the input (shape \(x.shape))")
    }
    return mapDense(x, { $0.transposed(perm) }, { $0.transposed(perm) })
  }

  static func squeeze<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let shape = x.shape
    let given: [Int]?
    if n.opset < 13 {
      given = try n.attrInts("axes")
    } else {
      given = try n.optionalInput(1).map { try n.ints($0, "axes") }
    }
    var drop: Set<Int>
    if let given {
      let axes = try n.axes(given, rank: shape.count, "axes")
      for a in axes where shape[a] != 1 {
        throw n.fail("cannot squeeze axis \(a) of shape \(shape): its size is \(shape[a]), not 1")
      }
      drop = Set(axes)
    } else {
      drop = Set(shape.indices.filter { shape[$0] == 1 })
    }
    let out = shape.indices.filter { !drop.contains($0) }.map { shape[$0] }
    return mapDense(x, { Dense(shape: out, data: $0.data) }, { Dense(shape: out, data: $0.data) })
  }

  static func unsqueeze<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let list: [Int]
    if n.opset < 13 {
      guard let a = try n.attrInts("axes") else { throw n.fail("attribute `axes` is required before opset 13") }
      list = a
    } else {
      list = try n.ints(try n.input(1, "axes"), "axes")
    }
    let r = x.shape.count + list.count
    try n.checkCount(Array(repeating: 1, count: r))  // the rank cap
    let axes = Set(try n.axes(list, rank: r, "axes"))
    var out: [Int] = []
    var it = x.shape.makeIterator()
    for k in 0..<r { out.append(axes.contains(k) ? 1 : it.next()!) }
    return mapDense(x, { Dense(shape: out, data: $0.data) }, { Dense(shape: out, data: $0.data) })
  }

  static func concat<S>(_ n: NodeContext<S>) throws -> Value<S> {
    guard let a = try n.attrInt("axis") else { throw n.fail("attribute `axis` is required") }
    let parts = try n.inputs.indices.map { try n.input($0, "input \($0)") }
    guard let first = parts.first else { throw n.fail("needs at least one input") }
    let r = first.shape.count
    guard r > 0 else { throw n.fail("cannot concatenate scalars (rank 0)") }
    let axis = try n.axis(a, rank: r)
    var total = 0
    for p in parts {
      guard p.shape.count == r, p.elementType == first.elementType,
            p.shape.indices.allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
        throw n.fail("inputs of shapes \(parts.map(\.shape)) and types \(parts.map(\.elementType.name)) cannot be concatenated on axis \(axis)")
      }
      total += p.shape[axis]
    }
    var shape = first.shape
    shape[axis] = total
    func join<E>(_ ds: [Dense<E>]) -> Dense<E> {
      let outer = shape[..<axis].reduce(1, *)
      var out: [E] = []
      out.reserveCapacity(shape.reduce(1, *))
      for o in 0..<outer {
        for d in ds {
          let block = d.shape[axis...].reduce(1, *)
          out += d.data[(o * block)..<((o + 1) * block)]
        }
      }
      return Dense(shape: shape, data: out)
    }
    switch first {
    case .real(_, let t):
      return .real(join(parts.map { if case .real(let d, _) = $0 { d } else { Dense(shape: [], data: []) } }), t)
    case .integer(_, let t):
      return .integer(join(parts.map { if case .integer(let d, _) = $0 { d } else { Dense(shape: [], data: []) } }), t)
    }
  }

  static func slice<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let shape = x.shape, r = shape.count
    let starts: [Int], ends: [Int], axesGiven: [Int]?, steps: [Int]?
    if n.opset < 10 {
      guard let s = try n.attrInts("starts"), let e = try n.attrInts("ends") else {
        throw n.fail("attributes `starts` and `ends` are required before opset 10")
      }
      starts = s; ends = e; axesGiven = try n.attrInts("axes"); steps = nil
    } else {
      starts = try n.ints(try n.input(1, "starts"), "starts")
      ends = try n.ints(try n.input(2, "ends"), "ends")
      axesGiven = try n.optionalInput(3).map { try n.ints($0, "axes") }
      steps = try n.optionalInput(4).map { try n.ints($0, "steps") }
    }
    let axes = try n.axes(axesGiven ?? Array(0..<starts.count), rank: r, "axes")
    guard starts.count == ends.count, axes.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
      throw n.fail("starts (\(starts.count)), ends (\(ends.count)), axes (\(axes.count)) and steps (\(steps?.count ?? starts.count)) must have the same length")
    }
    var index = shape.map { Array(0..<$0) }
    for (k, a) in axes.enumerated() {
      let dim = shape[a], step = steps?[k] ?? 1
      guard step != 0 else { throw n.fail("steps[\(k)] is 0") }
      var s = starts[k], e = ends[k]
      if s < 0 { s = s &+ dim }
      if e < 0 { e = e &+ dim }
      if step > 0 {
        s = min(max(s, 0), dim); e = min(max(e, 0), dim)
      } else {
        s = min(max(s, 0), dim - 1); e = min(max(e, -1), dim - 1)
      }
      var picked: [Int] = []
      var i = s
      while step > 0 ? i < e : i > e { picked.append(i); i += step }
      index[a] = picked
    }
    return mapDense(x, { $0.take(index, strides: $0.strides) }, { $0.take(index, strides: $0.strides) })
  }

  static func reshape<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let target: [Int]
    if n.opset < 5 {
      guard let s = try n.attrInts("shape") else { throw n.fail("attribute `shape` is required before opset 5") }
      target = s
    } else {
      target = try n.ints(try n.input(1, "shape"), "shape")
    }
    let allowZero = n.opset >= 14 ? (try n.attrInt("allowzero") ?? 0) != 0 : false
    var out: [Int] = []
    var inferred: Int?
    for (k, d) in target.enumerated() {
      switch d {
      case 0 where !allowZero:
        guard k < x.shape.count else { throw n.fail("shape \(target) copies dimension \(k) (0) of a rank-\(x.shape.count) input") }
        out.append(x.shape[k])
      case -1:
        guard inferred == nil else { throw n.fail("shape \(target) has more than one -1") }
        inferred = k; out.append(1)
      case let d where d < 0: throw n.fail("shape \(target) has the dimension \(d)")
      default: out.append(d)
      }
    }
    if allowZero, inferred != nil, target.contains(0) { throw n.fail("shape \(target) has both 0 and -1 with allowzero = 1") }
    let count = x.shape.reduce(1, *)
    let known = try ONNXLimits.elementCount(out, path: n.path, what: "\(n.label)'s shape")
    if let k = inferred {
      guard known > 0, count % known == 0 else { throw n.fail("cannot reshape \(x.shape) (\(count) elements) to \(target)") }
      out[k] = count / known
    }
    guard out.reduce(1, *) == count else { throw n.fail("cannot reshape \(x.shape) (\(count) elements) to \(target)") }
    return mapDense(x, { Dense(shape: out, data: $0.data) }, { Dense(shape: out, data: $0.data) })
  }

  static func shape<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let r = x.shape.count
    var s = 0, e = r
    if n.opset >= 15 {
      if let a = try n.attrInt("start") { s = a < 0 ? max(a + r, 0) : min(a, r) }
      if let a = try n.attrInt("end") { e = a < 0 ? max(a + r, 0) : min(a, r) }
    }
    let dims = s < e ? Array(x.shape[s..<e]) : []
    return .integer(Dense(shape: [dims.count], data: dims.map { Int64($0) }), .int64)
  }

  static func gather<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "data")
    let idx = try n.input(1, "indices")
    guard case .integer(let indices, _) = idx else { throw n.fail("indices must be int32 or int64, got \(idx.elementType.name)") }
    let r = x.shape.count
    guard r > 0 else { throw n.fail("data must have rank >= 1") }
    let axis = try n.axis(try n.attrInt("axis") ?? 0, rank: r)
    let dim = x.shape[axis]
    let picks = try indices.data.map { i -> Int in
      let j = i < 0 ? Int(i) + dim : Int(i)
      guard j >= 0, j < dim else { throw n.fail("index \(i) is outside -\(dim)..<\(dim) on axis \(axis) of shape \(x.shape)") }
      return j
    }
    let shape = Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...])
    try n.checkCount(shape)
    func g<E>(_ d: Dense<E>) -> Dense<E> {
      let (outer, inner) = d.blocks(axis: axis)
      var out: [E] = []
      out.reserveCapacity(shape.reduce(1, *))
      for o in 0..<outer {
        for j in picks {
          let base = (o * dim + j) * inner
          out += d.data[base..<(base + inner)]
        }
      }
      return Dense(shape: shape, data: out)
    }
    return mapDense(x, g, g)
  }

  static func cast<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "input")
    guard let code = try n.attrInt("to") else { throw n.fail("attribute `to` is required") }
    let to = try ONNXElementType.from(Int32(truncatingIfNeeded: code), path: n.path, what: "\(n.label)'s target type")
    switch (x, to.isFloatingPoint) {
    case (.real(let d, _), true): return .real(d, to)
    case (.integer(let d, _), true): return .real(Dense(shape: d.shape, data: d.data.map { S($0) }), to)
    case (.integer(let d, _), false): return .integer(Dense(shape: d.shape, data: try d.data.map { try wrap($0, to, n) }), to)
    case (.real(let d, _), false):
      let ints = try d.data.map { v -> Int64 in
        guard v.isFinite, abs(v) < 9.2e18 else { throw n.fail("cannot cast \(v) to \(to.name)") }
        return to == .bool ? (v != 0 ? 1 : 0) : Int64(v)  // toward zero, as ONNX Runtime does
      }
      return .integer(Dense(shape: d.shape, data: try ints.map { try wrap($0, to, n) }), to)
    }
  }

  /// An integer value in `type`'s range (C conversion: wrapped), bool as 0/1.
  static func wrap<S>(_ v: Int64, _ type: ONNXElementType, _ n: NodeContext<S>) throws -> Int64 {
    switch type {
    case .bool: v != 0 ? 1 : 0
    case .int8: Int64(Int8(truncatingIfNeeded: v))
    case .uint8: Int64(UInt8(truncatingIfNeeded: v))
    case .int16: Int64(Int16(truncatingIfNeeded: v))
    case .uint16: Int64(UInt16(truncatingIfNeeded: v))
    case .int32: Int64(Int32(truncatingIfNeeded: v))
    case .int64: v
    case .float, .double: throw n.fail("internal: \(type.name) is not an integer type")
    }
  }

  /// Numpy broadcasting of two shapes (Expand's bidirectional broadcast).
  static func broadcast<S>(_ a: [Int], _ b: [Int], _ n: NodeContext<S>) throws -> [Int] {
    let r = max(a.count, b.count)
    let pa = Array(repeating: 1, count: r - a.count) + a, pb = Array(repeating: 1, count: r - b.count) + b
    return try zip(pa, pb).map { x, y in
      guard x == y || x == 1 || y == 1 else { throw n.fail("shapes \(a) and \(b) do not broadcast") }
      return x == 1 ? y : x
    }
  }

  static func expand<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let x = try n.input(0, "input")
    let target = try n.ints(try n.input(1, "shape"), "shape")
    guard target.allSatisfy({ $0 >= 0 }) else { throw n.fail("shape \(target) has a negative dimension") }
    let shape = try broadcast(x.shape, target, n)
    try n.checkCount(shape)
    let lead = shape.count - x.shape.count
    let inShape = Array(repeating: 1, count: lead) + x.shape
    let index = shape.indices.map { k in inShape[k] == 1 ? Array(repeating: 0, count: shape[k]) : Array(0..<shape[k]) }
    func e<E>(_ d: Dense<E>) -> Dense<E> {
      let st = Array(repeating: 0, count: lead) + d.strides
      return d.take(index, strides: st)
    }
    return mapDense(x, e, e)
  }

  static func constantOfShape<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let shape = try n.ints(try n.input(0, "input"), "input")
    guard shape.allSatisfy({ $0 >= 0 }) else { throw n.fail("shape \(shape) has a negative dimension") }
    let count = try ONNXLimits.elementCount(shape, path: n.path, what: "\(n.label)'s output")
    var fill: Value<S> = .real(Dense(shape: [1], data: [0]), .float)
    if let a = n.attributes["value"] {
      fill = try Value<S>.decode(a.t, path: n.path, what: "\(n.label)'s attribute `value`")
      guard fill.shape.reduce(1, *) == 1 else { throw n.fail("attribute `value` must hold one element, has shape \(fill.shape)") }
    }
    switch fill {
    case .real(let d, let t): return .real(Dense(shape: shape, data: Array(repeating: d.data[0], count: count)), t)
    case .integer(let d, let t): return .integer(Dense(shape: shape, data: Array(repeating: d.data[0], count: count)), t)
    }
  }

  static func constant<S>(_ n: NodeContext<S>) throws -> Value<S> {
    let set = n.attributes.keys.sorted()
    guard set.count == 1, let key = set.first, let a = n.attributes[key] else {
      throw n.fail("needs exactly one of the attributes value, value_float, value_floats, value_int, value_ints; has \(set)")
    }
    switch key {
    case "value": return try Value<S>.decode(a.t, path: n.path, what: "\(n.label)'s attribute `value`")
    case "value_float": return .real(Dense(shape: [], data: [S(a.f)]), .float)
    case "value_floats": return .real(Dense(shape: [a.floats.count], data: a.floats.map { S($0) }), .float)
    case "value_int": return .integer(Dense(shape: [], data: [a.i]), .int64)
    case "value_ints": return .integer(Dense(shape: [a.ints.count], data: a.ints), .int64)
    default: throw ONNXImportError(.unsupported, path: n.path, "\(n.label): attribute `\(key)` (sparse or string constants) is not supported")
    }
  }
}
