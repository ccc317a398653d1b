import Foundation
import HDF5
import Testing
@testable import Conformance

/// The fuzzer's out-of-memory inputs (Fuzz/FuzzCaseLoader, `Data/fuzz-oom-*.h5`): case files whose
/// variable-length string attributes (`framework`, `cell`, `name`, `library`, `config`) declare
/// lengths of up to 4 GiB. libhdf5 1.10 allocated and zeroed that much per string while reading
/// them (`H5T__conv_vlen`), so `rnnconf run` reached 8-16 GB resident before it reported the file.
/// The strings are now read through their raw descriptors and checked against the file
/// (`HDF5.GlobalHeap`): each run is an error naming the file (its global heap, or another attribute the
/// fuzzer broke in the same file), in about 40 MB. `fuzz-oom-driver-block.h5` (the last fuzz run's
/// one finding) is another kind: its superblock's driver information block declares 4 GB, which
/// libhdf5 allocated and zeroed inside `H5Fopen` (4.2 GB resident); `checkDriverInfoBlock` now
/// refuses it before `H5Fopen`.
@Suite(.serialized) struct FuzzMemoryTests {
  static let data = RepoPaths.root + "/Tests/ConformanceTests/Data/"
  static var files: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? [])
      .filter { $0.hasPrefix("fuzz-oom-") }.sorted().map { data + $0 }
  }
  /// Far under issue 11's 2 GB: a run of a broken case file needs about 40 MB.
  static let capKB = 400 * 1024

  @Test func theCorpusIsHere() { #expect(Self.files.count == 10) }

  @Test(arguments: [["run"], ["list"], ["inspect"]])
  func aHugeDeclaredStringLengthIsANamedErrorInLittleMemory(command: [String]) throws {
    for file in Self.files {
      let o = try MalformedCorpusTests.run(command + [file], timeout: 60)
      let name = (file as NSString).lastPathComponent
      #expect(!o.signalled && !o.timedOut, "\(command) \(name): \(o.output)")
      #expect(o.status == 1, "\(command) \(name): exit \(o.status): \(o.output)")
      #expect(o.output.contains(name), "\(command) \(name): \(o.output)")
      #expect(o.maxResidentKB < Self.capKB, "\(command) \(name): \(o.maxResidentKB) kB resident")
      #expect(!o.output.contains("memory allocation failed"), "\(command) \(name): \(o.output)")
    }
  }

  @Test func aDriverInfoBlockLargerThanTheFileIsANamedErrorInProcess() {
    FuzzLinkInfoTests.expectLoadError(Self.data + "fuzz-oom-driver-block.h5",
                                      contains: "the superblock's driver information block at 0x19 declares 4278190080 bytes, past the end of the file (12192 bytes)",
                                      beforeLibHDF5: true)
  }

  /// The same bytes as an in-memory image (how a `.keras` archive's weights are opened).
  @Test func aDriverInfoBlockLargerThanTheImageIsANamedError() throws {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.data + "fuzz-oom-driver-block.h5")))
    do {
      _ = try File(image: bytes, name: "archive.keras!model.weights.h5")
      Issue.record("opened")
    } catch let e as HDF5Error {
      #expect(e.file == "archive.keras!model.weights.h5", "\(e)")
      #expect(e.description.contains("driver information block at 0x19 declares 4278190080 bytes, past the end of the file (12192 bytes)"), "\(e)")
      #expect(e.libraryMessages.isEmpty, "thrown before libhdf5 was asked: \(e)")
    }
  }
}
