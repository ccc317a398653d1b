import Foundation
import RNNRef

/// One line of `rnnconf list`: a case's framework, cell and tensor shapes, or why it could not be read.
public struct CaseListing: Codable, Equatable, Sendable {
  public struct Entry: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
  }
  public var name: String
  public var path: String
  public var framework: Framework?
  public var cell: CellFamily?
  public var dtype: DType?
  public var inputs: [Entry]
  public var outputs: [Entry]
  /// Set when the file could not be loaded.
  public var error: String?
  /// The typed error `error` was written from; not encoded, not compared.
  public var underlying: (any Error)?

  public init(name: String, path: String, framework: Framework? = nil, cell: CellFamily? = nil, dtype: DType? = nil,
              inputs: [Entry] = [], outputs: [Entry] = [], error: String? = nil, underlying: (any Error)? = nil) {
    self.name = name; self.path = path; self.framework = framework; self.cell = cell; self.dtype = dtype
    self.inputs = inputs; self.outputs = outputs; self.error = error; self.underlying = underlying
  }

  enum CodingKeys: String, CodingKey { case name, path, framework, cell, dtype, inputs, outputs, error }

  public static func == (a: CaseListing, b: CaseListing) -> Bool {
    a.name == b.name && a.path == b.path && a.framework == b.framework && a.cell == b.cell && a.dtype == b.dtype
      && a.inputs == b.inputs && a.outputs == b.outputs && a.error == b.error
  }

  /// "pytorch/lstm_basic  pytorch  lstm  float32  input [5, 3, 4] -> output [5, 3, 6], h_n [1, 3, 6], c_n [1, 3, 6]".
  public var line: String {
    if let error { return "\(name)  ERROR \(error)" }
    func list(_ e: [Entry]) -> String {
      e.map { "\($0.name) [" + $0.shape.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ")
    }
    return "\(name)  \(framework?.rawValue ?? "?")  \(cell?.rawValue ?? "?")  \(dtype?.rawValue ?? "?")  \(list(inputs)) -> \(list(outputs))"
  }
}

extension Runner {
  /// The cases a run with these options would consider, loaded (in parallel) for their shapes.
  public func list(_ options: RunOptions) throws -> [CaseListing] {
    let (_, files) = try select(options)
    let slots = Slots<CaseListing>(count: files.count)
    DispatchQueue.concurrentPerform(iterations: files.count) { k in
      let file = files[k]
      if let problem = file.problem {  // never opened (see CaseFile.problem)
        slots.set(k, CaseListing(name: file.name, path: file.path, error: "cannot open the case file: \(problem)"))
        return
      }
      do {
        let c = try self.loader(file.path)
        if let fw = options.framework, c.framework != fw { return }
        if let cell = options.cell, c.cell != cell { return }
        // A config its adapter cannot read is listed as an error, as `run` would report it.
        do { _ = try Conventions.convention(for: c.framework, config: c.config).parsed(config: c.config) } catch {
          slots.set(k, CaseListing(name: file.name, path: file.path,
                                   error: "\(file.path): the \(c.framework) adapter cannot read the root attribute `config`: \(error)",
                                   underlying: error))
          return
        }
        slots.set(k, CaseListing(
          name: file.name, path: file.path, framework: c.framework, cell: c.cell, dtype: c.dtype,
          inputs: c.inputs.entries.map { .init(name: $0.name, shape: $0.tensor.shape) },
          outputs: c.outputs.entries.map { .init(name: $0.name, shape: $0.tensor.shape) }))
      } catch {
        if !file.explicit && self.isNotACase(error) { return }
        slots.set(k, CaseListing(name: file.name, path: file.path, error: "could not load the case file: \(error)",
                                 underlying: error))
      }
    }
    return slots.values.compactMap { $0 }
  }
}

final class Slots<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [T?]
  init(count: Int) { storage = Array(repeating: nil, count: count) }
  func set(_ k: Int, _ value: T) { lock.lock(); storage[k] = value; lock.unlock() }
  var values: [T?] { lock.lock(); defer { lock.unlock() }; return storage }
}
