import Foundation
import HDF5
import Testing
@testable import Conformance

/// One mutant per fault class `scripts/h5mutate.py` found in libhdf5 1.10.8 (docs/HOSTILE-INPUTS.md,
/// "Object headers"): case files derived from the bundled fixtures (`h5mutate.py variants`:
/// the same case rewritten with committed datatypes, chunked storage, libver latest or shared
/// messages; `k2_act_gelu_lstm`'s embedded Keras model for the in-memory one), each with one
/// field changed (checksums recomputed). Before the guards each one segfaulted, aborted, divided
/// by zero, hung or trapped `rnnconf` in process; each is now a named error IN PROCESS (this test
/// would die with the process otherwise), thrown before libhdf5 reads the structure.
@Suite struct H5MutantTests {
  static let data = RepoPaths.root + "/Tests/ConformanceTests/Data/"
  static let heap = "corrupt attribute-info message in group /: the fractal heap at 0x259"
  static let files: [(name: String, before: String, expected: String)] = [
    ("fuzz-h5m-symbol-table.h5", "SIGSEGV (committed-types variant: a group's B-tree address)",
     "corrupt symbol table of group /weights/rnn/basic_lstm_cell: the B-tree address 0xffffffffffffffff (a 544-byte node) is past the end of the file (16312 bytes)"),
    ("fuzz-h5m-local-heap.h5", "SIGSEGV (a local heap's data segment size)",
     "corrupt symbol table of group /outputs: the local heap's data segment at 0x36e0 (18446744073709551615 bytes) is past the end of the file (16312 bytes)"),
    ("fuzz-h5m-group-btree-child.h5", "SIGSEGV (a B-tree child pointer)",
     "corrupt symbol table of group /: symbol node address 0xffffffffffffffff (a 328-byte node) is past the end of the file (32714 bytes)"),
    ("fuzz-h5m-keras-local-heap.h5", "SIGABRT (the embedded Keras model's local heap, read from memory)",
     "corrupt symbol table of group /model_weights: the local heap's data segment at 0x688 (18446744073709551615 bytes) is past the end of the file (14528 bytes)"),
    ("fuzz-h5m-fill-value.h5", "SIGSEGV (a fill value's size)",
     "corrupt fill value message in dataset /weights/rnn/basic_lstm_cell/kernel: the fill value (1073741828 bytes at offset 6) runs past the end of its 10 bytes"),
    ("fuzz-h5m-heap-table-width.h5", "SIGSEGV (dense attributes: the heap's table width)",
     heap + " has a table width of 0, not a power of two"),
    ("fuzz-h5m-heap-huge-tree.h5", "SIGSEGV at exit, in H5F__close_cb (the heap's huge-object B-tree address)",
     heap + " has its huge-object B-tree at 0x0, which holds no v2 B-tree of huge objects (`BTHD`, version 0, type 1-4)"),
    ("fuzz-h5m-heap-root-block.h5", "SIGSEGV (the heap's root block address)",
     heap + " holds 15 objects but its root block address is undefined"),
    ("fuzz-h5m-btree-node-size.h5", "SIGABRT (the name index's node size)",
     "corrupt attribute-info message in group /: the name-index B-tree at 0x2eb has a node size of 4294967295 bytes, not between 27 (one 17-byte record) and 1048576"),
    ("fuzz-h5m-btree-node-size-hang.h5", "a hang (a node size of 0)",
     "corrupt attribute-info message in group /: the name-index B-tree at 0x2eb has a node size of 0 bytes"),
    ("fuzz-h5m-btree-record-size.h5", "SIGFPE (a record size of 0)",
     "corrupt attribute-info message in group /: the name-index B-tree at 0x2ea has a record size of 0"),
    ("fuzz-h5m-btree-root-records.h5", "SIGSEGV (the root node's record count)",
     "corrupt attribute-info message in group /: the name-index B-tree at 0x2eb declares 65535 records in its root node, more than the 29 a node of 512 bytes holds at depth 0"),
    ("fuzz-h5m-btree-total-records.h5", "SIGABRT in inspect (a total record count of 2^36 + 15)",
     "corrupt attribute-info message in group /: the name-index B-tree at 0x2eb has 68719476751 records in all, which its root node of 15 records at depth 0 cannot hold"),
    ("fuzz-h5m-ainfo-name-index.h5", "SIGSEGV (a heap without a name index)",
     "corrupt attribute-info message in group /: it has a fractal heap but its name-index B-tree address is undefined"),
    ("fuzz-h5m-sohm-heap.h5", "SIGSEGV (the shared-message table's heap)",
     "corrupt shared-message table of the file: index 0 holds 16 messages but its fractal heap address is undefined"),
  ]

  @Test func everyRegressionFileIsHere() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.data).filter { $0.hasPrefix("fuzz-h5m-") }
    #expect(Set(names) == Set(Self.files.map(\.name) + ["fuzz-h5m-storage-size.h5"]))
  }

  @Test(arguments: files.map(\.name))
  func theCaseLoaderReportsTheMutantInProcess(name: String) throws {
    let f = try #require(Self.files.first { $0.name == name })
    FuzzLinkInfoTests.expectLoadError(Self.data + name, contains: f.expected, beforeLibHDF5: true)
  }

  /// `inspect`'s walk, in process: the tree names the broken structure (in place, or as the
  /// error of the whole file) and nothing faults.
  @Test(arguments: files.map(\.name))
  func inspectsTreeReportsTheMutantInProcess(name: String) throws {
    let f = try #require(Self.files.first { $0.name == name })
    let path = Self.data + name
    do {
      let text = try TreePrinter().render(path: path)
      // The Keras model inside a case is read only when the case runs.
      if name != "fuzz-h5m-keras-local-heap.h5" { #expect(text.contains(f.expected), "\(name): \(text)") }
    } catch let e as HDF5Error {
      #expect(e.file == path, "\(e)")
      #expect(e.description.contains(f.expected), "\(name): \(e)")
    }
  }

  /// A contiguous layout whose size field reads 2^64 - 1 (the data itself intact): `inspect`
  /// trapped converting `H5Dget_storage_size` to `Int`; the size now clamps, and the case,
  /// whose numbers are all there, still loads.
  @Test func aStorageSizeBeyondIntIsClampedNotATrap() throws {
    let path = Self.data + "fuzz-h5m-storage-size.h5"
    let text = try TreePrinter().render(path: path)
    #expect(text.contains("kernel"))
    let sizes = try File(path: path).root.datasetPaths().map { try File(path: path).dataset($0).storageSize }
    #expect(sizes.contains(Int.max), "\(sizes)")
    _ = try Case.load(path: path)
  }
}
