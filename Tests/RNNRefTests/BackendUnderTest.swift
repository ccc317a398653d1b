import Testing
@testable import RNNRef

/// Every backend and native kernel the engine can run on, for parameterised tests: the pure-Swift
/// backend and the C backend with each kernel this CPU supports forced. A kernel it lacks is not in
/// the list; `NativeKernelTests.engineTestsRunOn...` is then a skipped test naming it.
enum BackendUnderTest: Sendable, Equatable, CustomTestStringConvertible {
  case swift
  case native(NativeKernel)

  static let all: [BackendUnderTest] = [.swift] + NativeKernel.supported.map { .native($0) }

  var testDescription: String {
    switch self {
    case .swift: "SwiftMatmul"
    case .native(let k): "NativeMatmul(\(k))"
    }
  }

  /// The backend with `threads` workers, parallel from `parallelThreshold` multiply-adds (0: every
  /// job, so small test shapes take the multi-threaded paths). A kernel this CPU lacks cancels the test
  /// case (a caller outside `all`).
  func make(threads: Int = 2, parallelThreshold: Int = 0) throws -> any MatmulBackend {
    switch self {
    case .swift:
      return SwiftMatmul(threads: threads, parallelThreshold: parallelThreshold)
    case .native(let k):
      guard k.isSupported else {
        try Test.cancel("\(k) kernel NOT TESTED: this CPU/OS lacks its instructions")
      }
      return try NativeMatmul(kernel: k, threads: threads, parallelThreshold: parallelThreshold)
    }
  }

  /// Runs `body` with this backend as `Matmul.default`, so the engine's default argument uses it.
  func asDefault<R>(_ body: () throws -> R) throws -> R {
    try Matmul.withDefault(make(), body)
  }
}
