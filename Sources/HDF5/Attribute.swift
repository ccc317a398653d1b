import CHDF5

/// An attribute of a group or dataset.
public final class Attribute {
  let handle: Handle
  /// The group or dataset carrying it (kept alive, and with it the file).
  public let owner: Object
  public let name: String

  init(handle: Handle, owner: Object, name: String) {
    self.handle = handle; self.owner = owner; self.name = name
  }

  private func withReader<R>(_ op: String, _ body: (Reader) throws -> R) throws -> R {
    try Library.sync {
      let loc = Location(file: owner.file.path, path: owner.path == "/" ? "/@\(name)" : owner.path + "@" + name)
      let type = try Handle(H5Aget_type(handle.id), loc, op, close: H5Tclose)
      let space = try Handle(H5Aget_space(handle.id), loc, op, close: H5Sclose)
      let id = handle.id
      return try body(Reader(file: owner.file, loc: loc, op: op, type: type.id, space: space.id) { mem, _, _, buf in
        H5Aread(id, mem, buf)
      })
    }
  }

  public var extent: Extent { get throws { try withReader("get attribute shape") { try $0.extent() } } }
  public var shape: [Int] { get throws { try extent.shape } }
  public var storedType: StoredType { get throws { try withReader("get attribute type") { $0.storedType() } } }

  /// Every element as `T` (see `Dataset.read`).
  public func read<T: HDF5Numeric>(as: T.Type = T.self, limitBytes: Int = defaultReadLimitBytes) throws -> [T] {
    try withReader("read attribute `\(name)` as \(T.self)") { try $0.numeric(T.self, limit: limitBytes) }
  }

  /// The single element of a scalar (or one-element) numeric attribute.
  public func readScalar<T: HDF5Numeric>(as: T.Type = T.self) throws -> T {
    try withReader("read attribute `\(name)` as \(T.self)") { r in
      let v = try r.numeric(T.self, limit: defaultReadLimitBytes)
      guard v.count == 1 else {
        throw r.loc.error(.typeMismatch, r.op, "it holds \(v.count) values, expected one", hint: "Read it with read()")
      }
      return v[0]
    }
  }

  /// Strings of a string attribute (fixed-length byte strings or variable-length), in stored order.
  public func readStrings(limitBytes: Int = defaultReadLimitBytes) throws -> [String] {
    try withReader("read attribute `\(name)` as strings") { try $0.strings(limit: limitBytes) }
  }

  /// The single string of a scalar (or one-element) string attribute.
  public func readString() throws -> String {
    try withReader("read attribute `\(name)` as a string") { r in
      let v = try r.strings(limit: defaultReadLimitBytes)
      guard v.count == 1 else {
        throw r.loc.error(.typeMismatch, r.op, "it holds \(v.count) strings, expected one", hint: "Read it with readStrings()")
      }
      return v[0]
    }
  }

  /// The value decoded by its stored type.
  public func value(limitBytes: Int = defaultReadLimitBytes) throws -> AttributeValue {
    try withReader("read attribute `\(name)`") { r in
      let ext = try r.extent()
      let st = r.storedType()
      if ext == .null { return .empty(st) }
      switch st {
      case .float: return .floats(try r.numeric(Double.self, limit: limitBytes), shape: ext.shape)
      case .integer(false, 64):
        return .integers(try r.numeric(UInt64.self, limit: limitBytes).map { Int(clamping: $0) }, shape: ext.shape)
      case .integer: return .integers(try r.numeric(Int.self, limit: limitBytes), shape: ext.shape)
      case .string: return .strings(try r.strings(limit: limitBytes), shape: ext.shape)
      case .boolean: return .booleans(try r.booleans(limit: limitBytes), shape: ext.shape)
      case .other: return .unsupported(st, shape: ext.shape)
      }
    }
  }
}
