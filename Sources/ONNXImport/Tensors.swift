import Foundation
import ONNXProto
import RNNRef

/// The ONNX element types this reader takes (`TensorProto.DataType`). Float types become the
/// run's scalar (`Float` or `Double`); the integer types and bool are kept exact as `Int64`.
public enum ONNXElementType: Int32, Sendable, CaseIterable {
  case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, double = 11

  public var isFloatingPoint: Bool { self == .float || self == .double }
  /// Bytes per element in `raw_data`.
  var byteSize: Int {
    switch self {
    case .uint8, .int8, .bool: 1
    case .uint16, .int16: 2
    case .float, .int32: 4
    case .int64, .double: 8
    }
  }
  /// numpy's name, as the reports and `DType` spell it.
  public var name: String {
    switch self {
    case .float: "float32"
    case .double: "float64"
    case .uint8: "uint8"
    case .int8: "int8"
    case .uint16: "uint16"
    case .int16: "int16"
    case .int32: "int32"
    case .int64: "int64"
    case .bool: "bool"
    }
  }

  /// The element type of `code`, or an error naming it (float16, bfloat16, strings, complex, ...).
  static func from(_ code: Int32, path: String, what: String) throws -> ONNXElementType {
    if let t = ONNXElementType(rawValue: code) { return t }
    let known: [Int32: String] = [8: "string", 10: "float16", 12: "uint32", 13: "uint64", 14: "complex64",
                                  15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
                                  19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1"]
    throw ONNXImportError(.unsupported, path: path,
      "\(what) has element type \(known[code] ?? "code \(code)"), which rnnconf does not read "
        + "(float32, float64, int8/16/32/64, uint8/16 and bool only); cast it in the exporter")
  }
}

/// A dense tensor of any element (`shape` row-major); the interpreter's layout operations are
/// written once over it.
struct Dense<Element: Sendable>: Sendable {
  var shape: [Int]
  var data: [Element]
  var count: Int { data.count }
  var rank: Int { shape.count }
}

/// A value in the graph: a floating-point tensor in the run's scalar, or an integer one (exact).
enum Value<Scalar: RNNScalar>: Sendable {
  case real(Dense<Scalar>, ONNXElementType)
  case integer(Dense<Int64>, ONNXElementType)

  var shape: [Int] {
    switch self { case .real(let d, _): d.shape; case .integer(let d, _): d.shape }
  }
  var elementType: ONNXElementType {
    switch self { case .real(_, let t), .integer(_, let t): t }
  }
}

/// Limits on what a model may declare, checked before anything is allocated.
public enum ONNXLimits {
  /// Largest model file read (bytes): 1 GiB.
  public static let maxModelBytes = 1 << 30
  /// Largest tensor file (`input_K.pb`, `output_K.pb`) read: 1 GiB.
  public static let maxTensorFileBytes = 1 << 30
  /// Most elements of one tensor, stored or computed: 2^27 (1 GiB as Double).
  public static let maxElements = 1 << 27

  /// Most dimensions of one tensor: 64 (as numpy's `.npy` reader allows; the layout
  /// operations recurse once per axis).
  public static let maxRank = 64

  /// The element count of `shape`, or an error when a dimension is negative, the rank passes
  /// `maxRank` or the count passes the cap.
  static func elementCount(_ shape: [Int], path: String, what: String) throws -> Int {
    guard shape.count <= maxRank else {
      throw ONNXImportError(.invalidTensor, path: path, "\(what) has \(shape.count) dimensions, more than \(maxRank) (rnnconf's cap)")
    }
    var n = 1
    for d in shape {
      guard d >= 0 else { throw ONNXImportError(.invalidTensor, path: path, "\(what) has a negative dimension in shape \(shape)") }
      let (m, overflow) = n.multipliedReportingOverflow(by: d)
      guard !overflow, m <= maxElements else {
        throw ONNXImportError(.invalidTensor, path: path,
          "\(what) has shape \(shape), more than \(maxElements) elements (rnnconf's cap for one tensor); the file is corrupt or not a recurrent test model")
      }
      n = m
    }
    return n
  }
}

extension Value {
  /// Decodes a stored tensor (an initializer, a `Constant`'s value, an `input_K.pb`): `raw_data`
  /// (little-endian) or the typed field the spec assigns to the element type. The declared size is
  /// checked against the cap and against the data before any array is made; external data and
  /// segments are refused.
  static func decode(_ t: Onnx_TensorProto, path: String, what: String) throws -> Value {
    let type = try ONNXElementType.from(t.dataType, path: path, what: what)
    if t.dataLocation == .external || !t.externalData.isEmpty {
      throw ONNXImportError(.unsupported, path: path,
        "\(what) keeps its data in an external file (data_location EXTERNAL); rnnconf reads self-contained models only: "
          + "save it with onnx.save_model(model, path, save_as_external_data=False)")
    }
    if t.hasSegment {
      throw ONNXImportError(.unsupported, path: path, "\(what) is a segment of a larger tensor, which rnnconf does not read")
    }
    guard t.dims.allSatisfy({ $0 >= 0 && $0 <= Int64(ONNXLimits.maxElements) }) else {
      throw ONNXImportError(.invalidTensor, path: path, "\(what) declares dims \(t.dims): each must be in 0...\(ONNXLimits.maxElements)")
    }
    let shape = t.dims.map { Int($0) }
    let count = try ONNXLimits.elementCount(shape, path: path, what: what)
    func mismatch(_ have: Int, _ field: String) -> ONNXImportError {
      ONNXImportError(.invalidTensor, path: path,
        "\(what) declares shape \(shape) (\(count) \(type.name) elements) but its \(field) holds \(have)")
    }
    if !t.rawData.isEmpty || (count == 0 && t.floatData.isEmpty && t.doubleData.isEmpty && t.int32Data.isEmpty && t.int64Data.isEmpty) {
      let raw = t.rawData
      guard raw.count == count * type.byteSize else {
        throw mismatch(raw.count, "raw_data (bytes; \(type.byteSize) per element)")
      }
      return raw.withUnsafeBytes { (buf: UnsafeRawBufferPointer) -> Value in
        func le<T: FixedWidthInteger>(_ k: Int, _: T.Type) -> T { T(littleEndian: buf.loadUnaligned(fromByteOffset: k * MemoryLayout<T>.size, as: T.self)) }
        switch type {
        case .float: return .real(Dense(shape: shape, data: (0..<count).map { Scalar(Float(bitPattern: le($0, UInt32.self))) }), type)
        case .double: return .real(Dense(shape: shape, data: (0..<count).map { Scalar(Double(bitPattern: le($0, UInt64.self))) }), type)
        case .int64: return .integer(Dense(shape: shape, data: (0..<count).map { le($0, Int64.self) }), type)
        case .int32: return .integer(Dense(shape: shape, data: (0..<count).map { Int64(le($0, Int32.self)) }), type)
        case .int16: return .integer(Dense(shape: shape, data: (0..<count).map { Int64(le($0, Int16.self)) }), type)
        case .uint16: return .integer(Dense(shape: shape, data: (0..<count).map { Int64(le($0, UInt16.self)) }), type)
        case .int8: return .integer(Dense(shape: shape, data: (0..<count).map { Int64(le($0, Int8.self)) }), type)
        case .uint8: return .integer(Dense(shape: shape, data: (0..<count).map { Int64(le($0, UInt8.self)) }), type)
        case .bool: return .integer(Dense(shape: shape, data: (0..<count).map { le($0, UInt8.self) != 0 ? 1 : 0 }), type)
        }
      }
    }
    switch type {
    case .float:
      guard t.floatData.count == count else { throw mismatch(t.floatData.count, "float_data") }
      return .real(Dense(shape: shape, data: t.floatData.map { Scalar($0) }), type)
    case .double:
      guard t.doubleData.count == count else { throw mismatch(t.doubleData.count, "double_data") }
      return .real(Dense(shape: shape, data: t.doubleData.map { Scalar($0) }), type)
    case .int64:
      guard t.int64Data.count == count else { throw mismatch(t.int64Data.count, "int64_data") }
      return .integer(Dense(shape: shape, data: t.int64Data), type)
    case .int32, .int16, .uint16, .int8, .uint8, .bool:
      guard t.int32Data.count == count else { throw mismatch(t.int32Data.count, "int32_data") }
      return .integer(Dense(shape: shape, data: t.int32Data.map { type == .bool ? ($0 != 0 ? 1 : 0) : Int64($0) }), type)
    }
  }

  /// A floating-point view (integers converted), for outputs and the recurrent nodes' inputs.
  var realTensor: Tensor<Scalar> {
    switch self {
    case .real(let d, _): Tensor(uncheckedShape: d.shape, scalars: d.data)
    case .integer(let d, _): Tensor(uncheckedShape: d.shape, scalars: d.data.map { Scalar($0) })
    }
  }
}

/// Reads one `TensorProto` file of an ONNX backend test (`input_K.pb`, `output_K.pb`).
public enum ONNXTensorFile {
  /// The tensor's stored name (may be empty), its element type and values (as `Double`: exact for
  /// float32, float64 and integers up to 2^53).
  public static func read(path: String) throws -> (name: String, type: ONNXElementType, tensor: Tensor<Double>) {
    let bytes: [UInt8]
    do { bytes = try ONNXModel.readFile(path, limit: ONNXLimits.maxTensorFileBytes) }
    let proto: Onnx_TensorProto
    do { proto = try Onnx_TensorProto(serializedBytes: bytes) } catch {
      throw ONNXImportError(.malformed, path: path, "not a valid ONNX TensorProto (protobuf parse failed: \(error))", underlying: error)
    }
    let v = try Value<Double>.decode(proto, path: path, what: "tensor `\(proto.name)`")
    return (proto.name, v.elementType, v.realTensor)
  }
}
