import RNNRef

/// One conformance case as read from a case file (schema in `fixtures/README.md`).
/// Tensors are read as `Double`: exact for float32 and float64 data and for
/// integer inputs such as lengths; the runner converts to the run's precision.
public struct Case: Sendable {
  /// File stem relative to the suite root, e.g. `pytorch/lstm_bidirectional`.
  public var name: String
  /// The file it was read from.
  public var path: String
  /// Schema version of the file (`rnnconf_case_schema`).
  public var schemaVersion: Int
  /// Selects the RNNRef convention (`Conventions.convention(for:)`).
  public var framework: Framework
  /// The Python distribution that produced the expected outputs, e.g. "torch".
  public var library: String
  public var libraryVersion: String
  public var cell: CellFamily
  /// The precision the framework ran in.
  public var dtype: DType
  public var description: String
  /// The native configuration (framework-specific, documented in fixtures/README.md).
  public var config: JSONValue
  public var atol: Double
  public var rtol: Double
  /// Why the tolerance is looser than the default, when it is.
  public var toleranceReason: String?
  /// NaN in expected matches NaN in actual only when true.
  public var nanEqual: Bool
  /// Native weights in native names and order.
  public var weights: NamedTensors<Double>
  /// Native inputs in native names and order.
  public var inputs: NamedTensors<Double>
  /// Expected outputs in native names, order and layout.
  public var outputs: NamedTensors<Double>
  /// Stored dtype of each expected output ("float32", "float64", "int64", ...).
  public var outputDTypes: [String: String]
  /// Names of real framework files carried under `/artifacts` (e.g. `model.keras`).
  public var artifactNames: [String]
  /// Expected outputs of single layers (`/intermediate/<layer>`, listed in graph order by
  /// `intermediate_names`); empty when the file carries none.
  public var intermediates: NamedTensors<Double>
  /// The outputs the case compares (`compared_output_names`), each one of `outputs`; nil = all
  /// of them. Stored or produced outputs outside the list are reported as not compared.
  public var comparedOutputs: [String]?

  public init(name: String, path: String, schemaVersion: Int, framework: Framework, library: String,
              libraryVersion: String, cell: CellFamily, dtype: DType, description: String, config: JSONValue,
              atol: Double, rtol: Double, toleranceReason: String?, nanEqual: Bool,
              weights: NamedTensors<Double>, inputs: NamedTensors<Double>, outputs: NamedTensors<Double>,
              outputDTypes: [String: String], artifactNames: [String],
              intermediates: NamedTensors<Double> = NamedTensors(), comparedOutputs: [String]? = nil) {
    self.name = name; self.path = path; self.schemaVersion = schemaVersion; self.framework = framework
    self.library = library; self.libraryVersion = libraryVersion; self.cell = cell; self.dtype = dtype
    self.description = description; self.config = config; self.atol = atol; self.rtol = rtol
    self.toleranceReason = toleranceReason; self.nanEqual = nanEqual; self.weights = weights
    self.inputs = inputs; self.outputs = outputs; self.outputDTypes = outputDTypes
    self.artifactNames = artifactNames; self.intermediates = intermediates
    self.comparedOutputs = comparedOutputs
  }
}
