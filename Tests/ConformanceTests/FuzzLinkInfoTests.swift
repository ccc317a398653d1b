import Foundation
import HDF5
import Testing
@testable import Conformance

/// The fuzzer's last libhdf5 fault class (Fuzz/FuzzCaseLoader): bit-flipped case files whose
/// link-info message points a group's dense link storage at garbage. libhdf5 1.10 opened the
/// name-index B-tree there without checking (`H5Lexists` -> `H5G__obj_get_linfo` -> `H5B2_open`)
/// and segfaulted in `memcpy` in `H5F__accum_read`, in process: only `run --isolate` survived it.
/// `HDF5.ObjectHeaderCheck` now reads each group's object header before libhdf5 looks anything
/// up in it, so each file is a named error IN PROCESS (this test would die with the process
/// otherwise). One file per place the fault was found: the root group (an address past the end
/// of the file, and one inside it that holds no fractal heap), a nested group, and `/inputs` of
/// a PyTorch case; `fuzz-segv-accum-read.h5` is the first one found (`/outputs/state`).
@Suite struct FuzzLinkInfoTests {
  static let data = RepoPaths.root + "/Tests/ConformanceTests/Data/"
  static let files: [(name: String, expected: String)] = [
    ("fuzz-segv-linfo-root.h5",
     "corrupt link-info message in group /: fractal heap address 0xfffffffffffffdff is past the end of the file (10784 bytes)"),
    ("fuzz-segv-linfo-root-no-heap.h5",
     "corrupt link-info message in group /: fractal heap address 0x3 does not hold a fractal heap (no `FRHP` signature)"),
    ("fuzz-segv-linfo-nested.h5",
     "corrupt link-info message in group /weights/rnn/basic_lstm_cell: fractal heap address 0xffffffffffffffbf is past the end of the file"),
    ("fuzz-segv-linfo-pytorch-inputs.h5",
     "corrupt link-info message in group /inputs: fractal heap address 0xffffffffffff0000 is past the end of the file"),
    ("fuzz-segv-accum-read.h5",
     "corrupt link-info message in group /outputs/state: fractal heap address 0xffffffffff060000 is past the end of the file"),
  ]

  @Test(arguments: files.map(\.name))
  func theCaseLoaderReportsTheCorruptLinkInfoInProcess(name: String) throws {
    let expected = try #require(Self.files.first { $0.name == name }).expected
    Self.expectLoadError(Self.data + name, contains: expected)
  }

  /// Loads the case file IN PROCESS (a libhdf5 fault would end the test process) and expects an
  /// error naming the file and holding `expected` (and no libhdf5 message when `beforeLibHDF5`).
  static func expectLoadError(_ path: String, contains expected: String, beforeLibHDF5: Bool = false) {
    do {
      _ = try Case.load(path: path)
      Issue.record("\(path) loaded")
    } catch {
      let text = "\(error)"
      #expect(text.contains(path), "\(text)")
      #expect(text.contains(expected), "\(text)")
      if beforeLibHDF5 { #expect(!text.contains("libhdf5:"), "thrown before libhdf5 was asked: \(text)") }
    }
  }

  /// The HDF5 layer alone: walking the file (every group below the root, as `inspect` and the
  /// Keras reader do) throws the same `HDF5Error`, naming the file and the broken group.
  @Test(arguments: files.map(\.name))
  func walkingTheFileThrowsTheNamedError(name: String) throws {
    let path = Self.data + name
    let expected = try #require(Self.files.first { $0.name == name }).expected
    do {
      _ = try File(path: path).root.datasetPaths()
      Issue.record("\(name) was walked")
    } catch let e as HDF5Error {
      #expect(e.file == path && e.kind == .libraryCall, "\(e)")
      #expect(e.description.contains(expected), "\(e)")
      #expect(e.libraryMessages.isEmpty, "thrown before libhdf5 was asked: \(e)")
    }
  }
}

/// The same fault behind a header libhdf5 cannot read whole (a fuzzer finding of the run on the
/// guard above): `/weights`' header has a continuation chunk past the end of the file, so
/// `H5Oget_info_by_name2` fails and the guard got no address to check; `H5Lexists` inside the
/// group still decoded the first chunk, whose link-info message holds a garbage fractal heap
/// address, and segfaulted. A lookup inside a group whose header libhdf5 cannot read is now
/// that error, in process.
@Suite struct FuzzUnreadableHeaderTests {
  @Test func aLookupInsideAGroupWhoseHeaderCannotBeReadIsANamedError() throws {
    FuzzLinkInfoTests.expectLoadError(FuzzLinkInfoTests.data + "fuzz-segv-linfo-unreadable-header.h5",
                                      contains: "read the object header of `/weights`")
  }
}

/// Two more libhdf5 fault classes among the fuzzer's findings, reached only by `inspect`'s walk,
/// which lists names by index: `H5Aget_name_by_idx` and `H5Lget_name_by_idx` build a table of the
/// attribute or link messages in an object's header, and when one of them cannot be decoded,
/// releasing the half-built table segfaults (`H5A__attr_release_table` -> `H5A__close`) or
/// double-frees (`H5G__link_release_table`: SIGABRT). Both depend on what the process did
/// before (the case summary's reads first), so they are read here exactly as `inspect` reads
/// them, IN PROCESS. Each listing now looks a name up first (`listingProbeName`), which decodes
/// the same messages without a table, and the undecodable message is shown in place.
@Suite struct FuzzListingTests {
  @Test(arguments: [
    ("fuzz-abort-link-table.h5", "<cannot list: a link message in its object header cannot be decoded"),
  ])
  func inspectShowsTheUndecodableMessageInPlace(name: String, expected: String) throws {
    let path = FuzzLinkInfoTests.data + name
    let (text, caseError) = try Inspection.inspect(path: path)
    #expect(caseError.map { "\($0)".contains(path) } == true, "the case error names the file")
    #expect(text.contains(expected), "\(text)")
  }

  /// The undecodable attribute message of `fuzz-segv-attribute-table.h5` (a dimension of
  /// 3422552066 in `weight_names`' dataspace) is now refused by the attribute-message check
  /// (`FuzzAttributeMessageTests`) when the root is opened, before any listing.
  @Test func theUndecodableAttributeIsNamedBeforeAnyListing() throws {
    let path = FuzzLinkInfoTests.data + "fuzz-segv-attribute-table.h5"
    do {
      _ = try Inspection.inspect(path: path)
      Issue.record("inspected")
    } catch {
      let text = "\(error)"
      #expect(text.contains(path), "\(text)")
      #expect(text.contains("corrupt attribute message `weight_names` in group /: its data needs 88986353716 bytes (3422552066 x 26), the message holds 56."), "\(text)")
    }
  }
}

/// The fuzzer's run on the object-header guard found libhdf5 1.10 segfaulting in `memcpy` under
/// `H5Aexists` -> `H5O__attr_exists` -> `H5O__msg_iterate_real` while it decoded an attribute
/// message: in `fuzz-segv-attribute-enum.h5` the root's `library` attribute's datatype class is
/// flipped from 9 (a variable-length string) to 8 (enum), so the decoder takes the string's bits
/// for 257 members and copies names and values that are not in the message. `ObjectHeaderCheck`
/// now reads every attribute message (name, datatype, dataspace, data) inside its bytes before
/// libhdf5 does; each file is a named error IN PROCESS (this test would die with the process
/// otherwise). `fuzz-attribute-data-size.h5` is the same file with the class restored and only
/// the other corruption of one finding left: `output_names`' string size is 14483463, so its data
/// (3 elements) needs 43 MB from a message of 80 bytes; libhdf5 1.10.8 refuses that one itself
/// ("data size exceeds buffer size", checked against the whole message), the guard names it first.
@Suite struct FuzzAttributeMessageTests {
  static let files: [(name: String, expected: String)] = [
    ("fuzz-segv-attribute-enum.h5",
     "corrupt attribute message `library` in group /: its datatype: enum member 0's name has no NUL terminator before the end of its 20 bytes"),
    ("fuzz-attribute-data-size.h5",
     "corrupt attribute message `output_names` in group /: its data needs 43450389 bytes (3 x 14483463), the message holds 24"),
  ]

  @Test(arguments: files.map(\.name))
  func theCaseLoaderReportsTheCorruptAttributeInProcess(name: String) throws {
    let expected = try #require(Self.files.first { $0.name == name }).expected
    FuzzLinkInfoTests.expectLoadError(FuzzLinkInfoTests.data + name, contains: expected + ".", beforeLibHDF5: true)
  }
}
