import CHDF5
import Foundation

/// The shared read path of datasets and attributes. Every function runs inside `Library.sync`.
struct Reader {
  /// The file read from (variable-length strings are read from its bytes: see `GlobalHeap`).
  var file: File
  var loc: Location
  var op: String
  var type: hid_t
  var space: hid_t
  /// Reads the whole selection into `buf` with memory type `mem`
  /// (memory space and file space: nil means all).
  var read: (_ mem: hid_t, _ memSpace: hid_t, _ fileSpace: hid_t, _ buf: UnsafeMutableRawPointer?) -> herr_t

  func extent() throws -> Extent { try Extent.of(space: space, loc, op) }
  func storedType() -> StoredType { StoredType.of(type) }

  /// Element count after checking the declared size against `limit` (bytes, per
  /// `bytesPerElement`), before anything is allocated.
  func checkedCount(_ extent: Extent, bytesPerElement: Int, limit: Int) throws -> Int {
    let dims = extent.shape
    let declared = Double(bytesPerElement) * dims.reduce(1.0) { $0 * Double($1) }
    guard let n = extent.count, declared <= Double(limit) else {
      throw loc.error(.tooLarge, op,
                      "declared size \(formatBytes(declared)) (shape \(dims) x \(bytesPerElement) bytes) exceeds the read limit of \(formatBytes(Double(limit)))",
                      hint: "The file is corrupt or not a model/case file; if the data is real, read it in hyperslabs")
    }
    return n
  }

  func numeric<T: HDF5Numeric>(_: T.Type, limit: Int, selection: (count: Int, memSpace: hid_t, fileSpace: hid_t)? = nil) throws -> [T] {
    let st = storedType()
    switch st {
    case .float:
      if !T.hdf5Kind.isFloat {
        throw loc.error(.typeMismatch, op, "it stores \(st), which cannot be read as \(T.self)",
                        hint: "Read it as Float or Double")
      }
    case .integer: break
    default:
      throw loc.error(.typeMismatch, op, "it stores \(st), not numbers",
                      hint: st.isString ? "Read it as strings (readStrings/readString)" : "This type cannot be read as numbers")
    }
    let storedSize = H5Tget_size(type)
    let n: Int
    if let sel = selection { n = sel.count } else {
      n = try checkedCount(try extent(), bytesPerElement: max(storedSize, T.hdf5Kind.size), limit: limit)
    }
    if n == 0 { return [] }
    var status: herr_t = 0
    let out = [T](unsafeUninitializedCapacity: n) { buf, initialized in
      status = read(T.hdf5Kind.memoryType, selection?.memSpace ?? chdf5_S_ALL(), selection?.fileSpace ?? chdf5_S_ALL(),
                    UnsafeMutableRawPointer(buf.baseAddress))
      // On failure the array is left empty: zero-filling it would touch every page of a buffer
      // sized from a corrupt file's declared shape.
      initialized = status < 0 ? 0 : n
    }
    if status < 0 { throw loc.libraryError(op) }
    return out
  }

  func strings(limit: Int) throws -> [String] {
    let st = storedType()
    // Keras 1 writes an empty `weight_names` as an empty float64 array; like
    // h5py/numpy iteration, an array with no elements reads as no strings.
    if !st.isString, try extent().count == 0 { return [] }
    guard case let .string(length, utf8) = st else {
      throw loc.error(.typeMismatch, op, "it stores \(st), not strings",
                      hint: st.isNumeric ? "Read it as numbers" : "This type cannot be read as strings")
    }
    let ext = try extent()
    let mem = try Handle(H5Tcopy(chdf5_T_C_S1()), loc, op, close: H5Tclose)
    try loc.check(H5Tset_cset(mem.id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), op)
    var raw: [[UInt8]] = []
    if let length {
      let n = try checkedCount(ext, bytesPerElement: max(length, 1), limit: limit)
      if n == 0 { return [] }
      try loc.check(H5Tset_size(mem.id, length), op)
      try loc.check(H5Tset_strpad(mem.id, H5T_STR_NULLPAD), op)
      var buf = [UInt8](repeating: 0, count: n * length)
      let status = buf.withUnsafeMutableBytes { read(mem.id, chdf5_S_ALL(), chdf5_S_ALL(), $0.baseAddress) }
      if status < 0 { throw loc.libraryError(op) }
      let pad = H5Tget_strpad(type)
      for i in 0..<n {
        var s = Array(buf[(i * length)..<((i + 1) * length)])
        if pad == H5T_STR_SPACEPAD {
          while s.last == 0x20 || s.last == 0 { s.removeLast() }
        } else if let z = s.firstIndex(of: 0) {
          s.removeSubrange(z...)
        }
        raw.append(s)
      }
    } else {
      let n = try checkedCount(ext, bytesPerElement: MemoryLayout<UnsafeMutablePointer<CChar>?>.size, limit: limit)
      if n == 0 { return [] }
      if var heap = try GlobalHeap.forFile(file, loc, op) {
        let raw = try rawVlenDescriptors(count: n, size: heap.descriptorSize)
        return try decode(try heap.strings(raw, count: n, limit: limit).map { $0 ?? [] })
      }
      try loc.check(H5Tset_size(mem.id, chdf5_VARIABLE()), op)
      var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
      let status = ptrs.withUnsafeMutableBytes { read(mem.id, chdf5_S_ALL(), chdf5_S_ALL(), $0.baseAddress) }
      if status < 0 { throw loc.libraryError(op) }
      for p in ptrs {
        if let p {
          let len = strlen(p)
          raw.append(p.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) })
        } else {
          raw.append([])
        }
      }
      _ = ptrs.withUnsafeMutableBytes { H5Dvlen_reclaim(mem.id, space, chdf5_P_DEFAULT(), $0.baseAddress) }
      _ = H5Eclear2(chdf5_E_DEFAULT())
    }
    return try decode(raw)
  }

  /// Strings from their bytes: UTF-8 only.
  private func decode(_ raw: [[UInt8]]) throws -> [String] {
    try raw.enumerated().map { i, bytes in
      guard let s = String(validating: bytes, as: UTF8.self) else {
        let hex = bytes.prefix(24).map { String($0, radix: 16) }.joined(separator: " ")
        throw loc.error(.invalidString, op,
                        "string \(i) is not valid UTF-8 (bytes: \(hex)\(bytes.count > 24 ? " ..." : ""))",
                        hint: "Rewrite the value as UTF-8 text; this reader refuses to guess an encoding")
      }
      return s
    }
  }

  func booleans(limit: Int) throws -> [Bool] {
    let n = try checkedCount(try extent(), bytesPerElement: 1, limit: limit)
    if n == 0 { return [] }
    let mem = try Handle(H5Tget_native_type(type, H5T_DIR_ASCEND), loc, op, close: H5Tclose)
    var buf = [Int8](repeating: 0, count: n)
    let status = buf.withUnsafeMutableBytes { read(mem.id, chdf5_S_ALL(), chdf5_S_ALL(), $0.baseAddress) }
    if status < 0 { throw loc.libraryError(op) }
    return buf.map { $0 != 0 }
  }
}

/// A decoded attribute value, for display and generic use.
public enum AttributeValue: Equatable, Sendable {
  case integers([Int], shape: [Int])
  case floats([Double], shape: [Int])
  case booleans([Bool], shape: [Int])
  case strings([String], shape: [Int])
  /// A null dataspace (h5py `Empty`).
  case empty(StoredType)
  /// A type this layer does not decode.
  case unsupported(StoredType, shape: [Int])
}
