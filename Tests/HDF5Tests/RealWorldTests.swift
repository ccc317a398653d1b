import Foundation
import Testing
@testable import HDF5

/// The public Keras files in ../shared/realworld (not copied into the project):
/// every HDF5 file is read and printed; the others are named for what they are.
/// Expected facts come from MANIFEST.json, which h5py/zipfile produced.
@Suite struct RealWorldTests {
  static let dir = TestData.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/realworld")

  struct Entry {
    var file: String
    var container: String
    var rootAttrs: [String]
    var rootChildren: [String]
    var weights: [(group: String, name: String, shape: [Int])]
    var datasetCount: Int?
    var sidecar: String?
  }

  static func manifest() throws -> [Entry]? {
    let url = dir.appendingPathComponent("MANIFEST.json")
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
    return json.map { e in
      let a = e["analysis"] as! [String: Any]
      let weights = (a["weights"] as? [[Any]] ?? []).map { w in
        (group: w[0] as! String, name: w[1] as! String, shape: (w[2] as! [NSNumber]).map(\.intValue))
      }
      return Entry(file: e["file"] as! String, container: a["container"] as! String,
                   rootAttrs: a["root_attrs"] as? [String] ?? [], rootChildren: a["root_groups"] as? [String] ?? [],
                   weights: weights, datasetCount: (a["n_datasets"] as? NSNumber)?.intValue,
                   sidecar: e["sidecar"] as? String)
    }
  }

  /// Every dataset path under `g`, recursively.
  func datasets(_ g: Group) throws -> [Dataset] {
    var out: [Dataset] = []
    for c in try g.children() {
      if c.kind == .dataset { out.append(try g.dataset(c.name)) }
      if c.kind == .group { out += try datasets(try g.group(c.name)) }
    }
    return out
  }

  static var corpusPresent: Bool {
    FileManager.default.fileExists(atPath: dir.appendingPathComponent("MANIFEST.json").path)
  }

  // Skipped (reported as skipped, with this reason) only when ../shared is absent.
  @Test(.enabled(if: corpusPresent, "../shared/realworld/MANIFEST.json is absent: the real-world corpus is not checked"))
  func everyFileIsReadOrNamed() throws {
    let entries = try #require(try Self.manifest())
    #expect(entries.count == 27)
    var hdf5 = 0, zips = 0, datasetsRead = 0
    for e in entries {
      let path = Self.dir.appendingPathComponent(e.file).path
      if e.container == "HDF5" {
        hdf5 += 1
        #expect(FileKind.sniff(path: path) == .hdf5, "\(e.file)")
        let f = try File(path: path)
        let root = try f.root
        #expect(Set(try root.attributeNames()) == Set(e.rootAttrs), "\(e.file)")
        #expect(Set(try root.childNames()) == Set(e.rootChildren), "\(e.file)")
        let all = try datasets(root)
        if let n = e.datasetCount { #expect(all.count == n, "\(e.file)") }
        for d in all {
          if try d.storedType.isString { _ = try d.readStrings() } else { _ = try d.read(as: Double.self) }
          datasetsRead += 1
        }
        let base = try root.exists("model_weights") ? "model_weights/" : ""
        for w in e.weights {
          let d = try f.dataset(base + w.group + "/" + w.name)
          #expect(try d.shape == w.shape, "\(e.file): \(w.name)")
          #expect(try d.storedType == .float(bits: 32), "\(e.file): \(w.name)")
        }
        // Keras' own name lists resolve to the datasets.
        let weightsRoot = base.isEmpty ? root : try f.group("model_weights")
        if try weightsRoot.hasAttribute("layer_names") {
          for layer in try weightsRoot.chunkedStringsAttribute("layer_names") {
            let g = try weightsRoot.group(layer)
            for name in try g.chunkedStringsAttribute("weight_names") { #expect(try g.exists(name), "\(e.file): \(name)") }
          }
        }
        let tree = try TreePrinter().render(f)
        #expect(!tree.contains("<cannot") && !tree.contains("<not UTF-8"), "\(e.file):\n\(tree)")
        if e.rootAttrs.contains("model_config") { #expect(tree.contains("@model_config = \"{"), "\(e.file)") }
      } else {
        zips += 1
        #expect(e.container.hasPrefix("zip"))
        #expect(FileKind.sniff(path: path) == .zip, "\(e.file)")
        let err = expectHDF5Error(.notHDF5, file: path) { _ = try File(path: path) }
        #expect(err?.description.contains("zip archive") == true)
      }
      if let s = e.sidecar {
        let sp = Self.dir.appendingPathComponent(s).path
        #expect(FileKind.sniff(path: sp) == .json, "\(s)")
        expectHDF5Error(.notHDF5, file: sp) { _ = try File(path: sp) }
      }
    }
    #expect(FileKind.sniff(path: Self.dir.appendingPathComponent("MANIFEST.md").path) == .text)
    #expect(hdf5 == 23 && zips == 4, "hdf5 \(hdf5) zip \(zips)")
    #expect(datasetsRead > 500, "\(datasetsRead) datasets read")
  }

  @Test func treeShowsLongStringsCutWithTheirLength() throws {
    let tree = try TreePrinter(maxStringLength: 40).render(path: TestData.path("keras_style.h5"))
    // make_files.py writes a model_config of 2602 characters.
    let first40 = "{\"class_name\": \"Sequential\", \"config\": {"
    #expect(first40.count == 40)
    #expect(tree.contains("@model_config = \"" + first40 + "...\" (2602 characters)"), "\(tree)")
    #expect(tree.contains("@layer_names = [\"lstm\", \"dense\"]"))
    #expect(tree.contains("        kernel:0  float32 [3, 8]"))
    let order = try TreePrinter().render(path: TestData.path("order.h5"))
    let expected = """
      /
        @z_attr = 1
        @a_attr = 2
        zeta/
        alpha  float64 [3]
        mid/
          b/
            c/
              deep  float32 [1, 2]
        untracked/
          a  int32 scalar
          b  int32 scalar
          c  int32 scalar
        link_to_alpha -> /alpha  (soft link)
      """
    #expect(order == expected)
    let huge = try TreePrinter().render(path: TestData.path("huge.h5"))
    #expect(huge.contains("huge  float64 [1048576, 1048576]  (no data stored: fill value)"))
    let attrs = try TreePrinter(maxArrayElements: 2).render(path: TestData.path("attrs.h5"))
    #expect(attrs.contains("@layer_names = [\"lstm\", \"dense_1\", ... (3 values)]"), "\(attrs)")
    #expect(attrs.contains("@bad_bytes = <not UTF-8:"))
    #expect(attrs.contains("@int_matrix = [1, 2, ... (4 values)]  shape [2, 2]"))
    #expect(attrs.contains("@flag = True"))
  }
}
