import Foundation
import Testing

/// `rnnconf convert` as a user runs it: exit codes, printed rewrites, refusals, usage errors.
@Suite struct ConvertCommandTests {
  struct Result { var status: Int32; var stdout: String; var stderr: String }

  static func run(_ arguments: [String]) throws -> Result {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    if dir.lastPathComponent == "MacOS" { for _ in 0..<3 { dir.deleteLastPathComponent() } }
    let binary = dir.appendingPathComponent("rnnconf").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: binary])
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: RepoPaths.root)
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }

  @Test func convertsAndNamesTheRewrite() throws {
    let dir = try TempDir()
    let r = try Self.run(["convert", "fixtures/tf1/basic_lstm_fb1.h5", "--to", "pytorch", "--output", dir.path + "/lstm"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("rewrite:") && r.stdout.contains("forget_bias=1.0"))
    #expect(FileManager.default.fileExists(atPath: dir.path + "/lstm.safetensors"))
    #expect(FileManager.default.fileExists(atPath: dir.path + "/lstm.json"))
    let k = try Self.run(["convert", dir.path + "/lstm.safetensors", "--to", "keras", "--output", dir.path + "/lstm.keras"])
    #expect(k.status == 0, "\(k.stderr)")
  }

  @Test func refusesWithExitCode2() throws {
    let dir = try TempDir()
    let r = try Self.run(["convert", "fixtures/tf1/lstm_peepholes.h5", "--to", "pytorch", "--output", dir.path + "/x"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("Refused: cannot convert to pytorch: peepholes"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
  }

  @Test func convertsToONNX() throws {
    let dir = try TempDir()
    let r = try Self.run(["convert", "fixtures/keras/k3_gru_bidi_initial_state.h5", "--to", "onnx", "--output", dir.path + "/m.onnx"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("graph inputs: x, fw_h0, bw_h0; outputs: output_fw, output_bw, fw_state_h, bw_state_h"), "\(r.stdout)")
    #expect(FileManager.default.fileExists(atPath: dir.path + "/m.onnx"))
    let refused = try Self.run(["convert", "fixtures/tf1/lstm_num_proj.h5", "--to", "onnx", "--output", dir.path + "/p.onnx"])
    #expect(refused.status == 2 && refused.stderr.contains("Refused: cannot convert to onnx: an LSTM projection"), "\(refused.stderr)")
    let bad = try Self.run(["convert", "fixtures/tf1/lstm.h5", "--to", "onnx", "--output", dir.path + "/m.pb"])
    #expect(bad.status == 64 && bad.stderr.contains("ending in .onnx"))
    let flag = try Self.run(["convert", "fixtures/tf1/lstm.h5", "--to", "pytorch", "--initial-states", "--output", dir.path + "/t"])
    #expect(flag.status == 64 && flag.stderr.contains("--initial-states is for --to onnx"))
  }

  @Test func usageAndSourceErrors() throws {
    let bad = try Self.run(["convert", "fixtures/tf1/lstm.h5", "--to", "keras", "--output", "x.weights"])
    #expect(bad.status == 64 && bad.stderr.contains("Please give --output ending in .keras"))
    let missing = try Self.run(["convert", "no/such/file.h5", "--to", "pytorch", "--output", "x"])
    #expect(missing.status == 1 && missing.stderr.contains("no/such/file.h5"))
  }
}
