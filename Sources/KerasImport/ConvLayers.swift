import Foundation
import RNNRef

/// Keras' 1-D sizes: the output length and the left padding of a convolution or pooling
/// window of span `span` (`dilation * (kernel - 1) + 1`) over `length` steps.
enum Window1D {
  static func plan(length: Int, span: Int, stride: Int, padding: String) -> (out: Int, left: Int) {
    switch padding {
    case "same":
      let out = (length + stride - 1) / stride
      return (out, max((out - 1) * stride + span - length, 0) / 2)
    case "causal":
      return (length, span - 1)  // stride 1 only (checked by the builder)
    default:
      return (length >= span ? (length - span) / stride + 1 : 0, 0)
    }
  }
}

/// Conv1D, `channels_last`, one group: `kernel (K, C, F)`, strides, dilation, `valid`/`same`/
/// `causal` padding, bias, activation. Keras' mask does not pass a Conv1D.
final class Conv1DKLayer: KerasLayer {
  let name: String, location: String
  let className = "Conv1D"
  let kernel: Tensor<Double>, bias: Tensor<Double>?
  let stride: Int, dilation: Int, padding: String
  let activation: KerasActivation
  let weights = ConvertedWeights()
  var parameterCount: Int { kernel.count + (bias?.count ?? 0) }
  init(name: String, location: String, kernel: Tensor<Double>, bias: Tensor<Double>?, stride: Int, dilation: Int,
       padding: String, activation: KerasActivation) {
    self.name = name; self.location = location; self.kernel = kernel; self.bias = bias
    self.stride = stride; self.dilation = dilation; self.padding = padding; self.activation = activation
  }
  var span: Int { dilation * (kernel.shape[0] - 1) + 1 }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil, nil]
    let steps = s.count == 3 ? s[1].map { Window1D.plan(length: $0, span: span, stride: stride, padding: padding).out } : nil
    return [[s.first ?? nil, steps, kernel.shape[2]]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let x = try one(inputs).t
    let k = kernel.shape[0], c = kernel.shape[1], f = kernel.shape[2]
    guard x.rank == 3, x.shape[2] == c else {
      throw bad("input has shape \(KerasImportError.dims(x.shape)), expected (batch, steps, \(c)) from the kernel \(KerasImportError.dims(kernel.shape))")
    }
    let n = x.shape[0], t = x.shape[1]
    let (out, left) = Window1D.plan(length: t, span: span, stride: stride, padding: padding)
    let (w, b): (Tensor<S>, Tensor<S>?) = weights.get(S.self) { (converted(kernel), bias.map(converted)) }
    var y = Tensor<S>(uncheckedZeros: [n, out, f])
    for bi in 0..<n { for o in 0..<out {
      var acc = [S](repeating: 0, count: f)
      if let b { for j in 0..<f { acc[j] = b.scalars[j] } }
      for kk in 0..<k {
        let ti = o * stride + kk * dilation - left
        guard ti >= 0, ti < t else { continue }
        for ci in 0..<c {
          let xv = x.scalars[(bi * t + ti) * c + ci]
          let row = (kk * c + ci) * f
          for j in 0..<f { acc[j] += xv * w.scalars[row + j] }
        }
      }
      for j in 0..<f { y.scalars[(bi * out + o) * f + j] = acc[j] }
    } }
    activation.apply(&y)
    return [Value(t: y, mask: nil)]
  }
}

/// MaxPooling1D / AveragePooling1D, `channels_last`, `valid` or `same` padding (an average
/// counts only the steps inside the input, as Keras' does).
final class Pool1DKLayer: KerasLayer {
  let name: String, className: String, location: String
  let pool: Int, stride: Int, padding: String
  var parameterCount: Int { 0 }
  init(name: String, className: String, location: String, pool: Int, stride: Int, padding: String) {
    self.name = name; self.className = className; self.location = location
    self.pool = pool; self.stride = stride; self.padding = padding
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil, nil]
    let steps = s.count == 3 ? s[1].map { Window1D.plan(length: $0, span: pool, stride: stride, padding: padding).out } : nil
    return [[s.first ?? nil, steps, s.count == 3 ? s[2] : nil]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let x = try one(inputs).t
    guard x.rank == 3 else { throw bad("input has shape \(KerasImportError.dims(x.shape)), expected (batch, steps, features)") }
    let n = x.shape[0], t = x.shape[1], c = x.shape[2]
    let (out, left) = Window1D.plan(length: t, span: pool, stride: stride, padding: padding)
    let isMax = className == "MaxPooling1D"
    var y = Tensor<S>(uncheckedZeros: [n, out, c])
    for bi in 0..<n { for o in 0..<out { for j in 0..<c {
      var acc: S = isMax ? -S.infinity : 0
      var count = 0
      for p in 0..<pool {
        let ti = o * stride + p - left
        guard ti >= 0, ti < t else { continue }
        let v = x.scalars[(bi * t + ti) * c + j]
        if isMax { acc = Swift.max(acc, v) } else { acc += v }
        count += 1
      }
      y.scalars[(bi * out + o) * c + j] = isMax ? acc : acc / S(Swift.max(count, 1))
    } } }
    return [Value(t: y, mask: nil)]
  }
}

extension Builder {
  /// Conv1D and 1-D pooling layers, or nil for other classes.
  func buildConv(_ e: LayerEntry, inputs: [Shape], queue q: WeightQueue) throws -> KerasLayer? {
    let c = e.config
    let inShape = inputs.first ?? [nil]
    func first(_ key: String, _ def: Int) -> Int { c[key]?.array?.first?.int ?? c[key]?.int ?? def }
    switch e.className {
    case "Conv1D":
      if let df = c["data_format"]?.string, df != "channels_last" { throw unsupported(e, "data_format \(df); only channels_last") }
      if (c["groups"]?.int ?? 1) != 1 { throw unsupported(e, "groups > 1") }
      guard let filters = c["filters"]?.int else { throw KerasImportError(.invalidConfig, "\(e.location): Conv1D needs `filters`") }
      let k = first("kernel_size", 1), s = first("strides", 1), d = first("dilation_rate", 1)
      let padding = c["padding"]?.string ?? "valid"
      guard ["valid", "same", "causal"].contains(padding), k >= 1, s >= 1, d >= 1 else {
        throw unsupported(e, "padding \(padding), kernel_size \(k), strides \(s), dilation_rate \(d)")
      }
      if padding == "causal" && s != 1 { throw unsupported(e, "causal padding with strides \(s)") }
      let inF = inShape.count == 3 ? inShape[2] : nil
      let kernel = try q.take("kernel (kernel_size, input channels, filters)", expected: [k, inF, filters])
      let useBias = c["use_bias"]?.bool ?? true
      let bias = useBias ? try q.take("bias (filters)", expected: [filters]) : nil
      return Conv1DKLayer(name: e.name, location: e.location, kernel: kernel, bias: bias, stride: s, dilation: d,
                          padding: padding, activation: try activation(e))
    case "MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D":
      if let df = c["data_format"]?.string, df != "channels_last" { throw unsupported(e, "data_format \(df); only channels_last") }
      let p = first("pool_size", 2), s = c["strides"]?.isNull == false ? first("strides", p) : p
      let padding = c["padding"]?.string ?? "valid"
      guard ["valid", "same"].contains(padding), p >= 1, s >= 1 else { throw unsupported(e, "padding \(padding), pool_size \(p), strides \(s)") }
      let cls = e.className.hasPrefix("Max") ? "MaxPooling1D" : "AveragePooling1D"
      return Pool1DKLayer(name: e.name, className: cls, location: e.location, pool: p, stride: s, padding: padding)
    default:
      return nil
    }
  }
}
