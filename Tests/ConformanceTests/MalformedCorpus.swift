import Foundation
import HDF5
import RNNRef
@testable import Conformance

#if canImport(Glibc)
import Glibc
#endif

/// A seeded corpus of malformed inputs for every reader `rnnconf` has (issue 11), built from
/// bundled fixtures into a folder: HDF5 truncations and bit flips of case files, case attribute
/// and config mutations, `.npy` headers and data, `.keras` zips, filesystem oddities.
/// Nothing here is an expected tensor: each entry says only which commands to run and whether
/// the input is certainly garbage (`mustFail`: exit 1) or may happen to stay valid (a bit flip in
/// padding or in a tensor's last digits: exit 0 or 1).
struct MalformedCorpus {
  struct Entry {
    var label: String
    /// Arguments of each `rnnconf` invocation (the first is the command).
    var commands: [[String]]
    var mustFail: Bool
    /// Text every error message must contain (the file's path, or the path inside a folder).
    var mentions: String
  }

  let dir: String
  var rng: SplitMix
  var entries: [Entry] = []

  /// A small seeded generator (SplitMix64), local so the corpus does not depend on any other code's stream.
  struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
  }

  static let root = RepoPaths.root + "/fixtures/"
  static let caseSources = ["pytorch/lstm_bidirectional.h5", "tf1/basic_lstm_fb1.h5", "onnx/gru_activations.h5",
                            "keras/k2_lstm_seq.h5", "keras/k3_lstm_seq.h5"]

  init(dir: String, seed: UInt64) { self.dir = dir; self.rng = SplitMix(state: seed) }

  func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
  func write(_ name: String, _ b: [UInt8]) throws -> String {
    let p = dir + "/" + name
    try Data(b).write(to: URL(fileURLWithPath: p))
    return p
  }
  mutating func add(_ label: String, _ commands: [[String]], mustFail: Bool, mentions: String) {
    entries.append(Entry(label: label, commands: commands, mustFail: mustFail, mentions: mentions))
  }

  /// A `.npy` (version 1.0) of `header` and `data`, the header padded as numpy pads it.
  static func npy(header: String, data: [UInt8]) -> [UInt8] {
    var h = Array(header.utf8)
    let total = 10 + h.count + 1
    h += Array(repeating: 0x20, count: (64 - total % 64) % 64) + [0x0a]
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xff), UInt8(h.count >> 8)] + h + data
  }

  static func floatBytes(_ values: [Double]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in withUnsafeBytes(of: Float(v).bitPattern.littleEndian, Array.init) }
  }

  mutating func generate() throws {
    // A. Truncated case files (certainly broken: libhdf5 sees eof < stored eof, or no superblock).
    for src in Self.caseSources {
      let whole = try bytes(Self.root + src)
      for k in 0..<12 {
        let cut = rng.below(whole.count)
        let name = "trunc-\(k)-" + src.replacingOccurrences(of: "/", with: "_")
        let p = try write(name, Array(whole.prefix(cut)))
        var cmds = [["run", p]]
        if k % 3 == 0 { cmds.append(["inspect", p]) }
        if k % 4 == 1 { cmds.append(["list", p]) }
        add("truncated \(src) at \(cut)", cmds, mustFail: true, mentions: p)
      }
    }
    // B. Bit flips of case files (may stay valid: a flip in padding or a value's last bits).
    for src in Self.caseSources {
      let whole = try bytes(Self.root + src)
      for k in 0..<16 {
        var b = whole
        let flips = 1 + rng.below(4)
        for _ in 0..<flips { b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
        let p = try write("flip-\(k)-" + src.replacingOccurrences(of: "/", with: "_"), b)
        add("\(flips) bit flips in \(src)", k % 2 == 0 ? [["run", p], ["inspect", p]] : [["run", p]],
            mustFail: false, mentions: p)
      }
    }
    // C. Case attributes and config (each certainly wrong).
    try attributeMutations()
    // D. .npy inputs to `predict` (the model is a bundled case's real model.h5).
    try npyMutations()
    // E. .keras archives (a bundled Keras 3 case's real model.keras).
    try kerasMutations()
    // F. Filesystem oddities.
    try filesystemOddities()
  }

  /// Copies a bundled case and edits it with the HDF5 layer.
  func edited(_ src: String, _ name: String, _ edit: (Group) throws -> Void) throws -> String {
    let p = dir + "/" + name
    try FileManager.default.copyItem(atPath: Self.root + src, toPath: p)
    try edit(try File(path: p, writable: true).root)
    return p
  }

  mutating func attributeMutations() throws {
    typealias Edit = (String, (Group) throws -> Void)
    let deep = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
    var edits: [Edit] = [
      ("atol 1e300 without a reason", { try $0.setAttribute("atol", 1e300) }),
      ("rtol 1 without a reason", { try $0.setAttribute("rtol", 1.0) }),
      ("atol NaN", { try $0.setAttribute("atol", Double.nan) }),
      ("atol -1", { try $0.setAttribute("atol", -1.0) }),
      ("empty name", { try $0.setAttribute("name", "") }),
      ("framework caffe", { try $0.setAttribute("framework", "caffe") }),
      ("cell transformer", { try $0.setAttribute("cell", "transformer") }),
      ("dtype float16", { try $0.setAttribute("dtype", "float16") }),
      ("schema 2", { try $0.setAttribute("rnnconf_case_schema", 2) }),
      ("schema attribute as a string", { try $0.deleteAttribute("rnnconf_case_schema"); try $0.setAttribute("rnnconf_case_schema", "1") }),
      ("no schema attribute", { try $0.deleteAttribute("rnnconf_case_schema") }),
      ("nan_equal 7", { try $0.setAttribute("nan_equal", 7) }),
      ("config empty", { try $0.setAttribute("config", "") }),
      ("config null", { try $0.setAttribute("config", "null") }),
      ("config array", { try $0.setAttribute("config", "[]") }),
      ("config nested 20000 deep", { try $0.setAttribute("config", deep) }),
      ("config object of nothing", { try $0.setAttribute("config", "{}") }),
      ("a listed input missing", { try $0.setAttribute("input_names", fixedLengthStrings: (try $0.stringsAttribute("input_names")) + ["ghost"]) }),
      ("an output unlisted", { try $0.setAttribute("output_names", fixedLengthStrings: Array((try $0.stringsAttribute("output_names")).dropLast())) }),
      ("a weight deleted", { try $0.deleteLink("weights/" + (try $0.stringsAttribute("weight_names"))[0]) }),
      ("weight_names as a number", { try $0.deleteAttribute("weight_names"); try $0.setAttribute("weight_names", 3) }),
      ("input as strings", { g in
        let n = try g.stringsAttribute("input_names")[0]
        try g.deleteLink("inputs/" + n); try g.createDataset("inputs/" + n, fixedLengthStrings: ["a"]) }),
      ("input in float64", { g in
        let n = try g.stringsAttribute("input_names")[0]
        let shape = try g.dataset("inputs/" + n).shape
        try g.deleteLink("inputs/" + n)
        try g.createDataset("inputs/" + n, shape: shape, values: [Double](repeating: 0.25, count: shape.reduce(1, *))) }),
      ("input of the wrong width", { g in
        let n = try g.stringsAttribute("input_names")[0]
        let shape = try g.dataset("inputs/" + n).shape
        let wrong = Array(shape.dropLast()) + [shape.last! + 5]
        try g.deleteLink("inputs/" + n)
        try g.createDataset("inputs/" + n, shape: wrong, values: [Float](repeating: 0.25, count: wrong.reduce(1, *))) }),
      ("artifact listed but missing", { try $0.setAttribute("artifact_names", fixedLengthStrings: ["model.h5", "gone.keras"]) }),
    ]
    // Seeded config mutations: a JSON number replaced by an absurd or wrong-typed value.
    let absurd = ["1e9", "-1", "0", "1e308", "\"x\"", "null", "[]", "4294967297"]
    for k in 0..<12 {
      let pick = rng.below(1 << 30), value = absurd[k % absurd.count]
      edits.append(("config number \(k) -> \(value)", { g in
        let text = try g.stringAttribute("config")
        let numbers = Self.numberRanges(text)
        guard !numbers.isEmpty else { return }
        var t = text
        t.replaceSubrange(numbers[pick % numbers.count], with: value)
        try g.setAttribute("config", t)
      }))
    }
    for k in 0..<6 {
      let cut = rng.below(1 << 30)
      edits.append(("config truncated \(k)", { g in
        let text = try g.stringAttribute("config")
        try g.setAttribute("config", String(text.prefix(cut % max(text.count, 1))))
      }))
    }
    for (i, (label, edit)) in edits.enumerated() {
      for src in ["pytorch/lstm_bidirectional.h5", "keras/k2_lstm_seq.h5"] {
        // Only the Keras case carries artifacts; the config numbers are per case.
        if label.hasPrefix("artifact") && !src.hasPrefix("keras") { continue }
        let p = try edited(src, "attr-\(i)-" + src.replacingOccurrences(of: "/", with: "_"), edit)
        // Config number swaps can land on a value that is still valid (0 for a flag that was 0).
        let certain = !label.hasPrefix("config number")
        var cmds = [["run", p]]
        if i % 3 == 0 { cmds.append(["inspect", p]) }
        if i % 4 == 0 { cmds.append(["list", p]) }
        add("\(label) (\(src))", cmds, mustFail: certain, mentions: p)
      }
    }
  }

  /// Ranges of the numbers in a JSON text (digits with sign, point and exponent).
  static func numberRanges(_ text: String) -> [Range<String.Index>] {
    var out: [Range<String.Index>] = []
    var i = text.startIndex
    var inString = false
    while i < text.endIndex {
      let c = text[i]
      if c == "\"" { inString.toggle(); i = text.index(after: i); continue }
      if !inString, c == "-" || c.isNumber {
        var j = text.index(after: i)
        while j < text.endIndex, text[j].isNumber || "+-.eE".contains(text[j]) { j = text.index(after: j) }
        out.append(i..<j)
        i = j
        continue
      }
      i = text.index(after: i)
    }
    return out
  }

  /// The bundled Keras 2 case's model and a valid input for it.
  func kerasModelAndInput() throws -> (model: String, input: [Double], shape: [Int]) {
    let src = Self.root + "keras/k2_lstm_seq.h5"
    let model = try write("model-k2.h5", try Case.artifact(path: src, name: "model.h5"))
    let x = try Case.load(path: src).inputs.entries[0].tensor
    return (model, x.scalars, x.shape)
  }

  mutating func npyMutations() throws {
    let (model, values, shape) = try kerasModelAndInput()
    let data = Self.floatBytes(values)
    let dims = shape.map(String.init).joined(separator: ", ")
    func dict(_ descr: String, _ fortran: String = "False", _ shape: String) -> String {
      "{'descr': '\(descr)', 'fortran_order': \(fortran), 'shape': (\(shape)), }"
    }
    var files: [(String, [UInt8])] = [
      ("bad magic", [0x94] + Array(Self.npy(header: dict("<f4", "False", dims), data: data).dropFirst())),
      ("version 9", { var b = Self.npy(header: dict("<f4", "False", dims), data: data); b[6] = 9; return b }()),
      ("header length past the end", { var b = Self.npy(header: dict("<f4", "False", dims), data: data); b[8] = 0xff; b[9] = 0xff; return b }()),
      ("header not a dict", Self.npy(header: "[1, 2, 3]", data: data)),
      ("descr <i16", Self.npy(header: dict("<i16", "False", dims), data: data)),
      ("descr <i9", Self.npy(header: dict("<i9", "False", dims), data: data)),
      ("descr <u0 with a huge shape", Self.npy(header: dict("<u0", "False", "4000000000, 200"), data: [])),
      ("descr <c8", Self.npy(header: dict("<c8", "False", dims), data: data)),
      ("descr object", Self.npy(header: dict("|O", "False", dims), data: data)),
      ("shape product overflows", Self.npy(header: dict("<f4", "False", "4611686018427387904, 4611686018427387904"), data: data)),
      ("negative shape", Self.npy(header: dict("<f4", "False", "-3, 6, 3"), data: data)),
      ("shape of rank 2", Self.npy(header: dict("<f4", "False", "\(shape[0] * shape[1]), \(shape[2])"), data: data)),
      ("shape too large for the data", Self.npy(header: dict("<f4", "False", "\(shape[0] * 100), \(shape[1]), \(shape[2])"), data: data)),
      ("65 dimensions", Self.npy(header: dict("<f4", "False", Array(repeating: "1", count: 65).joined(separator: ", ")), data: data)),
      ("extra key", Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), 'x': 1, }", data: data)),
      ("missing shape", Self.npy(header: "{'descr': '<f4', 'fortran_order': False, }", data: data)),
      ("fortran_order maybe", Self.npy(header: dict("<f4", "Maybe", dims), data: data)),
      ("empty header", Self.npy(header: "", data: data)),
      ("only the magic", Array(Self.npy(header: dict("<f4", "False", dims), data: data).prefix(6))),
      ("empty file", []),
      ("text", Array("x = [1, 2, 3]\n".utf8)),
    ]
    let good = Self.npy(header: dict("<f4", "False", dims), data: data)
    for k in 0..<24 {
      let cut = 1 + rng.below(good.count - 1)
      files.append(("truncated at \(cut) (\(k))", Array(good.prefix(cut))))
    }
    for k in 0..<16 {
      // Garbage in the header text (never the data): the parser must refuse it or read a valid header.
      var b = good
      let at = 10 + rng.below(60)
      b[at] = UInt8(truncatingIfNeeded: rng.next())
      files.append(("header byte \(at) garbled (\(k))", b))
    }
    for (i, (label, b)) in files.enumerated() {
      let p = try write("input-\(i).npy", b)
      let certain = !label.hasPrefix("header byte")
      add("npy: \(label)", [["predict", model, "--input", p]], mustFail: certain, mentions: p)
    }
  }

  mutating func kerasMutations() throws {
    let src = Self.root + "keras/k3_lstm_seq.h5"
    let archive = try Case.artifact(path: src, name: "model.keras")
    let x = try Case.load(path: src).inputs.entries[0].tensor
    let dims = x.shape.map(String.init).joined(separator: ", ")
    let input = try write("k3-input.npy", Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }",
                                                  data: Self.floatBytes(x.scalars)))
    for k in 0..<15 {
      let cut = rng.below(archive.count)
      let p = try write("trunc-\(k).keras", Array(archive.prefix(cut)))
      add("keras truncated at \(cut)", [["predict", p, "--input", input], ["inspect", p]], mustFail: true, mentions: p)
    }
    for k in 0..<15 {
      var b = archive
      for _ in 0..<(1 + rng.below(3)) { b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
      let p = try write("flip-\(k).keras", b)
      add("keras bit flips \(k)", [["predict", p, "--input", input]] + (k % 2 == 0 ? [["inspect", p]] : []),
          mustFail: false, mentions: p)
    }
    // The end record's entry counts zeroed: the directory no longer matches.
    if let eocd = (0...(archive.count - 22)).reversed().first(where: { archive[$0] == 0x50 && archive[$0 + 1] == 0x4b && archive[$0 + 2] == 5 && archive[$0 + 3] == 6 }) {
      var b = archive
      b[eocd + 8] = 1; b[eocd + 9] = 0; b[eocd + 10] = 1; b[eocd + 11] = 0
      let p = try write("eocd.keras", b)
      add("keras end record declaring 1 entry", [["predict", p, "--input", input], ["inspect", p]], mustFail: true, mentions: p)
    }
    for k in 0..<6 {
      let junk = [0x50, 0x4b, 0x03, 0x04] + (0..<(100 + rng.below(4000))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let p = try write("junk-\(k).keras", junk)
      add("keras junk after a zip signature", [["predict", p, "--input", input], ["inspect", p]], mustFail: true, mentions: p)
    }
  }

  mutating func filesystemOddities() throws {
    let fifo = dir + "/fifo.h5"
    mkfifo(fifo, 0o644)
    add("FIFO named .h5", [["run", fifo], ["list", fifo], ["inspect", fifo]], mustFail: true, mentions: fifo)
    let fifoNPY = dir + "/fifo.npy"
    mkfifo(fifoNPY, 0o644)
    let (model, _, _) = try kerasModelAndInput()
    add("FIFO named .npy", [["predict", model, "--input", fifoNPY]], mustFail: true, mentions: fifoNPY)
    let folderH5 = dir + "/folder.h5"
    try FileManager.default.createDirectory(atPath: folderH5, withIntermediateDirectories: true)
    add("a folder named .h5", [["inspect", folderH5]], mustFail: true, mentions: folderH5)
    let empty = try write("empty.h5", [])
    add("empty .h5", [["run", empty], ["inspect", empty], ["list", empty]], mustFail: true, mentions: empty)
    let zeros = try write("zeros.h5", [UInt8](repeating: 0, count: 4096))
    add("zeros .h5", [["run", zeros], ["inspect", zeros]], mustFail: true, mentions: zeros)
    let dangling = dir + "/dangling.h5"
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/nowhere.h5")
    add("dangling symlink", [["inspect", dangling]], mustFail: true, mentions: dangling)
    for k in 0..<10 {
      let p = try write("random-\(k).h5", (0..<(1 + rng.below(3000))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
      add("random bytes .h5 \(k)", [["run", p], ["inspect", p]], mustFail: true, mentions: p)
    }
    let hdf5Head = Array(try bytes(Self.root + "tf1/basic_lstm_fb1.h5").prefix(8))
    for k in 0..<6 {
      let p = try write("hdf5-sig-\(k).h5", hdf5Head + (0..<(rng.below(2000))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
      add("HDF5 signature then garbage \(k)", [["run", p], ["inspect", p]], mustFail: true, mentions: p)
    }
    // Folders: a loop with a broken case, a name that is not UTF-8.
    let loop = dir + "/loop"
    try FileManager.default.createDirectory(atPath: loop + "/sub", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: loop + "/self", withDestinationPath: ".")
    try FileManager.default.createSymbolicLink(atPath: loop + "/sub/up", withDestinationPath: "..")
    _ = try write("loop/sub/broken.h5", Array(try bytes(Self.root + "tf1/basic_lstm_fb1.h5").prefix(3000)))
    add("symlink loops around a truncated case", [["run", loop], ["list", loop]], mustFail: true, mentions: "broken.h5")
    let odd = dir + "/oddname"
    try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: true)
    let raw: [UInt8] = Array((odd + "/bad-").utf8) + [0xff, 0xfe] + Array(".h5".utf8) + [0]
    let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
    if fd >= 0 { close(fd) }
    add("a case name that is not UTF-8", [["run", odd], ["list", odd]], mustFail: true, mentions: "bad-")
  }
}
