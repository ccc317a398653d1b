import CHDF5
import Foundation

/// Whether the raw path for variable-length strings (`GlobalHeap`, `chdf5_conv_raw_vlen`) works
/// with the libhdf5 this process runs on, checked once per process before the first string is
/// read from a file.
///
/// The raw path relies on two things verified only with libhdf5 1.10.8: that a conversion from a
/// variable-length string to a tagged opaque type is handed the descriptors as stored in the file
/// (4-byte length, heap address, 4-byte object index), and that the global heap collections are
/// laid out as the specification says. Another libhdf5 (1.12, 1.14: Homebrew's, say) could hand
/// over something else, and then every string read would fail. So the first read writes a tiny
/// file in memory (core driver, no backing store) holding a known variable-length string
/// attribute and a known variable-length string dataset, reads both back through the raw path,
/// and compares. When they differ (or the raw path fails), strings are read through libhdf5's own
/// conversion from then on (without the checks against corrupt heaps), and stderr says so once.
enum VlenSelfCheck {
  enum Outcome: Equatable, Sendable {
    /// The raw path read back what was written.
    case raw
    /// It did not; the reason.
    case library(String)
  }

  /// The strings the self-check writes and expects back: empty, ASCII, non-ASCII UTF-8, and one
  /// longer than a descriptor.
  static let attributeValue = "rnnconf vlen self-check: ∂x/∂t ≈ 0.5"
  static let datasetValues = ["", "a", "zwölf Boxkämpfer", String(repeating: "0123456789", count: 7)]

  /// The answer for this process (computed on first use; inside `Library.sync`).
  static var rawPathInUse: Bool { decided == .raw }

  private static let decided: Outcome = {
    let outcome = run()
    if case let .library(why) = outcome {
      let text = "rnnconf: the raw variable-length string reader failed its self-check on libhdf5 \(Library.version) "
        + "(\(why)); strings are read through libhdf5's own conversion from now on, without the checks "
        + "against corrupt global heaps (see docs/HOSTILE-INPUTS.md)\n"
      FileHandle.standardError.write(Data(text.utf8))
    }
    return outcome
  }()

  /// Writes the file, reads it back through the raw path, compares. `tamper` changes the raw
  /// descriptors before they are decoded (tests use it to stand in for a libhdf5 whose layout
  /// differs).
  static func run(tamper: (([UInt8]) -> [UInt8])? = nil) -> Outcome {
    guard Library.sync({ Library.rawVlenRegistered }) else { return .library("its conversion could not be registered with H5Tregister") }
    do {
      let image = try writeSample()
      let file = try File(image: image, name: "rnnconf-vlen-self-check-\(UUID().uuidString).h5")
      let root = try file.root
      let attribute = try readRaw(file, root, dataset: nil, tamper: tamper)
      let dataset = try readRaw(file, root, dataset: "strings", tamper: tamper)
      if attribute != [attributeValue] {
        return .library("an attribute written as \(quoted([attributeValue])) read back as \(quoted(attribute))")
      }
      if dataset != datasetValues {
        return .library("a dataset written as \(quoted(datasetValues)) read back as \(quoted(dataset))")
      }
      return .raw
    } catch {
      return .library("\(error)")
    }
  }

  private static func quoted(_ v: [String]) -> String {
    "[" + v.map { "\"" + ($0.count > 24 ? String($0.prefix(24)) + "..." : $0) + "\"" }.joined(separator: ", ") + "]"
  }

  /// The sample file's bytes: attribute `s` on the root (a scalar variable-length UTF-8 string,
  /// as h5py writes a `str`) and dataset `strings` (a 1-D array of them).
  private static func writeSample() throws -> [UInt8] {
    // libhdf5 refuses to create a file by the name of one already open, even in memory: one
    // name per run (tests run the check concurrently).
    let out = try File.create(path: "rnnconf-vlen-self-check-\(UUID().uuidString).h5", inMemory: true)
    let root = try out.root
    try root.setAttribute("s", attributeValue)
    try Library.sync {
      let loc = Location(file: out.path, path: "/strings")
      let type = try Handle(H5Tcopy(chdf5_T_C_S1()), loc, "make string type", close: H5Tclose)
      try loc.check(H5Tset_size(type.id, chdf5_VARIABLE()), "make string type")
      try loc.check(H5Tset_cset(type.id, H5T_CSET_UTF8), "make string type")
      let space = try makeSpace([datasetValues.count], loc)
      let d = try Handle(H5Dcreate2(root.handle.id, "strings", type.id, space.id, chdf5_P_DEFAULT(), chdf5_P_DEFAULT(),
                                    chdf5_P_DEFAULT()), loc, "create dataset", close: H5Dclose)
      var pointers: [UnsafeMutablePointer<CChar>?] = datasetValues.map { strdup($0) }
      defer { pointers.forEach { free($0) } }
      try pointers.withUnsafeMutableBytes {
        _ = try loc.check(H5Dwrite(d.id, type.id, chdf5_S_ALL(), chdf5_S_ALL(), chdf5_P_DEFAULT(), $0.baseAddress),
                          "write dataset")
      }
    }
    try out.flush()
    return try out.image()
  }

  /// The strings of attribute `s` (or of `dataset`) read through the raw descriptors only.
  private static func readRaw(_ file: File, _ root: Group, dataset: String?, tamper: (([UInt8]) -> [UInt8])?) throws -> [String] {
    let object: Object = dataset == nil ? root : try root.dataset(dataset!)
    let attribute = dataset == nil ? try root.attribute("s") : nil
    return try Library.sync {
      let loc = Location(file: file.path, path: object.path)
      let op = "self-check variable-length strings"
      let type: Handle, space: Handle
      if let a = attribute {
        type = try Handle(H5Aget_type(a.handle.id), loc, op, close: H5Tclose)
        space = try Handle(H5Aget_space(a.handle.id), loc, op, close: H5Sclose)
      } else {
        type = try Handle(H5Dget_type(object.handle.id), loc, op, close: H5Tclose)
        space = try Handle(H5Dget_space(object.handle.id), loc, op, close: H5Sclose)
      }
      let id = attribute?.handle.id ?? object.handle.id
      let reader = Reader(file: file, loc: loc, op: op, type: type.id, space: space.id) { mem, ms, fs, buf in
        attribute != nil ? H5Aread(id, mem, buf) : H5Dread(id, mem, ms, fs, chdf5_P_DEFAULT(), buf)
      }
      guard let n = try reader.extent().count, let bytes = try file.rawBytes(loc, op) else {
        throw loc.error(.libraryCall, op, "the in-memory file's bytes are not reachable")
      }
      var heap = GlobalHeap(loc: loc, op: op, file: bytes)
      var raw = try reader.rawVlenDescriptors(count: n, size: heap.descriptorSize)
      if let tamper { raw = tamper(raw) }
      return try heap.strings(raw, count: n, limit: 1 << 20).map { String(decoding: $0 ?? [], as: UTF8.self) }
    }
  }
}
