import Foundation
import HDF5
import ZIPFoundation

/// Bounded reading of a `.keras` zip: the central directory is checked against its end record,
/// and an entry is refused when its declared or its actually inflated size passes a cap
/// (counted while inflating, so a zip bomb never gets past the cap in memory).
///
/// Caps (raise them with the environment variables, in MiB):
/// - JSON entries (`config.json`, `metadata.json`) and architecture JSON files: 64 MiB
///   (`RNNCONF_MAX_JSON_MB`);
/// - `model.weights.h5`: a quarter of physical memory, at most 16 GiB (`RNNCONF_MAX_WEIGHTS_MB`);
///   the weights are read in memory, never into a temporary file.
enum ArchiveLimits {
  static let mebibyte = 1 << 20

  static func fromEnvironment(_ name: String) -> Int? {
    guard let text = ProcessInfo.processInfo.environment[name], let mb = Int(text), mb > 0 else { return nil }
    return mb.multipliedReportingOverflow(by: mebibyte).overflow ? Int.max : mb * mebibyte
  }

  static var json: Int { fromEnvironment("RNNCONF_MAX_JSON_MB") ?? 64 * mebibyte }

  static var weights: Int {
    if let v = fromEnvironment("RNNCONF_MAX_WEIGHTS_MB") { return v }
    let quarter = Int(clamping: ProcessInfo.processInfo.physicalMemory / 4)
    return min(quarter, 16 << 30)
  }

  /// "64 MiB (raise it with RNNCONF_MAX_JSON_MB=<MiB>)".
  static func describe(_ cap: Int, variable: String) -> String {
    (cap % mebibyte == 0 ? "\(cap / mebibyte) MiB" : "\(cap) bytes") + " (raise it with \(variable)=<MiB>)"
  }
}

/// A `.keras` archive opened for bounded reads. Errors name `archive.keras!/<entry>`.
struct KerasArchive {
  let path: String
  let archive: Archive
  let entries: [Entry]

  init(path: String) throws {
    self.path = path
    do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
      throw Storage.unreadable(path, "not a readable zip archive (\(error)); re-save the model with model.save(\"name.keras\")")
    }
    var list: [Entry] = []
    for e in archive { list.append(e) }
    entries = list
    // ZIPFoundation stops silently at the first central directory record it cannot read.
    if let declared = try Self.declaredEntryCount(path), declared != entries.count {
      throw Storage.unreadable(path, "corrupt zip central directory: its end record declares \(declared) entries, "
        + "\(entries.count) could be read; the archive is damaged, re-copy or re-save it")
    }
  }

  /// The entry count of the end-of-central-directory record (nil for ZIP64 archives, checked by ZIPFoundation).
  static func declaredEntryCount(_ path: String) throws -> Int? {
    let (fd, size) = try RegularFile.openForReading(path)
    defer { close(fd) }
    let tail = min(size, 22 + 65535)
    var buf = [UInt8](repeating: 0, count: tail)
    let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, tail, off_t(size - tail)) }
    guard n == tail else { return nil }
    var i = tail - 22
    while i >= 0 {
      if buf[i] == 0x50, buf[i + 1] == 0x4b, buf[i + 2] == 0x05, buf[i + 3] == 0x06 {
        let total = Int(buf[i + 10]) | Int(buf[i + 11]) << 8
        return total == 0xffff ? nil : total
      }
      i -= 1
    }
    return nil
  }

  func entry(_ name: String) -> Entry? { entries.first { $0.path == name } }

  /// The label used in errors: `archive.keras!/config.json`.
  func label(_ name: String) -> String { path + "!/" + name }

  /// The bytes of `name`, or nil when the archive has no such entry; refused past `cap` bytes
  /// (declared or inflated) with an error naming the entry, the cap and how to raise it.
  func bytes(_ name: String, cap: Int, variable: String) throws -> [UInt8]? {
    guard let e = entry(name) else { return nil }
    let label = label(name)
    let capText = ArchiveLimits.describe(cap, variable: variable)
    guard e.uncompressedSize <= UInt64(cap) else {
      throw Storage.unreadable(label, "declares \(e.uncompressedSize) bytes uncompressed, more than the cap of \(capText); nothing was inflated")
    }
    struct Overflow: Error { var inflated: Int }
    let declared = Int(e.uncompressedSize)
    var out: [UInt8] = []
    out.reserveCapacity(declared)
    let crc: CRC32
    do {
      crc = try archive.extract(e) { chunk in
        let total = out.count + chunk.count
        guard total <= declared, total <= cap else { throw Overflow(inflated: total) }
        out.append(contentsOf: chunk)
      }
    } catch let o as Overflow {
      throw Storage.unreadable(label, "inflates past its declared size of \(declared) bytes (stopped at \(o.inflated)"
        + (o.inflated > cap ? ", beyond the cap of \(capText)" : "") + "); the archive is corrupt or a zip bomb")
    } catch {
      throw Storage.unreadable(label, "cannot be extracted (\(error)); the archive is damaged, re-copy or re-save it")
    }
    guard out.count == declared else {
      throw Storage.unreadable(label, "inflated to \(out.count) bytes, the zip declares \(declared); the archive is damaged")
    }
    // ZIPFoundation returns the CRC-32 of what it extracted and leaves the comparison to the
    // caller; Python's zipfile (Keras) refuses a mismatch ("Bad CRC-32"), and so does this.
    guard crc == e.checksum else {
      throw Storage.unreadable(label, "its bytes have CRC-32 \(String(format: "%08x", crc)), the zip declares \(String(format: "%08x", e.checksum)); the archive is damaged, re-copy or re-save it")
    }
    return out
  }
}
