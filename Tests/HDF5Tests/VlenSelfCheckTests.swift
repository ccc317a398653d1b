import Foundation
import Testing
@testable import HDF5

/// `VlenSelfCheck`: once per process, variable-length strings written to an in-memory file are
/// read back through the raw path (`GlobalHeap`); if that does not give them back (another
/// libhdf5's descriptor layout or heap handling), strings are read through libhdf5's own
/// conversion from then on. Both paths, and the switch between them.
@Suite struct VlenSelfCheckTests {
  /// On the libhdf5 rnnconf is built against the raw path works, and is what reads use.
  @Test func theRawPathPassesOnThisLibHDF5() {
    #expect(VlenSelfCheck.run() == .raw)
    #expect(Library.sync { VlenSelfCheck.rawPathInUse })
  }

  /// A libhdf5 handing over descriptors in another layout, stood in for by changing them before
  /// they are decoded: the self-check says why it falls back.
  @Test(arguments: [
    ("every length read as 0", "read back as [\"\"]"),
    ("heap addresses elsewhere", "outside the file"),
  ])
  func anotherDescriptorLayoutFallsBack(what: String, expected: String) {
    let outcome = VlenSelfCheck.run { raw in
      var r = raw
      let size = 16  // 4-byte length, 8-byte address, 4-byte index
      for d in stride(from: 0, to: r.count, by: size) {
        if what == "every length read as 0" { for k in 0..<4 { r[d + k] = 0 } }
        else { r[d + 4 + 6] ^= 0x40 }
      }
      return r
    }
    guard case let .library(why) = outcome else {
      Issue.record("\(what): the self-check passed"); return
    }
    #expect(why.contains(expected), "\(what): \(why)")
  }

  /// The fallback (forced per file with the internal switch) reads what the raw path reads.
  @Test func libhdf5sConversionReadsTheSameStrings() throws {
    for path in [TestData.path("huge.h5"), TestData.path("case_sample.h5"),
                 TestData.repoRoot.appendingPathComponent("fixtures/tf1/basic_lstm_fb1.h5").path] {
      let raw = try File(path: path), viaLibrary = try File(path: path)
      viaLibrary.raw.libraryStringConversion = true
      let names = try raw.root.attributeNames()
      var strings = 0
      for n in names where try raw.root.attribute(n).storedType.isString {
        #expect(try viaLibrary.root.attribute(n).readStrings() == raw.root.attribute(n).readStrings(), "\(path) @\(n)")
        strings += 1
      }
      #expect(strings > 0, "\(path) has string attributes")
    }
    #expect(try File(path: TestData.path("huge.h5")).root.stringAttribute("note") == GlobalHeapTests.text)
  }

  /// The switch really changes the path: a collection without its signature is refused by the
  /// raw reader in its own words, and by libhdf5 in libhdf5's.
  @Test func theSwitchSelectsThePath() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try GlobalHeapTests.sample(dir)
    try GlobalHeapTests.corrupted(s) { $0[s.heap] = UInt8(ascii: "X") }
    let rawError = expectHDF5Error(file: s.path) { _ = try File(path: s.path).root.stringAttribute("note") }
    #expect(rawError?.detail.contains("no `GCOL` version 1 signature") == true, "\(String(describing: rawError))")
    #expect(rawError?.libraryMessages.isEmpty == true)
    let file = try File(path: s.path)
    file.raw.libraryStringConversion = true
    let libraryError = expectHDF5Error(file: s.path) { _ = try file.root.stringAttribute("note") }
    #expect(libraryError?.libraryMessages.isEmpty == false, "\(String(describing: libraryError))")
  }
}
