import CHDF5

/// The type a dataset or attribute stores, as numpy/h5py would name it.
public enum StoredType: Equatable, Sendable, CustomStringConvertible {
  /// IEEE float of 16, 32 or 64 bits (any byte order).
  case float(bits: Int)
  /// Two's-complement (`signed`) or unsigned integer of 8-64 bits.
  case integer(signed: Bool, bits: Int)
  /// h5py's boolean: an enum of int8 with members FALSE/TRUE.
  case boolean
  /// A string: `length` nil for variable-length; `utf8` false means ASCII cset.
  case string(length: Int?, utf8: Bool)
  /// Anything else (compound, opaque, reference, array, enum, vlen sequence...).
  case other(String)

  public var isNumeric: Bool {
    switch self {
    case .float, .integer: return true
    default: return false
    }
  }

  public var isString: Bool { if case .string = self { true } else { false } }

  /// numpy-style name: "float32", "int64", "uint8", "bool", "|S12", "str".
  public var description: String {
    switch self {
    case let .float(bits): return "float\(bits)"
    case let .integer(signed, bits): return (signed ? "int" : "uint") + "\(bits)"
    case .boolean: return "bool"
    case let .string(length?, utf8): return "S\(length)" + (utf8 ? " (utf-8)" : "")
    case let .string(nil, utf8): return "str (variable-length, " + (utf8 ? "utf-8)" : "ascii)")
    case let .other(s): return s
    }
  }
}

extension StoredType {
  /// Describes a libhdf5 datatype. Inside `Library.sync`.
  static func of(_ type: hid_t) -> StoredType {
    let size = H5Tget_size(type)
    let cls = H5Tget_class(type)
    if cls == H5T_FLOAT { return .float(bits: size * 8) }
    if cls == H5T_INTEGER { return .integer(signed: H5Tget_sign(type) == H5T_SGN_2, bits: size * 8) }
    if cls == H5T_STRING {
      let utf8 = H5Tget_cset(type) == H5T_CSET_UTF8
      return .string(length: H5Tis_variable_str(type) > 0 ? nil : size, utf8: utf8)
    }
    if cls == H5T_ENUM {
      let n = H5Tget_nmembers(type)
      if n == 2, size == 1 {
        var names: [String] = []
        for i in 0..<UInt32(n) {
          if let p = H5Tget_member_name(type, i) {
            names.append(decodeCString(p))
            H5free_memory(p)
          }
        }
        if names == ["FALSE", "TRUE"] { return .boolean }
      }
      return .other("enum(\(n) members, \(size * 8)-bit)")
    }
    if cls == H5T_COMPOUND { return .other("compound(\(H5Tget_nmembers(type)) fields, \(size) bytes)") }
    if cls == H5T_OPAQUE { return .other("opaque(\(size) bytes)") }
    if cls == H5T_REFERENCE { return .other("reference") }
    if cls == H5T_ARRAY { return .other("array type (\(size) bytes)") }
    if cls == H5T_VLEN { return .other("variable-length sequence") }
    if cls == H5T_BITFIELD { return .other("bitfield(\(size * 8)-bit)") }
    if cls == H5T_TIME { return .other("time") }
    return .other("unknown type class \(cls.rawValue)")
  }
}

/// The Swift element types numeric data can be read into and written from.
public enum NumericKind: Sendable {
  case float32, float64, int8, uint8, int16, int32, int64, uint64
}

/// A Swift scalar the HDF5 layer reads and writes: Float, Double, Int,
/// Int8, UInt8, Int16, Int32, Int64, UInt64.
public protocol HDF5Numeric: Sendable {
  static var hdf5Kind: NumericKind { get }
}
extension Float: HDF5Numeric { public static var hdf5Kind: NumericKind { .float32 } }
extension Double: HDF5Numeric { public static var hdf5Kind: NumericKind { .float64 } }
extension Int: HDF5Numeric { public static var hdf5Kind: NumericKind { .int64 } }
extension Int8: HDF5Numeric { public static var hdf5Kind: NumericKind { .int8 } }
extension UInt8: HDF5Numeric { public static var hdf5Kind: NumericKind { .uint8 } }
extension Int16: HDF5Numeric { public static var hdf5Kind: NumericKind { .int16 } }
extension Int32: HDF5Numeric { public static var hdf5Kind: NumericKind { .int32 } }
extension Int64: HDF5Numeric { public static var hdf5Kind: NumericKind { .int64 } }
extension UInt64: HDF5Numeric { public static var hdf5Kind: NumericKind { .uint64 } }

extension NumericKind {
  var isFloat: Bool { self == .float32 || self == .float64 }

  /// The native in-memory type. Inside `Library.sync`.
  var memoryType: hid_t {
    switch self {
    case .float32: return chdf5_T_NATIVE_FLOAT()
    case .float64: return chdf5_T_NATIVE_DOUBLE()
    case .int8: return chdf5_T_NATIVE_INT8()
    case .uint8: return chdf5_T_NATIVE_UINT8()
    case .int16: return chdf5_T_NATIVE_INT16()
    case .int32: return chdf5_T_NATIVE_INT32()
    case .int64: return chdf5_T_NATIVE_INT64()
    case .uint64: return chdf5_T_NATIVE_UINT64()
    }
  }

  /// The little-endian file type h5py/numpy would write. Inside `Library.sync`.
  var fileType: hid_t {
    switch self {
    case .float32: return chdf5_T_IEEE_F32LE()
    case .float64: return chdf5_T_IEEE_F64LE()
    case .int8: return chdf5_T_STD_I8LE()
    case .uint8: return chdf5_T_STD_U8LE()
    case .int16: return chdf5_T_STD_I16LE()
    case .int32: return chdf5_T_STD_I32LE()
    case .int64: return chdf5_T_STD_I64LE()
    case .uint64: return chdf5_T_STD_U64LE()
    }
  }

  var size: Int {
    switch self {
    case .int8, .uint8: return 1
    case .int16: return 2
    case .float32, .int32: return 4
    case .float64, .int64, .uint64: return 8
    }
  }
}

/// What a dataspace holds.
public enum Extent: Equatable, Sendable {
  /// One element (shape `[]`).
  case scalar
  /// An N-dimensional array.
  case simple([Int])
  /// No data at all (h5py `Empty`).
  case null

  /// `[]` for scalar and null, the dimensions otherwise.
  public var shape: [Int] {
    if case .simple(let d) = self { return d }
    return []
  }

  /// Number of elements (0 for null), or nil when it overflows Int.
  public var count: Int? {
    switch self {
    case .scalar: return 1
    case .null: return 0
    case .simple(let dims):
      var n = 1
      for d in dims {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
      }
      return n
    }
  }

  /// Reads a dataspace. Inside `Library.sync`.
  static func of(space: hid_t, _ loc: Location, _ op: String) throws -> Extent {
    let kind = H5Sget_simple_extent_type(space)
    if kind == H5S_SCALAR { return .scalar }
    if kind == H5S_NULL { return .null }
    let rank = try loc.check(H5Sget_simple_extent_ndims(space), op)
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    try loc.check(H5Sget_simple_extent_dims(space, &dims, nil), op)
    return .simple(dims.map { Int(clamping: $0) })
  }
}

/// The default read limit: 1 GiB. Reads declaring more are refused before allocating.
public let defaultReadLimitBytes = 1 << 30

func formatBytes(_ n: Double) -> String {
  let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
  var v = n, u = 0
  while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
  return u == 0 ? "\(Int(v)) bytes" : String(format1: v) + " " + units[u]
}

extension String {
  init(format1 v: Double) {
    let r = (v * 10).rounded() / 10
    self = r == r.rounded() ? String(Int(r)) : String(r)
  }
}
