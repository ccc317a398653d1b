import Foundation
import Testing
@testable import HDF5

/// libhdf5 takes an flock on every file it opens, without O_CLOEXEC: a child process started
/// while a file is open inherits the lock and holds it until it exits, and reopening the file
/// failed with "unable to lock file, errno = 11" (seen as flaky tests under load, where other
/// tests spawn the CLI). rnnconf opens and creates files without libhdf5's locks.
@Suite struct FileLockTests {
  /// Starts `/bin/sleep 3` with posix_spawn, which (unlike a shell's exec of a pipeline) passes
  /// every descriptor without close-on-exec to the child, as the tests' and --isolate's spawns do.
  func spawnSleeper() throws -> pid_t {
    var pid: pid_t = 0
    let args: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("3"), nil]
    defer { for a in args { free(a) } }
    let rc = posix_spawn(&pid, "/bin/sleep", nil, nil, args, environ)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
    return pid
  }

  @Test func aFileWrittenWhileAChildStartsReopensAtOnce() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("written.h5").path
    var child: pid_t = 0
    do {
      let f = try File.create(path: path)
      _ = try f.root.createDataset("x", shape: [3], values: [Float(1), 2, 3])
      try f.flush()
      child = try spawnSleeper()  // inherits the open file (and, with locks, its lock)
    }
    defer { var status: Int32 = 0; waitpid(child, &status, 0) }
    // The writer is closed; the child still runs. Without locks this opens; with them it failed.
    let again = try File(path: path)
    #expect(try again.dataset("x").read(as: Float.self) == [1, 2, 3])
  }
}
