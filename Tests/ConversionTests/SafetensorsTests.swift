import Foundation
import Testing
@testable import Conversion
import RNNRef

/// The safetensors writer and reader against the format's definition (an 8-byte
/// little-endian header length, a JSON header, raw little-endian data), not against each other only.
@Suite struct SafetensorsTests {
  func header(_ bytes: [UInt8]) -> (length: Int, json: [String: Any]) {
    var n = 0
    for k in 0..<8 { n |= Int(bytes[k]) << (8 * k) }
    let obj = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any]
    return (n, obj ?? [:])
  }

  @Test func writesTheDocumentedLayout() throws {
    let a = try Tensor<Double>(shape: [2, 2], scalars: [1, -2, 0.5, 3])
    let b = try Tensor<Double>(shape: [3], scalars: [0.25, 0, -1])
    let bytes = try Safetensors.encode([("a", a), ("b", b)], dtype: .float32, metadata: ["format": "pt"])
    let (n, json) = header(bytes)
    #expect(n % 8 == 0)
    #expect(bytes.count == 8 + n + 7 * 4)
    let ea = try #require(json["a"] as? [String: Any])
    #expect(ea["dtype"] as? String == "F32")
    #expect(ea["shape"] as? [Int] == [2, 2])
    #expect(ea["data_offsets"] as? [Int] == [0, 16])
    #expect((json["b"] as? [String: Any])?["data_offsets"] as? [Int] == [16, 28])
    #expect((json["__metadata__"] as? [String: String]) == ["format": "pt"])
    // -2.0f is 0xC0000000: little-endian bytes 00 00 00 C0 at data offset 4.
    #expect(Array(bytes[(8 + n + 4)..<(8 + n + 8)]) == [0x00, 0x00, 0x00, 0xC0])
  }

  @Test func roundTripsFloat32AndFloat64() throws {
    let a = try Tensor<Double>(shape: [2, 3], scalars: [1.5, -0.1, 3e-8, 7, 0, -2])
    for dtype in [DType.float32, .float64] {
      let bytes = try Safetensors.encode([("w", a), ("v", Tensor(shape: [0], scalars: []))], dtype: dtype)
      let (entries, _) = try Safetensors.decode(bytes, path: "mem")
      #expect(entries.map(\.name) == ["w", "v"])
      let expected = dtype == .float32 ? a.scalars.map { Double(Float($0)) } : a.scalars
      #expect(entries[0].tensor.scalars == expected)
      #expect(entries[0].tensor.shape == [2, 3])
      #expect(entries[0].dtype == (dtype == .float32 ? "F32" : "F64"))
    }
  }

  /// A header written by hand as torch's safetensors writes it, with F16 and BF16 data.
  @Test func readsHalfPrecisions() throws {
    let json = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}"#
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { bytes += $0 }
    bytes += Array(json.utf8)
    bytes += [0x00, 0x3C, 0x00, 0xC0]  // F16 1.0, -2.0
    bytes += [0x40, 0x40]  // BF16 3.0
    let (entries, _) = try Safetensors.decode(bytes, path: "mem")
    #expect(entries.first { $0.name == "h" }?.tensor.scalars == [1, -2])
    #expect(entries.first { $0.name == "b" }?.tensor.scalars == [3])
  }

  func refuses(_ json: String, data: [UInt8], containing text: String) {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { bytes += $0 }
    bytes += Array(json.utf8) + data
    do {
      _ = try Safetensors.decode(bytes, path: "bad.safetensors")
      Issue.record("accepted \(json)")
    } catch let e as ConversionError {
      #expect(e.description.contains("bad.safetensors"))
      #expect(e.description.contains(text), "\(e)")
    } catch { Issue.record("unexpected \(error)") }
  }

  @Test func refusesMalformedFiles() throws {
    refuses(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8), containing: "outside")
    refuses(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8), containing: "needs 12 bytes")
    refuses(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8), containing: "I64")
    refuses(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            data: [UInt8](repeating: 0, count: 4), containing: "overlaps")
    refuses(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 8), containing: "after the last")
    refuses(#"[1, 2]"#, data: [], containing: "not a JSON object")
    #expect(throws: ConversionError.self) { try Safetensors.decode([1, 2, 3], path: "short") }
    var huge: [UInt8] = []
    withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { huge += $0 }
    #expect(throws: ConversionError.self) { try Safetensors.decode(huge + [0x7b, 0x7d], path: "huge") }
  }
}
