import Foundation

/// Why an HDF5 operation failed. Every error names the file, the object path
/// inside it (when there is one), the operation, libhdf5's own messages (when
/// libhdf5 reported the failure) and what to do.
public struct HDF5Error: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
  public enum Kind: String, Sendable, Equatable {
    /// The path does not exist.
    case fileNotFound
    /// The path is a directory.
    case isDirectory
    /// The file exists but is not HDF5 (`detail` says what it looks like).
    case notHDF5
    /// A libhdf5 call failed (truncated or corrupt file, permissions, ...).
    case libraryCall
    /// A group, dataset or attribute is absent.
    case notFound
    /// The stored type cannot be read as asked (a string read as numbers, ...).
    case typeMismatch
    /// The declared size is beyond the read limit.
    case tooLarge
    /// A string is not valid UTF-8.
    case invalidString
    /// A hyperslab or argument is out of range.
    case invalidArgument
  }

  public var kind: Kind
  /// The file the operation was about.
  public var file: String
  /// The object path inside the file (`/weights/kernel`), or nil for the file itself.
  public var objectPath: String?
  /// What we tried, e.g. "open file", "read dataset".
  public var operation: String
  /// Our sentence: what is wrong.
  public var detail: String
  /// What to do about it.
  public var hint: String?
  /// libhdf5's error stack, innermost first ("H5Fopen: unable to open file", ...).
  public var libraryMessages: [String]

  public init(_ kind: Kind, file: String, objectPath: String? = nil, operation: String, detail: String,
              hint: String? = nil, libraryMessages: [String] = []) {
    self.kind = kind; self.file = file; self.objectPath = objectPath; self.operation = operation
    self.detail = detail; self.hint = hint; self.libraryMessages = libraryMessages
  }

  public var description: String {
    var s = "\(file)"
    if let p = objectPath { s += ": `\(p)`" }
    s += ": cannot \(operation): \(detail)"
    if !libraryMessages.isEmpty {
      s += " (libhdf5: " + libraryMessages.joined(separator: "; ") + ")"
    }
    if let h = hint { s += ". " + h }
    return s
  }

  /// The same text as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }
}
