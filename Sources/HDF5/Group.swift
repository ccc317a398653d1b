import CHDF5

/// A group: children in file order, nested paths, creation.
public final class Group: Object {
  init(file: File, path: String, parentID: hid_t, name: String) throws {
    let loc = Location(file: file.path, path: path)
    let h = try Library.sync { () throws -> Handle in
      let h = try Handle(H5Gopen2(parentID, name, chdf5_P_DEFAULT()), loc, "open group", close: H5Gclose)
      // Before anything is looked up in it (see `ObjectHeaderCheck`).
      try file.checkObjectHeader(id: h.id, path: path, "open group")
      return h
    }
    super.init(handle: h, file: file, path: path)
  }

  override init(handle: Handle, file: File, path: String) { super.init(handle: handle, file: file, path: path) }

  override func creationPlist() throws -> Handle {
    try Handle(H5Gget_create_plist(handle.id), location, "get group creation properties", close: H5Pclose)
  }

  /// What a link in a group points to.
  public enum ChildKind: Equatable, Sendable {
    case group, dataset, namedDatatype
    /// A soft link and its target path.
    case softLink(String)
    /// An external link (file, path).
    case externalLink(String)
    case other
  }

  /// One link of a group, in file order.
  public struct Child: Equatable, Sendable {
    public var name: String
    public var kind: ChildKind
  }

  /// Whether link creation order is tracked. Inside `sync`.
  private func linkOrderTracked() -> Bool { creationOrderTracked(H5Pget_link_creation_order) }

  /// Link names in creation order when tracked (h5py `track_order=True`), else name order.
  public func childNames() throws -> [String] {
    try Library.sync {
      let loc = location
      var info = H5G_info_t()
      try loc.check(H5Gget_info(handle.id, &info), "list group")
      try checkListingProbe(H5Lexists(handle.id, listingProbeName, chdf5_P_DEFAULT()), loc, "list group", what: "link")
      return try namesByIndex(count: info.nlinks, tracked: linkOrderTracked(), location: loc, what: "link") {
        H5Lget_name_by_idx(handle.id, ".", $0, H5_ITER_INC, $1, $2, $3, chdf5_P_DEFAULT())
      }
    }
  }

  /// The children in file order with what each is (soft/external links are not followed).
  public func children() throws -> [Child] {
    let names = try childNames()
    return try Library.sync {
      try names.map { name in
        let loc = location.child(name)
        var linfo = H5L_info_t()
        try loc.check(H5Lget_info(handle.id, name, &linfo, chdf5_P_DEFAULT()), "get link info")
        if linfo.type == H5L_TYPE_SOFT || linfo.type == H5L_TYPE_EXTERNAL {
          var buf = [CChar](repeating: 0, count: Int(linfo.u.val_size) + 1)
          _ = H5Lget_val(handle.id, name, &buf, buf.count, chdf5_P_DEFAULT())
          _ = H5Eclear2(chdf5_E_DEFAULT())
          if linfo.type == H5L_TYPE_SOFT { return Child(name: name, kind: .softLink(decodeCChars(buf))) }
          var fileName: UnsafePointer<CChar>? = nil, objName: UnsafePointer<CChar>? = nil
          var flags: UInt32 = 0
          var target = "?"
          if H5Lunpack_elink_val(&buf, buf.count, &flags, &fileName, &objName) >= 0, let f = fileName, let o = objName {
            target = decodeCString(f) + ":" + decodeCString(o)
          }
          _ = H5Eclear2(chdf5_E_DEFAULT())
          return Child(name: name, kind: .externalLink(target))
        }
        if linfo.type != H5L_TYPE_HARD { return Child(name: name, kind: .other) }
        var oinfo = H5O_info_t()
        try loc.check(H5Oget_info_by_name2(handle.id, name, &oinfo, chdf5_O_INFO_BASIC(), chdf5_P_DEFAULT()),
                      "get object info")
        switch oinfo.type {
        case H5O_TYPE_GROUP: return Child(name: name, kind: .group)
        case H5O_TYPE_DATASET: return Child(name: name, kind: .dataset)
        case H5O_TYPE_NAMED_DATATYPE: return Child(name: name, kind: .namedDatatype)
        default: return Child(name: name, kind: .other)
        }
      }
    }
  }

  /// Paths (relative to this group) of every dataset below it, depth first in
  /// file order. Soft and external links are not followed.
  public func datasetPaths() throws -> [String] {
    var out: [String] = []
    var visited = Set<UInt64>()
    func walk(_ g: Group, _ prefix: String, depth: Int) throws {
      if let a = g.address { guard visited.insert(a).inserted else { return } }
      guard depth < 64 else { return }
      for c in try g.children() {
        switch c.kind {
        case .dataset: out.append(prefix + c.name)
        case .group: try walk(try g.group(c.name), prefix + c.name + "/", depth: depth + 1)
        default: break
        }
      }
    }
    try walk(self, "", depth: 0)
    return out
  }

  /// Whether `path` (relative, `/`-separated, or absolute) names an existing link.
  public func exists(_ path: String) throws -> Bool {
    let parts = path.split(separator: "/", omittingEmptySubsequences: true)
    let base = path.hasPrefix("/") ? "/" : "."
    return try Library.sync {
      let op = "check `\(path)`"
      var prefix = base == "/" ? "" : "."
      var groupPath = base == "/" ? "/" : self.path
      for (k, p) in parts.enumerated() {
        // libhdf5 looks `p` up in the group reached so far: check that group's header first
        // (this group's own was checked when it was opened; see `ObjectHeaderCheck`).
        if k > 0 || base == "/" { try checkHeader(prefix.isEmpty ? "/" : prefix, path: groupPath, op) }
        prefix += "/" + p
        groupPath = joinPath(groupPath, String(p))
        let r = try location.check(H5Lexists(handle.id, prefix, chdf5_P_DEFAULT()), op)
        if r <= 0 { return false }
      }
      return true
    }
  }

  /// Checks the header of the object at `name` (relative to this group, a link known to exist)
  /// before libhdf5 looks anything up in it. When libhdf5 cannot read that header itself (a
  /// continuation chunk past the end of the file, say), that is the error: a lookup inside the
  /// object would still decode the header's first chunk, link-info message included, unchecked,
  /// and segfault on a garbage B-tree address (a fuzzer finding, `fuzz-segv-linfo-unreadable-header.h5`).
  /// Inside `sync`.
  private func checkHeader(_ name: String, path: String, _ op: String) throws {
    if file.isWritable { return }
    var info = H5O_info_t()
    let loc = Location(file: file.path, path: path)
    try loc.check(H5Oget_info_by_name2(handle.id, name, &info, chdf5_O_INFO_BASIC(), chdf5_P_DEFAULT()),
                  "\(op): read the object header of `\(path)`",
                  hint: "The object header at this path cannot be read (the file is corrupt); re-copy or regenerate it")
    try file.checkObjectHeader(address: UInt64(info.addr), path: path, noun: File.noun(info.type), op)
  }

  private func resolve(_ path: String, _ what: String) throws -> String {
    let full = joinPath(self.path, path)
    guard try exists(path) else {
      let siblings = (try? childNames()) ?? []
      throw Location(file: file.path, path: full).error(
        .notFound, "open \(what)", "no \(what) `\(full)` in the file",
        hint: siblings.isEmpty ? "`\(self.path)` is empty" : "`\(self.path)` holds: " + siblings.prefix(20).joined(separator: ", "))
    }
    return full
  }

  /// Opens a subgroup by relative path (`"lstm/lstm_cell"`); missing paths throw `.notFound`.
  public func group(_ path: String) throws -> Group {
    let full = try resolve(path, "group")
    let r = try Library.sync { () throws -> Handle in
      let loc = Location(file: file.path, path: full)
      let oinfo = try file.checkObjectHeader(at: handle.id, path, path: full, "open group")
      if oinfo.type != H5O_TYPE_GROUP {
        throw loc.error(.typeMismatch, "open group", "`\(full)` is not a group", hint: "Open it as a dataset")
      }
      return try Handle(H5Gopen2(handle.id, path, chdf5_P_DEFAULT()), loc, "open group", close: H5Gclose)
    }
    return Group(handle: r, file: file, path: full)
  }

  /// Opens a dataset by relative path (`"rnn/lstm_cell/kernel"`); missing paths throw `.notFound`.
  public func dataset(_ path: String) throws -> Dataset {
    let full = try resolve(path, "dataset")
    let r = try Library.sync { () throws -> Handle in
      let loc = Location(file: file.path, path: full)
      let oinfo = try file.checkObjectHeader(at: handle.id, path, path: full, "open dataset")
      if oinfo.type != H5O_TYPE_DATASET {
        throw loc.error(.typeMismatch, "open dataset", "`\(full)` is not a dataset", hint: "Open it as a group")
      }
      return try Handle(H5Dopen2(handle.id, path, chdf5_P_DEFAULT()), loc, "open dataset", close: H5Dclose)
    }
    return Dataset(handle: r, file: file, path: full)
  }

  // MARK: Writing

  /// Link creation properties that create missing intermediate groups. Inside `sync`.
  private func intermediateLCPL(_ loc: Location) throws -> Handle {
    let lcpl = try Handle(H5Pcreate(chdf5_P_LINK_CREATE()), loc, "create link properties", close: H5Pclose)
    try loc.check(H5Pset_create_intermediate_group(lcpl.id, 1), "create link properties")
    return lcpl
  }

  /// Creates a group (and missing intermediate groups) tracking creation order.
  @discardableResult
  public func createGroup(_ path: String) throws -> Group {
    let full = joinPath(self.path, path)
    let h = try Library.sync { () throws -> Handle in
      let loc = Location(file: file.path, path: full)
      let gcpl = try Handle(H5Pcreate(chdf5_P_GROUP_CREATE()), loc, "create group properties", close: H5Pclose)
      let order = chdf5_P_CRT_ORDER_TRACKED() | chdf5_P_CRT_ORDER_INDEXED()
      try loc.check(H5Pset_link_creation_order(gcpl.id, order), "create group properties")
      try loc.check(H5Pset_attr_creation_order(gcpl.id, order), "create group properties")
      let lcpl = try intermediateLCPL(loc)
      return try Handle(H5Gcreate2(handle.id, path, lcpl.id, gcpl.id, chdf5_P_DEFAULT()), loc, "create group",
                        close: H5Gclose)
    }
    return Group(handle: h, file: file, path: full)
  }

  /// Creates a dataset of `T`'s little-endian type (Float -> float32, Double ->
  /// float64, Int -> int64, ...) with `shape` (`[]` for a scalar) and writes `values`.
  @discardableResult
  public func createDataset<T: HDF5Numeric>(_ path: String, shape: [Int], values: [T]) throws -> Dataset {
    let full = joinPath(self.path, path)
    let loc = Location(file: file.path, path: full)
    try HDF5.checkShape(shape, count: values.count, "create dataset", loc)
    let h = try Library.sync { () throws -> Handle in
      let space = try makeSpace(shape, loc)
      let dcpl = try Handle(H5Pcreate(chdf5_P_DATASET_CREATE()), loc, "create dataset properties", close: H5Pclose)
      let order = chdf5_P_CRT_ORDER_TRACKED() | chdf5_P_CRT_ORDER_INDEXED()
      try loc.check(H5Pset_attr_creation_order(dcpl.id, order), "create dataset properties")
      let lcpl = try intermediateLCPL(loc)
      let d = try Handle(H5Dcreate2(handle.id, path, T.hdf5Kind.fileType, space.id, lcpl.id, dcpl.id,
                                    chdf5_P_DEFAULT()), loc, "create dataset", close: H5Dclose)
      try values.withUnsafeBytes {
        _ = try loc.check(H5Dwrite(d.id, T.hdf5Kind.memoryType, chdf5_S_ALL(), chdf5_S_ALL(), chdf5_P_DEFAULT(),
                                   $0.baseAddress), "write dataset")
      }
      return d
    }
    return Dataset(handle: h, file: file, path: full)
  }

  /// Creates a chunked dataset of `T`'s type with `shape` and writes nothing: the file holds
  /// only its description until chunks are written (reads give zeros). Tests use it to declare a
  /// huge tensor in a small file, as a hostile file can.
  @discardableResult
  public func createUnwrittenDataset<T: HDF5Numeric>(_ path: String, shape: [Int], chunk: [Int], of _: T.Type) throws -> Dataset {
    let full = joinPath(self.path, path)
    let loc = Location(file: file.path, path: full)
    let h = try Library.sync { () throws -> Handle in
      let space = try makeSpace(shape, loc)
      let dcpl = try Handle(H5Pcreate(chdf5_P_DATASET_CREATE()), loc, "create dataset properties", close: H5Pclose)
      try loc.check(H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk.map { hsize_t($0) }), "create dataset properties")
      let lcpl = try intermediateLCPL(loc)
      return try Handle(H5Dcreate2(handle.id, path, T.hdf5Kind.fileType, space.id, lcpl.id, dcpl.id,
                                   chdf5_P_DEFAULT()), loc, "create dataset", close: H5Dclose)
    }
    return Dataset(handle: h, file: file, path: full)
  }

  /// Creates a 1-D dataset of fixed-length, NUL-padded byte strings (numpy `S<n>`).
  @discardableResult
  public func createDataset(_ path: String, fixedLengthStrings values: [String]) throws -> Dataset {
    let full = joinPath(self.path, path)
    let loc = Location(file: file.path, path: full)
    let h = try Library.sync { () throws -> Handle in
      let (type, bytes) = try fixedLengthStrings(values, loc)
      let space = try makeSpace([values.count], loc)
      let lcpl = try intermediateLCPL(loc)
      let d = try Handle(H5Dcreate2(handle.id, path, type.id, space.id, lcpl.id, chdf5_P_DEFAULT(), chdf5_P_DEFAULT()),
                         loc, "create dataset", close: H5Dclose)
      try bytes.withUnsafeBytes {
        _ = try loc.check(H5Dwrite(d.id, type.id, chdf5_S_ALL(), chdf5_S_ALL(), chdf5_P_DEFAULT(), $0.baseAddress),
                          "write dataset")
      }
      return d
    }
    return Dataset(handle: h, file: file, path: full)
  }

  /// Removes the link at `path` (the object goes when nothing else links to it).
  public func deleteLink(_ path: String) throws {
    let full = try resolve(path, "link")
    try Library.sync {
      _ = try Location(file: file.path, path: full).check(H5Ldelete(handle.id, path, chdf5_P_DEFAULT()), "delete link")
    }
  }

  /// Creates a 1-D uint8 dataset holding `bytes` (how case files carry Keras artifacts).
  @discardableResult
  public func createDataset(_ path: String, bytes: [UInt8]) throws -> Dataset {
    try createDataset(path, shape: [bytes.count], values: bytes)
  }
}
