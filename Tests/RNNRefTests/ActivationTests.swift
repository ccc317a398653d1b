import Testing
@testable import RNNRef

/// Activation definitions: the documented differences between frameworks and
/// numerical safety. (Framework-computed values are checked through fixtures.)
@Suite struct ActivationTests {
  @Test func hardSigmoidKeras2DiffersFromKeras3() {
    check(Float.self)
    check(Double.self)
    func check<S: RNNScalar>(_: S.Type) {
      let k2 = Activation.hardSigmoidKeras2, k3 = Activation.hardSigmoidKeras3
      // Keras 2: 0.2 x + 0.5, saturating at +-2.5; Keras 3: x/6 + 0.5 (relu6(x+3)/6), saturating at +-3.
      #expect(Swift.abs(k2(S(1)) - S(0.7)) <= S.ulpOfOne)
      #expect(Swift.abs(k3(S(1)) - S(4) / S(6)) <= S.ulpOfOne)
      #expect(k2(S(2.6)) == 1 && k3(S(2.6)) < 1)
      #expect(k2(S(-2.6)) == 0 && k3(S(-2.6)) > 0)
      #expect(k2(S(0)) == S(0.5) && k3(S(0)) == S(0.5))
      #expect(k3(S(3)) == 1 && k3(S(-3)) == 0)
      // ONNX HardSigmoid(alpha 0.2, beta 0.5) is the Keras 2 form
      for x in stride(from: -4.0, through: 4.0, by: 0.125) {
        #expect(Activation.hardSigmoid(alpha: 0.2, beta: 0.5)(S(x)) == k2(S(x)), "x = \(x)")
      }
    }
  }

  @Test func sigmoidIsStableAndSymmetric() {
    check(Float.self)
    check(Double.self)
    func check<S: RNNScalar>(_: S.Type) {
      let s = Activation.sigmoid
      for x in [S(-1000), S(-100), S(100), S(1000), -S.greatestFiniteMagnitude, S.greatestFiniteMagnitude] {
        #expect(s(x).isFinite && s(x) >= 0 && s(x) <= 1, "sigmoid(\(x))")
      }
      #expect(s(S(-1000)) == 0 && s(S(1000)) == 1)
      #expect(s(S(-30)) > 0, "no underflow to zero in the stable branch at -30")
      for x in stride(from: -8.0, through: 8.0, by: 0.25) {
        #expect(Swift.abs(s(S(x)) + s(S(-x)) - 1) <= 2 * S.ulpOfOne, "x = \(x)")
      }
    }
  }

  @Test func softplusDoesNotOverflow() {
    let sp = Activation.softplus
    #expect(sp(Float(100)) == 100)
    #expect(sp(Float(-100)) > 0 && sp(Float(-100)) < 1e-40)
    #expect(Swift.abs(sp(Double(0)) - Double.log(2)) <= Double.ulpOfOne)
  }

  @Test func onnxParameterisedForms() {
    check(Float.self)
    check(Double.self)
    func check<S: RNNScalar>(_: S.Type) {
      // ThresholdedRelu is strict: x > alpha
      #expect(Activation.thresholdedRelu(alpha: 1)(S(1)) == 0)
      #expect(Activation.thresholdedRelu(alpha: 1)(S(1.5)) == S(1.5))
      #expect(Activation.leakyRelu(alpha: 0.1)(S(-2)) == S(0.1) * S(-2))
      #expect(Activation.leakyRelu(alpha: 0.1)(S(2)) == 2)
      #expect(Activation.elu(alpha: 2)(S(0)) == 0)
      #expect(Activation.elu(alpha: 2)(S(-50)) == -2)
      #expect(Activation.softsign(S(3)) == S(0.75))
      for x in stride(from: -3.0, through: 3.0, by: 0.375) {
        let v = S(x)
        #expect(Activation.affine(alpha: 1, beta: 0)(v) == Activation.linear(v))
        #expect(Activation.scaledTanh(alpha: 1, beta: 1)(v) == Activation.tanh(v))
        #expect(Activation.affine(alpha: 2, beta: -1)(v) == 2 * v - 1)
        #expect(Activation.relu(v) == Swift.max(v, 0))
      }
      // selu: scale * x above zero, -> -scale*alpha far below
      #expect(Swift.abs(Activation.selu(S(-100)) - S(-1.7580993408473766)) <= 4 * S.ulpOfOne)
    }
  }

  @Test func applyClampsTheInputThenMatchesTheScalarForm() {
    check(Float.self)
    check(Double.self)
    func check<S: RNNScalar>(_: S.Type) {
      let xs: [S] = stride(from: -6.0, through: 6.0, by: 0.0625).map { S($0) }
      let all: [Activation] = [.sigmoid, .tanh, .relu, .linear, .hardSigmoidKeras2, .hardSigmoidKeras3,
                               .elu(alpha: 0.5), .selu, .softsign, .softplus, .exponential,
                               .affine(alpha: 0.5, beta: 0.25), .leakyRelu(alpha: 0.01),
                               .thresholdedRelu(alpha: 0.5), .scaledTanh(alpha: 1.5, beta: 0.5),
                               .hardSigmoid(alpha: 0.3, beta: 0.4)]
      for act in all {
        for clip in [nil, S(2)] as [S?] {
          var buf = xs
          // the pure-Swift path (the C kernels' bounds: ActivationKernelTests)
          buf.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: $0.count, clip: clip, kernel: .swift) }
          for (x, y) in zip(xs, buf) {
            let input = clip.map { Swift.min(Swift.max(x, -$0), $0) } ?? x
            let want = act(input)
            // the vectorised Float path may differ from the scalar path by a few ulps
            let tol = S.self == Float.self ? 4 * want.magnitude.ulp + S.leastNormalMagnitude : 0
            #expect(Swift.abs(y - want) <= tol, "\(act) at \(x) clip \(String(describing: clip))")
          }
        }
      }
    }
  }
}
