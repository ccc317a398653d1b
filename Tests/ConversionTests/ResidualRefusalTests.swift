import Foundation
import Testing
@testable import Conversion
import RNNRef

/// A TF1 ResidualWrapper imports as a canonical residual connection, which no conversion target
/// writes: converting it is refused with the reason, never exported without the residual.
@Suite struct ResidualRefusalTests {
  @Test(arguments: [ConversionTarget.pytorch, .keras])
  func aResidualStackIsRefused(_ target: ConversionTarget) throws {
    let source = try ConversionSource.load(path: RepoPaths.root + "/fixtures/tf1/residual_wrap_multi_lstm.h5")
    #expect(source.network.residuals == [Residual(from: 0, to: 1)])
    let dir = try TempDir()
    let out = dir.path + (target == .keras ? "/m.keras" : "/m")
    #expect {
      _ = try Converter.convert(source, to: target, output: out)
    } throws: { error in
      guard let e = error as? ConversionError, case .refused = e else { return false }
      return e.description.contains("residual") && e.description.contains("layer 0 input -> layer 1 output")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    // The same stack without the wrapper converts (the refusal is the residual's alone).
    var plain = source
    plain.network.residuals = []
    _ = try Converter.convert(plain, to: target, output: out)
  }
}
