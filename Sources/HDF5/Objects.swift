import CHDF5

/// A group or dataset in an open file: carries attributes; keeps its file alive.
public class Object {
  let handle: Handle
  /// The file this object belongs to (held strongly, so the file stays open).
  public let file: File
  /// Absolute path inside the file, e.g. `/weights/rnn/lstm_cell/kernel`.
  public let path: String

  init(handle: Handle, file: File, path: String) {
    self.handle = handle; self.file = file; self.path = path
  }

  var location: Location { Location(file: file.path, path: path) }

  /// The last path component (`/` for the root).
  public var name: String { path == "/" ? "/" : String(path.split(separator: "/").last ?? "") }

  /// Creation property list getter (group or dataset). Inside `sync`.
  func creationPlist() throws -> Handle {
    fatalError("subclass")
  }

  /// Whether the creation property list tracks an order, read by
  /// `H5Pget_attr_creation_order` or `H5Pget_link_creation_order`. Inside `sync`.
  func creationOrderTracked(_ get: (hid_t, UnsafeMutablePointer<UInt32>) -> herr_t) -> Bool {
    guard let plist = try? creationPlist() else { _ = H5Eclear2(chdf5_E_DEFAULT()); return false }
    var flags: UInt32 = 0
    if get(plist.id, &flags) < 0 { _ = H5Eclear2(chdf5_E_DEFAULT()); return false }
    return flags & chdf5_P_CRT_ORDER_TRACKED() != 0
  }

  /// Whether attribute creation order is tracked. Inside `sync`.
  func attributeOrderTracked() -> Bool { creationOrderTracked(H5Pget_attr_creation_order) }

  /// Attribute names in creation order when the file tracks it, else name order.
  public func attributeNames() throws -> [String] {
    try Library.sync {
      let loc = location
      var info = H5O_info_t()
      try loc.check(H5Oget_info2(handle.id, &info, chdf5_O_INFO_NUM_ATTRS()), "count attributes")
      try checkListingProbe(H5Aexists(handle.id, listingProbeName), loc, "list attributes", what: "attribute")
      return try namesByIndex(count: info.num_attrs, tracked: attributeOrderTracked(), location: loc,
                              what: "attribute") {
        H5Aget_name_by_idx(handle.id, ".", $0, H5_ITER_INC, $1, $2, $3, chdf5_P_DEFAULT())
      }
    }
  }

  public func hasAttribute(_ name: String) throws -> Bool {
    try Library.sync { try location.check(H5Aexists(handle.id, name), "check attribute `\(name)`") > 0 }
  }

  /// Opens an attribute; a missing one throws `.notFound` naming the object and the attribute.
  public func attribute(_ name: String) throws -> Attribute {
    try Library.sync {
      let loc = location
      guard try loc.check(H5Aexists(handle.id, name), "check attribute `\(name)`") > 0 else {
        throw loc.error(.notFound, "read attribute `\(name)`", "no attribute `\(name)` on `\(path)`",
                        hint: "Attributes present: \((try? attributeNames())?.joined(separator: ", ") ?? "?")")
      }
      let h = try Handle(H5Aopen(handle.id, name, chdf5_P_DEFAULT()), loc, "open attribute `\(name)`",
                         close: H5Aclose)
      return Attribute(handle: h, owner: self, name: name)
    }
  }

  // MARK: Convenience readers

  /// A string attribute (variable- or fixed-length scalar, or a one-element array).
  public func stringAttribute(_ name: String) throws -> String { try attribute(name).readString() }
  /// An array of strings (Keras `layer_names`, `weight_names`), in stored order.
  public func stringsAttribute(_ name: String) throws -> [String] { try attribute(name).readStrings() }
  /// Keras splits large name lists into `name0`, `name1`, ...; this reads either form.
  public func chunkedStringsAttribute(_ name: String) throws -> [String] {
    if try hasAttribute(name) { return try stringsAttribute(name) }
    var out: [String] = []
    var k = 0
    while try hasAttribute("\(name)\(k)") {
      out += try stringsAttribute("\(name)\(k)")
      k += 1
    }
    if k == 0 { return try stringsAttribute(name) }  // throws .notFound naming `name`
    return out
  }
  /// A numeric scalar attribute as Double (ints and floats).
  public func doubleAttribute(_ name: String) throws -> Double { try attribute(name).readScalar(as: Double.self) }
  /// An integer scalar attribute.
  public func intAttribute(_ name: String) throws -> Int { try attribute(name).readScalar(as: Int.self) }

  // MARK: Writing attributes

  private func replacingAttribute(_ name: String, type: hid_t, space: hid_t,
                                  write: (hid_t) -> herr_t) throws {
    let loc = location
    if try loc.check(H5Aexists(handle.id, name), "check attribute `\(name)`") > 0 {
      try loc.check(H5Adelete(handle.id, name), "replace attribute `\(name)`")
    }
    let attr = try Handle(H5Acreate2(handle.id, name, type, space, chdf5_P_DEFAULT(), chdf5_P_DEFAULT()),
                          loc, "create attribute `\(name)`", close: H5Aclose)
    try loc.check(write(attr.id), "write attribute `\(name)`")
  }

  /// Deletes an attribute; a missing one throws `.notFound`.
  public func deleteAttribute(_ name: String) throws {
    try Library.sync {
      let loc = location
      guard try loc.check(H5Aexists(handle.id, name), "check attribute `\(name)`") > 0 else {
        throw loc.error(.notFound, "delete attribute `\(name)`", "no attribute `\(name)` on `\(path)`")
      }
      try loc.check(H5Adelete(handle.id, name), "delete attribute `\(name)`")
    }
  }

  /// Writes a numeric attribute: `shape` `[]` for a scalar.
  public func setAttribute<T: HDF5Numeric>(_ name: String, _ values: [T], shape: [Int]? = nil) throws {
    let shape = shape ?? [values.count]
    try checkShape(shape, count: values.count, "write attribute `\(name)`")
    try Library.sync {
      let space = try makeSpace(shape, location)
      try replacingAttribute(name, type: T.hdf5Kind.fileType, space: space.id) { id in
        values.withUnsafeBytes { H5Awrite(id, T.hdf5Kind.memoryType, $0.baseAddress) }
      }
    }
  }

  /// Writes a numeric scalar attribute (as h5py writes `np.int64(1)` or `np.float64(1e-5)`).
  public func setAttribute<T: HDF5Numeric>(_ name: String, _ value: T) throws {
    try setAttribute(name, [value], shape: [])
  }

  /// Writes a variable-length UTF-8 string scalar, as h5py writes a Python `str`.
  public func setAttribute(_ name: String, _ value: String) throws {
    try Library.sync {
      let loc = location
      let type = try Handle(H5Tcopy(chdf5_T_C_S1()), loc, "make string type", close: H5Tclose)
      try loc.check(H5Tset_size(type.id, chdf5_VARIABLE()), "make string type")
      try loc.check(H5Tset_cset(type.id, H5T_CSET_UTF8), "make string type")
      let space = try makeSpace([], loc)
      try value.withCString { cstr in
        var ptr: UnsafePointer<CChar>? = cstr
        try replacingAttribute(name, type: type.id, space: space.id) { id in H5Awrite(id, type.id, &ptr) }
      }
    }
  }

  /// Writes a 1-D array of fixed-length, NUL-padded byte strings (numpy `S<n>`),
  /// as Keras writes `layer_names` and `weight_names`.
  public func setAttribute(_ name: String, fixedLengthStrings values: [String]) throws {
    try Library.sync {
      let loc = location
      let (type, bytes) = try fixedLengthStrings(values, loc)
      let space = try makeSpace([values.count], loc)
      try replacingAttribute(name, type: type.id, space: space.id) { id in
        bytes.withUnsafeBytes { H5Awrite(id, type.id, $0.baseAddress) }
      }
    }
  }
}

/// Fixed-length, NUL-padded strings as numpy `S<n>` and Keras' name lists: the
/// HDF5 type (ASCII when every byte is, else UTF-8) and the packed bytes. Inside `sync`.
func fixedLengthStrings(_ values: [String], _ loc: Location) throws -> (type: Handle, bytes: [UInt8]) {
  let encoded = values.map { Array($0.utf8) }
  let width = max(1, encoded.map(\.count).max() ?? 1)
  var bytes = [UInt8](repeating: 0, count: width * values.count)
  for (i, e) in encoded.enumerated() { bytes.replaceSubrange((i * width)..<(i * width + e.count), with: e) }
  let type = try Handle(H5Tcopy(chdf5_T_C_S1()), loc, "make string type", close: H5Tclose)
  try loc.check(H5Tset_size(type.id, width), "make string type")
  try loc.check(H5Tset_strpad(type.id, H5T_STR_NULLPAD), "make string type")
  let ascii = encoded.allSatisfy { $0.allSatisfy { $0 < 0x80 } }
  try loc.check(H5Tset_cset(type.id, ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8), "make string type")
  return (type, bytes)
}

func checkShape(_ shape: [Int], count: Int, _ op: String, _ loc: Location? = nil) throws {
  if shape.contains(where: { $0 < 0 }) || shape.reduce(1, *) != count {
    throw (loc ?? Location(file: "?", path: nil)).error(
      .invalidArgument, op, "shape \(shape) holds \(shape.contains { $0 < 0 } ? 0 : shape.reduce(1, *)) elements but \(count) values were given",
      hint: "Pass as many values as the shape holds")
  }
}

extension Object {
  func checkShape(_ shape: [Int], count: Int, _ op: String) throws {
    try HDF5.checkShape(shape, count: count, op, location)
  }
}

/// A dataspace for `shape` (`[]` is a scalar). Inside `sync`.
func makeSpace(_ shape: [Int], _ loc: Location) throws -> Handle {
  if shape.isEmpty {
    return try Handle(H5Screate(H5S_SCALAR), loc, "create scalar dataspace", close: H5Sclose)
  }
  let dims = shape.map { hsize_t($0) }
  return try Handle(H5Screate_simple(Int32(dims.count), dims, nil), loc, "create dataspace \(shape)",
                    close: H5Sclose)
}
