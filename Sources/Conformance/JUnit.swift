import Foundation

/// JUnit XML as CI servers read it, in one of two flavours (`JUnitFlavor`).
///
/// `.strict` satisfies both common schemas: the Apache Ant / windyroad `JUnit.xsd` (strict:
/// `testsuites` without attributes; every `testsuite` with `package`, `id`, `name`, `timestamp`,
/// `hostname`, `tests`, `failures`, `errors`, `time`, then `properties`, `testcase`*, `system-out`,
/// `system-err`; a `testcase` with `name`, `classname`, `time` and at most one `failure` or `error`
/// carrying `message` and `type`) and Jenkins' `junit-10.xsd` (a superset). The strict schema has
/// no `skipped`, so expected failures are passing test cases there, listed with their reason in
/// the suite's `system-out`.
///
/// `.dashboard` (the default) is what pytest writes and GitLab, Jenkins and most dashboards read:
/// the same document, with an expected failure as `<skipped message="expected failure: REASON">`
/// (as pytest writes xfail), a `skipped` count on each suite, and a `file` attribute on every
/// `testcase` (the case file relative to the run's folder, as `CaseReport.path` has it).
///
/// One `testsuite` per framework, one `testcase` per case (`classname` = framework). A failure's
/// message is the text a person reads; an error (case not loaded or not run) is an `<error>`.
/// No host name is written: `hostname` is always `localhost` (the strict schema requires one).
public enum JUnitFlavor: String, CaseIterable, Sendable {
  case dashboard, strict
}

public enum JUnitReporter {
  public static func xml(_ report: RunReport, flavor: JUnitFlavor = .dashboard) -> String {
    var groups: [(String, [CaseReport])] = []
    for c in report.cases {
      if let k = groups.firstIndex(where: { $0.0 == c.group }) { groups[k].1.append(c) } else { groups.append((c.group, [c])) }
    }
    let timestamp = String(report.startedAt.prefix(19))  // xs:dateTime without zone, as the schema's pattern wants
    let text = TextReporter(color: false, verbose: false, quiet: false)
    var x = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n<testsuites>\n"
    for (id, (framework, cases)) in groups.enumerated() {
      let failures = cases.filter { $0.status == .fail || $0.status == .unexpectedPass }.count
      let errors = cases.filter { $0.status == .error }.count
      let time = cases.reduce(0) { $0 + $1.durationSeconds }
      x += "  <testsuite"
      x += attr("name", framework) + attr("package", "rnnconf." + framework) + attr("id", String(id))
      x += attr("timestamp", timestamp) + attr("hostname", "localhost")
      x += attr("tests", String(cases.count)) + attr("failures", String(failures))
      x += attr("errors", String(errors))
      if flavor == .dashboard {
        x += attr("skipped", String(cases.filter { $0.status == .expectedFailure }.count))
      }
      x += attr("time", seconds(time)) + ">\n"
      x += "    <properties>\n"
      x += "      <property" + attr("name", "precision") + attr("value", report.precision.rawValue) + "/>\n"
      if let t = report.toleranceOverride {
        x += "      <property" + attr("name", "atol") + attr("value", "\(t.atol)") + "/>\n"
        x += "      <property" + attr("name", "rtol") + attr("value", "\(t.rtol)") + "/>\n"
      }
      x += "    </properties>\n"
      var notes: [String] = []
      for c in cases {
        let caseName = c.name.hasPrefix(framework + "/") ? String(c.name.dropFirst(framework.count + 1)) : c.name
        x += "    <testcase" + attr("name", caseName) + attr("classname", framework)
          + attr("time", seconds(c.durationSeconds)) + (flavor == .dashboard ? attr("file", c.path) : "")
        let body = text.lines(for: c).joined(separator: "\n")
        if let line = text.notComparedLine(c) { notes.append("\(c.name): \(line)") }
        switch c.status {
        case .pass:
          x += "/>\n"
        case .expectedFailure where flavor == .dashboard:
          x += ">\n      <skipped" + attr("message", "expected failure: " + (c.expectedFailureReason ?? ""))
            + ">" + escape(body) + "</skipped>\n    </testcase>\n"
        case .expectedFailure:
          x += "/>\n"
          notes.append("expected failure \(c.name): \(c.expectedFailureReason ?? "")\n" + body)
        case .fail:
          x += ">\n      <failure" + attr("message", c.message ?? "outputs differ") + attr("type", "mismatch") + ">"
            + escape(body) + "</failure>\n    </testcase>\n"
        case .unexpectedPass:
          x += ">\n      <failure" + attr("message", "unexpected pass: listed as an expected failure ("
            + (c.expectedFailureReason ?? "") + ") but every output is within tolerance")
            + attr("type", "unexpected-pass") + ">" + escape(body) + "</failure>\n    </testcase>\n"
        case .error:
          x += ">\n      <error" + attr("message", c.message ?? "error") + attr("type", "error") + ">"
            + escape(body) + "</error>\n    </testcase>\n"
        }
      }
      x += "    <system-out>" + escape(notes.joined(separator: "\n")) + "</system-out>\n"
      x += "    <system-err></system-err>\n"
      x += "  </testsuite>\n"
    }
    x += "</testsuites>\n"
    return x
  }

  static func attr(_ name: String, _ value: String) -> String { " \(name)=\"\(escape(value, attribute: true))\"" }

  static func seconds(_ t: Double) -> String { String(format: "%.3f", t) }

  /// Escapes XML text; drops characters XML 1.0 cannot hold (ANSI escapes and other controls).
  public static func escape(_ s: String, attribute: Bool = false) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for u in s.unicodeScalars {
      switch u {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"" where attribute: out += "&quot;"
      case "'" where attribute: out += "&apos;"
      case "\n" where attribute: out += "&#10;"
      case "\t" where attribute: out += "&#9;"
      case "\r": out += "&#13;"
      case "\n", "\t": out.unicodeScalars.append(u)
      default:
        let v = u.value
        if v < 0x20 || (0xFFFE...0xFFFF).contains(v) { continue }
        out.unicodeScalars.append(u)
      }
    }
    return out
  }
}
