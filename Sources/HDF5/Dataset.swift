import CHDF5

/// A dataset: shape, stored type, whole or hyperslab reads.
public final class Dataset: Object {
  override func creationPlist() throws -> Handle {
    try Handle(H5Dget_create_plist(handle.id), location, "get dataset creation properties", close: H5Pclose)
  }

  /// Runs `body` with a reader over this dataset. Inside `sync`.
  private func withReader<R>(_ op: String, _ body: (Reader) throws -> R) throws -> R {
    try Library.sync {
      let loc = location
      let type = try Handle(H5Dget_type(handle.id), loc, op, close: H5Tclose)
      let space = try Handle(H5Dget_space(handle.id), loc, op, close: H5Sclose)
      let id = handle.id
      return try body(Reader(file: file, loc: loc, op: op, type: type.id, space: space.id) { mem, ms, fs, buf in
        H5Dread(id, mem, ms, fs, chdf5_P_DEFAULT(), buf)
      })
    }
  }

  /// Scalar, simple (with dimensions) or null.
  public var extent: Extent { get throws { try withReader("get dataset shape") { try $0.extent() } } }
  /// The dimensions (`[]` for a scalar).
  public var shape: [Int] { get throws { try extent.shape } }
  /// The stored element type.
  public var storedType: StoredType { get throws { try withReader("get dataset type") { $0.storedType() } } }

  /// Bytes allocated in the file for the data (0 for an unwritten chunked dataset; a corrupt
  /// file's count beyond `Int.max` reads as `Int.max`).
  public var storageSize: Int { Library.sync { Int(clamping: H5Dget_storage_size(handle.id)) } }

  /// "contiguous", "chunked", "compact" or "virtual".
  public var layout: String {
    Library.sync {
      guard let plist = try? creationPlist() else { _ = H5Eclear2(chdf5_E_DEFAULT()); return "?" }
      switch H5Pget_layout(plist.id) {
      case H5D_CONTIGUOUS: return "contiguous"
      case H5D_CHUNKED: return "chunked"
      case H5D_COMPACT: return "compact"
      case H5D_VIRTUAL: return "virtual"
      default: return "?"
      }
    }
  }

  /// Reads every element, converted by libhdf5 from the stored type (float16/32/64,
  /// 8-64-bit integers) to `T`, in row-major order. Floats cannot be read as
  /// integers; strings and other types throw `.typeMismatch`. A declared size
  /// beyond `limitBytes` throws `.tooLarge` before anything is allocated.
  public func read<T: HDF5Numeric>(as: T.Type = T.self, limitBytes: Int = defaultReadLimitBytes) throws -> [T] {
    try withReader("read dataset as \(T.self)") { try $0.numeric(T.self, limit: limitBytes) }
  }

  /// Reads every element with the dataset's shape (`[]` for a scalar).
  public func readShaped<T: HDF5Numeric>(as: T.Type = T.self, limitBytes: Int = defaultReadLimitBytes)
    throws -> (shape: [Int], values: [T])
  {
    (try shape, try read(as: T.self, limitBytes: limitBytes))
  }

  /// Reads the hyperslab `offset ..< offset + count` (one entry per dimension)
  /// without reading the rest of the dataset.
  public func read<T: HDF5Numeric>(offset: [Int], count: [Int], as: T.Type = T.self,
                                   limitBytes: Int = defaultReadLimitBytes) throws -> [T] {
    try withReader("read hyperslab offset \(offset) count \(count) as \(T.self)") { r in
      let shape = try r.extent().shape
      guard offset.count == shape.count, count.count == shape.count,
            zip(zip(offset, count), shape).allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 + $0.1 <= $1 }) else {
        throw r.loc.error(.invalidArgument, r.op, "the selection is outside the dataset shape \(shape)",
                          hint: "Give one offset and count per dimension with offset + count <= shape")
      }
      let n = try r.checkedCount(.simple(count), bytesPerElement: T.hdf5Kind.size, limit: limitBytes)
      if n == 0 { return [] }
      let start = offset.map { hsize_t($0) }, cnt = count.map { hsize_t($0) }
      try r.loc.check(H5Sselect_hyperslab(r.space, H5S_SELECT_SET, start, nil, cnt, nil), r.op)
      let mem = try makeSpace(count, r.loc)
      return try r.numeric(T.self, limit: .max, selection: (n, mem.id, r.space))
    }
  }

  /// Reads a string dataset (fixed- or variable-length) as UTF-8 strings.
  public func readStrings(limitBytes: Int = defaultReadLimitBytes) throws -> [String] {
    try withReader("read dataset as strings") { try $0.strings(limit: limitBytes) }
  }

  /// Reads a 1-D uint8/int8 dataset's raw bytes (case-file artifacts).
  public func readBytes(limitBytes: Int = defaultReadLimitBytes) throws -> [UInt8] {
    try withReader("read dataset as bytes") { r in
      guard case .integer(_, 8) = r.storedType() else {
        throw r.loc.error(.typeMismatch, r.op, "it stores \(r.storedType()), not bytes", hint: "Artifacts are 1-D uint8 datasets")
      }
      return try r.numeric(UInt8.self, limit: limitBytes)
    }
  }
}
