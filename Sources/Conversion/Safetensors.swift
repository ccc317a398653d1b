import Foundation
#if canImport(Glibc)
import Glibc
private func systemRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { Glibc.read(fd, buf, n) }
#elseif canImport(Darwin)
import Darwin
private func systemRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int { Darwin.read(fd, buf, n) }
#endif
import HDF5
import RNNRef

/// The safetensors format (https://github.com/huggingface/safetensors), written and read here
/// without a dependency: an 8-byte little-endian header length `n`, `n` bytes of JSON
/// (`{"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
/// offsets relative to the end of the header, padded with spaces to a multiple of 8), then the
/// raw little-endian, row-major data of every tensor back to back.
public enum Safetensors {
  /// Largest header accepted when reading (the reference implementation's cap is 100 MB).
  public static let maxHeaderBytes = 100_000_000
  /// Largest file read (bytes); the whole file is read into memory.
  public static let maxFileBytes = 1 << 31

  /// A tensor read from a file: float data is widened to Double, the on-disk dtype is kept.
  public struct Entry: Equatable, Sendable {
    public var name: String
    public var dtype: String
    public var tensor: Tensor<Double>
  }

  /// The file's bytes: tensors in the given order, each as float32 (`F32`) or float64 (`F64`).
  public static func encode(_ tensors: [(name: String, tensor: Tensor<Double>)], dtype: DType,
                            metadata: [String: String] = [:]) throws -> [UInt8] {
    var header: [String: JSONValue] = [:]
    var data: [UInt8] = []
    var seen = Set<String>()
    for (name, t) in tensors {
      guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
        throw ConversionError.invalidSource(path: "safetensors", reason: "tensor name `\(name)` is empty, reserved or repeated")
      }
      let begin = data.count
      switch dtype {
      case .float32: for v in t.scalars { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { data += $0 } }
      case .float64: for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
      }
      header[name] = .object([
        "dtype": .string(dtype == .float32 ? "F32" : "F64"),
        "shape": .array(t.shape.map { .number(Double($0)) }),
        "data_offsets": .array([.number(Double(begin)), .number(Double(data.count))]),
      ])
    }
    if !metadata.isEmpty { header["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
    var json = Array(JSONValue.object(header).jsonText.utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
    return out + json + data
  }

  /// Writes the file atomically.
  public static func write(_ tensors: [(name: String, tensor: Tensor<Double>)], dtype: DType, to path: String,
                           metadata: [String: String] = [:]) throws {
    try AtomicFile.write(try encode(tensors, dtype: dtype, metadata: metadata), to: path)
  }

  /// Reads every tensor (F32, F64, F16, BF16 widened to Double), in data order, validating the
  /// header against the file before reading any data: each error names `path` and the tensor.
  public static func read(path: String) throws -> (entries: [Entry], metadata: [String: String]) {
    let (fd, size) = try RegularFile.openForReading(path)
    defer { close(fd) }
    guard size <= maxFileBytes else {
      throw ConversionError.invalidSource(path: path, reason: "the file has \(size) bytes, more than the \(maxFileBytes) read here")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
      let n = bytes.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, size - done) }
      guard n > 0 else { throw ConversionError.invalidSource(path: path, reason: "the file could not be read to its end") }
      done += n
    }
    return try decode(bytes, path: path)
  }

  public static func decode(_ bytes: [UInt8], path: String) throws -> (entries: [Entry], metadata: [String: String]) {
    func bad(_ reason: String) -> ConversionError { .invalidSource(path: path, reason: "not a valid safetensors file: " + reason) }
    guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes, shorter than the 8-byte header length") }
    var n: UInt64 = 0
    for k in 0..<8 { n |= UInt64(bytes[k]) << (8 * UInt64(k)) }
    guard n <= UInt64(maxHeaderBytes), Int(n) <= bytes.count - 8 else {
      throw bad("header length \(n) exceeds the file (\(bytes.count) bytes) or the \(maxHeaderBytes)-byte cap")
    }
    let headerText = String(decoding: bytes[8..<(8 + Int(n))], as: UTF8.self)
    guard let data = headerText.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw bad("the header is not a JSON object")
    }
    let base = 8 + Int(n), dataSize = bytes.count - base
    var metadata: [String: String] = [:]
    var entries: [(Int, Entry)] = []
    var covered: [(Int, Int)] = []
    for (name, value) in object {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else { throw bad("`__metadata__` is not an object") }
        for (k, v) in m {
          guard let s = v as? String else { throw bad("`__metadata__.\(k)` is not a string") }
          metadata[k] = s
        }
        continue
      }
      guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
            let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any] else {
        throw bad("tensor `\(name)` needs dtype, shape and data_offsets")
      }
      let shape = try shapeAny.map { d -> Int in
        guard let i = (d as? NSNumber)?.intValue, i >= 0, i <= 1 << 31 else { throw bad("tensor `\(name)` has a bad shape \(shapeAny)") }
        return i
      }
      let offsets = try offsetsAny.map { d -> Int in
        guard let i = (d as? NSNumber)?.intValue, i >= 0 else { throw bad("tensor `\(name)` has bad data_offsets \(offsetsAny)") }
        return i
      }
      guard offsets.count == 2, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
        throw bad("tensor `\(name)` has data_offsets \(offsets) outside the \(dataSize) data bytes")
      }
      let width: Int
      switch dtype { case "F32": width = 4; case "F64": width = 8; case "F16", "BF16": width = 2
      default: throw bad("tensor `\(name)` has dtype \(dtype); only F32, F64, F16 and BF16 are read") }
      var count = 1
      for d in shape {
        let (p, o) = count.multipliedReportingOverflow(by: d)
        guard !o, p <= dataSize else { throw bad("tensor `\(name)` shape \(shape) is larger than the file") }
        count = p
      }
      guard offsets[1] - offsets[0] == count * width else {
        throw bad("tensor `\(name)` (\(dtype), shape \(shape)) needs \(count * width) bytes, data_offsets span \(offsets[1] - offsets[0])")
      }
      var scalars = [Double](repeating: 0, count: count)
      let start = base + offsets[0]
      for i in 0..<count {
        var bits: UInt64 = 0
        for k in 0..<width { bits |= UInt64(bytes[start + i * width + k]) << (8 * UInt64(k)) }
        switch dtype {
        case "F32": scalars[i] = Double(Float(bitPattern: UInt32(bits)))
        case "F64": scalars[i] = Double(bitPattern: bits)
        case "BF16": scalars[i] = Double(Float(bitPattern: UInt32(bits) << 16))
        default: scalars[i] = Double(Float16Bits.float(UInt16(bits)))
        }
      }
      covered.append((offsets[0], offsets[1]))
      entries.append((offsets[0], Entry(name: name, dtype: dtype, tensor: try Tensor(shape: shape, scalars: scalars))))
    }
    covered.sort { $0.0 < $1.0 }
    var end = 0
    for (b, e) in covered {
      guard b == end else { throw bad("the data of the tensors overlaps or leaves a hole at byte \(min(b, end))") }
      end = e
    }
    guard end == dataSize else { throw bad("\(dataSize - end) data bytes after the last tensor") }
    return (entries.sorted { $0.0 < $1.0 }.map(\.1), metadata)
  }
}

/// IEEE half precision to Float, without relying on the platform's Float16.
enum Float16Bits {
  static func float(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1f), frac = UInt32(h & 0x3ff)
    if exp == 0 {
      let v = Float(frac) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (frac << 13)) }
    return Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (frac << 13))
  }
}
