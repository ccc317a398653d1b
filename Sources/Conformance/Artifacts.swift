import Foundation
import HDF5
import RNNRef
import ZIPFoundation

/// The checks a case's `/artifacts` must pass when it is loaded (fixtures/README.md, "Artifacts"):
/// every name in `artifact_names` is a non-empty 1-D uint8 dataset `/artifacts/<name>`, every dataset
/// there is listed, and a file whose name says its format must be intact in that format:
/// - `*.h5`, `*.hdf5` (`model.h5`, `model.weights.h5`): libhdf5 opens the bytes (a truncated or
///   bit-flipped superblock is refused);
/// - `*.keras`, `*.zip`: a zip whose central directory holds as many records as its end record
///   declares, every entry inflates to its declared size with a matching CRC-32 (at most
///   `maxInflatedBytes` in all), a `*.json` entry is JSON and a `*.h5` entry opens as HDF5;
/// - `*.json`: parses as JSON.
/// Any other name is checked for presence only.
enum ArtifactCheck {
  /// Cap on what one `.keras` artifact may inflate to while it is checked (all entries together).
  static let maxInflatedBytes = 1 << 30

  static func check(_ file: File, names: [String], path: String) throws {
    var seen = Set<String>()
    for name in names {
      guard seen.insert(name).inserted else {
        throw CaseFileError(.invalidAttribute("artifact_names"), path: path, detail: "`artifact_names` lists `\(name)` twice",
                            hint: "Give each artifact one name")
      }
      let dpath = "artifacts/" + name
      guard !name.isEmpty, try file.exists(dpath) else {
        throw CaseFileError(.brokenArtifact(name), path: path,
                            detail: "`artifact_names` lists `\(name)` but there is no dataset `/\(dpath)`",
                            hint: "Store every listed artifact under /artifacts (casefile.write_case does), or fix `artifact_names`")
      }
      let bytes: [UInt8]
      do { bytes = try file.dataset(dpath).readBytes() } catch {
        throw CaseFileError(.brokenArtifact(name), path: path, detail: "artifact `/\(dpath)` cannot be read: \(error)",
                            hint: "Artifacts are 1-D uint8 datasets holding a file's bytes; regenerate the case", underlying: error)
      }
      if let problem = problem(in: bytes, name: name, label: path + "!/" + dpath) {
        throw CaseFileError(.brokenArtifact(name), path: path, detail: "artifact `/\(dpath)` is broken: \(problem)",
                            hint: "The case carries a damaged copy of the framework's file; regenerate the case (fixtures/generate)")
      }
    }
    if try file.exists("artifacts") {
      for stored in try file.group("artifacts").datasetPaths() where !seen.contains(stored) {
        throw CaseFileError(.unlistedTensor("/artifacts/\(stored)"), path: path,
                            detail: "dataset `/artifacts/\(stored)` is not listed in `artifact_names`",
                            hint: "Add it to `artifact_names` or remove it from the file")
      }
    }
  }

  /// What is wrong with an artifact's bytes, judged by its file name; nil when nothing is.
  static func problem(in bytes: [UInt8], name: String, label: String) -> String? {
    if bytes.isEmpty { return "it is empty (0 bytes)" }
    let lower = name.lowercased()
    if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") { return hdf5Problem(bytes, label: label) }
    if lower.hasSuffix(".json") { return jsonProblem(bytes) }
    if lower.hasSuffix(".keras") || lower.hasSuffix(".zip") { return zipProblem(bytes, label: label) }
    return nil
  }

  static func hdf5Problem(_ bytes: [UInt8], label: String) -> String? {
    do {
      let f = try File(image: bytes, name: label)
      _ = try f.root.datasetPaths()
      return nil
    } catch {
      return "not a readable HDF5 file (\(error))"
    }
  }

  static func jsonProblem(_ bytes: [UInt8]) -> String? {
    do { _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]); return nil } catch {
      return "not valid JSON (\(bytes.count) bytes)"
    }
  }

  static func zipProblem(_ bytes: [UInt8], label: String) -> String? {
    guard let declared = declaredEntryCount(bytes) else {
      return "not a zip archive: no end-of-central-directory record (truncated or not a zip)"
    }
    let archive: Archive
    do { archive = try openArchive(bytes) } catch {
      return "not a readable zip archive (\(error))"
    }
    var entries: [Entry] = []
    for e in archive { entries.append(e) }
    if declared >= 0 && declared != entries.count {
      return "corrupt zip central directory: its end record declares \(declared) entries, \(entries.count) could be read"
    }
    var total = 0
    for e in entries where e.type == .file {
      struct Overflow: Error {}
      let declaredSize = Int(clamping: e.uncompressedSize)
      var out: [UInt8] = []
      do {
        let crc = try archive.extract(e, skipCRC32: false) { chunk in
          total += chunk.count
          guard out.count + chunk.count <= declaredSize, total <= maxInflatedBytes else { throw Overflow() }
          out.append(contentsOf: chunk)
        }
        guard out.count == declaredSize else {
          return "zip entry `\(e.path)` inflates to \(out.count) bytes, its header declares \(declaredSize)"
        }
        guard crc == e.checksum else { return "zip entry `\(e.path)` fails its CRC-32 check" }
      } catch is Overflow {
        return "zip entry `\(e.path)` inflates past its declared size (\(declaredSize) bytes) or past \(maxInflatedBytes >> 20) MiB in all"
      } catch {
        return "zip entry `\(e.path)` cannot be extracted (\(error))"
      }
      let lower = e.path.lowercased()
      if lower.hasSuffix(".json"), let p = jsonProblem(out) { return "zip entry `\(e.path)`: \(p)" }
      if lower.hasSuffix(".h5"), let p = hdf5Problem(out, label: label + "!/" + e.path) { return "zip entry `\(e.path)`: \(p)" }
    }
    return nil
  }

  struct TemporaryFileError: Error, CustomStringConvertible {
    let description: String
  }

  /// A read-only archive over `bytes`. Not ZIPFoundation's in-memory archive (`Archive(data:)`):
  /// when an offset in the zip (the central directory's, an entry's local header) points past the
  /// end of the bytes, its `MemoryFile` copies a negative count and traps, taking the process down
  /// (FuzzCaseLoader found it in a case's `.keras` artifact). Its file-backed archive reads short
  /// there and throws, as for `.keras` files users load (`KerasImport.KerasArchive`). So the bytes
  /// go to a temporary file readable only by this user, unlinked as soon as the archive holds it
  /// open.
  static func openArchive(_ bytes: [UInt8]) throws -> Archive {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("rnnconf-artifact-\(UUID().uuidString).zip").path
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw TemporaryFileError(description: "cannot create a temporary file to read it from (\(path): \(String(cString: strerror(errno))))")
    }
    defer { unlink(path) }
    let written = bytes.withUnsafeBytes { buf -> Bool in
      var done = 0
      while done < buf.count {
        let n = write(fd, buf.baseAddress! + done, buf.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        done += n
      }
      return true
    }
    let writeErrno = errno
    close(fd)
    guard written else {
      throw TemporaryFileError(description: "cannot write a temporary file to read it from (\(path): \(String(cString: strerror(writeErrno))))")
    }
    return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
  }

  /// The entry count of the end-of-central-directory record; -1 for ZIP64 (checked by ZIPFoundation), nil when absent.
  static func declaredEntryCount(_ buf: [UInt8]) -> Int? {
    guard buf.count >= 22 else { return nil }
    var i = buf.count - 22
    let lowest = max(0, buf.count - 22 - 65535)
    while i >= lowest {
      if buf[i] == 0x50, buf[i + 1] == 0x4b, buf[i + 2] == 0x05, buf[i + 3] == 0x06 {
        let total = Int(buf[i + 10]) | Int(buf[i + 11]) << 8
        return total == 0xffff ? -1 : total
      }
      i -= 1
    }
    return nil
  }
}
