import CRNNKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the package's backends (`NativeMatmul`, `SwiftMatmul`) run the workers of one parallel job
/// (`MatmulBackend.forEachSlice`, and the whole products they split): the engine's fused recurrent
/// step is one job per step, the input projection one per block of steps.
public enum ThreadingPolicy: String, CaseIterable, Sendable {
  /// The persistent worker pool (`WorkerPool`): threads created once, worker w of every job on pool
  /// thread w (worker 0 on the calling thread), so a slice's weights stay in one core's cache; a
  /// short bounded spin, then sleep, between jobs. A slice whose thread has not started when the
  /// caller has finished its own runs on the caller (a descheduled thread holds nothing up). A job
  /// submitted while the pool runs another (from inside a job, or from another thread) runs on its
  /// calling thread. The default.
  case pool
  /// `DispatchQueue.concurrentPerform` per job: no stable thread per worker, and a wake-up per job.
  /// The policy before the pool, kept selectable for one release to compare against.
  case dispatch

  /// The environment variable naming the process default (`pool` or `dispatch`).
  public static let environmentVariable = "RNNCONF_THREADING"

  /// The policy a backend gets unless its `init` is given one: the one `RNNCONF_THREADING` names,
  /// else `pool`. An unknown name is reported on stderr and ignored.
  public static let `default`: ThreadingPolicy = {
    guard let raw = getenv(environmentVariable).map({ String(cString: $0) }), !raw.isEmpty else { return .pool }
    if let policy = ThreadingPolicy(rawValue: raw.lowercased()) { return policy }
    let names = allCases.map(\.rawValue).joined(separator: ", ")
    let message = "rnnconf: \(environmentVariable)=\(raw) is not a threading policy (\(names)); using pool\n"
    _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    return .pool
  }()
}

/// The process's persistent worker pool (C, `rnn_pool.h`). One job at a time; see `run`.
enum WorkerPool {
  /// Runs `body` on the slices of `0 ..< parts` over `workers` workers (worker w of n gets
  /// `parts * w / n ..< parts * (w + 1) / n`; worker 0 on the calling thread, worker w >= 1 on pool
  /// thread w, or on the calling thread after its own if thread w has not started it by then) and
  /// returns true when all are done. Returns false, having run nothing, when the pool
  /// is running another job (a call from inside a job, or from another thread at the same moment) or
  /// cannot start a thread: the caller then runs the work itself. Fewer than `workers` workers when
  /// the system refuses a thread (each worker's slice then follows the number that ran).
  static func run(parts: Int, workers: Int, _ body: @Sendable (Range<Int>) -> Void) -> Bool {
    if parts <= 0 { return true }
    return withoutActuallyEscaping(body) { escapable in
      var job = Job(parts: parts, body: escapable)
      return withUnsafeMutablePointer(to: &job) { jobPointer in
        rnn_pool_run(workers, { context, w, n in
          let job = context!.assumingMemoryBound(to: Job.self)
          let parts = job.pointee.parts, w = Int(w), n = Int(n)
          job.pointee.body((parts * w / n)..<(parts * (w + 1) / n))
        }, jobPointer) != 0
      }
    }
  }

  /// One job's work, read by every worker (never written while they run).
  private struct Job {
    let parts: Int
    let body: @Sendable (Range<Int>) -> Void
  }

  /// Pool threads created so far.
  static var threads: Int { Int(rnn_pool_threads()) }

  /// The pool thread index of the calling thread (1, 2, ...), 0 for a thread the pool did not create.
  static var currentWorker: Int { Int(rnn_pool_current_worker()) }
}
