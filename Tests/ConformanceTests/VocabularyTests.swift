import Foundation
import HDF5
import Testing
@testable import Conformance
import RNNRef

/// The typed vocabulary (spelling in files and reports, the adapter lookup) and the error types'
/// text as Foundation shows it.
@Suite struct VocabularyTests {
  @Test func rawValuesAreTheCaseFileSpelling() throws {
    // The spelling of fixtures/README.md's `framework`, `cell` and `dtype` attributes.
    #expect(Framework.allCases.map(\.rawValue) == ["keras", "tf1", "pytorch", "onnx"])
    #expect(CellFamily.allCases.map(\.rawValue) == ["rnn", "lstm", "gru", "mixed"])
    #expect(DType.allCases.map(\.rawValue) == ["float32", "float64"])
    // Text output and JSON show the raw value.
    #expect("\(Framework.tf1) \(CellFamily.gru) \(DType.float64)" == "tf1 gru float64")
    let json = try JSONEncoder().encode([Framework.pytorch.rawValue: CellFamily.mixed])
    #expect(String(decoding: json, as: UTF8.self) == #"{"pytorch":"mixed"}"#)
  }

  @Test func everyFrameworkHasTheAdapterThatNamesIt() {
    for f in Framework.allCases {
      #expect(Conventions.convention(for: f).framework == f, "\(f)")
    }
  }

  @Test func bundledCaseFoldersAreFrameworks() throws {
    // Every folder of the bundled suite holding cases is a framework's (so names and --framework agree).
    let discovery = try Discovery.find(paths: [RepoPaths.root + "/fixtures"], executablePath: nil)
    let folders = Set(discovery.files.map { String($0.name.split(separator: "/")[0]) })
    #expect(folders == Set(Framework.allCases.map(\.rawValue)))
  }

  /// `localizedDescription` of each public error type is its `description`, not Foundation's
  /// "The operation could not be completed".
  @Test func localizedDescriptionIsTheDescription() {
    let errors: [any Error & CustomStringConvertible] = [
      HDF5Error(.notFound, file: "/m.h5", objectPath: "/weights/kernel", operation: "open dataset",
                detail: "no such dataset", hint: "Check the name"),
      HDF5Error(.libraryCall, file: "/m.h5", operation: "open file", detail: "truncated",
                libraryMessages: ["H5Fopen: unable to open file"]),
      RNNRefError.missingWeight(name: "kernel", expectedShape: [3, 8], reason: "units 2"),
      RNNRefError.unsupported(framework: Framework.onnx, feature: "a peephole-less projection"),
      RNNRefError.invalidConfig(key: "activation", value: "\"gelu\"", reason: "unknown activation"),
      CaseFileError(.invalidAttribute("framework"), path: "/c.h5", detail: "root attribute `framework` is `caffe`",
                    hint: "Use one of \(Framework.spelledOut)"),
      ConformanceError.usage("path `x` does not exist"),
      ConformanceError.invalidFile("expectations file `e.json` is not valid", underlying: CocoaError(.fileReadCorruptFile)),
      CaseLoadingUnavailable(path: "/c.h5"),
    ]
    for e in errors {
      #expect(!e.description.isEmpty)
      #expect(e.localizedDescription == e.description, "\(type(of: e))")
    }
  }

  @Test func wrappedErrorsKeepTheirCause() throws {
    // The message text is unchanged; the typed cause rides along, outside equality and the JSON.
    let cause = RNNRefError.unusedWeights(names: ["w"])
    let report = CaseReport(name: "pytorch/x", path: "/x.h5", status: .error,
                            message: "the pytorch adapter could not run the case: \(cause)", underlying: cause)
    #expect(report.underlying as? RNNRefError == cause)
    var plain = report
    plain.underlying = nil
    #expect(report == plain)
    let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    #expect(!json.contains("underlying"))

    let e = ConformanceError.invalidFile("bad", underlying: cause)
    #expect(e.underlying as? RNNRefError == cause)
    #expect(ConformanceError.usage("bad").underlying == nil)
    #expect(e != ConformanceError.usage("bad"))
  }
}
