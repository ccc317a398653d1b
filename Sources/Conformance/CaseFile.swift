import Foundation
import HDF5
import RNNRef

/// Why a case file could not be loaded (beyond the HDF5 layer's own `HDF5Error`,
/// which is passed through unchanged and names the file and object too).
public struct CaseFileError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
  public enum Kind: Sendable, Equatable {
    /// An HDF5 file without the `rnnconf_case_schema` root attribute.
    case notACaseFile
    /// A schema version this reader does not know.
    case unsupportedSchema(Int)
    /// A required root attribute is absent.
    case missingAttribute(String)
    /// An attribute holds a value outside the schema.
    case invalidAttribute(String)
    /// A tensor listed in `weight_names`/`input_names`/`output_names` is absent.
    case missingTensor(String)
    /// A dataset under `/weights`, `/inputs`, `/outputs` or `/artifacts` that the name list does not mention.
    case unlistedTensor(String)
    /// A tolerance looser than the dtype's default without a `tolerance_reason` (the attribute named: `atol` or `rtol`).
    case unjustifiedTolerance(String)
    /// A floating-point input stored in a dtype other than the case's (`/inputs/<name>`).
    case inputDType(String)
    /// An artifact listed in `artifact_names` that is missing, empty, truncated or garbage.
    case brokenArtifact(String)
    /// The tensors together declare more elements than `Case.maxCaseElements` (the dataset where the cap was passed).
    case tooLarge(String)
  }

  public var kind: Kind
  public var path: String
  public var detail: String
  public var hint: String
  /// The error that revealed the problem (e.g. the JSON parser's, for a `config` that is not JSON);
  /// not part of `description` or equality.
  public var underlying: (any Error)?

  public init(_ kind: Kind, path: String, detail: String, hint: String, underlying: (any Error)? = nil) {
    self.kind = kind; self.path = path; self.detail = detail; self.hint = hint; self.underlying = underlying
  }

  public var description: String { "\(path): \(detail). \(hint)" }
  /// The same text as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }

  public static func == (a: CaseFileError, b: CaseFileError) -> Bool {
    a.kind == b.kind && a.path == b.path && a.detail == b.detail && a.hint == b.hint
  }

  /// True for an HDF5 file that is not a case file: a folder search skips it,
  /// a file named on the command line is an error.
  public static func isNotACase(_ error: Error) -> Bool {
    (error as? CaseFileError)?.kind == .notACaseFile
  }
}

/// The root attributes of a case file, read without touching any tensor
/// (cheap: for `rnnconf list` and `inspect`).
public struct CaseSummary: Sendable, Equatable {
  public var path: String
  public var schemaVersion: Int
  public var name: String
  public var framework: Framework
  public var library: String
  public var libraryVersion: String
  public var cell: CellFamily
  public var dtype: DType
  public var description: String
}

extension Case {
  /// Schema versions this reader understands (fixtures/README.md).
  public static let supportedSchemaVersions: ClosedRange<Int> = 1...1

  /// Cap on the elements of all weights, inputs and outputs of one case together, checked from the
  /// shapes before any tensor is read: 2^27 (1 GiB as Double); `RNNCONF_MAX_CASE_ELEMENTS=<count>` changes it.
  public static var maxCaseElements: Int {
    if let text = ProcessInfo.processInfo.environment["RNNCONF_MAX_CASE_ELEMENTS"], let m = Int(text), m > 0 {
      return min(m, Int.max / 8)
    }
    return 1 << 27
  }

  /// The default tolerance of each dtype (fixtures/README.md; `casefile.py`'s `DEFAULT_TOLERANCE`).
  /// A case may be looser only with a non-empty `tolerance_reason`.
  public static func defaultTolerance(_ dtype: DType) -> Tolerance {
    switch dtype {
    case .float32: return Tolerance(atol: 1e-5, rtol: 1e-5)
    case .float64: return Tolerance(atol: 1e-10, rtol: 1e-10)
    }
  }

  /// Whether `path` is an HDF5 file carrying the `rnnconf_case_schema` root attribute.
  public static func isCaseFile(path: String) -> Bool {
    guard FileKind.sniff(path: path) == .hdf5, let f = try? File(path: path), let root = try? f.root else { return false }
    return (try? root.hasAttribute("rnnconf_case_schema")) == true
  }

  /// Reads only the root attributes (no tensors).
  public static func peek(path: String) throws -> CaseSummary {
    let root = try File(path: path).root
    let version = try schemaVersion(root, path)
    let r = AttributeReader(root: root, path: path)
    return CaseSummary(
      path: path, schemaVersion: version, name: try r.caseName(), framework: try r.framework(),
      library: try r.string("library"), libraryVersion: try r.string("library_version"),
      cell: try r.cell(), dtype: try r.dtype(), description: try r.string("description"))
  }

  /// What `load` reads and checks before any tensor, in its order, ending with the `name` attribute.
  private struct Header {
    var file: File, root: Group, version: Int, r: AttributeReader
    var framework: Framework, cell: CellFamily, dtype: DType, config: JSONValue
    var atol: Double, rtol: Double, nanEqual: Int, toleranceReason: String?, storedName: String
  }

  private static func header(path: String) throws -> Header {
    let file = try File(path: path)
    let root = try file.root
    let version = try schemaVersion(root, path)
    let r = AttributeReader(root: root, path: path)

    let framework = try r.framework()
    let cell = try r.cell()
    let dtype = try r.dtype()
    let configText = try r.string("config")
    let config: JSONValue
    do { config = try JSONValue(parsing: configText) } catch {
      throw CaseFileError(.invalidAttribute("config"), path: path,
                          detail: "root attribute `config` is not valid JSON (\(configText.count) characters, starting `\(configText.prefix(60))`)",
                          hint: "Write it with json.dumps (casefile.write_case does)", underlying: error)
    }
    let atol = try r.double("atol"), rtol = try r.double("rtol")
    guard atol >= 0, rtol >= 0, atol.isFinite, rtol.isFinite else {
      throw CaseFileError(.invalidAttribute("atol/rtol"), path: path, detail: "tolerance atol=\(atol) rtol=\(rtol)",
                          hint: "Use finite, non-negative tolerances")
    }
    let nanEqual = try r.int("nan_equal")
    guard nanEqual == 0 || nanEqual == 1 else {
      throw CaseFileError(.invalidAttribute("nan_equal"), path: path, detail: "root attribute `nan_equal` is \(nanEqual)",
                          hint: "Use 0 or 1")
    }
    // Nothing green by accident: a looser tolerance says why.
    let toleranceReason = try r.optionalString("tolerance_reason")
    let standard = defaultTolerance(dtype)
    let hasReason = !(toleranceReason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    for (attribute, value, limit) in [("atol", atol, standard.atol), ("rtol", rtol, standard.rtol)] where value > limit && !hasReason {
      throw CaseFileError(.unjustifiedTolerance(attribute), path: path,
                          detail: "root attribute `\(attribute)` is \(value), looser than the \(dtype) default \(limit), and there is no `tolerance_reason`",
                          hint: "Use the default, or say why the case needs more in the root attribute `tolerance_reason` (casefile.write_case's tolerance_reason=)")
    }
    let storedName = try r.caseName()
    return Header(file: file, root: root, version: version, r: r, framework: framework, cell: cell, dtype: dtype,
                  config: config, atol: atol, rtol: rtol, nanEqual: nanEqual, toleranceReason: toleranceReason,
                  storedName: storedName)
  }

  /// The root attribute `name`, read only when every attribute `load` reads before it passed
  /// load's checks (so case discovery opens nothing `load` would not); nil otherwise.
  static func checkedStoredName(path: String) -> String? { try? header(path: path).storedName }

  /// Loads a case file (schema in fixtures/README.md). Tensors are read as Double;
  /// weights, inputs and outputs come in the order of `weight_names`,
  /// `input_names` and `output_names` (a name with `/` is a nested group).
  /// `name` is the root attribute `name`, unless `root` is given: then it is the
  /// path's `<framework>/<case>` (or the path relative to `root`, without `.h5`).
  ///
  /// Throws `HDF5Error` (missing file, not HDF5, truncated, wrong types, ...) or
  /// `CaseFileError` (not a case file, unsupported schema, missing or unlisted
  /// attribute/tensor, values outside the schema), each naming the file.
  public static func load(path: String, root suiteRoot: String? = nil) throws -> Case {
    let h = try header(path: path)
    let (file, version, r, framework, cell, dtype, config) = (h.file, h.version, h.r, h.framework, h.cell, h.dtype, h.config)
    let (atol, rtol, nanEqual, toleranceReason, storedName) = (h.atol, h.rtol, h.nanEqual, h.toleranceReason, h.storedName)

    // Sizes first, from the shapes alone: a case too large to hold is refused before any tensor is read.
    var declared = 0
    let hasIntermediates = try h.root.hasAttribute("intermediate_names")
    for (group, list) in [("weights", "weight_names"), ("inputs", "input_names"), ("outputs", "output_names"),
                          ("intermediate", "intermediate_names")] where list != "intermediate_names" || hasIntermediates {
      for name in try r.strings(list) where try file.exists(group + "/" + name) {
        let shape = try file.dataset(group + "/" + name).shape
        let count = shape.reduce(Double(1)) { $0 * Double(max($1, 0)) }
        declared = Double(declared) + count > Double(Int.max / 8) ? Int.max / 8 : declared + Int(count)
        if declared > maxCaseElements {
          throw CaseFileError(.tooLarge("/\(group)/\(name)"), path: path,
                              detail: "its tensors hold more than \(maxCaseElements) elements in all (reached at `/\(group)/\(name)`, shape \(shape)); nothing was read",
                              hint: "A conformance case needs small tensors; if this one is real, raise the cap with RNNCONF_MAX_CASE_ELEMENTS=<count>")
        }
      }
    }

    let weights = try tensors(file, group: "weights", list: "weight_names", r)
    let inputs = try tensors(file, group: "inputs", list: "input_names", r)
    // A float input stored in another precision than the case ran in is not what the framework saw.
    for name in inputs.tensors.names {
      guard let stored = inputs.types[name], stored.hasPrefix("float"), stored != dtype.rawValue else { continue }
      throw CaseFileError(.inputDType("/inputs/\(name)"), path: path,
                          detail: "input `/inputs/\(name)` is stored as \(stored) but the case's `dtype` is \(dtype)",
                          hint: "Store the inputs the framework ran on, in its dtype (\(dtype)); integer inputs such as lengths are fine")
    }
    let outputs = try tensors(file, group: "outputs", list: "output_names", r)
    var outputDTypes: [String: String] = [:]
    for name in outputs.tensors.names { outputDTypes[name] = outputs.types[name] }

    // Intermediate layer outputs (optional): listed in graph order by `intermediate_names`.
    var intermediates = NamedTensors<Double>()
    if hasIntermediates {
      let stored = try tensors(file, group: "intermediate", list: "intermediate_names", r)
      for name in stored.tensors.names where stored.types[name] != dtype.rawValue {
        throw CaseFileError(.invalidAttribute("intermediate_names"), path: path,
                            detail: "intermediate output `/intermediate/\(name)` is stored as \(stored.types[name] ?? "?") but the case's `dtype` is \(dtype)",
                            hint: "Store each layer's output in the dtype the framework computed it in (\(dtype))")
      }
      intermediates = stored.tensors
    } else if try file.exists("intermediate") {
      throw CaseFileError(.unlistedTensor("/intermediate"), path: path,
                          detail: "group `/intermediate` is present but the root attribute `intermediate_names` is not",
                          hint: "List the layers under /intermediate in graph order in `intermediate_names` (casefile.write_case's intermediates= does)")
    }

    let artifactNames = try r.optionalStrings("artifact_names") ?? []
    try ArtifactCheck.check(file, names: artifactNames, path: path)
    let comparedOutputs = try comparedOutputNames(r, outputs: outputs.tensors.names, path: path)

    let name = suiteRoot.map { Discovery.caseName(path: path, root: $0) } ?? storedName
    return Case(
      name: name,
      path: path, schemaVersion: version, framework: framework, library: try r.string("library"),
      libraryVersion: try r.string("library_version"), cell: cell, dtype: dtype,
      description: try r.string("description"), config: config, atol: atol, rtol: rtol,
      toleranceReason: toleranceReason, nanEqual: nanEqual == 1,
      weights: weights.tensors, inputs: inputs.tensors, outputs: outputs.tensors, outputDTypes: outputDTypes,
      artifactNames: artifactNames, intermediates: intermediates, comparedOutputs: comparedOutputs)
  }

  /// The optional `compared_output_names`: a non-empty list of stored outputs, each once.
  fileprivate static func comparedOutputNames(_ r: AttributeReader, outputs: [String], path: String) throws -> [String]? {
    let key = "compared_output_names"
    guard let names = try r.optionalStrings(key) else { return nil }
    guard !names.isEmpty else {
      throw CaseFileError(.invalidAttribute(key), path: path, detail: "`\(key)` is empty: the case would compare nothing",
                          hint: "List the outputs the case compares, or drop the attribute to compare every output")
    }
    var seen = Set<String>()
    for name in names {
      guard seen.insert(name).inserted else {
        throw CaseFileError(.invalidAttribute(key), path: path, detail: "`\(key)` lists `\(name)` twice",
                            hint: "Name each compared output once")
      }
      guard outputs.contains(name) else {
        throw CaseFileError(.invalidAttribute(key), path: path,
                            detail: "`\(key)` names `\(name)`, which is not one of the stored outputs (`output_names`: "
                              + outputs.map { "`\($0)`" }.joined(separator: ", ") + ")",
                            hint: "Compare only outputs the file stores under /outputs (write_case's compared_outputs= checks this)")
      }
    }
    return names
  }

  /// Reads the bytes of an artifact carried under `/artifacts` (e.g. `model.keras`).
  public static func artifact(path: String, name: String) throws -> [UInt8] {
    try File(path: path).dataset("artifacts/" + name).readBytes()
  }

  private static func schemaVersion(_ root: Group, _ path: String) throws -> Int {
    guard try root.hasAttribute("rnnconf_case_schema") else {
      throw CaseFileError(.notACaseFile, path: path,
                          detail: "not an rnnconf case file (no `rnnconf_case_schema` attribute)",
                          hint: "Case files are written by fixtures/generate/casefile.py (write_case); use `rnnconf inspect` to see what this file holds")
    }
    let v = try root.intAttribute("rnnconf_case_schema")
    guard supportedSchemaVersions.contains(v) else {
      throw CaseFileError(.unsupportedSchema(v), path: path,
                          detail: "case schema version \(v) is not supported (this rnnconf reads version \(supportedSchemaVersions.map(String.init).joined(separator: ", ")))",
                          hint: "Regenerate the file with this repository's fixtures/generate/casefile.py, or update rnnconf")
    }
    return v
  }

  private static func tensors(_ file: File, group: String, list: String, _ r: AttributeReader) throws
    -> (tensors: NamedTensors<Double>, types: [String: String])
  {
    let names = try r.strings(list)
    var seen = Set<String>()
    var out = NamedTensors<Double>()
    var types: [String: String] = [:]
    for name in names {
      guard seen.insert(name).inserted else {
        throw CaseFileError(.invalidAttribute(list), path: r.path, detail: "`\(list)` lists `\(name)` twice",
                            hint: "Give each tensor one name")
      }
      let dpath = group + "/" + name
      guard try file.exists(dpath) else {
        throw CaseFileError(.missingTensor(dpath), path: r.path,
                            detail: "`\(list)` lists `\(name)` but there is no dataset `/\(dpath)`",
                            hint: "Write every listed tensor under /\(group) (casefile.write_case does), or fix `\(list)`")
      }
      let d = try file.dataset(dpath)
      let shape = try d.shape
      let values: [Double] = try d.read()
      out.append(name, Tensor(uncheckedShape: shape, scalars: values))
      types[name] = try d.storedType.description
    }
    // Every dataset stored must be listed: nothing is silently ignored.
    if try file.exists(group) {
      for stored in try file.group(group).datasetPaths() where !seen.contains(stored) {
        throw CaseFileError(.unlistedTensor("/\(group)/\(stored)"), path: r.path,
                            detail: "dataset `/\(group)/\(stored)` is not listed in `\(list)`",
                            hint: "Add it to `\(list)` or remove it from the file")
      }
    }
    return (out, types)
  }

  /// The case in words, for `rnnconf inspect`.
  public var summaryText: String {
    func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
    var lines: [String] = []
    lines.append("rnnconf case `\(name)` (schema \(schemaVersion))")
    lines.append("  framework:   \(framework) (expected outputs from \(library) \(libraryVersion))")
    lines.append("  cell:        \(cell), run in \(dtype)")
    lines.append("  description: \(description)")
    lines.append("  config:")
    let configLines = prettyJSON(config, indent: 4)
    let shown = 60
    lines += configLines.prefix(shown)
    if configLines.count > shown {
      lines.append("    ... (\(configLines.count - shown) more lines; the full JSON is the root attribute `config`)")
    }
    func section(_ title: String, _ t: NamedTensors<Double>, types: [String: String]? = nil) {
      lines.append("  \(title) (\(t.entries.count)):")
      for e in t.entries {
        let ty = types?[e.name].map { "  \($0)" } ?? ""
        lines.append("    \(e.name)  \(dims(e.tensor.shape))\(ty)")
      }
    }
    section("weights", weights)
    section("inputs", inputs)
    section("outputs", outputs, types: outputDTypes)
    if let compared = comparedOutputs {
      lines.append("  compared:    " + compared.joined(separator: ", ") + " (compared_output_names; any other output is reported as not compared)")
    }
    if !intermediates.entries.isEmpty { section("intermediate layer outputs", intermediates) }
    var tol = "  tolerance:   |actual - expected| <= \(atol) + \(rtol) * |expected|"
    if nanEqual { tol += ", NaN matches NaN" }
    lines.append(tol)
    if let r = toleranceReason { lines.append("  tolerance reason: \(r)") }
    if !artifactNames.isEmpty { lines.append("  artifacts:   " + artifactNames.joined(separator: ", ")) }
    return lines.joined(separator: "\n")
  }
}

/// Pretty JSON: objects one key per line, short arrays and scalars inline.
func prettyJSON(_ v: JSONValue, indent: Int) -> [String] {
  let pad = String(repeating: " ", count: indent)
  switch v {
  case .object(let o) where !o.isEmpty:
    var out: [String] = []
    for k in o.keys.sorted() {
      let child = o[k]!
      let inline = child.jsonText
      if inline.count <= 72 || child.object == nil && child.array == nil {
        out.append(pad + "\(k): " + inline)
      } else {
        out.append(pad + "\(k):")
        out += prettyJSON(child, indent: indent + 2)
      }
    }
    return out
  case .array(let a) where v.jsonText.count > 72:
    return a.flatMap { item -> [String] in
      let lines = prettyJSON(item, indent: indent + 2)
      guard let first = lines.first else { return [] }
      return [pad + "- " + first.dropFirst(indent + 2)] + lines.dropFirst()
    }
  default:
    return [pad + v.jsonText]
  }
}

/// Root-attribute reads that turn a missing attribute into a `CaseFileError` naming it.
private struct AttributeReader {
  var root: Group
  var path: String

  private func require(_ name: String, _ what: String) throws {
    guard try root.hasAttribute(name) else {
      throw CaseFileError(.missingAttribute(name), path: path,
                          detail: "root attribute `\(name)` (\(what)) is missing",
                          hint: "Every case file needs it (schema in fixtures/README.md); regenerate the file with casefile.write_case")
    }
  }
  func string(_ name: String) throws -> String { try require(name, "string"); return try root.stringAttribute(name) }
  /// A string attribute holding one word of a vocabulary; any other value is an `invalidAttribute` naming the known ones.
  func word<W: CaseVocabulary>(_ name: String, hint: String? = nil) throws -> W {
    let text = try string(name)
    guard let value = W(rawValue: text) else {
      throw CaseFileError(.invalidAttribute(name), path: path, detail: "root attribute `\(name)` is `\(text)`",
                          hint: hint ?? "Use one of \(W.spelledOut) (fixtures/README.md)")
    }
    return value
  }
  func framework() throws -> Framework {
    try word("framework", hint: "Use one of \(Framework.spelledOut): it selects the convention adapter (fixtures/README.md)")
  }
  func cell() throws -> CellFamily { try word("cell") }
  /// The root attribute `name`; empty (a corrupt attribute reads as "") is an `invalidAttribute`,
  /// since it would make the case anonymous in every report.
  func caseName() throws -> String {
    let text = try string("name")
    guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw CaseFileError(.invalidAttribute("name"), path: path, detail: "root attribute `name` is empty",
                          hint: "Name the case `<framework>/<case>` (casefile.write_case's name=)")
    }
    return text
  }
  func dtype() throws -> DType { try word("dtype", hint: "Use float32 or float64 (fixtures/README.md)") }
  func strings(_ name: String) throws -> [String] {
    try require(name, "fixed-length byte strings"); return try root.stringsAttribute(name)
  }
  func double(_ name: String) throws -> Double { try require(name, "float64"); return try root.doubleAttribute(name) }
  func int(_ name: String) throws -> Int { try require(name, "int64"); return try root.intAttribute(name) }
  func optionalString(_ name: String) throws -> String? {
    try root.hasAttribute(name) ? try root.stringAttribute(name) : nil
  }
  func optionalStrings(_ name: String) throws -> [String]? {
    try root.hasAttribute(name) ? try root.stringsAttribute(name) : nil
  }
}

/// What `rnnconf inspect` prints, as functions returning text (testable).
public enum Inspection {
  /// The full inspection text of one path; throws when it is not a readable HDF5 file.
  public static func text(path: String, maxString: Int = 80, maxElements: Int = 8) throws -> String {
    try inspect(path: path, maxString: maxString, maxElements: maxElements).text
  }

  /// The inspection text and, for a file that says it is a case but cannot be loaded as one,
  /// the loading error (the text shows it too; `rnnconf inspect` then exits 1).
  public static func inspect(path: String, maxString: Int = 80, maxElements: Int = 8) throws
    -> (text: String, caseError: (any Error)?)
  {
    let file = try File(path: path)
    var parts: [String] = []
    var caseError: (any Error)?
    if try file.root.hasAttribute("rnnconf_case_schema") {
      do {
        parts.append(try Case.load(path: path).summaryText)
      } catch {
        caseError = error
        parts.append("This file says it is an rnnconf case but cannot be loaded as one:\n  \(error)")
      }
      parts.append("HDF5 tree:")
    }
    parts.append(try TreePrinter(maxStringLength: maxString, maxArrayElements: maxElements).render(file))
    return (parts.joined(separator: "\n\n"), caseError)
  }

  /// The one-paragraph message for a path that cannot be inspected.
  public static func failureMessage(path: String, error: Error) -> String {
    if let e = error as? HDF5Error {
      switch e.kind {
      case .fileNotFound: return "rnnconf inspect: `\(path)` does not exist. Check the path."
      case .isDirectory:
        return "rnnconf inspect: `\(path)` is a directory. Pass one file inside it; `rnnconf list \(path)` lists the cases in a folder."
      case .notHDF5:
        let kind = FileKind.sniff(path: path)
        var what = "rnnconf inspect: `\(path)` is not an HDF5 file: it is \(kind)."
        switch kind {
        case .zip: what += " A Keras 3 .keras file is a zip holding config.json, metadata.json and model.weights.h5; unzip it and inspect model.weights.h5."
        case .json: what += " It may be a Keras model.to_json() architecture; its weights live in a separate .h5 file."
        case .empty: what += " Nothing to show."
        default: what += " rnnconf reads HDF5 files (.h5, .hdf5, .weights.h5)."
        }
        return what
      default:
        return "rnnconf inspect: \(e)"
      }
    }
    return "rnnconf inspect: cannot read `\(path)`: \(error)"
  }
}
