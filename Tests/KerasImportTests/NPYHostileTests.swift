import _TestSupport
import Foundation
import Testing
@testable import KerasImport
import RNNRef

#if canImport(Glibc)
import Glibc
#endif

/// Hostile `.npy` files: every malformed header is an `NPY.Error` naming the file and what is
/// wrong; nothing traps and nothing is allocated beyond what the file can back.
@Suite struct NPYHostileTests {
  static let path = "hostile.npy"

  /// A version-1 `.npy` file with this header text (padded as numpy pads it) and body.
  static func npy(_ header: String, body: [UInt8] = [], version: UInt8 = 1) -> [UInt8] {
    var h = Array(header.utf8)
    let pre = version == 1 ? 10 : 12
    while (pre + h.count + 1) % 64 != 0 { h.append(0x20) }
    h.append(0x0a)
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    out += version == 1 ? [UInt8(h.count & 0xff), UInt8(h.count >> 8)]
                        : [UInt8(h.count & 0xff), UInt8((h.count >> 8) & 0xff), UInt8((h.count >> 16) & 0xff), 0]
    return out + h + body
  }

  static func header(descr: String = "'<f4'", fortran: String = "False", shape: String) -> String {
    "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
  }

  /// The error's text for `bytes`, or nil when they parse.
  static func error(_ bytes: [UInt8]) -> String? {
    do { _ = try NPY.parse(bytes, path: path); return nil } catch let e as NPY.Error {
      #expect(e.path == path)
      #expect(e.description.hasPrefix(path + ": "))
      return e.detail
    } catch {
      Issue.record("not an NPY.Error: \(error)")
      return "\(error)"
    }
  }

  @Test func aValidHeaderStillReads() throws {
    let body = (0..<6).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
    let t = try NPY.parse(Self.npy(Self.header(shape: "(2, 3)"), body: body), path: Self.path)
    #expect(t.shape == [2, 3])
    #expect(t.scalars == [0, 1, 2, 3, 4, 5])
    let big = try NPY.parse(Self.npy(Self.header(descr: "'>i2'", shape: "(1,)"), body: [0xff, 0xfe]), path: Self.path)
    #expect(big.scalars == [-2])
    let v2 = try NPY.parse(Self.npy(Self.header(descr: "'|u1'", shape: "(2L,)"), body: [7, 9], version: 2), path: Self.path)
    #expect(v2.scalars == [7, 9])
    let empty = try NPY.parse(Self.npy(Self.header(descr: "'<f8'", shape: "(0, 4611686018427387904)")), path: Self.path)
    #expect(empty.shape == [0, 4611686018427387904] && empty.count == 0)
  }

  @Test func shapeProductsThatOverflowInt() {
    // 2^62 * 4 elements: the element count overflows.
    let e1 = Self.error(Self.npy(Self.header(shape: "(4611686018427387904, 4)"), body: [0, 0, 0, 0]))
    #expect(e1?.contains("more elements than Int can count") == true, "\(e1 ?? "parsed")")
    // 2^61 elements fit, 2^61 * 8 bytes do not.
    let e2 = Self.error(Self.npy(Self.header(descr: "'<f8'", shape: "(2305843009213693952,)")))
    #expect(e2?.contains("more bytes than Int can count") == true, "\(e2 ?? "parsed")")
    // A dimension beyond Int itself.
    let e3 = Self.error(Self.npy(Self.header(shape: "(99999999999999999999999,)")))
    #expect(e3?.contains("does not fit in Int") == true, "\(e3 ?? "parsed")")
  }

  @Test(arguments: [
    ("'<i16'", "`i` items are 1, 2, 4, 8 bytes, not 16"),
    ("'<i9'", "`i` items are 1, 2, 4, 8 bytes, not 9"),
    ("'<u0'", "item size 0"),
    ("'<f0'", "item size 0"),
    ("'<f3'", "`f` items are 2, 4, 8 bytes, not 3"),
    ("'|b8'", "`b` items are 1 bytes, not 8"),
    ("'<c8'", "not supported"),
    ("'|O'", "not supported"),
    ("'<U5'", "not supported"),
    ("'<i99999999999999999999'", "no valid item size"),
    ("'<i-1'", "no valid item size"),
    ("'<'", "not supported"),
    ("[('a', '<f4')]", "structured or object arrays are not read"),
  ])
  func unsupportedDescriptors(descr: String, words: String) {
    // A huge shape, so an item size that slipped through would ask for an absurd allocation.
    let e = Self.error(Self.npy(Self.header(descr: descr, shape: "(100000000000000000,)"), body: [1, 2, 3, 4]))
    #expect(e?.contains(words) == true, "\(descr): \(e ?? "parsed")")
  }

  @Test func sizesBeyondTheFilesLength() {
    let e = Self.error(Self.npy(Self.header(shape: "(1000000000,)"), body: [0, 0, 0, 0, 0, 0, 0, 0]))
    #expect(e?.contains("needs 4000000000 bytes of data, the file has 8 after the header") == true, "\(e ?? "parsed")")
    // A header length beyond the file.
    var b = Self.npy(Self.header(shape: "(1,)"), body: [0, 0, 0, 0])
    b[8] = 0xff; b[9] = 0xff
    let e2 = Self.error(b)
    #expect(e2?.contains("truncated header: it declares 65535 bytes") == true, "\(e2 ?? "parsed")")
    var v2 = Self.npy(Self.header(shape: "(1,)"), body: [], version: 2)
    v2[11] = 0x7f
    #expect(Self.error(v2)?.contains("truncated header") == true)
    #expect(Self.error(Array(Self.npy(Self.header(shape: "(1,)"), version: 2).prefix(11)))?.contains("truncated header") == true)
    #expect(Self.error([0x93, 0x4e, 0x55])?.contains("not a .npy file") == true)
    #expect(Self.error(Array(Self.npy(Self.header(shape: "(1,)"), version: 9)))?.contains("version 9") == true)
  }

  @Test(arguments: [
    ("{'descr': '<f4', 'shape': (1,), }", "missing 'fortran_order'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", "expected a value"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 'x', }", "unexpected key(s) 'extra'"),
    ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "key 'descr' given twice"),
    ("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", "expected `,` at byte 17"),
    ("{'descr' '<f4', 'fortran_order': False, 'shape': (1,), }", "expected `:`"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected `,`"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "negative dimension"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }", "expected `,`"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "'shape' is [1]"),
    ("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }", "'fortran_order' is 'no'"),
    ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "expected a value"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", "text after the closing"),
    ("'descr': '<f4'", "expected `{`"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': ((1,),), }", "expected a dimension"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", "expected a dimension"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ", "expected a quoted string"),
    ("{'descr': '<f\u{7}4', 'fortran_order': False, 'shape': (1,), }", "unexpected byte 0x7 in a string"),
    ("", "expected `{`"),
  ])
  func malformedDictHeaders(header: String, words: String) {
    let e = Self.error(Self.npy(header, body: [0, 0, 0, 0]))
    #expect(e?.contains(words) == true, "\(header): \(e ?? "parsed")")
    #expect(e?.contains("header") == true)
  }

  @Test func tooManyDimensions() {
    let e = Self.error(Self.npy(Self.header(shape: "(" + String(repeating: "1, ", count: 65) + ")"), body: [0, 0, 0, 0]))
    #expect(e?.contains("more than 64 dimensions") == true, "\(e ?? "parsed")")
  }

  /// Seeded mutations of valid files (byte flips, token splices, length edits, truncations):
  /// every result either parses to a tensor its bytes back or is an `NPY.Error` naming the file.
  /// A trap would end the test process, so finishing is the assertion.
  @Test func seededMutationsNeverTrap() throws {
    var rng = SeededRNG(seed: 0x5eed_11)
    let bodies: [[UInt8]] = [Array(repeating: 0x3f, count: 96), [], [1, 2, 3]]
    let seeds: [[UInt8]] = [
      Self.npy(Self.header(shape: "(2, 3, 4)"), body: bodies[0]),
      Self.npy(Self.header(descr: "'>f8'", fortran: "True", shape: "(3, 4)"), body: bodies[0]),
      Self.npy(Self.header(descr: "'|u1'", shape: "(3,)"), body: bodies[2], version: 2),
      Self.npy(Self.header(descr: "'<i2'", shape: "()"), body: [1, 0], version: 3),
    ] + (try ["f32.npy", "f16.npy", "bool.npy", "f32_fortran.npy", "scalar.npy"].map {
      [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.data + "/npy/" + $0)))
    })
    let tokens = ["<i16", "<i9", "<u0", "|O", "(", ")", ",", "-1", "0", "99999999999999999999", "9223372036854775807",
                  "4611686018427387904", "True", "False", "'", "\"", "{", "}", "[", "]", ":", " ", "\n", "L",
                  "'shape'", "'descr'", "'fortran_order'", "\u{0}", "\u{ff}"].map { Array($0.utf8) }
    var parsed = 0, refused = 0
    for _ in 0..<20_000 {
      var b = seeds[rng.below(seeds.count)]
      for _ in 0..<(1 + rng.below(4)) {
        let headerEnd = min(b.count, 10 + 128)
        switch rng.below(7) {
        case 0:  // flip a byte in the preamble or header
          if headerEnd > 0 { b[rng.below(headerEnd)] ^= UInt8(1 << rng.below(8)) }
        case 1:  // set a byte to anything
          if !b.isEmpty { b[rng.below(b.count)] = UInt8(rng.below(256)) }
        case 2:  // splice a token into the header
          let at = rng.below(headerEnd + 1)
          b.insert(contentsOf: tokens[rng.below(tokens.count)], at: at)
        case 3:  // overwrite with a token
          let t = tokens[rng.below(tokens.count)]
          let at = rng.below(max(1, headerEnd))
          for (k, c) in t.enumerated() where at + k < b.count { b[at + k] = c }
        case 4:  // delete a run
          if !b.isEmpty {
            let at = rng.below(b.count)
            b.removeSubrange(at..<min(b.count, at + 1 + rng.below(8)))
          }
        case 5:  // truncate
          b = Array(b.prefix(rng.below(b.count + 1)))
        default:  // random header length bytes
          if b.count > 11 { b[8 + rng.below(4)] = UInt8(rng.below(256)) }
        }
      }
      do {
        let t = try NPY.parse(b, path: Self.path)
        #expect(t.count == t.shape.reduce(1, *))
        #expect(t.count <= b.count)  // every element is backed by at least one byte of the file
        parsed += 1
      } catch let e as NPY.Error {
        #expect(e.path == Self.path && !e.detail.isEmpty)
        refused += 1
      }
    }
    #expect(parsed > 0 && refused > 0, "parsed \(parsed), refused \(refused)")
  }

  /// A FIFO named `x.npy` is refused by its type, never opened blocking.
  @Test func aFIFOIsRefusedNotWaitedOn() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-fifo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("x.npy").path
    #expect(mkfifo(fifo, 0o644) == 0)
    let outcome = withTimeout(seconds: 10, unblocking: fifo) { () -> String in
      do { _ = try NPY.read(URL(fileURLWithPath: fifo)); return "read" } catch { return "\(error)" }
    }
    #expect(outcome?.contains("FIFO") == true && outcome?.contains(fifo) == true, "\(outcome ?? "blocked for 10 s")")
  }
}

/// Runs `body` on a thread and waits at most `seconds`; nil when it did not finish (a hang).
/// `unblocking` is a FIFO opened for writing afterwards, so a reader stuck on it ends.
func withTimeout<T: Sendable>(seconds: Double, unblocking fifo: String? = nil, _ body: @escaping @Sendable () -> T) -> T? {
  let box = TimeoutBox<T>()
  Thread.detachNewThread { box.value = body(); box.done.signal() }
  if box.done.wait(timeout: .now() + seconds) == .success { return box.value }
  if let fifo {
    let fd = open(fifo, O_WRONLY | O_NONBLOCK)
    if fd >= 0 { close(fd) }
  }
  return nil
}

final class TimeoutBox<T>: @unchecked Sendable {
  var value: T?
  let done = DispatchSemaphore(value: 0)
}

