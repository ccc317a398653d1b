import ArgumentParser
import Foundation
import HDF5

/// Report and output files: checked before any work, written atomically (see `AtomicFile`).
/// An I/O failure exits 1 with a message naming the option, the path and the reason (64 is
/// kept for usage errors).
enum Output {
  /// Fails (exit 1) when `path`, given to `option`, cannot be written: checked before the first case runs.
  static func check(_ option: String, _ path: String?) throws {
    guard let path else { return }
    do { try AtomicFile.checkWritable(path) } catch {
      throw failure("cannot write \(option) `\(path)`: \(reason(error))")
    }
  }

  /// Writes `data` to `path` atomically; a failure exits 1 and leaves any previous file intact.
  static func write(_ data: Data, to path: String, what: String) throws {
    do { try AtomicFile.write(data, to: path) } catch {
      throw failure("cannot write \(what) to `\(path)`: \(reason(error))")
    }
  }

  static func reason(_ error: Error) -> String {
    if let e = error as? FileIOError { return e.detail }
    return "\(error)"
  }

  /// Writes an I/O problem to stderr; the caller throws the returned exit code (1).
  static func failure(_ message: String) -> ExitCode {
    fail("Error: " + message)
  }

  /// Writes `line` to stderr; the caller throws the returned exit code (1).
  static func fail(_ line: String) -> ExitCode {
    FileHandle.standardError.write(Data((line + "\n").utf8))
    return ExitCode.failure
  }

  /// Runs a command's work: any error becomes `rnnconf <command>: <message>` on stderr and exit 1
  /// (a `ValidationError` by its message, so a problem found after parsing is not a usage error
  /// with 64); an `ExitCode` passes through.
  static func reportingErrors<T>(of command: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode {
      throw e
    } catch let e as ValidationError {
      throw fail("rnnconf \(command): \(e.message)")
    } catch {
      throw fail("rnnconf \(command): \(error)")
    }
  }
}
