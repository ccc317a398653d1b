import Foundation
import Testing
@testable import HDF5

/// Everything the layer writes reads back identically, for Float and Double.
@Suite struct WriteTests {
  func roundTrip<T: HDF5Numeric & BinaryFloatingPoint>(_: T.Type) throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("rt.h5").path
    let values: [T] = [0.5, -1.25, 3, .pi, -.ulpOfOne, .greatestFiniteMagnitude]
    do {
      let f = try File.create(path: path)
      let root = try f.root
      try root.setAttribute("schema", 1)
      try root.setAttribute("tol", T(1e-5))
      try root.setAttribute("name", "na\u{ef}ve/case")
      try root.setAttribute("names", fixedLengthStrings: ["lstm", "dense_1", "x"])
      try root.setAttribute("utf8_names", fixedLengthStrings: ["\u{e9}t\u{e9}", "a"])
      try root.setAttribute("vector", values, shape: [2, 3])
      try root.setAttribute("name", "replaced")          // replacing keeps one attribute
      try root.createDataset("zeta", shape: [2, 3], values: values)
      try root.createDataset("alpha/nested/deep", shape: [3, 2], values: values)
      try root.createDataset("scalar", shape: [], values: [T(2.5)])
      try root.createDataset("empty", shape: [0, 4], values: [T]())
      try root.createDataset("ints", shape: [3], values: [Int.min, 0, Int.max])
      try root.createDataset("bytes", bytes: [0, 1, 255])
      try root.createDataset("labels", fixedLengthStrings: ["a", "\u{e9}t\u{e9}", ""])
      let g = try root.createGroup("mid/sub")
      try g.setAttribute("weight_names", fixedLengthStrings: [])
      try f.flush()
    }
    let f = try File(path: path)
    let root = try f.root
    #expect(try root.childNames() == ["zeta", "alpha", "scalar", "empty", "ints", "bytes", "labels", "mid"])
    #expect(try f.dataset("labels").readStrings() == ["a", "\u{e9}t\u{e9}", ""])
    #expect(try f.dataset("labels").storedType == .string(length: 5, utf8: true))
    #expect(try root.attributeNames() == ["schema", "tol", "names", "utf8_names", "vector", "name"])
    #expect(try root.intAttribute("schema") == 1)
    #expect(try root.attribute("schema").storedType == .integer(signed: true, bits: 64))
    #expect(try root.attribute("tol").readScalar(as: T.self) == T(1e-5))
    #expect(try root.stringAttribute("name") == "replaced")
    #expect(try root.attribute("name").storedType == .string(length: nil, utf8: true))
    #expect(try root.stringsAttribute("names") == ["lstm", "dense_1", "x"])
    #expect(try root.attribute("names").storedType == .string(length: 7, utf8: false))
    #expect(try root.stringsAttribute("utf8_names") == ["\u{e9}t\u{e9}", "a"])
    #expect(try root.attribute("vector").shape == [2, 3])
    #expect(try root.attribute("vector").read(as: T.self) == values)
    let bits = MemoryLayout<T>.size * 8
    #expect(try f.dataset("zeta").storedType == .float(bits: bits))
    #expect(try f.dataset("zeta").shape == [2, 3])
    #expect(try f.dataset("zeta").read(as: T.self) == values)
    #expect(try f.dataset("alpha/nested/deep").read(as: T.self) == values)
    #expect(try f.dataset("alpha/nested/deep").shape == [3, 2])
    #expect(try f.dataset("scalar").extent == .scalar)
    #expect(try f.dataset("scalar").read(as: T.self) == [2.5])
    #expect(try f.dataset("empty").shape == [0, 4])
    #expect(try f.dataset("empty").read(as: T.self) == [])
    #expect(try f.dataset("ints").read(as: Int.self) == [Int.min, 0, Int.max])
    #expect(try f.dataset("bytes").readBytes() == [0, 1, 255])
    #expect(try f.group("mid/sub").stringsAttribute("weight_names") == [])
    // Hyperslab of what was written: row 1 of [2, 3].
    #expect(try f.dataset("zeta").read(offset: [1, 0], count: [1, 3], as: T.self) == Array(values[3...]))
  }

  @Test func roundTripFloat() throws { try roundTrip(Float.self) }
  @Test func roundTripDouble() throws { try roundTrip(Double.self) }

  @Test func writesAreCheckedAgainstTheShape() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("bad.h5").path
    let root = try File.create(path: path).root
    let e = expectHDF5Error(.invalidArgument, file: path) {
      try root.createDataset("x", shape: [2, 3], values: [Float](repeating: 0, count: 5))
    }
    #expect(e?.objectPath == "/x")
    expectHDF5Error(.invalidArgument, file: path) { try root.setAttribute("a", [1.0, 2.0], shape: [3]) }
    // A name that already exists is libhdf5's error, with its stack.
    try root.createDataset("y", shape: [1], values: [1.0])
    let dup = expectHDF5Error(.libraryCall, file: path) { try root.createDataset("y", shape: [1], values: [1.0]) }
    #expect(dup?.libraryMessages.isEmpty == false)
  }

  @Test func createInMissingDirectoryNamesTheFile() throws {
    let path = "/nonexistent-dir-\(UUID().uuidString)/x.h5"
    let e = expectHDF5Error(.libraryCall, file: path) { _ = try File.create(path: path) }
    #expect(e?.libraryMessages.contains { $0.contains("unable to") } == true, "\(String(describing: e))")
  }

  @Test func childrenKeepTheFileOpenAndReleaseIt() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("life.h5").path
    _ = try File.create(path: path).root.createDataset("x", shape: [2], values: [1.0, 2.0])
    var dataset: Dataset? = try File(path: path).dataset("x")  // the File object is released here
    // Still open through the dataset: libhdf5 refuses to truncate an open file.
    expectHDF5Error(.libraryCall, file: path) { _ = try File.create(path: path) }
    #expect(try dataset?.read(as: Double.self) == [1, 2])
    dataset = nil
    // Released: the file can be recreated.
    _ = try File.create(path: path)
    #expect(try File(path: path).root.childNames() == [])
  }

  @Test func concurrentReadsAreSerializedAndCorrect() throws {
    let path = TestData.path("dtypes.h5")
    let failures = Counter()
    DispatchQueue.concurrentPerform(iterations: 64) { k in
      do {
        let f = try File(path: path)
        let v: [Double] = try f.dataset(k % 2 == 0 ? "int32" : "cube").read()
        if k % 2 == 0 ? v != [0, 1, 2, 3, 4, 5] : (v.count != 60 || v[59] != 234) { failures.add() }
        _ = try f.root.attributeNames()
        _ = try TreePrinter().render(path: TestData.path("attrs.h5"))
      } catch { failures.add() }
    }
    #expect(failures.value == 0)
  }
}

final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var n = 0
  func add() { lock.lock(); n += 1; lock.unlock() }
  var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

@Suite struct EditTests {
  @Test func deletesAttributesAndLinks() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("edit.h5").path
    try FileManager.default.copyItem(atPath: TestData.path("order.h5"), toPath: path)
    do {
      let f = try File(path: path, writable: true)
      try f.root.deleteAttribute("z_attr")
      try f.root.deleteLink("mid/b/c/deep")
      try f.root.createDataset("added", shape: [1], values: [7.0])
      expectHDF5Error(.notFound, file: path) { try f.root.deleteAttribute("z_attr") }
      expectHDF5Error(.notFound, file: path) { try f.root.deleteLink("nope") }
    }
    let f = try File(path: path)
    #expect(try f.root.attributeNames() == ["a_attr"])
    #expect(try f.group("mid/b/c").childNames() == [])
    #expect(try f.root.childNames().last == "added")
    expectHDF5Error(.libraryCall, file: path) { try File(path: path).root.setAttribute("x", 1) }  // read-only
  }
}
