import Foundation
import Testing
@testable import HDF5

/// Reads files h5py wrote (Data/make_files.py); every expected value is stated there.
@Suite struct ReadTests {
  let dtypes = TestData.path("dtypes.h5")

  @Test func listsDatasetsInNameOrderWhenOrderIsNotTracked() throws {
    let f = try File(path: dtypes)
    let names = try f.root.childNames()
    #expect(names == names.sorted())
    #expect(names.contains("float16") && names.contains("uint64") && names.contains("cube"))
    #expect(try f.root.children().allSatisfy { $0.kind == .dataset })
  }

  @Test(arguments: ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
  func readsIntegers(_ name: String) throws {
    let d = try File(path: dtypes).dataset(name)
    #expect(try d.shape == [2, 3])
    let bits = Int(name.filter(\.isNumber))!
    #expect(try d.storedType == .integer(signed: !name.hasPrefix("u"), bits: bits))
    #expect(try d.read(as: Int.self) == [0, 1, 2, 3, 4, 5])
    #expect(try d.read(as: Double.self) == [0, 1, 2, 3, 4, 5])
    #expect(try d.read(as: Float.self) == [0, 1, 2, 3, 4, 5])
  }

  @Test(arguments: [("float16", 16), ("float32", 32), ("float64", 64), ("float32_be", 32)])
  func readsFloats(_ name: String, _ bits: Int) throws {
    let d = try File(path: dtypes).dataset(name)
    #expect(try d.storedType == .float(bits: bits))
    #expect(try d.shape == [2, 3])
    // make_files.py FLOATS; float16/float32 round 1e-3 to their nearest value.
    let expected: [Double] = [0.5, -1.25, 3.0, 1e-3, 65504.0, -2.0]
    let got: [Double] = try d.read()
    let tol = bits == 16 ? 1e-3 * 0.001 : (bits == 32 ? 1e-3 * 1e-7 : 0)
    for (g, e) in zip(got, expected) { #expect(abs(g - e) <= tol, "\(name): \(g) vs \(e)") }
    let f: [Float] = try d.read()
    #expect(f.count == 6 && f[0] == 0.5 && f[4] == 65504)
  }

  @Test func floatsCannotBeReadAsIntegers() throws {
    let d = try File(path: dtypes).dataset("float32")
    let e = expectHDF5Error(.typeMismatch, file: dtypes) { _ = try d.read(as: Int.self) }
    #expect(e?.objectPath == "/float32")
  }

  @Test func readsScalarEmptyAndBigIntegers() throws {
    let f = try File(path: dtypes)
    #expect(try f.dataset("scalar_f64").extent == .scalar)
    #expect(try f.dataset("scalar_f64").read(as: Double.self) == [2.5])
    #expect(try f.dataset("empty_f32").shape == [0, 3])
    #expect(try f.dataset("empty_f32").read(as: Float.self) == [])
    #expect(try f.dataset("int64_big").read(as: Int.self) == [1 << 53, -(1 << 62)])
  }

  @Test func readsStringDatasets() throws {
    let f = try File(path: dtypes)
    #expect(try f.dataset("strings_fixed").storedType == .string(length: 5, utf8: false))
    #expect(try f.dataset("strings_fixed").readStrings() == ["alpha", "be"])
    #expect(try f.dataset("strings_vlen").storedType == .string(length: nil, utf8: true))
    #expect(try f.dataset("strings_vlen").readStrings() == ["x", "\u{e9}t\u{e9}"])
  }

  @Test func stringDatasetReadAsNumbersIsRefused() throws {
    let f = try File(path: dtypes)
    for name in ["strings_fixed", "strings_vlen"] {
      let d = try f.dataset(name)
      let e = expectHDF5Error(.typeMismatch, file: dtypes) { _ = try d.read(as: Double.self) }
      #expect(e?.description.contains("not numbers") == true)
    }
    expectHDF5Error(.typeMismatch, file: dtypes) { _ = try f.dataset("cube").readStrings() }
  }

  @Test func hyperslabReadsOnlyTheRange() throws {
    let d = try File(path: dtypes).dataset("cube")  // value = 100 i + 10 j + k, shape [3, 4, 5]
    #expect(try d.shape == [3, 4, 5])
    let s: [Double] = try d.read(offset: [1, 2, 1], count: [2, 1, 3])
    #expect(s == [121, 122, 123, 221, 222, 223])
    let all: [Float] = try d.read(offset: [0, 0, 0], count: [3, 4, 5])
    #expect(all == (try d.read(as: Float.self)))
    expectHDF5Error(.invalidArgument, file: dtypes) { _ = try d.read(offset: [2, 0, 0], count: [2, 1, 1], as: Float.self) }
    expectHDF5Error(.invalidArgument, file: dtypes) { _ = try d.read(offset: [0, 0], count: [1, 1], as: Float.self) }
  }

  @Test func readsEveryAttributeKind() throws {
    let path = TestData.path("attrs.h5")
    let root = try File(path: path).root
    // track_order=True: creation order, as make_files.py wrote them.
    #expect(try root.attributeNames() == ["int_scalar", "float_scalar", "float32_array", "int_matrix", "str_ascii",
                                          "str_utf8", "bytes_scalar", "layer_names", "vlen_list", "flag", "empty",
                                          "weight_names0", "weight_names1", "bad_bytes", "bad_vlen"])
    #expect(try root.intAttribute("int_scalar") == -7)
    #expect(try root.doubleAttribute("float_scalar") == 1e-5)
    #expect(try root.attribute("float32_array").read(as: Float.self) == [1.5, 2.5, -3.0])
    #expect(try root.attribute("int_matrix").shape == [2, 2])
    #expect(try root.attribute("int_matrix").value() == .integers([1, 2, 3, 4], shape: [2, 2]))
    #expect(try root.stringAttribute("str_ascii") == "hello")
    #expect(try root.stringAttribute("str_utf8") == "na\u{ef}ve \u{2713}")
    #expect(try root.stringAttribute("bytes_scalar") == "tensorflow")
    #expect(try root.attribute("layer_names").storedType == .string(length: 7, utf8: false))
    #expect(try root.stringsAttribute("layer_names") == ["lstm", "dense_1", "x"])
    #expect(try root.stringsAttribute("vlen_list") == ["a", "bc"])
    #expect(try root.attribute("flag").value() == .booleans([true], shape: []))
    #expect(try root.attribute("empty").value() == .empty(.float(bits: 64)))
    #expect(try root.chunkedStringsAttribute("weight_names") == ["w0", "w1", "w2"])
    #expect(try root.chunkedStringsAttribute("layer_names") == ["lstm", "dense_1", "x"])
  }

  @Test func nonUTF8AttributeStringsAreRefused() throws {
    let path = TestData.path("attrs.h5")
    let root = try File(path: path).root
    for name in ["bad_bytes", "bad_vlen"] {
      let e = expectHDF5Error(.invalidString, file: path) { _ = try root.stringAttribute(name) }
      #expect(e?.objectPath == "/@\(name)")
      #expect(e?.description.contains("not valid UTF-8") == true)
    }
  }

  @Test func attributeKindMismatchesAreRefused() throws {
    let path = TestData.path("attrs.h5")
    let root = try File(path: path).root
    expectHDF5Error(.typeMismatch, file: path) { _ = try root.stringAttribute("layer_names") }   // 3 strings
    expectHDF5Error(.typeMismatch, file: path) { _ = try root.doubleAttribute("str_ascii") }
    expectHDF5Error(.typeMismatch, file: path) { _ = try root.intAttribute("float_scalar") }
    expectHDF5Error(.notFound, file: path) { _ = try root.attribute("no_such_attr") }
    expectHDF5Error(.notFound, file: path) { _ = try root.chunkedStringsAttribute("no_such_names") }
  }

  @Test func walksCreationOrderAndNestedGroups() throws {
    let path = TestData.path("order.h5")
    let f = try File(path: path)
    #expect(try f.root.childNames() == ["zeta", "alpha", "mid", "untracked", "link_to_alpha"])
    #expect(try f.root.children().last?.kind == .softLink("/alpha"))
    #expect(try f.root.attributeNames() == ["z_attr", "a_attr"])
    #expect(try f.group("untracked").childNames() == ["a", "b", "c"])
    #expect(try f.exists("mid/b/c/deep"))
    #expect(try !f.exists("mid/b/x/deep"))
    let deep = try f.dataset("mid/b/c/deep")
    #expect(deep.path == "/mid/b/c/deep")
    #expect(try deep.read(as: Double.self) == [1, 2])
    #expect(try f.group("mid").group("b").dataset("c/deep").shape == [1, 2])
    #expect(try f.root.datasetPaths() == ["alpha", "mid/b/c/deep", "untracked/a", "untracked/b", "untracked/c"])
    let shaped = try deep.readShaped(as: Float.self)
    #expect(shaped.shape == [1, 2] && shaped.values == [1, 2])
  }

  @Test func missingGroupAndDatasetNameThePath() throws {
    let path = TestData.path("order.h5")
    let f = try File(path: path)
    let e = expectHDF5Error(.notFound, file: path) { _ = try f.dataset("mid/b/nope") }
    #expect(e?.objectPath == "/mid/b/nope")
    expectHDF5Error(.notFound, file: path) { _ = try f.group("nope/deeper") }
    expectHDF5Error(.typeMismatch, file: path) { _ = try f.group("alpha") }
    expectHDF5Error(.typeMismatch, file: path) { _ = try f.dataset("zeta") }
  }

  @Test func readsKerasStyleNames() throws {
    let f = try File(path: TestData.path("keras_style.h5"))
    let mw = try f.group("model_weights")
    #expect(try mw.stringsAttribute("layer_names") == ["lstm", "dense"])
    let lstm = try mw.group("lstm")
    let names = try lstm.stringsAttribute("weight_names")
    #expect(names == ["lstm/kernel:0", "lstm/recurrent_kernel:0", "lstm/bias:0"])
    #expect(try names.map { try lstm.dataset($0).shape } == [[3, 8], [2, 8], [8]])
    #expect(try mw.group("dense").stringsAttribute("weight_names") == [])
    #expect(try mw.group("activation").attribute("weight_names").storedType == .float(bits: 64))
    #expect(try mw.group("activation").stringsAttribute("weight_names") == [])
    #expect(try f.root.stringAttribute("keras_version") == "2.2.4")
  }

  @Test func absurdDeclaredSizeIsRefusedBeforeAllocating() throws {
    let path = TestData.path("huge.h5")
    let d = try File(path: path).dataset("huge")
    #expect(try d.shape == [1 << 20, 1 << 20])
    #expect(d.storageSize == 0)
    let e = expectHDF5Error(.tooLarge, file: path) { _ = try d.read(as: Double.self) }
    #expect(e?.description.contains("8 TiB") == true, "\(e?.description ?? "")")
    // A small hyperslab of it is fine (fill value); a huge one is refused too.
    #expect(try d.read(offset: [5, 5], count: [2, 2], as: Float.self) == [0, 0, 0, 0])
    expectHDF5Error(.tooLarge, file: path) { _ = try d.read(offset: [0, 0], count: [1 << 20, 1 << 20], as: Float.self) }
    expectHDF5Error(.tooLarge, file: TestData.path("dtypes.h5")) {
      _ = try File(path: TestData.path("dtypes.h5")).dataset("cube").read(as: Double.self, limitBytes: 100)
    }
  }
}

@Suite struct InMemoryTests {
  @Test func opensAnImageWithoutTouchingDisk() throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestData.path("order.h5"))))
    let f = try File(image: bytes, name: "bundle.keras!order.h5")
    #expect(try f.root.childNames() == ["zeta", "alpha", "mid", "untracked", "link_to_alpha"])
    #expect(try f.dataset("mid/b/c/deep").read(as: Float.self) == [1, 2])
    // An artifact carried in a case file opens the same way.
    let note = try File(path: TestData.path("case_sample.h5")).dataset("artifacts/note.txt").readBytes()
    #expect(note == Array("hello".utf8))
    let e = expectHDF5Error(.notHDF5, file: "note.txt") { _ = try File(image: note, name: "note.txt") }
    #expect(e?.description.contains("text") == true)
    expectHDF5Error(.libraryCall, file: "cut.h5") { _ = try File(image: Array(bytes.prefix(bytes.count / 2)), name: "cut.h5") }
    expectHDF5Error(.notHDF5, file: "zip") { _ = try File(image: [0x50, 0x4b, 0x03, 0x04, 0, 0], name: "zip") }
  }
}
