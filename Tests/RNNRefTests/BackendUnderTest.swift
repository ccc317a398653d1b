import Testing
@testable import RNNRef

/// Every backend and native kernel the engine can run on, for parameterised tests: the pure-Swift
/// backend and the C backend with each kernel forced. A kernel this CPU lacks cancels its test case
/// with a comment naming it (reported as skipped, never as a pass).
enum BackendUnderTest: Sendable, CustomTestStringConvertible {
  case swift
  case native(NativeKernel)

  static let all: [BackendUnderTest] = [.swift] + NativeKernel.allCases.map { .native($0) }

  var testDescription: String {
    switch self {
    case .swift: "SwiftMatmul"
    case .native(let k): "NativeMatmul(\(k))"
    }
  }

  /// The backend with `threads` workers, parallel from `parallelThreshold` multiply-adds (0: every
  /// job, so small test shapes take the multi-threaded paths).
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
