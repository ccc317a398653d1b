import Testing
@testable import RNNRef

/// The adapters' shared toolkit: `ConfigReader` (typed keys, key paths, unknown
/// keys), `WeightReader` (missing, misshaped, unused weights, absurd sizes) and
/// `StateLayout` (stacking and layouts).
@Suite struct ToolkitTests {
  static func json(_ text: String) -> JSONValue { try! JSONValue(parsing: text) }

  /// A tensor whose scalars are 0, 1, 2, ... (distinct, so a misplaced element shows).
  static func iota(_ shape: [Int], from start: Int = 0) -> Tensor<Double> {
    Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { Double(start + $0) })
  }

  static func invalidKey(_ body: () throws -> Void) -> (key: String, value: String, reason: String)? {
    do { try body() } catch let RNNRefError.invalidConfig(key, value, reason) { return (key, value, reason) } catch {
      Issue.record("expected invalidConfig, got \(error)")
      return nil
    }
    Issue.record("expected invalidConfig, nothing thrown")
    return nil
  }

  // MARK: - ConfigReader

  @Test func unknownKeyIsRejectedWithItsPath() throws {
    let root = ConfigReader(Self.json(#"{"layers": [{"units": 3}, {"units": 4, "unitz": 5}]}"#), path: "config")
    let layers = try #require(try root.elements("layers"))
    try layers[0].rejectUnknownKeys(known: ["units"])
    let e = Self.invalidKey { try layers[1].rejectUnknownKeys(known: ["units", "activation"]) }
    #expect(e?.key == "config.layers[1].unitz")
    #expect(e?.value == "5")
    #expect(e?.reason.contains("activation, units") == true, "\(e?.reason ?? "")")
  }

  @Test func typedKeysNameTheirPathAndExpectation() throws {
    let kw = try #require(try ConfigReader(Self.json(#"{"kwargs": {"n": 2.5, "b": "yes", "m": -1, "d": 1.5}}"#)).object("kwargs"))
    #expect(Self.invalidKey { _ = try kw.int("n") }.map { [$0.key, $0.value, $0.reason] } == ["kwargs.n", "2.5", "expected an integer"])
    #expect(Self.invalidKey { _ = try kw.bool("b") }?.reason == "expected true or false")
    #expect(Self.invalidKey { _ = try kw.int("m", in: 1...Int.max) }?.reason == "expected an integer >= 1")
    #expect(Self.invalidKey { _ = try kw.double("d", in: 0...1) }?.key == "kwargs.d")
    #expect(Self.invalidKey { _ = try kw.int("absent", required: "needs absent") }.map { [$0.value, $0.reason] } == ["absent", "needs absent"])
    #expect(try kw.int("absent", default: 7) == 7)
    #expect(try kw.int("m", in: -1...0) == -1)
  }

  @Test func enumsAndNulls() throws {
    enum Dir: String, CaseIterable { case forward, reverse }
    let r = ConfigReader(Self.json(#"{"dir": "sideways", "ok": "reverse", "x": null}"#))
    let e = Self.invalidKey { _ = try r.enumValue("dir", as: Dir.self) }
    #expect(e?.reason == #"expected one of "forward", "reverse""#)
    #expect(try r.enumValue("ok", as: Dir.self) == .reverse)
    #expect(try r.bool("x") == nil)  // null is absent by default
    let strict = ConfigReader(r.value, nullIsAbsent: false)
    #expect(Self.invalidKey { _ = try strict.bool("x") }?.value == "null")
  }

  // MARK: - WeightReader

  @Test func wrongShapeNamesWeightShapesAndMeaning() throws {
    var reader = WeightReader(NamedTensors([("weight_hh_l0", Tensor<Double>(uncheckedZeros: [12, 5]))]))
    do {
      _ = try reader.take("weight_hh_l0", shape: [12, 4], "(3*hidden_size, hidden_size) with hidden_size=4")
      Issue.record("no error")
    } catch let e as RNNRefError {
      #expect(e == .shapeMismatch(name: "weight_hh_l0", actual: [12, 5], expected: [12, 4],
                                  reason: "(3*hidden_size, hidden_size) with hidden_size=4"))
      #expect(e.description.contains("`weight_hh_l0` has shape [12, 5], expected [12, 4]"), "\(e)")
    }
  }

  @Test func missingAndUnusedWeightsAreReported() throws {
    let w = NamedTensors([("a", Tensor<Double>(uncheckedZeros: [2])), ("b", Tensor<Double>(uncheckedZeros: [3])), ("c", Tensor<Double>(uncheckedZeros: [1]))])
    var reader = WeightReader(w)
    #expect(throws: RNNRefError.missingWeight(name: "z", expectedShape: [4], reason: "why")) {
      _ = try reader.take("z", shape: [4], "why")
    }
    _ = try reader.take("b", shape: [3], "b")
    #expect(try reader.takeIfPresent("y", shape: [1], "y") == nil)
    #expect(reader.unused == ["a", "c"])
    #expect(throws: RNNRefError.unusedWeights(names: ["a", "c"])) { try reader.finish() }
    _ = try reader.take("a", shape: [2], "a")
    _ = try reader.take("c", shape: [1], "c")
    try reader.finish()
    #expect(throws: RNNRefError.unusedWeights(names: ["b", "c"])) { try reader.rejectOthers(than: ["a"]) }
  }

  @Test func absurdSizesAreRefusedBeforeAnyPlan() throws {
    let reader = WeightReader(NamedTensors([("w", Tensor<Double>(uncheckedZeros: [16, 3])), ("r", Tensor<Double>(uncheckedZeros: [16, 4]))]))
    try reader.checkSize(16, key: "hidden_size", fix: "fix it")
    let big = Self.invalidKey { try reader.checkSize(1_000_000_000, key: "kwargs.hidden_size", fix: "fix it") }
    #expect(big?.key == "kwargs.hidden_size" && big?.value == "1000000000")
    #expect(big?.reason.contains("largest is 16") == true, "\(big?.reason ?? "")")
    try reader.checkCount(1, key: "kwargs.num_layers", weightsEach: 2, unit: "layer", fix: "fix it")
    let many = Self.invalidKey { try reader.checkCount(1_000_000_000, key: "kwargs.num_layers", weightsEach: 2, unit: "layer", fix: "fix it") }
    #expect(many?.reason.contains("2000000000 in all, but 2 are given") == true, "\(many?.reason ?? "")")
    let overflow = Self.invalidKey { try reader.checkCount(Int.max, key: "n", weightsEach: 4, unit: "layer", fix: "fix it") }
    #expect(overflow?.reason.contains("more than can exist") == true)
    // No weights at all: the missing weight is the clearer error, so sizes pass.
    try WeightReader(NamedTensors<Double>()).checkSize(1_000_000_000, key: "k", fix: "")
  }

  // MARK: - StateLayout

  @Test func stackingRoundTripsAndIndexesLayerTimesDirection() {
    let layers = 2, dirs = 2, n = 3, h = 4
    let states = (0..<layers).map { l in (0..<dirs).map { d in Self.iota([n, h], from: 100 * (l * dirs + d)) } }
    let stacked = StateLayout.stackLayers(states)
    #expect(stacked.shape == [layers * dirs, n, h])
    // element [layer*D + dir, b, k] is states[layer][dir][b, k]
    for l in 0..<layers { for d in 0..<dirs { for b in 0..<n { for k in 0..<h {
      #expect(stacked.scalars[stacked.flatIndex([l * dirs + d, b, k])] == states[l][d].scalars[b * h + k])
    } } } }
    #expect(StateLayout.unstackLayers(stacked, layers: layers, directions: dirs) == states)
    let ls = StateLayout.layerStates(h: stacked, c: nil, layers: layers, directions: dirs)
    #expect(ls[1][0].h == states[1][0] && ls[1][0].c == nil)
  }

  @Test func stackOnInnerAxisAndLayouts() {
    let parts = [Self.iota([5, 3, 2]), Self.iota([5, 3, 2], from: 1000)]
    let y = StateLayout.stack(parts, axis: 1)  // ONNX Y: [T, D, N, H]
    #expect(y.shape == [5, 2, 3, 2])
    #expect(y.scalars[y.flatIndex([4, 1, 2, 1])] == parts[1].scalars[parts[1].flatIndex([4, 2, 1])])
    #expect(StateLayout.unstack(y, axis: 1) == parts)

    let x = Self.iota([3, 5, 2])  // (N, T, F)
    let t = StateLayout.timeMajor(x, batchMajor: true)
    #expect(t.shape == [5, 3, 2])
    #expect(t.scalars[t.flatIndex([4, 1, 0])] == x.scalars[x.flatIndex([1, 4, 0])])
    #expect(StateLayout.native(t, batchMajor: true) == x)
    #expect(StateLayout.timeMajor(x, batchMajor: false) == x)
  }
}
