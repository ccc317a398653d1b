import Foundation
import Testing
import Conformance
import HDF5
import KerasImport

/// The Swift API as a caller outside the package sees it (issue 14): `import KerasImport`
/// alone (this file imports neither RNNRef nor KerasImport as `@testable`), the README's
/// example, throwing tensor initializers, `Codable` tensors, a `Sendable` model whose stateful
/// layers keep their states in a value the caller holds, and `LocalizedError`s.
@Suite struct SwiftAPITests {
  // MARK: - The README example

  static let exampleSource = Paths.root + "/Examples/rnnconf-example/main.swift"

  static var exampleBinary: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rnnconf-example").path
  }

  /// The README quotes the example's source verbatim, in one ```swift block.
  @Test func readmeQuotesTheExampleVerbatim() throws {
    let source = try String(contentsOfFile: Self.exampleSource, encoding: .utf8)
    let readme = try String(contentsOfFile: Paths.root + "/README.md", encoding: .utf8)
    let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    #expect(blocks.contains(source),
            "README.md must hold Examples/rnnconf-example/main.swift verbatim in a ```swift block; copy the file into it again")
  }

  static func runExample(_ args: [String]) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exampleBinary)
    p.arguments = args
    let o = Pipe()
    p.standardOutput = o
    p.standardError = o
    try p.run()
    let data = o.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// The example runs on a model Keras saved and prints what the library computes for the
  /// inputs it describes (batch 2, 5 steps, x[k] = (k % 7) / 7 - 0.5); the library's own
  /// numbers are checked against Keras on this model by LayerModelTests.
  @Test func exampleRunsOnAKerasModel() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.exampleBinary), "build the example first (swift build)")
    let path = Paths.data + "/models/k2_seq_stacked.h5"
    let r = try Self.runExample([path])
    #expect(r.status == 0, "\(r.out)")
    #expect(r.out.contains("Model: \"seq_stacked\""), "\(r.out)")
    #expect(r.out.contains("recurrent layer stacked: 2 canonical layer(s)"), "\(r.out)")
    #expect(r.out.contains("recurrent layer back: 1 canonical layer(s)"), "\(r.out)")

    let model = try KerasModel(contentsOf: URL(fileURLWithPath: path))
    #expect(model.inputShapes == [[nil, 5, 3]])
    let x = try Tensor<Float>(shape: [2, 5, 3], scalars: (0..<30).map { Float($0 % 7) / 7 - 0.5 })
    let y = try model.predict([x])[0]
    #expect(y.shape == [2, 2])
    let line = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("output back shape [2, 2]: ") }, "\(r.out)")
    let printed = line.split(separator: ":").last!.split(separator: " ").compactMap { Float(String($0)) }
    #expect(printed.count == 4)
    for (p, e) in zip(printed, y.scalars) { #expect(abs(p - e) <= 1e-6 * max(1, abs(e)), "printed \(printed), computed \(y.scalars)") }
  }

  /// A model that cannot be loaded is a message and exit 1; no argument is a usage line.
  @Test func exampleReportsErrors() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.exampleBinary), "build the example first (swift build)")
    let missing = try Self.runExample([Paths.data + "/models/no_such_model.h5"])
    #expect(missing.status == 1)
    #expect(missing.out.hasPrefix("error: ") && missing.out.contains("no_such_model.h5"), "\(missing.out)")
    let usage = try Self.runExample([])
    #expect(usage.status == 64 && usage.out.hasPrefix("usage: "), "\(usage.out)")
  }

  // MARK: - Tensor

  @Test func tensorInitializersThrowOnWrongShapes() throws {
    let t = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    #expect(t[[1, 2]] == 6)
    #expect(try Tensor<Double>(shape: [], scalars: [4]).count == 1, "shape [] is a scalar")
    #expect(try Tensor<Double>(zeros: [2, 0, 3]).scalars.isEmpty)

    #expect(throws: TensorShapeError(shape: [2, 3], scalarCount: 5)) { try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5]) }
    #expect(throws: TensorShapeError(shape: [2, -3], scalarCount: 6)) { try Tensor<Float>(shape: [2, -3], scalars: [1, 2, 3, 4, 5, 6]) }
    #expect(throws: TensorShapeError(shape: [-1], scalarCount: nil)) { try Tensor<Float>(zeros: [-1]) }
    // A shape whose product overflows Int is a wrong shape, not a trap.
    #expect(throws: TensorShapeError.self) { try Tensor<Float>(zeros: [Int.max, 3]) }
    #expect(throws: TensorShapeError.self) { try Tensor<Float>(shape: [1 << 40, 1 << 40], scalars: []) }

    do {
      _ = try Tensor<Float>(shape: [2, 3], scalars: [1, 2])
      Issue.record("a wrong count must throw")
    } catch {
      #expect(error.localizedDescription == "shape [2, 3] holds 6 scalars (the product of its dimensions), got 2; give 6 scalars in row-major order or a shape whose product is 2")
    }
    do {
      _ = try Tensor<Float>(zeros: [3, -2])
      Issue.record("a negative dimension must throw")
    } catch {
      #expect(error.localizedDescription == "shape [3, -2] has a negative dimension (-2 on axis 1); every dimension must be >= 0")
    }
  }

  @Test func tensorIsCodable() throws {
    let t = try Tensor<Double>(shape: [2, 1, 2], scalars: [0.1, -2, 3.5e-300, 7])
    let json = try JSONEncoder().encode(t)
    #expect(String(decoding: json, as: UTF8.self).contains("\"shape\":[2,1,2]"))
    #expect(try JSONDecoder().decode(Tensor<Double>.self, from: json) == t)
    let f = try Tensor<Float>(shape: [3], scalars: [1.5, -0.25, 1e-7])
    #expect(try JSONDecoder().decode(Tensor<Float>.self, from: JSONEncoder().encode(f)) == f)

    let wrong = Data(#"{"shape": [2, 2], "scalars": [1, 2, 3]}"#.utf8)
    do {
      _ = try JSONDecoder().decode(Tensor<Double>.self, from: wrong)
      Issue.record("a shape that does not fit the scalars must not decode")
    } catch let DecodingError.dataCorrupted(context) {
      #expect(context.debugDescription.contains("shape [2, 2] holds 4 scalars"), "\(context.debugDescription)")
    }
  }

  // MARK: - Sendable model, states the caller holds

  /// A fixture's model file and its case (inputs and Keras' outputs, call by call).
  static func fixtureModel(_ name: String) throws -> (model: KerasModel, case: Case, file: URL) {
    let path = Paths.root + "/fixtures/keras/\(name).h5"
    let c = try Case.load(path: path)
    let file = tempURL("\(name).h5")
    try Data(try Case.artifact(path: path, name: "model.h5")).write(to: file)
    return (try KerasModel(contentsOf: file), c, file)
  }

  static func call(_ c: Case, _ k: Int) -> (inputs: [Tensor<Double>], expected: [Tensor<Double>]) {
    (c.inputs.entries.filter { $0.name.hasSuffix("_call\(k)") }.map(\.tensor),
     c.outputs.entries.filter { $0.name.hasSuffix("_call\(k)") }.map(\.tensor))
  }

  /// Each task of a TaskGroup holds its own `States` and replays the stateful fixture's calls
  /// on one shared model: every task gets Keras' outputs call by call, as sequential calls do.
  @Test func statefulModelFromATaskGroupWithStatesTheCallerHolds() async throws {
    let (model, c, file) = try Self.fixtureModel("k2_lstm_stateful")
    defer { try? FileManager.default.removeItem(at: file) }
    #expect(model.hasStatefulLayers)
    let calls = try #require(c.config["calls"]?.int)
    #expect(calls >= 2)
    let (atol, rtol) = (c.atol, c.rtol)
    let results = try await withThrowingTaskGroup(of: [[Tensor<Double>]].self) { group in
      for _ in 0..<8 {
        group.addTask {
          var states = KerasModel.States()
          return try (0..<calls).map { k in try model.predict(Self.call(c, k).inputs, states: &states) }
        }
      }
      var all: [[[Tensor<Double>]]] = []
      for try await r in group { all.append(r) }
      return all
    }
    #expect(results.count == 8)
    for r in results {
      for k in 0..<calls {
        let expected = Self.call(c, k).expected
        #expect(r[k].count == expected.count)
        for (o, e) in zip(r[k], expected) { #expect(mismatch(o, e, atol: atol, rtol: rtol) == nil, "call \(k)") }
      }
      #expect(r == results[0], "every task computes the same numbers")
    }
    // The second call depends on the first: a fresh States gives another result.
    var fresh = KerasModel.States()
    #expect(fresh.isEmpty)
    let second = try model.predict(Self.call(c, 1).inputs, states: &fresh)
    #expect(!fresh.isEmpty)
    #expect(second != results[0][1], "a stateful layer must start the second call from the first call's states")
    fresh.reset()
    #expect(fresh.isEmpty)
  }

  /// `predict(_:)` keeps the behaviour it had: the model's own states carry from call to call
  /// until `resetStates()`, equal to the states-you-hold path.
  @Test func ownStatesCarryUntilReset() throws {
    let (model, c, file) = try Self.fixtureModel("k2_gru_stateful")
    defer { try? FileManager.default.removeItem(at: file) }
    let calls = try #require(c.config["calls"]?.int)
    var held = KerasModel.States()
    for round in 0..<2 {
      for k in 0..<calls {
        let own = try model.predict(Self.call(c, k).inputs)
        if round == 0 { #expect(own == (try model.predict(Self.call(c, k).inputs, states: &held)), "call \(k)") }
        for (o, e) in zip(own, Self.call(c, k).expected) {
          #expect(mismatch(o, e, atol: c.atol, rtol: c.rtol) == nil, "round \(round), call \(k)")
        }
      }
      model.resetStates()
    }
  }

  /// A model without stateful layers runs concurrently: 16 tasks, one model, equal results.
  @Test func statelessModelFromATaskGroup() async throws {
    let path = Paths.data + "/models/k2_two_inputs.h5"
    let model = try KerasModel(contentsOf: URL(fileURLWithPath: path))
    #expect(!model.hasStatefulLayers)
    let refs = try HDF5.File(path: Paths.data + "/models/k2_two_inputs.refs.h5")
    let inputs = try (0..<2).map { k -> Tensor<Float> in
      let ds = try refs.dataset("input_\(k)")
      return try Tensor<Float>(shape: try ds.shape, scalars: try ds.read(as: Float.self))
    }
    let sequential = try model.predict(inputs)
    let parallel = try await withThrowingTaskGroup(of: [Tensor<Float>].self) { group in
      for _ in 0..<16 { group.addTask { try model.predict(inputs) } }
      var all: [[Tensor<Float>]] = []
      for try await r in group { all.append(r) }
      return all
    }
    #expect(parallel.count == 16)
    for r in parallel { #expect(r == sequential) }
  }

  /// A `States` belongs to the model it was first used with.
  @Test func statesOfAnotherModelAreRefused() throws {
    let (a, c, file) = try Self.fixtureModel("k2_lstm_stateful")
    defer { try? FileManager.default.removeItem(at: file) }
    let b = try KerasModel(contentsOf: file)
    var states = KerasModel.States()
    _ = try a.predict(Self.call(c, 0).inputs, states: &states)
    do {
      _ = try b.predict(Self.call(c, 1).inputs, states: &states)
      Issue.record("states of another model must be refused")
    } catch let e as KerasImportError {
      #expect(e.kind == .invalidInput)
      #expect(e.localizedDescription.contains("make a new KerasModel.States()"), "\(e)")
    }
  }

  // MARK: - Errors

  /// Every public error type describes itself through `localizedDescription`.
  @Test func publicErrorsAreLocalizedErrors() throws {
    let npyError = #expect(throws: NPY.Error.self) { try NPY.read(URL(fileURLWithPath: Paths.data + "/no_such_file.npy")) }
    let errors: [any LocalizedError] = [
      TensorShapeError(shape: [2], scalarCount: 3),
      KerasImportError(.invalidInput, "a message"),
      RNNRefError.missingInput(name: "x", reason: "needed"),
      try #require(npyError),
      NativeKernelError.unsupported(.portable),
      FileIOError(path: "x.h5", detail: "not a regular file"),
    ]
    for e in errors {
      let text = try #require(e.errorDescription)
      #expect(!text.isEmpty && (e as any Error).localizedDescription == text)
    }
    let predictError = #expect(throws: KerasImportError.self) {
      try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/k2_seq_stacked.h5"))
        .predict([try Tensor<Float>(shape: [2, 4, 3], scalars: Array(repeating: 0, count: 24))])
    }
    #expect(predictError?.localizedDescription.contains("has shape [2, 4, 3], the model expects (None, 5, 3)") == true)
  }
}
