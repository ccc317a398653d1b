import Dispatch
import Foundation
import Testing
@testable import RNNRef
import _TestSupport

/// The backends' threading (`ThreadingPolicy`): the persistent worker pool under stress, the
/// parallel-for contract under both policies, and the engine's bits under both (identical to one
/// thread). No timing: nothing here asserts on speed.
@Suite struct WorkerPoolTests {
  /// Per-part hit counters and per-worker ranges in raw memory: the workers of one job write disjoint
  /// elements, the test reads them after the job returns.
  final class Record: @unchecked Sendable {
    let hits: UnsafeMutablePointer<Int>
    let ranges: UnsafeMutablePointer<Range<Int>?>
    let threadOf: UnsafeMutablePointer<Int>
    let capacity: Int
    init(capacity: Int) {
      self.capacity = capacity
      hits = .allocate(capacity: capacity)
      ranges = .allocate(capacity: capacity)
      threadOf = .allocate(capacity: capacity)
      reset()
    }
    func reset() {
      hits.initialize(repeating: 0, count: capacity)
      ranges.initialize(repeating: nil, count: capacity)
      threadOf.initialize(repeating: -1, count: capacity)
    }
    deinit { hits.deallocate(); ranges.deallocate(); threadOf.deallocate() }
  }

  /// What `parallelSlices` promises: contiguous, in-order, non-empty ranges covering `0 ..< parts`
  /// exactly once, worker w of n = min(threads, parts) getting `parts * w / n ..< parts * (w + 1) / n`
  /// whether or not the pool was free (busy, it runs the same slices on the caller), nothing at all
  /// when `parts` is 0.
  func checkSlices(parts: Int, threads: Int, threading: ThreadingPolicy, _ record: Record,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    record.reset()
    let seen = SliceLog()
    parallelSlices(of: parts, multiplyAdds: 1, threads: threads, parallelThreshold: 0, threading: threading) { r in
      for p in r { record.hits[p] += 1 }
      seen.append(r)
    }
    let slices = seen.sorted
    if parts == 0 {
      #expect(slices.isEmpty, "parts 0: body called with \(slices)", sourceLocation: sourceLocation)
      return
    }
    #expect((0..<parts).allSatisfy { record.hits[$0] == 1 },
            "parts \(parts) threads \(threads) \(threading): hits \((0..<parts).map { record.hits[$0] })",
            sourceLocation: sourceLocation)
    #expect(slices.allSatisfy { !$0.isEmpty }, "empty slice in \(slices)", sourceLocation: sourceLocation)
    #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == parts
            && zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound },
            "slices \(slices) do not tile 0..<\(parts)", sourceLocation: sourceLocation)
    let n = min(threads, parts)
    let expected = (0..<n).map { w in (parts * w / n)..<(parts * (w + 1) / n) }
    #expect(slices == expected,
            "parts \(parts) threads \(threads) \(threading): \(slices), expected \(expected)",
            sourceLocation: sourceLocation)
  }

  /// Thread-safe list of the ranges one job's workers were given.
  final class SliceLog: @unchecked Sendable {
    private var items: [Range<Int>] = []
    private let lock = NSLock()
    func append(_ r: Range<Int>) { lock.withLock { items.append(r) } }
    var sorted: [Range<Int>] { lock.withLock { items.sorted { $0.lowerBound < $1.lowerBound } } }
  }

  @Test(arguments: ThreadingPolicy.allCases)
  func slicesFollowTheContract(_ threading: ThreadingPolicy) {
    let record = Record(capacity: 64)
    for threads in 1...5 {
      for parts in 0...12 {  // parts 0, parts < workers, parts = workers, parts > workers
        checkSlices(parts: parts, threads: threads, threading: threading, record)
      }
    }
  }

  /// Many tiny jobs in a row (the per-step hand-off, thousands of times): every part once, every time.
  @Test func manyTinyJobs() {
    let record = Record(capacity: 16)
    var rng = SeededRNG(seed: 7)
    for _ in 0..<20_000 {
      let parts = Int(rng.next() % 9), threads = 2 + Int(rng.next() % 3)
      record.reset()
      parallelSlices(of: parts, multiplyAdds: 1, threads: threads, parallelThreshold: 0, threading: .pool) { r in
        for p in r { record.hits[p] += 1 }
      }
      if !(0..<parts).allSatisfy({ record.hits[$0] == 1 }) {
        Issue.record("parts \(parts) threads \(threads): hits \((0..<parts).map { record.hits[$0] })")
        return
      }
    }
  }

  /// Worker w of a job the pool runs is pool thread w (worker 0: the calling thread, not a pool
  /// thread), or the calling thread when thread w had not started its slice by the time the caller
  /// finished its own; never another pool thread. Here the caller's slice waits (up to 20 ms) for the
  /// others to start, so on any machine that schedules the pool's threads within that time every
  /// slice runs on its own thread; 50 of the 500 pooled jobs must. Jobs the pool refuses (busy with
  /// another test's jobs: tests run in parallel) run nothing and are retried.
  @Test func workerWRunsOnPoolThreadW() {
    let record = Record(capacity: 8)
    var pooled = 0, attempts = 0, widest = 0, ownThreads = 0
    while pooled < 500 && attempts < 2_000_000 {
      let workers = 2 + attempts % 3
      attempts += 1
      record.reset()
      let ran = WorkerPool.run(parts: workers, workers: workers) { r in
        let w = r.lowerBound
        record.threadOf[w] = WorkerPool.currentWorker
        if w == 0 {
          let deadline = DispatchTime.now().uptimeNanoseconds + 20_000_000
          while (1..<workers).contains(where: { record.threadOf[$0] == -1 })
                  && DispatchTime.now().uptimeNanoseconds < deadline {
            sched_yield()
          }
        }
      }
      if ran {
        pooled += 1
        widest = max(widest, workers)
        let threads = (0..<workers).map { record.threadOf[$0] }
        if threads[0] != 0 || !(1..<workers).allSatisfy({ threads[$0] == $0 || threads[$0] == 0 }) {
          Issue.record("job \(attempts): slices ran on pool threads \(threads), expected \(Array(0..<workers)) or 0")
          return
        }
        if threads == Array(0..<workers) { ownThreads += 1 }
      } else {
        if !(0..<workers).allSatisfy({ record.threadOf[$0] == -1 }) {
          Issue.record("a refused job ran something: \((0..<workers).map { record.threadOf[$0] })")
          return
        }
        sched_yield()
      }
    }
    #expect(pooled == 500, "the pool ran \(pooled) of \(attempts) jobs")
    #expect(ownThreads >= 50, "\(ownThreads) of \(pooled) pooled jobs ran every slice on its own thread")
    #expect(WorkerPool.threads >= widest - 1, "pool threads \(WorkerPool.threads) after \(widest)-worker jobs")
  }

  /// A job submitted from inside a job (on the calling thread and on pool threads) runs inline on its
  /// thread: it completes, covers its parts once, and the outer job is not disturbed. Three levels.
  @Test func nestedJobsRunInline() {
    let outerParts = 4, innerParts = 7
    let record = Record(capacity: outerParts * innerParts * innerParts)
    parallelSlices(of: outerParts, multiplyAdds: 1, threads: 4, parallelThreshold: 0, threading: .pool) { outer in
      for o in outer {
        parallelSlices(of: innerParts, multiplyAdds: 1, threads: 3, parallelThreshold: 0, threading: .pool) { inner in
          for i in inner {
            parallelSlices(of: innerParts, multiplyAdds: 1, threads: 2, parallelThreshold: 0, threading: .pool) { deepest in
              for d in deepest { record.hits[(o * innerParts + i) * innerParts + d] += 1 }
            }
          }
        }
      }
    }
    let n = outerParts * innerParts * innerParts
    #expect((0..<n).allSatisfy { record.hits[$0] == 1 }, "nested hits \((0..<n).filter { record.hits[$0] != 1 })")
  }

  /// Several threads submit at once (the pool takes one job at a time; the others run inline): every
  /// job completes with every part once, and nothing deadlocks.
  @Test func concurrentCallersFromSeveralThreads() {
    let callers = 6, jobs = 1500, parts = 10
    let record = Record(capacity: callers * parts)
    let failures = Record(capacity: callers)
    DispatchQueue.concurrentPerform(iterations: callers) { c in
      let base = c * parts
      for k in 0..<jobs {
        for p in 0..<parts { record.hits[base + p] = 0 }
        parallelSlices(of: parts, multiplyAdds: 1, threads: 2 + k % 2, parallelThreshold: 0, threading: .pool) { r in
          for p in r { record.hits[base + p] += 1 }
        }
        if !(0..<parts).allSatisfy({ record.hits[base + $0] == 1 }) { failures.hits[c] += 1 }
      }
    }
    #expect((0..<callers).allSatisfy { failures.hits[$0] == 0 },
            "jobs with a part missed or run twice, per caller: \((0..<callers).map { failures.hits[$0] })")
  }

  // MARK: - The engine under both policies

  /// Every backend and kernel, 2 and 3 threads under each policy, against 1 thread: the same bits for
  /// every cell kind, float and double, forward and bidirectional with a mask. H = 96: three to twelve
  /// granules per gate block, so 3 threads split it unevenly (and parts < workers where a granule is
  /// 32 columns and 4 threads ask for more workers than the 3 parts).
  @Test(arguments: ThreadingPolicy.allCases, BackendUnderTest.all)
  func engineBitsMatchOneThread(_ threading: ThreadingPolicy, _ kind: BackendUnderTest) throws {
    try engineBits(Float.self, threading, kind)
    try engineBits(Double.self, threading, kind)
  }

  func backend(_ kind: BackendUnderTest, threads: Int, threading: ThreadingPolicy) throws -> any MatmulBackend {
    switch kind {
    case .swift:
      return SwiftMatmul(threads: threads, parallelThreshold: threads > 1 ? 0 : 1 << 30, threading: threading)
    case .native(let k):
      guard k.isSupported else { try Test.cancel("\(k) kernel NOT TESTED: this CPU/OS lacks its instructions") }
      return try NativeMatmul(kernel: k, threads: threads, parallelThreshold: threads > 1 ? 0 : 1 << 30,
                              threading: threading)
    }
  }

  func engineBits<S: RNNScalar>(_: S.Type, _ threading: ThreadingPolicy, _ kind: BackendUnderTest) throws {
    var rng = SeededRNG(seed: 131)
    let T = 5, N = 6, I = 17, H = 96
    let one = try backend(kind, threads: 1, threading: threading)
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let x = Tensor<S>.random([T, N, I], rng: &rng)
      let s0 = randomState(cell, batch: N, rng: &rng), s1 = randomState(cell, batch: N, rng: &rng)
      let forward = RecurrentLayer(direction: .forward, cells: [cell])
      let bi = RecurrentLayer(direction: .bidirectional, cells: [cell, cell])
      let mask = StepMask(lengths: [5, 3, 0, 4, 1, 5], steps: T)
      let a = try Engine.run(forward, input: x, initialStates: [s0], backend: one)
      let c = try Engine.run(bi, input: x, mask: mask, initialStates: [s0, s1], backend: one)
      for threads in [2, 3, 4] {
        let many = try backend(kind, threads: threads, threading: threading)
        let b = try Engine.run(forward, input: x, initialStates: [s0], backend: many)
        #expect(a == b, "\(name) \(S.self) \(kind) \(threading) \(threads) threads: forward differs from 1 thread")
        let d = try Engine.run(bi, input: x, mask: mask, initialStates: [s0, s1], backend: many)
        #expect(c == d, "\(name) \(S.self) \(kind) \(threading) \(threads) threads: bidirectional differs from 1 thread")
      }
    }
  }

  /// Engine runs from several tasks at once on one 2-thread pool backend (the pool runs one job at a
  /// time; the other runs' jobs go inline): each gives the bits of its 1-thread run.
  @Test func concurrentEngineRunsOnThePool() async throws {
    var rng = SeededRNG(seed: 132)
    let T = 8, N = 5, I = 12, H = 64
    let cells = cellZoo(Float.self, input: I, hidden: H, rng: &rng).map(\.1)
    let x = Tensor<Float>.random([T, N, I], rng: &rng)
    let one = try NativeMatmul(threads: 1), two = try NativeMatmul(threads: 2, parallelThreshold: 0, threading: .pool)
    let expected = try cells.map { try Engine.run(RecurrentLayer(direction: .bidirectional, cells: [$0, $0]), input: x, backend: one) }
    try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
      for round in 0..<4 {
        for (k, cell) in cells.enumerated() {
          group.addTask {
            let out = try Engine.run(RecurrentLayer(direction: round % 2 == 0 ? .bidirectional : .forward,
                                                    cells: round % 2 == 0 ? [cell, cell] : [cell]),
                                     input: x, backend: two)
            if round % 2 == 0 { return (k, out == expected[k]) }
            let fw = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: x, backend: one)
            return (k, out == fw)
          }
        }
      }
      for try await (k, same) in group {
        #expect(same, "cell \(k): a concurrent 2-thread pool run differs from 1 thread")
      }
    }
  }

  @Test func policyNamesParse() throws {
    #expect(ThreadingPolicy(rawValue: "pool") == .pool)
    #expect(ThreadingPolicy(rawValue: "dispatch") == .dispatch)
    #expect(ThreadingPolicy(rawValue: "gcd") == nil)
    #expect(try NativeMatmul(threads: 2, threading: .dispatch).threading == .dispatch)
    #expect(SwiftMatmul(threads: 2, threading: .dispatch).threading == .dispatch)
    #expect(Matmul.Choice.swift.backend(threads: 2, threading: .dispatch) is SwiftMatmul)
  }
}
