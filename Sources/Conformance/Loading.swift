import Foundation

extension Runner {
  /// Reads a case file with the HDF5 layer (`Case.load(path:)` in CaseFile.swift).
  public static let defaultLoader: CaseLoader = { path in
    throw CaseLoadingUnavailable(path: path)
  }

  /// Whether a loading error says the file is HDF5 but not a case file.
  public static let defaultIsNotACase: @Sendable (Error) -> Bool = { _ in false }
}

/// Until `Case.load(path:)` lands, every file is an error naming it.
struct CaseLoadingUnavailable: Error, CustomStringConvertible {
  var path: String
  var description: String { "`\(path)`: case file loading (Case.load) is not implemented yet" }
}
