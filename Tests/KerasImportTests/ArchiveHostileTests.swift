import _TestSupport
import Foundation
import HDF5
import Testing
import ZIPFoundation
@testable import KerasImport

/// Hostile `.keras` zips: bombs are refused at a stated cap, damage is an error, and errors
/// inside the archive name `archive.keras!/<entry>`, never a temporary file.
@Suite struct ArchiveHostileTests {
  static let model = Paths.data + "/models/k3_seq_stacked.keras"

  /// Writes a zip with these entries (deflated) and returns its path.
  static func zip(_ entries: [(String, Data)], name: String = "hostile.keras") throws -> URL {
    let u = tempURL(name)
    let a = try Archive(url: u, accessMode: .create)
    for (path, data) in entries {
      try a.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { pos, size in
        data.subdata(in: Int(pos)..<(Int(pos) + size))
      }
    }
    return u
  }

  static func entries(of path: String) throws -> [(String, Data)] {
    let a = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
    return try a.map { e in
      var d = Data()
      _ = try a.extract(e) { d.append($0) }
      return (e.path, d)
    }
  }

  /// The error loading `u` gives, or nil when it loads.
  static func loadError(_ u: URL) -> String? {
    do { _ = try Storage.load(u, weights: nil); return nil } catch { return "\(error)" }
  }

  @Test func theUndamagedArchiveStillLoads() throws {
    #expect(Self.loadError(URL(fileURLWithPath: Self.model)) == nil)
    let rezipped = try Self.zip(try Self.entries(of: Self.model))
    defer { try? FileManager.default.removeItem(at: rezipped) }
    let loaded = try Storage.load(rezipped, weights: nil)
    #expect(loaded.weightsPath == rezipped.path + "!/model.weights.h5")
    #expect(loaded.temporaries.isEmpty)
  }

  @Test func aConfigBombIsRefusedAtTheCap() throws {
    var big = Data(repeating: 0x20, count: 65 << 20)
    big.append(contentsOf: Array("{}".utf8))
    let u = try Self.zip([("config.json", big), ("metadata.json", Data("{}".utf8))])
    defer { try? FileManager.default.removeItem(at: u) }
    let e = try #require(Self.loadError(u))
    #expect(e.contains(u.path + "!/config.json"), "\(e)")
    #expect(e.contains("more than the cap of 64 MiB (raise it with RNNCONF_MAX_JSON_MB=<MiB>)"), "\(e)")
  }

  @Test func anEntryThatInflatesPastItsDeclaredSizeIsRefused() throws {
    let big = Data(repeating: 0x20, count: 1 << 20) + Data("{}".utf8)
    let u = try Self.zip([("config.json", big)])
    defer { try? FileManager.default.removeItem(at: u) }
    // Lie about the size: 100 bytes in the local header (offset 22) and the central directory (offset 24).
    var b = [UInt8](try Data(contentsOf: u))
    func put(_ at: Int, _ v: UInt32) { for k in 0..<4 { b[at + k] = UInt8((v >> (8 * UInt32(k))) & 0xff) } }
    for i in 0..<(b.count - 4) where b[i] == 0x50 && b[i + 1] == 0x4b {
      if b[i + 2] == 0x03 && b[i + 3] == 0x04 { put(i + 22, 100) }
      if b[i + 2] == 0x01 && b[i + 3] == 0x02 { put(i + 24, 100) }
    }
    try Data(b).write(to: u)
    let e = try #require(Self.loadError(u))
    #expect(e.contains(u.path + "!/config.json"), "\(e)")
    #expect(e.contains("inflates past its declared size of 100 bytes"), "\(e)")
  }

  @Test func weightsBeyondTheCapAreRefusedNamingTheEntry() throws {
    let a = try KerasArchive(path: Self.model)
    #expect(throws: Never.self) { _ = try a.bytes("model.weights.h5", cap: 1 << 20, variable: "RNNCONF_MAX_WEIGHTS_MB") }
    do {
      _ = try a.bytes("model.weights.h5", cap: 4096, variable: "RNNCONF_MAX_WEIGHTS_MB")
      Issue.record("read past the cap")
    } catch {
      #expect("\(error)".contains(Self.model + "!/model.weights.h5: declares 25168 bytes uncompressed, more than the cap of 4096 bytes (raise it with RNNCONF_MAX_WEIGHTS_MB=<MiB>)"), "\(error)")
    }
    #expect(ArchiveLimits.weights >= 64 << 20 && ArchiveLimits.json == 64 << 20)
  }

  @Test func errorsInsideTheArchiveNameTheEntryNotATemporaryFile() throws {
    // Weights that are HDF5 but not Keras weights.
    let h5 = tempURL("plain.h5")
    defer { try? FileManager.default.removeItem(at: h5) }
    do { let f = try HDF5.File.create(path: h5.path); _ = try f.root.createGroup("nothing"); try f.flush() }
    let plain = try Self.zip([("config.json", Data("{}".utf8)), ("model.weights.h5", try Data(contentsOf: h5))])
    // Weights that start like HDF5 and then are garbage.
    let junk = try Self.zip([("config.json", Data("{}".utf8)),
                             ("model.weights.h5", Data([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]) + Data(repeating: 7, count: 600))])
    defer { try? FileManager.default.removeItem(at: plain); try? FileManager.default.removeItem(at: junk) }
    for u in [plain, junk] {
      let e = try #require(Self.loadError(u))
      #expect(e.contains(u.path + "!/model.weights.h5"), "\(e)")
      // The old temporary copy was `kerasimport-<uuid>.weights.h5`: no other `.weights.h5` is named.
      #expect(!e.replacingOccurrences(of: "!/model.weights.h5", with: "").contains(".weights.h5"), "\(e)")
    }
    let plainError = Self.loadError(plain) ?? ""
    #expect(plainError.hasPrefix(plain.path + "!/model.weights.h5: an HDF5 file without Keras weights"), "\(plainError)")
  }

  @Test func aCorruptCentralDirectoryIsAnError() throws {
    // The last central directory record's signature is damaged: ZIPFoundation stops reading
    // there silently; the end record still declares three entries.
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.model)))
    let signature: [UInt8] = [0x50, 0x4b, 0x01, 0x02]
    let found: Int? = (0..<(b.count - 4)).last { (i: Int) -> Bool in Array(b[i..<(i + 4)]) == signature }
    let last = try #require(found)
    b[last + 2] = 0x09
    let u = tempURL("cd.keras")
    defer { try? FileManager.default.removeItem(at: u) }
    try Data(b).write(to: u)
    let e = try #require(Self.loadError(u))
    #expect(e.contains(u.path + ": corrupt zip central directory: its end record declares 3 entries, 2 could be read"), "\(e)")
  }
}

/// Seeded byte mutations of a real `.keras` archive (its zip records, sizes, names and data):
/// every load either succeeds or throws; a trap would end the test process.
@Suite struct ArchiveMutationTests {
  @Test func seededMutationsOfAnArchiveNeverTrap() throws {
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ArchiveHostileTests.model)))
    // Offsets of zip record signatures: mutations aim near them, where the sizes and offsets live.
    let records = (0..<(original.count - 4)).filter { original[$0] == 0x50 && original[$0 + 1] == 0x4b }
    var rng = SeededRNG(seed: 0x21b_0b)
    let u = tempURL("mutated.keras")
    defer { try? FileManager.default.removeItem(at: u) }
    var loaded = 0, refused = 0
    for _ in 0..<300 {
      var b = original
      for _ in 0..<(1 + rng.below(3)) {
        let base = records[rng.below(records.count)]
        let at = min(b.count - 1, base + rng.below(46))
        switch rng.below(4) {
        case 0: b[at] ^= UInt8(1 << rng.below(8))
        case 1: b[at] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)]
        case 2: for k in 0..<4 where at + k < b.count { b[at + k] = 0xff }
        default: b = Array(b.prefix(at + 1))
        }
      }
      try Data(b).write(to: u)
      do { _ = try Storage.load(u, weights: nil); loaded += 1 } catch { refused += 1 }
    }
    #expect(refused > 0, "loaded \(loaded), refused \(refused)")
  }
}
