import Foundation
import HDF5
import RNNRef

/// A small reader and writer of NumPy `.npy` files (format versions 1.0-3.0):
/// float16/32/64, signed and unsigned integers of 1-8 bytes and bool, little- or
/// big-endian, C order. Fortran-ordered arrays are transposed to C order on read.
public enum NPY {
  public struct Error: Swift.Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    public var path: String
    public var detail: String
    public var description: String { "\(path): \(detail)" }
    public var errorDescription: String? { description }
  }

  /// Reads an `.npy` file into a Double tensor (values converted exactly where the type allows).
  /// Only a regular file is opened (a FIFO named `x.npy` is refused, not waited on), and the
  /// header is checked against the file's length before anything is sized from it.
  public static func read(_ url: URL) throws -> Tensor<Double> {
    let path = url.path
    let bytes: [UInt8]
    do { bytes = try RegularFile.read(path, limit: Int.max) } catch let e as FileIOError {
      throw Error(path: path, detail: e.detail)
    }
    return try parse(bytes, path: path)
  }

  /// What an `.npy` header declares, checked: a supported dtype, a shape whose element and
  /// byte counts fit in `Int`, and data that the file actually holds.
  struct Header: Equatable {
    /// `f`, `i`, `u` or `b`.
    var kind: Character
    /// Bytes per element: 2/4/8 for floats, 1/2/4/8 for integers, 1 for bool.
    var itemSize: Int
    var littleEndian: Bool
    var fortranOrder: Bool
    var shape: [Int]
    var count: Int
    /// Offset of the first data byte.
    var dataOffset: Int
  }

  static func parse(_ b: [UInt8], path: String) throws -> Tensor<Double> {
    let h = try header(b, path: path)
    let values = b.withUnsafeBytes { decode($0, from: h.dataOffset, count: h.count, h) }
    if h.fortranOrder && h.shape.count > 1 {
      let t = Tensor(uncheckedShape: Array(h.shape.reversed()), scalars: values)
      return t.transposed(Array((0..<h.shape.count).reversed()))
    }
    return Tensor(uncheckedShape: h.shape, scalars: values)
  }

  /// `count` elements of type `h` starting at byte `offset` of `b`, as Double.
  static func decode(_ b: UnsafeRawBufferPointer, from offset: Int, count: Int, _ h: Header) -> [Double] {
    let size = h.itemSize, little = h.littleEndian
    func raw(_ i: Int) -> UInt64 {
      var v: UInt64 = 0
      let o = offset + i * size
      for k in 0..<size {
        let byte = UInt64(b[o + (little ? k : size - 1 - k)])
        v |= byte << (8 * UInt64(k))
      }
      return v
    }
    var values = [Double](repeating: 0, count: count)
    let shift = UInt64(64 - 8 * size)
    for i in 0..<count {
      let r = raw(i)
      switch (h.kind, size) {
      case ("f", 2): values[i] = Double(Float16(bitPattern: UInt16(truncatingIfNeeded: r)))
      case ("f", 4): values[i] = Double(Float(bitPattern: UInt32(truncatingIfNeeded: r)))
      case ("f", 8): values[i] = Double(bitPattern: r)
      case ("i", _): values[i] = Double(Int64(bitPattern: r << shift) >> Int64(shift))
      case ("b", _): values[i] = r == 0 ? 0 : 1
      default: values[i] = Double(r)
      }
    }
    return values
  }

  /// An `.npy` file opened to read slices along its first axis (a batch in row slices)
  /// without holding the whole array: the header is read and checked against the file's
  /// length as `read` checks it, then `rows(_:)` reads only the bytes of those rows.
  /// A Fortran-ordered array (its rows are not contiguous) is read whole on first use.
  public final class Rows {
    public let path: String
    /// The array's shape (C order).
    public let shape: [Int]
    let header: Header
    let fd: Int32
    private var whole: Tensor<Double>?

    /// Opens and checks `url` (a regular file only, as `read`).
    public init(_ url: URL) throws {
      path = url.path
      let (fd, size): (Int32, Int)
      do { (fd, size) = try RegularFile.openForReading(path) } catch let e as FileIOError {
        throw Error(path: path, detail: e.detail)
      }
      self.fd = fd
      do {
        // The preamble, then the header text (its length is checked against the file size).
        var head = try Self.pread(fd, at: 0, count: min(size, 4096), path: path)
        if head.count >= 12, head[0] == 0x93 {
          let end = head[6] == 1 ? 10 + (Int(head[8]) | Int(head[9]) << 8)
            : 12 + (Int(head[8]) | Int(head[9]) << 8 | Int(head[10]) << 16 | Int(head[11]) << 24)
          if end > head.count && end <= size { head = try Self.pread(fd, at: 0, count: end, path: path) }
        }
        header = try NPY.header(head, fileSize: size, path: path)
      } catch {
        close(fd)
        throw error
      }
      shape = header.shape
    }

    deinit { close(fd) }

    /// Rows `range` of the first axis (shape `[range.count] + shape[1...]`).
    public func rows(_ range: Range<Int>) throws -> Tensor<Double> {
      guard let n = shape.first, range.lowerBound >= 0, range.upperBound <= n else {
        throw Error(path: path, detail: "rows \(range) are outside the array of shape \(shape)")
      }
      let rest = Array(shape.dropFirst())
      let perRow = rest.reduce(1, *)  // overflow-checked with the whole shape in `header`
      if header.fortranOrder && shape.count > 1 {
        if whole == nil { whole = try NPY.read(URL(fileURLWithPath: path)) }
        return whole!.slice(axis: 0, range: range)
      }
      let bytes = try Self.pread(fd, at: header.dataOffset + range.lowerBound * perRow * header.itemSize,
                                 count: range.count * perRow * header.itemSize, path: path)
      guard bytes.count == range.count * perRow * header.itemSize else {
        throw Error(path: path, detail: "the file shrank while it was read (rows \(range)); re-copy it")
      }
      let values = bytes.withUnsafeBytes { decode($0, from: 0, count: range.count * perRow, header) }
      return Tensor(uncheckedShape: [range.count] + rest, scalars: values)
    }

    static func pread(_ fd: Int32, at offset: Int, count: Int, path: String) throws -> [UInt8] {
      var out = [UInt8](repeating: 0, count: count)
      var done = 0
      while done < count {
        let n = out.withUnsafeMutableBytes { buf in Foundation.pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done)) }
        if n < 0 {
          if errno == EINTR { continue }
          throw Error(path: path, detail: "cannot read the file (\(String(cString: strerror(errno))))")
        }
        if n == 0 { break }
        done += n
      }
      if done < count { out.removeSubrange(done...) }
      return out
    }
  }

  /// The dtypes read: kind -> allowed item sizes.
  static let itemSizes: [Character: [Int]] = ["f": [2, 4, 8], "i": [1, 2, 4, 8], "u": [1, 2, 4, 8], "b": [1]]
  static let supported = "float16/32/64 (f2, f4, f8), int8-64 (i1-i8), uint8-64 (u1-u8) and bool (b1)"

  /// Reads and checks the header of the `.npy` bytes `b`: the whole file, or its first bytes
  /// (at least the header) when `fileSize` gives the whole file's length.
  static func header(_ b: [UInt8], fileSize: Int? = nil, path: String) throws -> Header {
    func fail(_ d: String) -> Error { Error(path: path, detail: d) }
    guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
      throw fail("not a .npy file (no \\x93NUMPY magic); save arrays with numpy.save")
    }
    let major = b[6]
    let headerLen: Int, start: Int
    if major == 1 { headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10 } else if major == 2 || major == 3 {
      guard b.count >= 12 else { throw fail("truncated header: the file is \(b.count) bytes, a version \(major) header needs 12 before its text") }
      headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
    } else { throw fail(".npy format version \(major) is not supported (1, 2, 3)") }
    guard start + headerLen <= b.count else {
      throw fail("truncated header: it declares \(headerLen) bytes of header text, the file has \((fileSize ?? b.count) - start) after the preamble")
    }
    let text = Array(b[start..<(start + headerLen)])
    let dict = try NPYHeaderDict.parse(text, fail: fail)
    let keys = Set(dict.keys)
    guard keys == ["descr", "fortran_order", "shape"] else {
      let missing = ["descr", "fortran_order", "shape"].filter { !keys.contains($0) }
      let extra = keys.subtracting(["descr", "fortran_order", "shape"]).sorted()
      throw fail("malformed header \(NPYHeaderDict.quote(text)): "
        + (missing.isEmpty ? "" : "missing " + missing.map { "'\($0)'" }.joined(separator: ", "))
        + (missing.isEmpty || extra.isEmpty ? "" : "; ")
        + (extra.isEmpty ? "" : "unexpected key(s) " + extra.map { "'\($0)'" }.joined(separator: ", "))
        + "; a .npy header is {'descr': ..., 'fortran_order': ..., 'shape': (...)}")
    }
    guard case let .string(descr)? = dict["descr"] else {
      throw fail("dtype \(dict["descr"]!.text) is not supported (structured or object arrays are not read); save a plain numeric array: \(supported)")
    }
    guard case let .bool(fortran)? = dict["fortran_order"] else {
      throw fail("malformed header: 'fortran_order' is \(dict["fortran_order"]!.text), expected True or False")
    }
    guard case let .tuple(shape)? = dict["shape"] else {
      throw fail("malformed header: 'shape' is \(dict["shape"]!.text), expected a tuple of non-negative integers such as (2, 3)")
    }
    // dtype: byte order, kind, item size.
    let chars = Array(descr)
    guard chars.count >= 2 else { throw fail("dtype `\(descr)` is not supported; expected \(supported)") }
    var order: Character = "|", rest = chars[...]
    if "<>|=".contains(chars[0]) { order = chars[0]; rest = chars[1...] }
    guard let kind = rest.first, let sizes = itemSizes[kind] else {
      throw fail("dtype `\(descr)` is not supported; expected \(supported)")
    }
    let sizeText = String(rest.dropFirst())
    guard sizeText.count <= 4, !sizeText.isEmpty, sizeText.allSatisfy({ $0.isASCII && $0.isNumber }), let size = Int(sizeText) else {
      throw fail("dtype `\(descr)` has no valid item size; expected \(supported)")
    }
    guard size > 0 else { throw fail("dtype `\(descr)` has item size 0; expected \(supported)") }
    guard sizes.contains(size) else {
      throw fail("dtype `\(descr)` is not supported: `\(kind)` items are \(sizes.map(String.init).joined(separator: ", ")) bytes, not \(size); expected \(supported)")
    }
    // Shape: an element count and a byte count that fit in Int, data the file holds.
    var count = 1
    for d in shape {
      let (c, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow else {
        throw fail("shape \(shape) has more elements than Int can count; the header is corrupt")
      }
      count = c
    }
    let body = start + headerLen
    let (need, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow else {
      throw fail("shape \(shape) of `\(descr)` needs more bytes than Int can count; the header is corrupt")
    }
    let total = max(fileSize ?? b.count, body)
    guard need <= total - body else {
      throw fail("truncated: shape \(shape) of `\(descr)` needs \(need) bytes of data, the file has \(total - body) after the header; re-copy or re-save the file")
    }
    let little = order == "<" || order == "|" || (order == "=" && 1.littleEndian == 1)
    return Header(kind: kind, itemSize: size, littleEndian: little || size == 1, fortranOrder: fortran,
                  shape: shape, count: count, dataOffset: body)
  }

  /// Writes a tensor as a little-endian C-order `.npy` (float32 by default, or float64), atomically.
  public static func write<S: RNNScalar>(_ t: Tensor<S>, to url: URL, float64: Bool = false) throws {
    // Atomically: a kill or a full disk leaves any previous file at `url` intact.
    do { try AtomicFile.write(header(shape: t.shape, float64: float64) + bytes(t.scalars, float64: float64), to: url.path) }
    catch let e as FileIOError {
      throw Error(path: url.path, detail: e.detail)
    }
  }

  /// The header of a little-endian C-order float32 (or float64) `.npy` of `shape`, padded to
  /// 64 bytes as numpy writes it; the data follow it (`bytes`).
  public static func header(shape: [Int], float64: Bool) -> [UInt8] {
    let descr = float64 ? "<f8" : "<f4"
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    let n = header.utf8.count
    out += [UInt8(n & 0xff), UInt8(n >> 8)]
    out += Array(header.utf8)
    return out
  }

  /// `scalars` as little-endian float32 (or float64) `.npy` data.
  public static func bytes<S: RNNScalar>(_ scalars: [S], float64: Bool) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(scalars.count * (float64 ? 8 : 4))
    for v in scalars {
      if float64 {
        let bits = Double(v).bitPattern
        for k in 0..<8 { out.append(UInt8((bits >> (8 * UInt64(k))) & 0xff)) }
      } else {
        let bits = Float(v).bitPattern
        for k in 0..<4 { out.append(UInt8((bits >> (8 * UInt32(k))) & 0xff)) }
      }
    }
    return out
  }
}
