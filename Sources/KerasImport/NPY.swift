import Foundation
import RNNRef

/// A small reader and writer of NumPy `.npy` files (format versions 1.0-3.0):
/// float16/32/64, signed and unsigned integers of 1-8 bytes and bool, little- or
/// big-endian, C order. Fortran-ordered arrays are transposed to C order on read.
public enum NPY {
  public struct Error: Swift.Error, CustomStringConvertible, Equatable {
    public var path: String
    public var detail: String
    public var description: String { "\(path): \(detail)" }
  }

  /// Reads an `.npy` file into a Double tensor (values converted exactly where the type allows).
  public static func read(_ url: URL) throws -> Tensor<Double> {
    let path = url.path
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw Error(path: path, detail: "cannot read the file (\(error.localizedDescription))") }
    return try parse([UInt8](data), path: path)
  }

  static func parse(_ b: [UInt8], path: String) throws -> Tensor<Double> {
    func fail(_ d: String) -> Error { Error(path: path, detail: d) }
    guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
      throw fail("not a .npy file (no \\x93NUMPY magic); save arrays with numpy.save")
    }
    let major = b[6]
    let headerLen: Int, start: Int
    if major == 1 { headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10 } else if major == 2 || major == 3 {
      guard b.count >= 12 else { throw fail("truncated header") }
      headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
    } else { throw fail(".npy format version \(major) is not supported (1, 2, 3)") }
    guard start + headerLen <= b.count, let header = String(bytes: b[start..<(start + headerLen)], encoding: .utf8)
                                             ?? String(bytes: b[start..<(start + headerLen)], encoding: .isoLatin1) else {
      throw fail("truncated header")
    }
    func field(_ key: String) -> String? {
      guard let r = header.range(of: "'\(key)':") else { return nil }
      let rest = header[r.upperBound...].trimmingCharacters(in: .whitespaces)
      if rest.hasPrefix("'") {
        let s = rest.dropFirst()
        return s.firstIndex(of: "'").map { String(s[..<$0]) }
      }
      if rest.hasPrefix("(") { return rest.firstIndex(of: ")").map { String(rest[rest.index(after: rest.startIndex)..<$0]) } }
      return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }
    guard let descr = field("descr"), let fortranText = field("fortran_order"), let shapeText = field("shape") else {
      throw fail("header without descr/fortran_order/shape: \(header)")
    }
    let shape = try shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      .map { s -> Int in guard let v = Int(s), v >= 0 else { throw fail("bad shape \(shapeText)") }; return v }
    guard descr.count >= 3 else { throw fail("dtype `\(descr)` is not supported") }
    let order = descr.first!
    let kind = descr[descr.index(after: descr.startIndex)]
    guard let size = Int(descr.dropFirst(2)) else { throw fail("dtype `\(descr)` is not supported") }
    let little = order == "<" || order == "|" || order == "="
    let count = shape.reduce(1, *)
    let body = start + headerLen
    guard count.multipliedReportingOverflow(by: size).overflow == false, body + count * size <= b.count else {
      throw fail("truncated: shape \(shape) of \(descr) needs \(count * size) bytes, the file has \(b.count - body)")
    }
    func raw(_ i: Int) -> UInt64 {
      var v: UInt64 = 0
      let o = body + i * size
      for k in 0..<size {
        let byte = UInt64(b[o + (little ? k : size - 1 - k)])
        v |= byte << (8 * UInt64(k))
      }
      return v
    }
    var values = [Double](repeating: 0, count: count)
    for i in 0..<count {
      let r = raw(i)
      switch (kind, size) {
      case ("f", 2): values[i] = Double(Float16(bitPattern: UInt16(r)))
      case ("f", 4): values[i] = Double(Float(bitPattern: UInt32(r)))
      case ("f", 8): values[i] = Double(bitPattern: r)
      case ("i", _):
        let shift = UInt64(64 - 8 * size)
        values[i] = Double(Int64(bitPattern: r << shift) >> Int64(shift))
      case ("u", _), ("b", 1): values[i] = Double(r)
      default: throw fail("dtype `\(descr)` is not supported (float16/32/64, int8-64, uint8-64, bool)")
      }
    }
    let fortran = fortranText.hasPrefix("True")
    if fortran && shape.count > 1 {
      let t = Tensor(shape: Array(shape.reversed()), scalars: values)
      return t.transposed(Array((0..<shape.count).reversed()))
    }
    return Tensor(shape: shape, scalars: values)
  }

  /// Writes a tensor as a little-endian C-order `.npy` (float32 by default, or float64).
  public static func write<S: RNNScalar>(_ t: Tensor<S>, to url: URL, float64: Bool = false) throws {
    let descr = float64 ? "<f8" : "<f4"
    let shapeText = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    let n = header.utf8.count
    out += [UInt8(n & 0xff), UInt8(n >> 8)]
    out += Array(header.utf8)
    out.reserveCapacity(out.count + t.count * (float64 ? 8 : 4))
    for v in t.scalars {
      if float64 {
        let bits = Double(v).bitPattern
        for k in 0..<8 { out.append(UInt8((bits >> (8 * UInt64(k))) & 0xff)) }
      } else {
        let bits = Float(v).bitPattern
        for k in 0..<4 { out.append(UInt8((bits >> (8 * UInt32(k))) & 0xff)) }
      }
    }
    do { try Data(out).write(to: url) } catch {
      throw Error(path: url.path, detail: "cannot write (\(error.localizedDescription))")
    }
  }
}
