import KerasImport
import RNNRef

extension Conventions {
  /// The adapter of every framework a case can name, in report order. Keras cases run
  /// through KerasImport's graph parser and the Keras layer API (`KerasCases`).
  nonisolated(unsafe) static let cases: [any FrameworkConvention.Type] = [KerasCases.self] + Conventions.all
}
