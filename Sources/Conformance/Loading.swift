import Foundation

extension Runner {
  /// Reads a case file with the HDF5 layer (`Case.load(path:)` in CaseFile.swift), or an ONNX
  /// backend test's `test_data_set_N` folder (`ONNXBackend.load(dataSet:)`).
  public static let defaultLoader: CaseLoader = { path in
    if ONNXBackend.isDataSet(path: path) { return try ONNXBackend.load(dataSet: path) }
    return try Case.load(path: path)
  }

  /// Whether a loading error says the file is HDF5 but not a case file (skipped when found by a
  /// folder search, an error when named).
  public static let defaultIsNotACase: @Sendable (Error) -> Bool = { CaseFileError.isNotACase($0) }
}

/// A loader that refuses every file (tests of the run loop).
struct CaseLoadingUnavailable: Error, CustomStringConvertible, LocalizedError {
  var path: String
  var description: String { "`\(path)`: case file loading is not available" }
  var errorDescription: String? { description }
}
