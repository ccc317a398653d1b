import Foundation
import HDF5
import Testing
import Conformance
@testable import Conversion
import RNNRef

/// The conversion cases of fixtures/conversions (fixtures/generate/gen_conversions.py): the
/// target framework, running the file `rnnconf convert` wrote, reproduces the source
/// framework's outputs (both captured from the real frameworks), and every recorded
/// refusal is still refused with the same reason.
@Suite struct ConversionFixtureTests {
  static let folder = RepoPaths.root + "/fixtures/conversions"

  static func caseFiles() -> [String] {
    guard let e = FileManager.default.enumerator(atPath: folder) else { return [] }
    return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".h5") }.sorted()
  }

  @Test func targetFrameworkReproducesTheSource() throws {
    let files = Self.caseFiles()
    #expect(files.count >= 20, "only \(files.count) conversion cases")
    for rel in files {
      let path = Self.folder + "/" + rel
      let f = try File(path: path)
      let root = try f.root
      let source = try root.stringAttribute("conversion_source")
      #expect(FileManager.default.fileExists(atPath: RepoPaths.root + "/fixtures/" + source + ".h5"), "\(rel): source \(source)")
      let names = try root.stringsAttribute("output_names")
      // Output names may hold `/` (TF1's `state/c`): datasets in groups.
      let compared = names.filter { (try? f.dataset("source_outputs/" + $0)) != nil }
      #expect(compared.contains(names[0]), "\(rel): the sequence output is not compared")
      for n in compared {
        let a = try f.dataset("outputs/" + n), b = try f.dataset("source_outputs/" + n)
        #expect(try a.shape == b.shape, "\(rel) \(n)")
        let x = try a.read(as: Double.self), y = try b.read(as: Double.self)
        let bad = zip(x, y).filter { abs($0 - $1) > 1e-5 + 1e-5 * abs($1) }.count
        #expect(x.count == y.count && bad == 0, "\(rel) \(n): \(bad) of \(x.count) elements differ")
      }
    }
  }

  struct Refusal: Decodable { var source: String; var file: String?; var target: String; var error: String }
  struct Refusals: Decodable { var refusals: [Refusal] }

  @Test func recordedRefusalsStillRefuse() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/refusals.json"))
    let list = try JSONDecoder().decode(Refusals.self, from: data).refusals
    #expect(list.count >= 10)
    let dir = try TempDir()
    for r in list {
      let casePath = RepoPaths.root + "/fixtures/" + r.source + ".h5"
      var sourcePath = casePath
      if let file = r.file, file.hasSuffix(".keras") || file.hasSuffix(".h5") {
        // The Keras model the case saved (an artifact of the case).
        sourcePath = dir.path + "/" + file
        try Data(try Case.artifact(path: casePath, name: file)).write(to: URL(fileURLWithPath: sourcePath))
      }  // a safetensors state_dict holds the case's own weights: the case is converted
      let src = try ConversionSource.load(path: sourcePath)
      let (target, out): (ConversionTarget, String) = switch r.target {
        case "pytorch": (.pytorch, dir.path + "/m")
        case "keras3": (.keras, dir.path + "/m.keras")
        case "onnx": (.onnx, dir.path + "/m.onnx")
        default: (.keras, dir.path + "/m.h5")
      }
      do {
        _ = try Converter.convert(src, to: target, output: out)
        Issue.record("\(r.source) -> \(r.target) converted; the fixture records: \(r.error)")
      } catch let e as ConversionError {
        #expect(e.description == r.error, "\(r.source) -> \(r.target)")
      }
    }
  }
}
