import Foundation
import HDF5
import Testing
@testable import Conformance

#if canImport(Glibc)
import Glibc
#endif

/// Folders as a hostile (or careless) user leaves them: symlink loops, FIFOs, sockets and names
/// that are not UTF-8. Nothing hangs, nothing is counted twice, nothing is dropped silently.
@Suite struct DiscoveryHostileTests {
  final class Folder {
    let path: String
    init() throws {
      path = FileManager.default.temporaryDirectory.appendingPathComponent("discovery-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { _ = try? Process.run(URL(fileURLWithPath: "/bin/rm"), arguments: ["-rf", path]).waitUntilExit() }

    func file(_ rel: String, copying source: String? = nil) throws {
      let p = path + "/" + rel
      try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      if let source { try FileManager.default.copyItem(atPath: source, toPath: p) } else {
        #expect(FileManager.default.createFile(atPath: p, contents: Data("not a case".utf8)))
      }
    }
    func link(_ rel: String, to target: String) throws {
      try FileManager.default.createSymbolicLink(atPath: path + "/" + rel, withDestinationPath: target)
    }
    func dir(_ rel: String) throws {
      try FileManager.default.createDirectory(atPath: path + "/" + rel, withIntermediateDirectories: true)
    }
  }

  static let sample = RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5"

  static func find(_ path: String) -> Discovery? {
    hostileTimeout(seconds: 20) { try? Discovery.find(paths: [path]) } ?? nil
  }

  @Test func aSelfLinkDoesNotMultiplyCases() throws {
    let f = try Folder()
    try f.file("a.h5")
    try f.link("self", to: ".")
    let d = try #require(Self.find(f.path), "the search did not finish in 20 s")
    #expect(d.files.map(\.name) == ["a"])
  }

  @Test func symlinkLoopsToAncestorsDoNotHang() throws {
    let f = try Folder()
    try f.file("sub/a.h5")
    try f.link("self", to: ".")
    try f.link("sub/parent", to: "..")
    try f.link("sub/up", to: "../..")
    try f.link("sub/deeper", to: "../sub")
    let d = try #require(Self.find(f.path), "the search did not finish in 20 s")
    #expect(d.files.map(\.name) == ["sub/a"])
  }

  @Test func aLinkedFolderInsideTheTreeKeepsItsRealName() throws {
    let f = try Folder()
    try f.file("real/x.h5")
    try f.link("alias", to: "real")  // sorts before `real`; the real path still wins
    let d = try #require(Self.find(f.path))
    #expect(d.files.map(\.name) == ["real/x"])
  }

  @Test func aFolderOutsideIsFollowedOnce() throws {
    let f = try Folder(), other = try Folder()
    try other.file("y.h5")
    try f.link("ext1", to: other.path)
    try f.link("ext2", to: other.path)
    let d = try #require(Self.find(f.path))
    #expect(d.files.map(\.name) == ["ext1/y"])
  }

  @Test func fifosAndSocketsAreErrorsNeverOpened() throws {
    let f = try Folder()
    try f.file("pytorch/lstm_bidirectional.h5", copying: Self.sample)  // its `name` attribute, so path and name agree
    #expect(mkfifo(f.path + "/pytorch/fifo.h5", 0o644) == 0)
    let sock = try #require(unixSocket(f.path + "/pytorch/sock.h5"))
    defer { close(sock) }
    let d = try #require(Self.find(f.path))
    #expect(d.files.map(\.name) == ["pytorch/fifo", "pytorch/lstm_bidirectional", "pytorch/sock"])
    #expect(d.files[0].problem?.contains("FIFO") == true)
    #expect(d.files[1].problem == nil)
    #expect(d.files[2].problem?.contains("socket") == true)

    var options = RunOptions()
    options.paths = [f.path]
    options.filter = "pytorch/[fs]*"  // the FIFO and the socket (running a case is slow in debug builds)
    let report = try #require(hostileTimeout(seconds: 30, unblocking: f.path + "/pytorch/fifo.h5") {
      Result { try Runner().run(options) }
    }, "the run blocked on the FIFO").get()
    let byName = Dictionary(uniqueKeysWithValues: report.cases.map { ($0.name, $0) })
    #expect(byName.count == 2)
    #expect(byName["pytorch/fifo"]?.status == .error)
    #expect(byName["pytorch/fifo"]?.message?.contains("FIFO (named pipe), not a regular file") == true)
    #expect(byName["pytorch/sock"]?.status == .error)
    #expect(report.summary.exitCode == 1)

    options.filter = nil
    let listing = try #require(hostileTimeout(seconds: 30, unblocking: f.path + "/pytorch/fifo.h5") {
      Result { try Runner().list(options) }
    }).get()
    #expect(listing.first { $0.name == "pytorch/fifo" }?.error?.contains("FIFO") == true)
    #expect(listing.first { $0.name == "pytorch/good" }?.error == nil)
  }

  @Test func aFIFONamedOnTheCommandLineIsRefused() throws {
    let f = try Folder()
    let fifo = f.path + "/x.h5"
    #expect(mkfifo(fifo, 0o644) == 0)
    let d = try #require(Self.find(fifo))
    #expect(d.files.first?.problem?.contains("FIFO") == true)
    let kind = hostileTimeout(seconds: 10, unblocking: fifo) { FileKind.sniff(path: fifo) }
    #expect(kind?.description.contains("FIFO") == true, "\(String(describing: kind))")
    let opened = hostileTimeout(seconds: 10, unblocking: fifo) { () -> String in
      do { _ = try HDF5.File(path: fifo); return "opened" } catch { return "\(error)" }
    }
    #expect(opened?.contains("FIFO") == true && opened?.contains(fifo) == true, "\(opened ?? "blocked")")
  }

  @Test func aFIFOAsTheExpectationsFileIsAUsageErrorNotAHang() throws {
    let f = try Folder()
    let fifo = f.path + "/expected-failures.json"
    #expect(mkfifo(fifo, 0o644) == 0)
    let outcome = hostileTimeout(seconds: 10, unblocking: fifo) { () -> String in
      do { _ = try Expectations.load(path: fifo); return "loaded" } catch { return "\(error)" }
    }
    #expect(outcome?.contains("cannot read the expectations file `\(fifo)` (it is a FIFO") == true, "\(outcome ?? "blocked")")
  }

  @Test func aNameThatIsNotUTF8IsReportedNotDropped() throws {
    let f = try Folder()
    let raw = Array((f.path + "/caf").utf8) + [0xe9] + Array(".h5".utf8)
    let fd = (raw + [0]).withUnsafeBufferPointer {
      $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count + 1) { open($0, O_CREAT | O_WRONLY, 0o644) }
    }
    #expect(fd >= 0)
    close(fd)
    let d = try #require(Self.find(f.path), "a folder holding only that file is not `without case files`")
    #expect(d.files.map(\.name) == ["caf\\xe9"])
    #expect(d.files.first?.problem?.contains("not valid UTF-8") == true)
    var options = RunOptions()
    options.paths = [f.path]
    let listing = try Runner().list(options)
    #expect(listing.count == 1 && listing[0].error?.contains("not valid UTF-8") == true)
  }
}

/// A listening-less Unix socket bound at `path` (the descriptor), nil when it cannot be made.
func unixSocket(_ path: String) -> Int32? {
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return nil }
  var addr = sockaddr_un()
  addr.sun_family = sa_family_t(AF_UNIX)
  let bytes = Array(path.utf8)
  guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { close(fd); return nil }
  withUnsafeMutableBytes(of: &addr.sun_path) { buf in
    for (k, b) in bytes.enumerated() { buf[k] = b }
  }
  let ok = withUnsafePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
  }
  guard ok == 0 else { close(fd); return nil }
  return fd
}

/// Runs `body` on a thread and waits at most `seconds`; nil when it did not finish (a hang).
/// `unblocking` is a FIFO opened for writing afterwards, so a reader stuck on it ends.
func hostileTimeout<T>(seconds: Double, unblocking fifo: String? = nil, _ body: @escaping () -> T) -> T? {
  let box = HostileBox<T>()
  let run = UnsafeSendable(body)
  Thread.detachNewThread { box.value = run.value(); box.done.signal() }
  if box.done.wait(timeout: .now() + seconds) == .success { return box.value }
  if let fifo {
    let fd = open(fifo, O_WRONLY | O_NONBLOCK)
    if fd >= 0 { close(fd) }
  }
  return nil
}

final class HostileBox<T>: @unchecked Sendable {
  var value: T?
  let done = DispatchSemaphore(value: 0)
}

struct UnsafeSendable<T>: @unchecked Sendable {
  var value: T
  init(_ v: T) { value = v }
}
